"""The command line as users and CI run it: formats, exit codes, settings, targets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, invoke

BROKEN = FIXTURES / "tiny-llama-broken-config"
CLEAN = FIXTURES / "tiny-llama"


def run(*args, env=None):
    return invoke(*args, env=env)


def test_clean_fixture_exits_0():
    result = run(CLEAN)
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_broken_config_exits_1_in_every_format(fmt):
    result = run(BROKEN, "--format", fmt)
    assert result.exit_code == 1
    assert "CFG002" in result.output


def test_json_contract():
    data = json.loads(run(BROKEN, "--format", "json").output)
    assert set(data) == {"version", "targets", "summary"}
    assert data["summary"] == {"error": 1, "warning": 0, "info": 0}
    [target] = data["targets"]
    assert target["path"] == str(BROKEN)
    [finding] = target["findings"]
    assert set(finding) == {"code", "severity", "concern", "message", "path", "line", "fix", "unit"}
    assert finding["unit"] == "."
    assert [(u["path"], u["kind"]) for u in target["units"]] == [(".", "transformers")]
    assert (finding["code"], finding["concern"], finding["path"], finding["line"]) == ("CFG002", "config", "config.json", 23)
    assert finding["fix"]


def test_github_annotations():
    out = run(BROKEN, "--format", "github").output.strip()
    assert out.startswith("::error file=")
    assert ",line=23,title=CFG002 (config)::config.json is not valid JSON" in out
    assert "\n" not in out  # multi-line messages are escaped


def test_text_groups_by_file_and_is_plain_when_piped():
    out = run(BROKEN).output
    assert "config.json\n" in out and "\x1b[" not in out
    assert out.rstrip().endswith("Found 1 error, 0 warnings, 0 info in 1 target.")


def test_output_file(tmp_path):
    target = tmp_path / "report.json"
    result = run(BROKEN, "--format", "json", "--output", target)
    assert result.exit_code == 1 and result.output == ""
    assert json.loads(target.read_text())["summary"]["error"] == 1


def test_fail_on_and_select_ignore(tiny_llama):
    (tiny_llama / "extra.json").write_text('{"a": 1, "a": 2}')
    assert run(tiny_llama).exit_code == 0  # a warning does not fail by default
    assert run(tiny_llama, "--fail-on", "warning").exit_code == 1
    assert run(tiny_llama, "--fail-on", "warning", "--ignore", "CFG004").exit_code == 0
    assert run(tiny_llama, "--fail-on", "warning", "--select", "HFC").exit_code == 0
    assert run(tiny_llama, "--fail-on", "warning", "--select", "config").exit_code == 1
    assert run(BROKEN, "--fail-on", "never").exit_code == 0


def test_settings_from_pyproject_and_yaml(tiny_llama):
    (tiny_llama / "extra.json").write_text("{,}")
    (tiny_llama / "pyproject.toml").write_text('[tool.hfcheck]\nignore = ["CFG002"]\n')
    assert run(tiny_llama).exit_code == 0
    (tiny_llama / "pyproject.toml").unlink()
    (tiny_llama / ".hfcheck.yaml").write_text("per_path_ignores:\n  'extra.json': [CFG002]\n")
    assert run(tiny_llama).exit_code == 0
    (tiny_llama / ".hfcheck.yaml").write_text("severity:\n  CFG002: info\nfail_on: info\n")
    result = run(tiny_llama, "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.output)["summary"] == {"error": 0, "warning": 0, "info": 1}


def test_unknown_setting_is_a_finding(tiny_llama):
    (tiny_llama / ".hfcheck.yaml").write_text("ignroe: [CFG002]\ndeploy:\n  gpus: two\n  vram: 3\n")
    data = json.loads(run(tiny_llama, "--format", "json").output)
    messages = [f["message"] for f in data["targets"][0]["findings"] if f["code"] == "HFC002"]
    assert any("unknown setting 'ignroe'" in m for m in messages)
    assert any("deploy.gpus must be a positive integer" in m for m in messages)
    assert any("unknown deploy setting 'vram'" in m for m in messages)


def test_cli_flags_override_the_file(tiny_llama):
    (tiny_llama / "extra.json").write_text("{,}")
    (tiny_llama / ".hfcheck.yaml").write_text("fail_on: never\n")
    assert run(tiny_llama).exit_code == 0
    assert run(tiny_llama, "--fail-on", "error").exit_code == 1


def test_baseline_adopts_existing_findings(tiny_llama, tmp_path):
    (tiny_llama / "extra.json").write_text("{,}")
    baseline = tmp_path / "baseline.json"
    assert run(tiny_llama, "--write-baseline", baseline).exit_code == 0
    assert run(tiny_llama, "--baseline", baseline).exit_code == 0
    (tiny_llama / "other.json").write_text("[,]")
    result = run(tiny_llama, "--baseline", baseline)
    assert result.exit_code == 1 and "other.json" in result.output and "extra.json" not in result.output


def test_file_targets_map_to_their_repo_root(tiny_llama, tmp_path):
    (tiny_llama / "config.json").write_text("{")
    result = run(tiny_llama / "config.json", tiny_llama / "README.md", "--format", "json")
    data = json.loads(result.output)
    assert len(data["targets"]) == 1  # one root, checked once
    assert [f["code"] for f in data["targets"][0]["findings"]] == ["CFG002"]


def file_target_from(cwd: Path, target: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "hfcheck", target, "--format", "json", "--no-cache"], capture_output=True, text=True, cwd=cwd
    )
    return json.loads(done.stdout)


def test_a_file_under_a_folder_that_is_no_project_is_not_checked_with_that_folder(tmp_path):
    """Run from a home or temporary folder (no git, no model, no deployment file there), a
    named file is checked with its own model folder, not with everything under the cwd."""
    shutil.copytree(CLEAN, tmp_path / "downloads" / "model")
    (tmp_path / "notes.json").write_text("{,}")  # would be CFG002 if the cwd were walked
    report = file_target_from(tmp_path, "downloads/model/config.json")
    assert (tmp_path / report["targets"][0]["path"]).resolve() == (tmp_path / "downloads" / "model").resolve()
    assert not any(f["path"].endswith("notes.json") for t in report["targets"] for f in t["findings"])


def test_a_file_under_a_project_folder_is_checked_with_the_project(tmp_path):
    """A service laid out without git (Dockerfile and model/ in the cwd) keeps its links."""
    shutil.copytree(CLEAN, tmp_path / "model")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY model /model\n")
    report = file_target_from(tmp_path, "model/config.json")
    assert (tmp_path / report["targets"][0]["path"]).resolve() == tmp_path.resolve()


def make_cache_repo(cache: Path, name: str, revision: str, source: Path = CLEAN) -> Path:
    """A repo laid out as huggingface_hub caches it: snapshot files link into blobs/."""
    repo = cache / f"models--org--{name}"
    blobs, snapshot = repo / "blobs", repo / "snapshots" / revision
    blobs.mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True)
    for file in source.iterdir():
        blob = blobs / f"{revision}-{file.name}"
        blob.write_bytes(file.read_bytes())
        (snapshot / file.name).symlink_to(Path("../../blobs") / blob.name)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    return repo


def test_hf_cache_snapshot_with_blob_links(tmp_path):
    repo = make_cache_repo(tmp_path / "hub", "tiny", "abc123")
    snapshot = repo / "snapshots" / "abc123"
    for target in (snapshot, repo):
        result = run(target)
        assert result.exit_code == 0, result.output


def test_hf_cache_flag_checks_every_snapshot_in_parallel(tmp_path):
    cache = tmp_path / "hub"
    for index in range(4):
        make_cache_repo(cache, f"model{index}", f"{index:040x}", source=BROKEN if index == 2 else CLEAN)

    def hf_cache_run(*args):
        # a fresh process: huggingface_hub reads HF_HUB_CACHE when it is imported
        env = {**os.environ, "HF_HUB_CACHE": str(cache)}
        return subprocess.run(
            [sys.executable, "-m", "hfcheck", "--hf-cache", "--format", "json", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )

    parallel = hf_cache_run("--jobs", "2")
    data = json.loads(parallel.stdout)
    assert [t["path"] for t in data["targets"]] == [f"org/model{i}@{i:040x}" for i in range(4)]
    assert [len(t["findings"]) for t in data["targets"]] == [0, 0, 1, 0]
    assert parallel.returncode == 1
    assert json.loads(hf_cache_run().stdout) == data


def test_missing_target_is_a_usage_error():
    result = run("no/such/folder/here")
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_rules_and_explain():
    listing = run("rules").output
    assert "CFG002" in listing and "invalid-json" in listing
    explained = run("explain", "cfg002")
    assert explained.exit_code == 0 and "Why:" in explained.output and "Fix:" in explained.output
    assert run("explain", "XYZ999").exit_code == 2


def test_every_rule_is_documented():
    from hfcheck.registry import all_rules, doc_section

    for rule in all_rules():
        assert doc_section(rule.doc, "Why"), rule.code
        assert rule.default_fix or rule.code.startswith("SMK"), rule.code


def test_version_and_no_traceback_on_internal_error(tiny_llama):
    version = subprocess.run([sys.executable, "-m", "hfcheck", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("hfcheck ")
    bad = tiny_llama / "bad.yaml"
    bad.write_text("select: [\n")
    result = subprocess.run([sys.executable, "-m", "hfcheck", str(tiny_llama), "--config", str(bad)], capture_output=True, text=True)
    assert "Traceback" not in result.stderr + result.stdout
    assert "HFC002" in result.stdout and result.returncode == 1


def test_colour_only_on_a_terminal(tiny_llama):
    (tiny_llama / "config.json").write_text("{")
    script = "import pty, sys; sys.exit(pty.spawn([sys.executable, '-m', 'hfcheck', sys.argv[1]]) >> 8)"
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    coloured = subprocess.run([sys.executable, "-c", script, str(tiny_llama)], capture_output=True, text=True, env=env)
    plain = subprocess.run([sys.executable, "-c", script, str(tiny_llama)], capture_output=True, text=True, env={**env, "NO_COLOR": "1"})
    assert "\x1b[" in coloured.stdout
    assert "\x1b[" not in plain.stdout and "CFG002" in plain.stdout
