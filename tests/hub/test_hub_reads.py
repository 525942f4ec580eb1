"""How a Hub target is read: through huggingface_hub's public API only (HfApi, hf_hub_download,
HfFileSystem range reads), so it behaves the same at the declared minimum and the latest
release. A 140 GB model costs header-sized reads; the stand-in Hub answers what that API
sends the way the Hub documents; every failure is one line, never a traceback."""

from __future__ import annotations

import importlib.util
import re
import shutil
import struct

import pytest
from conftest import FIXTURES, ROOT
from hubserver import hub, hub_env, json_report, run_hfcheck  # noqa: F401  (fixtures)

from hfcheck.hub import HEADER_PROBE_BYTES

TINY = FIXTURES / "tiny-llama"


def _sparse_70b():
    spec = importlib.util.spec_from_file_location("sparse_70b", ROOT / "benchmarks" / "sparse_70b.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def finding_keys(report):
    return sorted((f["code"], f["path"], f["line"], f["message"]) for t in report["targets"][0:1] for f in t["findings"])


def header_end(path) -> int:
    with open(path, "rb") as stream:
        return 8 + struct.unpack("<Q", stream.read(8))[0]


def test_a_141_gb_model_costs_only_its_headers(hub, hub_env, tmp_path):
    safetensors = pytest.importorskip("safetensors")
    sparse = _sparse_70b()
    repo = tmp_path / "llama-3-70b"
    apparent = sparse.write_sparse_repo(repo, sparse.LLAMA_3_70B, shards=30)
    assert apparent > 140e9
    sha = hub.add("meta/llama-3-70b", repo)
    remote = json_report(run_hfcheck(hub_env, "meta/llama-3-70b", "--format", "json"))
    local = json_report(run_hfcheck(hub_env, repo, "--format", "json"))
    assert finding_keys(remote) == finding_keys(local)

    shards = sorted(repo.glob("*.safetensors"))
    for shard in shards:
        sent, size = hub.bytes_sent[shard.name], shard.stat().st_size
        # the whole header, and at most the first probe beyond it
        assert header_end(shard) <= sent <= max(header_end(shard), min(size, HEADER_PROBE_BYTES)), shard.name
    weight_bytes = sum(hub.bytes_sent[s.name] for s in shards)
    assert weight_bytes <= len(shards) * HEADER_PROBE_BYTES < apparent / 40_000
    # every read of a shard was a bounded range: never an open-ended stream cut short
    reads = [rng for method, path, rng in hub.requests if method == "GET" and path.endswith(".safetensors")]
    assert reads and all(re.fullmatch(r"bytes=\d+-\d+", rng or "") for rng in reads)
    assert len(reads) <= 2 * len(shards)
    # the safetensors library itself reads the view's stubs as the real shards
    view = tmp_path / "hf-home" / "hfcheck" / "models--meta--llama-3-70b" / "views" / sha / "repo"
    for shard in shards[:3]:
        with safetensors.safe_open(str(view / shard.name), "np") as remote_file, safetensors.safe_open(str(shard), "np") as local_file:
            assert sorted(remote_file.keys()) == sorted(local_file.keys()) and remote_file.keys()


def test_the_stand_in_hub_answers_as_huggingface_hub_expects(hub, tmp_path):
    # The real client against the stand-in: file metadata from HEAD, paths-info, ranges.
    from huggingface_hub import HfApi, HfFileSystem, get_hf_file_metadata, hf_hub_url

    sha = hub.add("hfcheck/tiny", TINY)
    lfs = get_hf_file_metadata(hf_hub_url("hfcheck/tiny", "model.safetensors", revision="main", endpoint=hub.url))
    size = (TINY / "model.safetensors").stat().st_size
    assert lfs.commit_hash == sha and lfs.size == size and re.fullmatch(r"[0-9a-f]{64}", lfs.etag)
    plain = get_hf_file_metadata(hf_hub_url("hfcheck/tiny", "config.json", revision=sha, endpoint=hub.url))
    assert plain.commit_hash == sha and plain.size == (TINY / "config.json").stat().st_size and re.fullmatch(r"[0-9a-f]{40}", plain.etag)

    [info] = HfApi(endpoint=hub.url).get_paths_info("hfcheck/tiny", ["model.safetensors", "no-such-file"], revision=sha)
    assert info.path == "model.safetensors" and info.size == size and info.lfs is not None

    fs = HfFileSystem(endpoint=hub.url, skip_instance_cache=True)
    with fs.open(f"hfcheck/tiny@{sha}/model.safetensors", "rb", cache_type="none", block_size=1 << 10) as stream:
        stream.seek(size - 16)
        assert stream.read(16) == (TINY / "model.safetensors").read_bytes()[-16:]
    assert hub.requests[-1][2] == f"bytes={size - 16}-{size - 1}"


def test_range_edge_cases_follow_http(hub):
    import urllib.error
    import urllib.request

    hub.add("hfcheck/tiny", TINY)
    size = (TINY / "config.json").stat().st_size
    url = f"{hub.url}/hfcheck/tiny/resolve/main/config.json"
    tail = urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=-10"}))
    assert tail.status == 206 and tail.headers["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}" and len(tail.read()) == 10
    with pytest.raises(urllib.error.HTTPError) as past_the_end:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Range": f"bytes={size}-"}))
    assert past_the_end.value.code == 416 and past_the_end.value.headers["Content-Range"] == f"bytes */{size}"


def test_an_endpoint_that_ignores_ranges_is_a_one_line_error(hub, hub_env, tmp_path):
    repo = shutil.copytree(TINY, tmp_path / "repo")
    (repo / "model.safetensors").write_bytes((TINY / "model.safetensors").read_bytes() + bytes(3 * HEADER_PROBE_BYTES))
    hub.add("hfcheck/tiny", repo)
    hub.honour_ranges = False
    result = run_hfcheck(hub_env, "hfcheck/tiny")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("hfcheck: hfcheck/tiny@") and "model.safetensors: the endpoint ignored the byte range" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert hub.bytes_sent["model.safetensors"] == (repo / "model.safetensors").stat().st_size  # one shard's worth, then it stopped


@pytest.mark.parametrize("only_weights", [False, True], ids=["small-file-first", "header-read-first"])
def test_a_gated_repo_is_a_one_line_error(hub, hub_env, tmp_path, only_weights):
    repo = tmp_path / "gated"
    if only_weights:  # the first read is the safetensors header (HfFileSystem), not a download
        repo.mkdir()
        shutil.copy(TINY / "model.safetensors", repo / "model.safetensors")
    else:
        shutil.copytree(TINY, repo)
    hub.add("hfcheck/gated", repo)
    hub.gated.add("hfcheck/gated")
    result = run_hfcheck(hub_env, "hfcheck/gated")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("hfcheck: hfcheck/gated is gated on http://127.0.0.1:") and "HF_TOKEN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("withheld", ["config.json", "model.safetensors"])
def test_a_listed_file_that_answers_404_is_a_one_line_error(hub, hub_env, withheld):
    hub.add("hfcheck/tiny", TINY)
    hub.withheld.add(withheld)
    result = run_hfcheck(hub_env, "hfcheck/tiny")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"hfcheck: hfcheck/tiny: could not download {withheld}, which the Hub lists" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_hub_that_goes_away_mid_run_is_a_one_line_error(hub, hub_env):
    hub.add("hfcheck/tiny", TINY)
    hub.hung_up.add("config.json")  # listed, then the connection drops when it is fetched
    result = run_hfcheck(hub_env, "hfcheck/tiny")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("hfcheck: hfcheck/tiny: cannot reach http://127.0.0.1:") and "config.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_headers_of_files_in_folders_with_unusual_names_are_read(hub, hub_env, tmp_path):
    # HfFileSystem takes a path string ("org/name@rev/folder/file"): names with spaces,
    # '#', '@', '%' or non-ASCII letters must reach the same file on the Hub.
    repo = shutil.copytree(TINY, tmp_path / "repo")
    odd = ["unet/diffusion model #1.safetensors", "text encoder@2/modèle 100%.safetensors"]
    for rel in odd:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(TINY / "model.safetensors", repo / rel)
    sha = hub.add("hfcheck/odd", repo)
    result = run_hfcheck(hub_env, "hfcheck/odd", "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    view = tmp_path / "hf-home" / "hfcheck" / "models--hfcheck--odd" / "views" / sha / "repo"
    end = header_end(TINY / "model.safetensors")
    for rel in odd:
        assert 0 < hub.bytes_sent[rel] <= HEADER_PROBE_BYTES
        assert (view / rel).stat().st_size == (TINY / "model.safetensors").stat().st_size
        assert (view / rel).read_bytes()[:end] == (TINY / "model.safetensors").read_bytes()[:end]


def test_retry_warnings_are_held_back_only_while_the_hub_is_read(monkeypatch):
    import logging

    from huggingface_hub.utils import logging as hub_logging

    from hfcheck.hub import HubName, _hub_errors

    monkeypatch.delenv("HF_HUB_VERBOSITY", raising=False)
    before = hub_logging.get_verbosity()
    try:
        hub_logging.set_verbosity_info()
        with _hub_errors(HubName("a/b", None)), _hub_errors(HubName("c/d", None)):
            assert hub_logging.get_verbosity() == logging.ERROR
        assert hub_logging.get_verbosity() == logging.INFO
        monkeypatch.setenv("HF_HUB_VERBOSITY", "debug")  # the user's explicit choice wins
        with _hub_errors(HubName("a/b", None)):
            assert hub_logging.get_verbosity() == logging.INFO
    finally:
        hub_logging.set_verbosity(before)
