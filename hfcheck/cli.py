"""The command line: parse flags, call the API, pick a formatter, set the exit code.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage or
internal error.

argparse, not click: importing click (with the inspect, uuid, datetime and platform
modules it pulls in) takes ~9 ms, a sixth of checking a 2 GB checkpoint, and was the
margin between hfcheck and the fastest pickle scanner (issue #8). argparse costs ~1 ms."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hfcheck import __version__

EXIT_USAGE = 2

USAGE = """\
hfcheck [OPTIONS] [TARGETS]...   check repos (default: the current folder)
hfcheck rules                    list every rule
hfcheck explain CODE             show a rule's documentation"""


class UsageError(Exception):
    """A wrong combination of flags: the message is printed with the usage, exit 2."""


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return value


def _file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder, not a file")
    return path


def _existing_file(text: str) -> Path:
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"{text!r} does not exist")
    return _file(text)


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter)


def check_parser() -> argparse.ArgumentParser:
    parser = _parser("hfcheck", "Production-readiness linter for Hugging Face model repositories.\n\n" + USAGE)
    parser.usage = "hfcheck [OPTIONS] [TARGETS]..."
    parser.add_argument("--version", action="version", version=f"hfcheck {__version__}")
    parser.add_argument("targets", nargs="*", metavar="TARGETS", help="folders, HF cache snapshots, files inside a repo, or Hub ids (org/name, org/name@revision, hf://org/name)")
    option = parser.add_argument
    option("--format", dest="fmt", choices=["text", "json", "sarif", "github"], default="text", help="Output format (default: text).")
    option("--output", "-o", type=_file, metavar="FILE", help="Write the report to FILE instead of stdout.")
    option("--select", action="append", default=[], metavar="CODES", help="Only these codes, prefixes or concerns (comma-separated).")
    option("--ignore", action="append", default=[], metavar="CODES", help="Skip these codes, prefixes or concerns (comma-separated).")
    option("--fail-on", choices=["error", "warning", "info", "never"], help="Lowest severity that fails the run (default: error).")
    option("--config", dest="config_file", type=_existing_file, metavar="FILE", help="Settings file (instead of the target's pyproject.toml/.hfcheck.yaml).")
    option("--baseline", type=_existing_file, metavar="FILE", help="Do not report findings recorded in this baseline file.")
    option("--write-baseline", type=_file, metavar="FILE", help="Record the current findings as the baseline and exit 0.")
    option("--jobs", "-j", type=_non_negative, default=1, metavar="N", help="Check targets in parallel processes (0: one per CPU; default: 1).")
    option("--hf-cache", action="store_true", help="Also check every model snapshot in the local Hugging Face cache (HF_HUB_CACHE / HF_HOME).")
    option("--quiet", "-q", action="store_true", help="Text output: no fix lines; print only findings and the summary.")
    option("--download-pickles", action="store_true", help="Hub targets: download pickle weights (.bin, .pt, ...) so they are scanned; by default they are not.")
    option("--smoke", action="store_true", help="After the static pass, load and run the model (needs hfcheck[smoke]).")
    option("--device", choices=["auto", "cuda", "cpu"], default="auto", help="Smoke pass device; auto skips without a GPU (default: auto).")
    option("--trust-remote-code", action="store_true", help="Smoke pass: allow the model's own Python code (auto_map).")
    option("--fix", action="store_true", help="Apply the safe fixes, then check again and report what remains.")
    option("--unsafe-fixes", action="store_true", help="With --fix or --diff: also the unsafe fixes (e.g. converting pickle weights).")
    option("--diff", action="store_true", help="Show what the fixes would change (unified diff) and write nothing.")
    option("--fix-remove-pickles", action="store_true", help="With --fix (or --diff): delete pickle weights once they are converted to safetensors.")
    option("--debug", action="store_true", help="Show tracebacks of internal errors.")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run `hfcheck` with `argv` (default: sys.argv[1:]); always ends in SystemExit
    carrying the exit code. `rules` and `explain` as the first word are commands,
    `check` is the default."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else None
    if command == "rules":
        rules_command(args[1:])
    elif command == "explain":
        explain_command(args[1:])
    else:
        check_command(args[1:] if command == "check" else args)


