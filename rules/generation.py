"""generation_config.json: values `generate` accepts, sampling settings that take effect,
and token ids the model has."""

from __future__ import annotations

from hfcheck.facts import config as cfg
from hfcheck.facts import tokenizer as tok
from hfcheck.findings import Finding
from hfcheck.registry import rule

REL = "generation_config.json"
INTEGER_FIELDS = (
    "max_length",
    "max_new_tokens",
    "min_length",
    "min_new_tokens",
    "top_k",
    "num_beams",
    "num_return_sequences",
    "no_repeat_ngram_size",
)
FLOAT_FIELDS = ("temperature", "top_p", "min_p", "typical_p", "repetition_penalty", "length_penalty", "epsilon_cutoff", "eta_cutoff")
# transformers' GenerationConfig defaults for the parameters only sampling uses;
# GenerationConfig.validate() warns when one differs while do_sample is false.
SAMPLING_DEFAULTS = {
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 50,
    "min_p": None,
    "typical_p": 1.0,
    "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0,
}
TOKEN_ID_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "forced_bos_token_id", "forced_eos_token_id")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _line(repo, *keys) -> int | None:
    doc = repo.json(REL)
    return doc.line_of(*keys) if doc is not None and doc.error is None else None


def _positions(repo) -> int | None:
    return cfg.positive_int(tok.text_config(repo), "max_position_embeddings")


@rule("GEN001", concern="generation", severity="error")
def invalid_generation_values(repo):  # noqa: C901 - older than the bound; split it when it next changes
    """generation_config.json has values `generate` rejects or that make no sense:
    temperature <= 0 or top_p outside (0, 1] with sampling, a negative top_k,
    repetition_penalty <= 0, max_length / max_new_tokens below 1 or min above max, a
    number written as a string.

    Why: `generate` raises a ValueError on the first request (or, in older versions,
    divides logits by zero and samples NaN), and serving engines that read the file as
    their defaults fail or silently clamp. max_length above the model's positions is a
    warning: long generations run past the trained context.
    Fix: use temperature > 0 (or do_sample: false for greedy), 0 < top_p <= 1,
    top_k >= 0, repetition_penalty > 0 (1.0 is off), max_new_tokens >= 1.
    """
    config = tok.generation_config(repo)
    if config is None:
        return
    for key in INTEGER_FIELDS + FLOAT_FIELDS:
        value = config.get(key)
        if value is None:
            continue
        integral = key in INTEGER_FIELDS
        if not _number(value) or (integral and not isinstance(value, int) and not float(value).is_integer()):
            yield Finding.at(REL, f"{key} must be {'an integer' if integral else 'a number'}, not {value!r}", line=_line(repo, key))
    values = {k: config.get(k) for k in INTEGER_FIELDS + FLOAT_FIELDS if _number(config.get(k))}
    sampling = config.get("do_sample") is True

    def bad(key: str, message: str, severity: str | None = None):
        return Finding.at(REL, f"{key} is {values[key]}: {message}", line=_line(repo, key), severity=severity)

    if sampling and "temperature" in values and values["temperature"] <= 0:
        yield bad("temperature", "sampling needs a temperature > 0 (use do_sample: false for greedy decoding)")
    if sampling and "top_p" in values and not 0 < values["top_p"] <= 1:
        yield bad("top_p", "top_p must be in (0, 1]")
    if "top_k" in values and values["top_k"] < 0:
        yield bad("top_k", "top_k must be >= 0 (0 disables it)")
    if "repetition_penalty" in values and values["repetition_penalty"] <= 0:
        yield bad("repetition_penalty", "repetition_penalty must be > 0 (1.0 means no penalty)")
    for key in ("max_length", "max_new_tokens", "num_beams", "num_return_sequences"):
        if key in values and values[key] < 1:
            yield bad(key, f"{key} must be at least 1")
    for low, high in (("min_length", "max_length"), ("min_new_tokens", "max_new_tokens")):
        if low in values and high in values and values[low] > values[high]:
            yield bad(low, f"{low} is above {high} ({values[high]})")
    positions = _positions(repo)
    for key in ("max_length", "max_new_tokens"):
        if positions and key in values and values[key] > positions:
            yield bad(key, f"above the model's {positions} positions: generations run past the trained context", severity="warning")


@rule("GEN002", concern="generation", severity="warning")
def sampling_without_do_sample(repo):
    """Sampling parameters (temperature, top_p, top_k, min_p, typical_p, ...) are set
    while `do_sample` is false or absent.

    Why: `generate` decodes greedily and ignores them, so the behaviour the config
    promises is not the one users get; transformers warns on every load ("do_sample is
    set to False. However, temperature is set to ...") and `save_pretrained` of such a
    config raises in 4.41+, breaking fine-tuning scripts at the last step.
    Fix: set `"do_sample": true` if the model is meant to sample, else remove the
    sampling parameters.
    """
    config = tok.generation_config(repo)
    if config is None or config.get("do_sample") is True:
        return
    stray = [key for key, default in SAMPLING_DEFAULTS.items() if key in config and config[key] is not None and config[key] != default]
    if stray:
        listed = ", ".join(f"{key}={config[key]!r}" for key in stray)
        state = "false" if "do_sample" in config else "absent (false)"
        yield Finding.at(
            REL,
            f"{listed} set but do_sample is {state}: generation is greedy and ignores them",
            line=_line(repo, "do_sample" if "do_sample" in config else stray[0]),
        )


@rule("GEN003", concern="generation", severity="error")
def generation_token_ids_out_of_range(repo):
    """A token id in generation_config.json (eos, pad, bos, decoder_start, forced) is
    negative, not an integer, or not below the vocabulary size and embedding rows.

    Why: an eos id the model can never produce means generation never stops; a pad or
    start id past the embedding crashes the first batched request with a device-side
    assert.
    Fix: use the ids of the tokenizer's own special tokens (tokenizer.json
    `added_tokens`), e.g. `"eos_token_id": tokenizer.eos_token_id`.
    """
    config = tok.generation_config(repo)
    if config is None:
        return
    bound = tok.id_limit(repo)
    for key in TOKEN_ID_FIELDS:
        value = config.get(key)
        if value is None:
            continue
        ids = value if isinstance(value, list) else [value]
        if not ids or not all(type(i) is int for i in ids):
            yield Finding.at(REL, f"{key} must be an integer or a list of integers, not {value!r}", line=_line(repo, key))
            continue
        bad = [i for i in ids if i < 0 or (bound is not None and i >= bound[0])]
        if bad:
            limit = f" ({bound[1]})" if bound else ""
            yield Finding.at(
                REL,
                f"{key} {', '.join(map(str, bad))} is out of range: ids must be >= 0 and below {bound[0] if bound else 'the vocabulary size'}{limit}",
                line=_line(repo, key),
            )
