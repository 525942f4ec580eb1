"""GGUF files (llama.cpp): a readable header whose vocabulary, special tokens and
architecture fields agree with the tensors."""

import re

from hfcheck.facts.model_code import gguf, gguf_files
from hfcheck.findings import Finding
from hfcheck.registry import rule

SPECIAL_TOKEN_KEYS = ("bos", "eos", "unknown", "separator", "padding", "cls", "mask", "eot", "eom", "fim_pre", "fim_suf", "fim_mid")
_BLOCK = re.compile(r"^blk\.(\d+)\.")


def _readable(repo):
    for rel in gguf_files(repo):
        header = gguf(repo, rel)
        if header is not None and header.error is None:
            yield rel, header


def _vocab_size(header) -> int | None:
    return header.array_lengths.get("tokenizer.ggml.tokens")


def _embedding(header):
    return next((t for t in header.tensors if t.name == "token_embd.weight"), None)


@rule("GGF001", concern="weights", severity="error")
def gguf_unreadable(repo):
    """A GGUF file is truncated or malformed: bad magic or version, counts or lengths
    past the end of the file, unknown value types, misaligned tensors, or tensor data
    that ends beyond the file.

    Why: llama.cpp refuses the file (or, for older readers of hostile headers, reads
    out of bounds); a download cut short is the usual cause, and the model never loads.
    Fix: download the file again and compare its size and sha256 with the Hub's.
    """
    for rel in gguf_files(repo):
        header = gguf(repo, rel)
        if header is not None and header.error:
            yield Finding.at(rel, f"GGUF not readable: {header.error}")


@rule("GGF002", concern="weights", severity="error")
def gguf_vocab_embedding_mismatch(repo):
    """The GGUF vocabulary (`tokenizer.ggml.tokens`) and the rows of `token_embd.weight`
    differ, or the per-token arrays (scores, token types) have another length.

    Why: llama.cpp builds the embedding from the vocabulary size and refuses a tensor
    of another shape ("wrong shape"); a converter that mixed tokenizer and weights of
    different checkpoints makes such files.
    Fix: reconvert from a checkpoint whose tokenizer and weights belong together.
    """
    for rel, header in _readable(repo):
        tokens, embedding = _vocab_size(header), _embedding(header)
        if tokens is not None and embedding is not None and len(embedding.dims) == 2 and embedding.dims[1] != tokens:
            yield Finding.at(rel, f"tokenizer.ggml.tokens has {tokens} tokens, token_embd.weight has {embedding.dims[1]} rows")
        for key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
            length = header.array_lengths.get(key)
            if tokens is not None and length is not None and length != tokens:
                yield Finding.at(rel, f"{key} has {length} entries for {tokens} tokens: llama.cpp reads one per token")


@rule("GGF003", concern="weights", severity="error")
def gguf_special_token_out_of_vocab(repo):
    """A GGUF special-token id (`tokenizer.ggml.bos_token_id`, eos, padding, ...) is not
    an index of the vocabulary.

    Why: llama.cpp looks the id up in the token list; an id past its end stops
    generation from ever ending (eos) or crashes the tokenizer.
    Fix: set the id to the token's index in `tokenizer.ggml.tokens` (gguf-py's
    `gguf_set_metadata.py`) or reconvert.
    """
    for rel, header in _readable(repo):
        tokens = _vocab_size(header)
        if tokens is None:
            continue
        for name in SPECIAL_TOKEN_KEYS:
            key = f"tokenizer.ggml.{name}_token_id"
            value = header.metadata.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value < tokens:
                yield Finding.at(rel, f"{key} is {value}, outside the vocabulary of {tokens} tokens")


@rule("GGF004", concern="weights", severity="error")
def gguf_architecture_fields(repo):
    """The GGUF architecture fields are missing or disagree with the tensors:
    `general.architecture`, `{arch}.embedding_length` vs the width of
    `token_embd.weight`, `{arch}.block_count` vs the `blk.N` tensors, an embedding width
    that the head count does not divide.

    Why: llama.cpp sizes the model from these fields; a missing architecture or a
    block count that does not match the tensors makes the load fail.
    Fix: reconvert with llama.cpp's convert_hf_to_gguf.py from the original checkpoint.
    """
    for rel, header in _readable(repo):
        arch = header.metadata.get("general.architecture")
        if not isinstance(arch, str) or not arch:
            yield Finding.at(rel, "no general.architecture: llama.cpp cannot tell which model this is")
            continue
        width = header.metadata.get(f"{arch}.embedding_length")
        embedding = _embedding(header)
        if isinstance(width, int) and embedding is not None and embedding.dims and embedding.dims[0] != width:
            yield Finding.at(rel, f"{arch}.embedding_length is {width}, token_embd.weight rows are {embedding.dims[0]} wide")
        heads = header.metadata.get(f"{arch}.attention.head_count")
        if (
            isinstance(width, int)
            and isinstance(heads, int)
            and f"{arch}.attention.key_length" not in header.metadata
            and (heads <= 0 or width % heads)
        ):
            yield Finding.at(
                rel,
                f"{arch}.embedding_length {width} is not a multiple of {arch}.attention.head_count {heads} (and no key_length is given)",
            )
        blocks = {int(match.group(1)) for t in header.tensors if (match := _BLOCK.match(t.name))}
        declared = header.metadata.get(f"{arch}.block_count")
        if isinstance(declared, int) and blocks and max(blocks) + 1 != declared:
            yield Finding.at(rel, f"{arch}.block_count is {declared}, the file has tensors for {max(blocks) + 1} blocks")
        elif declared is None and blocks:
            yield Finding.at(rel, f"no {arch}.block_count although the file has {max(blocks) + 1} blocks of tensors")
