"""Pickle weights → safetensors, planned as edits for the WGT001 fixer.

The only module outside hfcheck/smoke that imports torch (lazily: the static pass never
does; converting needs the `smoke` extra). The pickles are loaded with
`torch.load(weights_only=True, mmap=True)` and only after the security rules passed
(the fixer checks that first). Tensors that share storage are handled the way
transformers' `save_pretrained` does: a tied output embedding is dropped when config.json
ties the embeddings, any other sharing is broken by copying. Large models are sharded
like `save_pretrained` (model-00001-of-0000N.safetensors plus model.safetensors.index.json
with metadata.total_size and weight_map). Every written shard is verified by reloading it
and comparing each tensor bit for bit with the pickle's."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hfcheck.edits import Edit, FixRefused

BIN_INDEX = "pytorch_model.bin.index.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"
# Output embeddings transformers ties to the input embedding (`_tied_weights_keys`).
OUTPUT_EMBEDDINGS = ("lm_head.weight", "embed_out.weight", "output.weight")
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(value) -> int:
    """ "5GB" (10**9, as transformers counts), "500MiB", or a number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise FixRefused(f"max_shard_size {value!r} is not a size like '5GB'")
    return max(1, int(float(match.group(1)) * _UNITS[(match.group(2) or "B").upper()]))


def pickle_sources(repo) -> list[str]:
    """The pickle files transformers loads: the shards the .bin index names, else
    pytorch_model.bin."""
    index = repo.json_data(BIN_INDEX)
    if isinstance(index, dict) and isinstance(index.get("weight_map"), dict):
        shards = sorted({v for v in index["weight_map"].values() if isinstance(v, str)})
        missing = [s for s in shards if not repo.exists(s)]
        if missing:
            raise FixRefused(f"{BIN_INDEX} names missing shards ({', '.join(missing[:3])}); nothing to convert from")
        return shards
    if repo.exists("pytorch_model.bin"):
        return ["pytorch_model.bin"]
    return []  # adapter_model.bin is converted on its own (plan_conversion)


def _torch():
    try:
        import torch
        from safetensors.torch import save
    except ImportError as error:
        from hfcheck import SMOKE_INSTALL_HINT

        raise FixRefused(
            f"converting pickle weights needs torch and safetensors ({error.name} is missing): {SMOKE_INSTALL_HINT}"
        ) from error
    return torch, save


def _same_bits(a, b) -> bool:
    if a.dtype != b.dtype or tuple(a.shape) != tuple(b.shape):
        return False
    import torch

    return torch.equal(a.contiguous().reshape(-1).view(torch.uint8), b.contiguous().reshape(-1).view(torch.uint8))


def _load_state(repo, sources: list[str]) -> dict:
    torch, _ = _torch()
    state: dict = {}
    for rel in sources:
        try:
            try:
                loaded = torch.load(repo.files[rel].path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as error:
                if "mmap" not in str(error):
                    raise
                # legacy (pre-1.6, non-zip) files cannot be memory-mapped
                loaded = torch.load(repo.files[rel].path, map_location="cpu", weights_only=True)
        except Exception as error:  # weights_only refuses anything but tensors and plain containers
            raise FixRefused(f"torch.load(weights_only=True) refuses {rel}: {type(error).__name__}: {str(error)[:200]}") from error
        if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()):
            raise FixRefused(f"{rel} is not a state dict of tensors (name → tensor); convert it by hand")
        for name, tensor in loaded.items():
            if name in state:
                raise FixRefused(f"tensor {name!r} is in more than one shard")
            state[name] = tensor
    return state


def _storage_key(tensor):
    return (tensor.device.type, tensor.untyped_storage().data_ptr())


def dedupe_shared(state: dict, ties_embeddings: bool) -> tuple[dict, dict]:
    """(tensors to save, dropped name → kept name). Tensors that share storage cannot be
    saved by safetensors: tied output embeddings are dropped when the config ties them
    (transformers rebuilds them from the input embedding), everything else is copied."""
    groups: dict = {}
    for name, tensor in state.items():
        groups.setdefault(_storage_key(tensor), []).append(name)
    keep: dict = {}
    dropped: dict = {}
    for names in groups.values():
        if len(names) > 1 and ties_embeddings:
            heads = [n for n in names if n.endswith(OUTPUT_EMBEDDINGS)]
            others = [n for n in names if n not in heads]
            if heads and len(others) == 1 and all(_same_view(state[h], state[others[0]]) for h in heads):
                for head in heads:
                    dropped[head] = others[0]
                names = others
        for name in names:
            tensor = state[name]
            whole = (
                tensor.is_contiguous()
                and tensor.storage_offset() == 0
                and tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
            )
            keep[name] = tensor if len(names) == 1 and whole else tensor.clone(memory_format=__import__("torch").contiguous_format)
    return {name: keep[name] for name in state if name in keep}, dropped


