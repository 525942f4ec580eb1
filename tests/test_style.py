"""Style is enforced, not hoped for: the tree is `ruff format`-clean and passes the lint
selection of pyproject.toml (bugbear, blind `except`, `try/except/pass`, complexity), with the
ruff that the test extra pins."""

from __future__ import annotations

import subprocess

import pytest
from conftest import ROOT

ruff = pytest.importorskip("ruff", reason="ruff comes with the test extra (pip install -e '.[test]')")


def run_ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ruff.find_ruff_bin(), *args, "."], capture_output=True, text=True, cwd=ROOT)


def test_the_tree_is_formatted():
    done = run_ruff("format", "--check")
    assert done.returncode == 0, f"run `ruff format .`:\n{done.stdout}{done.stderr}"


def test_the_lint_selection_passes():
    done = run_ruff("check", "--output-format", "concise")
    assert done.returncode == 0, f"ruff check:\n{done.stdout}{done.stderr}"
