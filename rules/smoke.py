"""Findings of the smoke pass (`hfcheck --smoke`): what only loading and running the
model shows. These rules read the SmokeResult of the run from their check context
(`ctx.smoke`, hfcheck/context.py; the result is hfcheck/smoke/result.py's plain data);
in the static pass the context holds none and they yield nothing. They never import
torch."""

from hfcheck.config import declare_options
from hfcheck.findings import Finding
from hfcheck.registry import rule

declare_options("smoke", memory_tolerance=0.2)

MiB = 1 << 20


def smoke_result(repo):
    """The SmokeResult of the smoke pass that the engine put in the check context, or
    None (the static pass)."""
    return repo.smoke


def _ran(repo):
    result = smoke_result(repo)
    return result if result is not None and result.status == "ran" else None


def _first_weight_file(repo) -> str | None:
    for rel in ("model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json", "pytorch_model.bin"):
        if repo.exists(rel):
            return rel
    return "config.json" if repo.exists("config.json") else None


def _json_line(repo, rel, *keys):
    doc = repo.json(rel)
    return doc.line_of(*keys) if doc is not None and doc.error is None else None


def _failed(repo, name):
    result = _ran(repo)
    check = result.check(name) if result else None
    return (result, check) if check is not None and not check.ok else (None, None)


@rule("SMK001", concern="smoke", severity="info")
def smoke_skipped(repo):
    """The smoke pass was skipped: no GPU is visible and `--device auto` was given.

    Why: a skipped pass proves nothing about the model; the report says so rather than
    passing silently.
    Fix: run on a machine with a GPU, or pass `--device cpu` to run the pass on CPU
    (slower, but the checks are the same).
    """
    result = smoke_result(repo)
    if result is not None and result.status == "skipped":
        yield Finding.at(None, f"smoke pass skipped: {result.reason}")


@rule("SMK002", concern="smoke", severity="error")
def smoke_refused(repo):
    """The smoke pass refused to load the model.

    Why: it loads nothing the static pass flagged as a security error, runs no remote
    code without `--trust-remote-code`, and loads only safetensors or pickle weights
    through `torch.load(weights_only=True)`; a repo it cannot load safely is not proven
    to work.
    Fix: resolve the reason given (the security findings, convert the weights to
    safetensors, install `hfcheck[smoke]`, or review the remote code and pass
    `--trust-remote-code`).
    """
    result = smoke_result(repo)
    if result is not None and result.status == "refused":
        yield Finding.at("config.json" if repo.exists("config.json") else None, f"smoke pass not run: {result.reason}")


@rule("SMK003", concern="smoke", severity="error")
def load_failed(repo):
    """`from_pretrained` raises on the model, with the deployment's kwargs.

    Why: everything the static pass approved is worthless if the loader fails: a
    shape that does not match the config, a dtype the device cannot hold, a missing
    shard, an unsupported quantization config.
    Fix: load it yourself with the kwargs shown and fix what the error names.
    """
    result = _ran(repo)
    if result is not None and result.load_error:
        kwargs = ", ".join(f"{k}={v}" for k, v in result.load_kwargs.items())
        how = f", as {result.load_source} loads it" if result.load_source else ""
        yield Finding.at(
            _first_weight_file(repo), f"the model does not load on {result.device} (from_pretrained({kwargs}){how}): {result.load_error}"
        )


@rule("SMK004", concern="smoke", severity="error")
def load_key_mismatch(repo):
    """The load reports missing, mismatched or unexpected weight keys.

    Why: transformers fills missing and mismatched weights with random values and only
    logs a warning: the model loads and returns plausible-looking garbage. Unexpected
    keys (warning) are usually harmless leftovers but can mean the checkpoint belongs to
    another head or architecture.
    Fix: save the checkpoint from the same class the config names (`architectures`),
    or correct the key names (a `model.` prefix too many or too few is the usual cause).
    """
    result = _ran(repo)
    if result is None:
        return
    where = _first_weight_file(repo)
    for label, keys, severity in (
        ("missing", result.missing_keys, "error"),
        ("mismatched", result.mismatched_keys, "error"),
        ("unexpected", result.unexpected_keys, "warning"),
    ):
        if keys:
            shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
            consequence = " (randomly initialized at load)" if severity == "error" else " (ignored by the load)"
            yield Finding.at(where, f"{len(keys)} {label} weight keys{consequence}: {shown}", severity=severity)


