"""Builders of model files that run code when loaded (and their benign counterparts),
written by the real libraries where they are installed: keras (KERAS_BACKEND=torch),
gguf (llama.cpp's writer), onnx. TensorFlow is too heavy for CI (2 cores, 90 minutes),
so SavedModel graphs are written by a small protobuf encoder below, with the field
numbers of tensorflow/core/protobuf/saved_model.proto, meta_graph.proto and
framework/{graph,node_def,function,op_def}.proto.

Payloads are harmless canaries (`true`, `getcwd`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# -- Keras (in a child process: keras is heavy and sets global state) -----------------

KERAS_SCRIPT = r"""
import json, os, sys
os.environ["KERAS_BACKEND"] = "torch"
import keras
out = sys.argv[1]
def dense():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)])
def with_lambda():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Lambda(lambda x: __import__("os").system("true") and x or x)])
dense().save(f"{out}/benign.keras")
dense().save(f"{out}/benign.h5")
with_lambda().save(f"{out}/lambda_bytecode.keras")
with_lambda().save(f"{out}/lambda_bytecode.h5")
keras.Sequential([keras.Input((4,)), keras.layers.Lambda(os.getcwd)]).save(f"{out}/lambda_builtin.keras")
keras.Sequential([keras.Input((4,)), keras.layers.Lambda(keras.ops.relu)]).save(f"{out}/lambda_keras_op.keras")
import torch
keras.Sequential([keras.Input((4,)), keras.layers.TorchModuleWrapper(torch.nn.Linear(4, 3))]).save(f"{out}/torch_module.keras")
"""

# name -> (verdict, the rule expected)
KERAS_EXPECTED = {
    "benign.keras": ("benign", None),
    "benign.h5": ("benign", None),
    "lambda_keras_op.keras": ("benign", None),
    "lambda_bytecode.keras": ("malicious", "KRS001"),
    "lambda_bytecode.h5": ("malicious", "KRS001"),
    # a benign Linear, but the construct is a pickle that torch.load(weights_only=False) runs
    "torch_module.keras": ("unsafe", "KRS001"),
    # os.getcwd is saved as {"module": "builtins", "config": "getcwd"}: Keras cannot resolve it (the
    # oracle sees a refusal, nothing runs), so it is no finding; tests/rules check exec/os references.
    "lambda_builtin.keras": ("benign", None),
}


def write_keras_models(out: Path) -> dict[str, tuple[str, str | None]]:
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, "-c", KERAS_SCRIPT, str(out)], check=True, capture_output=True, env=env, timeout=300)
    return dict(KERAS_EXPECTED)


# -- protobuf encoding (SavedModel) ------------------------------------------------


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, payload: bytes | str | int) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def node_def(name: str, op: str, *inputs: str, attrs: dict[str, bytes] | None = None) -> bytes:
    body = field(1, name) + field(2, op) + b"".join(field(3, i) for i in inputs)
    for key, value in (attrs or {}).items():  # map<string, AttrValue>: entry key 1, value 2
        body += field(5, field(1, key) + field(2, value))
    return body


def attr_string(value: str) -> bytes:
    return field(2, value)  # AttrValue.s


def function_def(name: str, *nodes: bytes) -> bytes:
    return field(1, field(1, name)) + b"".join(field(3, node) for node in nodes)  # signature (OpDef.name), node_def


def saved_model(graph_nodes: list[bytes], functions: list[bytes] = ()) -> bytes:
    graph = b"".join(field(1, node) for node in graph_nodes)
    if functions:
        graph += field(2, b"".join(field(1, f) for f in functions))  # GraphDef.library.function
    meta_info = field(1, field(4, "serve"))  # MetaGraphDef.meta_info_def.tags
    return field(1, 1) + field(2, meta_info + field(2, graph))  # schema version, meta_graphs


def _saver_nodes() -> list[bytes]:
    return [
        node_def("saver_filename", "Placeholder"),
        node_def("StatefulPartitionedCall", "StatefulPartitionedCall", "saver_filename"),
        node_def("save/SaveV2", "SaveV2", "saver_filename"),
        node_def("restore/RestoreV2", "RestoreV2", "saver_filename"),
        node_def("MergeV2Checkpoints", "MergeV2Checkpoints"),
    ]


SAVED_MODELS = {
    "benign": (
        [node_def("x", "Placeholder"), node_def("w", "VarHandleOp"), node_def("y", "MatMul", "x", "w"), *_saver_nodes()],
        [function_def("__inference_serve_10", node_def("relu", "Relu", "x"), node_def("ident", "Identity", "relu"))],
        "benign",
        None,
    ),
    "pyfunc_graph": (
        [node_def("x", "Placeholder"), node_def("cb", "PyFunc", "x", attrs={"token": attr_string("pyfunc_0")}), *_saver_nodes()],
        [],
        "malicious",
        "TFS001",
    ),
    "eager_pyfunc_in_function": (
        [node_def("x", "Placeholder"), node_def("call", "StatefulPartitionedCall", "x")],
        [function_def("__inference_serve_11", node_def("cb", "EagerPyFunc", "x", attrs={"token": attr_string("pyfunc_1")}))],
        "malicious",
        "TFS001",
    ),
    "write_file": ([node_def("p", "Const"), node_def("c", "Const"), node_def("w", "WriteFile", "p", "c")], [], "malicious", "TFS002"),
    "read_file": ([node_def("p", "Const"), node_def("r", "ReadFile", "p")], [], "suspicious", "TFS002"),
}


def write_saved_models(out: Path) -> dict[str, tuple[str, str | None]]:
    expected = {}
    for name, (nodes, functions, verdict, code) in SAVED_MODELS.items():
        folder = out / name
        (folder / "variables").mkdir(parents=True, exist_ok=True)
        (folder / "saved_model.pb").write_bytes(saved_model(nodes, functions))
        (folder / "variables" / "variables.index").write_bytes(b"")
        expected[f"{name}/saved_model.pb"] = (verdict, code)
    return expected


# -- GGUF (llama.cpp's own writer) --------------------------------------------------

LLAMA3_SHAPED_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
CVE_TEMPLATE = (
    "{% for c in [].__class__.__base__.__subclasses__() %}{% if c.__name__ == 'catch_warnings' %}"
    "{{ c()._module.__builtins__['__import__']('os').system('true') }}{% endif %}{% endfor %}"
)


def write_gguf(
    path: Path,
    *,
    n_vocab: int = 32,
    n_embd: int = 8,
    blocks: int = 2,
    tokens: int | None = None,
    eos: int | None = None,
    template: str | None = LLAMA3_SHAPED_TEMPLATE,
    arch_fields: bool = True,
    block_count: int | None = None,
    embedding_length: int | None = None,
    heads: int = 2,
    scores: int | None = None,
) -> Path:
    """A tiny llama-architecture GGUF written by gguf.GGUFWriter."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    if arch_fields:
        writer.add_context_length(128)
        writer.add_embedding_length(embedding_length if embedding_length is not None else n_embd)
        writer.add_block_count(block_count if block_count is not None else blocks)
        writer.add_head_count(heads)
        writer.add_feed_forward_length(16)
    token_count = n_vocab if tokens is None else tokens
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(token_count)])
    writer.add_token_scores([0.0] * (token_count if scores is None else scores))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2 if eos is None else eos)
    if template is not None:
        writer.add_chat_template(template)
    writer.add_tensor("token_embd.weight", np.zeros((n_vocab, n_embd), dtype=np.float32))
    for block in range(blocks):
        writer.add_tensor(f"blk.{block}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{block}.attn_q.weight", np.zeros((n_embd, n_embd), dtype=np.float16))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


