"""The README is what users read first: its rules table and quickstart must be true."""

from __future__ import annotations

import re

from conftest import ROOT
from hfcheck.cli import rules_markdown
from hfcheck.registry import all_rules

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_rules_table_is_current():
    table = re.search(r"<!-- rules:start -->\n(.*?)<!-- rules:end -->", README, re.S).group(1)
    assert table == rules_markdown(all_rules()), "README rules table is stale: run python scripts/update_readme.py"


def test_benchmark_sections_are_the_scripts_output():
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "scripts" / "update_readme.py")
    update_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(update_readme)
    for name, generated in update_readme.GENERATED.items():
        section = re.search(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", README, re.S)
        assert section, f"README has no generated {name} section"
        assert section.group(1) == generated(), (
            f"README {name} section differs from its saved benchmark report: run python scripts/update_readme.py"
        )


def quickstart_lines() -> list[str]:
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", README, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_quickstart_has_two_lines_and_ci_runs_the_test_line():
    install_and_run, install_and_test = quickstart_lines()
    assert "hfcheck fixtures/repos/" in install_and_run
    assert install_and_test.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install_and_test in ci, ".ci/run must run exactly the README's test line"
