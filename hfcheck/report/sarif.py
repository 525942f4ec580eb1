"""SARIF 2.1.0 for GitHub code scanning and other SARIF viewers: rule metadata with help
text, file locations with lines, and partialFingerprints so findings are tracked across
commits."""

from __future__ import annotations

import json

from hfcheck import SOURCE_URL, __version__
from hfcheck.report import display_path

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_SECURITY_SEVERITY = {"error": "8.0", "warning": "5.0", "info": "2.0"}


def render(report, *, rules=(), fingerprint=None, **_options) -> str:
    used = sorted({f.code for f in report.findings})
    metadata = {r.code: r for r in rules}
    descriptors = [_descriptor(metadata[code]) if code in metadata else {"id": code} for code in used]
    index = {code: i for i, code in enumerate(used)}
    results = []
    for target in report.targets:
        for finding in target.findings:
            results.append(_result(target, finding, index, fingerprint))
    run = {
        "tool": {
            "driver": {
                "name": "hfcheck",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": SOURCE_URL,
                "rules": descriptors,
            }
        },
        "results": results,
        "columnKind": "unicodeCodePoints",
    }
    revisions = [t.revision for t in report.targets if t.revision]
    if revisions:
        run["versionControlProvenance"] = [
            {"repositoryUri": f"https://huggingface.co/{t.path}", "revisionId": t.revision} for t in report.targets if t.revision
        ]
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"


def _descriptor(rule) -> dict:
    tags = [rule.concern] + (["security"] if rule.concern == "security" else [])
    return {
        "id": rule.code,
        "name": "".join(part.capitalize() for part in rule.name.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.doc},
        "help": {"text": rule.doc, "markdown": f"**{rule.code} {rule.name}**\n\n{rule.doc}"},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": tags, "precision": "high", "security-severity": _SECURITY_SEVERITY[rule.severity]}
        if rule.concern == "security"
        else {"tags": tags},
    }


def _result(target, finding, index, fingerprint) -> dict:
    location = {"artifactLocation": {"uri": display_path(target.root, finding.path)}}
    if finding.line:
        location["region"] = {"startLine": finding.line}
    message = finding.message + (f" Fix: {finding.fix}" if finding.fix else "")
    result = {
        "ruleId": finding.code,
        "ruleIndex": index[finding.code],
        "level": _LEVEL[finding.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": location}],
        "properties": {"concern": finding.concern},
    }
    if fingerprint is not None:
        result["partialFingerprints"] = {"hfcheckFinding/v1": fingerprint(finding)}
    return result
