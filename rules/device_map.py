"""device_map and memory fit: where the deployment puts the model's layers, and whether
the weights plus KV cache fit the GPUs it declares. Sizes come from the safetensors
headers (exact bytes per tensor), never from loading the model."""

from __future__ import annotations

from dataclasses import dataclass

from hfcheck.facts import deploy
from hfcheck.facts.config import positive_int
from hfcheck.facts.weights import all_tensors
from hfcheck.findings import Finding
from hfcheck.registry import rule

GiB = 1 << 30
# Margin for the CUDA context, allocator fragmentation, NCCL buffers and activations.
OVERHEAD_GIB_PER_GPU = 1.0
OVERHEAD_FRACTION = 0.05
FLOAT_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
DTYPE_BYTES = {"float16": 2, "fp16": 2, "half": 2, "bfloat16": 2, "bf16": 2, "float32": 4, "fp32": 4, "float": 4, "float8": 1, "fp8": 1}
QUANT_BITS = {"bitsandbytes": 8, "eetq": 8, "fp8": 8, "bitsandbytes-nf4": 4, "bitsandbytes-fp4": 4, "nf4": 4, "fp4": 4}
HOW_TO_DECLARE = "declare it in .hfcheck.yaml: `deploy: {gpus: 1, gpu_memory_gib: 80, max_batch_size: 8, max_seq_len: 4096}` (or [tool.hfcheck.deploy] in pyproject.toml)"


@dataclass
class Target:
    """One way the deployment loads this model, with what it declares."""

    path: str
    line: int | None
    what: str
    dtype_bytes: int | None  # None: as stored
    quant_bits: int | None
    gpus: int | None
    gpu_memory_gib: float | None
    utilization: float
    max_seq_len: int | None
    max_batch: int
    device_map: object = None
    tp: int | None = None
    max_len_line: int | None = None
    tp_line: int | None = None


def _dtype_bytes(value) -> int | None:
    if not isinstance(value, str):
        return None
    return DTYPE_BYTES.get(value.replace("torch.", "").lower())


def _targets(repo) -> list[Target]:
    def compute():
        settings = repo.settings.deploy if repo.settings is not None else None
        d_gpus = settings.gpus if settings else None
        d_mem = settings.gpu_memory_gib if settings else None
        d_util = settings.gpu_memory_utilization if settings else 0.9
        d_seq = settings.max_seq_len if settings else None
        d_batch = settings.max_batch_size if settings else None
        out = []
        for path, load in deploy.model_loads(repo):
            if not load.is_model:
                continue
            quant = load.value("quantization_config")
            bits = 8 if deploy.truthy(load.value("load_in_8bit")) else 4 if deploy.truthy(load.value("load_in_4bit")) else None
            if hasattr(quant, "kwargs"):
                bits = 8 if deploy.truthy(quant.kwargs.get("load_in_8bit")) else 4 if deploy.truthy(quant.kwargs.get("load_in_4bit")) else bits
            dtype = load.value("torch_dtype", load.value("dtype"))
            out.append(Target(path, load.line, f"{load.callee}", _dtype_bytes(dtype), bits, d_gpus, d_mem, d_util, d_seq, d_batch or 1, load.value("device_map")))
        config = repo.config or {}
        for serving in deploy.servings(repo):
            tp = deploy.as_int(serving.get("tp"))
            gpus = tp or (serving.gpus.value if serving.gpus else None) or d_gpus
            seq = deploy.as_int(serving.get("max_len")) or d_seq
            if seq is None and serving.engine == "vllm":
                seq = positive_int(config, "max_position_embeddings")  # vLLM's default max-model-len
            util = deploy.as_float(serving.get("gpu_util")) or d_util
            quant = serving.get("quantize")
            out.append(Target(serving.path, serving.line_of("model"), f"the {serving.engine} server", _dtype_bytes(serving.get("dtype")), QUANT_BITS.get(str(quant).lower()) if quant else None,
                              gpus, d_mem, util, seq, d_batch or 1, tp=tp, max_len_line=serving.line_of("max_len"), tp_line=serving.line_of("tp")))  # fmt: skip
        return out

    return repo.memo(("rules", "device_map", "targets"), compute)


def _weight_bytes(repo, target: Target) -> int:
    total = 0
    for name, (_shard, info) in all_tensors(repo).items():
        if info.dtype not in FLOAT_BYTES:
            total += info.nbytes  # already quantized or integer: loaded as stored
            continue
        per = target.dtype_bytes or FLOAT_BYTES[info.dtype]
        quantizable = len(info.shape) == 2 and name.endswith(".weight") and not any(k in name for k in ("embed", "lm_head", "norm", "wte", "wpe"))
        if target.quant_bits and quantizable:
            total += info.numel * target.quant_bits // 8
        else:
            total += info.numel * per
    return total


