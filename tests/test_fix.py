"""Autofix: `--fix`, `--unsafe-fixes`, `--diff`, `--fix-remove-pickles`. For each fixer a
broken repo, the fix, then: the finding is gone, the files are valid, `--diff` writes
nothing, and a failing fix leaves the tree as it was."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from conftest import codes, invoke

sys.path.insert(0, str(Path(__file__).resolve().parent / "rules"))
from tokenizer_repos import edit, make_chat_repo, read  # noqa: E402

import hfcheck.fix  # noqa: E402
from hfcheck.registry import all_rules, get_fixer  # noqa: E402


def run(*args):
    return invoke(*args)


def tree_hash(root: Path) -> str:
    """Names, modes and contents of every file under root (temp files included)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(oct(path.stat().st_mode).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def drop_pad(repo):
    edit(repo / "config.json", pad_token_id=None)
    edit(repo / "generation_config.json", pad_token_id=None)
    edit(repo / "tokenizer_config.json", pad_token=None)
    edit(repo / "special_tokens_map.json", pad_token=None)


def all_json_valid(repo):
    for path in repo.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))


# -- registry ------------------------------------------------------------------------


def test_rules_with_a_fixer_are_fixable_and_document_the_fix():
    fixable = {r.code for r in all_rules() if r.fixable}
    assert {"SPT001", "SPT006", "SPT008", "WGT001"} <= fixable
    for rule in all_rules():
        if get_fixer(rule.code) is not None:
            assert rule.fixable and "\nFixes:" in rule.doc, rule.code
    listed = {row["code"]: row["fixable"] for row in json.loads(run("rules", "--format", "json").output)}
    assert listed["SPT008"] is True and listed["SPT003"] is False
    assert get_fixer("WGT001").safe is False and get_fixer("SPT008").safe is True


# -- special tokens ------------------------------------------------------------------


def test_spt001_pad_becomes_eos_everywhere(tiny_llama, run_rules):
    drop_pad(tiny_llama)
    assert codes(run_rules(tiny_llama, select=["SPT001"])) == ["SPT001"]
    result = run(tiny_llama, "--fix")
    assert result.exit_code == 0, result.output
    assert "fixed SPT001" in result.output
    assert run_rules(tiny_llama, select=["SPT001", "SPT003", "SPT004"]) == []
    all_json_valid(tiny_llama)
    assert read(tiny_llama / "tokenizer_config.json")["pad_token"] == "</s>"
    assert read(tiny_llama / "special_tokens_map.json")["pad_token"] == "</s>"
    assert read(tiny_llama / "config.json")["pad_token_id"] == 2
    assert read(tiny_llama / "generation_config.json")["pad_token_id"] == 2
    # the re-check reports what remains: pad = eos is an info
    assert "SPT002" in result.output


def test_spt001_refused_without_an_eos(tiny_llama):
    drop_pad(tiny_llama)
    for name in ("config.json", "generation_config.json"):
        edit(tiny_llama / name, eos_token_id=None)
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        edit(tiny_llama / name, eos_token=None)
    before = tree_hash(tiny_llama)
    result = run(tiny_llama, "--fix")
    assert "not fixed SPT001" in result.output and "no eos token" in result.output
    assert result.exit_code == 0  # SPT001 is a warning, and it is still reported
    assert "SPT001" in result.output
    assert tree_hash(tiny_llama) == before


@pytest.mark.parametrize("generation", [4, 5])
def test_spt006_end_of_turn_joins_the_eos_list(tiny_llama, run_rules, generation):
    ids = make_chat_repo(tiny_llama, generation)
    edit(tiny_llama / "generation_config.json", eos_token_id=ids["</s>"])
    assert codes(run_rules(tiny_llama, select=["SPT006"])) == ["SPT006"]
    result = run(tiny_llama, "--fix", "--select", "SPT006")
    assert result.exit_code == 0, result.output
    assert read(tiny_llama / "generation_config.json")["eos_token_id"] == [ids["</s>"], ids["<|im_end|>"]]
    assert run_rules(tiny_llama, select=["SPT", "GEN"]) == []
    all_json_valid(tiny_llama)


