"""JSON Lines: one object per checked target, written and flushed as each finishes, so an
interrupted audit keeps what it did and `--resume` can skip it.

Each line: {"hfcheck": version, "settings": fingerprint of the settings that produced it,
"target": the target as listed, "path", "root", "revision", "units", "skipped_dirs",
"findings", "summary", "exit_code", "error", "seconds"}. `error` is a message when the
target could not be checked (exit_code 2), else null; `findings` and `units` are those of
the JSON report; `root` (the folder checked: a Hub target's view on the machine that
checked it) and `skipped_dirs` let the records render in every format as the run would."""

from __future__ import annotations

import json

from hfcheck import __version__


def target_record(target_report, *, target: str, settings: str, seconds: float = 0.0) -> dict:
    """The line of one checked target (an hfcheck.api.TargetReport)."""
    findings = [f.to_dict() for f in target_report.findings]
    summary = {"error": 0, "warning": 0, "info": 0}
    for finding in findings:
        summary[finding["severity"]] += 1
    return {
        "hfcheck": __version__,
        "settings": settings,
        "target": target,
        "path": target_report.path,
        "root": str(target_report.root),
        "revision": target_report.revision,
        "units": [u.to_dict() for u in getattr(target_report, "units", ())],
        "skipped_dirs": list(getattr(target_report, "skipped_dirs", ())),
        "findings": findings,
        "summary": summary,
        "exit_code": target_report.exit_code(),
        "error": None,
        "seconds": round(seconds, 4),
    }


def error_record(*, target: str, settings: str, error: str, seconds: float = 0.0) -> dict:
    """The line of a target that could not be checked (missing path, unknown repo,
    a worker lost for good): loud, exit code 2, and retried by `--resume`."""
    return {
        "hfcheck": __version__,
        "settings": settings,
        "target": target,
        "path": target,
        "root": None,
        "revision": None,
        "units": [],
        "skipped_dirs": [],
        "findings": [],
        "summary": {"error": 0, "warning": 0, "info": 0},
        "exit_code": 2,
        "error": error,
        "seconds": round(seconds, 4),
    }


class JsonlWriter:
    """Writes one record per line to an open text stream and flushes it at once."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, record: dict) -> None:
        self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.stream.flush()


def render(report, *, fingerprint_of_settings: str = "", **_options) -> str:
    """A finished Report as JSON Lines (what `--format jsonl` prints without streaming)."""
    return "".join(
        json.dumps(target_record(t, target=t.path, settings=fingerprint_of_settings), separators=(",", ":")) + "\n" for t in report.targets
    )
