"""The `hfcheck` command (hfcheck.__main__.run) ends with os._exit: what it prints must
still be complete, and its exit status the CLI's."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import FIXTURES

REPO = FIXTURES / "tiny-llama"


def hfcheck(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hfcheck", *map(str, args)], capture_output=True, text=True, timeout=120)


def test_json_report_is_complete_and_status_is_the_clis():
    never = hfcheck(REPO, "--format", "json", "--fail-on", "never")
    assert never.returncode == 0
    assert json.loads(never.stdout)["targets"][0]["path"].endswith("tiny-llama")
    info = hfcheck(REPO, "--format", "json", "--fail-on", "info")
    findings = json.loads(info.stdout)["targets"][0]["findings"]
    assert info.returncode == (1 if findings else 0)


def test_usage_error_exits_2_with_its_message():
    result = hfcheck(REPO, "--format", "nonsense")
    assert result.returncode == 2
    assert "nonsense" in result.stderr


def test_version():
    result = hfcheck("--version")
    assert result.returncode == 0 and result.stdout.startswith("hfcheck ")


def test_report_to_a_file_is_written(tmp_path):
    out = tmp_path / "report.json"
    result = hfcheck(REPO, "--format", "json", "--fail-on", "never", "--output", out)
    assert result.returncode == 0
    assert json.loads(out.read_text())["targets"]
