"""The smoke pass on CPU: the tiny Llama fixture (float16, random weights) and the real
all-MiniLM-L6-v2, clean and with one defect each. Every test loads a real model with
transformers; together they run in about half a minute on two cores."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conftest import codes, invoke  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hfcheck.api import TargetReport, check  # noqa: E402
from hfcheck.config import Settings  # noqa: E402
from hfcheck.findings import Finding  # noqa: E402
from hfcheck.smoke import smoke_target  # noqa: E402


def smoke(path, device="cpu", **options):
    """Static pass, then the smoke pass; returns (smoke findings, SmokeResult)."""
    report = check(path)
    target = report.targets[0]
    result = smoke_target(target, device=device, **options)
    return [f for f in target.findings if f.concern == "smoke"], result


def edit_json(path: Path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2))


def by_code(findings, code):
    return [f for f in findings if f.code == code]


def test_clean_tiny_llama_gives_only_measurements(tiny_llama):
    findings, result = smoke(tiny_llama)
    assert codes(findings) == ["SMK011"]
    assert result.status == "ran" and result.dtype == "float16" and result.kind == "causal-lm"
    assert all(check.ok for check in result.checks.values()), result.checks
    assert set(result.checks) >= {"logits", "generate", "batch", "round_trip"}
    assert result.measure.load_s > 0 and result.measure.tokens_per_s > 0 and result.measure.new_tokens == 8
    assert result.measure.weight_bytes_measured == result.measure.weight_bytes_static
    assert "first token" in findings[0].message and "tokens/s" in findings[0].message


def test_right_padding_is_caught_by_the_batch_check(tiny_llama):
    edit_json(tiny_llama / "tokenizer_config.json", padding_side="right")
    findings, result = smoke(tiny_llama)
    [finding] = by_code(findings, "SMK007")
    assert finding.severity == "error" and finding.path == "tokenizer_config.json" and finding.line is not None
    assert "pads on the right" in finding.message and "differ" in finding.message
    assert result.check("batch").details["max_difference"] > 0.5


def test_pad_id_that_is_a_real_token_is_caught(tiny_llama):
    # bos (id 1) starts every prompt: generate() rebuilds the mask from pad_token_id and hides it
    edit_json(tiny_llama / "config.json", pad_token_id=1)
    edit_json(tiny_llama / "generation_config.json", pad_token_id=1)
    findings, _ = smoke(tiny_llama)
    [finding] = by_code(findings, "SMK007")
    assert finding.path == "generation_config.json" and "pad_token_id 1 is not the tokenizer's pad id 3" in finding.message
    assert "rebuilds from the pad id" in finding.message


def test_real_minilm_runs_forward_pooling_and_batch(minilm):
    findings, result = smoke(minilm)
    assert [f for f in findings if f.severity != "info"] == []
    assert result.kind == "encoder" and result.dtype == "float32"
    assert result.check("logits").ok and result.check("logits").details == {"pooling": "mean", "dim": 384}
    assert result.check("batch").ok and result.check("batch").details["max_difference"] < 1e-3
    assert result.check("round_trip").ok
    assert "encoder float32 on cpu" in by_code(findings, "SMK011")[0].message


def test_security_error_in_static_pass_blocks_the_load(tiny_llama):
    target = TargetReport(
        str(tiny_llama), tiny_llama, [Finding("SEC001", "error", "security", "pickle imports os.system", "model.bin")], Settings()
    )
    result = smoke_target(target, device="cpu")
    assert result.status == "refused" and result.load_kwargs == {}  # never got to from_pretrained
    [finding] = by_code(target.findings, "SMK002")
    assert "security errors (SEC001)" in finding.message


def test_remote_code_is_refused_without_the_flag(tiny_llama):
    edit_json(tiny_llama / "config.json", auto_map={"AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"})
    (tiny_llama / "modeling_custom.py").write_text(
        "from transformers import LlamaForCausalLM\n\n\nclass CustomForCausalLM(LlamaForCausalLM):\n    pass\n"
    )
    findings, result = smoke(tiny_llama)
    assert result.status == "refused"
    assert "--trust-remote-code" in by_code(findings, "SMK002")[0].message


def _to_bin(repo: Path, state_dict) -> None:
    (repo / "model.safetensors").unlink()
    torch.save(state_dict, repo / "pytorch_model.bin")


def test_pickle_weights_load_with_weights_only(tiny_llama):
    from safetensors.torch import load_file

    _to_bin(tiny_llama, load_file(tiny_llama / "model.safetensors"))
    findings, result = smoke(tiny_llama)
    assert result.load_kwargs["use_safetensors"] == "False" and result.load_error is None
    assert codes(findings) == ["SMK011"]


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_payload_never_runs(tiny_llama, tmp_path):
    from safetensors.torch import load_file

    marker = tmp_path / "pwned"
    state = load_file(tiny_llama / "model.safetensors")
    state["payload"] = _Payload(marker)
    _to_bin(tiny_llama, state)
    findings, _ = smoke(tiny_llama)
    assert not marker.exists()
    # the static pass already names the payload, so the smoke pass refuses to load at all
    [refused] = by_code(findings, "SMK002")
    assert "security errors (SEC001" in refused.message
    # and past that gate, the loader itself refuses the pickle (weights_only=True)
    from hfcheck.smoke.runner import run_smoke

    result = run_smoke(tiny_llama, device="cpu")
    assert not marker.exists()
    assert "weights_only=True) refused the pickle: it calls io.open" in result.load_error


def test_missing_weight_is_reported(tiny_llama):
    from safetensors.torch import load_file, save_file

    state = load_file(tiny_llama / "model.safetensors")
    del state["model.layers.1.mlp.down_proj.weight"]
    save_file(state, tiny_llama / "model.safetensors", metadata={"format": "pt"})
    findings, _ = smoke(tiny_llama)
    [finding] = by_code(findings, "SMK004")
    assert finding.severity == "error" and "1 missing weight keys" in finding.message and "down_proj" in finding.message


def test_nan_weights_give_non_finite_logits(tiny_llama):
    from safetensors.torch import load_file, save_file

    state = load_file(tiny_llama / "model.safetensors")
    state["model.norm.weight"] = torch.full_like(state["model.norm.weight"], float("nan"))
    save_file(state, tiny_llama / "model.safetensors", metadata={"format": "pt"})
    findings, _ = smoke(tiny_llama)
    [finding] = by_code(findings, "SMK005")
    assert "NaN or inf" in finding.message


def test_chat_template_that_does_not_render(tiny_llama):
    edit_json(tiny_llama / "tokenizer_config.json", chat_template="{% for m in messages %}{{ m['content'] | no_such_filter }}{% endfor %}")
    findings, _ = smoke(tiny_llama)
    [finding] = by_code(findings, "SMK008")
    assert "does not render" in finding.message and finding.path == "tokenizer_config.json"


def test_working_chat_template_passes(tiny_llama):
    edit_json(
        tiny_llama / "tokenizer_config.json",
        chat_template="{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}{% if add_generation_prompt %}<s>assistant:{% endif %}",
    )
    findings, result = smoke(tiny_llama)
    assert result.check("chat_template").ok and codes(findings) == ["SMK011"]


def test_tokenizer_without_decoder_fails_round_trip(tiny_llama):
    edit_json(tiny_llama / "tokenizer.json", decoder=None)
    findings, _ = smoke(tiny_llama)
    [finding] = by_code(findings, "SMK009")
    assert finding.severity == "warning" and "decode then encode" in finding.message


def test_config_dtype_that_is_not_the_weights_dtype_is_an_upcast(tiny_llama):
    edit_json(tiny_llama / "config.json", torch_dtype="float32")
    findings, result = smoke(tiny_llama)
    assert result.dtype == "float32"
    [finding] = by_code(findings, "SMK010")
    assert "an upcast" in finding.message and "config dtype float32" in finding.message


@pytest.mark.skipif(torch.cuda.is_available(), reason="auto picks the GPU here")
def test_auto_without_gpu_is_one_info_finding(tiny_llama):
    findings, result = smoke(tiny_llama, device="auto")
    assert result.status == "skipped"
    assert [(f.code, f.severity) for f in findings] == [("SMK001", "info")]


def test_cli_smoke_flag_exit_codes_and_json(tiny_llama):
    clean = invoke("--smoke", "--device", "cpu", "--format", "json", tiny_llama)
    assert clean.exit_code == 0, clean.output
    assert "SMK011" in clean.stdout and "loading the model on cpu" in clean.stderr
    edit_json(tiny_llama / "tokenizer_config.json", padding_side="right")
    broken = invoke("--smoke", "--device", "cpu", tiny_llama)
    assert broken.exit_code == 1 and "SMK007" in broken.stdout
    static = invoke(tiny_llama)  # no --smoke: no SMK finding, no load
    assert "SMK" not in static.stdout


def test_the_model_is_loaded_the_way_the_deployment_loads_it(tiny_llama):
    (tiny_llama / "serve.py").write_text(
        "import torch\nfrom transformers import AutoModelForCausalLM\n\n"
        "model = AutoModelForCausalLM.from_pretrained('.', torch_dtype=torch.float32, attn_implementation='eager', device_map='auto')\n"
    )
    findings, result = smoke(tiny_llama)
    assert result.dtype == "float32" and result.load_source == "serve.py:4"  # the fixture is stored as float16
    assert result.load_kwargs["attn_implementation"] == "eager" and "device_map" not in result.load_kwargs
    [measurements] = by_code(findings, "SMK011")
    assert "loaded as serve.py:4 does (device_map not replayed on cpu)" in measurements.message
    # The defaults only, when the caller says so.
    _, result = smoke(tiny_llama, load_kwargs={})
    assert result.dtype == "float16" and result.load_source is None


def test_a_deployment_kwarg_that_cannot_load_is_a_load_failure(tiny_llama):
    (tiny_llama / "serve.py").write_text(
        "from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained('.', attn_implementation='no_such_attention')\n"
    )
    findings, result = smoke(tiny_llama)
    [failure] = by_code(findings, "SMK003")
    assert "as serve.py:2 loads it" in failure.message and "no_such_attention" in failure.message


def test_generation_that_fails_is_smk006(tiny_llama):
    # A generation_config.json copied from a model with a larger vocabulary (mBART-style
    # forced_eos_token_id): the forward pass is fine, but generate() indexes the logits
    # with the id at the last step and fails.
    edit_json(tiny_llama / "generation_config.json", forced_eos_token_id=250_001)
    findings, result = smoke(tiny_llama)
    assert result.checks["logits"].ok
    [finding] = by_code(findings, "SMK006")
    assert finding.severity == "error" and "greedy generation fails" in finding.message and finding.path == "generation_config.json"
    edit_json(tiny_llama / "generation_config.json", forced_eos_token_id=None)
    findings, _ = smoke(tiny_llama)
    assert by_code(findings, "SMK006") == []
