"""Special tokens: a pad token for batching, bos/eos/pad/unk that agree across the five
files that declare them, a chat template whose end-of-turn token stops generation, and
tokenizer settings that suit generation."""

from __future__ import annotations

import math
import re

from hfcheck.edits import FixRefused, json_edit
from hfcheck.facts import config as cfg
from hfcheck.facts import tokenizer as tok
from hfcheck.findings import Finding
from hfcheck.registry import fixer, rule

CHAT_TAGS = {"chat", "conversational", "instruct", "chatbot"}
CHAT_NAME = re.compile(r"(^|[-_./ ])(chat|instruct|it|sft|dpo|rlhf|assistant)($|[-_./ ])", re.IGNORECASE)
# transformers' "no limit" sentinel (VERY_LARGE_INTEGER): what tokenizers without a
# model_max_length get, written into tokenizer_config.json on save.
ABSURD_MAX_LENGTH = 10**9


def _line(repo, rel: str, *keys) -> int | None:
    doc = repo.json(rel)
    return doc.line_of(*keys) if doc is not None and doc.error is None else None


@rule("SPT001", concern="special-tokens", severity="warning")
def no_pad_token(repo):
    """The tokenizer of a decoder-only model has no pad token (tokenizer_config.json,
    special_tokens_map.json and tokenizer.json declare none), even when config.json or
    generation_config.json has a `pad_token_id` (Llama 2's `pad_token_id: 0`).

    Why: `tokenizer(batch, padding=True)` raises "Asking to pad but the tokenizer does
    not have a padding token": a pad_token_id in config.json or generation_config.json
    is read by the model and generate(), never by the tokenizer. Servers or scripts
    that pad anyway fill with id 0, a real token the model attends to: batched outputs
    differ from single ones. An error when the deployment batches (`max_batch_size` > 1
    in the hfcheck deploy settings, or a serving config's max batch size).
    Fix: either reuse the eos token for padding (`tokenizer.pad_token =
    tokenizer.eos_token`, and `pad_token_id` in generation_config.json) with an attention
    mask, or add a dedicated pad token (`tokenizer.add_special_tokens({"pad_token":
    "<pad>"})`) and `model.resize_token_embeddings(len(tokenizer))`, then save both.
    Fixes: sets the pad token to the eos token (a safe fix: no new token, so the
    vocabulary and embeddings are unchanged): `pad_token` in tokenizer_config.json and
    special_tokens_map.json, `pad_token_id` in config.json and generation_config.json
    (each file that exists). Refused when the repo has no eos token either. Fine for
    serving with an attention mask; see SPT002 before fine-tuning.
    """
    if not tok.is_decoder_only(repo) or tok.tokenizer_pad(repo) is not None or tok.vocab(repo) is None:
        return
    batch = tok.deployment_batch(repo)
    batching = batch is not None and batch[0] > 1
    where = "tokenizer_config.json" if repo.exists("tokenizer_config.json") else "config.json"
    model_side = tok.model_pad_ids(repo)
    if model_side:
        first = model_side[0]
        message = (
            f"the tokenizer files declare no pad token (only {first.source} has pad_token_id {first.label}, which the tokenizer "
            "never reads): tokenizer(batch, padding=True) raises"
        )
    else:
        message = "no pad token is defined for this decoder-only model"
    if batching:
        message += f", and the deployment batches up to {batch[0]} requests ({batch[1]})"
    yield Finding.at(where, message, severity="error" if batching else None)


def _eos_token(repo) -> tuple[str, int] | None:
    """The eos token's string and id, from the tokenizer files, else config.json's id."""
    known = tok.vocab(repo)
    if known is None:
        return None
    token = tok.role_token(repo, "eos")
    if token is not None and token in known.tokens:
        return token, known.tokens[token]
    for data in (tok.generation_config(repo), tok.text_config(repo)):
        value = (data or {}).get("eos_token_id")
        first = value[0] if isinstance(value, list) and value else value
        if type(first) is int:
            name = known.id_to_token().get(first)
            if name is not None:
                return name, first
    return None


