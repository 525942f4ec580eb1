import pytest
from conftest import codes
from tokenizer_repos import edit, make_chat_repo


def test_clean_fixtures(tiny_llama, minilm, run_rules):
    assert run_rules(tiny_llama, select=["GEN"]) == []
    assert run_rules(minilm, select=["GEN"]) == []


@pytest.mark.parametrize("generation", [4, 5])
def test_sampling_chat_config_is_clean(tiny_llama, run_rules, generation):
    make_chat_repo(tiny_llama, generation)
    assert run_rules(tiny_llama, select=["GEN"]) == []


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"do_sample": True, "temperature": 0}, "temperature is 0: sampling needs a temperature > 0"),
        ({"do_sample": True, "top_p": 1.5}, "top_p must be in (0, 1]"),
        ({"do_sample": True, "top_p": 0}, "top_p must be in (0, 1]"),
        ({"top_k": -1}, "top_k must be >= 0"),
        ({"repetition_penalty": 0}, "repetition_penalty must be > 0"),
        ({"max_new_tokens": 0}, "max_new_tokens must be at least 1"),
        ({"max_length": 10, "min_length": 20}, "min_length is above max_length"),
        ({"do_sample": True, "temperature": "0.7"}, "temperature must be a number, not '0.7'"),
        ({"max_new_tokens": 12.5}, "max_new_tokens must be an integer"),
    ],
)
def test_invalid_values(tiny_llama, run_rules, changes, words):
    edit(tiny_llama / "generation_config.json", **changes)
    findings = run_rules(tiny_llama, select=["GEN001"])
    assert codes(findings) == ["GEN001"] and findings[0].severity == "error"
    assert words in findings[0].message
    assert findings[0].line is not None


def test_temperature_zero_without_sampling_is_not_invalid(tiny_llama, run_rules):
    edit(tiny_llama / "generation_config.json", temperature=0.0)
    assert run_rules(tiny_llama, select=["GEN001"]) == []


def test_max_length_beyond_positions_is_a_warning(tiny_llama, run_rules):
    edit(tiny_llama / "generation_config.json", max_length=4096)
    findings = run_rules(tiny_llama, select=["GEN001"])
    assert [(f.code, f.severity) for f in findings] == [("GEN001", "warning")] and "256 positions" in findings[0].message


def test_sampling_parameters_without_do_sample(tiny_llama, run_rules):
    edit(tiny_llama / "generation_config.json", temperature=0.6, top_p=0.9, top_k=50)
    findings = run_rules(tiny_llama, select=["GEN002"])
    assert [(f.code, f.severity) for f in findings] == [("GEN002", "warning")]
    assert "temperature=0.6, top_p=0.9" in findings[0].message and "top_k" not in findings[0].message  # 50 is the default
    assert "do_sample is false" in findings[0].message
    edit(tiny_llama / "generation_config.json", do_sample=None)
    assert "absent (false)" in run_rules(tiny_llama, select=["GEN002"])[0].message
    edit(tiny_llama / "generation_config.json", do_sample=True)
    assert run_rules(tiny_llama, select=["GEN002"]) == []


def test_generation_token_ids_out_of_range(tiny_llama, run_rules):
    edit(tiny_llama / "generation_config.json", eos_token_id=[2, 320], pad_token_id=-1, bos_token_id="<s>")
    findings = run_rules(tiny_llama, select=["GEN003"])
    assert [f.code for f in findings] == ["GEN003"] * 3 and all(f.severity == "error" for f in findings)
    messages = " | ".join(f.message for f in findings)
    assert "eos_token_id 320 is out of range" in messages and "vocab_size 320" in messages
    assert "pad_token_id -1 is out of range" in messages
    assert "bos_token_id must be an integer" in messages
