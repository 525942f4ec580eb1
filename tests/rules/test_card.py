import json

import pytest
from card_repos import BODY, tiny_card, write_card, write_json
from conftest import codes


def test_clean_fixtures(tiny_llama, minilm, run_rules):
    assert run_rules(tiny_llama, select=["CRD", "LIC"]) == []
    findings = run_rules(minilm, select=["CRD", "LIC"])
    assert not [f for f in findings if f.severity == "error"]
    # The real card: no limitations or evaluation section, and config.json's
    # _name_or_path says it is a fine-tune of nreimers/MiniLM-L6-H384-uncased.
    assert codes(findings) == ["CRD005", "CRD005", "CRD006"]
    assert {f.message for f in findings if f.code == "CRD005"} == {
        "the card has no 'limitations' section (no heading mentions it)",
        "the card has no 'evaluation' section (no heading mentions it)",
    }
    assert "nreimers/MiniLM-L6-H384-uncased" in next(f.fix for f in findings if f.code == "CRD006")


# -- CRD001 ----------------------------------------------------------------------------


def test_missing_readme_is_reported_once(tiny_llama, run_rules):
    (tiny_llama / "README.md").unlink()
    (tiny_llama / "LICENSE").write_text("Permission is hereby granted, free of charge, to any person obtaining a copy of this software\n")
    findings = run_rules(tiny_llama, select=["CRD", "LIC"])
    assert codes(findings) == ["CRD001"]
    assert findings[0].severity == "error" and "README.md is missing" in findings[0].message


# -- CRD002 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "line"),
    [
        ("# model\n\nno metadata\n", "no YAML metadata block", 1),
        ("---\nlicense: mit\n\n# model\n", "never closed", 1),
        ("---\nlicense: mit\ntags: [a, b\nlibrary_name: x\n---\n# model\n", "not valid YAML at line", 4),
        ("---\n- license\n- mit\n---\n# model\n", "must be a mapping of keys, not list", 2),
    ],
)
def test_broken_front_matter(tiny_llama, run_rules, text, words, line):
    (tiny_llama / "README.md").write_text(text + BODY)
    (tiny_llama / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n")
    findings = run_rules(tiny_llama, select=["CRD", "LIC"])
    assert codes(findings) == ["CRD002"]  # the rules that read metadata stay silent
    assert words in findings[0].message and findings[0].line == line


def test_no_readable_license_and_no_license_file(tiny_llama, run_rules):
    # Broken metadata and no LICENSE file: nothing in the repo grants a license, which a
    # `select = ["license"]` gate must see; with a LICENSE file CRD002 alone speaks (above).
    (tiny_llama / "README.md").write_text("# model\n" + BODY)
    findings = run_rules(tiny_llama, select=["CRD", "LIC"])
    assert codes(findings) == ["CRD002", "LIC001"] and "no license anywhere" in findings[1].message
    (tiny_llama / "README.md").unlink()
    findings = run_rules(tiny_llama, select=["CRD", "LIC"])
    assert codes(findings) == ["CRD001", "LIC001"] and "no model card (README.md) and no LICENSE file" in findings[1].message


# -- CRD003 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("tags: llama", "'tags' must be a list of strings, not str 'llama'"),
        ("language: 42", "'language' must be a language code or a list of them, not int 42"),
        ("datasets: wikitext", "'datasets' must be a list of dataset ids"),
        ("base_model: {name: x}", "'base_model' must be a model id or a list of them"),
        ("model-index: {name: x}", "'model-index' does not match the Hub's schema: it must be a non-empty list"),
        ("model-index:\n- name: x", "'model-index' does not match the Hub's schema: an entry lacks the required key 'results'"),
        (
            "model-index:\n- name: x\n  results:\n  - task: {type: text-generation}\n    dataset: {type: wikitext}\n    metrics: []",
            "lacks the required key 'name'",
        ),
    ],
)
def test_metadata_of_the_wrong_shape(tiny_llama, run_rules, extra, words):
    write_card(tiny_llama, tiny_card() + "\n" + extra)
    findings = run_rules(tiny_llama, select=["CRD"])
    assert codes(findings) == ["CRD003"] and findings[0].severity == "warning"
    assert words in findings[0].message
    assert findings[0].line == 5  # the key's line: after ---, license, library_name, pipeline_tag


