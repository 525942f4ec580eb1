"""One line per finding, `path:line:col: CODE message`, for editors, grep and scripts
(ruff's concise format). Findings carry no column: it is 1. A finding about no particular
line (a missing file, a repo-wide fact) is placed at line 1."""

from __future__ import annotations

from hfcheck.report import display_path


def render(report, *, fixers=None, **_options) -> str:
    lines = []
    for target in report.targets:
        for finding in target.findings:
            marker = " [*]" if fixers and finding.code in fixers else ""
            message = " ".join(finding.message.split())
            lines.append(f"{display_path(target.root, finding.path)}:{finding.line or 1}:1: {finding.code}{marker} {message}")
    return "\n".join(lines) + ("\n" if lines else "")