@rule("SMK005", concern="smoke", severity="error")
def forward_not_finite(repo):
    """The forward pass fails or gives NaN/inf on a plain prompt (for encoders: the
    forward or the pooled embedding).

    Why: NaN logits come from fp16 overflow in a model trained in bf16, broken norm
    weights or a bad upcast; the server then returns empty or random text with no error.
    Fix: load in the dtype the model was trained in (bf16 rather than fp16 for most
    recent LLMs) and check the weights for NaN/inf.
    """
    result, check = _failed(repo, "logits")
    if check is not None:
        yield Finding.at(
            "config.json",
            f"{check.message} ({result.dtype} on {result.device})",
            line=_json_line(repo, "config.json", "torch_dtype") or _json_line(repo, "config.json", "dtype"),
        )


@rule("SMK006", concern="smoke", severity="error")
def generation_fails(repo):
    """A greedy generation of a few tokens fails or returns ids outside the vocabulary.

    Why: generation exercises the cache, the generation config and the output head
    together; a model that forwards but cannot generate fails on its first request.
    Fix: read the error; an invalid id usually means the output head is larger than the
    embedding or the tokenizer.
    """
    _, check = _failed(repo, "generate")
    if check is not None:
        yield Finding.at("generation_config.json" if repo.exists("generation_config.json") else "config.json", check.message)


@rule("SMK007", concern="smoke", severity="error")
def batch_inconsistent(repo):
    """A padded batch gives different outputs for a sequence than running it alone.

    Why: the server batches requests; with the wrong padding side, a pad id that is a
    real token (or differs between tokenizer and model) or a broken attention mask, each
    answer depends on its neighbours' lengths. The compared outputs are the logits
    generate() picks the first new token from (embeddings for encoders), with the
    tokenizer's mask and with the mask generate() rebuilds from the model's pad id.
    Fix: for decoder-only models set `"padding_side": "left"` in tokenizer_config.json,
    and make `pad_token_id` in config.json and generation_config.json the tokenizer's pad
    token, one that never occurs in text.
    """
    result, check = _failed(repo, "batch")
    if check is None:
        return
    details = check.details
    if result.kind == "causal-lm" and details.get("padding_side") == "right":
        cause = "the tokenizer pads on the right, so a short sequence's last position is padding"
        path, line = "tokenizer_config.json", _json_line(repo, "tokenizer_config.json", "padding_side")
    elif details.get("model_pad_id") is not None and details.get("model_pad_id") != details.get("tokenizer_pad_id"):
        cause = f"the model's pad_token_id {details['model_pad_id']} is not the tokenizer's pad id {details['tokenizer_pad_id']}"
        path = "generation_config.json" if _json_line(repo, "generation_config.json", "pad_token_id") else "config.json"
        line = _json_line(repo, path, "pad_token_id")
    else:
        cause = None
        path, line = ("tokenizer_config.json" if repo.exists("tokenizer_config.json") else "config.json"), None
    message = f"padded batch differs from each sequence alone ({result.dtype} on {result.device}): {check.message}"
    yield Finding.at(path, message + (f"; likely cause: {cause}" if cause else ""), line=line)


@rule("SMK008", concern="smoke", severity="error")
def chat_template_fails(repo):
    """The chat template does not render or its output does not tokenize within the
    vocabulary.

    Why: chat servers (TGI, vLLM, the OpenAI-compatible endpoints) render every request
    through the template; a template error is a 500 on every chat call.
    Fix: render it with `tokenizer.apply_chat_template(messages, tokenize=False)` and
    correct the Jinja it points at.
    """
    _, check = _failed(repo, "chat_template")
    if check is not None:
        path = "chat_template.jinja" if repo.exists("chat_template.jinja") else "tokenizer_config.json"
        yield Finding.at(path, check.message, line=_json_line(repo, path, "chat_template") if path.endswith(".json") else None)


@rule("SMK009", concern="smoke", severity="warning")
def tokenizer_round_trip(repo):
    """The tokenizer does not load (error), or decoding then re-encoding a plain
    sentence gives different ids (warning).

    Why: a server detokenizes streamed ids and clients re-send the text in the next
    turn; ids that do not survive the round trip change the conversation the model sees.
    Fix: check the decoder and normalizer of tokenizer.json (a byte-level BPE needs the
    ByteLevel decoder) and `clean_up_tokenization_spaces`.
    """
    result = _ran(repo)
    if result is None:
        return
    loading = result.check("tokenizer")
    if loading is not None and not loading.ok:
        yield Finding.at("tokenizer_config.json" if repo.exists("tokenizer_config.json") else None, loading.message, severity="error")
    round_trip = result.check("round_trip")
    if round_trip is not None and not round_trip.ok:
        yield Finding.at("tokenizer.json" if repo.exists("tokenizer.json") else None, round_trip.message)