def test_valid_metadata_shapes(tiny_llama, run_rules):
    model_index = "model-index:\n- name: tiny\n  results:\n  - task: {type: text-generation}\n    dataset: {type: wikitext, name: WikiText}\n    metrics:\n    - {type: perplexity, value: 12.5}"
    write_card(tiny_llama, tiny_card() + "\nlanguage: [en, fr]\ntags: [a]\ndatasets: [wikitext]\nbase_model: [a/b, c/d]\n" + model_index)
    assert run_rules(tiny_llama, select=["CRD"]) == []


# -- CRD004 ----------------------------------------------------------------------------


def test_pipeline_tag_and_library_name_missing(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(pipeline_tag=None, library_name=None))
    findings = run_rules(tiny_llama, select=["CRD"])
    assert codes(findings) == ["CRD004", "CRD004"] and {f.severity for f in findings} == {"info"}
    assert any("no pipeline_tag" in f.message for f in findings) and any("no library_name" in f.message for f in findings)


# -- CRD005 ----------------------------------------------------------------------------


def test_missing_sections(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(), "# model\n\n## Usage\n\nCall it.\n\n## Training procedure\n\nAdamW.\n")
    findings = run_rules(tiny_llama, select=["CRD"])
    assert codes(findings) == ["CRD005"] * 4
    assert all(f.severity == "warning" for f in findings)
    assert "## Bias, Risks, and Limitations" in next(f.fix for f in findings if "'limitations'" in f.message)


def test_sections_found_by_synonyms(tiny_llama, run_rules):
    body = (
        "# model\n\nOut-of-Scope Use\n----------------\n\nNo.\n\n**Bias, risks & caveats**\n\nMany.\n\n"
        "<h2>The Dataset</h2>\n\n### 4.2 Results\n\n| a |\n|---|\n\n```\n## Evaluation inside a code block\n```\n"
    )
    write_card(tiny_llama, tiny_card(), body)
    assert run_rules(tiny_llama, select=["CRD005"]) == []


def test_heading_in_code_block_is_not_a_section(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(), BODY.replace("## Evaluation", "```\n## Evaluation\n```"))
    findings = run_rules(tiny_llama, select=["CRD005"])
    assert [f.message for f in findings] == ["the card has no 'evaluation' section (no heading mentions it)"]


def test_required_sections_are_configurable(tiny_llama, run_rules):
    (tiny_llama / ".hfcheck.yaml").write_text("options:\n  card:\n    required_sections: [evaluation, environmental impact]\n")
    findings = run_rules(tiny_llama, select=["CRD", "HFC002"])
    assert [f.message for f in findings] == ["the card has no 'environmental impact' section (no heading mentions it)"]
    write_card(tiny_llama, tiny_card(), BODY + "\n## Environmental Impact\n\nSmall.\n")
    assert run_rules(tiny_llama, select=["CRD", "HFC002"]) == []


# -- CRD006 / CRD007 -------------------------------------------------------------------


def test_adapter_without_base_model(tiny_llama, run_rules):
    write_json(tiny_llama / "adapter_config.json", {"peft_type": "LORA", "base_model_name_or_path": "meta-llama/Llama-3.1-8B", "r": 8})
    findings = run_rules(tiny_llama, select=["CRD"])
    assert codes(findings) == ["CRD006"] and findings[0].severity == "warning"
    assert "an adapter" in findings[0].message and findings[0].fix == "add `base_model: meta-llama/Llama-3.1-8B` to the card's metadata"
    write_card(tiny_llama, tiny_card(base_model="Meta-Llama/Llama-3.1-8B"))  # Hub ids are case-insensitive
    assert run_rules(tiny_llama, select=["CRD"]) == []