def check_command(argv: list[str]) -> None:
    parser = check_parser()
    # intermixed: `hfcheck repo-a --format json repo-b` checks both repos
    options = vars(parser.parse_intermixed_args(argv))
    debug = options.pop("debug")
    try:
        code = _check(**options)
    except UsageError as error:
        parser.error(str(error))
    except Exception as error:
        if debug:
            raise
        from hfcheck.targets import TargetError

        kind = "" if isinstance(error, (TargetError, ValueError, OSError)) else "internal error: "
        _err(f"hfcheck: {kind}{error}")
        sys.exit(EXIT_USAGE)
    sys.exit(code)


def _split(values: list[str]) -> list[str] | None:
    items = [item.strip() for value in values for item in value.split(",") if item.strip()]
    return items or None


def _err(message: str, end: str = "\n") -> None:
    print(message, end=end, file=sys.stderr, flush=True)


def _check(targets, fmt, output, select, ignore, fail_on, config_file, baseline, write_baseline, jobs, hf_cache, quiet, download_pickles, smoke, device, trust_remote_code, fix, unsafe_fixes, diff, fix_remove_pickles) -> int:
    from hfcheck.api import check_many, fingerprint, read_baseline
    from hfcheck.api import write_baseline as save_baseline
    from hfcheck.registry import all_rules
    from hfcheck.targets import hf_cache_snapshots

    overrides = {"select": _split(select), "ignore": _split(ignore), "fail_on": fail_on}
    known = read_baseline(baseline) if baseline else None
    if (unsafe_fixes or fix_remove_pickles) and not (fix or diff):
        raise UsageError("--unsafe-fixes and --fix-remove-pickles need --fix (apply) or --diff (preview): nothing is changed without --fix")
    if fix or diff:
        if fix and diff:
            raise UsageError("--fix and --diff exclude each other: --diff previews, --fix writes")
        if hf_cache:
            raise UsageError("--fix/--diff apply to local folders, not to the Hugging Face cache")
        plans = _fix(list(targets), config_file, overrides, known, unsafe=unsafe_fixes, remove_pickles=fix_remove_pickles, preview=diff)
        if diff:
            for label, plan in plans:
                _fix_summary(label, plan, None)
            return 1 if any(plan.edits for _, plan in plans) else 0
    cached = hf_cache_snapshots() if hf_cache else []
    report = check_many(
        list(targets),
        config_file=config_file,
        overrides=overrides,
        baseline=known,
        jobs=jobs or os.cpu_count() or 1,
        extra_targets=cached,
        download_pickles=download_pickles,
    )
    if fix:
        remaining = {t.path: [f.code for f in t.findings] for t in report.targets}
        for label, plan in plans:
            _fix_summary(label, plan, remaining.get(label, []))
    if smoke:
        _smoke(report, {"device": device, "trust_remote_code": trust_remote_code}, known, quiet=quiet)
    if write_baseline:
        save_baseline(report, write_baseline)
        _err(f"hfcheck: wrote {len(report.findings)} findings to {write_baseline}")
        return 0
    from hfcheck.report import render

    color = output is None and fmt == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    text = render(report, fmt, rules=all_rules(), fingerprint=fingerprint, color=color, quiet=quiet)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return report.exit_code()


def _fix(names, config_file, overrides, baseline, *, unsafe, remove_pickles, preview) -> list:
    """Plan and apply the fixes of every target (with preview: print them as a diff)."""
    from hfcheck.fix import FixError, fix_targets, render_diff

    try:
        plans = fix_targets(names, config_file=config_file, overrides=overrides, baseline=baseline, unsafe=unsafe, remove_pickles=remove_pickles, apply=not preview)
    except FixError as error:
        _err(f"hfcheck: fix failed, nothing was changed: {error}")
        sys.exit(EXIT_USAGE)
    for label, plan in plans:
        if plan.refused:
            _err(f"hfcheck: {label}: not fixed: {plan.refused}")
        if preview:
            sys.stdout.write(render_diff(plan))
    return plans