@fixer("SPT001", safe=True)
def pad_with_eos(repo, findings):
    """pad token set to the eos token in every file that declares special tokens"""
    eos = _eos_token(repo)
    if eos is None:
        raise FixRefused(
            "no eos token to pad with; a dedicated pad token changes the vocabulary (add it and resize the embeddings by hand)"
        )
    token, token_id = eos

    def set_key(key, value):
        return lambda data: data.__setitem__(key, value)

    edits = [
        json_edit(repo, "tokenizer_config.json", set_key("pad_token", token)),
        json_edit(repo, "special_tokens_map.json", set_key("pad_token", token)),
        json_edit(repo, "config.json", set_key("pad_token_id", token_id)),
        json_edit(repo, "generation_config.json", set_key("pad_token_id", token_id)),
    ]
    return [edit for edit in edits if edit is not None]


@rule("SPT002", concern="special-tokens", severity="info")
def pad_is_eos(repo):
    """The pad token is the eos token.

    Why: serving is fine with an attention mask, but fine-tuning is not: collators set
    the labels of pad positions to -100, so every eos is masked out of the loss too and
    the fine-tuned model never learns to stop (it rambles to max_new_tokens).
    Fix: for fine-tuning, add a dedicated pad token (or use a reserved one, e.g. Llama
    3's `<|finetune_right_pad_id|>`), or a collator that keeps the real eos labels.
    """
    declared = tok.special_tokens(repo)
    pads = {i for d in declared if d.role == "pad" for i in d.ids}
    eos_tokens = {d.token for d in declared if d.role == "eos" and d.token}
    pad_tokens = {d.token for d in declared if d.role == "pad" and d.token}
    tokenizer_eos = {
        i for d in declared if d.role == "eos" and d.source in ("tokenizer_config.json", "special_tokens_map.json") for i in d.ids
    }
    if (pads and pads <= tokenizer_eos) or (pad_tokens and pad_tokens <= eos_tokens):
        # the declaration that matched, not merely the first pad declaration
        decl = next(
            (d for d in declared if d.role == "pad" and ((d.token and d.token in eos_tokens) or (d.ids and set(d.ids) <= tokenizer_eos))),
            None,
        )
        decl = decl or next(d for d in declared if d.role == "pad")
        yield Finding.at(decl.source, f"the pad token is the eos token ({decl.label})", line=_line(repo, decl.source, *decl.key))


@rule("SPT003", concern="special-tokens", severity="warning")
def special_tokens_disagree(repo):
    """bos/eos/pad/unk are declared differently in config.json, generation_config.json,
    tokenizer_config.json, special_tokens_map.json and tokenizer.json.

    Why: each consumer reads its own file: `generate` stops on generation_config.json's
    eos, the tokenizer appends tokenizer_config.json's, vLLM and TGI mix config.json
    and the tokenizer. When they disagree, generation does not stop, or pads and masks
    with a real token, and only in some stacks.
    Fix: make every file name the same token (ids in config.json and
    generation_config.json, strings in the tokenizer files); `save_pretrained` of the
    model and tokenizer loaded together writes consistent files.
    """
    for role in tok.ROLES:
        declared = [d for d in tok.special_tokens(repo) if d.role == role and d.ids]
        if len(declared) < 2:
            continue
        first = declared[0]
        for other in declared[1:]:
            if not set(first.ids) & set(other.ids):
                yield Finding.at(
                    other.source,
                    f"{role} token is {other.label} in {other.source} but {first.label} in {first.source}",
                    line=_line(repo, other.source, *other.key),
                )