def test_adapter_base_differs_from_card(tiny_llama, run_rules):
    write_json(tiny_llama / "adapter_config.json", {"peft_type": "LORA", "base_model_name_or_path": "meta-llama/Llama-3.1-8B"})
    write_card(tiny_llama, tiny_card(base_model="mistralai/Mistral-7B-v0.1"))
    findings = run_rules(tiny_llama, select=["CRD"])
    assert codes(findings) == ["CRD007"] and findings[0].severity == "error"
    assert "mistralai/Mistral-7B-v0.1" in findings[0].message and "'meta-llama/Llama-3.1-8B'" in findings[0].message
    assert findings[0].line == 5


def test_adapter_with_local_base_path(tiny_llama, run_rules):
    write_json(tiny_llama / "adapter_config.json", {"peft_type": "LORA", "base_model_name_or_path": "/home/me/llama"})
    assert "local path" in run_rules(tiny_llama, select=["CRD"])[0].message
    write_card(tiny_llama, tiny_card(base_model="meta-llama/Llama-3.1-8B"))
    assert run_rules(tiny_llama, select=["CRD"]) == []  # a local path cannot be compared


@pytest.mark.parametrize(
    ("name_or_path", "warned"),
    [
        ("meta-llama/Llama-3.1-8B", True),
        ("/scratch/run1/final", False),
        ("./out", False),
        ("output/checkpoint-500", False),
        ("someone/tiny-llama", False),  # its own name: saved from where it is published
        ("", False),
    ],
)
def test_fine_tune_named_in_config(tiny_llama, run_rules, name_or_path, warned):
    config = json.loads((tiny_llama / "config.json").read_text())
    write_json(tiny_llama / "config.json", {**config, "_name_or_path": name_or_path})
    findings = run_rules(tiny_llama, select=["CRD"])
    assert codes(findings) == (["CRD006"] if warned else [])
    if warned:
        assert "a fine-tune (config.json _name_or_path names 'meta-llama/Llama-3.1-8B')" in findings[0].message


def test_no_card_no_other_card_findings(tmp_path, run_rules):
    (tmp_path / "adapter_config.json").write_text('{"base_model_name_or_path": "a/b"}')
    assert codes(run_rules(tmp_path, select=["CRD"])) == ["CRD001"]


def test_folder_without_model_files_needs_no_card(tmp_path, run_rules):
    (tmp_path / "requirements.txt").write_text("vllm==0.6.3\n")
    (tmp_path / "Dockerfile").write_text("FROM python:3.11\n")
    assert run_rules(tmp_path, select=["CRD", "LIC"]) == []
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert codes(run_rules(tmp_path, select=["CRD", "LIC"])) == ["CRD001", "LIC001"]


def test_official_repo_in_the_hf_cache_layout_needs_no_base_model(tmp_path, run_rules):
    # meta-llama/Llama-2-7b-hf as huggingface_hub caches it: config.json's _name_or_path is
    # the repo's own id, and the folder is named by the commit, not the repo.
    import shutil

    from conftest import FIXTURES

    snapshot = tmp_path / "hub" / "models--meta-llama--Llama-2-7b-hf" / "snapshots" / ("0123abcd" * 5)
    shutil.copytree(FIXTURES / "tiny-llama", snapshot)
    config = json.loads((snapshot / "config.json").read_text())
    write_json(snapshot / "config.json", {**config, "_name_or_path": "meta-llama/Llama-2-7b-hf"})
    assert run_rules(snapshot, select=["CRD006"]) == []
    # a fine-tune of it cached the same way is still told
    write_json(snapshot / "config.json", {**config, "_name_or_path": "meta-llama/Llama-2-13b-hf"})
    assert codes(run_rules(snapshot, select=["CRD006"])) == ["CRD006"]


def test_cache_repo_id():
    from hfcheck.facts.card import cache_repo_id

    assert cache_repo_id("/h/hub/models--Qwen--Qwen2.5-7B-Instruct/snapshots/abc") == "Qwen/Qwen2.5-7B-Instruct"
    assert cache_repo_id("/h/hub/datasets--org--name/snapshots/abc") is None
    assert cache_repo_id("/h/models--org--name") is None
