"""GPU memory a deployment needs, estimated from headers and config alone, and the serving
envelope (batch x length) it declares.

One estimate serves the static check (DMP005, DMP004) and the smoke pass, which reports
it beside the peak it measures. The model of a transformers prefill of `batch x seq_len`
tokens followed by a few greedy decode steps, all in inference mode:

    peak = weights + kv_cache + activations

- weights: exact tensor bytes from the safetensors headers at the dtype the deployment
  loads (quantized linear layers at their bit width);
- kv_cache: 2 x layers x kv_heads x head_dim x batch x (seq_len + new_tokens) x bytes
  (decoders only; encoders keep no cache);
- activations: the live tensors of the widest moment of one layer's forward pass, for
  every token of the batch at once. Per token, in units of the load dtype:
  2 x hidden (the residual stream and the layer's normed input) plus the larger of
    the attention phase: 3 x hidden + 4 x kv_heads x head_dim (q, its rotary copy, the
    attention output; k and v with their rotary copies), and
    the MLP phase: hidden + 3 x intermediate for gated MLPs (the activated gate, up,
    their product), 2 x intermediate for plain ones (up, the activation), 4 x for plain
    ones whose activation is a composition of Python ops (GPT-2's gelu_new);
  eager attention adds the score matrix: batch x heads x seq_len^2 x (4 + bytes), since
  the softmax runs in float32 (sdpa and flash attention need no such matrix).
  Plus the last position's logits in float32 (batch x vocab x 4), which is all that
  generate() computes at prefill, and cuBLAS's 32 MiB workspace.

The coefficients are structural, counted from transformers' Llama/BERT forward code, not
fitted. benchmarks/envelope_proof.py measures the real peak on a GPU and
benchmarks/envelope_table.py compares (docs/smoke.md has the table and the known limits:
sliding-window and hybrid caches, MoE experts, vision towers and quantization kernels'
workspaces are not modelled).
"""

from __future__ import annotations

from typing import NamedTuple

from hfcheck.facts.config import positive_int
from hfcheck.facts.weights import all_tensors

GiB = 1 << 30
FLOAT_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
DTYPE_BYTES = {"float16": 2, "fp16": 2, "half": 2, "bfloat16": 2, "bf16": 2, "float32": 4, "fp32": 4, "float": 4, "float8": 1, "fp8": 1}
# Activations transformers writes as a composition of elementwise Python ops (NewGELU's
# 0.5 * x * (1 + tanh(c * (x + 0.044715 * x^3)))): besides their input, three
# intermediate-sized temporaries are alive at once. Fused ones (nn.GELU, nn.SiLU) make one.
COMPOSITE_ACTIVATIONS = ("gelu_new", "gelu_fast", "quick_gelu", "gelu_python", "gelu_accurate")
GATE_TENSORS = ("gate_proj", "gate_up_proj", ".w3.", "gated_layers")
DECODE_STEPS = 4  # the decode steps the smoke pass runs after the envelope's prefill
# cuBLAS/cuBLASLt workspace: PyTorch allocates it through its caching allocator (so it is
# in max_memory_allocated), 32 MiB per handle on Hopper (ATen's CublasHandlePool).
CUBLAS_WORKSPACE_BYTES = 32 << 20


def dtype_bytes(value) -> int | None:
    """Bytes per element of a dtype as a deployment writes it ("bfloat16", "torch.float16")."""
    if not isinstance(value, str):
        return None
    return DTYPE_BYTES.get(value.replace("torch.", "").lower())


class Envelope(NamedTuple):
    """The batch and length a deployment promises to serve, and where it says so."""

    batch: int
    seq_len: int
    source: str


class MemoryEstimate(NamedTuple):
    weights: int
    kv_cache: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations

    def describe(self) -> str:
        return f"weights {gib(self.weights)} + KV cache {gib(self.kv_cache)} + activations {gib(self.activations)} = {gib(self.total)}"


def gib(n: float) -> str:
    return f"{n / GiB:.2f} GiB"


def weight_bytes(repo, *, dtype_bytes: int | None = None, quant_bits: int | None = None) -> int:
    """Bytes the weights take once loaded at `dtype_bytes` (None: as stored), with 2-D
    linear weights quantized to `quant_bits` when given."""
    total = 0
    for name, (_shard, info) in all_tensors(repo).items():
        if info.dtype not in FLOAT_BYTES:
            total += info.nbytes  # already quantized or integer: loaded as stored
            continue
        per = dtype_bytes or FLOAT_BYTES[info.dtype]
        quantizable = (
            len(info.shape) == 2 and name.endswith(".weight") and not any(k in name for k in ("embed", "lm_head", "norm", "wte", "wpe"))
        )
        if quant_bits and quantizable:
            total += info.numel * quant_bits // 8
        else:
            total += info.numel * per
    return total


