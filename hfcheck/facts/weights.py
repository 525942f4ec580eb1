"""Facts about a repo's weights, derived from safetensors headers and the shard indexes
alone (no tensor data is read): which files make up the model, where each tensor lives,
what transformers will load, and which tensor shapes the config implies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import NamedTuple

from hfcheck.facts.config import int_value
from hfcheck.facts.config import model_type as config_model_type
from hfcheck.filekinds import PICKLE_WEIGHT_SUFFIXES

SAFETENSORS_INDEX = "model.safetensors.index.json"
BIN_INDEX = "pytorch_model.bin.index.json"

# a .bin only counts when its first bytes are a zip or a pickle (see tree.PICKLE_WEIGHT_SUFFIXES)
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTO = b"\x80"

# config dtype names (torch_dtype / v5 dtype) → safetensors dtype
CONFIG_DTYPES = {
    "float16": "F16", "half": "F16", "bfloat16": "BF16", "float32": "F32", "float": "F32",
    "float64": "F64", "double": "F64", "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2",
}  # fmt: skip
FLOAT_DTYPES = {"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2"}


def is_pickle_weight(repo, rel: str) -> bool:
    """A file that torch.load / pickle.load would unpickle: judged by its name, and for
    `.bin` also by its first bytes."""
    name = PurePosixPath(rel).name.lower()
    if not name.endswith(PICKLE_WEIGHT_SUFFIXES) or repo.is_git_lfs_pointer(rel):
        return False
    if name.endswith(".bin"):
        head = repo.head(rel, 4) or b""
        return head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTO)
    return True


def pickle_weights(repo) -> list[str]:
    return repo.memo(("facts", "pickle_weights"), lambda: [rel for rel in repo.weight_files if is_pickle_weight(repo, rel)])


def shard_index(repo, rel: str = SAFETENSORS_INDEX) -> dict | None:
    """The `weight_map` index as a dict, or None when absent, invalid or malformed."""
    data = repo.json_data(rel)
    if not isinstance(data, dict) or not isinstance(data.get("weight_map"), dict):
        return None
    return data


def shard_map(repo, rel: str = SAFETENSORS_INDEX) -> dict[str, str] | None:
    """tensor name → shard file for the `weight_map` entries that name a file (WGT005
    reports the others), or None when there is no usable index."""
    index = shard_index(repo, rel)
    if index is None:
        return None
    return {name: shard for name, shard in index["weight_map"].items() if isinstance(shard, str)}


def safetensors_files(repo) -> list[str]:
    """The safetensors files transformers loads for this model, in load order: the
    shards the index names (those present), else model.safetensors, else nothing."""

    def compute():
        mapped = shard_map(repo)
        if mapped is not None:
            return [n for n in sorted(set(mapped.values())) if repo.exists(n)]
        return ["model.safetensors"] if repo.exists("model.safetensors") else []

    return repo.memo(("facts", "safetensors_files"), compute)


def all_tensors(repo) -> dict:
    """name → (shard, TensorInfo) across the model's safetensors files (first wins)."""

    def compute():
        tensors: dict = {}
        for rel in safetensors_files(repo):
            header = repo.safetensors(rel)
            if header is None or header.error:
                continue
            for name, info in header.tensors.items():
                tensors.setdefault(name, (rel, info))
        return tensors

    return repo.memo(("facts", "all_tensors"), compute)


def loaded_format(repo) -> str | None:
    """What `from_pretrained` loads by default: "safetensors" when model.safetensors or
    its index exists (use_safetensors is not False), else "bin", else None."""
    if repo.exists("model.safetensors") or repo.exists(SAFETENSORS_INDEX):
        return "safetensors"
    if repo.exists("pytorch_model.bin") or repo.exists(BIN_INDEX):
        return "bin"
    return None


def quantization_method(repo) -> str | None:
    """The quantization method of a quantized checkpoint, or None."""
    config = repo.config or {}
    quant = config.get("quantization_config")
    if quant is None:
        text = config.get("text_config")
        quant = text.get("quantization_config") if isinstance(text, dict) else None
    if quant is None:
        return None
    method = quant.get("quant_method") if isinstance(quant, dict) else None
    return str(method) if method else "unknown"