@rule("SMK010", concern="smoke", severity="warning")
def weight_memory_mismatch(repo):
    """The weights take a different amount of memory once loaded than the safetensors
    headers predict.

    Why: a large difference means the load is not what the files and config say: an
    fp32 checkpoint loaded as bf16 (or the reverse: an unexpected upcast that doubles
    memory), a config dtype that disagrees with the weights, or layers offloaded to CPU
    or disk by device_map="auto" (slow, and invisible until measured).
    Fix: make config.json's `torch_dtype` the dtype of the saved weights, load with that
    dtype, and give device_map enough GPU memory for every layer.
    Options: `[tool.hfcheck.options.smoke] memory_tolerance` (relative, default 0.2).
    """
    result = _ran(repo)
    if result is None:
        return
    measured, expected, static = (
        result.measure.weight_bytes_measured,
        result.measure.weight_bytes_expected,
        result.measure.weight_bytes_static,
    )
    if not measured or not expected:
        return
    tolerance = float(repo.settings.option("smoke", "memory_tolerance") if repo.settings else 0.2)
    if abs(measured - expected) <= max(tolerance * expected, 64 * 1024):
        return
    why = (
        "more than the files hold: an upcast"
        if measured > expected
        else "less than the files hold: a downcast, or layers offloaded off the device"
    )
    note = f"; config dtype {repo.config.get('torch_dtype') or repo.config.get('dtype')}" if repo.config else ""
    yield Finding.at(
        "config.json",
        f"loaded weights take {measured / MiB:.1f} MiB on {result.device} as {result.dtype}, the headers predict {expected / MiB:.1f} MiB"
        f" ({static / MiB:.1f} MiB on disk{note}): {why}",
        line=_json_line(repo, "config.json", "torch_dtype") or _json_line(repo, "config.json", "dtype"),
    )


@rule("SMK011", concern="smoke", severity="info")
def smoke_measurements(repo):
    """What the smoke pass measured: load time, first-token latency, tokens/s, peak GPU
    memory and weight memory; at the declared envelope, the same at batch 1 and at the
    declared batch, with the static memory estimate beside the measured peak.

    Why: a model that loads in 10 minutes or decodes at 2 tokens/s works, but not in
    production; the figures belong in the same report as the findings; compare them
    with your latency and memory budget.
    """
    result = _ran(repo)
    if result is None or result.load_error:
        return
    m = result.measure
    parts = [f"{result.kind} {result.dtype} on {result.device}", f"load {m.load_s:.2f} s"]
    if m.first_token_s is not None:
        parts.append(
            f"first token {m.first_token_s * 1000:.1f} ms" if result.kind == "causal-lm" else f"forward {m.first_token_s * 1000:.1f} ms"
        )
    if m.tokens_per_s is not None:
        parts.append(f"{m.tokens_per_s:.1f} tokens/s over {m.new_tokens} tokens")
    if m.peak_gpu_bytes is not None:
        parts.append(f"peak GPU memory {m.peak_gpu_bytes / MiB:.0f} MiB")
    if m.weight_bytes_measured is not None:
        parts.append(
            f"weights {m.weight_bytes_measured / MiB:.1f} MiB measured"
            + (f" vs {m.weight_bytes_expected / MiB:.1f} MiB from headers" if m.weight_bytes_expected else "")
        )
    if result.load_source:
        parts.append(f"loaded as {result.load_source} does" + "".join(f" ({note})" for note in result.load_notes))
    devices = sorted(set(result.placement.values()))
    if len(devices) > 1 or len(result.peak_by_device) > 1:
        counts = ", ".join(f"{d} {sum(1 for v in result.placement.values() if v == d)}" for d in devices)
        peaks = ", ".join(f"{d} {b / MiB:.0f} MiB" for d, b in sorted(result.peak_by_device.items()))
        parts.append(f"modules placed: {counts}; peak per GPU: {peaks}")
    run = result.envelope
    if run is not None and run.fits and not run.error:
        parts.append(_envelope_figures(repo, result, run))
    yield Finding.at(None, "smoke: " + ", ".join(parts))