def stored_float_bytes(repo) -> int | None:
    """Bytes per element of the stored floating weights (the dtype "auto" loads), or None."""
    for _name, (_shard, info) in all_tensors(repo).items():
        if info.dtype in FLOAT_BYTES:
            return FLOAT_BYTES[info.dtype]
    return None


class _Shape(NamedTuple):
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    mlp_width: int  # intermediate-sized tensors alive at the MLP's widest moment
    decoder: bool


def _shape(config: dict, tensor_names) -> _Shape | None:
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    layers = positive_int(text, "num_hidden_layers", "n_layer", "num_layers")
    hidden = positive_int(text, "hidden_size", "n_embd", "d_model")
    heads = positive_int(text, "num_attention_heads", "n_head")
    if not (layers and hidden and heads):
        return None
    kv_heads = positive_int(text, "num_key_value_heads") or heads
    head_dim = positive_int(text, "head_dim") or hidden // heads
    intermediate = positive_int(text, "intermediate_size", "n_inner", "ffn_dim") or 4 * hidden
    activation = str(text.get("hidden_act") or text.get("activation_function") or "")
    architectures = " ".join(a for a in config.get("architectures") or [] if isinstance(a, str))
    decoder = any(k in architectures for k in ("CausalLM", "LMHeadModel", "ConditionalGeneration")) or bool(config.get("is_decoder"))
    # Gated MLPs (Llama, Mistral, Qwen, Gemma, Phi-3) have a gate projection in the weights; GPT-2/BERT MLPs do not.
    if any(marker in name for name in tensor_names for marker in GATE_TENSORS):
        width = 3
    else:
        width = 4 if activation in COMPOSITE_ACTIVATIONS else 2
    return _Shape(layers, hidden, heads, kv_heads, head_dim, intermediate, positive_int(text, "vocab_size") or 0, width, decoder)


def estimate(
    repo,
    *,
    batch: int,
    seq_len: int,
    dtype_bytes: int | None = None,
    quant_bits: int | None = None,
    attn_implementation: str | None = None,
    new_tokens: int = DECODE_STEPS,
) -> MemoryEstimate | None:
    """Peak memory of serving `batch` sequences of `seq_len` tokens (see the module doc),
    or None when the config does not give the model's shape."""
    shape = _shape(repo.config or {}, all_tensors(repo))
    if shape is None:
        return None
    weights = weight_bytes(repo, dtype_bytes=dtype_bytes, quant_bits=quant_bits)
    per = dtype_bytes or stored_float_bytes(repo) or 2
    tokens = batch * seq_len
    kv_width = shape.kv_heads * shape.head_dim
    kv = 2 * shape.layers * kv_width * batch * (seq_len + new_tokens) * per if shape.decoder else 0
    attention = 3 * shape.hidden + 4 * kv_width
    mlp = shape.hidden + shape.mlp_width * shape.intermediate
    activations = tokens * per * (2 * shape.hidden + max(attention, mlp))
    if attn_implementation == "eager":
        activations += batch * shape.heads * seq_len * seq_len * (4 + per)
    if shape.decoder:
        activations += batch * shape.vocab * 4
    return MemoryEstimate(weights, kv, activations + CUBLAS_WORKSPACE_BYTES)


def serving_envelope(repo) -> Envelope | None:
    """The batch x length the deployment declares: hfcheck's deploy settings first, then a
    serving config that gives both (TGI MAX_BATCH_SIZE + MAX_TOTAL_TOKENS, vLLM
    --max-num-seqs + --max-model-len)."""
    from hfcheck.facts import deploy

    settings = repo.settings.deploy if repo.settings is not None else None
    if settings is not None and settings.max_batch_size and settings.max_seq_len:
        return Envelope(
            settings.max_batch_size,
            settings.max_seq_len,
            f"{repo.settings.source or 'settings'}: deploy.max_batch_size x deploy.max_seq_len",
        )
    for serving in deploy.servings(repo):
        batch, length = deploy.as_int(serving.get("max_batch")), deploy.as_int(serving.get("max_len"))
        if batch and length:
            return Envelope(batch, length, f"{serving.path}: the {serving.engine} server's max batch x max length")
    return None


