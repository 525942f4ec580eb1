"""Facts about a repo's tokenizer, special tokens and chat template, derived once per view
and shared by the tokenizer, special-tokens and generation rules.

Everything is read from the JSON/text files through the repo view (the core install has
no `tokenizers`, and the static pass never imports transformers): tokenizer.json's
`model.vocab` and `added_tokens`, vocab.txt / vocab.json, `added_tokens_decoder`,
added_tokens.json. The chat template is scanned as text, never rendered."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from hfcheck.facts import config as cfg
from hfcheck.facts.weights import shard_map
from hfcheck.filekinds import VOCAB_FILES

ROLES = ("bos", "eos", "pad", "unk")

# Names of the tensors that hold one row per token id (suffixes; the shortest prefix
# chain varies by architecture and wrapper: model., bert., language_model., ...).
EMBEDDING_SUFFIXES = (
    "embed_tokens.weight",
    "wte.weight",
    "word_embeddings.weight",
    "shared.weight",
    "embed_in.weight",
    "lm_head.weight",
    "embed_out.weight",
    "tok_embeddings.weight",
)
# Towers whose embeddings are not indexed by text token ids.
NON_TEXT_PARTS = ("vision", "visual", "image", "audio", "speech", "position", "patch", "mm_projector", "multi_modal")

# Model types whose models generate text left to right without an encoder.
DECODER_MODEL_TYPES = {
    "llama", "mistral", "mixtral", "gemma", "gemma2", "gemma3", "gemma3_text", "qwen", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe",
    "phi", "phi3", "phimoe", "gpt2", "gpt_neox", "gpt_neo", "gptj", "gpt_bigcode", "falcon", "mpt", "opt", "bloom", "starcoder2",
    "olmo", "olmo2", "olmoe", "cohere", "cohere2", "deepseek_v2", "deepseek_v3", "stablelm", "granite", "granitemoe", "internlm2",
    "codegen", "persimmon", "jamba", "mamba", "mamba2", "recurrent_gemma", "dbrx", "exaone", "glm", "glm4", "smollm3", "ernie4_5",
    "llava", "llava_next", "mllama", "paligemma", "qwen2_vl", "qwen2_5_vl", "idefics2", "idefics3", "llama4", "mistral3", "gpt_oss",
}  # fmt: skip

# Literal end-of-turn markers of the common chat formats (Llama 3, ChatML, Gemma,
# Phi-3, Cohere, DeepSeek, Mistral/Llama 2), most specific first.
END_OF_TURN_MARKERS = (
    "<|eot_id|>", "<|im_end|>", "<end_of_turn>", "<|end|>", "<|END_OF_TURN_TOKEN|>", "<|end_of_turn|>",
    "<｜end▁of▁sentence｜>", "<|endofturn|>", "<|return|>", "</s>",
)  # fmt: skip
_END_LIKE = re.compile(r"(eot|end_of_turn|end▁of▁sentence|im_end|turn_end|endofturn)", re.IGNORECASE)


@dataclass
class TokenizerVocab:
    """Every token the tokenizer knows and its id."""

    tokens: dict[str, int]  # token -> id, base vocabulary and added tokens
    base_source: str | None  # the file the base vocabulary came from
    base_size: int  # tokens in the base vocabulary
    added: dict[str, tuple[int, str]] = field(default_factory=dict)  # added token -> (id, file)
    model_type: str | None = None  # tokenizer.json model type: BPE, WordPiece, Unigram, WordLevel

    @property
    def max_id(self) -> int:
        return max(self.tokens.values(), default=-1)

    @property
    def size(self) -> int:
        """Rows an embedding needs for every id the tokenizer can emit."""
        return self.max_id + 1

    def id_to_token(self) -> dict[int, str]:
        return {token_id: token for token, token_id in self.tokens.items()}

    def source_of(self, token: str) -> str | None:
        return self.added[token][1] if token in self.added else self.base_source


def _int(value) -> int | None:
    return value if type(value) is int else None


def tokenizer_json(repo) -> dict | None:
    data = repo.json_data("tokenizer.json")
    return data if isinstance(data, dict) else None


def tokenizer_config(repo) -> dict:
    data = repo.json_data("tokenizer_config.json")
    return data if isinstance(data, dict) else {}


def special_tokens_map(repo) -> dict:
    data = repo.json_data("special_tokens_map.json")
    return data if isinstance(data, dict) else {}


def generation_config(repo) -> dict | None:
    data = repo.json_data("generation_config.json")
    return data if isinstance(data, dict) else None


def text_config(repo) -> dict:
    """config.json, or its text_config for multimodal models whose text part is nested."""
    config = repo.config or {}
    nested = config.get("text_config")
    if "vocab_size" not in config and isinstance(nested, dict):
        return nested
    return config


def tokenizer_json_vocab(data: dict) -> tuple[dict[str, int], str | None]:
    """The base vocabulary of a tokenizer.json model, and the model type."""
    model = data.get("model")
    if not isinstance(model, dict):
        return {}, None
    kind = model.get("type")
    vocab = model.get("vocab")
    if isinstance(vocab, dict):  # BPE, WordPiece, WordLevel
        return {k: v for k, v in vocab.items() if type(v) is int}, kind
    if isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        return {
            item[0]: i for i, item in enumerate(vocab) if isinstance(item, list) and item and isinstance(item[0], str)
        }, kind or "Unigram"
    return {}, kind


def vocab_txt(repo) -> dict[str, int] | None:
    """vocab.txt (WordPiece) as token -> id, the id being the line's index (a repeated
    token keeps its first); None when absent or unreadable."""

    def compute():
        text = repo.text("vocab.txt") if repo.exists("vocab.txt") else None
        if text is None:
            return None
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        tokens: dict[str, int] = {}
        for i, line in enumerate(lines):
            tokens.setdefault(line.rstrip("\r"), i)
        return tokens

    return repo.memo(("facts.tokenizer", "vocab.txt"), compute)


def merges_txt(repo) -> list[str] | None:
    """The merges of merges.txt ("a b" per line, without the #version header and blank
    lines); None when absent or unreadable."""
    text = repo.text("merges.txt") if repo.exists("merges.txt") else None
    if text is None:
        return None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return [line for line in lines if line and not line.startswith("#version")]


def tokenizer_json_merges(model: dict) -> list[str] | None:
    """A tokenizer.json BPE model's merges as "a b" strings (both spellings: strings and
    pairs), or None when it lists none."""
    merges = model.get("merges")
    if not isinstance(merges, list):
        return None
    return [m if isinstance(m, str) else " ".join(map(str, m)) for m in merges if isinstance(m, (str, list))]


def vocab(repo) -> TokenizerVocab | None:
    """The tokenizer's token -> id map, or None when no vocabulary file can be read."""
    return repo.memo(("facts.tokenizer", "vocab"), lambda: _vocab(repo))


