"""The one table of file kinds: which names are weights (and which of them pickles),
tokenizer files, model markers, dependency and deployment files, and what the Hub code
fetches. Discovery, the facts, the rules and the Hub code all read it here. A leaf: it
imports nothing of hfcheck."""

from __future__ import annotations

from pathlib import PurePosixPath

# Weight files written by torch.save / pickle / joblib. `.bin` is also used for raw arrays
# (fastText, ONNX external data): facts.weights counts a .bin by its first bytes.
PICKLE_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib")

# Every weight file a model folder may hold (the walk, the concerns, the Hub listing).
WEIGHT_SUFFIXES = (
    ".safetensors",
    *PICKLE_WEIGHT_SUFFIXES,
    ".npy",
    ".npz",
    ".h5",
    ".hdf5",
    ".keras",
    ".msgpack",
    ".gguf",
    ".onnx",
)

# Weights the Hub code lists but neither downloads nor reads a header of.
OTHER_WEIGHT_SUFFIXES = (".npy", ".npz", ".h5", ".hdf5", ".keras", ".pb", ".msgpack", ".gguf", ".onnx", ".tflite", ".mlmodel", ".ot")

# Names that say "this may hold a pickle" to a reader (weights, archives, compressed
# files); anything else holding one is disguised. Wider than PICKLE_WEIGHT_SUFFIXES,
# the names of pickle weight files, hence its own name.
NAMES_THAT_HOLD_PICKLES = (
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".pkl",
    ".pickle",
    ".dill",
    ".joblib",
    ".npy",
    ".npz",
    ".dat",
    ".data",
    ".gz",
    ".bz2",
    ".xz",
    ".lzma",
    ".zip",
    ".tar",
    ".tgz",
    ".7z",
)

# A folder whose own entries include one of these holds a model (or a part of one).
MODEL_MARKERS = {"config.json", "model_index.json", "modules.json", "adapter_config.json", "tokenizer_config.json", "tokenizer.json"}

# Files a tokenizer is saved as (its concern, and what the tokenizer facts read).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
)

# Files whose presence makes a folder a tokenizer for discovery.
TOKENIZER_MARKERS = ("tokenizer_config.json", "tokenizer.json", "tokenizer.model", "vocab.txt", "spiece.model")

# Files that hold a vocabulary (one row per token id).
VOCAB_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.model",
    "tiktoken.model",
    "qwen.tiktoken",
)

# Name prefixes of dependency and container files (the pinning concern).
DEPLOY_FILES = (
    "requirements",
    "constraints",
    "pyproject.toml",
    "setup.cfg",
    "Pipfile",
    "environment.yml",
    "Dockerfile",
    ".env",
    "docker-compose",
)

# The kind of each dependency manifest formats/dependency_files.py reads (lock files,
# *.lock and conda-lock.*, aside): the one table the facts and the pin fixer share.
MANIFEST_KINDS = {
    "pyproject.toml": "pyproject",
    "Pipfile": "pipfile",
    "setup.cfg": "setup.cfg",
    "environment.yml": "environment",
    "environment.yaml": "environment",
}

# What the Hub code downloads whole (small text files rules read), by suffix and by name.
SMALL_SUFFIXES = (
    ".json",
    ".txt",
    ".md",
    ".jinja",
    ".model",
    ".py",
    ".yaml",
    ".yml",
    ".toml",
    ".cfg",
    ".ini",
    ".lock",
    ".tiktoken",
    ".vocab",
    ".spm",
    ".bpe",
)

SMALL_NAMES = (
    ".gitattributes",
    "LICENSE",
    "LICENCE",
    "NOTICE",
    "COPYING",
    "Dockerfile",
    "Pipfile",
    ".env",
    ".hfcheck.yaml",
    ".hfcheck.yml",
)


def concern_of(rel: str) -> str:
    """Which concern a file belongs to, for findings about the file itself."""
    name = PurePosixPath(rel).name
    if name.endswith(WEIGHT_SUFFIXES) or name.endswith(".index.json"):
        return "weights"
    if name in TOKENIZER_FILES:
        return "tokenizer"
    if name == "generation_config.json":
        return "generation"
    if name.upper() == "README.MD":
        return "card"
    if name.upper().startswith(("LICENSE", "LICENCE")):
        return "license"
    if name.startswith(DEPLOY_FILES) or name.endswith((".txt", ".toml", ".lock")):
        return "pinning"
    return "config"