@rule("SPT004", concern="special-tokens", severity="error")
def special_token_unknown(repo):
    """A bos/eos/pad/unk token is not in the vocabulary, or its id is not below the
    vocabulary size and embedding rows.

    Why: transformers adds an unknown special-token string as a new token with the next
    free id, past the embedding matrix (CUDA device-side assert on the first padded
    batch); an id out of range crashes the same way, or the model stops on, or pads
    with, a token it never emits.
    Fix: use a token that is in the vocabulary (see tokenizer.json `added_tokens`), or
    add it and resize the embeddings (`model.resize_token_embeddings`).
    """
    known = tok.vocab(repo)
    if known is None:
        return
    bound = tok.id_limit(repo)
    limit = bound[0] if bound else known.size
    for decl in tok.special_tokens(repo):
        if decl.source == "generation_config.json":
            continue  # GEN003
        # Lines only for findings: locating a key in a 30 MB tokenizer.json costs a parse.
        if decl.token is not None:
            if not decl.ids:
                yield Finding.at(
                    decl.source,
                    f"{decl.role} token {decl.token!r} is not in the tokenizer's vocabulary",
                    line=_line(repo, decl.source, *decl.key),
                )
            continue  # a string's id beyond the embedding is TOK001
        bad = [i for i in decl.ids if i < 0 or i >= limit]
        if bad:
            yield Finding.at(
                decl.source,
                f"{decl.role}_token_id {', '.join(map(str, bad))} is out of range (ids must be below {limit})",
                line=_line(repo, decl.source, *decl.key),
            )


def _chat_capable(repo) -> str | None:
    card = repo.card.data if repo.card else None
    if isinstance(card, dict):
        tags = card.get("tags")
        if isinstance(tags, list) and CHAT_TAGS & {str(t).lower() for t in tags}:
            return "the card's tags say it is a chat model"
        if card.get("pipeline_tag") == "conversational":
            return "the card's pipeline_tag is conversational"
    name = str((repo.config or {}).get("_name_or_path") or "") + " " + repo.root.name
    if CHAT_NAME.search(name):
        return "its name says it is an instruct/chat model"
    if repo.exists("chat_template.json") or repo.exists("chat_template.jinja"):
        return "a chat template file is present"
    return None


@rule("SPT005", concern="special-tokens", severity="warning")
def chat_template_missing(repo):
    """A chat model has no chat template (neither chat_template.jinja, chat_template.json
    nor tokenizer_config.json's `chat_template`).

    Why: `apply_chat_template` raises, and vLLM's and TGI's chat endpoints refuse the
    request or fall back to a generic format the model was not tuned on: answers
    degrade without an error.
    Fix: save the template the model was trained with: `tokenizer.chat_template =
    "..."; tokenizer.save_pretrained(path)` (transformers 5 writes chat_template.jinja).
    """
    if tok.chat_template(repo) is not None or not tok.is_decoder_only(repo):
        return
    reason = _chat_capable(repo)
    if reason:
        where = "tokenizer_config.json" if repo.exists("tokenizer_config.json") else (repo.card_path or "config.json")
        yield Finding.at(where, f"no chat template, but {reason}")


@rule("SPT006", concern="special-tokens", severity="warning")
def end_of_turn_not_eos(repo):
    """The token that ends an assistant turn in the chat template is not among the eos
    ids generation stops on, or is not the tokenizer's own eos_token.

    Why: the model writes the end-of-turn token and keeps going, inventing the user's
    next turn until max_new_tokens. Meta-Llama-3-8B-Instruct was first published this
    way: its chat template ends turns with `<|eot_id|>` while generation_config.json's
    eos_token_id held only `<|end_of_text|>`.
    The tokenizer's own eos is compared too: servers and scripts that stop on the
    tokenizer's eos (`tokenizer.eos_token_id`, llama.cpp conversions, custom loops)
    stop late when it is `<|end_of_text|>` while turns end with `<|eot_id|>`, even
    after generation_config.json was fixed.
    Fix: add the end-of-turn id to `eos_token_id` in generation_config.json (a list
    is allowed: `"eos_token_id": [128001, 128009]`), and set the tokenizer's
    `eos_token` (tokenizer_config.json, special_tokens_map.json) to the end-of-turn
    token of a chat model.
    Fixes: makes generation_config.json's `eos_token_id` the list of the current eos
    ids plus the end-of-turn ids (creating the file from config.json's bos/eos/pad ids
    when it is missing, as transformers' `GenerationConfig.from_model_config` does).
    """
    template = tok.chat_template(repo)
    known = tok.vocab(repo)
    if template is None or known is None:
        return
    stops = tok.eos_ids(repo)
    rel, ids = stops if stops else ("generation_config.json" if repo.exists("generation_config.json") else "config.json", set())
    for token in tok.end_of_turn_tokens(repo):
        token_id = known.tokens.get(token)
        if token_id is None or token_id in ids:
            continue
        wanted = sorted(ids | {token_id})
        yield Finding.at(
            rel,
            f"the chat template ({template.source}) ends assistant turns with {token!r} (id {token_id}), which is not an eos id "
            f"({', '.join(map(str, sorted(ids))) or 'none set'}): generation will not stop",
            line=_line(repo, rel, "eos_token_id") if stops else None,
            fix=f'set "eos_token_id": {wanted} in generation_config.json',
        )
    yield from _tokenizer_eos_not_end_of_turn(repo, template, known)