def _vocab(repo) -> TokenizerVocab | None:
    tokens: dict[str, int] = {}
    source = None
    kind = None
    data = tokenizer_json(repo)
    if data is not None:
        tokens, kind = tokenizer_json_vocab(data)
        source = "tokenizer.json"
    elif repo.exists("vocab.txt"):
        listed = vocab_txt(repo)
        if listed is not None:
            tokens = listed
            source, kind = "vocab.txt", "WordPiece"
    elif repo.exists("vocab.json"):
        raw = repo.json_data("vocab.json")
        if isinstance(raw, dict):
            tokens = {k: v for k, v in raw.items() if type(v) is int}
            source, kind = "vocab.json", "BPE"
    result = TokenizerVocab(tokens=dict(tokens), base_source=source, base_size=len(tokens), model_type=kind)
    for token, token_id, rel in _added_tokens(repo, data):
        result.added.setdefault(token, (token_id, rel))
        result.tokens.setdefault(token, token_id)
    if source is None and not result.added:
        return None
    return result


def _added_tokens(repo, data: dict | None):
    if data is not None and isinstance(data.get("added_tokens"), list):
        for entry in data["added_tokens"]:
            if isinstance(entry, dict) and isinstance(entry.get("content"), str) and _int(entry.get("id")) is not None:
                yield entry["content"], entry["id"], "tokenizer.json"
    decoder = tokenizer_config(repo).get("added_tokens_decoder")
    if isinstance(decoder, dict):
        for key, entry in decoder.items():
            if isinstance(entry, dict) and isinstance(entry.get("content"), str) and key.lstrip("-").isdigit():
                yield entry["content"], int(key), "tokenizer_config.json"
    extra = repo.json_data("added_tokens.json")
    if isinstance(extra, dict):
        for token, token_id in extra.items():
            if _int(token_id) is not None:
                yield token, token_id, "added_tokens.json"