def _kv_bytes(repo, target: Target) -> int:
    config = repo.config or {}
    layers = positive_int(config, "num_hidden_layers", "n_layer", "num_layers")
    heads = positive_int(config, "num_attention_heads", "n_head")
    kv_heads = positive_int(config, "num_key_value_heads") or heads
    hidden = positive_int(config, "hidden_size", "n_embd", "d_model")
    head_dim = positive_int(config, "head_dim") or (hidden // heads if hidden and heads else None)
    if not (layers and kv_heads and head_dim and target.max_seq_len):
        return 0
    per = target.dtype_bytes or 2
    return 2 * layers * kv_heads * head_dim * target.max_seq_len * target.max_batch * per


def _has_model(repo) -> bool:
    return repo.config is not None and bool(all_tensors(repo))


def _gib(n: float) -> str:
    return f"{n / GiB:.2f} GiB"


@rule("DMP001", concern="device-map", severity="warning")
def offload(repo):
    """The deployment offloads layers to CPU (warning) or disk (error).

    Why: offloaded layers are copied to the GPU on every forward pass: over PCIe that is
    10-100x slower than HBM, and from disk slower still; throughput drops by orders of
    magnitude while the service looks healthy.
    Fix: give the model enough GPU memory (more GPUs, quantization, a smaller dtype) and
    map every module to a GPU.
    """
    for path, load in deploy.model_loads(repo):
        device_map = load.value("device_map")
        if isinstance(device_map, dict):
            placed = {str(v) for v in device_map.values()}
            if "disk" in placed:
                yield Finding.at(path, "device_map puts modules on disk: every forward pass reads them back from disk", line=load.line_of("device_map"), severity="error")
            elif "cpu" in placed:
                yield Finding.at(path, "device_map puts modules on the CPU: their weights cross PCIe on every forward pass", line=load.line_of("device_map"))
        if "offload_folder" in load.kwargs:
            yield Finding.at(path, "offload_folder lets accelerate offload layers to disk when the GPUs are full", line=load.line_of("offload_folder"), severity="error")
        max_memory = load.value("max_memory")
        if isinstance(max_memory, dict) and "cpu" in max_memory:
            yield Finding.at(path, "max_memory gives the CPU a share: layers that do not fit the GPUs run from CPU memory", line=load.line_of("max_memory"))
    for serving in deploy.servings(repo):
        offload_gb = deploy.as_float(serving.get("cpu_offload_gb"))
        if offload_gb:
            yield Finding.at(serving.path, f"vLLM --cpu-offload-gb {offload_gb:g}: weights are streamed from CPU memory on every forward pass", line=serving.line_of("cpu_offload_gb"))


def _normalise(name: str) -> str:
    return name[len("model.") :] if name.startswith("model.") else name


@rule("DMP002", concern="device-map", severity="error")
def device_map_modules(repo):
    """A dict device_map names modules the model does not have, or leaves parameters
    out.

    Why: accelerate raises "device_map provides ... but these keys are missing" for an
    uncovered parameter at load time, and a misspelled key (`model.layer.0`) is what
    leaves it uncovered. Module names come from the safetensors tensor names.
    Fix: generate the map with `accelerate.infer_auto_device_map` or list every
    top-level module (embed_tokens, each layers.N, norm, lm_head).
    """
    tensors = [_normalise(n) for n in all_tensors(repo)]
    if not tensors:
        return
    tied = (repo.config or {}).get("tie_word_embeddings", True) is not False
    for path, load in deploy.model_loads(repo):
        device_map = load.value("device_map")
        if not isinstance(device_map, dict) or not load.is_model:
            continue
        keys = [_normalise(str(k)) for k in device_map]
        unknown = [k for k in keys if k and not any(t == k or t.startswith(k + ".") for t in tensors) and not (tied and k.endswith("lm_head")) and "rotary_emb" not in k]
        if "" in keys:
            missing = []
        else:
            uncovered = [t for t in tensors if not any(t == k or t.startswith(k + ".") for k in keys)]
            missing = sorted({".".join(t.split(".")[:2]) if t.split(".")[0] == "layers" else t.rsplit(".", 1)[0] for t in uncovered})
        line = load.line_of("device_map")
        if unknown:
            yield Finding.at(path, f"device_map names modules the model does not have: {', '.join(unknown[:10])}", line=line)
        if missing:
            yield Finding.at(path, f"device_map leaves {len(missing)} module(s) unplaced: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}", line=line)


def _gpu_index(device) -> int | None:
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    if isinstance(device, str) and device.startswith("cuda:") and device[5:].isdigit():
        return int(device[5:])
    return None


@rule("DMP003", concern="device-map", severity="error")
def gpu_index_beyond_count(repo):
    """A device_map or max_memory names a GPU index at or beyond the declared GPU count.

    Why: with 2 GPUs, device 2 does not exist: loading fails with "CUDA error: invalid
    device ordinal", or the map was written for a bigger machine than the one deployed.
    Fix: map modules to GPUs 0..gpus-1, or declare the real GPU count in `deploy.gpus`.
    """
    for target in _targets(repo):
        if not isinstance(target.device_map, dict) or target.gpus is None:
            continue
        indices = sorted({i for i in map(_gpu_index, target.device_map.values()) if i is not None and i >= target.gpus})
        if indices:
            yield Finding.at(target.path, f"device_map uses GPU {', '.join(map(str, indices))} but the deployment declares {target.gpus} GPU(s)", line=target.line)


@rule("DMP004", concern="device-map", severity="info")
def auto_on_one_gpu(repo):
    """`device_map="auto"` on a model that fits one declared GPU.

    Why: "auto" goes through accelerate's dispatch hooks on every forward and may split
    or offload when memory looks tight at start-up; a model that fits one GPU is faster
    loaded with `.to("cuda")` (or device_map={"": 0}).
    Fix: load on one device: `device_map={"": 0}` or `.to("cuda")`.
    """
    if not _has_model(repo):
        return
    for target in _targets(repo):
        if target.device_map != "auto" or not target.gpu_memory_gib:
            continue
        need = _weight_bytes(repo, target) * (1 + OVERHEAD_FRACTION) + OVERHEAD_GIB_PER_GPU * GiB
        if need <= target.gpu_memory_gib * GiB * target.utilization:
            yield Finding.at(target.path, f"device_map='auto' but the model ({_gib(need)} with margin) fits one {target.gpu_memory_gib:g} GiB GPU", line=target.line)


@rule("DMP005", concern="device-map", severity="error")
def memory_fit(repo):
    """The weights plus KV cache do not fit the declared GPUs.

    Why: the server fails at start-up (CUDA out of memory, or vLLM's "not enough KV
    cache for max-model-len"), or under load when the batch grows. Computed exactly
    from the safetensors headers: weight bytes at the dtype the deployment loads
    (quantization taken into account) + KV cache (2 x layers x kv_heads x head_dim x
    max_seq_len x max_batch_size x bytes) + a margin of 5% of the weights and 1 GiB per
    GPU (CUDA context, allocator, NCCL, activations), against gpus x gpu_memory_gib x
    utilization.
    Fix: add GPUs (tensor parallel), quantize, lower max_seq_len / max_batch_size, or
    raise gpu_memory_utilization.
    """
    stored = None  # pickle checkpoints: bytes as stored, from the zip members (never unpickled)
    if not _has_model(repo):
        if repo.config is None:
            return
        from hfcheck.facts.weight_sizes import pickle_storage_bytes

        stored, unsized = pickle_storage_bytes(repo)
        declared = [t for t in _targets(repo) if t.gpus and t.gpu_memory_gib]
        if unsized:
            for target in declared:
                yield Finding.at(target.path, f"memory fit not checked: the size of {', '.join(unsized[:3])} cannot be read without unpickling it (not a torch zip checkpoint); convert the weights to safetensors", line=target.line, severity="warning")
            return
        if not stored:
            return
    for target in _targets(repo):
        if not (target.gpus and target.gpu_memory_gib):
            continue
        weights = stored if stored is not None else _weight_bytes(repo, target)
        kv = _kv_bytes(repo, target)
        margin = weights * OVERHEAD_FRACTION + OVERHEAD_GIB_PER_GPU * GiB * target.gpus
        need = weights + kv + margin
        have = target.gpus * target.gpu_memory_gib * GiB * target.utilization
        if need > have:
            yield Finding.at(
                target.path,
                f"{target.what} needs {_gib(need)} (weights {_gib(weights)} + KV cache {_gib(kv)} for {target.max_batch} x {target.max_seq_len or 0} tokens"
                f" + margin {_gib(margin)}: 5% of weights + {OVERHEAD_GIB_PER_GPU:g} GiB per GPU) but has {_gib(have)}"
                f" ({target.gpus} x {target.gpu_memory_gib:g} GiB x {target.utilization:g} utilization)",
                line=target.line,
            )


@rule("DMP006", concern="device-map", severity="error")
def max_len_beyond_positions(repo):
    """The serving max length (vLLM --max-model-len, TGI MAX_TOTAL_TOKENS,
    deploy.max_seq_len) is above `max_position_embeddings` and the config has no rope
    scaling.

    Why: positions past the trained range produce garbage (rotary) or index errors
    (learned embeddings); vLLM refuses to start unless forced.
    Fix: lower the max length to max_position_embeddings or configure rope scaling.
    """
    config = repo.config or {}
    limit = positive_int(config, "max_position_embeddings", "n_positions")
    if not limit or config.get("rope_scaling"):
        return
    for serving in deploy.servings(repo):
        value = deploy.as_int(serving.get("max_len"))
        if value and value > limit:
            yield Finding.at(serving.path, f"the {serving.engine} server allows {value} tokens but max_position_embeddings is {limit} (no rope_scaling)", line=serving.line_of("max_len"))


@rule("DMP007", concern="device-map", severity="error")
def tp_does_not_divide_heads(repo):
    """The tensor-parallel size (TGI NUM_SHARD, vLLM --tensor-parallel-size, SM_NUM_GPUS)
    does not divide the number of attention heads.

    Why: tensor parallelism splits the heads evenly across GPUs; vLLM and TGI refuse to
    start ("Total number of attention heads must be divisible by tensor parallel size").
    Fix: choose a shard count that divides num_attention_heads.
    """
    heads = positive_int(repo.config or {}, "num_attention_heads", "n_head")
    if not heads:
        return
    for serving in deploy.servings(repo):
        tp = deploy.as_int(serving.get("tp"))
        if tp and tp > 1 and heads % tp:
            yield Finding.at(serving.path, f"tensor parallel size {tp} does not divide the {heads} attention heads", line=serving.line_of("tp"))


QUANT_PACKAGES = {"BitsAndBytesConfig": "bitsandbytes", "GPTQConfig": "optimum", "AwqConfig": "autoawq"}


@rule("DMP008", concern="device-map", severity="warning")
def quantization_package_unpinned(repo):
    """Code loads the model quantized (load_in_8bit/4bit, BitsAndBytesConfig,
    GPTQConfig, AwqConfig) but the dependency files do not pin the package that does it
    (error when they do not list it at all).

    Why: transformers imports bitsandbytes / optimum / autoawq only at load time: a
    missing one fails the first request, an unpinned one changes kernels under the
    model.
    Fix: add the package, pinned (`bitsandbytes==0.44.1`), to the requirements.
    """
    deps = deploy.dependencies(repo)
    if not deps.files:
        return
    for path, load in deploy.model_loads(repo):
        quant = load.value("quantization_config")
        package = QUANT_PACKAGES.get(getattr(quant, "name", "").split(".")[-1]) if hasattr(quant, "name") else None
        if deploy.truthy(load.value("load_in_8bit")) or deploy.truthy(load.value("load_in_4bit")):
            package = "bitsandbytes"
        if package is None:
            continue
        declared = deps.of(package)
        line = load.line_of("quantization_config") if "quantization_config" in load.kwargs else load.line
        if not declared and package not in deps.lock_versions:
            yield Finding.at(path, f"{load.callee} loads the model quantized but {package} is in no dependency file", line=line, severity="error")
        elif deps.pinned_version(package) is None:
            yield Finding.at(path, f"{load.callee} loads the model quantized but {package} is not pinned", line=line)


@rule("DMP009", concern="device-map", severity="info")
def hardware_not_declared(repo):
    """The deployment loads the model but declares no GPU count and memory, so the
    memory-fit checks (DMP003, DMP004, DMP005) were skipped.

    Why: whether a model fits is a property of the model and the hardware together.
    Fix: declare the hardware in .hfcheck.yaml (`deploy: {gpus, gpu_memory_gib,
    max_batch_size, max_seq_len}`) or [tool.hfcheck.deploy] in pyproject.toml.
    """
    if not _has_model(repo):
        return
    targets = _targets(repo)
    if targets and not any(t.gpus and t.gpu_memory_gib for t in targets):
        first = targets[0]
        yield Finding.at(first.path, f"no GPU count and memory declared for {first.what}: memory fit not checked; {HOW_TO_DECLARE}", line=first.line)
