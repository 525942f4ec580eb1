"""The command line, on click: parse flags into CheckOptions, hand them to the runner,
exit with its code. `check` is the default command, so `hfcheck PATH...` checks.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage or
internal error. Shell completion is click's: `eval "$(_HFCHECK_COMPLETE=bash_source hfcheck)"`
(zsh_source, fish_source for the other shells)."""

from __future__ import annotations

import sys
from pathlib import Path

# click's import (inspect, uuid, platform, datetime, gettext come with it) is ~20 ms of
# every run, a quarter of checking a 2 GB checkpoint, and no option of click's lowers it.
# Kept: a hand-written parser saving it would be a copy of a well-kept library (issue #20);
# benchmarks/cli_startup.py measures the rest of a run against the old build plus this import.
import click

from hfcheck import __version__
from hfcheck.options import DEVICES, EXECUTORS, FAIL_ON, FORMATS, CheckOptions, OptionsError

EXIT_USAGE = 2
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DefaultGroup(click.Group):
    """A group whose first word, when it is not a command, starts `check`'s arguments:
    `hfcheck repo` is `hfcheck check repo` (as `ruff path` was `ruff check path`)."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write_usage("hfcheck", "[OPTIONS] [TARGETS]...  |  hfcheck COMMAND [ARGS]...")


class SectionedCommand(click.Command):
    """--help in sections, as ruff prints `ruff check --help`."""

    def format_options(self, ctx, formatter):
        sections: dict[str, list] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is not None:
                sections.setdefault(SECTION_OF.get(param.name, "Options"), []).append(record)
        for title in dict.fromkeys(["Options", *SECTION_OF.values()]):
            if title in sections:
                with formatter.section(title):
                    formatter.write_dl(sections[title])


SECTION_OF = {
    "select": "Rule selection",
    "ignore": "Rule selection",
    "fail_on": "Rule selection",
    "config_file": "Rule selection",
    "baseline": "Rule selection",
    "write_baseline": "Rule selection",
    "format": "Output",
    "output": "Output",
    "quiet": "Output",
    "statistics": "Output",
    "show_fixes": "Output",
    "show_files": "Output",
    "show_settings": "Output",
    "fix": "Fixes",
    "unsafe_fixes": "Fixes",
    "diff": "Fixes",
    "fix_remove_pickles": "Fixes",
    "jobs": "Targets",
    "hf_cache": "Targets",
    "download_pickles": "Targets",
    "smoke": "Smoke pass",
    "device": "Smoke pass",
    "trust_remote_code": "Smoke pass",
    "cache": "Cache",
    "cache_dir": "Cache",
    "targets_from": "Auditing a registry",
    "resume": "Auditing a registry",
    "executor": "Auditing a registry",
    "ray_address": "Auditing a registry",
    "debug": "Miscellaneous",
}


def _complete_selectors(ctx, param, incomplete: str):
    from hfcheck import catalogue
    from hfcheck.findings import CONCERNS

    words = [r.code for r in catalogue.rules()] + list(CONCERNS) + ["ALL"]
    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    return [prefix + word for word in words if word.upper().startswith(last.upper())]


def _complete_rule(ctx, param, incomplete: str):
    from hfcheck import catalogue

    words = [word for r in catalogue.rules() for word in (r.code, r.name)]
    return [word for word in words if word.lower().startswith(incomplete.lower())]


@click.group(
    cls=DefaultGroup, context_settings=CONTEXT, epilog="For help with a command: hfcheck COMMAND --help (e.g. hfcheck check --help)."
)
@click.version_option(__version__, "--version", prog_name="hfcheck", message="%(prog)s %(version)s")
def cli():
    """hfcheck: a production-readiness linter for Hugging Face model repositories.

    `hfcheck [OPTIONS] [TARGETS]...` runs `check` (the default command).
    """


@cli.command(cls=SectionedCommand, context_settings=CONTEXT, short_help="Check model repositories (the default command).")
@click.argument("targets", nargs=-1, type=click.Path(path_type=str), metavar="[TARGETS]...")
@click.option(
    "--format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Report format; concise is `path:line:col: CODE message`.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="FILE",
    help="Write the report to FILE instead of stdout.",
)
@click.option(
    "--select",
    multiple=True,
    metavar="CODES",
    shell_complete=_complete_selectors,
    help="Only these codes, prefixes or concerns (comma-separated).",
)
@click.option(
    "--ignore",
    multiple=True,
    metavar="CODES",
    shell_complete=_complete_selectors,
    help="Skip these codes, prefixes or concerns (comma-separated).",
)
@click.option("--fail-on", type=click.Choice(FAIL_ON), help="Lowest severity that fails the run [default: error].")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Settings file (instead of the target's pyproject.toml/.hfcheck.yaml).",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Do not report findings recorded in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Record the current findings as the baseline and exit 0.",
)
@click.option("--quiet", "-q", is_flag=True, help="Text output: no fix lines; only findings and the summary.")
@click.option("--statistics", is_flag=True, help="Print the number of findings per code instead of the findings.")
@click.option("--show-fixes", is_flag=True, help="Mark fixable findings [*] and list what --fix (and --unsafe-fixes) would fix.")
@click.option("--show-files", is_flag=True, help="Text output: list the files each unit was checked with.")
@click.option("--show-settings", is_flag=True, help="Text output: show the settings each unit was checked with.")
@click.option("--fix", is_flag=True, help="Apply the safe fixes, then check again and report what remains.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also the unsafe fixes (e.g. converting pickle weights).")
@click.option("--diff", is_flag=True, help="Show what the fixes would change (unified diff) and write nothing; with --fix too.")
@click.option("--fix-remove-pickles", is_flag=True, help="With --fix or --diff: delete pickle weights once converted to safetensors.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=1,
    metavar="N",
    help="Check targets in parallel processes (0: one per CPU).  [default: 1]",
)
@click.option("--hf-cache", is_flag=True, help="Also check every model snapshot in the local Hugging Face cache.")
@click.option("--download-pickles", is_flag=True, help="Hub targets: download pickle weights (.bin, .pt, ...) so they are scanned.")
@click.option("--smoke", is_flag=True, help="After the static pass, load and run the model (needs the smoke extra).")
@click.option(
    "--device", type=click.Choice(DEVICES), default="auto", show_default=True, help="Smoke pass device; auto skips without a GPU."
)
@click.option("--trust-remote-code", is_flag=True, help="Smoke pass: allow the model's own Python code (auto_map).")
@click.option(
    "--cache/--no-cache", default=True, help="Reuse results of unchanged targets (kept in the user cache folder).  [default: cache]"
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="HFCHECK_CACHE_DIR",
    metavar="DIR",
    help="Where the result cache lives [env: HFCHECK_CACHE_DIR].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.option(
    "--targets-from",
    metavar="FILE",
    help="Audit the targets listed in FILE (- for stdin): one path or org/name[@revision] a line; one report in --format (jsonl: a line per target as it finishes).",
)
@click.option(
    "--resume",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="With --targets-from: skip what FILE (JSONL) holds, append the rest.",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="With --targets-from: processes here (--jobs) or a Ray cluster.",
)
@click.option("--ray-address", metavar="ADDR", help="With --executor ray: auto, ray://host:10001; none starts a local Ray cluster.")
def check(**flags):
    """Check model repositories: folders, HF cache snapshots, files inside a repo, or Hub
    ids (org/name, org/name@revision, hf://org/name). Default: the current folder."""
    flags["targets"] = list(flags["targets"])
    try:
        options = CheckOptions(**flags).validate()
    except OptionsError as error:
        raise click.UsageError(str(error)) from None
    sys.exit(_run_guarded(options))


def _run_guarded(options: CheckOptions) -> int:
    """The runner's exit code; an exception becomes one line on stderr and exit 2 (a
    traceback only with --debug)."""
    from hfcheck import runner

    try:
        return runner.run(options)
    except Exception as error:
        if options.debug:
            raise
        from hfcheck.targets import TargetError

        kind = "" if isinstance(error, (TargetError, ValueError, OSError)) else "internal error: "
        _err(f"hfcheck: {kind}{error}")
        return EXIT_USAGE


@cli.command(context_settings=CONTEXT, short_help="List the rules, or those matching codes, prefixes or concerns.")
@click.argument("selectors", nargs=-1, metavar="[CODES]...", shell_complete=_complete_selectors)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
def rules(selectors, fmt):
    """List the rules (all, or those matching codes, prefixes or concerns: `hfcheck rules SEC
    tokenizer`). A fix marked `unsafe` runs only with --unsafe-fixes."""
    from hfcheck import catalogue
    from hfcheck.registry import matches

    chosen = catalogue.rules()
    if selectors:
        wanted = [part for part in (s.strip() for value in selectors for s in value.split(",")) if part]
        unknown = [w for w in wanted if not any(matches(r.code, [w]) for r in chosen)]
        if unknown:
            raise click.UsageError(f"no rule matches {', '.join(map(repr, unknown))}; `hfcheck rules` lists them")
        chosen = [r for r in chosen if matches(r.code, wanted)]
    fixers = catalogue.fixers()
    if fmt == "json":
        import json

        rows = [
            {
                "code": r.code,
                "name": r.name,
                "concern": r.concern,
                "severity": r.severity,
                "fixable": r.fixable,
                "fix": fix_kind(r, fixers),
                "summary": r.summary,
            }
            for r in chosen
        ]
        click.echo(json.dumps(rows, indent=2))
    elif fmt == "markdown":
        click.echo(rules_markdown(chosen), nl=False)
    else:
        width = max(len(r.name) for r in chosen)
        for r in chosen:
            click.echo(f"{r.code}  {r.name:<{width}}  {r.concern:<14} {r.severity:<7} {(fix_kind(r, fixers) or ''):<6}  {r.summary}")


def fix_kind(rule, fixers) -> str | None:
    """ "safe" (--fix applies it), "unsafe" (only with --unsafe-fixes) or None."""
    fixer = fixers.get(rule.code)
    if fixer is None:
        return None
    return "safe" if fixer.safe else "unsafe"


def rules_markdown(rules) -> str:
    """The rules table of the README (a test keeps the README in step with it)."""
    from hfcheck import catalogue

    fixers = catalogue.fixers()
    label = {"safe": "yes", "unsafe": "unsafe", None: ""}
    lines = ["| Code | Name | Concern | Severity | Fixable | What it catches |", "| --- | --- | --- | --- | --- | --- |"]
    for r in rules:
        lines.append(f"| {r.code} | {r.name} | {r.concern} | {r.severity} | {label[fix_kind(r, fixers)]} | {r.summary.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


@cli.command(context_settings=CONTEXT, short_help="Show a rule's documentation, by code or name.")
@click.argument("rule", metavar="CODE|NAME", shell_complete=_complete_rule)
def explain(rule):
    """Show a rule's documentation, by code (SPT001) or name (no-pad-token)."""
    from hfcheck import catalogue

    found = catalogue.find(rule)
    if found is None:
        import difflib

        words = [word for r in catalogue.rules() for word in (r.code, r.name)]
        close = difflib.get_close_matches(rule.lower() if "-" in rule else rule.upper(), words, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        _err(f"hfcheck: no rule {rule!r}{hint}; `hfcheck rules` lists them")
        sys.exit(EXIT_USAGE)
    kind = fix_kind(found, catalogue.fixers())
    fixable = {"safe": ", fixable", "unsafe": ", fixable with --unsafe-fixes", None: ""}[kind]
    click.echo(f"{found.code} {found.name} ({found.concern}, {found.severity}{fixable})\n")
    click.echo(found.doc)


def main(argv: list[str] | None = None) -> None:
    """Run `hfcheck` with `argv` (default: sys.argv[1:]); always ends in SystemExit
    carrying the exit code."""
    cli.main(args=argv, prog_name="hfcheck")
