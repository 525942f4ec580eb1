"""WGT013/WGT014: the weights hold every parameter the config implies. Checkpoints are
written with the real safetensors library in the tensor-name shapes of published models
(tiny dims), and the real all-MiniLM-L6-v2 is the clean case."""

import json

import numpy as np
import pytest
from conftest import codes
from safetensors.numpy import load_file, save_file

H, INTER, HEADS, KV, HEAD_DIM, VOCAB, LAYERS = 8, 16, 2, 1, 4, 32, 4


def _llama_like(bias=False, lm_head=True):
    t = {"model.embed_tokens.weight": (VOCAB, H), "model.norm.weight": (H,)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        t |= {p + "self_attn.q_proj.weight": (HEADS * HEAD_DIM, H), p + "self_attn.k_proj.weight": (KV * HEAD_DIM, H),
              p + "self_attn.v_proj.weight": (KV * HEAD_DIM, H), p + "self_attn.o_proj.weight": (H, HEADS * HEAD_DIM),
              p + "mlp.gate_proj.weight": (INTER, H), p + "mlp.up_proj.weight": (INTER, H), p + "mlp.down_proj.weight": (H, INTER),
              p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,)}  # fmt: skip
        if bias:  # Qwen2 has q/k/v biases
            t |= {
                p + "self_attn.q_proj.bias": (HEADS * HEAD_DIM,),
                p + "self_attn.k_proj.bias": (KV * HEAD_DIM,),
                p + "self_attn.v_proj.bias": (KV * HEAD_DIM,),
            }
    if lm_head:
        t["lm_head.weight"] = (VOCAB, H)
    return t


def _decoder_config(model_type, architecture, tied):
    return {"architectures": [architecture], "model_type": model_type, "hidden_size": H, "intermediate_size": INTER, "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS, "num_key_value_heads": KV, "head_dim": HEAD_DIM, "vocab_size": VOCAB, "max_position_embeddings": 64,
            "rms_norm_eps": 1e-6, "tie_word_embeddings": tied, "torch_dtype": "float32"}  # fmt: skip


def _gpt2():
    t = {"wte.weight": (VOCAB, H), "wpe.weight": (64, H), "ln_f.weight": (H,), "ln_f.bias": (H,)}
    for i in range(LAYERS):
        p = f"h.{i}."  # Conv1D weights are [in, out]
        t |= {p + "ln_1.weight": (H,), p + "ln_1.bias": (H,), p + "attn.c_attn.weight": (H, 3 * H), p + "attn.c_attn.bias": (3 * H,),
              p + "attn.c_proj.weight": (H, H), p + "attn.c_proj.bias": (H,), p + "ln_2.weight": (H,), p + "ln_2.bias": (H,),
              p + "mlp.c_fc.weight": (H, 4 * H), p + "mlp.c_fc.bias": (4 * H,), p + "mlp.c_proj.weight": (4 * H, H), p + "mlp.c_proj.bias": (H,)}  # fmt: skip
    return t


def _falcon():
    # tiiuae/falcon-7b names: a family hfcheck has no shape table for
    t = {
        "transformer.word_embeddings.weight": (VOCAB, H),
        "transformer.ln_f.weight": (H,),
        "transformer.ln_f.bias": (H,),
        "lm_head.weight": (VOCAB, H),
    }
    for i in range(LAYERS):
        p = f"transformer.h.{i}."
        t |= {p + "input_layernorm.weight": (H,), p + "input_layernorm.bias": (H,), p + "self_attention.query_key_value.weight": (3 * H, H),
              p + "self_attention.dense.weight": (H, H), p + "mlp.dense_h_to_4h.weight": (4 * H, H), p + "mlp.dense_4h_to_h.weight": (H, 4 * H)}  # fmt: skip
    return t