def _fix_summary(label, plan, remaining: list[str] | None) -> None:
    """What was fixed, refused or left for --unsafe-fixes, on stderr; after --fix,
    `remaining` (the codes the re-check still reports) says what a fix did not remove."""
    for outcome in plan.outcomes:
        count = f"{outcome.findings} finding{'s' if outcome.findings != 1 else ''}"
        if outcome.status == "fixed":
            left = remaining.count(outcome.code) if remaining is not None else 0
            if remaining is None:
                _err(f"hfcheck: {label}: would fix {outcome.code} ({count}): {outcome.message}")
            else:
                done = f"{count}" if not left else f"{max(outcome.findings - left, 0)} of {count}; {left} remain{'s' if left == 1 else ''}"
                _err(f"hfcheck: {label}: fixed {outcome.code} ({done}): {outcome.message}")
            for reason in outcome.refused:
                _err(f"hfcheck: {label}: not fixed {outcome.code}: {reason}")
        elif outcome.status == "unsafe":
            _err(f"hfcheck: {label}: {outcome.code} ({count}) has an unsafe fix: add --unsafe-fixes to apply it")
        elif outcome.status == "refused" and outcome.refused:
            for reason in outcome.refused:
                _err(f"hfcheck: {label}: not fixed {outcome.code}: {reason}")
        elif outcome.status == "refused":
            _err(f"hfcheck: {label}: not fixed {outcome.code} ({count}): {outcome.message}")
    if plan.edits:
        _err(f"hfcheck: {label}: {'changed' if remaining is not None else 'would change'} {', '.join(sorted(plan.edits))}")
    elif not plan.outcomes and not plan.refused:
        _err(f"hfcheck: {label}: nothing to fix")


def _smoke(report, options, baseline, quiet: bool = False) -> None:
    """The smoke pass after the static one; progress goes to stderr (a bar on a terminal,
    plain lines in CI, nothing with --quiet) so stdout keeps only the report."""
    from hfcheck.smoke import smoke_target
    from hfcheck.smoke.progress import smoke_progress

    for target in report.targets:
        with smoke_progress(target.path, quiet=quiet) as progress:
            smoke_target(target, progress=progress, baseline=baseline, **options)


def rules_command(argv: list[str]) -> None:
    parser = _parser("hfcheck rules", "List every rule: code, concern, default severity, fixable, summary.")
    parser.add_argument("--format", dest="fmt", choices=["text", "json", "markdown"], default="text", help="(default: text)")
    fmt = parser.parse_args(argv).fmt
    from hfcheck.registry import all_rules

    rules = all_rules()
    if fmt == "json":
        import json

        rows = [{"code": r.code, "name": r.name, "concern": r.concern, "severity": r.severity, "fixable": r.fixable, "summary": r.summary} for r in rules]
        print(json.dumps(rows, indent=2))
    elif fmt == "markdown":
        sys.stdout.write(rules_markdown(rules))
    else:
        width = max(len(r.name) for r in rules)
        for r in rules:
            print(f"{r.code}  {r.name:<{width}}  {r.concern:<14} {r.severity:<7} {'fix' if r.fixable else '   '}  {r.summary}")
    sys.exit(0)


def rules_markdown(rules) -> str:
    """The rules table of the README (a test keeps the README in step with it)."""
    lines = ["| Code | Name | Concern | Severity | Fixable | What it catches |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rules:
        lines.append(f"| {r.code} | {r.name} | {r.concern} | {r.severity} | {'yes' if r.fixable else ''} | {r.summary.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def explain_command(argv: list[str]) -> None:
    parser = _parser("hfcheck explain", "Show the documentation of one rule.")
    parser.add_argument("code", metavar="CODE")
    code = parser.parse_args(argv).code
    from hfcheck.registry import get_rule

    found = get_rule(code)
    if found is None:
        _err(f"hfcheck: no rule {code!r}; `hfcheck rules` lists them")
        sys.exit(EXIT_USAGE)
    print(f"{found.code} {found.name} ({found.concern}, {found.severity}{', fixable' if found.fixable else ''})\n")
    print(found.doc)
    sys.exit(0)
