import json

from conftest import codes


def test_clean_fixture_has_no_findings(tiny_llama, run_rules):
    assert run_rules(tiny_llama) == []


def test_minilm_has_no_config_errors(minilm, run_rules):
    assert [f for f in run_rules(minilm, select=["CFG"]) if f.severity == "error"] == []


def test_config_missing_beside_transformers_weights(tiny_llama, run_rules):
    (tiny_llama / "config.json").unlink()
    findings = run_rules(tiny_llama, select=["CFG001"])
    assert codes(findings) == ["CFG001"]
    assert findings[0].path == "model.safetensors"
    assert "config.json is missing" in findings[0].message


def test_config_missing_not_reported_for_adapters_or_other_libraries(tiny_llama, run_rules):
    (tiny_llama / "config.json").unlink()
    (tiny_llama / "adapter_config.json").write_text('{"base_model_name_or_path": "x"}')
    assert run_rules(tiny_llama, select=["CFG001"]) == []
    (tiny_llama / "adapter_config.json").unlink()
    card = (tiny_llama / "README.md").read_text().replace("library_name: transformers", "library_name: timm")
    (tiny_llama / "README.md").write_text(card)
    assert run_rules(tiny_llama, select=["CFG001"]) == []


def test_config_missing_from_card_alone(tiny_llama, run_rules):
    (tiny_llama / "config.json").unlink()
    (tiny_llama / "model.safetensors").unlink()
    findings = run_rules(tiny_llama, select=["CFG001"])
    assert [(f.code, f.path, f.line) for f in findings] == [("CFG001", "README.md", 3)]


def test_invalid_json_reports_line_and_column(tiny_llama, run_rules):
    text = (tiny_llama / "config.json").read_text()
    (tiny_llama / "config.json").write_text(text.replace('"model_type": "llama",', '"model_type": "llama",,'))
    findings = run_rules(tiny_llama, select=["CFG"])
    assert codes(findings) == ["CFG002"]
    assert findings[0].line == 5 and "column" in findings[0].message


def test_nan_in_json_is_a_warning(tiny_llama, run_rules):
    (tiny_llama / "extra.json").write_text('{"x": NaN}')
    findings = run_rules(tiny_llama, select=["CFG002"])
    assert [(f.code, f.severity) for f in findings] == [("CFG002", "warning")]


def test_model_type_and_architectures(tiny_llama, run_rules):
    config = json.loads((tiny_llama / "config.json").read_text())
    del config["model_type"]
    config["architectures"] = "LlamaForCausalLM"
    (tiny_llama / "config.json").write_text(json.dumps(config, indent=2))
    findings = run_rules(tiny_llama, select=["CFG003"])
    assert [f.severity for f in findings] == ["error", "error"]
    assert any("no model_type" in f.message for f in findings)
    shape = next(f for f in findings if "architectures" in f.message)
    assert shape.line == 2


def test_config_not_an_object(tiny_llama, run_rules):
    (tiny_llama / "config.json").write_text("[1, 2]")
    assert codes(run_rules(tiny_llama, select=["CFG003"])) == ["CFG003"]


def test_duplicate_keys_with_line(tiny_llama, run_rules):
    (tiny_llama / "generation_config.json").write_text(
        '{\n  "do_sample": false,\n  "nested": {"a": 1,\n "a": 2},\n  "do_sample": true\n}\n'
    )
    findings = run_rules(tiny_llama, select=["CFG004"])
    assert sorted((f.line, f.message.split("'")[1]) for f in findings) == [(4, "a"), (5, "do_sample")]


def _set_config(repo, **values):
    config = json.loads((repo / "config.json").read_text())
    config.update(values)
    (repo / "config.json").write_text(json.dumps(config, indent=2))


def test_unknown_model_type_suggests_the_close_one(tiny_llama, run_rules):
    _set_config(tiny_llama, model_type="Llama")
    [finding] = run_rules(tiny_llama, select=["CFG005"])
    assert (finding.severity, finding.path) == ("warning", "config.json")
    assert finding.line > 1  # the model_type line of the indented config
    assert "'Llama' is not known" in finding.message and 'did you mean "llama"' in finding.fix


def test_removed_model_type_says_which_release_has_it(tiny_llama, run_rules):
    _set_config(tiny_llama, model_type="transfo-xl")
    [finding] = run_rules(tiny_llama, select=["CFG005"])
    assert "removed from transformers after 4.57.6" in finding.message and "transformers==4.57.6" in finding.fix


def test_unknown_model_type_with_remote_code_or_another_library_is_fine(tiny_llama, run_rules):
    _set_config(tiny_llama, model_type="acme_lm", auto_map={"AutoConfig": "configuration_acme.AcmeConfig"})
    assert run_rules(tiny_llama, select=["CFG005"]) == []
    _set_config(tiny_llama, auto_map=None)
    card = (tiny_llama / "README.md").read_text().replace("library_name: transformers", "library_name: span-marker")
    (tiny_llama / "README.md").write_text(card)
    assert run_rules(tiny_llama, select=["CFG005"]) == []


def test_real_model_types_are_known(minilm, run_rules):
    assert run_rules(minilm, select=["CFG005"]) == []
