"""ONNX models (ModelProto), read with the bounded wire reader from a memory map, so
the raw tensor bytes inside the file are skipped, never read: where each initializer's
external data lives (`location` is a path the runtime opens relative to the model), and
which operator domains the nodes use. Field numbers are those of onnx/onnx.proto3."""

from __future__ import annotations

from dataclasses import dataclass, field

from hfcheck.formats.protowire import LENGTH, VARINT, ProtoError, fields, text

MAX_DEPTH = 32  # subgraphs (If/Loop/Scan bodies) nest; deeper than this: not read
MAX_ITEMS = 5_000_000
# Domains the ONNX standard and ONNX Runtime ship kernels for; anything else needs a
# custom-op library registered at session creation (native code from somewhere).
BUILTIN_DOMAINS = frozenset(
    {
        "",
        "ai.onnx",
        "ai.onnx.ml",
        "ai.onnx.training",
        "ai.onnx.preview.training",
        "com.microsoft",
        "com.microsoft.nchwc",
        "com.microsoft.experimental",
        "com.ms.internal.nhwc",
        "org.pytorch.aten",
        "com.microsoft.dml",
    }
)


@dataclass(frozen=True)
class ExternalTensor:
    tensor: str
    location: str


@dataclass
class OnnxModel:
    external: list[ExternalTensor] = field(default_factory=list)
    domains: dict[str, int] = field(default_factory=dict)  # node domain -> node count
    opset_domains: set[str] = field(default_factory=set)
    nodes: int = 0
    error: str | None = None


def read_onnx(data) -> OnnxModel:
    """`data`: the file's bytes or a memoryview of a memory map."""
    model = OnnxModel()
    saw_graph = False
    try:
        for number, wire, value in fields(data):
            if number == 7 and wire == LENGTH:  # ModelProto.graph
                saw_graph = True
                _graph(value, model, 0)
            elif number == 8 and wire == LENGTH:  # ModelProto.opset_import
                model.opset_domains.add(next((text(v) for n, w, v in fields(value) if n == 1 and w == LENGTH), ""))
            elif number == 25 and wire == LENGTH:  # ModelProto.functions
                for f_number, f_wire, f_value in fields(value):
                    if f_number == 4 and f_wire == LENGTH:
                        _node(f_value, model, 1)
        if not saw_graph:
            model.error = "no graph in the file (not an ONNX model, or truncated)"
        elif not model.opset_domains:
            model.error = "no opset_import after the graph (truncated, or not an ONNX model)"
    except ProtoError as error:
        model.error = f"not a readable ONNX protobuf: {error}"
    except RecursionError:
        model.error = "subgraphs nest too deeply; not read"
    return model


def _graph(data, model: OnnxModel, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ProtoError(f"subgraphs nested deeper than {MAX_DEPTH}")
    for number, wire, value in fields(data):
        if wire != LENGTH:
            continue
        if number == 1:  # GraphProto.node
            _node(value, model, depth)
        elif number == 5:  # GraphProto.initializer
            _tensor(value, model)
        elif number == 15:  # GraphProto.sparse_initializer: values (1) and indices (2)
            for s_number, s_wire, s_value in fields(value):
                if s_number in (1, 2) and s_wire == LENGTH:
                    _tensor(s_value, model)


def _node(data, model: OnnxModel, depth: int) -> None:
    model.nodes += 1
    if model.nodes > MAX_ITEMS:
        raise ProtoError(f"more than {MAX_ITEMS} nodes")
    domain = ""
    for number, wire, value in fields(data):
        if number == 7 and wire == LENGTH:  # NodeProto.domain
            domain = text(value)
        elif number == 5 and wire == LENGTH:  # NodeProto.attribute
            for a_number, a_wire, a_value in fields(value):
                if a_wire != LENGTH:
                    continue
                if a_number in (5, 10):  # AttributeProto.t / tensors
                    _tensor(a_value, model)
                elif a_number in (6, 11):  # AttributeProto.g / graphs
                    _graph(a_value, model, depth + 1)
    model.domains[domain] = model.domains.get(domain, 0) + 1


def _tensor(data, model: OnnxModel) -> None:
    name, location, external = "", None, False
    for number, wire, value in fields(data):
        if number == 8 and wire == LENGTH:  # TensorProto.name
            name = text(value)
        elif number == 14 and wire == VARINT:  # TensorProto.data_location (1 = EXTERNAL)
            external = value == 1
        elif number == 13 and wire == LENGTH:  # TensorProto.external_data: key (1) / value (2)
            entry = {n: text(v) for n, w, v in fields(value) if w == LENGTH}
            if entry.get(1) == "location":
                location = entry.get(2, "")
    if external or location is not None:
        model.external.append(ExternalTensor(name, location or ""))
