"""The smoke run itself: load the model the way a deployment does and exercise it.

The only module of hfcheck that imports torch and transformers (inside run_smoke). It
returns a SmokeResult of plain data; the SMK rules turn it into findings."""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import Callable

from hfcheck.smoke.plan import GUARDED_KWARGS, LoadPlan, plan_load
from hfcheck.smoke.result import Check, EnvelopeRun, SmokeResult

PROMPTS = (
    "The quick brown fox jumps over the lazy dog.",
    "Hello",
    "A pad token lets batches of different lengths share one tensor, even when one sequence is much longer than the others.",
)
ROUND_TRIP_TEXT = "Production incidents rarely raise errors; they return garbage. 123 + 4.5 = ok!"
# Batch-vs-alone tolerance per dtype, as the relative RMS difference
# ||a - b|| / ||a - mean(a)||: kernel choice and padding change the reduction order, so
# low precision drifts a little (about 0.02 in bf16 on a 16-layer model); a wrong pad
# side or mask changes the logits completely (differences of order 1).
BATCH_TOLERANCE = {"float32": 2e-3, "float16": 5e-2, "bfloat16": 1e-1}
NEW_TOKENS_GPU = 32
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
NEW_TOKENS_CPU = 8

Progress = Callable[[str], None]


def run_smoke(
    repo_root: str | Path,
    *,
    device: str = "auto",
    load_kwargs: dict | None = None,
    trust_remote_code: bool = False,
    progress: Progress | None = None,
    new_tokens: int | None = None,
    envelope: tuple[int, int, str] | None = None,
) -> SmokeResult:
    """Load and exercise the model in `repo_root`; never raises for a broken model.

    `load_kwargs` are the deployment's own from_pretrained kwargs (device_map, dtype,
    quantization_config, attn_implementation, ...); hfcheck keeps the say over
    trust_remote_code, use_safetensors, weights_only and local_files_only.
    `envelope`: (batch, seq_len, where it is declared): run a prefill of that size and a
    few decode steps, and measure peak memory, time to first token and tokens/s."""
    say = progress or (lambda message: None)
    say("planning the load")
    plan = plan_load(Path(repo_root), trust_remote_code=trust_remote_code)
    if plan.refusal:
        return SmokeResult("refused", plan.refusal, kind=plan.kind)

    # Set before transformers/huggingface_hub are imported: they read it at import. Put
    # back afterwards: the caller's process (a Hub check after the smoke pass) is not ours.
    saved = {name: os.environ.get(name) for name in OFFLINE_VARIABLES}
    os.environ.update(dict.fromkeys(OFFLINE_VARIABLES, "1"))
    try:
        return _run_offline(plan, device, load_kwargs, trust_remote_code, say, new_tokens, envelope)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_offline(plan: LoadPlan, device, load_kwargs, trust_remote_code, say, new_tokens, envelope) -> SmokeResult:
    try:
        import torch
        import transformers
    except ImportError as error:
        from hfcheck import SMOKE_INSTALL_HINT

        return SmokeResult("refused", f"the smoke extra is not installed ({error.name} missing): {SMOKE_INSTALL_HINT}", kind=plan.kind)

    if device == "auto":
        if not torch.cuda.is_available():
            return SmokeResult("skipped", "no GPU visible to torch and --device auto", kind=plan.kind)
        device = "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        return SmokeResult("refused", "--device cuda but torch sees no GPU", kind=plan.kind)

    # hfcheck reports progress itself; transformers' warnings and bars would garble it
    previous_verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        return _run(plan, device, dict(load_kwargs or {}), trust_remote_code, say, new_tokens, envelope, torch, transformers)
    finally:
        if torch.cuda.is_available():
            # the model is gone with _run's frame: give its memory back, so the next
            # target (or the process that called us) measures from an empty GPU
            import gc

            gc.collect()
            torch.cuda.empty_cache()
        transformers.logging.set_verbosity(previous_verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()


def _deployment_kwargs(load_kwargs: dict, device: str, notes: list, torch, transformers) -> dict:
    """The deployment's from_pretrained kwargs (plain data from hfcheck.facts.deploy.smoke_load)
    as real values for this machine; what cannot be replayed here is left out with a note."""
    out = {}
    for name, value in load_kwargs.items():
        if name in GUARDED_KWARGS:
            continue
        if name in ("dtype", "torch_dtype"):  # the older spelling is the same setting
            out["dtype"] = value.removeprefix("torch.") if isinstance(value, str) else value
        elif name in ("load_in_8bit", "load_in_4bit"):
            if value is True:  # what transformers itself did with these before v5 removed them
                out["quantization_config"] = {"__class__": "BitsAndBytesConfig", "kwargs": {name: True}}
        else:
            out[name] = value
    if device != "cuda":
        for name in ("device_map", "max_memory", "quantization_config"):
            if name in out:
                notes.append(f"{name} not replayed on {device}")
                del out[name]
    elif isinstance(out.get("device_map"), dict):
        gpus = torch.cuda.device_count()
        devices = {str(d).removeprefix("cuda:") for d in out["device_map"].values()} - {"cpu", "disk", "meta"}
        if any(not d.isdigit() or int(d) >= gpus for d in devices):
            notes.append(f"device_map names devices {sorted(devices)} but this machine has {gpus} GPU(s): loaded with device_map='auto'")
            out["device_map"] = "auto"
            out.pop("max_memory", None)
    config = out.get("quantization_config")
    if isinstance(config, dict) and "__class__" in config:
        rebuilt = {k: getattr(torch, v[6:]) if isinstance(v, str) and v.startswith("torch.") else v for k, v in config["kwargs"].items()}
        out["quantization_config"] = getattr(transformers, config["__class__"])(**rebuilt)
    return out


# The smoke pass's steps in order, each a call of its own; the function threads the loaded
# model, tokenizer and result between them.
def _run(plan: LoadPlan, device, load_kwargs, trust_remote_code, say, new_tokens, envelope, torch, transformers) -> SmokeResult:  # noqa: C901 - older than the bound; split it when it next changes
    result = SmokeResult("ran", device=device, kind=plan.kind)
    if device == "cuda":
        result.gpu_name = torch.cuda.get_device_name()
    result.measure.weight_bytes_static = plan.weight_bytes_static
    kwargs = {"dtype": "auto"}
    if device == "cuda":
        kwargs["device_map"] = "cuda"
    try:
        kwargs.update(_deployment_kwargs(load_kwargs, device, result.load_notes, torch, transformers))
    except Exception as error:  # e.g. a quantization config whose package is missing
        result.load_error = f"the deployment's load kwargs do not apply: {_short(error)}"
        return result
    if device == "cuda" and not any("device_map" in note for note in result.load_notes):
        result.asked_device_map = kwargs.get("device_map")
        result.asked_max_memory = (
            {str(k): v for k, v in kwargs["max_memory"].items()} if isinstance(kwargs.get("max_memory"), dict) else None
        )
    kwargs.update(trust_remote_code=trust_remote_code, use_safetensors=plan.use_safetensors, local_files_only=True)
    result.load_kwargs = {k: str(v) for k, v in kwargs.items()}
    requested_dtype = kwargs.get("dtype")
    result.measure.weight_bytes_expected = plan.expected_bytes(requested_dtype)

    say("loading the tokenizer")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(plan.root, local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as error:  # a broken tokenizer is a finding, not a crash
        tokenizer = None
        result.checks["tokenizer"] = Check("tokenizer", False, f"the tokenizer does not load: {_short(error)}")

    say(f"loading the model on {device}")
    model_class = transformers.AutoModelForCausalLM if plan.kind == "causal-lm" else transformers.AutoModel
    cuda = device == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = _allocated(torch)
    start = time.perf_counter()
    try:
        with _pickle_weights_only(torch):
            model, info = model_class.from_pretrained(plan.root, output_loading_info=True, weights_only=True, **kwargs)
    except Exception as error:
        result.load_error = _short(error, 600)
        return result
    if not kwargs.get("device_map"):
        model.to(device)
    if cuda:
        torch.cuda.synchronize()
    result.measure.load_s = time.perf_counter() - start
    model.eval()
    result.dtype = str(model.dtype).replace("torch.", "")
    result.missing_keys = sorted(info.get("missing_keys") or [])
    result.unexpected_keys = sorted(info.get("unexpected_keys") or [])
    result.mismatched_keys = sorted(str(k if isinstance(k, str) else k[0]) for k in info.get("mismatched_keys") or [])
    placed = getattr(model, "hf_device_map", None)
    if isinstance(placed, dict):
        result.placement = {str(module): f"cuda:{where}" if isinstance(where, int) else str(where) for module, where in placed.items()}
    if cuda:
        result.measure.weight_bytes_measured = _allocated(torch) - before
    else:
        result.measure.weight_bytes_measured = sum(p.numel() * p.element_size() for p in model.parameters())

    with torch.inference_mode():
        if tokenizer is not None:
            if plan.kind == "causal-lm":
                _causal_checks(model, tokenizer, result, say, new_tokens or (NEW_TOKENS_GPU if cuda else NEW_TOKENS_CPU), torch)
            elif plan.kind == "encoder":
                _encoder_checks(model, tokenizer, plan.pooling, result, say, torch)
            _tokenizer_checks(tokenizer, model, result, say)
        if envelope is not None and plan.kind in ("causal-lm", "encoder"):
            result.envelope = run_envelope(model, plan.kind, envelope, say, torch)
    if cuda:
        torch.cuda.synchronize()
        result.measure.peak_gpu_bytes = torch.cuda.max_memory_allocated()
        result.peak_by_device = {f"cuda:{i}": torch.cuda.max_memory_allocated(i) for i in range(torch.cuda.device_count())}
    say("done")
    return result


@contextlib.contextmanager
def _pickle_weights_only(torch):
    """Whatever transformers version is installed, every torch.load during the load runs
    with weights_only=True: a pickle can then only rebuild tensors and plain containers,
    never call a function."""
    original = torch.load

    def guarded_load(*args, **kwargs):
        if kwargs.get("weights_only") is False:
            raise RuntimeError("hfcheck refuses torch.load(weights_only=False) in the smoke pass")
        kwargs["weights_only"] = True
        return original(*args, **kwargs)

    torch.load = guarded_load
    try:
        yield
    finally:
        torch.load = original


def _allocated(torch) -> int:
    """Bytes allocated on every GPU: a device_map may spread the model over several."""
    return sum(torch.cuda.memory_allocated(i) for i in range(torch.cuda.device_count()))


def _device_of(model):
    return next(model.parameters()).device


def _embedding_rows(model) -> int | None:
    embeddings = model.get_input_embeddings()
    weight = getattr(embeddings, "weight", None)
    return None if weight is None else int(weight.shape[0])


def _compare(alone, batched, torch) -> tuple[float, bool]:
    """Relative RMS difference ||a - b|| / ||a - mean(a)||, and whether the argmaxes agree."""
    a = alone.float()
    b = batched.float()
    scale = float((a - a.mean()).norm()) + 1e-12
    return float((a - b).norm()) / scale, bool(a.argmax() == b.argmax())


def _causal_checks(model, tokenizer, result: SmokeResult, say, new_tokens: int, torch) -> None:
    device = _device_of(model)
    rows = _embedding_rows(model)
    say("forward on a real prompt")
    single = tokenizer(PROMPTS[0], return_tensors="pt").to(device)
    try:
        logits = model(**single).logits
        finite = bool(torch.isfinite(logits).all())
        result.checks["logits"] = Check(
            "logits",
            finite,
            "" if finite else f"{int((~torch.isfinite(logits)).sum())} of {logits.numel()} logits are NaN or inf on a plain prompt",
        )
    except Exception as error:
        result.checks["logits"] = Check("logits", False, f"the forward pass fails: {_short(error)}")
        return

    say("greedy generation")
    generate = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    try:
        # one untimed call first: a fresh process pays kernel loading on its first decode
        model.generate(**single, max_new_tokens=2, min_new_tokens=2, **generate)
        _sync(torch, device)
        start = time.perf_counter()
        model.generate(**single, max_new_tokens=1, min_new_tokens=1, **generate)
        _sync(torch, device)
        first = time.perf_counter() - start
        start = time.perf_counter()
        out = model.generate(**single, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **generate)
        _sync(torch, device)
        total = time.perf_counter() - start
        new_ids = out[0, single["input_ids"].shape[1] :].tolist()
        again = model.generate(**single, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **generate)[
            0, single["input_ids"].shape[1] :
        ].tolist()
        result.checks["deterministic"] = _determinism(new_ids, again)
        result.measure.first_token_s = first
        result.measure.new_tokens = len(new_ids)
        if len(new_ids) > 1 and total > first:
            result.measure.tokens_per_s = (len(new_ids) - 1) / (total - first)
        bad = [i for i in new_ids if i < 0 or (rows is not None and i >= rows)]
        if not new_ids or bad:
            result.checks["generate"] = Check(
                "generate", False, f"greedy generation returned {len(new_ids)} new ids, invalid: {bad[:5]} (embedding rows: {rows})"
            )
        else:
            tokenizer.decode(new_ids)
            result.checks["generate"] = Check("generate", True, details={"new_ids": new_ids[:8]})
    except Exception as error:
        result.checks["generate"] = Check("generate", False, f"greedy generation fails: {_short(error)}")

    say("padded batch against each sequence alone")
    result.checks["batch"] = _causal_batch_check(model, tokenizer, result.dtype, generate, torch)


def _determinism(first: list[int], second: list[int]) -> Check:
    """Greedy decoding of one prompt twice must give the same tokens."""
    if first == second:
        return Check("deterministic", True)
    at = next((i for i, (a, b) in enumerate(zip(first, second)) if a != b), min(len(first), len(second)))
    return Check(
        "deterministic",
        False,
        f"two greedy generations of the same prompt differ from new token {at} on ({first[at : at + 4]} vs {second[at : at + 4]})",
        {"first": first, "second": second},
    )


ENVELOPE_DECODE_STEPS = 8


# One measured run and its out-of-memory search, which share the CUDA state they reset.
def run_envelope(model, kind: str, envelope: tuple[int, int, str], say, torch) -> EnvelopeRun:
    """Serve the declared envelope for real: a prefill of batch x seq_len tokens then a few
    greedy decode steps in one generate() call (decoders), or one forward pass (encoders). Out of memory at the
    declared size is not the end: batch, then length, is halved until a size runs, so
    the finding can say what does fit."""
    batch, seq_len, source = envelope
    device = _device_of(model)
    cuda = device.type == "cuda"
    limit = getattr(model.config, "max_position_embeddings", None)
    run = EnvelopeRun(batch, seq_len, source, decode_steps=ENVELOPE_DECODE_STEPS if kind == "causal-lm" else 0)
    if isinstance(limit, int) and seq_len > limit:
        run.notes.append(f"seq_len {seq_len} is above max_position_embeddings {limit}: run at {limit}")
        seq_len = run.seq_len = limit
    # max_seq_len counts the generated tokens too: the prompt leaves room for the decode steps
    prompt_len = max(1, seq_len - run.decode_steps)
    if not cuda:
        run.notes.append("peak memory is measured on CUDA only")

    def serve(b: int, length: int) -> tuple[float, float | None]:
        """(time to first token, decode tokens/s of the whole batch) of one b x length run,
        both from one generate() call: a logits processor stamps each step."""
        generator = torch.Generator().manual_seed(0)
        vocab = model.get_input_embeddings().weight.shape[0]
        ids = torch.randint(0, vocab, (b, length), generator=generator).to(device)
        mask = torch.ones_like(ids)
        _sync(torch, device)
        start = time.perf_counter()
        if kind != "causal-lm":
            model(input_ids=ids, attention_mask=mask)
            _sync(torch, device)
            return time.perf_counter() - start, None
        clock = _StepClock(torch, device)
        greedy = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None, "pad_token_id": 0}
        model.generate(
            input_ids=ids,
            attention_mask=mask,
            max_new_tokens=run.decode_steps,
            min_new_tokens=run.decode_steps,
            logits_processor=[clock],
            **greedy,
        )
        first, last = clock.stamps[0], clock.stamps[-1]
        return first - start, (b * (len(clock.stamps) - 1) / (last - first) if last > first else None)

    def fits(b: int, length: int) -> bool:
        failed = False
        try:
            serve(b, length)
        except torch.OutOfMemoryError:
            failed = True
        if failed and cuda:  # outside the except clause: the traceback no longer holds the tensors
            torch.cuda.empty_cache()
        return not failed

    out_of_memory = False
    try:
        say(f"envelope: batch 1 x {seq_len} tokens")
        run.ttft_batch1_s, run.tokens_per_s_batch1 = serve(1, prompt_len)
        say(f"envelope: batch {batch} x {seq_len} tokens")
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        run.ttft_s, run.tokens_per_s = serve(batch, prompt_len)
        if cuda:
            run.peak_allocated = torch.cuda.max_memory_allocated()
            run.peak_reserved = torch.cuda.max_memory_reserved()
    except torch.OutOfMemoryError:
        out_of_memory = True  # searched below, once the failed run's tensors are released
    except Exception as error:  # the envelope itself is broken (e.g. a length the model rejects)
        run.error = _short(error)
    if out_of_memory:
        run.fits = False
        say("envelope: out of memory, halving to find what fits")
        run.largest_fit = largest_fit(batch, seq_len, lambda b, length: fits(b, max(1, length - run.decode_steps)))
    return run


class _StepClock:
    """A logits processor that only stamps the time each new token's scores are ready
    (after a device sync), so one generate() call gives both the time to first token and
    the decode rate."""

    def __init__(self, torch, device):
        self.torch, self.device, self.stamps = torch, device, []

    def __call__(self, input_ids, scores):
        _sync(self.torch, self.device)
        self.stamps.append(time.perf_counter())
        return scores


def largest_fit(batch: int, seq_len: int, fits) -> list[int] | None:
    """The largest [batch, seq_len] below the declared one that `fits`: the batch is
    halved first (serving keeps its context length and takes fewer requests), then the
    length at batch 1. None when not even one short sequence fits."""
    b = batch // 2
    while b >= 1:
        if fits(b, seq_len):
            return [b, seq_len]
        b //= 2
    length = seq_len // 2
    while length >= 1:
        if fits(1, length):
            return [1, length]
        length //= 2
    return None


def _next_token_logits(model, generate, torch, **inputs):
    """The logits generate() picks the first new token from, with generate's own handling
    of the attention mask and position ids."""
    out = model.generate(**inputs, max_new_tokens=1, output_logits=True, return_dict_in_generate=True, **generate)
    return out.logits[0]


def _causal_batch_check(model, tokenizer, dtype: str, generate, torch) -> Check:
    device = _device_of(model)
    tolerance = BATCH_TOLERANCE.get(dtype, 1e-3)
    details = {
        "padding_side": tokenizer.padding_side,
        "tokenizer_pad_id": tokenizer.pad_token_id,
        "model_pad_id": model.generation_config.pad_token_id,
        "tolerance": tolerance,
    }
    if tokenizer.pad_token_id is None:
        return Check("batch", False, "the tokenizer has no pad token: a batch of prompts of different lengths cannot be padded", details)
    try:
        alone = [_next_token_logits(model, generate, torch, **tokenizer(p, return_tensors="pt").to(device))[0] for p in PROMPTS]
        enc = tokenizer(list(PROMPTS), padding=True, return_tensors="pt").to(device)
        with_mask = _next_token_logits(model, generate, torch, **enc)
        # generate() called with ids only rebuilds the mask from the model's pad id, as
        # many serving paths do; that catches a pad id that is not the tokenizer's.
        ids_only = _next_token_logits(model, generate, torch, input_ids=enc["input_ids"])
    except Exception as error:
        return Check("batch", False, f"a padded batch fails: {_short(error)}", details)
    problems = []
    worst = 0.0
    for label, batched in (
        ("with the tokenizer's attention mask", with_mask),
        ("with the mask generate() rebuilds from the pad id", ids_only),
    ):
        for index, single in enumerate(alone):
            difference, same_argmax = _compare(single, batched[index], torch)
            worst = max(worst, difference)
            if difference > tolerance:
                problems.append(
                    f"sequence {index} {label}: next-token logits differ by {difference:.3g} (tolerance {tolerance:g}){'' if same_argmax else ', different greedy token'}"
                )
    details["max_difference"] = worst
    if not problems:
        return Check("batch", True, details=details)
    return Check("batch", False, "; ".join(problems[:4]), details)


def _pool(hidden, mask, mode: str, torch):
    if mode == "cls":
        return hidden[:, 0]
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "max":
        return hidden.masked_fill(mask == 0, float("-inf")).max(dim=1).values
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)


