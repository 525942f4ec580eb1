"""Code that model files run when loaded, beyond pickle: Keras configs, TensorFlow
SavedModel graphs, Jinja chat templates (in tokenizer files and GGUF metadata), GGUF
headers and ONNX graphs. Each file is parsed once by its hfcheck.formats module;
rules read these facts."""

from __future__ import annotations

import mmap
from typing import NamedTuple

KERAS_SUFFIXES = (".keras",)
HDF5_SUFFIXES = (".h5", ".hdf5")
TEMPLATE_KEYS = ("chat_template",)


class ChatTemplate(NamedTuple):
    path: str  # the file that holds it
    name: str  # "default", a named template, or the GGUF key
    source: str


def _mapped(repo, rel: str, parse):
    """parse(memoryview of the whole file, memory-mapped): pages that parse never
    touches (tensor data) are never read from disk."""
    if repo.is_placeholder(rel):
        return None
    stream = repo.open(rel)
    if stream is None:
        return None
    with stream:
        size = repo.files[rel].size
        if size == 0:
            return parse(b"")
        try:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as error:
            repo._record(rel, f"cannot map: {error}")
            return None
        view = memoryview(mapped)
        try:
            return parse(view)
        finally:
            try:
                view.release()
                mapped.close()
            except BufferError:  # a slice still referenced somewhere: the collector closes it
                pass


# -- Keras ---------------------------------------------------------------------


def keras_files(repo) -> list[str]:
    """`.keras` archives, and HDF5 files (by signature) named .h5/.hdf5."""

    def compute():
        found = []
        for rel in repo.files:
            lower = rel.lower()
            if not lower.endswith(KERAS_SUFFIXES + HDF5_SUFFIXES) or repo.is_placeholder(rel):
                continue
            if lower.endswith(KERAS_SUFFIXES) or (repo.head(rel, 8) or b"").startswith(b"\x89HDF\r\n\x1a\n"):
                found.append(rel)
        return sorted(found)

    return repo.memo(("facts", "keras_files"), compute)


def keras_config(repo, rel: str):
    """formats.keras.KerasConfig of the file, or None for an HDF5 file with no model config."""

    def compute():
        from hfcheck.formats import keras

        if rel.lower().endswith(KERAS_SUFFIXES):
            return keras.read_keras_archive(repo.files[rel].path)
        return _mapped(repo, rel, keras.read_h5_model_config)

    return repo.memo(("facts", "keras", rel), compute)


# -- TensorFlow SavedModel ---------------------------------------------------------


def saved_model_files(repo) -> list[str]:
    return repo.memo(("facts", "saved_model_files"), lambda: _saved_model_files(repo))


def _saved_model_files(repo) -> list[str]:
    return sorted(
        rel
        for rel in repo.files
        if rel.endswith("saved_model.pb") and rel.rsplit("/", 1)[-1] == "saved_model.pb" and not repo.is_placeholder(rel)
    )


def saved_model_graph(repo, rel: str):
    def compute():
        from hfcheck.formats.tf_saved_model import MAX_BYTES, SavedModelGraph, read_saved_model

        if repo.files[rel].size > MAX_BYTES:
            return SavedModelGraph(error=f"saved_model.pb is over {MAX_BYTES >> 20} MiB; not read")
        return _mapped(repo, rel, read_saved_model)

    return repo.memo(("facts", "saved_model", rel), compute)


def saved_model_ops(repo, rel: str, kind: str) -> list:
    """The graph's ops of one kind: "python" (PyFunc & co.), "file-write", "file-read"."""
    from hfcheck.formats import tf_saved_model as tf

    graph = saved_model_graph(repo, rel)
    names = {"python": tf.PYTHON_OPS, "file-write": tf.FILE_WRITE_OPS, "file-read": tf.FILE_READ_OPS}[kind]
    return graph.flagged(names) if graph is not None else []


# -- GGUF ----------------------------------------------------------------------------


def gguf_files(repo) -> list[str]:
    return repo.memo(("facts", "gguf_files"), lambda: _files_ending(repo, ".gguf"))


def _files_ending(repo, suffix: str) -> list[str]:
    return sorted(rel for rel in repo.files if rel.lower().endswith(suffix) and not repo.is_placeholder(rel))


def gguf(repo, rel: str):
    def compute():
        from hfcheck.formats.gguf import read_gguf

        return _mapped(repo, rel, read_gguf)

    return repo.memo(("facts", "gguf", rel), lambda: repo.file_fact("gguf", rel, compute))  # by content identity (hfcheck.cache)


# -- ONNX ----------------------------------------------------------------------------


def onnx_files(repo) -> list[str]:
    return repo.memo(("facts", "onnx_files"), lambda: _files_ending(repo, ".onnx"))


def onnx_model(repo, rel: str):
    def compute():
        from hfcheck.formats.onnx import read_onnx

        return _mapped(repo, rel, read_onnx)

    return repo.memo(("facts", "onnx", rel), lambda: repo.file_fact("onnx", rel, compute))  # by content identity (hfcheck.cache)


def custom_op_domains(repo, rel: str) -> list[tuple[str, int]]:
    """(domain, node count) of the operator domains no standard runtime ships kernels for."""
    from hfcheck.formats.onnx import BUILTIN_DOMAINS

    model = onnx_model(repo, rel)
    return sorted((d, n) for d, n in model.domains.items() if d not in BUILTIN_DOMAINS) if model is not None else []


# -- chat templates ----------------------------------------------------------------


def chat_templates(repo) -> list[ChatTemplate]:
    """Every chat template a loader may render: tokenizer_config.json / chat_template.json
    `chat_template` (a string or a list of {name, template}), chat_template.jinja and
    additional_chat_templates/*.jinja (transformers), GGUF `tokenizer.chat_template*`."""

    def compute():
        found: list[ChatTemplate] = []
        for rel in repo.files:
            if not rel.endswith(("tokenizer_config.json", "chat_template.json", ".jinja")):
                continue
            name = rel.rsplit("/", 1)[-1]
            if name in ("tokenizer_config.json", "chat_template.json"):
                found.extend(_json_templates(repo, rel))
            elif name.endswith(".jinja") and (name == "chat_template.jinja" or "additional_chat_templates/" in rel):
                source = repo.text(rel)
                if source is not None:
                    found.append(ChatTemplate(rel, name[: -len(".jinja")], source))
        for rel in gguf_files(repo):
            header = gguf(repo, rel)
            for key, value in header.metadata.items() if header is not None else ():
                if key.startswith("tokenizer.chat_template") and isinstance(value, str):
                    found.append(ChatTemplate(rel, key, value))
        return found

    return repo.memo(("facts", "chat_templates"), compute)


def _json_templates(repo, rel: str) -> list[ChatTemplate]:
    data = repo.json_data(rel)
    value = data.get("chat_template") if isinstance(data, dict) else None
    if isinstance(value, str):
        return [ChatTemplate(rel, "default", value)]
    if isinstance(value, list):
        return [
            ChatTemplate(rel, str(item.get("name", index)), item["template"])
            for index, item in enumerate(value)
            if isinstance(item, dict) and isinstance(item.get("template"), str)
        ]
    return []


def template_scan(repo, template: ChatTemplate):
    def compute():
        from hfcheck.formats.chat_template import scan_template

        return scan_template(template.source)

    return repo.memo(("facts", "template_scan", template.path, template.name), compute)
