"""What `hfcheck check` does with a CheckOptions: fix (or preview), check, smoke, baseline,
render, exit code. The CLI parses flags into CheckOptions and calls `run`; nothing here
knows about click."""

from __future__ import annotations

import os
import sys

from hfcheck.options import CheckOptions

EXIT_USAGE = 2


def err(message: str, end: str = "\n") -> None:
    print(message, end=end, file=sys.stderr, flush=True)


# The CLI's one dispatch on the options: each branch is a few lines.
def run(options: CheckOptions) -> int:
    """The exit code of one check run (options already validated)."""
    if options.targets_from is not None:
        from hfcheck import audit

        return audit.run(options.targets_from, overrides=options.overrides(), config_file=options.config_file, resume=options.resume, output=options.output,
                         executor=options.executor, jobs=options.jobs or os.cpu_count() or 1, ray_address=options.ray_address, smoke=options.smoke,
                         device=options.device, quiet=options.quiet, fmt=options.format, baseline=options.baseline,
                         download_pickles=options.download_pickles, trust_remote_code=options.trust_remote_code,
                         render_options={"quiet": options.quiet, "show_files": options.show_files, "show_settings": options.show_settings})  # fmt: skip
    from hfcheck.api import check_many, fingerprint, read_baseline
    from hfcheck.api import write_baseline as save_baseline
    from hfcheck import catalogue
    from hfcheck.targets import hf_cache_snapshots

    known = read_baseline(options.baseline) if options.baseline else None
    plans = []
    if options.fix or options.diff:
        plans = _fix(options, known)
        if options.preview:
            for label, plan in plans:
                _fix_summary(label, plan, None)
            return 1 if any(plan.edits for _, plan in plans) else 0
    cached = hf_cache_snapshots() if options.hf_cache else []
    report = check_many(
        list(options.targets),
        config_file=options.config_file,
        overrides=options.overrides(),
        baseline=known,
        jobs=options.jobs or os.cpu_count() or 1,
        extra_targets=cached,
        download_pickles=options.download_pickles,
        cache=_result_cache(options),
    )
    if options.fix:
        remaining = {t.path: [f.code for f in t.findings] for t in report.targets}
        for label, plan in plans:
            _fix_summary(label, plan, remaining.get(label, []))
    if options.smoke:
        _smoke(report, options, known)
    if options.write_baseline:
        save_baseline(report, options.write_baseline)
        err(f"hfcheck: wrote {len(report.findings)} findings to {options.write_baseline}")
        return 0
    from hfcheck.report import render

    color = options.output is None and options.format == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    fmt = "statistics" if options.statistics else options.format
    text = render(
        report,
        fmt,
        rules=catalogue.rules(),
        fingerprint=fingerprint,
        color=color,
        quiet=options.quiet,
        fixers=catalogue.fixers() if options.show_fixes or options.statistics else None,
        as_json=options.format == "json",
        show_files=options.show_files,
        show_settings=options.show_settings,
        fingerprint_of_settings=_settings_fingerprint(options) if fmt == "jsonl" else "",
    )
    if options.output:
        options.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return report.exit_code()


def _settings_fingerprint(options: CheckOptions) -> str:
    """What an audit of the same options stamps on its JSONL records (so this output can
    seed `--targets-from ... --resume`)."""
    from hfcheck.audit import audit_settings

    return audit_settings(overrides=options.overrides(), config_file=options.config_file, baseline=options.baseline, download_pickles=options.download_pickles,
                          smoke=options.smoke, device=options.device, trust_remote_code=options.trust_remote_code).fingerprint()  # fmt: skip


def _result_cache(options: CheckOptions):
    """The result cache, unless --no-cache or a run whose results are not the static pass's
    alone (--fix rewrites files mid-run and checks again, so it goes uncached)."""
    if not options.cache or options.fix:
        return None
    from hfcheck.cache import ResultCache

    return ResultCache.at(options.cache_dir)


def _fix(options: CheckOptions, baseline) -> list:
    """Plan and apply the fixes of every target (with --diff: print them as a diff)."""
    from hfcheck.fix import FixError, fix_targets, render_diff

    try:
        plans = fix_targets(
            list(options.targets),
            config_file=options.config_file,
            overrides=options.overrides(),
            baseline=baseline,
            unsafe=options.unsafe_fixes,
            remove_pickles=options.fix_remove_pickles,
            apply=not options.preview,
        )
    except FixError as error:
        err(f"hfcheck: fix failed, nothing was changed: {error}")
        sys.exit(EXIT_USAGE)
    for label, plan in plans:
        if plan.refused:
            err(f"hfcheck: {label}: not fixed: {plan.refused}")
        if options.preview:
            sys.stdout.write(render_diff(plan))
    return plans


def _fix_summary(label, plan, remaining: list[str] | None) -> None:
    """What was fixed, refused or left for --unsafe-fixes, on stderr; after --fix,
    `remaining` (the codes the re-check still reports) says what a fix did not remove."""
    for outcome in plan.outcomes:
        count = f"{outcome.findings} finding{'s' if outcome.findings != 1 else ''}"
        if outcome.status == "fixed":
            if remaining is None:
                err(f"hfcheck: {label}: would fix {outcome.code} ({count}): {outcome.message}")
            else:
                left = remaining.count(outcome.code)
                done = f"{count}" if not left else f"{max(outcome.findings - left, 0)} of {count}; {left} remain{'s' if left == 1 else ''}"
                err(f"hfcheck: {label}: fixed {outcome.code} ({done}): {outcome.message}")
            for reason in outcome.refused:
                err(f"hfcheck: {label}: not fixed {outcome.code}: {reason}")
        elif outcome.status == "unsafe":
            err(f"hfcheck: {label}: {outcome.code} ({count}) has an unsafe fix: add --unsafe-fixes to apply it")
        elif outcome.status == "refused" and outcome.refused:
            for reason in outcome.refused:
                err(f"hfcheck: {label}: not fixed {outcome.code}: {reason}")
        elif outcome.status == "refused":
            err(f"hfcheck: {label}: not fixed {outcome.code} ({count}): {outcome.message}")
    if plan.edits:
        err(f"hfcheck: {label}: {'changed' if remaining is not None else 'would change'} {', '.join(sorted(plan.edits))}")
    elif not plan.outcomes and not plan.refused:
        err(f"hfcheck: {label}: nothing to fix")


def _smoke(report, options: CheckOptions, baseline) -> None:
    """The smoke pass after the static one; progress goes to stderr (a bar on a terminal,
    plain lines in CI, nothing with --quiet) so stdout keeps only the report."""
    from hfcheck.smoke import smoke_target
    from hfcheck.smoke.progress import smoke_progress

    for target in report.targets:
        with smoke_progress(target.path, quiet=options.quiet) as progress:
            smoke_target(target, progress=progress, baseline=baseline, device=options.device, trust_remote_code=options.trust_remote_code)