def _encoder_checks(model, tokenizer, pooling: str, result: SmokeResult, say, torch) -> None:
    device = _device_of(model)
    say("encoder forward and pooling")
    try:
        single = tokenizer(PROMPTS[0], return_tensors="pt").to(device)
        _sync(torch, device)
        start = time.perf_counter()
        hidden = model(**single).last_hidden_state
        _sync(torch, device)
        result.measure.first_token_s = time.perf_counter() - start
        pooled = _pool(hidden, single["attention_mask"], pooling, torch)
        finite = bool(torch.isfinite(hidden).all() and torch.isfinite(pooled).all())
        nonzero = bool(pooled.float().norm() > 0)
        ok = finite and nonzero and pooled.shape[0] == 1
        message = "" if ok else ("the embedding has NaN or inf values" if not finite else "the pooled embedding is all zeros")
        result.checks["logits"] = Check("logits", ok, message, {"pooling": pooling, "dim": int(pooled.shape[-1])})
    except Exception as error:
        result.checks["logits"] = Check("logits", False, f"the encoder forward or {pooling} pooling fails: {_short(error)}")
        return

    say("padded batch against each sequence alone")
    tolerance = BATCH_TOLERANCE.get(result.dtype, 1e-3)
    details = {
        "padding_side": tokenizer.padding_side,
        "tokenizer_pad_id": tokenizer.pad_token_id,
        "tolerance": tolerance,
        "pooling": pooling,
    }
    try:
        alone = []
        for prompt in PROMPTS:
            enc = tokenizer(prompt, return_tensors="pt").to(device)
            alone.append(_pool(model(**enc).last_hidden_state, enc["attention_mask"], pooling, torch)[0])
        enc = tokenizer(list(PROMPTS), padding=True, return_tensors="pt").to(device)
        batched = _pool(model(**enc).last_hidden_state, enc["attention_mask"], pooling, torch)
    except Exception as error:
        result.checks["batch"] = Check("batch", False, f"a padded batch fails: {_short(error)}", details)
        return
    problems = []
    worst = 0.0
    for index, single in enumerate(alone):
        difference, _ = _compare(single, batched[index], torch)
        worst = max(worst, difference)
        if difference > tolerance:
            problems.append(f"sequence {index}: pooled embedding differs by {difference:.3g} (tolerance {tolerance:g})")
    details["max_difference"] = worst
    result.checks["batch"] = Check("batch", not problems, "; ".join(problems), details)


