"""The long-run harness's own parts: seed streams, shares, and the property's one exception.

The property's exception (a failed import of a module no installed module is named like
needs no error) and the scanner's PROTO-header rule are checked on real loads and real
scans; the parallel harness's determinism on its seed arithmetic.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from differential import could_be_installed, hfcheck_errors, oracle_verdict
from loader_oracle import OracleWorker

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fuzz"))
_spec = importlib.util.spec_from_file_location(
    "pickle_differential", Path(__file__).resolve().parents[2] / "fuzz" / "pickle_differential.py"
)
pickle_differential = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pickle_differential)


def test_seed_streams_are_disjoint_per_worker_and_loader_and_repeatable():
    seeds = {
        (w, loader): pickle_differential.stream_seed(1, 16, w, loader)
        for w in range(16)
        for loader in ("pickle", "torch", "joblib", "numpy")
    }
    assert len(set(seeds.values())) == len(seeds)
    assert pickle_differential.stream_seed(1, 16, 3, "torch") == seeds[(3, "torch")]
    assert pickle_differential.stream_seed(2, 16, 3, "torch") != seeds[(3, "torch")]


def test_shares_cover_the_budget_exactly():
    for total, workers in ((100_000, 16), (7, 3), (2, 5)):
        parts = pickle_differential.shares(total, workers)
        assert sum(parts) == total and len(parts) == workers and max(parts) - min(parts) <= 1


def test_could_be_installed():
    assert could_be_installed("os") and could_be_installed("torch._utils") and could_be_installed("u")
    assert (
        not could_be_installed("posi|")
        and not could_be_installed("u.")
        and not could_be_installed("")
        and not could_be_installed("po\x07six")
    )


def _observe(tmp_path, loader, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with OracleWorker(loader) as worker:
        return worker.observe(path)


def test_a_failed_import_of_a_module_no_installed_module_is_named_like_needs_no_error(tmp_path):
    seen = _observe(tmp_path, "pickle", "model.pkl", b"cposi|\nsystem\n)R.")
    assert ("posi|", "system") in seen.globals and ("posi|", "system") in seen.unresolved
    assert oracle_verdict(seen) == []
    assert oracle_verdict(seen, exclude_unimportable=False)


def test_a_failed_import_of_an_identifier_module_still_needs_an_error(tmp_path):
    # It failed here, but a module of that name may be installed where the file is loaded.
    seen = _observe(tmp_path, "pickle", "model.pkl", b"cno_such_module_hfcheck\nrun\n)R.")
    assert ("no_such_module_hfcheck", "run") in seen.unresolved
    assert oracle_verdict(seen)


def test_after_a_proto_header_any_module_string_makes_a_pickle(tmp_path):
    # protocol 2: no text file starts with PROTO; __import__ takes any string
    (tmp_path / "model.pkl").write_bytes(b"\x80\x02cposi|\nsystem\n")
    assert hfcheck_errors(tmp_path)


def test_text_with_an_opcode_byte_first_is_still_no_pickle(tmp_path):
    (tmp_path / "b.py").write_bytes(b"class Foo:\n    pass\n")
    (tmp_path / "c.csv").write_bytes(b"city,pop\nParis,2\n")
    assert hfcheck_errors(tmp_path) == []
