"""The GitHub Action: action.yml's metadata, its shell script run end to end with the
Actions environment on a fixture repo (SARIF validated against the 2.1.0 schema,
annotations, job summary, outputs), and the documented workflow and pre-commit snippets,
which are the files under docs/examples/ that the README quotes verbatim."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from conftest import FIXTURES, ROOT

ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
WORKFLOW_FILE = ROOT / "docs" / "examples" / "hfcheck-workflow.yml"
PRECOMMIT_FILE = ROOT / "docs" / "examples" / "pre-commit-config.yaml"
WORKFLOW = yaml.safe_load(WORKFLOW_FILE.read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")


def sarif_schema():
    # the shared/ folder beside the repository root (CI has a copy there; a worktree's is one level up)
    for base in (ROOT.parent, ROOT.parent.parent):
        path = base / "shared" / "schemas" / "sarif-schema-2.1.0.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise AssertionError("shared/schemas/sarif-schema-2.1.0.json is missing beside the repository")


def test_action_metadata_has_the_required_keys():
    # action metadata syntax: name, description and runs are required; composite runs need steps with shell
    assert {"name", "description", "runs"} <= set(ACTION)
    assert ACTION["runs"]["using"] == "composite"
    for step in ACTION["runs"]["steps"]:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step["shell"] == "bash"
    for name, spec in ACTION["inputs"].items():
        assert "description" in spec and isinstance(spec.get("default", ""), str), name
    assert {"targets", "format", "fail-on", "select", "ignore", "smoke"} <= set(ACTION["inputs"])
    assert all("value" in spec for spec in ACTION["outputs"].values())
    uses = [step["uses"] for step in ACTION["runs"]["steps"] if "uses" in step]
    assert uses == ["github/codeql-action/upload-sarif@v3"]
    # every input the script reads is passed by the step that runs it
    script = (ROOT / "action" / "run.sh").read_text(encoding="utf-8")
    [check] = [s for s in ACTION["runs"]["steps"] if s.get("id") == "check"]
    assert set(re.findall(r"INPUT_[A-Z_]+", script)) <= set(check["env"])


def workflow_inputs() -> dict:
    [step] = [s for s in WORKFLOW["jobs"]["hfcheck"]["steps"] if s["uses"].startswith("hfcheck/hfcheck@")]
    return step["with"]


def run_action(workspace, runner, inputs: dict):
    env = {
        "PATH": f"{ROOT / '.venv-missing'}:{__import__('os').environ['PATH']}",
        "HOME": str(runner),
        "HFCHECK_CACHE_DIR": __import__("os").environ["HFCHECK_CACHE_DIR"],
        "HFCHECK_PYTHON": sys.executable,
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(runner / "output"),
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
        "RUNNER_TEMP": str(runner),
        **{f"INPUT_{key.upper().replace('-', '_')}": str(value) for key, value in inputs.items()},
    }
    for name in ("output", "summary.md"):
        (runner / name).write_text("")
    result = subprocess.run([str(ROOT / "action" / "run.sh")], cwd=workspace, env=env, capture_output=True, text=True, timeout=300)
    outputs = dict(line.split("=", 1) for line in (runner / "output").read_text().splitlines())
    return result, outputs, (runner / "summary.md").read_text()


@pytest.fixture
def workspace(tmp_path):
    """A checked-out model repo as the workflow sees it (the broken fixture), and the runner's temp folder."""
    root = tmp_path / "workspace"
    shutil.copytree(FIXTURES / "tiny-llama-broken-config", root)
    runner = tmp_path / "runner"
    runner.mkdir()
    return root, runner


def test_workflow_inputs_end_to_end_sarif(workspace):
    root, runner = workspace
    result, outputs, summary = run_action(root, runner, workflow_inputs())
    assert result.returncode == 0, result.stderr  # the script never fails: the action's last step exits with the code
    assert outputs["exit-code"] == "1"
    sarif = json.loads((runner / "hfcheck.sarif").read_text())
    assert outputs["sarif"] == str(runner / "hfcheck.sarif")
    import jsonschema

    jsonschema.validate(sarif, sarif_schema())
    [finding] = sarif["runs"][0]["results"]
    assert sarif["runs"][0]["tool"]["driver"]["informationUri"] == "https://github.com/hfcheck/hfcheck"
    assert finding["ruleId"] == "CFG002"
    location = finding["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "config.json" and location["region"]["startLine"] == 23
    assert "::error" not in result.stdout  # SARIF was asked: no annotations
    assert "| error | CFG002 | . | config.json | 23 |" in summary
    assert summary.startswith("## hfcheck ") and "failed" in summary.splitlines()[0]


def test_annotations_and_passing_summary(workspace):
    root, runner = workspace
    result, outputs, summary = run_action(root, runner, {"targets": ".", "format": "github", "fail-on": "error"})
    assert outputs == {"exit-code": "1", "sarif": ""}
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 1 and annotations[0].startswith("::error file=config.json,line=23,title=CFG002")
    assert not (runner / "hfcheck.sarif").exists()
    clean, outputs, summary = run_action(root, runner, {"targets": ".", "format": "github", "ignore": "CFG"})
    assert outputs["exit-code"] == "0" and "passed" in summary and "No findings." in summary


def test_bad_format_input_fails_loudly(workspace):
    root, runner = workspace
    result, _, _ = run_action(root, runner, {"format": "xml"})
    assert result.returncode == 2 and "format must be sarif or github" in result.stdout


def _git(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def _revision_has(sha: str, path: str) -> str:
    if shutil.which("git") is None or _git("rev-parse", "--git-dir").returncode != 0:
        pytest.skip("not a git checkout: the pinned revisions cannot be looked up")
    shown = _git("show", f"{sha}:{path}")
    assert shown.returncode == 0, f"{sha} has no {path} in this repository's history"
    return shown.stdout


def test_workflow_is_complete_and_pins_a_real_revision():
    assert WORKFLOW["permissions"]["security-events"] == "write"
    steps = WORKFLOW["jobs"]["hfcheck"]["steps"]
    used = [step["uses"].split("@")[0] for step in steps]
    assert used == ["actions/checkout", "actions/setup-python", "actions/cache", "hfcheck/hfcheck"]
    assert steps[1]["with"]["python-version"] == "3.11"
    assert "~/.cache/hfcheck" in steps[2]["with"]["path"]
    sha = steps[3]["uses"].split("@")[1]
    assert re.fullmatch(r"[0-9a-f]{40}", sha)
    pinned = yaml.safe_load(_revision_has(sha, "action.yml"))
    assert set(workflow_inputs()) <= set(pinned["inputs"])


def test_pre_commit_snippet_pins_a_real_revision():
    [repo] = yaml.safe_load(PRECOMMIT_FILE.read_text(encoding="utf-8"))["repos"]
    assert re.fullmatch(r"[0-9a-f]{40}", repo["rev"])
    hooks = yaml.safe_load(_revision_has(repo["rev"], ".pre-commit-hooks.yaml"))
    assert {hook["id"] for hook in repo["hooks"]} <= {hook["id"] for hook in hooks}


@pytest.mark.parametrize("snippet", [WORKFLOW_FILE, PRECOMMIT_FILE])
def test_readme_quotes_the_tested_snippets(snippet):
    assert f"```yaml\n{snippet.read_text(encoding='utf-8')}```" in README, f"README must quote {snippet.name} verbatim"