def _tokenizer_eos_not_end_of_turn(repo, template, known):
    eos = tok.role_token(repo, "eos")
    turns = [t for t in tok.end_of_turn_tokens(repo) if t in known.tokens]
    if eos is None or not turns or eos in turns:
        return
    rel = next(
        (
            r
            for r in ("tokenizer_config.json", "special_tokens_map.json")
            if tok.token_string(
                tok.tokenizer_config(repo).get("eos_token")
                if r == "tokenizer_config.json"
                else tok.special_tokens_map(repo).get("eos_token")
            )
            == eos
        ),
        "tokenizer_config.json",
    )
    yield Finding.at(
        rel,
        f"the tokenizer's eos_token is {eos!r} but the chat template ({template.source}) ends assistant turns with {turns[0]!r}: "
        "servers and loops that stop on the tokenizer's eos generate past the end of the turn",
        line=_line(repo, rel, "eos_token"),
        fix=f"set eos_token to {turns[0]!r} in {rel}",
    )


@fixer("SPT006", safe=True)
def stop_on_end_of_turn(repo, findings):
    """end-of-turn ids added to generation_config.json's eos_token_id"""
    known = tok.vocab(repo)
    stops = tok.eos_ids(repo)
    current: list[int] = []
    source = tok.generation_config(repo) if stops and stops[0] == "generation_config.json" else tok.text_config(repo)
    value = (source or {}).get("eos_token_id")
    for item in value if isinstance(value, list) else [value]:
        if type(item) is int and item not in current:
            current.append(item)
    wanted = list(current)
    for token in tok.end_of_turn_tokens(repo):
        token_id = known.tokens.get(token) if known else None
        if token_id is not None and token_id not in wanted:
            wanted.append(token_id)
    if wanted == current:
        return []
    seed = {key: tok.text_config(repo)[key] for key in ("bos_token_id", "eos_token_id", "pad_token_id") if key in tok.text_config(repo)}
    edit = json_edit(repo, "generation_config.json", lambda data: data.__setitem__("eos_token_id", wanted), create=seed)
    return [edit] if edit is not None else []


@rule("SPT007", concern="special-tokens", severity="warning")
def double_bos(repo):
    """The chat template writes a BOS token and the tokenizer adds one too.

    Why: rendering the template to text and then tokenizing it (pipelines, custom
    servers, vLLM's completions endpoint, llama.cpp) gives two BOS tokens at the start
    of every prompt, a sequence the model never saw in training; quality drops
    measurably and nothing fails.
    Fix: remove `{{ bos_token }}` from the template, or set `add_bos_token: false`
    and let the template add it; or always tokenize rendered chats with
    `add_special_tokens=False`.
    """
    template = tok.chat_template(repo)
    in_template = tok.template_adds_bos(repo)
    by_tokenizer = tok.tokenizer_adds_bos(repo)
    if template and in_template and by_tokenizer:
        yield Finding.at(
            template.source,
            f"the chat template writes {in_template} and {by_tokenizer} adds another: prompts start with two BOS tokens",
            line=_line(repo, template.source, *template.key) if template.key else None,
        )


