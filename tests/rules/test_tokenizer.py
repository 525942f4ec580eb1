import json
import shutil
import time

import pytest
from conftest import codes
from tokenizer_repos import edit, make_chat_repo, read, train, write


@pytest.mark.parametrize("generation", [4, 5])
def test_clean_repos_have_no_tokenizer_findings(tiny_llama, run_rules, generation):
    assert run_rules(tiny_llama, select=["TOK"]) == []
    make_chat_repo(tiny_llama, generation)
    assert run_rules(tiny_llama, select=["TOK", "SPT", "GEN"]) == []


def test_minilm_gives_no_error(minilm, run_rules):
    findings = run_rules(minilm, select=["TOK", "SPT", "GEN"])
    assert [f for f in findings if f.severity == "error"] == []
    assert findings == []


def test_added_token_beyond_vocab_size(tiny_llama, run_rules):
    # Tokens added to the tokenizer without resize_token_embeddings: ids 320 and 321.
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(tiny_llama / "tokenizer.json"))
    tokenizer.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    (tiny_llama / "tokenizer.json").write_text(tokenizer.to_str(pretty=True), encoding="utf-8")
    findings = run_rules(tiny_llama, select=["TOK001"])
    assert codes(findings) == ["TOK001"]
    assert findings[0].path == "tokenizer.json" and findings[0].severity == "error"
    assert "'<|im_start|>' (320)" in findings[0].message and "'<|im_end|>' (321)" in findings[0].message
    assert "vocab_size 320" in findings[0].message
    assert findings[0].line is not None


def test_added_tokens_decoder_beyond_vocab_size(tiny_llama, run_rules):
    config = read(tiny_llama / "tokenizer_config.json")
    config["added_tokens_decoder"]["400"] = {"content": "<tool>", "special": True}
    write(tiny_llama / "tokenizer_config.json", config)
    findings = run_rules(tiny_llama, select=["TOK001"])
    assert [(f.path, f.code) for f in findings] == [("tokenizer_config.json", "TOK001")]
    assert "'<tool>' (400)" in findings[0].message


def test_embedding_rows_fewer_than_vocab_size(tiny_llama, run_rules):
    # config says 320 but the weights have 200 rows: the embedding is the real limit.
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(tiny_llama / "model.safetensors"))
    tensors["model.embed_tokens.weight"] = tensors["model.embed_tokens.weight"][:200]
    save_file(tensors, str(tiny_llama / "model.safetensors"), metadata={"format": "pt"})
    findings = run_rules(tiny_llama, select=["TOK001"])
    assert codes(findings) == ["TOK001"]
    assert "200 rows of model.embed_tokens.weight" in findings[0].message


def test_sharded_weights_use_the_index(tiny_llama, run_rules):
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(tiny_llama / "model.safetensors"))
    (tiny_llama / "model.safetensors").unlink()
    embed = {"model.embed_tokens.weight": tensors.pop("model.embed_tokens.weight")[:100]}
    save_file(embed, str(tiny_llama / "model-00001-of-00002.safetensors"))
    save_file(tensors, str(tiny_llama / "model-00002-of-00002.safetensors"))
    weight_map = {name: "model-00002-of-00002.safetensors" for name in tensors} | {
        "model.embed_tokens.weight": "model-00001-of-00002.safetensors"
    }
    write(tiny_llama / "model.safetensors.index.json", {"metadata": {}, "weight_map": weight_map})
    findings = run_rules(tiny_llama, select=["TOK001"])
    assert "100 rows of model.embed_tokens.weight in model-00001-of-00002.safetensors" in findings[0].message


def test_vocab_size_padding_is_fine_but_a_huge_gap_is_info(tiny_llama, run_rules):
    edit(tiny_llama / "config.json", vocab_size=384)  # padded to a multiple of 128
    assert run_rules(tiny_llama, select=["TOK002"]) == []
    edit(tiny_llama / "config.json", vocab_size=32000)
    findings = run_rules(tiny_llama, select=["TOK002"])
    assert [(f.code, f.severity, f.line) for f in findings] == [("TOK002", "info", 16)]
    assert "is this the model's own tokenizer" in findings[0].message


def test_bert_tokenizer_class_on_llama(tiny_llama, run_rules):
    edit(tiny_llama / "tokenizer_config.json", tokenizer_class="BertTokenizerFast")
    findings = run_rules(tiny_llama, select=["TOK003"])
    assert codes(findings) == ["TOK003"] and "BertTokenizerFast" in findings[0].message and "llama" in findings[0].message
    edit(tiny_llama / "tokenizer_config.json", tokenizer_class="LlamaTokenizerFast")
    assert run_rules(tiny_llama, select=["TOK003"]) == []


def test_wordpiece_tokenizer_json_on_llama(tiny_llama, minilm, run_rules):
    shutil.copy(minilm / "tokenizer.json", tiny_llama / "tokenizer.json")
    findings = run_rules(tiny_llama, select=["TOK003"])
    assert [(f.path, f.code) for f in findings] == [("tokenizer.json", "TOK003")]
    assert "WordPiece" in findings[0].message


def test_llama_tokenizer_on_bert(minilm, run_rules):
    assert run_rules(minilm, select=["TOK003"]) == []
    edit(minilm / "tokenizer_config.json", tokenizer_class="LlamaTokenizer")
    assert codes(run_rules(minilm, select=["TOK003"])) == ["TOK003"]


def test_tokenizer_settings_without_vocabulary(tiny_llama, run_rules):
    (tiny_llama / "tokenizer.json").unlink()
    findings = run_rules(tiny_llama, select=["TOK004"])
    assert [(f.path, f.severity) for f in findings] == [("tokenizer_config.json", "error")]
    assert "no vocabulary file" in findings[0].message


