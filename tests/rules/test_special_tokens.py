import pytest
from conftest import codes
from tokenizer_repos import CHATML, edit, make_chat_repo, read, remove_template, write

from hfcheck.config import Deploy

LLAMA3_LIKE = (
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)


def drop_pad(repo):
    edit(repo / "config.json", pad_token_id=None)
    edit(repo / "generation_config.json", pad_token_id=None)
    edit(repo / "tokenizer_config.json", pad_token=None)
    edit(repo / "special_tokens_map.json", pad_token=None)


def test_clean_fixtures(tiny_llama, minilm, run_rules):
    assert run_rules(tiny_llama, select=["SPT"]) == []
    assert run_rules(minilm, select=["SPT"]) == []


def test_no_pad_token_warning_then_error_when_batching(tiny_llama, run_rules):
    drop_pad(tiny_llama)
    findings = run_rules(tiny_llama, select=["SPT001"])
    assert [(f.code, f.severity, f.path) for f in findings] == [("SPT001", "warning", "tokenizer_config.json")]
    assert "pad_token = tokenizer.eos_token" in findings[0].fix and "resize_token_embeddings" in findings[0].fix
    findings = run_rules(tiny_llama, select=["SPT001"], deploy=Deploy(max_batch_size=8))
    assert [f.severity for f in findings] == ["error"] and "batches up to 8" in findings[0].message
    assert [f.severity for f in run_rules(tiny_llama, select=["SPT001"], deploy=Deploy(max_batch_size=1))] == ["warning"]


def test_pad_is_eos(tiny_llama, run_rules):
    assert run_rules(tiny_llama, select=["SPT002"]) == []
    edit(tiny_llama / "tokenizer_config.json", pad_token="</s>")
    edit(tiny_llama / "special_tokens_map.json", pad_token="</s>")
    edit(tiny_llama / "config.json", pad_token_id=2)
    edit(tiny_llama / "generation_config.json", pad_token_id=2)
    findings = run_rules(tiny_llama, select=["SPT"])
    assert codes(findings) == ["SPT002"] and findings[0].severity == "info"
    assert "pad token is the eos token" in findings[0].message


def test_special_tokens_disagree(tiny_llama, run_rules):
    edit(tiny_llama / "config.json", eos_token_id=3)
    findings = run_rules(tiny_llama, select=["SPT003"])
    assert {f.path for f in findings} == {"generation_config.json", "tokenizer_config.json", "special_tokens_map.json"}
    assert all(f.severity == "warning" for f in findings)
    assert "eos token is '</s>' (id 2) in tokenizer_config.json but 3 in config.json" in {f.message for f in findings}


def test_eos_list_containing_the_tokenizer_eos_agrees(tiny_llama, run_rules):
    edit(tiny_llama / "generation_config.json", eos_token_id=[2, 3])
    assert run_rules(tiny_llama, select=["SPT003"]) == []


def test_special_token_not_in_vocabulary(tiny_llama, run_rules):
    edit(tiny_llama / "tokenizer_config.json", pad_token="<|pad|>")
    findings = run_rules(tiny_llama, select=["SPT004"])
    assert [(f.path, f.severity) for f in findings] == [("tokenizer_config.json", "error")]
    assert "'<|pad|>' is not in the tokenizer's vocabulary" in findings[0].message and findings[0].line == 5


def test_config_token_id_out_of_range(tiny_llama, run_rules):
    edit(tiny_llama / "config.json", bos_token_id=5000)
    findings = run_rules(tiny_llama, select=["SPT004"])
    assert [(f.path, f.code) for f in findings] == [("config.json", "SPT004")]
    assert "bos_token_id 5000 is out of range" in findings[0].message


@pytest.mark.parametrize("generation", [4, 5])
def test_chat_model_without_template(tiny_llama, run_rules, generation):
    make_chat_repo(tiny_llama, generation)
    assert run_rules(tiny_llama, select=["SPT005"]) == []
    remove_template(tiny_llama)
    findings = run_rules(tiny_llama, select=["SPT005"])
    assert codes(findings) == ["SPT005"] and "chat model" in findings[0].message