def tokenizer_files(repo) -> list[str]:
    """The root files that together form the tokenizer."""
    from hfcheck.filekinds import TOKENIZER_FILES

    names = set(TOKENIZER_FILES) | set(VOCAB_FILES)
    return sorted(rel for rel in repo.files if rel in names)


def has_vocabulary(repo) -> bool:
    present = [name for name in VOCAB_FILES if repo.exists(name)]
    if present == ["vocab.json"] and not repo.exists("merges.txt"):
        return _tokenizer_family(repo) == "wordlevel"  # WordLevel / CTC vocabularies need no merges
    return bool(present) or bool(repo.glob("*.model")) or bool(repo.glob("*.tiktoken"))


def _tokenizer_family(repo) -> str | None:
    cls = tokenizer_config(repo).get("tokenizer_class")
    if isinstance(cls, str) and ("Wav2Vec2" in cls or "CTC" in cls or "Phoneme" in cls):
        return "wordlevel"
    return None


def token_string(value) -> str | None:
    """A special token as tokenizer_config.json / special_tokens_map.json write it: a
    string, or an AddedToken object with `content`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def _ids(value) -> tuple[int, ...] | None:
    if type(value) is int:
        return (value,)
    if isinstance(value, list) and value and all(type(v) is int for v in value):
        return tuple(value)
    return None


class SpecialToken(NamedTuple):
    """One file's declaration of a special token."""

    role: str  # bos, eos, pad, unk
    source: str  # file it was declared in
    key: tuple  # JSON key path of the declaration (for the line)
    token: str | None  # the string, when declared as a string
    ids: tuple[int, ...]  # declared ids, or the string's id in the vocabulary; () if unknown

    @property
    def label(self) -> str:
        if self.token is not None:
            return f"{self.token!r}" + (f" (id {self.ids[0]})" if self.ids else " (not in the vocabulary)")
        return ", ".join(map(str, self.ids)) if len(self.ids) > 1 else str(self.ids[0])


def special_tokens(repo) -> list[SpecialToken]:
    """Every declaration of bos/eos/pad/unk in config.json, generation_config.json,
    tokenizer_config.json, special_tokens_map.json and tokenizer.json."""
    return repo.memo(("facts.tokenizer", "special"), lambda: _special_tokens(repo))


def _special_tokens(repo) -> list[SpecialToken]:
    found: list[SpecialToken] = []
    known = vocab(repo)
    lookup = known.tokens if known else {}
    for rel, data in (("config.json", repo.config), ("generation_config.json", generation_config(repo))):
        if not data:
            continue
        for role in ROLES:
            ids = _ids(data.get(f"{role}_token_id"))
            if ids is not None:
                found.append(SpecialToken(role, rel, (f"{role}_token_id",), None, ids))
    for rel, data in (("tokenizer_config.json", tokenizer_config(repo)), ("special_tokens_map.json", special_tokens_map(repo))):
        for role in ROLES:
            token = token_string(data.get(f"{role}_token"))
            if token is not None:
                found.append(SpecialToken(role, rel, (f"{role}_token",), token, (lookup[token],) if token in lookup else ()))
    data = tokenizer_json(repo)
    if data is not None:
        padding = data.get("padding")
        if isinstance(padding, dict) and isinstance(padding.get("pad_token"), str):
            token = padding["pad_token"]
            found.append(
                SpecialToken("pad", "tokenizer.json", ("padding", "pad_token"), token, (lookup[token],) if token in lookup else ())
            )
        model = data.get("model")
        if isinstance(model, dict) and isinstance(model.get("unk_token"), str):
            token = model["unk_token"]
            found.append(SpecialToken("unk", "tokenizer.json", ("model", "unk_token"), token, (lookup[token],) if token in lookup else ()))
    return found


