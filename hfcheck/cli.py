"""The command line: parse flags, call the API, pick a formatter, set the exit code.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage or
internal error."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hfcheck import __version__

EXIT_USAGE = 2


class _DefaultToCheck(click.Group):
    """`hfcheck [OPTIONS] [TARGETS]...` runs `check`; `rules` and `explain` are commands."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args.insert(0, "check")
        return super().parse_args(ctx, args)


def _split(values: tuple[str, ...]) -> list[str] | None:
    items = [item.strip() for value in values for item in value.split(",") if item.strip()]
    return items or None


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="hfcheck", message="%(prog)s %(version)s")
def main():
    """Production-readiness linter for Hugging Face model repositories.

    \b
    hfcheck [OPTIONS] [TARGETS]...   check repos (default: the current folder)
    hfcheck rules                    list every rule
    hfcheck explain CODE             show a rule's documentation
    """


@main.command("check")
@click.argument("targets", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]), default="text", show_default=True, help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write the report to FILE instead of stdout.")
@click.option("--select", multiple=True, help="Only these codes, prefixes or concerns (comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these codes, prefixes or concerns (comma-separated).")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), help="Lowest severity that fails the run (default: error).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Settings file (instead of the target's pyproject.toml/.hfcheck.yaml).")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Do not report findings recorded in this baseline file.")
@click.option("--write-baseline", type=click.Path(dir_okay=False, path_type=Path), help="Record the current findings as the baseline and exit 0.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=1, show_default=True, help="Check targets in parallel processes (0: one per CPU).")
@click.option("--hf-cache", "hf_cache", is_flag=True, help="Also check every model snapshot in the local Hugging Face cache (HF_HUB_CACHE / HF_HOME).")
@click.option("--quiet", "-q", is_flag=True, help="Text output: no fix lines; print only findings and the summary.")
@click.option("--download-pickles", is_flag=True, help="Hub targets: download pickle weights (.bin, .pt, ...) so they are scanned; by default they are not.")
@click.option("--smoke", is_flag=True, help="After the static pass, load and run the model (needs hfcheck[smoke]).")
@click.option("--device", type=click.Choice(["auto", "cuda", "cpu"]), default="auto", show_default=True, help="Smoke pass device; auto skips without a GPU.")
@click.option("--trust-remote-code", is_flag=True, help="Smoke pass: allow the model's own Python code (auto_map).")
@click.option("--fix", is_flag=True, help="Apply the safe fixes, then check again and report what remains.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also the unsafe fixes (e.g. converting pickle weights).")
@click.option("--diff", is_flag=True, help="Show what the fixes would change (unified diff) and write nothing.")
@click.option("--fix-remove-pickles", is_flag=True, help="With --fix (or --diff): delete pickle weights once they are converted to safetensors.")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
def check_command(debug, **options):
    """Check model repositories (folders, HF cache snapshots, files inside a repo, or
    Hub ids: org/name, org/name@revision, hf://org/name)."""
    try:
        code = _check(**options)
    except click.exceptions.Exit:
        raise
    except click.ClickException:
        raise
    except Exception as error:
        if debug:
            raise
        from hfcheck.targets import TargetError

        kind = "" if isinstance(error, (TargetError, ValueError, OSError)) else "internal error: "
        click.echo(f"hfcheck: {kind}{error}", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(code)


def _check(targets, fmt, output, select, ignore, fail_on, config_file, baseline, write_baseline, jobs, hf_cache, quiet, download_pickles, smoke, device, trust_remote_code, fix, unsafe_fixes, diff, fix_remove_pickles) -> int:
    from hfcheck.api import check_many, fingerprint, read_baseline
    from hfcheck.api import write_baseline as save_baseline
    from hfcheck.registry import all_rules
    from hfcheck.targets import hf_cache_snapshots

    overrides = {"select": _split(select), "ignore": _split(ignore), "fail_on": fail_on}
    known = read_baseline(baseline) if baseline else None
    if (unsafe_fixes or fix_remove_pickles) and not (fix or diff):
        raise click.UsageError("--unsafe-fixes and --fix-remove-pickles need --fix (apply) or --diff (preview): nothing is changed without --fix")
    if fix or diff:
        if fix and diff:
            raise click.UsageError("--fix and --diff exclude each other: --diff previews, --fix writes")
        if hf_cache:
            raise click.UsageError("--fix/--diff apply to local folders, not to the Hugging Face cache")
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
        _smoke(report, {"device": device, "trust_remote_code": trust_remote_code}, known)
    if write_baseline:
        save_baseline(report, write_baseline)
        click.echo(f"hfcheck: wrote {len(report.findings)} findings to {write_baseline}", err=True)
        return 0
    from hfcheck.report import render

    color = output is None and fmt == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    text = render(report, fmt, rules=all_rules(), fingerprint=fingerprint, color=color, quiet=quiet)
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    return report.exit_code()


def _fix(names, config_file, overrides, baseline, *, unsafe, remove_pickles, preview) -> list:
    """Plan and apply the fixes of every target (with preview: print them as a diff)."""
    from hfcheck.fix import FixError, fix_targets, render_diff

    try:
        plans = fix_targets(names, config_file=config_file, overrides=overrides, baseline=baseline, unsafe=unsafe, remove_pickles=remove_pickles, apply=not preview)
    except FixError as error:
        failure = click.ClickException(f"fix failed, nothing was changed: {error}")
        failure.exit_code = EXIT_USAGE
        raise failure from error
    for label, plan in plans:
        if plan.refused:
            click.echo(f"hfcheck: {label}: not fixed: {plan.refused}", err=True)
        if preview:
            click.echo(render_diff(plan), nl=False)
    return plans


def _fix_summary(label, plan, remaining: list[str] | None) -> None:
    """What was fixed, refused or left for --unsafe-fixes, on stderr; after --fix,
    `remaining` (the codes the re-check still reports) says what a fix did not remove."""
    for outcome in plan.outcomes:
        count = f"{outcome.findings} finding{'s' if outcome.findings != 1 else ''}"
        if outcome.status == "fixed":
            left = remaining.count(outcome.code) if remaining is not None else 0
            if remaining is None:
                click.echo(f"hfcheck: {label}: would fix {outcome.code} ({count}): {outcome.message}", err=True)
            else:
                done = f"{count}" if not left else f"{max(outcome.findings - left, 0)} of {count}; {left} remain{'s' if left == 1 else ''}"
                click.echo(f"hfcheck: {label}: fixed {outcome.code} ({done}): {outcome.message}", err=True)
            for reason in outcome.refused:
                click.echo(f"hfcheck: {label}: not fixed {outcome.code}: {reason}", err=True)
        elif outcome.status == "unsafe":
            click.echo(f"hfcheck: {label}: {outcome.code} ({count}) has an unsafe fix: add --unsafe-fixes to apply it", err=True)
        elif outcome.status == "refused" and outcome.refused:
            for reason in outcome.refused:
                click.echo(f"hfcheck: {label}: not fixed {outcome.code}: {reason}", err=True)
        elif outcome.status == "refused":
            click.echo(f"hfcheck: {label}: not fixed {outcome.code} ({count}): {outcome.message}", err=True)
    if plan.edits:
        click.echo(f"hfcheck: {label}: {'changed' if remaining is not None else 'would change'} {', '.join(sorted(plan.edits))}", err=True)
    elif not plan.outcomes and not plan.refused:
        click.echo(f"hfcheck: {label}: nothing to fix", err=True)


def _smoke(report, options, baseline) -> None:
    """The smoke pass after the static one; progress goes to stderr (one updating line on
    a terminal, plain lines in CI) so stdout keeps only the report."""
    from hfcheck.smoke import smoke_target

    live = sys.stderr.isatty()
    for target in report.targets:

        def progress(step, label=target.path):
            if live:
                click.echo(f"\r\033[Khfcheck smoke {label}: {step}", nl=False, err=True)
            else:
                click.echo(f"hfcheck smoke {label}: {step}", err=True)

        smoke_target(target, progress=progress, baseline=baseline, **options)
        if live:
            click.echo("\r\033[K", nl=False, err=True)


@main.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
def rules_command(fmt):
    """List every rule: code, concern, default severity, fixable, summary."""
    from hfcheck.registry import all_rules

    rules = all_rules()
    if fmt == "json":
        import json

        rows = [{"code": r.code, "name": r.name, "concern": r.concern, "severity": r.severity, "fixable": r.fixable, "summary": r.summary} for r in rules]
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "markdown":
        click.echo(rules_markdown(rules), nl=False)
    else:
        width = max(len(r.name) for r in rules)
        for r in rules:
            click.echo(f"{r.code}  {r.name:<{width}}  {r.concern:<14} {r.severity:<7} {'fix' if r.fixable else '   '}  {r.summary}")


def rules_markdown(rules) -> str:
    """The rules table of the README (a test keeps the README in step with it)."""
    lines = ["| Code | Name | Concern | Severity | Fixable | What it catches |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rules:
        lines.append(f"| {r.code} | {r.name} | {r.concern} | {r.severity} | {'yes' if r.fixable else ''} | {r.summary.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


@main.command("explain")
@click.argument("code")
def explain_command(code):
    """Show the documentation of one rule."""
    from hfcheck.registry import get_rule

    found = get_rule(code)
    if found is None:
        click.echo(f"hfcheck: no rule {code!r}; `hfcheck rules` lists them", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"{found.code} {found.name} ({found.concern}, {found.severity}{', fixable' if found.fixable else ''})\n")
    click.echo(found.doc)