def test_text_model_without_any_tokenizer(tiny_llama, run_rules):
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (tiny_llama / name).unlink()
    findings = run_rules(tiny_llama, select=["TOK004"])
    assert [(f.path, f.code) for f in findings] == [("config.json", "TOK004")]
    (tiny_llama / "adapter_config.json").write_text('{"base_model_name_or_path": "x"}')
    assert run_rules(tiny_llama, select=["TOK004"]) == []


def test_bpe_vocab_without_merges(tiny_llama, run_rules):
    train().model.save(str(tiny_llama))  # vocab.json + merges.txt
    (tiny_llama / "tokenizer.json").unlink()
    assert run_rules(tiny_llama, select=["TOK004"]) == []
    (tiny_llama / "merges.txt").unlink()
    findings = run_rules(tiny_llama, select=["TOK004"])
    assert [(f.path, f.code) for f in findings] == [("vocab.json", "TOK004")]


def test_slow_files_agree_with_tokenizer_json(tiny_llama, run_rules):
    from tokenizers import Tokenizer

    Tokenizer.from_file(str(tiny_llama / "tokenizer.json")).model.save(str(tiny_llama))
    assert run_rules(tiny_llama, select=["TOK005"]) == []
    # A merge edited by hand in merges.txt only.
    lines = (tiny_llama / "merges.txt").read_text(encoding="utf-8").split("\n")
    lines[3] = "x y"
    (tiny_llama / "merges.txt").write_text("\n".join(lines), encoding="utf-8")
    vocab = read(tiny_llama / "vocab.json")
    vocab["extra"] = 999
    write(tiny_llama / "vocab.json", vocab)
    findings = run_rules(tiny_llama, select=["TOK005"])
    assert sorted((f.path, f.severity) for f in findings) == [("merges.txt", "warning"), ("vocab.json", "warning")]
    merges = next(f for f in findings if f.path == "merges.txt")
    assert "merge 2" in merges.message and "'x y'" in merges.message
    assert "only in the slow file (e.g. 'extra')" in next(f for f in findings if f.path == "vocab.json").message


def test_vocab_txt_disagrees(minilm, run_rules):
    lines = (minilm / "vocab.txt").read_text(encoding="utf-8").split("\n")
    lines[2000], lines[2001] = lines[2001], lines[2000]
    (minilm / "vocab.txt").write_text("\n".join(lines), encoding="utf-8")
    findings = run_rules(minilm, select=["TOK005"])
    assert [(f.path, f.code) for f in findings] == [("vocab.txt", "TOK005")]
    assert "2 with other ids" in findings[0].message


def test_big_tokenizer_is_fast(tiny_llama, run_rules):
    # A Gemma-sized vocabulary (256k tokens, ~7 MB of JSON): parsed once for every rule.
    data = read(tiny_llama / "tokenizer.json")
    data["model"]["vocab"] = {f"tok{i}": i for i in range(256_000)}
    data["model"]["merges"] = []
    data["added_tokens"] = [{"id": 256_000 + i, "content": f"<extra_{i}>", "special": True} for i in range(100)]
    (tiny_llama / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    edit(tiny_llama / "config.json", vocab_size=256_000)
    start = time.perf_counter()
    findings = run_rules(tiny_llama, select=["TOK", "SPT", "GEN"])
    elapsed = time.perf_counter() - start
    assert "TOK001" in codes(findings)
    assert "255780 token id(s) are not below the 320 rows of lm_head.weight" in next(f.message for f in findings if f.code == "TOK001")
    assert elapsed < 3.0, elapsed


def test_rules_work_without_tokenizers_installed(tiny_llama):
    # The core install has no `tokenizers`: the rules read the JSON files themselves.
    import subprocess
    import sys

    edit(tiny_llama / "config.json", vocab_size=300)
    probe = (
        "import sys; sys.modules['tokenizers'] = None\n"
        "from hfcheck.api import check\n"
        f"print(sorted({{f.code for f in check({str(tiny_llama)!r}, select=['TOK', 'SPT', 'GEN']).findings}}))\n"
        "print('tokenizers' in sys.modules and sys.modules['tokenizers'] is not None)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:2] == ["['TOK001']", "False"]


def test_garbage_values_give_findings_not_crashes(tiny_llama, run_rules):
    edit(
        tiny_llama / "config.json",
        model_type=["llama"],
        vocab_size="big",
        max_position_embeddings=None,
        rope_scaling={"factor": "x"},
        eos_token_id=[True],
        pad_token_id=-5,
    )
    edit(
        tiny_llama / "generation_config.json",
        eos_token_id=[],
        temperature=float("nan"),
        top_k=None,
        max_length=float("inf"),
        do_sample="yes",
    )
    edit(
        tiny_llama / "tokenizer_config.json",
        added_tokens_decoder={"x": 1, "7": {"content": 3}},
        pad_token={"content": None},
        chat_template=[{"name": 1}],
        model_max_length="long",
        tokenizer_class=5,
    )
    (tiny_llama / "special_tokens_map.json").write_text("[1, 2]")
    data = read(tiny_llama / "tokenizer.json")
    data["model"]["merges"] = [[1, None], "a b", 3]
    data["added_tokens"] = [{"id": "3", "content": "x"}, None]
    write(tiny_llama / "tokenizer.json", data)
    (tiny_llama / "merges.txt").write_text("#version: 0.2\na b\n")
    (tiny_llama / "chat_template.json").write_text('{"chat_template": 7}')
    findings = run_rules(tiny_llama, select=["TOK", "SPT", "GEN", "HFC003"])
    assert "HFC003" not in codes(findings)
    assert "GEN003" in codes(findings) and "SPT004" in codes(findings)