# -- ONNX (the onnx package) --------------------------------------------------------


def write_onnx(path: Path, *, location: str | None = "model.onnx_data", custom_domain: str | None = None, data: bool = True) -> Path:
    """A tiny Add model whose initializer lives in external data at `location`
    (inline when None), optionally with a node of a custom operator domain."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), name="weight")
    nodes = [helper.make_node("Add", ["x", "weight"], ["y"])]
    opsets = [helper.make_opsetid("", 17)]
    if custom_domain:
        nodes.append(helper.make_node("Mystery", ["y"], ["z"], domain=custom_domain))
        opsets.append(helper.make_opsetid(custom_domain, 1))
    output = "z" if custom_domain else "y"
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 8])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [8, 8])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=opsets)
    if location is None:
        onnx.save_model(model, str(path))
        return path
    onnx.save_model(model, str(path), save_as_external_data=True, location="model.onnx_data", size_threshold=0)
    if location != "model.onnx_data" or not data:
        # rewrite the location field the way a hostile file would carry it
        loaded = onnx.load(str(path), load_external_data=False)
        for tensor in loaded.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        path.write_bytes(loaded.SerializeToString())
        if not data:
            (path.parent / "model.onnx_data").unlink()
    return path


def manifest(out: Path, expected: dict) -> None:
    (out / "manifest.json").write_text(json.dumps(expected, indent=1))