def _envelope_figures(repo, result, run) -> str:
    from hfcheck.facts.memory import gib

    text = f"envelope {run.batch} x {run.seq_len} tokens ({run.source})"
    if run.ttft_batch1_s is not None:
        text += f": batch 1 first token {run.ttft_batch1_s * 1000:.0f} ms" + (
            f", {run.tokens_per_s_batch1:.1f} tokens/s" if run.tokens_per_s_batch1 else ""
        )
    if run.ttft_s is not None:
        text += f"; batch {run.batch} first token {run.ttft_s * 1000:.0f} ms" + (
            f", {run.tokens_per_s:.1f} tokens/s" if run.tokens_per_s else ""
        )
    if run.peak_allocated is not None:
        estimate, _ = _envelope_estimate(repo, result, run)
        text += f"; peak {gib(run.peak_allocated)} allocated, {gib(run.peak_reserved)} reserved on {result.gpu_name}"
        if estimate is not None:
            text += (
                f"; static estimate {gib(estimate.total)} ({(estimate.total / run.peak_allocated - 1) * 100:+.0f}% of the measured peak)"
            )
    return text + "".join(f" ({note})" for note in run.notes)


def _envelope_estimate(repo, result, run):
    """DMP005's static estimate of the envelope the smoke pass ran, at the loaded dtype."""
    from hfcheck.facts import memory

    batch, length = run.largest_fit if not run.fits and run.largest_fit else (run.batch, run.seq_len)
    attn = result.load_kwargs.get("attn_implementation")
    prompt = max(1, run.seq_len - run.decode_steps)  # the runner's prompt leaves room for the decode steps
    return memory.estimate(
        repo,
        batch=run.batch,
        seq_len=prompt,
        dtype_bytes=memory.dtype_bytes(result.dtype),
        attn_implementation=attn,
        new_tokens=run.decode_steps,
    ), (batch, length)


def _envelope(repo):
    result = _ran(repo)
    run = result.envelope if result is not None else None
    return (result, run) if run is not None else (None, None)


@rule("SMK012", concern="smoke", severity="error")
def envelope_does_not_fit(repo):
    """The declared serving envelope (max batch x max length) runs out of memory, or its
    measured peak is above the GPU memory the deployment declares.

    Why: a server sized by the weights alone fails under its first full batch: the KV
    cache and the prefill's activations grow with batch x length. The smoke pass runs a
    prefill of the declared batch x length and a few decode steps, measures the peak
    (torch.cuda.max_memory_reserved: what the allocator holds, what an OOM sees), and on
    out-of-memory halves the batch, then the length, to name what does fit. The static
    estimate (DMP005's formula) is shown beside it.
    Fix: lower max_batch_size / max_seq_len to what fits, quantize, add GPUs, or declare
    the GPU you really serve on.
    """
    result, run = _envelope(repo)
    if run is None or run.error:
        return
    from hfcheck.facts.memory import gib

    estimate, (fit_batch, fit_len) = _envelope_estimate(repo, result, run)
    beside = f"; static estimate {estimate.describe()}" if estimate else ""
    where = f"{run.batch} x {run.seq_len} tokens ({run.source})"
    if not run.fits:
        fit = f"the largest that ran is {fit_batch} x {fit_len}" if run.largest_fit else "not even one short sequence ran"
        yield Finding.at(None, f"the declared envelope {where} is out of memory on {result.gpu_name or result.device}: {fit}{beside}")
        return
    deploy = repo.settings.deploy if repo.settings is not None else None
    if run.peak_reserved is None or deploy is None or not deploy.gpu_memory_gib or (deploy.gpus or 1) != 1:
        return
    budget = deploy.gpu_memory_gib * (1 << 30) * deploy.gpu_memory_utilization
    if run.peak_reserved > budget:
        yield Finding.at(
            None,
            f"the declared envelope {where} peaks at {gib(run.peak_reserved)} reserved ({gib(run.peak_allocated)} allocated) on {result.gpu_name}, above the declared"
            f" {deploy.gpu_memory_gib:g} GiB x {deploy.gpu_memory_utilization:g} = {gib(budget)}{beside}",
        )


@rule("SMK013", concern="smoke", severity="warning")
def greedy_not_deterministic(repo):
    """Greedy generation of the same prompt twice gives different tokens.

    Why: greedy decoding has no randomness: different tokens mean a non-deterministic
    kernel, an uninitialised buffer or state leaking between requests; answers then
    change between identical requests and caches and evaluations stop being comparable.
    Fix: look for uninitialised weights (SMK004), a stateful custom generation loop, or
    set `torch.use_deterministic_algorithms(True)` to find the kernel.
    """
    result, check = _failed(repo, "deterministic")
    if check is not None:
        yield Finding.at(
            "generation_config.json" if repo.exists("generation_config.json") else "config.json",
            f"{check.message} ({result.dtype} on {result.device})",
        )