def test_spt006_creates_generation_config_from_config(tiny_llama, run_rules):
    ids = make_chat_repo(tiny_llama, 5)
    (tiny_llama / "generation_config.json").unlink()
    edit(tiny_llama / "config.json", eos_token_id=ids["</s>"])
    assert codes(run_rules(tiny_llama, select=["SPT006"])) == ["SPT006"]
    assert run(tiny_llama, "--fix", "--select", "SPT006").exit_code == 0
    data = read(tiny_llama / "generation_config.json")
    assert data["eos_token_id"] == [ids["</s>"], ids["<|im_end|>"]] and data["bos_token_id"] == ids["<s>"]
    assert run_rules(tiny_llama, select=["SPT006"]) == []


def test_spt008_padding_side_left_and_diff_writes_nothing(tiny_llama, run_rules):
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    before = tree_hash(tiny_llama)
    preview = run(tiny_llama, "--diff")
    assert preview.exit_code == 1
    assert '-  "padding_side": "right",' in preview.output and '+  "padding_side": "left",' in preview.output
    assert "--- a/tokenizer_config.json" in preview.output
    assert tree_hash(tiny_llama) == before
    # a plain check never writes either
    assert run(tiny_llama).exit_code == 0 and tree_hash(tiny_llama) == before
    result = run(tiny_llama, "--fix")
    assert result.exit_code == 0 and "fixed SPT008" in result.output
    assert read(tiny_llama / "tokenizer_config.json")["padding_side"] == "left"
    assert run_rules(tiny_llama) == []
    # only the value changed: key order, indentation and the final newline are kept
    changed = [line for line in preview.output.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ['-  "padding_side": "right",', '+  "padding_side": "left",']


def test_spt008_in_tokenizer_json_without_tokenizer_config(tiny_llama, run_rules):
    (tiny_llama / "tokenizer_config.json").unlink()
    data = read(tiny_llama / "tokenizer.json")
    data["padding"] = {
        "strategy": "BatchLongest",
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 3,
        "pad_type_id": 0,
        "pad_token": "<pad>",
    }
    (tiny_llama / "tokenizer.json").write_text(json.dumps(data, indent=2))
    assert "SPT008" in codes(run_rules(tiny_llama, select=["SPT008"]))
    run(tiny_llama, "--fix", "--select", "SPT008")
    assert read(tiny_llama / "tokenizer.json")["padding"]["direction"] == "Left"
    assert run_rules(tiny_llama, select=["SPT008"]) == []
    from tokenizers import Tokenizer

    Tokenizer.from_file(str(tiny_llama / "tokenizer.json"))  # still a valid tokenizer


def test_two_fixes_of_one_file_compose(tiny_llama, run_rules):
    drop_pad(tiny_llama)
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    assert run(tiny_llama, "--fix").exit_code == 0
    config = read(tiny_llama / "tokenizer_config.json")
    assert config["padding_side"] == "left" and config["pad_token"] == "</s>"


# -- the engine's guarantees -------------------------------------------------------


def test_unsafe_fixes_alone_changes_nothing(tiny_llama):
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    before = tree_hash(tiny_llama)
    result = run(tiny_llama, "--unsafe-fixes")
    assert result.exit_code == 2 and "--fix" in result.output
    assert tree_hash(tiny_llama) == before


def test_read_only_file_leaves_the_tree_unchanged(tiny_llama):
    drop_pad(tiny_llama)
    os.chmod(tiny_llama / "special_tokens_map.json", 0o444)
    before = tree_hash(tiny_llama)
    result = run(tiny_llama, "--fix")
    assert result.exit_code == 2 and "read-only" in result.output and "nothing was changed" in result.output
    assert tree_hash(tiny_llama) == before


def test_failed_verification_leaves_the_tree_unchanged(tiny_llama, monkeypatch):
    drop_pad(tiny_llama)
    before = tree_hash(tiny_llama)
    real = hfcheck.fix.verify_written

    def failing(path, planned):
        # the first files were written beside their targets and verified already
        return "simulated corruption" if planned.path == "special_tokens_map.json" else real(path, planned)

    monkeypatch.setattr(hfcheck.fix, "verify_written", failing)
    result = run(tiny_llama, "--fix")
    assert result.exit_code == 2 and "simulated corruption" in result.output
    assert tree_hash(tiny_llama) == before


def test_failed_rename_rolls_back_the_files_already_replaced(tiny_llama, monkeypatch):
    drop_pad(tiny_llama)
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    before = tree_hash(tiny_llama)
    real = hfcheck.fix._replace
    calls = []

    def flaky(source, dest):
        calls.append(dest)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(source, dest)

    monkeypatch.setattr(hfcheck.fix, "_replace", flaky)
    result = run(tiny_llama, "--fix")
    assert result.exit_code == 2 and "nothing was changed" in result.output
    assert len(calls) == 3
    assert tree_hash(tiny_llama) == before


# -- pickle weights → safetensors --------------------------------------------------


def to_pickle(repo: Path, state=None, *, shards: int = 1):
    """Replace model.safetensors by what torch.save writes (optionally sharded with an index)."""
    import torch
    from safetensors.torch import load_file

    state = state if state is not None else load_file(repo / "model.safetensors")
    (repo / "model.safetensors").unlink()
    if shards == 1:
        torch.save(state, repo / "pytorch_model.bin")
        return state
    names = list(state)
    weight_map = {}
    for i in range(shards):
        part = names[i::shards]
        rel = f"pytorch_model-{i + 1:05d}-of-{shards:05d}.bin"
        torch.save({n: state[n] for n in part}, repo / rel)
        weight_map.update(dict.fromkeys(part, rel))
    (repo / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    return state


def assert_bit_identical(repo: Path, original: dict, expected_names=None):
    import torch
    from safetensors import safe_open

    files = sorted(repo.glob("*.safetensors"))
    loaded = {}
    for path in files:
        with safe_open(str(path), framework="pt") as reader:
            loaded.update({name: reader.get_tensor(name) for name in reader.keys()})
    assert set(loaded) == set(expected_names or original)
    for name, tensor in loaded.items():
        source = original[name]
        assert tensor.dtype == source.dtype and tensor.shape == source.shape
        assert torch.equal(tensor.reshape(-1).view(torch.uint8), source.contiguous().reshape(-1).view(torch.uint8)), name


def assert_transformers_loads(repo: Path, original: dict):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(repo, device_map="cpu", dtype="auto")
    state = model.state_dict()
    for name, tensor in original.items():
        assert torch.equal(state[name], tensor), name
    return model


def test_wgt001_needs_unsafe_fixes(tiny_llama):
    to_pickle(tiny_llama)
    before = tree_hash(tiny_llama)
    result = run(tiny_llama, "--fix")
    assert "WGT001 (1 finding) has an unsafe fix" in result.output
    assert tree_hash(tiny_llama) == before
    preview = run(tiny_llama, "--diff", "--unsafe-fixes", "--fix-remove-pickles")
    assert preview.exit_code == 1
    assert "binary file model.safetensors: create" in preview.output and "binary file pytorch_model.bin: delete" in preview.output
    assert tree_hash(tiny_llama) == before


def test_wgt001_converts_bit_for_bit_and_transformers_loads_it(tiny_llama, run_rules):
    import torch

    to_pickle(tiny_llama)
    original = torch.load(tiny_llama / "pytorch_model.bin", weights_only=True)
    result = run(tiny_llama, "--fix", "--unsafe-fixes")
    assert "fixed WGT001" in result.output, result.output
    assert (tiny_llama / "pytorch_model.bin").exists()  # kept by default
    assert_bit_identical(tiny_llama, original)
    assert codes(run_rules(tiny_llama, select=["WGT"])) == ["WGT001", "WGT002"]
    result = run(tiny_llama, "--fix", "--unsafe-fixes", "--fix-remove-pickles")
    assert "safetensors weights already exist" in result.output  # never overwrites them
    (tiny_llama / "model.safetensors").unlink()
    result = run(tiny_llama, "--fix", "--unsafe-fixes", "--fix-remove-pickles")
    assert result.exit_code == 0, result.output
    assert not (tiny_llama / "pytorch_model.bin").exists()
    assert run_rules(tiny_llama) == []
    assert_bit_identical(tiny_llama, original)
    assert_transformers_loads(tiny_llama, original)


def test_wgt001_shards_like_save_pretrained(tiny_llama, run_rules):
    import torch

    to_pickle(tiny_llama, shards=2)
    (tiny_llama / ".hfcheck.yaml").write_text("options:\n  fix:\n    max_shard_size: 100KB\n")
    original = {}
    for path in tiny_llama.glob("pytorch_model-*.bin"):
        original.update(torch.load(path, weights_only=True))
    result = run(tiny_llama, "--fix", "--unsafe-fixes", "--fix-remove-pickles")
    assert result.exit_code == 0, result.output
    shards = sorted(p.name for p in tiny_llama.glob("*.safetensors"))
    assert len(shards) >= 3 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    index = read(tiny_llama / "model.safetensors.index.json")
    assert set(index["weight_map"]) == set(original) and set(index["weight_map"].values()) == set(shards)
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in original.values())
    assert not list(tiny_llama.glob("*.bin")) and not (tiny_llama / "pytorch_model.bin.index.json").exists()
    assert run_rules(tiny_llama) == []  # WGT005-007 check the index against the shards
    assert_bit_identical(tiny_llama, original)
    assert_transformers_loads(tiny_llama, original)


def test_wgt001_tied_embeddings_are_deduplicated_only_when_the_config_ties_them(tiny_llama, run_rules):
    import torch
    from safetensors.torch import load_file

    state = load_file(tiny_llama / "model.safetensors")
    embed = state["model.embed_tokens.weight"]
    state["lm_head.weight"] = embed  # one storage, as torch.save writes a tied model
    # two norms sharing storage without any tie: must be copied, not dropped
    state["model.layers.1.input_layernorm.weight"] = state["model.layers.0.input_layernorm.weight"]
    edit(tiny_llama / "config.json", tie_word_embeddings=True)
    to_pickle(tiny_llama, state)
    original = torch.load(tiny_llama / "pytorch_model.bin", weights_only=True)
    assert original["lm_head.weight"].untyped_storage().data_ptr() == original["model.embed_tokens.weight"].untyped_storage().data_ptr()
    result = run(tiny_llama, "--fix", "--unsafe-fixes", "--fix-remove-pickles")
    assert result.exit_code == 0, result.output
    assert_bit_identical(tiny_llama, original, expected_names=set(original) - {"lm_head.weight"})
    model = assert_transformers_loads(tiny_llama, original)
    assert torch.equal(model.lm_head.weight, original["model.embed_tokens.weight"])
    assert run_rules(tiny_llama, select=["WGT"]) == []


def test_wgt001_untied_shared_tensors_are_copied(tiny_llama):
    import torch
    from safetensors.torch import load_file

    state = load_file(tiny_llama / "model.safetensors")
    state["lm_head.weight"] = state["model.embed_tokens.weight"]  # shared, but the config does not tie
    to_pickle(tiny_llama, state)
    original = torch.load(tiny_llama / "pytorch_model.bin", weights_only=True)
    assert run(tiny_llama, "--fix", "--unsafe-fixes", "--fix-remove-pickles").exit_code == 0
    assert_bit_identical(tiny_llama, original)  # lm_head.weight kept, as its own copy


def malicious_pickle(marker: Path) -> bytes:
    """GLOBAL os.system, a one-string tuple, REDUCE: what pickle.load would run as
    os.system("touch MARKER"). Written opcode by opcode; never unpickled here."""
    command = f"touch {marker}".encode()
    return b"\x80\x02" + b"cos\nsystem\n" + b"X" + len(command).to_bytes(4, "little") + command + b"\x85" + b"R" + b"."


@pytest.mark.parametrize("extra", [[], ["--ignore", "SEC"]])
def test_wgt001_refuses_a_malicious_pickle(tiny_llama, tmp_path, extra):
    marker = tmp_path / "MARKER"
    (tiny_llama / "model.safetensors").unlink()
    (tiny_llama / "pytorch_model.bin").write_bytes(malicious_pickle(marker))
    before = tree_hash(tiny_llama)
    result = run(tiny_llama, "--fix", "--unsafe-fixes", "--fix-remove-pickles", *extra)
    assert "not fixed WGT001" in result.output and "security scan reports" in result.output and "SEC001" in result.output
    assert result.exit_code == (0 if extra else 1)  # the SEC001 error, unless ignored (WGT001 is a warning)
    assert not marker.exists()
    assert tree_hash(tiny_llama) == before


def test_wgt001_failed_tensor_verification_leaves_the_tree_unchanged(tiny_llama, monkeypatch):
    import hfcheck.convert

    to_pickle(tiny_llama)
    before = tree_hash(tiny_llama)
    monkeypatch.setattr(hfcheck.convert, "_same_bits", lambda a, b: False)
    result = run(tiny_llama, "--fix", "--unsafe-fixes", "--fix-remove-pickles")
    assert result.exit_code == 2 and "differs from the pickle" in result.output
    assert tree_hash(tiny_llama) == before


# -- license and card ----------------------------------------------------------------


def card_metadata(repo: Path) -> dict:
    from hfcheck.formats.card import parse_card

    return parse_card((repo / "README.md").read_text(encoding="utf-8")).data


def test_lic002_typo_becomes_the_suggested_identifier(tiny_llama, run_rules):
    card = (tiny_llama / "README.md").read_text(encoding="utf-8")
    (tiny_llama / "README.md").write_text(card.replace("license: apache-2.0", "license: apache2  # typo", 1), encoding="utf-8")
    assert codes(run_rules(tiny_llama, select=["LIC"])) == ["LIC002"]
    before = tree_hash(tiny_llama)
    assert "LIC002 (1 finding) has an unsafe fix" in run(tiny_llama, "--fix").output
    assert tree_hash(tiny_llama) == before
    assert run(tiny_llama, "--fix", "--unsafe-fixes").exit_code == 0
    assert card_metadata(tiny_llama)["license"] == "apache-2.0" and card_metadata(tiny_llama)["tags"] == ["llama", "text-generation"]
    assert "license: apache-2.0  # typo" in (tiny_llama / "README.md").read_text(encoding="utf-8")
    assert run_rules(tiny_llama) == []


def test_lic002_list_items_only_under_license(tiny_llama, run_rules):
    (tiny_llama / "README.md").write_text(
        '---\nlicense:\n- "MIT License"\n- apache2\ntags:\n- apache2\nlibrary_name: transformers\npipeline_tag: text-generation\n---\n# x\n',
        encoding="utf-8",
    )
    run(tiny_llama, "--fix", "--unsafe-fixes", "--select", "LIC002")
    data = card_metadata(tiny_llama)
    assert data["license"] == ["mit", "apache-2.0"] and data["tags"] == ["apache2"]
    assert run_rules(tiny_llama, select=["LIC002"]) == []


def test_crd001_card_skeleton(tiny_llama, run_rules):
    (tiny_llama / "README.md").unlink()
    assert "CRD001" in codes(run_rules(tiny_llama, select=["CRD"]))
    result = run(tiny_llama, "--fix")
    assert "fixed CRD001" in result.output
    assert run_rules(tiny_llama, select=["CRD"]) == []
    assert card_metadata(tiny_llama) == {"library_name": "transformers", "pipeline_tag": "text-generation"}
    assert codes(run_rules(tiny_llama)) == ["LIC001"]  # a license is the owner's choice: never invented
    assert result.exit_code == 1 and "LIC001" in result.output


def test_crd002_crd004_crd005_on_a_bare_card(tiny_llama, run_rules):
    (tiny_llama / "README.md").write_text("# tiny\n\nA model.\n\n## Limitations\n\nSmall.", encoding="utf-8")
    assert {"CRD002", "CRD005"} <= set(codes(run_rules(tiny_llama, select=["CRD"])))
    assert run(tiny_llama, "--fix").exit_code == 1  # LIC001 remains
    assert run_rules(tiny_llama, select=["CRD"]) == []
    text = (tiny_llama / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\nlibrary_name: transformers\npipeline_tag: text-generation\n---\n\n# tiny\n")
    assert text.count("## Limitations") == 1 and "## Uses" in text and "## Evaluation" in text
    edit_card = text.replace("pipeline_tag: text-generation\n", "")
    (tiny_llama / "README.md").write_text(edit_card, encoding="utf-8")
    assert codes(run_rules(tiny_llama, select=["CRD004"])) == ["CRD004"]
    run(tiny_llama, "--fix", "--select", "CRD004")
    assert card_metadata(tiny_llama)["pipeline_tag"] == "text-generation"


def test_crd006_base_model_on_minilm_and_diff_writes_nothing(minilm, run_rules):
    assert "CRD006" in codes(run_rules(minilm, select=["CRD006"]))
    before = tree_hash(minilm)
    preview = run(minilm, "--diff")
    assert "+base_model: nreimers/MiniLM-L6-H384-uncased" in preview.output
    assert tree_hash(minilm) == before
    run(minilm, "--fix", "--select", "CRD006")
    assert card_metadata(minilm)["base_model"] == "nreimers/MiniLM-L6-H384-uncased"
    assert "CRD006" not in codes(run_rules(minilm, select=["CRD"]))


def test_wgt001_without_torch_says_which_extra(tiny_llama, monkeypatch):
    to_pickle(tiny_llama)
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    before = tree_hash(tiny_llama)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as if not installed
    result = run(tiny_llama, "--diff", "--unsafe-fixes")
    assert "not fixed WGT001" in result.output and "hfcheck[smoke]" in result.output
    assert "would fix SPT008" in result.output  # the other fixes still run
    assert tree_hash(tiny_llama) == before


def test_a_fix_keeps_file_permissions(tiny_llama):
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    os.chmod(tiny_llama / "tokenizer_config.json", 0o640)
    assert run(tiny_llama, "--fix").exit_code == 0
    assert (tiny_llama / "tokenizer_config.json").stat().st_mode & 0o777 == 0o640


def test_a_crashing_fixer_is_reported_and_the_others_run(tiny_llama, monkeypatch):
    from hfcheck import registry

    drop_pad(tiny_llama)
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")

    def broken(repo, findings):
        raise KeyError("boom")

    monkeypatch.setitem(registry._FIXERS, "SPT001", registry.Fixer("SPT001", True, broken, "broken"))
    result = run(tiny_llama, "--fix")
    assert "not fixed SPT001" in result.output and "KeyError" in result.output
    assert "fixed SPT008" in result.output
    assert read(tiny_llama / "tokenizer_config.json")["padding_side"] == "left"
    assert "pad_token" not in read(tiny_llama / "tokenizer_config.json")


def test_wgt001_converts_an_adapter_and_says_what_remains(tiny_llama, run_rules):
    import torch

    original = to_pickle(tiny_llama)
    adapter = {
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": torch.randn(4, 64),
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(64, 4),
    }
    torch.save(adapter, tiny_llama / "adapter_model.bin")
    torch.save({"learning_rate": 0.1, "steps": 3}, tiny_llama / "training_args.bin")  # not weights: never converted
    assert codes(run_rules(tiny_llama, select=["WGT001"])) == ["WGT001"] * 3
    result = run(tiny_llama, "--fix", "--unsafe-fixes", "--fix-remove-pickles")
    assert "fixed WGT001 (2 of 3 findings; 1 remains)" in result.output, result.output
    assert sorted(p.name for p in tiny_llama.glob("*.bin")) == ["training_args.bin"]
    from safetensors.torch import load_file

    converted = load_file(tiny_llama / "adapter_model.safetensors")
    assert set(converted) == set(adapter) and all(torch.equal(converted[k], adapter[k]) for k in adapter)
    model_tensors = load_file(tiny_llama / "model.safetensors")
    assert all(torch.equal(model_tensors[k], original[k]) for k in original)
    assert [f.path for f in run_rules(tiny_llama, select=["WGT001"])] == ["training_args.bin"]


# -- fixers on garbage -------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "hostile"))
from test_rules_never_crash import garbage  # noqa: E402


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["config.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"]),
    st.sampled_from(
        ["pad_token", "pad_token_id", "eos_token", "eos_token_id", "padding_side", "chat_template", "architectures", "added_tokens_decoder"]
    ),
    garbage,
)
def test_no_fixer_crashes_on_garbage_values(tmp_path_factory, name, key, value):
    import shutil

    from conftest import FIXTURES
    from hfcheck.config import load_settings
    from hfcheck.fix import plan_fixes, render_diff
    from hfcheck.targets import resolve_targets

    repo = shutil.copytree(FIXTURES / "tiny-llama", tmp_path_factory.mktemp("garbage") / "repo")
    drop_pad(repo)
    edit(repo / "tokenizer_config.json", padding_side="right")
    data = read(repo / name)
    data[key] = value
    (repo / name).write_text(json.dumps(data))
    before = tree_hash(repo)
    target = resolve_targets([str(repo)])[0]
    plan = plan_fixes(target, load_settings(repo), unsafe=True)
    assert not [o.message for o in plan.outcomes if "fixer failed" in o.message]
    render_diff(plan)
    assert tree_hash(repo) == before
    for edit_ in plan.edits.values():
        if edit_.path.endswith(".json") and edit_.data is not None:
            json.loads(edit_.data)