def _same_view(a, b) -> bool:
    return a.shape == b.shape and a.stride() == b.stride() and a.storage_offset() == b.storage_offset() and a.dtype == b.dtype


def shard(tensors: dict, max_bytes: int) -> list[list[str]]:
    """Greedy in save order, as transformers' split_torch_state_dict_into_shards: a new
    shard when the next tensor would pass the limit (a bigger tensor gets its own)."""
    shards: list[list[str]] = [[]]
    size = 0
    for name, tensor in tensors.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += nbytes
    return shards


def _verifier(names: list[str], originals: dict):
    def verify(path: Path) -> str | None:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as reader:
            stored = set(reader.keys())
            if stored != set(names):
                return f"holds {len(stored)} tensors, expected {len(names)}"
            for name in names:
                if not _same_bits(reader.get_tensor(name), originals[name]):
                    return f"tensor {name!r} differs from the pickle's"
        return None

    return verify


def plan_conversion(repo, *, max_shard_size, remove_pickles: bool) -> list[Edit]:
    edits = []
    refusals = []
    sources = pickle_sources(repo)
    if sources:
        if repo.exists("model.safetensors") or repo.exists(SAFETENSORS_INDEX):
            refusals.append("safetensors weights already exist beside the pickles; compare them and delete the pickles by hand")
        else:
            edits += _convert(repo, sources, "model", parse_size(max_shard_size), remove_pickles, index=BIN_INDEX)
    if repo.exists("adapter_model.bin"):  # PEFT loads adapter_model.safetensors first
        if repo.exists("adapter_model.safetensors"):
            refusals.append("adapter_model.safetensors already exists beside adapter_model.bin")
        else:
            edits += _convert(repo, ["adapter_model.bin"], "adapter_model", None, remove_pickles)
    if not edits:
        raise FixRefused(
            "; ".join(refusals) or "no transformers or PEFT pickle weights (pytorch_model.bin, its index, adapter_model.bin) to convert"
        )
    return edits


def _convert(repo, sources: list[str], stem: str, max_bytes: int | None, remove_pickles: bool, index: str | None = None) -> list[Edit]:
    _, save = _torch()
    state = _load_state(repo, sources)
    if not state:
        raise FixRefused(f"{sources[0]} holds no tensors")
    config = repo.config or {}
    ties = stem == "model" and (
        config.get("tie_word_embeddings") is True
        or (isinstance(config.get("text_config"), dict) and config["text_config"].get("tie_word_embeddings") is True)
    )
    tensors, dropped = dedupe_shared(state, ties)
    groups = shard(tensors, max_bytes) if max_bytes else [list(tensors)]
    names = (
        [f"{stem}.safetensors"]
        if len(groups) == 1
        else [f"{stem}-{i:05d}-of-{len(groups):05d}.safetensors" for i in range(1, len(groups) + 1)]
    )
    edits = []
    for rel, group in zip(names, groups):
        data = save({name: tensors[name] for name in group}, metadata={"format": "pt"})
        note = f"{len(group)} tensors converted from {', '.join(sources)}" + (
            f"; tied {', '.join(sorted(dropped))} dropped" if dropped and rel == names[0] else ""
        )
        edits.append(Edit(rel, data, verify=_verifier(group, state), note=note))
    if len(groups) > 1:
        total = sum(t.numel() * t.element_size() for t in tensors.values())
        weight_map = {name: rel for rel, group in zip(names, groups) for name in group}
        edits.append(
            Edit(
                f"{stem}.safetensors.index.json",
                (json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n").encode(),
            )
        )
    if remove_pickles:
        edits += [Edit(rel, None, note="pickle removed after conversion") for rel in sources]
        if index and repo.exists(index):
            edits.append(Edit(index, None))
    return edits
