"""The JSON report: a stable contract for CI integrations.

{"version", "targets": [{"path", "units": [{path, kind, summary, files, settings_file,
links}], "findings": [{code, severity, concern, message, path, line, fix, unit}]}],
"summary": {"error", "warning", "info"}}; a hub target adds "revision"."""

from __future__ import annotations

import json

from hfcheck import __version__


def render(report, **_options) -> str:
    targets = []
    for target in report.targets:
        entry = {
            "path": target.path,
            "units": [u.to_dict() for u in getattr(target, "units", ())],
            "findings": [f.to_dict() for f in target.findings],
        }
        if target.revision:
            entry["revision"] = target.revision
        targets.append(entry)
    return json.dumps({"version": __version__, "targets": targets, "summary": report.summary}, indent=2) + "\n"
