import importlib.util
import json
import struct

import numpy as np
import pytest
import torch
from conftest import ROOT, codes
from safetensors.numpy import load_file, save_file

from hfcheck.facts.weights import all_tensors, embedding_rows
from hfcheck.repo import RepoView


def _load_bench():
    spec = importlib.util.spec_from_file_location("sparse_70b", ROOT / "benchmarks" / "sparse_70b.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sparse = _load_bench()

LFS_POINTER = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 123456\n"


def edit_config(repo, **changes):
    path = repo / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    for key, value in changes.items():
        if value is None:
            del config[key]
    path.write_text(json.dumps(config, indent=2))


def shard(repo, parts=2):
    """Split tiny-llama's model.safetensors into `parts` shards plus an index."""
    tensors = load_file(repo / "model.safetensors")
    (repo / "model.safetensors").unlink()
    names = sorted(tensors)
    weight_map, total = {}, 0
    for i in range(parts):
        file = f"model-{i + 1:05d}-of-{parts:05d}.safetensors"
        chunk = {n: tensors[n] for n in names[i::parts]}
        save_file(chunk, repo / file, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(chunk, file))
        total += sum(t.nbytes for t in chunk.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (repo / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return index


# -- clean repos -------------------------------------------------------------------


def test_clean_fixtures_give_nothing(tiny_llama, minilm, run_rules):
    assert run_rules(tiny_llama, select=["WGT"]) == []
    assert run_rules(minilm, select=["WGT"]) == []


def test_clean_sharded_repo_gives_nothing(tiny_llama, run_rules):
    shard(tiny_llama, 3)
    assert run_rules(tiny_llama, select=["WGT"]) == []


def test_facts(tiny_llama, minilm):
    repo = RepoView(tiny_llama)
    assert embedding_rows(repo) == 320
    assert all_tensors(repo)["lm_head.weight"][0] == "model.safetensors"
    assert embedding_rows(RepoView(minilm)) == 30522


# -- WGT001 / WGT002 pickle weights -----------------------------------------------------


def test_pickle_weights_warn(tiny_llama, run_rules):
    torch.save({"w": torch.zeros(2)}, tiny_llama / "pytorch_model.bin")
    torch.save({"step": 1}, tiny_llama / "optimizer.pt")
    findings = run_rules(tiny_llama, select=["WGT001"])
    assert [(f.path, f.severity) for f in findings] == [("optimizer.pt", "warning"), ("pytorch_model.bin", "warning")]
    assert "pickle" in findings[0].message and "safetensors" in findings[0].fix


def test_non_pickle_bin_is_not_a_pickle(tiny_llama, run_rules):
    (tiny_llama / "vectors.bin").write_bytes(np.arange(16, dtype=np.float32).tobytes())
    assert run_rules(tiny_llama, select=["WGT001"]) == []


def test_both_formats_say_which_loads(tiny_llama, run_rules):
    assert run_rules(tiny_llama, select=["WGT002"]) == []
    torch.save({"w": torch.zeros(2)}, tiny_llama / "pytorch_model.bin")
    findings = run_rules(tiny_llama, select=["WGT002"])
    assert codes(findings) == ["WGT002"]
    assert "transformers loads model.safetensors" in findings[0].message and "ignores pytorch_model.bin" in findings[0].message


# -- WGT003 LFS pointers ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_lfs_pointer_is_an_error(tiny_llama, run_rules, name):
    (tiny_llama / name).write_bytes(LFS_POINTER)
    findings = run_rules(tiny_llama, select=["WGT003", "WGT004"])
    assert [(f.code, f.path, f.severity) for f in findings] == [("WGT003", name, "error")]
    assert "clone without git-lfs" in findings[0].message


# -- WGT004 safetensors integrity -------------------------------------------------------


def test_truncated_safetensors(tiny_llama, run_rules):
    path = tiny_llama / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    findings = run_rules(tiny_llama, select=["WGT004"])
    assert codes(findings) == ["WGT004"]
    assert "truncated download" in findings[0].message


def test_bad_header_json_and_dtype(tiny_llama, run_rules):
    path = tiny_llama / "model.safetensors"
    raw = b'{"a": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}'
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 4)
    findings = run_rules(tiny_llama, select=["WGT004"])
    assert any("unknown dtype 'F99'" in f.message for f in findings)
    path.write_bytes(struct.pack("<Q", 10) + b"{not json}")
    assert "not valid JSON" in run_rules(tiny_llama, select=["WGT004"])[0].message
    path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    assert "exceeds" in run_rules(tiny_llama, select=["WGT004"])[0].message


# -- WGT005-007 shard indexes -----------------------------------------------------------


def test_missing_shard(tiny_llama, run_rules):
    shard(tiny_llama, 3)
    (tiny_llama / "model-00002-of-00003.safetensors").unlink()
    findings = run_rules(tiny_llama, select=["WGT005"])
    assert codes(findings) == ["WGT005"]
    assert "model-00002-of-00003.safetensors" in findings[0].message and "missing" in findings[0].message


def test_bin_index_missing_shard(tiny_llama, run_rules):
    index = {"metadata": {}, "weight_map": {"w": "pytorch_model-00001-of-00002.bin"}}
    (tiny_llama / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    findings = run_rules(tiny_llama, select=["WGT005"])
    assert [f.path for f in findings] == ["pytorch_model.bin.index.json"]


def test_tensor_in_wrong_shard_and_unlisted(tiny_llama, run_rules):
    index = shard(tiny_llama, 2)
    name = "model.norm.weight"
    right = index["weight_map"][name]
    index["weight_map"][name] = next(f for f in set(index["weight_map"].values()) if f != right)
    del index["weight_map"]["lm_head.weight"]
    (tiny_llama / "model.safetensors.index.json").write_text(json.dumps(index))
    messages = [f.message for f in run_rules(tiny_llama, select=["WGT006"])]
    assert len(messages) == 2
    assert any(f"'{name}'" in m and f"it is in {right}" in m for m in messages)
    assert any("'lm_head.weight'" in m and "does not list" in m for m in messages)


def test_total_size(tiny_llama, run_rules):
    index = shard(tiny_llama, 2)
    index["metadata"]["total_size"] += 2
    (tiny_llama / "model.safetensors.index.json").write_text(json.dumps(index))
    findings = run_rules(tiny_llama, select=["WGT007"])
    assert codes(findings) == ["WGT007"] and "total_size" in findings[0].message


# -- WGT008-012 config against tensors --------------------------------------------------


def test_quantized_and_unknown_skip_with_info(tiny_llama, run_rules):
    edit_config(tiny_llama, quantization_config={"quant_method": "gptq", "bits": 4}, vocab_size=999)
    findings = run_rules(tiny_llama, select=["WGT"])
    assert [(f.code, f.severity) for f in findings] == [("WGT008", "info")]
    assert "gptq" in findings[0].message
    edit_config(tiny_llama, quantization_config=None, model_type="mamba")
    findings = run_rules(tiny_llama, select=["WGT"])
    assert codes(findings) == ["WGT008"] and "'mamba'" in findings[0].message


def test_vocab_rows_mismatch(tiny_llama, run_rules):
    edit_config(tiny_llama, vocab_size=384)
    findings = run_rules(tiny_llama, select=["WGT009"])
    assert codes(findings) == ["WGT009", "WGT009"]
    assert "model.embed_tokens.weight" in findings[0].message + findings[1].message
    assert all("320 rows but vocab_size is 384" in f.message for f in findings)


def test_hidden_heads_intermediate_layers_mismatch(tiny_llama, run_rules):
    edit_config(tiny_llama, intermediate_size=256)
    assert any("mlp.gate_proj" in f.message for f in run_rules(tiny_llama, select=["WGT010"]))
    edit_config(tiny_llama, intermediate_size=128, num_key_value_heads=4)
    assert any("k_proj" in f.message and "num_key_value_heads" in f.message for f in run_rules(tiny_llama, select=["WGT010"]))
    edit_config(tiny_llama, num_key_value_heads=2, num_hidden_layers=3)
    findings = run_rules(tiny_llama, select=["WGT010"])
    assert [f.message for f in findings] == ["num_hidden_layers is 3 but the weights hold 2 layers"]


def test_tied_embeddings(tiny_llama, run_rules):
    edit_config(tiny_llama, tie_word_embeddings=True)
    findings = run_rules(tiny_llama, select=["WGT011"])
    assert [(f.code, f.severity) for f in findings] == [("WGT011", "warning")]
    tensors = load_file(tiny_llama / "model.safetensors")
    del tensors["lm_head.weight"]
    save_file(tensors, tiny_llama / "model.safetensors", metadata={"format": "pt"})
    assert run_rules(tiny_llama, select=["WGT011"]) == []
    edit_config(tiny_llama, tie_word_embeddings=False)
    findings = run_rules(tiny_llama, select=["WGT011"])
    assert [(f.code, f.severity) for f in findings] == [("WGT011", "error")]
    assert "no lm_head.weight" in findings[0].message


def test_dtype_mismatch(tiny_llama, run_rules):
    edit_config(tiny_llama, torch_dtype="bfloat16")
    findings = run_rules(tiny_llama, select=["WGT012"])
    assert codes(findings) == ["WGT012"] and "stored as F16" in findings[0].message
    edit_config(tiny_llama, torch_dtype=None, dtype="float16")
    assert run_rules(tiny_llama, select=["WGT012"]) == []


# -- sparse repos: headers only -----------------------------------------------------------

SMALL_LLAMA = {**sparse.LLAMA_3_70B, "num_hidden_layers": 3}


def test_sparse_repo_checked_from_headers_only(tmp_path, run_rules, monkeypatch):
    repo = tmp_path / "sparse"
    apparent = sparse.write_sparse_repo(repo, SMALL_LLAMA, shards=3)
    assert apparent > 8e9  # multi-GB, almost nothing on disk
    read = {}
    real_open = RepoView.open

    def counting_open(self, rel):
        stream = real_open(self, rel)
        if stream is None:
            return None
        real_read = stream.read

        def read_counted(n=-1):
            data = real_read(n)
            read[rel] = read.get(rel, 0) + len(data)
            return data

        stream.read = read_counted
        return stream

    monkeypatch.setattr(RepoView, "open", counting_open)
    assert run_rules(repo, select=["WGT", "SEC", "CFG"]) == []  # it ships weights only: no tokenizer, card or license
    shards = sorted(p.name for p in repo.glob("*.safetensors"))
    assert len(shards) == 3 and set(shards) <= set(read)
    for name in shards:
        with open(repo / name, "rb") as f:
            header_end = 8 + struct.unpack("<Q", f.read(8))[0]
        assert read[name] <= header_end, f"{name}: read {read[name]} bytes, header ends at {header_end}"
    # the same repo, with a config that contradicts it, is caught from the headers too
    edit_config(repo, vocab_size=128000)
    assert "WGT009" in codes(run_rules(repo))