def _tokenizer_checks(tokenizer, model, result: SmokeResult, say) -> None:
    rows = _embedding_rows(model)
    say("tokenizer round trip")
    try:
        ids = tokenizer(ROUND_TRIP_TEXT, add_special_tokens=False)["input_ids"]
        decoded = tokenizer.decode(ids, skip_special_tokens=True)
        again = tokenizer(decoded, add_special_tokens=False)["input_ids"]
        if again != ids:
            result.checks["round_trip"] = Check(
                "round_trip",
                False,
                f"decode then encode does not give the same ids: {ROUND_TRIP_TEXT!r} decodes to {decoded!r}",
                {"decoded": decoded},
            )
        else:
            result.checks["round_trip"] = Check("round_trip", True, details={"decoded": decoded})
    except Exception as error:
        result.checks["round_trip"] = Check("round_trip", False, f"encode/decode fails: {_short(error)}")

    if not getattr(tokenizer, "chat_template", None):
        return
    say("chat template")
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}]
    try:
        try:
            text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        except Exception:
            # many templates reject a system message; a user turn alone must render
            text = tokenizer.apply_chat_template(messages[1:], tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        bad = [i for i in ids if rows is not None and i >= rows]
        if not ids or bad:
            result.checks["chat_template"] = Check(
                "chat_template", False, f"the rendered chat tokenizes to {len(ids)} ids, {len(bad)} past the embedding"
            )
        else:
            result.checks["chat_template"] = Check("chat_template", True, details={"tokens": len(ids)})
    except Exception as error:
        result.checks["chat_template"] = Check("chat_template", False, f"the chat template does not render: {_short(error)}")


def _sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _short(error: Exception, limit: int = 300) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(f"{type(error).__name__}: {error}".split()))
    refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if refused and "Weights only load failed" in text:
        # torch's message goes on to suggest weights_only=False: the one thing not to do
        return f"torch.load(weights_only=True) refused the pickle: it calls {refused.group(1)}, which is not a tensor or container"
    return text if len(text) <= limit else text[: limit - 3] + "..."