@rule("SMK014", concern="smoke", severity="error")
def service_level_missed(repo):
    """The measured time to first token or decode speed misses the service levels the
    settings declare (`deploy.slo.ttft_ms`, `deploy.slo.tokens_per_s`).

    Why: a model that fits but answers too slowly still breaks the service; the figures
    are measured at the declared envelope (time to first token of the whole batch's
    prefill; decode tokens/s of one sequence while the batch decodes), on the GPU the
    smoke pass ran on, which the finding names: a different GPU in production gives
    different figures.
    Fix: a smaller or quantized model, a faster attention implementation, a smaller
    batch, or more capable GPUs; or correct the service levels.
    """
    result, run = _envelope(repo)
    slo = repo.settings.deploy.slo if repo.settings is not None else None
    if run is None or slo is None or not run.fits or run.error:
        return
    gpu = result.gpu_name or result.device
    if slo.ttft_ms and run.ttft_s is not None and run.ttft_s * 1000 > slo.ttft_ms:
        yield Finding.at(
            None,
            f"time to first token at {run.batch} x {run.seq_len} tokens is {run.ttft_s * 1000:.0f} ms on {gpu}, above deploy.slo.ttft_ms {slo.ttft_ms:g}",
        )
    per_sequence = run.tokens_per_s / run.batch if run.tokens_per_s else None
    if slo.tokens_per_s and per_sequence is not None and per_sequence < slo.tokens_per_s:
        yield Finding.at(
            None,
            f"decode speed at batch {run.batch} is {per_sequence:.1f} tokens/s per sequence on {gpu}, below deploy.slo.tokens_per_s {slo.tokens_per_s:g}",
        )


@rule("SMK015", concern="smoke", severity="error")
def placement_differs(repo):
    """accelerate placed the model's modules elsewhere than the deployment's device_map
    and max_memory ask: modules on the CPU or disk where a GPU was meant, or a GPU the
    deployment names left empty.

    Why: when a GPU's budget is too small for its share, accelerate silently moves the
    rest of the model to the next device, the CPU or disk: the service starts, and every
    forward pass copies those weights over PCIe (10-100x slower). A GPU left empty is
    paid for and unused. The intended placement is computed from the headers (module
    sizes in forward order filled into the max_memory budgets, or the dict as written) and
    compared with `model.hf_device_map` after the real load; the per-device weight bytes
    are shown beside each GPU's measured peak.
    Fix: raise the max_memory of the GPUs (or lower what runs beside the model), add a
    GPU, quantize, or write the device_map for the memory the GPUs really have.
    """
    result = _ran(repo)
    if result is None or result.load_error or not result.placement or result.asked_device_map is None:
        return
    from hfcheck.facts import memory

    per = memory.dtype_bytes(result.dtype)
    actual = memory.planned_placement(repo, result.placement, dtype_bytes=per)
    if not actual:
        return
    asked = result.asked_device_map
    explicit = memory.planned_placement(repo, asked, dtype_bytes=per) if isinstance(asked, dict) else {}
    # Every module is meant for a GPU unless the dict itself sends it to cpu or disk.
    moved = [m for m, device in actual.items() if device in ("cpu", "disk") and explicit.get(m) not in ("cpu", "disk")]
    planned = memory.planned_placement(repo, asked, result.asked_max_memory, dtype_bytes=per) or {}
    per_device = memory.bytes_per_device(repo, planned, dtype_bytes=per)
    measured = ", ".join(f"{d} peak {memory.gib(b)}" for d, b in sorted(result.peak_by_device.items()))
    if moved:
        where = " and ".join(sorted({actual[m] for m in moved}))
        estimate = f"planned from the headers: {', '.join(f'{d} {memory.gib(b)}' for d, b in per_device.items())}; " if per_device else ""
        yield Finding.at(
            None,
            f"{len(moved)} module(s) meant for a GPU were placed on {where} ({', '.join(moved[:4])}{' ...' if len(moved) > 4 else ''}):"
            f" the GPU budget (device_map={asked!r}, max_memory={result.asked_max_memory}) is too small for the model at {result.dtype}"
            f" ({estimate}measured: {measured})",
        )
    named = set(v for v in explicit.values()) | {memory.device_name(k) for k in (result.asked_max_memory or {})}
    used = set(actual.values())
    for device in sorted(d for d in named if d.startswith("cuda") and d not in used):
        yield Finding.at(None, f"{device} is named by the deployment but holds no module after the load ({measured})")