def declared_dtype(repo) -> tuple[str, str] | None:
    """(config key, value) of the declared dtype: v5 `dtype`, else `torch_dtype`."""
    config = repo.config or {}
    for key in ("dtype", "torch_dtype"):
        value = config.get(key)
        if isinstance(value, str):
            return key, value
    return None


def stored_float_dtype(repo) -> str | None:
    """The floating dtype holding most of the weight bytes, or None."""
    totals: dict[str, int] = {}
    for _, info in all_tensors(repo).values():
        if info.dtype in FLOAT_DTYPES:
            totals[info.dtype] = totals.get(info.dtype, 0) + info.nbytes
    return max(totals, key=totals.get) if totals else None


# -- architecture shape expectations ------------------------------------------------


class Expectation(NamedTuple):
    """One tensor shape the config implies, with the config keys it comes from."""

    tensor: str
    shape: tuple[int, ...]
    keys: str


@dataclass
class ModelShape:
    family: str
    embedding: str | None  # tensor name of the input embedding, if stored
    lm_head: str | None  # name of the output head if stored
    tied_default: bool
    vocab_size: int | None
    layer_counts: list[tuple[str, int, list[int]]]  # (config key, declared, stored layer indices)
    expectations: list[Expectation]


def _find(tensors, pattern: str) -> tuple[str, str] | None:
    """(tensor name, prefix) of the first tensor matching `prefix + pattern`."""
    regex = re.compile(r"^(.*?)" + pattern + "$")
    for name in sorted(tensors, key=len):
        match = regex.match(name)
        if match:
            return name, match.group(1)
    return None


def _layer_indices(tensors, layer_prefix: str) -> list[int]:
    regex = re.compile(re.escape(layer_prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for m in map(regex.match, tensors) if m})


DECODER_FAMILIES = {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "phi"}
TIED_BY_DEFAULT = {"gemma", "gemma2", "gpt2", "t5"}