def eos_ids(repo) -> tuple[str, set[int]] | None:
    """The ids generation stops on, and the file they come from: generation_config.json's
    eos_token_id, else config.json's (transformers derives one from the other)."""
    for rel, data in (("generation_config.json", generation_config(repo)), ("config.json", text_config(repo))):
        if data and "eos_token_id" in data:
            ids = _ids(data.get("eos_token_id"))
            return rel, set(ids or ())
    return None


def is_decoder_only(repo) -> bool:
    config = repo.config
    if not config or config.get("is_encoder_decoder"):
        return False
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in cfg.architectures(repo)):
        return True
    return cfg.model_type(repo) in DECODER_MODEL_TYPES


def generates_text(repo) -> bool:
    """A decoder-only model used for generation (not a decoder turned into a classifier)."""
    if not is_decoder_only(repo):
        return False
    classes = cfg.architectures(repo)
    if classes and all(
        a.endswith(("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering", "Model")) for a in classes
    ):
        return False
    card = repo.card.data if repo.card else None
    tag = card.get("pipeline_tag") if isinstance(card, dict) else None
    return tag in (
        None,
        "text-generation",
        "image-text-to-text",
        "conversational",
        "text2text-generation",
        "image-to-text",
        "visual-question-answering",
    )


class ChatTemplate(NamedTuple):
    source: str  # chat_template.jinja, chat_template.json or tokenizer_config.json
    key: tuple  # JSON key path, () for the .jinja file
    text: str


def chat_template(repo) -> ChatTemplate | None:
    """The chat template, in the file transformers 5.x writes (chat_template.jinja), the
    4.43-4.x chat_template.json, or tokenizer_config.json's `chat_template`."""
    return repo.memo(("facts.tokenizer", "chat_template"), lambda: _chat_template(repo))


def _template_text(value) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, list):  # named templates: [{"name": "default", "template": "..."}]
        texts = [item["template"] for item in value if isinstance(item, dict) and isinstance(item.get("template"), str)]
        return "\n".join(texts) or None
    return None


def _chat_template(repo) -> ChatTemplate | None:
    if repo.exists("chat_template.jinja"):
        text = repo.text("chat_template.jinja")
        if text and text.strip():
            return ChatTemplate("chat_template.jinja", (), text)
    raw = repo.json_data("chat_template.json")
    if isinstance(raw, dict) and _template_text(raw.get("chat_template")):
        return ChatTemplate("chat_template.json", ("chat_template",), _template_text(raw["chat_template"]))
    text = _template_text(tokenizer_config(repo).get("chat_template"))
    if text:
        return ChatTemplate("tokenizer_config.json", ("chat_template",), text)
    return None


def role_token(repo, role: str) -> str | None:
    """The tokenizer's string for a special-token role."""
    for data in (tokenizer_config(repo), special_tokens_map(repo)):
        token = token_string(data.get(f"{role}_token"))
        if token:
            return token
    return None


def end_of_turn_tokens(repo) -> list[str]:
    """The literal tokens the chat template writes at the end of an assistant turn.

    The template is scanned, not rendered: a known end-of-turn marker written as a
    literal, else a special added token whose name says it ends a turn. A template that
    ends turns with `{{ eos_token }}` yields the tokenizer's eos string."""
    return repo.memo(("facts.tokenizer", "end_of_turn"), lambda: _end_of_turn(repo))


def _end_of_turn(repo) -> list[str]:
    template = chat_template(repo)
    if template is None:
        return []
    text = template.text
    for marker in END_OF_TURN_MARKERS:
        if marker in text and (marker != "</s>" or "eos_token" not in text):
            return [marker]
    known = vocab(repo)
    if known:
        for token in sorted(known.added, key=len, reverse=True):
            if len(token) > 2 and _END_LIKE.search(token) and "header" not in token.lower() and token in text:
                return [token]
    if re.search(r"\beos_token\b", text):
        eos = role_token(repo, "eos")
        return [eos] if eos else []
    return []


