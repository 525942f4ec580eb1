"""The real pre-commit, running this working tree's hook on a temporary git repository
that holds a fixture model: it passes on the clean model and fails on a broken one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURES, ROOT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture(scope="module")
def precommit_home(tmp_path_factory):
    # One hook environment for both runs: pre-commit installs hfcheck into it once.
    return tmp_path_factory.mktemp("pre-commit-home")


def try_repo(repo, home):
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "hfcheck", "--all-files", "--color", "never"],
        cwd=repo, capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip


@pytest.mark.parametrize("fixture, passes", [("tiny-llama", True), ("tiny-llama-broken-config", False)])
def test_pre_commit_try_repo(tmp_path, precommit_home, fixture, passes):
    repo = tmp_path / "model"
    shutil.copytree(FIXTURES / fixture, repo)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    result = try_repo(repo, precommit_home)
    output = result.stdout + result.stderr
    if passes:
        assert result.returncode == 0, output
        assert "Passed" in output
    else:
        assert result.returncode == 1, output
        assert "Failed" in output and "CFG002" in output


def run_hook_on(repo, home, *files):
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), "hfcheck", "--files", *files, "--color", "never", "--verbose"],
        cwd=repo, capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip


def test_sentence_transformers_module_file_is_checked_as_its_model(tmp_path, precommit_home, minilm):
    """A change to the real all-MiniLM-L6-v2's 1_Pooling/config.json checks the model it
    belongs to, once: not 1_Pooling/ as a repo of its own (no CRD001/LIC001/CFG003)."""
    repo = shutil.copytree(minilm, tmp_path / "embedder")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    result = run_hook_on(repo, precommit_home, "1_Pooling/config.json", "modules.json")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert ".: sentence-transformers bert" in output
    assert not any(code in output for code in ("CRD001", "LIC001", "CFG003"))
    (repo / "1_Pooling" / "config.json").write_text('{"word_embedding_dimension": 384,}')
    git(repo, "add", "-A")
    broken = run_hook_on(repo, precommit_home, "1_Pooling/config.json")
    assert broken.returncode == 1 and "1_Pooling/config.json" in broken.stdout + broken.stderr, broken.stdout + broken.stderr


def test_service_requirements_change_checks_deployment_and_model(tmp_path, precommit_home):
    repo = shutil.copytree(FIXTURES / "service-repo", tmp_path / "service")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    result = run_hook_on(repo, precommit_home, "requirements.txt")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "model: transformers llama" in output and "serve.py + Dockerfile -> model" in output
    assert "README.md" not in output
