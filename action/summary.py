"""The job summary of the hfcheck action: a Markdown table of the findings from hfcheck's
JSON report (its stable contract), for $GITHUB_STEP_SUMMARY.

    python action/summary.py REPORT.json EXIT_CODE >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import json
import sys

VERDICT = {"0": "passed", "1": "failed", "2": "could not run (usage or internal error)"}


def cell(text) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def summary(report: dict, status: str) -> str:
    counts = report["summary"]
    lines = [
        f"## hfcheck {report['version']}: {VERDICT.get(status, f'exit {status}')}",
        "",
        f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info in {len(report['targets'])} target(s).",
        "",
    ]
    rows = [(target["path"], finding) for target in report["targets"] for finding in target["findings"]]
    if rows:
        lines += ["| Severity | Code | Target | File | Line | Message |", "| --- | --- | --- | --- | --- | --- |"]
        for path, finding in rows:
            lines.append(
                f"| {finding['severity']} | {finding['code']} | {cell(path)} | {cell(finding['path'])} | {cell(finding['line'])} | {cell(finding['message'])} |"
            )
    else:
        lines.append("No findings.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as stream:
        data = json.load(stream)
    sys.stdout.write(summary(data, sys.argv[2]))
