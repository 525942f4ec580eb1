"""Human output: findings grouped by file, coloured on a terminal, one summary line."""

from __future__ import annotations

from hfcheck.report import display_path

# ANSI SGR codes; a style is applied only when the CLI says stdout is a colour terminal
_STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34"}
_COLOURS = {"error": "red", "warning": "yellow", "info": "blue"}


def units_lines(target, *, show_files: bool = False, show_settings: bool = False) -> list[str]:
    """What discovery found in a target, one line per unit:
    `models/chat: transformers llama, 1 weight file, 0.5 GB` and
    `.: deployment serve.py + Dockerfile -> models/chat`."""
    lines = []
    for unit in getattr(target, "units", ()):
        head = f"  {unit.path}: {unit.summary if unit.is_model else 'deployment ' + unit.summary}"
        if show_settings:
            head += f" [settings: {unit.settings_file or 'defaults'}]"
        lines.append(head)
        if show_files:
            lines.extend(f"      {rel}" for rel in unit.files)
    skipped = getattr(target, "skipped_dirs", ())
    if skipped:
        lines.append(f"  not walked: {', '.join(skipped[:5])}{f' and {len(skipped) - 5} more' if len(skipped) > 5 else ''}")
    return lines


def render(
    report, *, color: bool = False, quiet: bool = False, fixers=None, show_files: bool = False, show_settings: bool = False, **_options
) -> str:
    def style(text, *names):
        return f"\x1b[{';'.join(_STYLES[n] for n in names)}m{text}\x1b[0m" if color else text

    out: list[str] = []
    for target in report.targets:
        if target.revision:
            out.append(style(f"{target.path} @ {target.revision} (Hub)", "bold"))
        if not quiet and getattr(target, "units", None) is not None:
            if not target.revision:
                out.append(style(f"{target.path}", "bold"))
            out.extend(units_lines(target, show_files=show_files, show_settings=show_settings))
        if target.revision or not quiet:
            out.append("")
        by_file: dict[str | None, list] = {}
        for finding in target.findings:
            by_file.setdefault(finding.path, []).append(finding)
        for path, findings in by_file.items():
            out.append(style(display_path(target.root, path), "bold"))
            for finding in findings:
                where = f"{finding.line}" if finding.line else "-"
                severity = style(f"{finding.severity:<7}", _COLOURS[finding.severity])
                marker = " [*]" if fixers and finding.code in fixers else ""
                out.append(f"  {where:>5}  {severity} {style(finding.code, 'bold')}{marker}  {finding.message}")
                if finding.fix and not quiet:
                    out.append(f"{'':16}{style('fix:', 'dim')} {finding.fix}")
            out.append("")
    if fixers is not None:
        out += _fixable(report, fixers)
    counts = report.summary
    total = sum(counts.values())
    targets = len(report.targets)
    if total:
        parts = [f"{counts[s]} {s}{'s' if counts[s] != 1 and s != 'info' else ''}" for s in ("error", "warning", "info")]
        out.append(f"Found {', '.join(parts)} in {targets} target{'s' if targets != 1 else ''}.")
    else:
        out.append(style(f"All checks passed ({targets} target{'s' if targets != 1 else ''}).", "green"))
    return "\n".join(out) + "\n"


def _fixable(report, fixers) -> list[str]:
    """--show-fixes: what --fix, and --fix --unsafe-fixes, would fix."""
    safe: dict[str, int] = {}
    unsafe: dict[str, int] = {}
    for finding in report.findings:
        fixer = fixers.get(finding.code)
        if fixer is not None:
            table = safe if fixer.safe else unsafe
            table[finding.code] = table.get(finding.code, 0) + 1
    if not safe and not unsafe:
        return ["No finding has a fix.", ""]
    lines = []
    for label, table in (("with --fix", safe), ("only with --fix --unsafe-fixes", unsafe)):
        if table:
            total = sum(table.values())
            codes = ", ".join(f"{code} ({count})" for code, count in sorted(table.items()))
            lines.append(f"[*] {total} fixable {label}: {codes}")
    return lines + [""]