ARCHS = {
    "llama": (lambda: _llama_like(), _decoder_config("llama", "LlamaForCausalLM", False)),
    "qwen2": (lambda: _llama_like(bias=True), _decoder_config("qwen2", "Qwen2ForCausalLM", False)),
    "gemma": (lambda: _llama_like(lm_head=False), _decoder_config("gemma", "GemmaForCausalLM", True)),
    "gpt2": (_gpt2, {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": H, "n_layer": LAYERS, "n_head": HEADS, "vocab_size": VOCAB, "n_positions": 64}),
    "falcon": (_falcon, {"architectures": ["FalconForCausalLM"], "model_type": "falcon", "hidden_size": H, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
                         "vocab_size": VOCAB, "tie_word_embeddings": False, "new_decoder_architecture": False, "multi_query": False, "parallel_attn": True}),
}  # fmt: skip


def make_repo(path, arch, drop=(), config_changes=None):
    build, config = ARCHS[arch]
    tensors = {name: np.zeros(shape, dtype=np.float32) for name, shape in build().items() if name not in drop}
    path.mkdir(parents=True, exist_ok=True)
    save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps({**config, **(config_changes or {})}, indent=1), encoding="utf-8")
    return path


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_complete_checkpoints_are_clean(tmp_path, run_rules, arch):
    repo = make_repo(tmp_path / arch, arch)
    assert [f for f in run_rules(repo, select=["WGT"]) if f.severity == "error"] == []


def test_real_minilm_is_clean(minilm, run_rules):
    assert run_rules(minilm, select=["WGT013", "WGT014"]) == []


def test_one_layer_lacks_a_projection_llama(tmp_path, run_rules):
    repo = make_repo(tmp_path / "llama", "llama", drop={"model.layers.2.self_attn.v_proj.weight"})
    # ground truth: transformers reports it missing and initialises it randomly
    AutoModelForCausalLM = pytest.importorskip("transformers", exc_type=ImportError).AutoModelForCausalLM
    _, info = AutoModelForCausalLM.from_pretrained(str(repo), output_loading_info=True)
    assert "model.layers.2.self_attn.v_proj.weight" in info["missing_keys"]
    findings = run_rules(repo, select=["WGT"])
    assert codes(findings) == ["WGT013"] and findings[0].severity == "error"
    assert "model.layers.2.self_attn has no v_proj while 3 other layers" in findings[0].message


def test_one_layer_lacks_a_bias_qwen2(tmp_path, run_rules):
    repo = make_repo(tmp_path / "qwen2", "qwen2", drop={"model.layers.1.self_attn.k_proj.bias"})
    findings = run_rules(repo, select=["WGT013"])
    assert [f.message.split(" while")[0] for f in findings] == ["model.layers.1.self_attn.k_proj has no bias"]


def test_one_layer_lacks_its_mlp_gpt2(tmp_path, run_rules):
    repo = make_repo(tmp_path / "gpt2", "gpt2", drop={f"h.3.mlp.{n}" for n in ("c_fc.weight", "c_fc.bias", "c_proj.weight", "c_proj.bias")})
    findings = run_rules(repo, select=["WGT013"])
    assert [f.message.split(" while")[0] for f in findings] == ["h.3 has no mlp"]


def test_projection_missing_from_every_layer(tmp_path, run_rules):
    repo = make_repo(tmp_path / "llama", "llama", drop={f"model.layers.{i}.mlp.up_proj.weight" for i in range(LAYERS)})
    findings = run_rules(repo, select=["WGT013"])
    assert codes(findings) == ["WGT013"] and "model.layers.0.mlp.up_proj.weight" in findings[0].message


def test_fewer_layers_and_no_head_in_an_unknown_family(tmp_path, run_rules):
    repo = make_repo(tmp_path / "falcon", "falcon", drop={n for n in _falcon() if n.startswith("transformer.h.3.")} | {"lm_head.weight"})
    messages = [f.message for f in run_rules(repo, select=["WGT013"])]
    assert any("num_hidden_layers is 4 but transformer.h holds no tensors for layers 3" in m for m in messages)
    assert any("no output head" in m for m in messages)


def test_missing_embedding(tmp_path, run_rules):
    repo = make_repo(tmp_path / "falcon", "falcon", drop={"transformer.word_embeddings.weight"})
    assert any("no token embedding" in f.message for f in run_rules(repo, select=["WGT013"]))


def test_layers_built_differently_by_design_are_not_reported(tmp_path, run_rules):
    # DeepSeek-V3 shape: the first layers are dense (gate/up/down), the rest MoE
    # (gate, experts, shared_experts); T5 shape: only block 0 has relative_attention_bias.
    tensors = {"model.embed_tokens.weight": (VOCAB, H), "lm_head.weight": (VOCAB, H)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        tensors |= {p + f"self_attn.{n}.weight": (H, H) for n in ("q_proj", "kv_a_proj_with_mqa", "o_proj")}
        if i == 0:
            tensors |= {p + f"mlp.{n}.weight": (H, H) for n in ("gate_proj", "up_proj", "down_proj")}
        else:
            tensors |= {p + "mlp.gate.weight": (2, H)} | {
                p + f"mlp.experts.{e}.{n}.weight": (H, H) for e in range(2) for n in ("gate_proj", "up_proj", "down_proj")
            }
            tensors |= {p + f"mlp.shared_experts.{n}.weight": (H, H) for n in ("gate_proj", "up_proj", "down_proj")}
        tensors |= {f"encoder.block.{i}.layer.0.SelfAttention.{n}.weight": (H, H) for n in ("q", "k", "v", "o")}
    tensors["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = (32, HEADS)
    repo = tmp_path / "mixed"
    repo.mkdir()
    save_file({n: np.zeros(s, dtype=np.float32) for n, s in tensors.items()}, repo / "model.safetensors")
    (repo / "config.json").write_text(
        json.dumps(
            {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "num_hidden_layers": LAYERS, "vocab_size": VOCAB}
        )
    )
    assert run_rules(repo, select=["WGT013"]) == []
    # ... while an expert missing from one MoE layer is reported
    tensors.pop("model.layers.2.mlp.experts.1.up_proj.weight")
    save_file({n: np.zeros(s, dtype=np.float32) for n, s in tensors.items()}, repo / "model.safetensors")
    assert [f.message.split(" while")[0] for f in run_rules(repo, select=["WGT013"])] == ["model.layers.2.mlp.experts.1 has no up_proj"]


def test_missing_shard_is_not_missing_tensors(tiny_llama, run_rules):
    from test_weights import shard

    shard(tiny_llama)
    (tiny_llama / "model-00002-of-00002.safetensors").unlink()
    assert run_rules(tiny_llama, select=["WGT013"]) == []


def test_config_and_tokenizer_without_weights(tiny_llama, minilm, run_rules):
    assert run_rules(tiny_llama, select=["WGT014"]) == []
    (tiny_llama / "model.safetensors").unlink()
    findings = run_rules(tiny_llama, select=["WGT"])
    assert [(f.code, f.severity, f.path) for f in findings] == [("WGT014", "error", "config.json")]
    assert load_file is not None
