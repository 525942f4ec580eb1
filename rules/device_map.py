"""device_map and memory fit: where the deployment puts the model's layers, and whether
the weights plus KV cache fit the GPUs it declares. Sizes come from the safetensors
headers (exact bytes per tensor), never from loading the model."""

from __future__ import annotations

from dataclasses import dataclass

from hfcheck.facts import deploy, memory
from hfcheck.facts.config import positive_int
from hfcheck.facts.weights import all_tensors
from hfcheck.findings import Finding
from hfcheck.registry import rule

GiB = 1 << 30
# Margin for the CUDA context, allocator fragmentation, NCCL buffers and activations.
OVERHEAD_GIB_PER_GPU = 1.0
OVERHEAD_FRACTION = 0.05
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
    attn_implementation: str | None = None
    hardware_source: str | None = None  # where gpus / gpu_memory_gib come from, for the message
    max_memory: object = None
    entries: dict | None = None  # device_map key -> line of its entry
    max_memory_entries: dict | None = None


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
                bits = (
                    8 if deploy.truthy(quant.kwargs.get("load_in_8bit")) else 4 if deploy.truthy(quant.kwargs.get("load_in_4bit")) else bits
                )
            dtype = load.value("torch_dtype", load.value("dtype"))
            device_map = load.kwargs.get("device_map")
            max_memory = load.kwargs.get("max_memory")
            attn = load.value("attn_implementation")
            out.append(Target(path, load.line, f"{load.callee}", memory.dtype_bytes(dtype), bits, d_gpus, d_mem, d_util, d_seq, d_batch or 1, load.value("device_map"),
                              hardware_source="hfcheck settings" if d_gpus or d_mem else None, max_memory=load.value("max_memory"),
                              entries=device_map.entries if device_map else None, max_memory_entries=max_memory.entries if max_memory else None,
                              attn_implementation=attn if isinstance(attn, str) else None))  # fmt: skip
        config = repo.config or {}
        for serving in deploy.servings(repo):
            tp = deploy.as_int(serving.get("tp"))
            hardware = serving.hardware
            declared = serving.gpus.value if serving.gpus else hardware.gpus if hardware is not None else None
            gpus = tp or declared or d_gpus
            gpu_memory, source = d_mem, "hfcheck settings" if d_mem else None
            if hardware is not None and hardware.memory_gib:  # what the deployment itself declares wins
                gpu_memory = hardware.memory_gib
                source = f"{hardware.gpu_type or 'GPU'} {hardware.memory_gib:g} GiB from {hardware.source} ({serving.path}{f':{hardware.line}' if hardware.line else ''})"
            seq = deploy.as_int(serving.get("max_len")) or d_seq
            if seq is None and serving.engine == "vllm":
                seq = positive_int(config, "max_position_embeddings")  # vLLM's default max-model-len
            util = deploy.as_float(serving.get("gpu_util")) or d_util
            quant = serving.get("quantize")
            out.append(Target(serving.path, serving.line_of("model"), f"the {serving.engine} server", memory.dtype_bytes(serving.get("dtype")), QUANT_BITS.get(str(quant).lower()) if quant else None,
                              gpus, gpu_memory, util, seq, d_batch or 1, tp=tp, max_len_line=serving.line_of("max_len"), tp_line=serving.line_of("tp"), hardware_source=source))  # fmt: skip
        return out

    return repo.memo(("rules", "device_map", "targets"), compute)


def _weight_bytes(repo, target: Target) -> int:
    return memory.weight_bytes(repo, dtype_bytes=target.dtype_bytes, quant_bits=target.quant_bits)


def _has_model(repo) -> bool:
    return repo.config is not None and bool(all_tensors(repo))


_gib = memory.gib