# ---------------------------------------------------------------- placement across devices

_EMBEDDING_MARKERS = ("embed", "wte", "wpe", "word_embeddings", "tok_embeddings")


def module_sizes(repo, *, dtype_bytes: int | None = None) -> list[tuple[str, int]]:
    """The model's placeable modules in forward order, with their weight bytes: the units
    accelerate places whole (a decoder layer `model.layers.7`, the embeddings, the final
    norm, the head), from the tensor names of the safetensors headers."""
    sizes: dict[str, int] = {}
    for name, (_shard, info) in all_tensors(repo).items():
        parts = name.split(".")
        digit = next((i for i, part in enumerate(parts) if part.isdigit()), None)
        module = ".".join(parts[: digit + 1]) if digit is not None else ".".join(parts[:-1]) or name
        per = dtype_bytes if dtype_bytes and info.dtype in FLOAT_BYTES else None
        sizes[module] = sizes.get(module, 0) + (info.numel * per if per else info.nbytes)

    def order(item):
        module = item[0]
        index = next((int(p) for p in module.split(".") if p.isdigit()), None)
        if any(m in module for m in _EMBEDDING_MARKERS):
            return (0, 0, module)
        if index is not None:
            return (1, index, module)
        return (3 if "lm_head" in module or module.endswith("head") else 2, 0, module)

    return sorted(sizes.items(), key=order)


def device_name(device) -> str:
    if isinstance(device, int) and not isinstance(device, bool):
        return f"cuda:{device}"
    text = str(device)
    return f"cuda:{text}" if text.isdigit() else text


def _parse_memory(value) -> int | None:
    """accelerate's max_memory values: bytes as an int, or "20GiB", "20GB", "500MiB"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip().upper().replace(" ", "")
    for unit, factor in (("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3), ("B", 1)):
        if text.endswith(unit):
            try:
                return int(float(text[: -len(unit)]) * factor)
            except ValueError:
                return None
    return None


def planned_placement(repo, device_map, max_memory=None, *, dtype_bytes: int | None = None) -> dict[str, str] | None:
    """Where the deployment means each module to go: a dict device_map as written (longest
    key prefix wins), or "auto"/"sequential"/"balanced" with max_memory filled in device
    order (GPUs by index, then cpu, then disk), the way accelerate fills its budgets
    (less the largest module on the first GPU and the CPU, which it keeps free).
    None when the placement depends on the machine (a string device_map without
    max_memory)."""
    sizes = module_sizes(repo, dtype_bytes=dtype_bytes)
    if isinstance(device_map, dict):
        keys = sorted(((str(k), device_name(v)) for k, v in device_map.items()), key=lambda kv: -len(kv[0]))
        placement = {}
        for module, _size in sizes:
            for key, device in keys:
                if (
                    key == ""
                    or module == key
                    or module.startswith(key + ".")
                    or module.removeprefix("model.") == key.removeprefix("model.")
                ):
                    placement[module] = device
                    break
        return placement
    if device_map not in ("auto", "sequential", "balanced", "balanced_low_0") or not isinstance(max_memory, dict):
        return None
    budgets = {device_name(k): _parse_memory(v) for k, v in max_memory.items()}
    devices = sorted((d for d in budgets if d.startswith("cuda:")), key=lambda d: int(d[5:]))
    devices += [d for d in ("cpu", "disk") if d in budgets or d == "disk"]
    left = {d: budgets.get(d) if budgets.get(d) is not None else float("inf") for d in devices}
    # accelerate keeps room for the largest module on its main devices (the first GPU and
    # the CPU), to stream offloaded layers through (infer_auto_device_map's main_devices).
    largest = max((size for _module, size in sizes), default=0)
    for main in (devices[0], "cpu"):
        if main in left:
            left[main] -= largest
    placement, at = {}, 0
    for module, size in sizes:
        while at < len(devices) - 1 and left[devices[at]] < size:
            at += 1
        placement[module] = devices[at]
        left[devices[at]] -= size
    return placement


def bytes_per_device(repo, placement: dict[str, str], *, dtype_bytes: int | None = None) -> dict[str, int]:
    totals: dict[str, int] = {}
    for module, size in module_sizes(repo, dtype_bytes=dtype_bytes):
        device = placement.get(module)
        if device is not None:
            totals[device] = totals.get(device, 0) + size
    return totals