def template_adds_bos(repo) -> str | None:
    """How the chat template writes a BOS, or None: `bos_token` or the literal string."""
    template = chat_template(repo)
    if template is None:
        return None
    if re.search(r"\bbos_token\b", template.text):
        return "{{ bos_token }}"
    bos = role_token(repo, "bos")
    if bos and len(bos) > 2 and bos in template.text:
        return bos
    return None


BOS_FLAG_CLASSES = ("TokenizersBackend", "LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer", "CohereTokenizer")


def tokenizer_adds_bos(repo) -> str | None:
    """Where the tokenizer itself prepends a BOS when encoding, or None."""
    config = tokenizer_config(repo)
    flag = config.get("add_bos_token")
    cls = config.get("tokenizer_class")
    # transformers 5 (TokenizersBackend) and the 4.x Llama/Gemma/Cohere classes rebuild the
    # post_processor from add_bos_token; 4.x PreTrainedTokenizerFast keeps tokenizer.json's.
    honours_flag = tokenizer_json(repo) is None or (isinstance(cls, str) and cls.startswith(BOS_FLAG_CLASSES))
    if honours_flag and isinstance(flag, bool):
        return "tokenizer_config.json (add_bos_token: true)" if flag else None
    bos = role_token(repo, "bos")
    data = tokenizer_json(repo)
    processor = data.get("post_processor") if data else None
    if bos and isinstance(processor, dict):
        for step in processor.get("processors", [processor]) if processor.get("type") == "Sequence" else [processor]:
            single = step.get("single") if isinstance(step, dict) else None
            if isinstance(single, list) and single and isinstance(single[0], dict):
                first = single[0].get("SpecialToken", {})
                if isinstance(first, dict) and first.get("id") == bos:
                    return "tokenizer.json (its post_processor prepends the bos)"
    return None


def embedding_rows(repo) -> tuple[int, str, str] | None:
    """The fewest rows among the token-indexed tensors in the safetensors weights, with the
    tensor name and file: (rows, tensor, file). None when there are no readable weights."""
    return repo.memo(("facts.tokenizer", "embedding_rows"), lambda: _embedding_rows(repo))


def _is_embedding(name: str) -> bool:
    lowered = name.lower()
    return (name.endswith(EMBEDDING_SUFFIXES) or name == "output.weight") and not any(part in lowered for part in NON_TEXT_PARTS)


def _embedding_rows(repo):
    candidates: list[tuple[str, str]] = []  # (file, tensor)
    weight_map = shard_map(repo)
    if weight_map is not None:
        candidates = [(shard, name) for name, shard in weight_map.items() if _is_embedding(name) and repo.exists(shard)]
    else:
        for rel in repo.glob("*.safetensors")[:8]:
            header = repo.safetensors(rel)
            if header is not None and header.error is None:
                candidates += [(rel, name) for name in header.tensors if _is_embedding(name)]
    best = None
    for rel, name in candidates:
        header = repo.safetensors(rel)
        info = header.tensors.get(name) if header is not None and header.error is None else None
        if info is None or len(info.shape) != 2 or not info.dtype.startswith(("F", "BF")):  # packed quantized rows are not token rows
            continue
        if best is None or info.shape[0] < best[0]:
            best = (info.shape[0], name, rel)
    return best


def id_limit(repo) -> tuple[int, str] | None:
    """The bound every token id must stay below, and what sets it: the smaller of
    config.json's vocab_size and the embedding rows, else the tokenizer's size."""

    def compute():
        limits = []
        size = cfg.positive_int(text_config(repo), "vocab_size")
        if size is not None:
            limits.append((size, f"config.json's vocab_size {size}"))
        rows = embedding_rows(repo)
        if rows is not None:
            limits.append((rows[0], f"the {rows[0]} rows of {rows[1]} in {rows[2]}"))
        if limits:
            return min(limits)
        known = vocab(repo)
        return (known.size, f"the tokenizer's {known.size} ids") if known and known.tokens else None

    return repo.memo(("facts.tokenizer", "id_limit"), compute)


# -- what the loaded tokenizer does ------------------------------------------------------

# Files whose pad declaration the tokenizer itself reads (transformers 5 also takes
# tokenizer.json's `padding.pad_token`); config.json and generation_config.json are
# read by the model and generate(), never by the tokenizer.
TOKENIZER_PAD_SOURCES = ("tokenizer_config.json", "special_tokens_map.json", "tokenizer.json")