@rule("DMP001", concern="device-map", severity="warning")
def offload(repo):
    """The deployment offloads layers to CPU (warning) or disk (error).

    Serving code only: export, conversion, training and evaluation scripts are tooling,
    and a map that puts the whole model on the CPU is a CPU deployment, not offload.

    Why: offloaded layers are copied to the GPU on every forward pass: over PCIe that is
    10-100x slower than HBM, and from disk slower still; throughput drops by orders of
    magnitude while the service looks healthy.
    Fix: give the model enough GPU memory (more GPUs, quantization, a smaller dtype) and
    map every module to a GPU.
    """
    for path, load in deploy.model_loads(repo):
        if deploy.is_tooling(repo, path):  # an export/convert/train script loads where it likes
            continue
        device_map = load.value("device_map")
        if isinstance(device_map, dict):
            placed = {str(v) for v in device_map.values()}
            on_gpu = any(_gpu_index(v) is not None for v in device_map.values())
            if "disk" in placed:
                yield Finding.at(
                    path,
                    "device_map puts modules on disk: every forward pass reads them back from disk",
                    line=load.line_of("device_map"),
                    severity="error",
                )
            elif "cpu" in placed and on_gpu:  # all on the CPU is a CPU deployment, not offload
                yield Finding.at(
                    path,
                    "device_map puts modules on the CPU: their weights cross PCIe on every forward pass",
                    line=load.line_of("device_map"),
                )
        if "offload_folder" in load.kwargs:
            yield Finding.at(
                path,
                "offload_folder lets accelerate offload layers to disk when the GPUs are full",
                line=load.line_of("offload_folder"),
                severity="error",
            )
        max_memory = load.value("max_memory")
        if isinstance(max_memory, dict) and "cpu" in max_memory and any(_gpu_index(k) is not None for k in max_memory):
            yield Finding.at(
                path,
                "max_memory gives the CPU a share: layers that do not fit the GPUs run from CPU memory",
                line=load.line_of("max_memory"),
            )
    for serving in deploy.servings(repo):
        offload_gb = deploy.as_float(serving.get("cpu_offload_gb"))
        if offload_gb:
            yield Finding.at(
                serving.path,
                f"vLLM --cpu-offload-gb {offload_gb:g}: weights are streamed from CPU memory on every forward pass",
                line=serving.line_of("cpu_offload_gb"),
            )


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
        written = {_normalise(str(k)): str(k) for k in device_map}  # messages name the key as the user wrote it
        keys = list(written)
        unknown = [
            written[k]
            for k in keys
            if k
            and not any(t == k or t.startswith(k + ".") for t in tensors)
            and not (tied and k.endswith("lm_head"))
            and "rotary_emb" not in k
        ]
        if "" in keys:
            missing = []
        else:
            uncovered = [t for t in tensors if not any(t == k or t.startswith(k + ".") for k in keys)]
            missing = sorted({".".join(t.split(".")[:2]) if t.split(".")[0] == "layers" else t.rsplit(".", 1)[0] for t in uncovered})
        line = load.line_of("device_map")
        entries = load.kwargs["device_map"].entries
        if unknown:
            yield Finding.at(
                path, f"device_map names modules the model does not have: {', '.join(unknown[:10])}", line=entries.get(unknown[0], line)
            )
        if missing:
            yield Finding.at(
                path,
                f"device_map leaves {len(missing)} module(s) unplaced: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}",
                line=line,
            )


def _gpu_index(device) -> int | None:
    """The GPU a device names: 3, "3", "cuda:3", torch.device("cuda", 3) or
    torch.device("cuda:3"); None for cpu, disk, "auto" and the like."""
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    if isinstance(device, str) and device.startswith("cuda:") and device[5:].isdigit():
        return int(device[5:])
    if isinstance(device, str) and device.isdigit():
        return int(device)
    name = getattr(device, "name", "")
    if name in ("torch.device", "device") and getattr(device, "args", ()):
        args = device.args
        if len(args) >= 2 and args[0] == "cuda":
            return _gpu_index(args[1])
        return _gpu_index(args[0])
    return None


def _placements(target: Target):
    """(gpu index, line, what) of every GPU the load names: the device_map (a dict's
    entries, each on its own line, or a single device) and max_memory's keys."""
    device_map = target.device_map
    if isinstance(device_map, dict):
        for key, device in device_map.items():
            yield _gpu_index(device), (target.entries or {}).get(key, target.line), f"device_map[{key!r}]"
    else:
        yield _gpu_index(device_map), target.line, "device_map"
    if isinstance(target.max_memory, dict):
        for key in target.max_memory:
            yield _gpu_index(key), (target.max_memory_entries or {}).get(key, target.line), f"max_memory[{key!r}]"


@rule("DMP003", concern="device-map", severity="error")
def gpu_index_beyond_count(repo):
    """A device_map or max_memory names a GPU index at or beyond the declared GPU count.

    Read: `device_map="cuda:3"`, `device_map=3`, `torch.device("cuda", 3)`, a dict
    entry, `max_memory={3: ...}`; the finding points at the entry.

    Why: with 2 GPUs, device 2 does not exist: loading fails with "CUDA error: invalid
    device ordinal", or the map was written for a bigger machine than the one deployed.
    Fix: map modules to GPUs 0..gpus-1, or declare the real GPU count in `deploy.gpus`.
    """
    for target in _targets(repo):
        if target.gpus is None:
            continue
        reported = set()
        for index, line, what in _placements(target):
            if index is not None and index >= target.gpus and (index, line) not in reported:
                reported.add((index, line))
                yield Finding.at(target.path, f"{what} uses GPU {index} but the deployment declares {target.gpus} GPU(s)", line=line)


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
            yield Finding.at(
                target.path,
                f"device_map='auto' but the model ({_gib(need)} with margin) fits one {target.gpu_memory_gib:g} GiB GPU",
                line=target.line,
            )


