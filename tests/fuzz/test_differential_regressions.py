"""Disagreements the differential fuzzer found, minimised, as standing regression cases.

Each case in tests/fuzz/cases/*.json holds the bytes (hex), the loader and file name, the
#15 family it belongs to and what the loader does with it. Two tests per case:

- the case is real: its loader, under the oracle, still resolves an off-allowlist global or
  reaches a side effect (so a scanner fix can never be "verified" against a dud);
- hfcheck reports an error on it. Cases the current scanner still misses are strict xfails
  naming their family: they flip (and fail as XPASS) when #15's fixes merge, and the lead then
  drops the `open` flag from the case file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from differential import hfcheck_errors, oracle_verdict
from loader_oracle import OracleWorker

CASES = sorted((Path(__file__).resolve().parent / "cases").glob("*.json"))


def _load(path: Path) -> dict:
    case = json.loads(path.read_text())
    case["data"] = bytes.fromhex(case["hex"])
    return case


def _params(with_xfail: bool):
    for path in CASES:
        case = _load(path)
        marks = []
        if with_xfail and case.get("open"):
            marks.append(pytest.mark.xfail(strict=True, reason=f"#15 family {case['family']}: {case['why']}"))
        yield pytest.param(path, marks=marks, id=path.stem)


@pytest.fixture(scope="module")
def workers():
    pool: dict[str, OracleWorker] = {}
    yield lambda loader: pool.setdefault(loader, OracleWorker(loader))
    for worker in pool.values():
        worker.close()


def test_there_are_cases():
    assert len(CASES) >= 5


@pytest.mark.parametrize("path", list(_params(with_xfail=False)))
def test_case_is_real_under_its_loader(path, tmp_path, workers):
    case = _load(path)
    target = tmp_path / case["name"]
    target.write_bytes(case["data"])
    seen = workers(case["loader"]).observe(target)
    assert oracle_verdict(seen), f"{case['loader']} no longer does anything off the allowlist: {seen}"


@pytest.mark.parametrize("path", list(_params(with_xfail=True)))
def test_hfcheck_reports_an_error(path, tmp_path):
    case = _load(path)
    (tmp_path / case["name"]).write_bytes(case["data"])
    assert hfcheck_errors(tmp_path), f"hfcheck is clean on a file whose {case['loader']} load {case['oracle']}"