def _decoder(config, tensors, model_type) -> ModelShape | None:
    found = _find(tensors, r"embed_tokens\.weight")
    if found is None:
        return None
    embedding, prefix = found
    hidden = int_value(config, "hidden_size")
    heads = int_value(config, "num_attention_heads")
    kv = int_value(config, "num_key_value_heads") or heads
    inter = int_value(config, "intermediate_size")
    head_dim = int_value(config, "head_dim") or (hidden // heads if hidden and heads else None)
    layers = f"{prefix}layers."
    out: list[Expectation] = []
    vocab = int_value(config, "vocab_size")
    if vocab and hidden:
        out.append(Expectation(embedding, (vocab, hidden), "vocab_size, hidden_size"))
    if hidden and heads and head_dim and inter:
        for i in _layer_indices(tensors, layers):
            p = f"{layers}{i}."
            q, k = heads * head_dim, kv * head_dim
            if model_type == "phi3":
                out += [Expectation(p + "self_attn.qkv_proj.weight", (q + 2 * k, hidden), "num_attention_heads, num_key_value_heads, hidden_size"),
                        Expectation(p + "mlp.gate_up_proj.weight", (2 * inter, hidden), "intermediate_size, hidden_size")]  # fmt: skip
            elif model_type == "phi":
                out += [Expectation(p + "mlp.fc1.weight", (inter, hidden), "intermediate_size, hidden_size"),
                        Expectation(p + "mlp.fc2.weight", (hidden, inter), "hidden_size, intermediate_size")]  # fmt: skip
            else:
                out += [Expectation(p + "mlp.gate_proj.weight", (inter, hidden), "intermediate_size, hidden_size"),
                        Expectation(p + "mlp.up_proj.weight", (inter, hidden), "intermediate_size, hidden_size"),
                        Expectation(p + "mlp.down_proj.weight", (hidden, inter), "hidden_size, intermediate_size")]  # fmt: skip
            if model_type != "phi3":
                out += [Expectation(p + "self_attn.q_proj.weight", (q, hidden), "num_attention_heads, head_dim, hidden_size"),
                        Expectation(p + "self_attn.k_proj.weight", (k, hidden), "num_key_value_heads, head_dim, hidden_size"),
                        Expectation(p + "self_attn.v_proj.weight", (k, hidden), "num_key_value_heads, head_dim, hidden_size")]  # fmt: skip
            if model_type not in ("phi",):
                out.append(Expectation(p + "self_attn.o_proj.weight", (hidden, q), "hidden_size, num_attention_heads, head_dim"))
    lm_head = "lm_head.weight" if "lm_head.weight" in tensors else None
    counts = [("num_hidden_layers", int_value(config, "num_hidden_layers"), _layer_indices(tensors, layers))]
    return ModelShape(model_type, embedding, lm_head, model_type in TIED_BY_DEFAULT, vocab, counts, out)


def _gpt2(config, tensors) -> ModelShape | None:
    found = _find(tensors, r"wte\.weight")
    if found is None:
        return None
    embedding, prefix = found
    hidden = int_value(config, "n_embd", "hidden_size")
    inner = int_value(config, "n_inner") or (4 * hidden if hidden else None)
    vocab = int_value(config, "vocab_size")
    out: list[Expectation] = []
    if vocab and hidden:
        out.append(Expectation(embedding, (vocab, hidden), "vocab_size, n_embd"))
    layers = f"{prefix}h."
    if hidden:
        for i in _layer_indices(tensors, layers):
            p = f"{layers}{i}."  # GPT-2 stores Conv1D weights as [in, out]
            out += [Expectation(p + "attn.c_attn.weight", (hidden, 3 * hidden), "n_embd"),
                    Expectation(p + "mlp.c_fc.weight", (hidden, inner), "n_embd, n_inner"),
                    Expectation(p + "mlp.c_proj.weight", (inner, hidden), "n_inner, n_embd")]  # fmt: skip
    lm_head = "lm_head.weight" if "lm_head.weight" in tensors else None
    counts = [("n_layer", int_value(config, "n_layer", "num_hidden_layers"), _layer_indices(tensors, layers))]
    return ModelShape("gpt2", embedding, lm_head, True, vocab, counts, out)


def _bert(config, tensors, model_type) -> ModelShape | None:
    found = _find(tensors, r"embeddings\.word_embeddings\.weight")
    if found is None:
        return None
    embedding, prefix = found
    hidden, inter, vocab = int_value(config, "hidden_size"), int_value(config, "intermediate_size"), int_value(config, "vocab_size")
    out: list[Expectation] = []
    if vocab and hidden:
        out.append(Expectation(embedding, (vocab, hidden), "vocab_size, hidden_size"))
    layers = f"{prefix}encoder.layer."
    if hidden and inter:
        for i in _layer_indices(tensors, layers):
            p = f"{layers}{i}."
            out += [Expectation(p + "attention.self.query.weight", (hidden, hidden), "hidden_size"),
                    Expectation(p + "intermediate.dense.weight", (inter, hidden), "intermediate_size, hidden_size"),
                    Expectation(p + "output.dense.weight", (hidden, inter), "hidden_size, intermediate_size")]  # fmt: skip
    counts = [("num_hidden_layers", int_value(config, "num_hidden_layers"), _layer_indices(tensors, layers))]
    # The MLM decoder is tied under another name; leave tying alone for encoders.
    return ModelShape(model_type, embedding, None, True, vocab, counts, out)


def _t5(config, tensors) -> ModelShape | None:
    if "shared.weight" not in tensors and "encoder.embed_tokens.weight" not in tensors:
        return None
    embedding = "shared.weight" if "shared.weight" in tensors else "encoder.embed_tokens.weight"
    d_model, d_ff, d_kv, heads, vocab = (int_value(config, k) for k in ("d_model", "d_ff", "d_kv", "num_heads", "vocab_size"))
    out: list[Expectation] = []
    if vocab and d_model:
        out.append(Expectation(embedding, (vocab, d_model), "vocab_size, d_model"))
    counts = []
    for stack, key in (("encoder", "num_layers"), ("decoder", "num_decoder_layers")):
        layers = f"{stack}.block."
        indices = _layer_indices(tensors, layers)
        declared = int_value(config, key) if key == "num_layers" else int_value(config, key, "num_layers")
        counts.append((key, declared, indices))
        if d_model and d_kv and heads and d_ff:
            for i in indices:
                p = f"{layers}{i}.layer.0.SelfAttention."
                out.append(Expectation(p + "q.weight", (heads * d_kv, d_model), "num_heads, d_kv, d_model"))
                ff = f"{layers}{i}.layer.{2 if stack == 'decoder' else 1}.DenseReluDense."
                for wi in ("wi.weight", "wi_0.weight", "wi_1.weight"):
                    if ff + wi in tensors:
                        out.append(Expectation(ff + wi, (d_ff, d_model), "d_ff, d_model"))
    lm_head = "lm_head.weight" if "lm_head.weight" in tensors else None
    return ModelShape("t5", embedding, lm_head, True, vocab, counts, out)


def model_shape(repo) -> ModelShape | None:
    """What the config says the stored tensors should look like, for the families
    hfcheck knows; None for other architectures or when the tensors do not match the
    family's naming at all."""

    def compute():
        config = repo.config
        tensors = all_tensors(repo)
        if not config or not tensors:
            return None
        model_type = config_model_type(repo)
        if model_type in DECODER_FAMILIES:
            return _decoder(config, tensors, model_type)
        if model_type == "gpt2":
            return _gpt2(config, tensors)
        if model_type in ("bert", "roberta", "xlm-roberta"):
            return _bert(config, tensors, model_type)
        if model_type in ("t5", "mt5"):
            return _t5(config, tensors)
        return None

    return repo.memo(("facts", "model_shape"), compute)


def known_family(repo) -> bool:
    return config_model_type(repo) in DECODER_FAMILIES | {"gpt2", "bert", "roberta", "xlm-roberta", "t5", "mt5"}


def embedding_rows(repo) -> int | None:
    """Rows of the stored input embedding (what token ids can index), or None."""
    shape = model_shape(repo)
    if shape is None or shape.embedding is None:
        return None
    info = all_tensors(repo)[shape.embedding][1]
    return info.shape[0] if info.shape else None


# -- completeness: every parameter the config implies, for any architecture --------------

# Towers that are not the text stack num_hidden_layers counts.
_OTHER_TOWERS = ("vision", "visual", "image", "audio", "speech", "mm_projector", "multi_modal", "encoder_decoder", "mtp")
# Tensors that can be the output head.
_HEAD_NAMES = re.compile(r"(^|\.)(lm_head|embed_out|output|head|cls)(\.|$)")
_EMBEDDING_PARTS = ("emb", "wte", "shared.weight", "word_embeddings")
LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")


@dataclass
class LayerStack:
    """A repeated block of the checkpoint: `prefix` + index + member name, e.g.
    model.layers.3.self_attn.q_proj.weight is member self_attn.q_proj.weight of layer 3."""

    prefix: str
    members: dict[int, frozenset[str]]  # layer index -> member tensor names

    @property
    def indices(self) -> list[int]:
        return sorted(self.members)

    @property
    def is_text(self) -> bool:
        return not any(part in self.prefix.lower() for part in _OTHER_TOWERS)


def tensor_names(repo) -> set[str]:
    """Every tensor the checkpoint declares: the safetensors headers plus the shard
    index's names (so a missing shard, WGT005's, does not look like missing tensors)."""
    names = set(all_tensors(repo))
    mapped = shard_map(repo)
    if mapped:
        names |= set(mapped)
    return names


def layer_stacks(repo) -> list[LayerStack]:
    """The numbered stacks of the checkpoint, by the first number in each tensor name
    (experts, nested deeper, stay members of their layer)."""

    def compute():
        grouped: dict[str, dict[int, set[str]]] = {}
        for name in tensor_names(repo):
            parts = name.split(".")
            # the first all-digit component, not the last: it must be followed by a member name
            at = next((k for k, part in enumerate(parts[:-1]) if part.isdigit() and part.isascii()), None)
            if at is not None:
                prefix = ".".join(parts[:at]) + "." if at else ""
                grouped.setdefault(prefix, {}).setdefault(int(parts[at]), set()).add(".".join(parts[at + 1 :]))
        return [
            LayerStack(prefix, {i: frozenset(m) for i, m in layers.items()})
            for prefix, layers in sorted(grouped.items())
            if len(layers) > 1
        ]

    return repo.memo(("facts", "layer_stacks"), compute)


def _children(members: frozenset[str]) -> dict[str, set[str]]:
    """module path -> the names directly under it, for every module of one layer."""
    tree: dict[str, set[str]] = {}
    for member in members:
        parts = member.split(".")
        for depth in range(len(parts)):
            tree.setdefault(".".join(parts[:depth]), set()).add(parts[depth])
    return tree


class MissingInLayer(NamedTuple):
    stack: str
    layer: int
    module: str  # module path inside the layer ("" for the layer itself)
    missing: tuple[str, ...]  # names the other layers have under that module
    peers: int  # how many layers have the full set


def inconsistent_layers(stack: LayerStack) -> list[MissingInLayer]:
    """Layers that lack part of a module the other layers have.

    A layer is flagged at a module when the names under it are a strict subset of the
    most common set there, held by more layers than its own set: one layer without a
    v_proj or a bias among layers that have it. Layers that are built differently by
    design replace a module rather than lose part of it (DeepSeek's dense first layers
    have gate_proj/up_proj/down_proj where the others have experts; Jamba's mamba and
    attention layers), and first-layer extras (T5's relative_attention_bias) are supersets:
    neither is a strict subset, so neither is reported."""
    # Layers with the same tensor names are analysed once (a 61-layer MoE has two kinds).
    kinds: dict[frozenset, list[int]] = {}
    for i, members in stack.members.items():
        kinds.setdefault(members, []).append(i)
    if len(kinds) < 2:
        return []
    trees = [(_children(members), layers) for members, layers in kinds.items()]
    modules = sorted({module for tree, _ in trees for module in tree}, key=lambda m: (m.count("."), m))
    found: list[MissingInLayer] = []
    reported: dict[int, list[str]] = {}
    for module in modules:
        sets: dict[frozenset, list[int]] = {}
        for tree, layers in trees:
            if module in tree:
                sets.setdefault(frozenset(tree[module]), []).extend(layers)
        if len(sets) < 2:
            continue
        common, holders = max(sets.items(), key=lambda item: (len(item[1]), len(item[0])))
        for names, layers in sets.items():
            if names < common and len(layers) < len(holders):
                for i in layers:
                    if any(module == p or module.startswith(p + ".") for p in reported.get(i, ())):
                        continue  # already reported at a parent module
                    missing = tuple(sorted(common - names))
                    found.append(MissingInLayer(stack.prefix, i, module, missing, len(holders)))
                    reported.setdefault(i, []).extend(f"{module}.{n}" if module else n for n in missing)
    return sorted(found, key=lambda m: (m.layer, m.module))


def text_stack(repo) -> LayerStack | None:
    """The one text stack num_hidden_layers counts, or None when there is not exactly one."""
    stacks = [s for s in layer_stacks(repo) if s.is_text]
    return stacks[0] if len(stacks) == 1 else None


def declared_layers(config: dict) -> tuple[str, int] | None:
    """(key, value) of the layer count config.json (or its text_config) declares."""
    for source in (config, config.get("text_config")):
        if isinstance(source, dict):
            for key in LAYER_COUNT_KEYS:
                value = int_value(source, key)
                if value is not None and value > 0:
                    return key, value
    return None


def head_tensors(repo) -> list[str]:
    """Tensors outside the numbered stacks that can be the output head."""
    stacked = {s.prefix for s in layer_stacks(repo)}
    return sorted(n for n in tensor_names(repo) if _HEAD_NAMES.search(n) and not any(p and n.startswith(p) for p in stacked))


def has_embedding(repo) -> bool:
    return any(any(part in name.lower() for part in _EMBEDDING_PARTS) for name in tensor_names(repo))