@rule("DMP005", concern="device-map", severity="error")
# Most of its length is its docstring: the rule's documentation.
def memory_fit(repo):
    """The weights, KV cache and activations of the declared batch do not fit the
    declared GPUs.

    Why: the server fails at start-up (CUDA out of memory, or vLLM's "not enough KV
    cache for max-model-len"), or under load when the batch grows. Estimated from the
    safetensors headers and config.json (hfcheck/facts/memory.py): weight bytes at the
    dtype the deployment loads (quantization taken into account) + KV cache (2 x layers
    x kv_heads x head_dim x max_seq_len x max_batch_size x bytes) + the activations of a
    prefill of max_batch_size x max_seq_len tokens (the widest moment of one layer: the
    MLP's intermediate tensors, q/k/v, the residual stream; the score matrix with eager
    attention) + a margin of 5% of the weights and 1 GiB per GPU (CUDA context,
    allocator, NCCL), against gpus x gpu_memory_gib x utilization. `hfcheck --smoke`
    measures the real peak of that envelope and reports it beside this estimate.
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
                yield Finding.at(
                    target.path,
                    f"memory fit not checked: the size of {', '.join(unsized[:3])} cannot be read without unpickling it (not a torch zip checkpoint); convert the weights to safetensors",
                    line=target.line,
                    severity="warning",
                )
            return
        if not stored:
            return
    for target in _targets(repo):
        if not (target.gpus and target.gpu_memory_gib):
            continue
        need = memory.estimate(
            repo,
            batch=target.max_batch,
            seq_len=target.max_seq_len or 0,
            dtype_bytes=target.dtype_bytes,
            quant_bits=target.quant_bits,
            attn_implementation=target.attn_implementation,
            new_tokens=0,
        )
        weights = stored if stored is not None else _weight_bytes(repo, target)
        if need is None:  # no model shape in config.json: weights alone
            need = memory.MemoryEstimate(weights, 0, 0)
        elif stored is not None:  # pickle weights: the headers gave no tensors, the zip members did
            need = memory.MemoryEstimate(stored, need.kv_cache, need.activations)
        margin = need.weights * OVERHEAD_FRACTION + OVERHEAD_GIB_PER_GPU * GiB * target.gpus
        have = target.gpus * target.gpu_memory_gib * GiB * target.utilization
        if need.total + margin > have:
            yield Finding.at(
                target.path,
                f"{target.what} needs {_gib(need.total + margin)} (weights {_gib(need.weights)} + KV cache {_gib(need.kv_cache)} for {target.max_batch} x {target.max_seq_len or 0} tokens"
                f" + activations {_gib(need.activations)} + margin {_gib(margin)}: 5% of weights + {OVERHEAD_GIB_PER_GPU:g} GiB per GPU) but has {_gib(have)}"
                f" ({target.gpus} x {target.gpu_memory_gib:g} GiB x {target.utilization:g} utilization; GPU memory: {target.hardware_source or 'hfcheck settings'})",
                line=target.line,
            )


@rule("DMP006", concern="device-map", severity="error")
def max_len_beyond_positions(repo):
    """The serving max length (vLLM --max-model-len, TGI MAX_TOTAL_TOKENS,
    deploy.max_seq_len) is above `max_position_embeddings` and the config has no rope
    scaling.

    Rope scaling on the server's command line (`--rope-scaling`, `--hf-overrides`, TGI
    `--rope-factor`) counts as well.

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
        if serving.get("rope_scaling") or "rope" in str(serving.get("hf_overrides") or ""):
            continue  # rope scaling given on the command line (`--rope-scaling`, `--hf-overrides`)
        if value and value > limit:
            yield Finding.at(
                serving.path,
                f"the {serving.engine} server allows {value} tokens but max_position_embeddings is {limit} (no rope_scaling)",
                line=serving.line_of("max_len"),
            )


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
            yield Finding.at(
                serving.path, f"tensor parallel size {tp} does not divide the {heads} attention heads", line=serving.line_of("tp")
            )


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
            yield Finding.at(
                path, f"{load.callee} loads the model quantized but {package} is in no dependency file", line=line, severity="error"
            )
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
        yield Finding.at(
            first.path, f"no GPU count and memory declared for {first.what}: memory fit not checked; {HOW_TO_DECLARE}", line=first.line
        )