def tokenizer_pad(repo) -> SpecialToken | None:
    """The pad token the loaded tokenizer has, or None when `tokenizer(batch,
    padding=True)` raises for want of one."""
    return next((d for d in special_tokens(repo) if d.role == "pad" and d.source in TOKENIZER_PAD_SOURCES), None)


def model_pad_ids(repo) -> list[SpecialToken]:
    """pad_token_id declarations the model side reads (config.json, generation_config.json)."""
    return [d for d in special_tokens(repo) if d.role == "pad" and d.source not in TOKENIZER_PAD_SOURCES]


def deployment_batch(repo) -> tuple[int, str] | None:
    """The largest batch the deployment declares, with where: the settings' deploy
    max_batch_size or a serving config's max batch size (TGI --max-batch-size)."""
    from hfcheck.facts import deploy

    found = []
    declared = repo.settings.deploy.max_batch_size if repo.settings else None
    if isinstance(declared, int) and not isinstance(declared, bool):
        found.append((declared, "the hfcheck deploy settings (max_batch_size)"))
    for serving in deploy.servings(repo):
        size = deploy.as_int(serving.get("max_batch"))
        if size is not None:
            found.append((size, f"{serving.path} ({serving.engine} max batch size)"))
    return max(found) if found else None


def tokenizer_class(repo) -> str | None:
    """The tokenizer class AutoTokenizer loads: tokenizer_config.json's `tokenizer_class`,
    else the class transformers maps the model_type to (hfcheck/data/tokenizer_defaults.json)."""
    from hfcheck.data import load

    table = load("tokenizer_defaults.json")
    model_type = cfg.model_type(repo)
    registered = table["model_type_tokenizer"].get(model_type) if model_type else None
    declared = tokenizer_config(repo).get("tokenizer_class")
    if not isinstance(declared, str) or not declared or (registered and model_type in table.get("hub_class_overridden", ())):
        return registered
    if declared.removesuffix("Fast") == "LlamaTokenizer" and _byte_level(repo):
        return "TokenizersBackend"  # AutoTokenizer loads Llama-3-style ByteLevel files so: LlamaTokenizer is Metaspace only
    return declared


def _byte_level(repo) -> bool:
    data = tokenizer_json(repo)
    pre = data.get("pre_tokenizer") if data else None
    steps = pre.get("pretokenizers", [pre]) if isinstance(pre, dict) and pre.get("type") == "Sequence" else [pre]
    return any(isinstance(step, dict) and step.get("type") == "ByteLevel" for step in steps)


class PaddingSide(NamedTuple):
    side: str  # "left" or "right"
    source: str  # the file that sets it, or where the default applies
    key: tuple  # JSON key path, () for a class default
    default_of: str | None = None  # the tokenizer class whose default it is, when not written


def padding_side(repo) -> PaddingSide | None:
    """The side the loaded tokenizer pads on, as transformers 5 resolves it:
    tokenizer_config.json's `padding_side`, else tokenizer.json's `padding.direction`,
    else the tokenizer class's default (LlamaTokenizer and GemmaTokenizer pad left,
    most classes right). None when the class is unknown (custom code)."""
    from hfcheck.data import load

    side = tokenizer_config(repo).get("padding_side")
    if side in ("left", "right"):
        return PaddingSide(side, "tokenizer_config.json", ("padding_side",))
    data = tokenizer_json(repo)
    padding = data.get("padding") if data else None
    if isinstance(padding, dict) and isinstance(padding.get("direction"), str) and padding["direction"].lower() in ("left", "right"):
        return PaddingSide(padding["direction"].lower(), "tokenizer.json", ("padding", "direction"))
    cls = tokenizer_class(repo)
    if cls is None:
        return None
    defaults = load("tokenizer_defaults.json")["padding_side"]
    name = cls if cls in defaults else cls.removesuffix("Fast")
    if name not in defaults:
        return None
    where = "tokenizer_config.json" if repo.exists("tokenizer_config.json") else "tokenizer.json"
    return PaddingSide(defaults[name], where, (), default_of=name)
