"""`hfcheck org/name[@rev]` against a local stand-in for the Hub: same findings as the
local folder, only safetensors headers fetched, revision reported, offline reuse, clear
errors, and pickles fetched only on request."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
from conftest import FIXTURES
from hubserver import hub, hub_env, json_report, run_hfcheck  # noqa: F401  (fixtures)
from safetensors.numpy import save_file

from hfcheck.hub import HEADER_PROBE_BYTES, parse_hub_name
from hfcheck.repo import RepoView

TINY = FIXTURES / "tiny-llama"


def finding_keys(report):
    return sorted((f["code"], f["path"], f["line"], f["message"]) for t in report["targets"] for f in t["findings"])


def header_length(path) -> int:
    with open(path, "rb") as stream:
        return struct.unpack("<Q", stream.read(8))[0]


def view_root(env, repo_id, sha, variant=""):
    from pathlib import Path

    return Path(env["HF_HOME"]) / "hfcheck" / ("models--" + repo_id.replace("/", "--")) / "views" / f"{sha}{variant}" / "repo"


def test_repo_ids_are_parsed_and_paths_are_not():
    assert parse_hub_name("org/name").repo_id == "org/name"
    assert parse_hub_name("org/name@v1.0").revision == "v1.0"
    assert parse_hub_name("hf://org/name@refs/pr/3").revision == "refs/pr/3"
    for not_an_id in ("name", "a/b/c", "org/../x", "org/name@", "org/name@a b"):
        assert parse_hub_name(not_an_id) is None


@pytest.mark.parametrize("fixture", ["tiny-llama", "tiny-llama-broken-config"])
def test_hub_target_gives_the_findings_of_the_local_folder(hub, hub_env, fixture):
    hub.add("hfcheck/model", FIXTURES / fixture)
    local = json_report(run_hfcheck(hub_env, FIXTURES / fixture, "--format", "json"))
    remote = json_report(run_hfcheck(hub_env, "hfcheck/model", "--format", "json"))
    assert finding_keys(remote) == finding_keys(local)
    assert remote["targets"][0]["path"] == "hfcheck/model"


def test_view_reads_the_real_safetensors_header_without_the_data(hub, hub_env):
    sha = hub.add("hfcheck/tiny", TINY)
    assert run_hfcheck(hub_env, "hfcheck/tiny").returncode == 0
    root = view_root(hub_env, "hfcheck/tiny", sha)
    size = (TINY / "model.safetensors").stat().st_size
    served = hub.bytes_sent["model.safetensors"]
    assert 8 + header_length(TINY / "model.safetensors") <= served <= HEADER_PROBE_BYTES < size
    assert all(rng and rng.startswith("bytes=0-") for method, path, rng in hub.requests if path.endswith("model.safetensors"))
    remote, local = RepoView(root).safetensors("model.safetensors"), RepoView(TINY).safetensors("model.safetensors")
    assert RepoView(root).size("model.safetensors") == size
    assert remote.ok and remote.tensors == local.tensors
    # small files are real copies; everything after the header is a hole
    assert (root / "config.json").read_bytes() == (TINY / "config.json").read_bytes()
    data = (root / "model.safetensors").read_bytes()
    assert data[8 + remote.header_length :].count(0) == size - 8 - remote.header_length


def test_a_large_header_takes_a_second_range_request_and_nothing_more(hub, hub_env, tmp_path):
    repo = shutil.copytree(TINY, tmp_path / "big", ignore=shutil.ignore_patterns("model.safetensors"))
    # 3000 tensors: a ~250 kB header, over the first 100 kB probe; 12 MB of data
    tensors = {f"layers.{i}.weight": np.full((1000,), i, dtype=np.float32) for i in range(3000)}
    save_file(tensors, str(repo / "model.safetensors"))
    size = (repo / "model.safetensors").stat().st_size
    length = header_length(repo / "model.safetensors")
    assert length > HEADER_PROBE_BYTES
    sha = hub.add("hfcheck/big", repo)
    result = run_hfcheck(hub_env, "hfcheck/big", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    assert hub.bytes_sent["model.safetensors"] == 8 + length < size // 40
    header = RepoView(view_root(hub_env, "hfcheck/big", sha)).safetensors("model.safetensors")
    assert header.ok and len(header.tensors) == 3000


def test_a_truncated_weights_file_on_the_hub_is_caught_from_its_header(hub, hub_env, tmp_path):
    repo = shutil.copytree(TINY, tmp_path / "cut")
    data = (repo / "model.safetensors").read_bytes()
    (repo / "model.safetensors").write_bytes(data[: len(data) - 1000])
    sha = hub.add("hfcheck/cut", repo)
    assert run_hfcheck(hub_env, "hfcheck/cut").returncode in (0, 1)
    header = RepoView(view_root(hub_env, "hfcheck/cut", sha)).safetensors("model.safetensors")
    assert any("truncated" in problem for problem in header.problems)


def test_revision_is_reported_in_json_sarif_and_text(hub, hub_env):
    sha = hub.add("hfcheck/tiny", TINY)
    assert json_report(run_hfcheck(hub_env, "hfcheck/tiny", "--format", "json"))["targets"][0]["revision"] == sha
    sarif = json.loads(run_hfcheck(hub_env, "hfcheck/tiny", "--format", "sarif").stdout)
    assert sarif["runs"][0]["versionControlProvenance"][0]["revisionId"] == sha
    assert f"hfcheck/tiny @ {sha}" in run_hfcheck(hub_env, "hfcheck/tiny").stdout


def test_explicit_revisions_and_the_hf_scheme(hub, hub_env, tmp_path):
    old = hub.add("hfcheck/tiny", FIXTURES / "tiny-llama-broken-config", branch="old")
    new = hub.add("hfcheck/tiny", TINY)
    assert json_report(run_hfcheck(hub_env, "hfcheck/tiny@old", "--format", "json"))["targets"][0]["revision"] == old
    report = json_report(run_hfcheck(hub_env, f"hf://hfcheck/tiny@{new}", "--format", "json"))
    assert report["targets"][0]["revision"] == new and report["summary"]["error"] == 0
    # a commit never changes: its view is reused without asking the Hub anything
    hub.requests.clear()
    assert run_hfcheck(hub_env, f"hfcheck/tiny@{new}").returncode == 0
    assert hub.requests == []


def test_offline_with_a_warm_cache_needs_no_network(hub, hub_env):
    sha = hub.add("hfcheck/tiny", FIXTURES / "tiny-llama-broken-config")
    online = json_report(run_hfcheck(hub_env, "hfcheck/tiny", "--format", "json"))
    hub.stop()
    offline_env = {**hub_env, "HF_HUB_OFFLINE": "1"}
    offline = json_report(run_hfcheck(offline_env, "hfcheck/tiny", "--format", "json"))
    assert finding_keys(offline) == finding_keys(online) and finding_keys(online)
    assert offline["targets"][0]["revision"] == sha
    cold = run_hfcheck(offline_env, "hfcheck/other")
    assert cold.returncode == 2 and "HF_HUB_OFFLINE" in cold.stderr and len(cold.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("nobody/nothing", "nobody/nothing: no such file or folder here; also tried as a Hub model id: no model repo on"),
        ("hfcheck/tiny@no-such-branch", "no revision 'no-such-branch'"),
        ("hf://not-an-id", "not a Hub model id"),
    ],
)
def test_unknown_repos_and_revisions_are_one_line_usage_errors(hub, hub_env, target, words):
    hub.add("hfcheck/tiny", TINY)
    result = run_hfcheck(hub_env, target)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_hub_is_a_one_line_usage_error(hub, hub_env):
    hub.stop()
    result = run_hfcheck(hub_env, "hfcheck/tiny")
    assert result.returncode == 2 and "cannot reach" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_local_folder_wins_over_a_hub_id_spelt_the_same(hub, hub_env, tmp_path):
    hub.add("hfcheck/tiny", TINY)
    shutil.copytree(FIXTURES / "tiny-llama-broken-config", tmp_path / "hfcheck" / "tiny")
    report = json_report(run_hfcheck(hub_env, "hfcheck/tiny", "--format", "json", cwd=tmp_path))
    assert "revision" not in report["targets"][0] and report["summary"]["error"] == 1
    assert hub.requests == []


def _repo_with_pickle(tmp_path):
    torch = pytest.importorskip("torch")
    repo = shutil.copytree(TINY, tmp_path / "with-pickle")
    torch.save({"lm_head.weight": torch.zeros(4, 4)}, repo / "pytorch_model.bin")
    (repo / "model.onnx").write_bytes(b"\x08\x07" + bytes(300))  # never fetched, never parsed
    return repo


def test_pickles_are_not_downloaded_but_reported(hub, hub_env, tmp_path):
    repo = _repo_with_pickle(tmp_path)
    sha = hub.add("hfcheck/pickled", repo)
    report = json_report(run_hfcheck(hub_env, "hfcheck/pickled", "--format", "json"))
    by_code = {f["code"]: f for f in report["targets"][0]["findings"]}
    assert by_code["SEC950"]["path"] == "pytorch_model.bin" and "not downloaded" in by_code["SEC950"]["message"]
    assert by_code["SEC950"]["severity"] == "info" and "--download-pickles" in by_code["SEC950"]["fix"]
    assert by_code["WGT950"]["path"] == "model.onnx"
    assert hub.bytes_sent["pytorch_model.bin"] == 0 and hub.bytes_sent["model.onnx"] == 0
    # present in the view with its true size, as a hole, so presence rules see it
    view = RepoView(view_root(hub_env, "hfcheck/pickled", sha))
    assert view.size("pytorch_model.bin") == (repo / "pytorch_model.bin").stat().st_size


def test_download_pickles_fetches_them(hub, hub_env, tmp_path):
    repo = _repo_with_pickle(tmp_path)
    sha = hub.add("hfcheck/pickled", repo)
    report = json_report(run_hfcheck(hub_env, "hfcheck/pickled", "--download-pickles", "--format", "json"))
    assert "SEC950" not in {f["code"] for f in report["targets"][0]["findings"]}
    assert hub.bytes_sent["pytorch_model.bin"] == (repo / "pytorch_model.bin").stat().st_size
    fetched = view_root(hub_env, "hfcheck/pickled", sha, "+pickles") / "pytorch_model.bin"
    assert fetched.read_bytes() == (repo / "pytorch_model.bin").read_bytes()


def test_local_runs_never_import_huggingface_hub(tmp_path):
    probe = "import sys\nfrom hfcheck.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\nprint('huggingface_hub' in sys.modules)"
    for target in (TINY, tmp_path / "missing"):
        result = subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True, text=True)
        assert result.stdout.strip().endswith("False"), result.stderr


def test_smoke_on_a_hub_target_loads_the_real_weights(hub, hub_env, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    hub.add("hfcheck/tiny", TINY)
    report = json_report(run_hfcheck(hub_env, "hfcheck/tiny", "--smoke", "--device", "cpu", "--format", "json"))
    [measurements] = [f for f in report["targets"][0]["findings"] if f["code"] == "SMK011"]
    assert "tokens/s" in measurements["message"]
    # The load read the real tensors from the HF cache, not the static view's holes.
    from pathlib import Path

    [loaded] = Path(hub_env["HF_HUB_CACHE"]).glob("models--hfcheck--tiny/snapshots/*/model.safetensors")
    assert loaded.read_bytes() == (TINY / "model.safetensors").read_bytes()
    assert hub.bytes_sent["model.safetensors"] >= loaded.stat().st_size
    assert [f["code"] for f in report["targets"][0]["findings"] if f["severity"] == "error"] == []


def test_smoke_on_a_hub_target_with_unscanned_pickles_is_refused(hub, hub_env, tmp_path):
    pytest.importorskip("torch")
    repo = tmp_path / "repo"
    shutil.copytree(TINY, repo)
    (repo / "model.safetensors").unlink()
    (repo / "pytorch_model.bin").write_bytes(b"\x80\x04K\x01.")
    hub.add("hfcheck/pickled", repo)
    result = run_hfcheck(hub_env, "hfcheck/pickled", "--smoke", "--device", "cpu", "--format", "json")
    [refusal] = [f for f in json_report(result)["targets"][0]["findings"] if f["code"] == "SMK002"]
    assert "--download-pickles" in refusal["message"] and hub.bytes_sent["pytorch_model.bin"] == 0


def test_offline_uses_a_snapshot_already_in_the_standard_hf_cache(hub, hub_env, tmp_path):
    # The snapshot comes from huggingface_hub itself (as from_pretrained leaves it);
    # hfcheck's own view cache is empty, as on a machine that never ran hfcheck online.
    sha = hub.add("hfcheck/tiny", FIXTURES / "tiny-llama-broken-config")
    download = "from huggingface_hub import snapshot_download; print(snapshot_download('hfcheck/tiny'))"
    fetched = subprocess.run([sys.executable, "-c", download], env=hub_env, capture_output=True, text=True, timeout=120)
    assert fetched.returncode == 0, fetched.stderr
    online = json_report(run_hfcheck({**hub_env, "HFCHECK_CACHE": str(tmp_path / "views-online")}, "hfcheck/tiny", "--format", "json"))
    hub.stop()
    offline_env = {**hub_env, "HF_HUB_OFFLINE": "1", "HFCHECK_CACHE": str(tmp_path / "views-never-filled")}
    offline = json_report(run_hfcheck(offline_env, "hfcheck/tiny", "--format", "json"))
    assert finding_keys(offline) == finding_keys(online) and finding_keys(online)
    assert offline["targets"][0]["revision"] == sha
    assert not (tmp_path / "views-never-filled").exists() or not any((tmp_path / "views-never-filled").rglob("config.json"))
    at_commit = run_hfcheck(offline_env, f"hfcheck/tiny@{sha}", "--format", "json")
    assert finding_keys(json_report(at_commit)) == finding_keys(online)
