"""Inline suppressions: `# hfcheck: ignore[PIN001]` in the files that allow comments.

A suppression at the end of a line silences the named codes on that line; one on a line
of its own silences them on the next line. A suppression that silenced nothing becomes an
HFC005 finding (as ruff's RUF100 reports unused `noqa`), so stale ones do not pile up.
JSON has no comments: `per-file-ignores` in the settings covers it.

The findings pipeline in hfcheck/api.py calls `apply` once, before per-path ignores and
the baseline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from hfcheck.findings import Finding

UNUSED_CODE = "HFC005"
MAX_BYTES = 4 << 20  # dependency, Docker, YAML, shell and Python files are far smaller

# The files hfcheck reports on whose syntax has `#` comments: requirements and constraints
# files, Dockerfiles, YAML, TOML, setup.cfg, Python, shell, .env. Other text files (a
# dataset's 100,000 .txt files) are never opened.
_SUFFIXES = (".yaml", ".yml", ".toml", ".cfg", ".py", ".sh", ".bash", ".env", ".dockerfile")
_PREFIXES = ("Dockerfile", "Containerfile", "Pipfile", ".env", "requirements", "constraints")
_MARKER = re.compile(r"#.*?\bhfcheck:\s*ignore\[([^\]\n]*)\]")


@dataclass
class Suppression:
    path: str
    line: int  # where the comment is
    applies_to: int  # the line it silences
    codes: list[str]
    used: set[str] = field(default_factory=set)


def commentable(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return name.startswith(_PREFIXES) or name.endswith(_SUFFIXES)


def parse(text: str, path: str) -> list[Suppression]:
    """The suppressions in one file's text."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "hfcheck:" not in line:
            continue
        match = _MARKER.search(line)
        if match is None:
            continue
        codes = [code.strip().upper() for code in match.group(1).split(",") if code.strip()]
        own_line = line.lstrip().startswith("#")
        found.append(Suppression(path, number, number + 1 if own_line else number, codes))
    return found


def collect(repo) -> list[Suppression]:
    """Every suppression in the repo's commentable files (weights and JSON are never read)."""
    found = []
    for rel, entry in repo.files.items():
        if not commentable(rel) or not 0 < entry.size <= MAX_BYTES:
            continue
        try:
            with open(entry.path, "rb") as stream:
                data = stream.read(MAX_BYTES + 1)
        except OSError:
            continue  # unreadable files are HFC001's to report
        if b"hfcheck:" in data:
            found += parse(data.decode("utf-8", errors="replace"), rel)
    return found


def apply(findings: list[Finding], repo, settings, *, report_unused: bool = True) -> list[Finding]:
    """The findings without the suppressed ones, plus an HFC005 finding for each code of a
    suppression that silenced nothing (when HFC005 and the code's rule are selected;
    `report_unused` False when only some rules ran, as in the fix engine)."""
    from hfcheck import catalogue
    from hfcheck.registry import matches

    suppressions = collect(repo)
    if not suppressions:
        return findings
    at = {}
    for suppression in suppressions:
        at.setdefault((suppression.path, suppression.applies_to), []).append(suppression)
    kept = []
    for finding in findings:
        silenced = False
        for suppression in at.get((finding.path, finding.line), ()):
            for code in suppression.codes:
                if matches(finding.code, [code]):
                    suppression.used.add(code)
                    silenced = True
        if not silenced:
            kept.append(finding)
    if not report_unused or not _selected(UNUSED_CODE, settings):
        return kept
    codes = [r.code for r in catalogue.rules()]
    for suppression in suppressions:
        for code in suppression.codes:
            if code in suppression.used:
                continue
            ruled = [c for c in codes if matches(c, [code])]
            if not ruled:
                kept.append(_unused(suppression, f"suppression names {code!r}, which is no rule code", settings))
            elif any(_selected(c, settings) for c in ruled):
                kept.append(_unused(suppression, f"unused suppression: no {code} finding on line {suppression.applies_to}", settings))
    return kept


def _selected(code: str, settings) -> bool:
    from hfcheck.registry import selected

    return selected(code, settings)


def _unused(suppression: Suppression, message: str, settings) -> Finding:
    from hfcheck import catalogue

    rule = catalogue.rule(UNUSED_CODE)
    severity = settings.severity.get(UNUSED_CODE, rule.severity)
    fix = "remove the code from the `# hfcheck: ignore[...]` comment (or the whole comment when it names nothing else)"
    return Finding(UNUSED_CODE, severity, rule.concern, message, suppression.path, suppression.line, fix)