@rule("SPT008", concern="special-tokens", severity="warning")
def right_padding_decoder(repo):
    """A decoder-only model used for generation pads on the right.

    Why: in a right-padded batch the new tokens follow pad tokens for every prompt but
    the longest; batched generation degrades silently (transformers only logs "A
    decoder-only architecture is being used, but right-padding was detected").
    The effective side is judged, as transformers 5 resolves it: tokenizer_config.json's
    `padding_side`, else tokenizer.json's `padding.direction`, else the tokenizer class's
    default (transformers 5 does not write the default: LlamaTokenizer and
    GemmaTokenizer pad left, Qwen2Tokenizer, GPT2Tokenizer and TokenizersBackend right;
    the per-class table is hfcheck/data/tokenizer_defaults.json, generated from
    transformers by scripts/build_tokenizer_defaults.py).
    Fix: set `"padding_side": "left"` in tokenizer_config.json (training code that
    needs right padding can set it at run time).
    Fixes: sets `padding_side` to "left" in tokenizer_config.json (or, without that
    file, tokenizer.json's `padding.direction` to "Left").
    """
    if not tok.generates_text(repo):
        return
    found = tok.padding_side(repo)
    if found is None or found.side != "right":
        return
    if found.default_of:
        message = f"padding_side is not set, and {found.default_of} (the class AutoTokenizer loads) pads on the right by default"
    else:
        message = "padding_side is right"
    line = _line(repo, found.source, *found.key) if found.key else None
    yield Finding.at(
        found.source, message + " on a decoder-only generation model: batched generation continues after pad tokens", line=line
    )


@fixer("SPT008", safe=True)
def pad_on_the_left(repo, findings):
    """padding side set to left"""
    if repo.exists("tokenizer_config.json"):
        edit = json_edit(repo, "tokenizer_config.json", lambda data: data.__setitem__("padding_side", "left"))
    else:
        edit = json_edit(repo, "tokenizer.json", lambda data: data["padding"].__setitem__("direction", "Left"))
    return [edit] if edit is not None else []


def _position_limit(repo) -> int | None:
    config = tok.text_config(repo)
    positions = cfg.positive_int(config, "max_position_embeddings")
    if positions is None:
        return None
    scaling = config.get("rope_scaling")
    factor = cfg.number(scaling, "factor") if isinstance(scaling, dict) else None
    if factor is not None and factor > 1:
        base = cfg.positive_int(scaling, "original_max_position_embeddings") or positions
        scaled = base * factor
        if isinstance(scaled, float) and not math.isfinite(scaled):
            return None  # a factor this large sets no usable limit
        return max(positions, int(scaled))
    return positions


@rule("SPT009", concern="special-tokens", severity="warning")
def model_max_length_beyond_positions(repo):
    """tokenizer_config.json's `model_max_length` is above the model's position limit
    (a warning), or is transformers' "no limit" sentinel (info).

    Why: truncation uses model_max_length, so longer inputs reach the model and index
    past its position embeddings (IndexError or device-side assert on absolute
    positions, garbage past the trained context with RoPE). The sentinel (1e30) means
    the tokenizer never truncates and servers must guess the context length.
    Fix: set model_max_length to max_position_embeddings (times the RoPE scaling
    factor, if any).
    """
    value = tok.tokenizer_config(repo).get("model_max_length")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    line = _line(repo, "tokenizer_config.json", "model_max_length")
    limit = _position_limit(repo)
    if value >= ABSURD_MAX_LENGTH:
        shown = f"{value:.3g}" if value < 1e308 else "above 1e308"  # a longer int does not convert to float
        yield Finding.at(
            "tokenizer_config.json",
            f"model_max_length is {shown}, transformers' 'no limit' value: inputs are never truncated"
            + (f" (the model has {limit} positions)" if limit else ""),
            line=line,
            severity="info",
        )
    elif limit is not None and value > limit:
        yield Finding.at(
            "tokenizer_config.json",
            f"model_max_length {int(value)} is above the model's {limit} positions: longer inputs are not truncated",
            line=line,
        )
