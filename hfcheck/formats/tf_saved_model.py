"""TensorFlow SavedModel graphs (saved_model.pb), read with the bounded wire reader:
the op of every node of every meta graph and of every function in the graph's function
library (tf.function bodies live there), nothing else. Field numbers are those of
tensorflow/core/protobuf/saved_model.proto, meta_graph.proto, framework/graph.proto,
node_def.proto and function.proto."""

from __future__ import annotations

from dataclasses import dataclass, field

from hfcheck.formats.protowire import LENGTH, ProtoError, fields, text

MAX_BYTES = 1 << 30  # graphs with inlined constants reach hundreds of MB; past 1 GiB: not read
MAX_NODES = 2_000_000

# Ops that call back into Python: the registered function runs inside the serving process.
PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
# Ops that read, list or write files (or, through gfile, URLs such as gs:// and hdfs://).
FILE_WRITE_OPS = frozenset({"WriteFile", "DeleteFile", "RecursivelyCreateDir"})
FILE_READ_OPS = frozenset(
    {
        "ReadFile",
        "MatchingFiles",
        "MatchingFilesDataset",
        "FixedLengthRecordReaderV2",
        "TextLineReaderV2",
        "WholeFileReaderV2",
        "ImmutableConst",
    }
)


@dataclass(frozen=True)
class GraphOp:
    op: str
    node: str
    where: str  # "graph" or "function NAME"


@dataclass
class SavedModelGraph:
    ops: list[GraphOp] = field(default_factory=list)
    meta_graphs: int = 0
    error: str | None = None

    def flagged(self, names) -> list[GraphOp]:
        return [op for op in self.ops if op.op in names]


def read_saved_model(data: bytes) -> SavedModelGraph:
    graph = SavedModelGraph()
    try:
        for number, wire, value in fields(data):
            if number == 2 and wire == LENGTH:  # SavedModel.meta_graphs
                graph.meta_graphs += 1
                _meta_graph(value, graph)
        if graph.meta_graphs == 0:
            graph.error = "no meta graph in saved_model.pb (not a SavedModel, or an empty one)"
    except ProtoError as error:
        graph.error = f"not a readable SavedModel protobuf: {error}"
    return graph


def _meta_graph(data, graph: SavedModelGraph) -> None:
    for number, wire, value in fields(data):
        if number == 2 and wire == LENGTH:  # MetaGraphDef.graph_def
            for g_number, g_wire, g_value in fields(value):
                if g_number == 1 and g_wire == LENGTH:  # GraphDef.node
                    _node(g_value, "graph", graph)
                elif g_number == 2 and g_wire == LENGTH:  # GraphDef.library
                    _library(g_value, graph)


def _library(data, graph: SavedModelGraph) -> None:
    for number, wire, value in fields(data):
        if number == 1 and wire == LENGTH:  # FunctionDefLibrary.function
            name = "?"
            for f_number, f_wire, f_value in fields(value):
                if f_number == 1 and f_wire == LENGTH:  # FunctionDef.signature (OpDef.name = 1)
                    name = next((text(v) for n, w, v in fields(f_value) if n == 1 and w == LENGTH), name)
                elif f_number == 3 and f_wire == LENGTH:  # FunctionDef.node_def
                    _node(f_value, f"function {name}", graph)


def _node(data, where: str, graph: SavedModelGraph) -> None:
    name = op = ""
    for number, wire, value in fields(data):
        if wire != LENGTH:
            continue
        if number == 1:
            name = text(value)
        elif number == 2:
            op = text(value)
    if len(graph.ops) >= MAX_NODES:
        raise ProtoError(f"more than {MAX_NODES} nodes")
    graph.ops.append(GraphOp(op, name, where))