def test_fix_summary_goes_to_stderr_so_json_stays_valid(tiny_llama):
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    result = invoke(tiny_llama, "--fix", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["summary"]["warning"] == 0
    assert "fixed SPT008" in result.stderr and "fixed SPT008" not in result.stdout


def test_a_fixer_registered_before_or_after_its_rule_makes_it_fixable():
    from hfcheck import registry

    def check(repo):
        """A test rule."""
        return []

    try:
        registry.fixer("ZZZ901", safe=True)(lambda repo, findings: [])
        registry.rule("ZZZ901", concern="config", severity="info")(check)
        registry.rule("ZZZ902", concern="config", severity="info")(check)
        assert registry.get_rule("ZZZ902").fixable is False
        registry.fixer("ZZZ902", safe=False)(lambda repo, findings: [])
        assert registry.get_rule("ZZZ901").fixable and registry.get_rule("ZZZ902").fixable
    finally:
        for code in ("ZZZ901", "ZZZ902"):
            registry._RULES.pop(code, None)
            registry._FIXERS.pop(code, None)


def test_python_api(tiny_llama):
    from hfcheck.api import check
    from hfcheck.fix import fix_targets

    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    before = tree_hash(tiny_llama)
    [(label, plan)] = fix_targets([str(tiny_llama)], apply=False)
    assert list(plan.edits) == ["tokenizer_config.json"] and [o.code for o in plan.fixed] == ["SPT008"]
    assert tree_hash(tiny_llama) == before
    fix_targets([str(tiny_llama)])
    assert check(tiny_llama).findings == []
