"""`--statistics`: how many findings of each code, most frequent first, with whether
--fix (`[*]`) or --fix --unsafe-fixes (`[-]`) would fix them, as ruff prints them."""

from __future__ import annotations

import json


def counts(report) -> list[tuple[str, int]]:
    tally: dict[str, int] = {}
    for finding in report.findings:
        tally[finding.code] = tally.get(finding.code, 0) + 1
    return sorted(tally.items(), key=lambda item: (-item[1], item[0]))


def render(report, *, rules=(), fixers=None, as_json: bool = False, **_options) -> str:
    names = {r.code: r.name for r in rules}
    fixers = fixers or {}
    rows = []
    for code, count in counts(report):
        fixer = fixers.get(code)
        rows.append(
            {
                "code": code,
                "name": names.get(code, ""),
                "count": count,
                "fix": None if fixer is None else ("safe" if fixer.safe else "unsafe"),
            }
        )
    if as_json:
        return json.dumps(rows, indent=2) + "\n"
    width = max((len(str(row["count"])) for row in rows), default=1)
    mark = {"safe": "[*]", "unsafe": "[-]", None: "   "}
    return "".join(f"{row['count']:>{width}}\t{row['code']}\t{mark[row['fix']]} {row['name']}\n" for row in rows)
