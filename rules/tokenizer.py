"""The tokenizer against the model: every id it emits has an embedding row, it is the
kind of tokenizer the model was trained with, and its files are all there and agree."""

from __future__ import annotations


from hfcheck.facts import config as cfg
from hfcheck.facts import tokenizer as tok
from hfcheck.findings import Finding
from hfcheck.registry import rule

SHOWN = 5  # tokens named in one message


def _names(items) -> str:
    items = list(items)
    shown = ", ".join(f"{token!r} ({token_id})" for token, token_id in items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


def _config_vocab_size(repo) -> int | None:
    return cfg.positive_int(tok.text_config(repo), "vocab_size")


@rule("TOK001", concern="tokenizer", severity="error")
def token_ids_beyond_embedding(repo):
    """The tokenizer can emit token ids that are not below `config.vocab_size` or the
    number of embedding rows in the weights.

    Why: an id past the embedding matrix indexes out of bounds: on GPU a CUDA
    "device-side assert triggered" that kills the worker (usually only when a user
    types the rare added token), on CPU an IndexError. It happens when tokens are added
    to the tokenizer without `resize_token_embeddings`, or the wrong tokenizer ships.
    Fix: call `model.resize_token_embeddings(len(tokenizer))` before saving (and set
    `config.vocab_size` to match), or remove the tokens the model was not trained with.
    Example: tokenizer_config.json's added_tokens_decoder has "32000": "<pad>" while
    config.json says vocab_size 32000 and embed_tokens has 32000 rows.
    """
    known = tok.vocab(repo)
    if known is None or not known.tokens:
        return
    bound = tok.id_limit(repo)
    if bound is None or (tok.text_config(repo).get("vocab_size") is None and tok.embedding_rows(repo) is None):
        return
    limit, label = bound
    beyond = sorted(((t, i) for t, i in known.tokens.items() if i >= limit or i < 0), key=lambda item: item[1])
    if not beyond:
        return
    by_file: dict[str, list] = {}
    for token, token_id in beyond:
        by_file.setdefault(known.source_of(token) or "tokenizer.json", []).append((token, token_id))
    for rel, items in sorted(by_file.items()):
        yield Finding.at(rel, f"{len(items)} token id(s) are not below {label}: {_names(items)}", line=_token_line(repo, rel, items[0]))


def _token_line(repo, rel: str, item) -> int | None:
    doc = repo.json(rel)
    if doc is None or doc.error:
        return None
    if rel == "tokenizer_config.json":
        return doc.line_of("added_tokens_decoder", str(item[1]))
    if rel == "added_tokens.json":
        return doc.line_of(item[0])
    if rel == "tokenizer.json":
        data = doc.data.get("added_tokens") if isinstance(doc.data, dict) else None
        if isinstance(data, list):
            for index, entry in enumerate(data):
                if isinstance(entry, dict) and entry.get("content") == item[0]:
                    return doc.line_of("added_tokens", index)
    return None


@rule("TOK002", concern="tokenizer", severity="info")
def vocab_size_gap(repo):
    """config.json's vocab_size is far larger than the tokenizer.

    Why: padding the embedding to a multiple of 64 or 128, or reserving ids for later
    tokens, is normal and costs nothing; a gap of thousands of ids and a large share of
    the matrix usually means the tokenizer is not the one the model was trained with,
    and then every id maps to the wrong embedding and the model returns fluent garbage.
    Fix: check that the tokenizer files come from the same checkpoint as the weights;
    if the gap is deliberate (reserved tokens), ignore this with `--ignore TOK002`.
    """
    known = tok.vocab(repo)
    vocab_size = _config_vocab_size(repo)
    if known is None or not known.tokens or vocab_size is None:
        return
    gap = vocab_size - known.size
    if gap >= 1024 and gap > 0.1 * vocab_size:
        doc = repo.json("config.json")
        yield Finding.at(
            "config.json",
            f"vocab_size is {vocab_size} but the tokenizer uses only {known.size} ids ({gap} unused, {gap / vocab_size:.0%}): is this the model's own tokenizer?",
            line=doc.line_of("vocab_size") if doc and "vocab_size" in (repo.config or {}) else None,
        )


def _class_table() -> dict:
    from hfcheck.data import load

    return load("tokenizer_classes.json")


def _family_of_class(name: str) -> tuple[str, dict] | None:
    table = _class_table()
    if name in table["compatible_with_all"]:
        return None
    base = name[: -len("Fast")] if name.endswith("Fast") else name
    for family, entry in table["families"].items():
        if base in entry["classes"]:
            return family, entry
    return None


@rule("TOK003", concern="tokenizer", severity="error")
def tokenizer_class_mismatch(repo):
    """The tokenizer class (tokenizer_config.json's `tokenizer_class`, or tokenizer.json's
    model type) belongs to a family the model type never uses, e.g. a BERT WordPiece
    tokenizer on a Llama model.

    Why: the tokenizer loads and encodes without error, but its ids mean different
    tokens than the ones the embeddings were trained on: every prediction is garbage
    and nothing fails. It comes from copying tokenizer files from another repo.
    Fix: ship the tokenizer saved with the model (`tokenizer.save_pretrained`) from the
    checkpoint the weights come from.
    Options: the table of incompatible families is hfcheck/data/tokenizer_classes.json.
    """
    model_type = cfg.model_type(repo)
    if model_type is None:
        return
    cls = tok.tokenizer_config(repo).get("tokenizer_class")
    if isinstance(cls, str):
        found = _family_of_class(cls)
        if found and model_type in found[1]["incompatible_model_types"]:
            doc = repo.json("tokenizer_config.json")
            yield Finding.at(
                "tokenizer_config.json",
                f"tokenizer_class {cls} ({found[0]}) is not a tokenizer a {model_type} model uses",
                line=doc.line_of("tokenizer_class"),
            )
            return
    data = tok.tokenizer_json(repo)
    kind = (data.get("model") or {}).get("type") if data and isinstance(data.get("model"), dict) else None
    for family, entry in _class_table()["families"].items():
        if kind in entry["tokenizer_json_models"] and model_type in entry["incompatible_model_types"]:
            doc = repo.json("tokenizer.json")
            yield Finding.at(
                "tokenizer.json",
                f"tokenizer.json is a {kind} tokenizer ({family}), which a {model_type} model does not use",
                line=doc.line_of("model", "type"),
            )


# Model types with token embeddings but no tokenizer of their own.
NO_TOKENIZER_TYPES = {
    "vit",
    "clip_vision_model",
    "siglip_vision_model",
    "dinov2",
    "resnet",
    "convnext",
    "swin",
    "detr",
    "sam",
    "timesformer",
    "videomae",
    "encodec",
    "dac",
    "mimi",
}


def _needs_tokenizer(repo) -> bool:
    config = repo.config
    if not config or repo.exists("adapter_config.json") or cfg.model_type(repo) in NO_TOKENIZER_TYPES:
        return False
    if _config_vocab_size(repo) is None:
        return False
    card = repo.card.data if repo.card else None
    library = card.get("library_name") if isinstance(card, dict) else None
    return library in (None, "transformers", "sentence-transformers")


@rule("TOK004", concern="tokenizer", severity="error")
def tokenizer_files_missing(repo):
    """A text model ships without a tokenizer, or with tokenizer settings but no
    vocabulary (tokenizer.json, vocab.txt, vocab.json + merges.txt or a SentencePiece
    model).

    Why: `AutoTokenizer.from_pretrained` fails on the repo, and serving engines refuse
    to start; worse, users fetch "the same" tokenizer from another repo, which may not
    match the weights.
    Fix: save the tokenizer beside the model: `tokenizer.save_pretrained(path)` writes
    tokenizer.json, tokenizer_config.json and special_tokens_map.json.
    """
    if tok.has_vocabulary(repo):
        return
    if repo.exists("vocab.json") and not repo.exists("merges.txt") and not repo.exists("tokenizer.json"):
        yield Finding.at(
            "vocab.json", "vocab.json is a BPE vocabulary but merges.txt (and tokenizer.json) are missing: the tokenizer cannot be built"
        )
        return
    settings = [name for name in ("tokenizer_config.json", "special_tokens_map.json", "added_tokens.json") if repo.exists(name)]
    if settings:
        yield Finding.at(
            settings[0],
            f"{', '.join(settings)} present but no vocabulary file (tokenizer.json, vocab.txt, vocab.json + merges.txt, tokenizer.model)",
        )
    elif _needs_tokenizer(repo):
        yield Finding.at("config.json", f"this is a text model (vocab_size {_config_vocab_size(repo)}) but the repo has no tokenizer files")


@rule("TOK005", concern="tokenizer", severity="warning")
def tokenizer_files_disagree(repo):
    """tokenizer.json disagrees with the vocab.txt, vocab.json or merges.txt shipped
    beside it.

    Why: the fast tokenizer (tokenizer.json) and the slow one (vocab files) are then
    two different tokenizers: transformers, vLLM, TGI, llama.cpp conversion scripts and
    sentence-transformers pick different files, so the same text gets different ids
    depending on the stack, usually after someone edited one file by hand.
    Fix: regenerate every file from one tokenizer object (`tokenizer.save_pretrained`),
    or delete the stale slow files.
    """
    data = tok.tokenizer_json(repo)
    model = data.get("model") if data else None
    if not isinstance(model, dict):
        return
    base, _ = tok.tokenizer_json_vocab(data)
    others = []
    if model.get("type") == "WordPiece":
        listed = tok.vocab_txt(repo)
        if listed is not None:
            others.append(("vocab.txt", listed))
    if repo.exists("vocab.json") and model.get("type") in ("BPE", "WordLevel"):
        raw = repo.json_data("vocab.json")
        if isinstance(raw, dict):
            others.append(("vocab.json", raw))
    for rel, other in others:
        if other != base:
            yield Finding.at(rel, f"{rel} and tokenizer.json's vocabulary differ: {_vocab_difference(base, other)}")
    if model.get("type") == "BPE":
        theirs = tok.merges_txt(repo)  # first: most BPE repos ship no merges.txt
        ours = tok.tokenizer_json_merges(model) if theirs is not None else None
        if ours is not None and theirs is not None:
            if theirs != ours:
                first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
                detail = (
                    f"merge {first}: tokenizer.json has {ours[first]!r}, merges.txt has {theirs[first]!r}"
                    if first < min(len(ours), len(theirs))
                    else "one list is a prefix of the other"
                )
                yield Finding.at(
                    "merges.txt",
                    f"merges.txt ({len(theirs)} merges) and tokenizer.json ({len(ours)} merges) differ; first difference at {detail}",
                )


def _vocab_difference(fast: dict, slow: dict) -> str:
    only_fast = [t for t in fast if t not in slow]
    only_slow = [t for t in slow if t not in fast]
    moved = [(t, fast[t], slow[t]) for t in fast if t in slow and fast[t] != slow[t]]
    parts = [f"{len(fast)} vs {len(slow)} tokens"]
    if only_fast:
        parts.append(f"{len(only_fast)} only in tokenizer.json (e.g. {only_fast[0]!r})")
    if only_slow:
        parts.append(f"{len(only_slow)} only in the slow file (e.g. {only_slow[0]!r})")
    if moved:
        token, a, b = moved[0]
        parts.append(f"{len(moved)} with other ids (e.g. {token!r}: {a} vs {b})")
    return "; ".join(parts)
