"""A bounded, deterministic differential run: hfcheck's verdicts against the real loaders.

The long runs are fuzz/pickle_differential.py; this one keeps the harness honest in CI: it
must execute its whole budget on every loader, reach real loads (completed ones and ones the
property constrains), and then any disagreement it finds is a bug of #15.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("joblib")

from differential import FUZZ_LOADERS, DifferentialRun  # noqa: E402

BUDGET = 120  # executions per loader: ~60 s on 2 shared cores with worker start-up


@pytest.fixture(scope="module")
def bounded_run(tmp_path_factory):
    run = DifferentialRun(tmp_path_factory.mktemp("differential"), rng_seed=15)
    try:
        for loader in FUZZ_LOADERS:
            run.run(loader, BUDGET)
    finally:
        run.close()
    return run.stats


def test_run_executed_its_budget_on_every_loader(bounded_run):
    assert bounded_run.executions == {loader: BUDGET for loader in FUZZ_LOADERS}
    for loader in FUZZ_LOADERS:
        # Mutants that still load, and mutants the property constrains: a run that only fed
        # garbage to the loaders, or never reached a global, would check nothing.
        assert bounded_run.completed_loads[loader] >= 3, loader
        assert bounded_run.oracle_dangerous[loader] >= 5, loader
    assert bounded_run.hfcheck_calls > 0
    assert sum(bounded_run.restarts.values()) <= 2, "oracle workers crashed or timed out"


def test_no_disagreement_between_hfcheck_and_the_loaders(bounded_run):
    found = [(d.loader, d.recipe, d.oracle) for d in bounded_run.disagreements]
    assert found == []
