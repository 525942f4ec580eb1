"""GitHub Actions workflow commands: each finding becomes an annotation on the file."""

from __future__ import annotations

from hfcheck.report import display_path

_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report, **_options) -> str:
    lines = []
    for target in report.targets:
        for finding in target.findings:
            props = [f"file={_escape_property(display_path(target.root, finding.path))}"]
            if finding.line:
                props.append(f"line={finding.line}")
            props.append(f"title={_escape_property(f'{finding.code} ({finding.concern})')}")
            message = finding.message + (f"\nFix: {finding.fix}" if finding.fix else "")
            lines.append(f"::{_LEVEL[finding.severity]} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")
