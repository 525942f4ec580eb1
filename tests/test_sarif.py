"""SARIF output validates against the official 2.1.0 schema and carries what GitHub code
scanning needs: rule help, locations with lines, partial fingerprints."""

from __future__ import annotations

import json
import os

import pytest

from conftest import FIXTURES, ROOT, invoke

SCHEMA = ROOT.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def schema():
    if not SCHEMA.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"SARIF schema missing at {SCHEMA}")
        pytest.skip(f"SARIF schema not found at {SCHEMA}")
    return json.loads(SCHEMA.read_text())


def sarif_of(*targets):
    result = invoke(*targets, "--format", "sarif")
    return result.exit_code, json.loads(result.output)


def test_sarif_validates_and_has_locations(schema, tiny_llama):
    import jsonschema

    (tiny_llama / "extra.json").write_text('{"a": 1,\n "a": 2}')
    code, log = sarif_of(FIXTURES / "tiny-llama-broken-config", tiny_llama)
    jsonschema.validate(log, schema)
    assert code == 1
    run = log["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {"CFG002", "CFG004"}
    assert "Why:" in rules["CFG002"]["help"]["text"]
    assert rules["CFG004"]["defaultConfiguration"]["level"] == "warning"
    results = {r["ruleId"]: r for r in run["results"]}
    location = results["CFG002"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("tiny-llama-broken-config/config.json")
    assert location["region"]["startLine"] == 23
    assert results["CFG004"]["partialFingerprints"]["hfcheckFinding/v1"]
    assert run["tool"]["driver"]["rules"][results["CFG004"]["ruleIndex"]]["id"] == "CFG004"


def test_sarif_of_a_clean_repo_validates(schema):
    import jsonschema

    code, log = sarif_of(FIXTURES / "tiny-llama")
    jsonschema.validate(log, schema)
    assert code == 0 and log["runs"][0]["results"] == []


def test_fingerprints_survive_line_moves(tiny_llama):
    (tiny_llama / "extra.json").write_text('{"a": 1, "a": 2}')
    _, before = sarif_of(tiny_llama)
    (tiny_llama / "extra.json").write_text('\n\n{"a": 1, "a": 2}')
    _, after = sarif_of(tiny_llama)
    fingerprint = lambda log: log["runs"][0]["results"][0]["partialFingerprints"]  # noqa: E731
    assert fingerprint(before) == fingerprint(after)