def test_instruct_name_counts_as_chat(tiny_llama, run_rules):
    edit(tiny_llama / "config.json", _name_or_path="acme/tiny-llama-instruct")
    assert codes(run_rules(tiny_llama, select=["SPT005"])) == ["SPT005"]
    edit(tiny_llama / "config.json", _name_or_path="acme/tiny-llama-base")
    assert run_rules(tiny_llama, select=["SPT005"]) == []


@pytest.mark.parametrize("generation", [4, 5])
def test_end_of_turn_missing_from_eos(tiny_llama, run_rules, generation):
    ids = make_chat_repo(tiny_llama, generation)
    edit(tiny_llama / "generation_config.json", eos_token_id=ids["</s>"])
    findings = run_rules(tiny_llama, select=["SPT006"])
    assert [(f.code, f.path) for f in findings] == [("SPT006", "generation_config.json")]
    assert f"'<|im_end|>' (id {ids['<|im_end|>']})" in findings[0].message
    assert findings[0].fix == f'set "eos_token_id": {sorted([ids["</s>"], ids["<|im_end|>"]])} in generation_config.json'


def test_llama3_eot_id_story(tiny_llama, run_rules):
    # Llama-3-Instruct as first released: the template ends turns with <|eot_id|>, the
    # generation config stops only on <|end_of_text|>.
    from tokenizer_repos import train

    specials = ["<unk>", "<|begin_of_text|>", "<|end_of_text|>", "<pad>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tokenizer = train(specials)
    (tiny_llama / "tokenizer.json").write_text(tokenizer.to_str(), encoding="utf-8")
    ids = {t: tokenizer.token_to_id(t) for t in specials}
    config = read(tiny_llama / "tokenizer_config.json")
    config.update(
        bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>", pad_token="<pad>", add_bos_token=False, chat_template=LLAMA3_LIKE
    )
    config["added_tokens_decoder"] = {str(ids[t]): {"content": t, "special": True} for t in specials}
    write(tiny_llama / "tokenizer_config.json", config)
    write(
        tiny_llama / "special_tokens_map.json",
        {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "pad_token": "<pad>", "unk_token": "<unk>"},
    )
    edit(tiny_llama / "config.json", bos_token_id=ids["<|begin_of_text|>"], eos_token_id=ids["<|end_of_text|>"])
    edit(tiny_llama / "generation_config.json", bos_token_id=ids["<|begin_of_text|>"], eos_token_id=ids["<|end_of_text|>"])
    findings = run_rules(tiny_llama, select=["SPT006"])
    assert {f.path for f in findings} == {"generation_config.json", "tokenizer_config.json"}
    assert all("'<|eot_id|>'" in f.message and "<|end_header_id|>" not in f.message for f in findings)
    # generation_config.json fixed, the tokenizer still says <|end_of_text|>: servers and
    # loops that stop on tokenizer.eos_token_id still run past the turn.
    edit(tiny_llama / "generation_config.json", eos_token_id=[ids["<|end_of_text|>"], ids["<|eot_id|>"]])
    findings = run_rules(tiny_llama, select=["SPT006"])
    assert [(f.code, f.path) for f in findings] == [("SPT006", "tokenizer_config.json")]
    assert "eos_token is '<|end_of_text|>'" in findings[0].message and findings[0].line is not None
    edit(tiny_llama / "tokenizer_config.json", eos_token="<|eot_id|>")
    edit(tiny_llama / "special_tokens_map.json", eos_token="<|eot_id|>")
    assert run_rules(tiny_llama, select=["SPT006"]) == []


@pytest.mark.parametrize("generation", [4, 5])
def test_double_bos(tiny_llama, run_rules, generation):
    make_chat_repo(tiny_llama, generation, template="{{ bos_token }}" + CHATML)
    findings = run_rules(tiny_llama, select=["SPT007"])
    assert codes(findings) == ["SPT007"] and "two BOS" in findings[0].message
    assert findings[0].path == ("chat_template.jinja" if generation == 5 else "tokenizer_config.json")
    edit(tiny_llama / "tokenizer_config.json", add_bos_token=False)
    if generation == 5:  # TokenizersBackend rebuilds the post_processor from add_bos_token
        assert run_rules(tiny_llama, select=["SPT007"]) == []
    else:  # 4.x PreTrainedTokenizerFast ignores the flag: tokenizer.json still prepends <s>
        findings = run_rules(tiny_llama, select=["SPT007"])
        assert codes(findings) == ["SPT007"] and "post_processor" in findings[0].message


def test_double_bos_from_post_processor_and_literal(tiny_llama, run_rules):
    # No add_bos_token: the tokenizer.json post_processor adds <s>, the template writes it literally.
    make_chat_repo(tiny_llama, 4, template="<s>" + CHATML)
    edit(tiny_llama / "tokenizer_config.json", add_bos_token=None)
    findings = run_rules(tiny_llama, select=["SPT007"])
    assert codes(findings) == ["SPT007"] and "post_processor" in findings[0].message


def test_right_padding_on_decoder(tiny_llama, minilm, run_rules):
    edit(tiny_llama / "tokenizer_config.json", padding_side="right")
    findings = run_rules(tiny_llama, select=["SPT008"])
    assert [(f.code, f.line) for f in findings] == [("SPT008", 10)]
    # An encoder padding right (MiniLM's tokenizer.json) is fine.
    assert run_rules(minilm, select=["SPT008"]) == []


def test_model_max_length(tiny_llama, run_rules):
    edit(tiny_llama / "tokenizer_config.json", model_max_length=4096)
    findings = run_rules(tiny_llama, select=["SPT009"])
    assert [(f.code, f.severity) for f in findings] == [("SPT009", "warning")] and "256 positions" in findings[0].message
    edit(tiny_llama / "config.json", rope_scaling={"rope_type": "yarn", "factor": 16.0, "original_max_position_embeddings": 256})
    assert run_rules(tiny_llama, select=["SPT009"]) == []
    edit(tiny_llama / "tokenizer_config.json", model_max_length=1000000000000000019884624838656)
    findings = run_rules(tiny_llama, select=["SPT009"])
    assert [(f.code, f.severity) for f in findings] == [("SPT009", "info")] and "never truncated" in findings[0].message


def _real_tokenizer(repo):
    """The tokenizer transformers itself loads from the repo (ground truth for what the static facts claim)."""
    AutoTokenizer = pytest.importorskip("transformers", exc_type=ImportError).AutoTokenizer

    return AutoTokenizer.from_pretrained(str(repo))


def test_pad_id_only_in_model_configs_llama2_shape(tiny_llama, run_rules):
    # Llama-2-7b-hf as published: config.json and generation_config.json say pad_token_id 0
    # (<unk>), the tokenizer files declare no pad token.
    drop_pad(tiny_llama)
    edit(tiny_llama / "config.json", pad_token_id=0)
    edit(tiny_llama / "generation_config.json", pad_token_id=0)
    with pytest.raises(ValueError, match="padding token"):
        _real_tokenizer(tiny_llama)(["a", "a b c"], padding=True)
    findings = run_rules(tiny_llama, select=["SPT001"])
    assert [(f.code, f.severity, f.path) for f in findings] == [("SPT001", "warning", "tokenizer_config.json")]
    assert "config.json has pad_token_id 0" in findings[0].message and "raises" in findings[0].message
    findings = run_rules(tiny_llama, select=["SPT001"], deploy=Deploy(max_batch_size=8))
    assert [f.severity for f in findings] == ["error"] and "batches up to 8" in findings[0].message


def test_pad_batch_size_from_a_serving_config(tiny_llama, run_rules):
    drop_pad(tiny_llama)
    edit(tiny_llama / "config.json", pad_token_id=0)
    (tiny_llama / "serve.sh").write_text("text-generation-launcher --model-id /data/model --max-batch-size 16\n", encoding="utf-8")
    findings = run_rules(tiny_llama, select=["SPT001"])
    assert [f.severity for f in findings] == ["error"] and "serve.sh" in findings[0].message


def test_pad_in_tokenizer_json_padding_counts(tiny_llama, run_rules):
    # transformers 5 takes the pad token from tokenizer.json's `padding` block
    drop_pad(tiny_llama)
    data = read(tiny_llama / "tokenizer.json")
    data["padding"] = {
        "strategy": "BatchLongest",
        "direction": "Left",
        "pad_to_multiple_of": None,
        "pad_id": 3,
        "pad_type_id": 0,
        "pad_token": "<pad>",
    }
    write(tiny_llama / "tokenizer.json", data)
    assert _real_tokenizer(tiny_llama)(["a", "a b c"], padding=True)["input_ids"][0][0] == 3
    assert run_rules(tiny_llama, select=["SPT001"]) == []


def test_pad_is_eos_names_the_matching_declaration(tiny_llama, run_rules):
    # config.json keeps Llama-2's pad_token_id 0 (<unk>); the tokenizer pads with the eos string
    edit(tiny_llama / "config.json", pad_token_id=0)
    edit(tiny_llama / "generation_config.json", pad_token_id=None)
    edit(tiny_llama / "tokenizer_config.json", pad_token="</s>")
    edit(tiny_llama / "special_tokens_map.json", pad_token="</s>")
    findings = run_rules(tiny_llama, select=["SPT002"])
    assert [(f.path, f.message) for f in findings] == [("tokenizer_config.json", "the pad token is the eos token ('</s>' (id 2))")]


@pytest.mark.parametrize(
    "model_type, tokenizer_class",
    [
        ("llama", "LlamaTokenizerFast"),
        ("llama", "PreTrainedTokenizerFast"),
        ("qwen2", "Qwen2Tokenizer"),
        ("gpt2", "GPT2TokenizerFast"),
        ("gemma", "GemmaTokenizer"),
        ("qwen2", None),
    ],
)
def test_effective_padding_side_matches_transformers(tiny_llama, run_rules, model_type, tokenizer_class):
    # transformers 5 writes no padding_side when it is the class default: the side comes
    # from the class AutoTokenizer picks. The static fact must agree with the real loader.
    from hfcheck.facts import tokenizer as tok
    from hfcheck.repo import RepoView

    edit(tiny_llama / "tokenizer_config.json", padding_side=None, tokenizer_class=tokenizer_class)
    edit(tiny_llama / "config.json", model_type=model_type)
    real = _real_tokenizer(tiny_llama).padding_side
    fact = tok.padding_side(RepoView(tiny_llama))
    assert fact is not None and fact.side == real and fact.key == ()
    findings = run_rules(tiny_llama, select=["SPT008"])
    assert codes(findings) == (["SPT008"] if real == "right" else [])
    if findings:
        assert "padding_side is not set" in findings[0].message and findings[0].path == "tokenizer_config.json"


def test_padding_direction_in_tokenizer_json(tiny_llama, run_rules):
    edit(tiny_llama / "tokenizer_config.json", padding_side=None, tokenizer_class="LlamaTokenizerFast")
    data = read(tiny_llama / "tokenizer.json")
    data["padding"] = {
        "strategy": "BatchLongest",
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 3,
        "pad_type_id": 0,
        "pad_token": "<pad>",
    }
    write(tiny_llama / "tokenizer.json", data)
    assert _real_tokenizer(tiny_llama).padding_side == "right"
    findings = run_rules(tiny_llama, select=["SPT008"])
    assert [(f.path, f.line is not None) for f in findings] == [("tokenizer.json", True)]
