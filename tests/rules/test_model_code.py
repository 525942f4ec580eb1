"""Keras, TensorFlow SavedModel, GGUF and ONNX rules on files written by the real
libraries (keras, gguf, onnx; SavedModel graphs by tests/model_code_fixtures.py's
encoder): each malicious or broken file gets its rule as an error, each benign
counterpart gets nothing. Keras payloads are verified to fire under
keras.models.load_model(safe_mode=False) with the loader oracle."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from conftest import codes

CODE_RULES = ["KRS", "TFS", "GGF", "ONX", "TPL"]


def _by_path(findings) -> dict[str, list]:
    found: dict[str, list] = {}
    for finding in findings:
        found.setdefault(finding.path, []).append(finding)
    return found


# -- Keras -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    from model_code_fixtures import write_keras_models

    out = tmp_path_factory.mktemp("keras")
    return out, write_keras_models(out)


def test_keras_verdicts(keras_models, run_rules):
    out, expected = keras_models
    by_path = _by_path(run_rules(out, select=CODE_RULES))
    for name, (verdict, code) in expected.items():
        errors = [f.code for f in by_path.get(name, []) if f.severity == "error"]
        if verdict == "benign":
            assert by_path.get(name) is None, (name, by_path.get(name))
        else:
            assert code in errors, (name, by_path.get(name))


def test_keras_lambda_payloads_fire_under_the_real_loader(keras_models, monkeypatch):
    from loader_oracle import observe

    monkeypatch.setenv("KERAS_BACKEND", "torch")
    out, expected = keras_models
    for name in ("lambda_bytecode.keras", "lambda_bytecode.h5"):
        assert observe(out / name, "keras", timeout=240).fired, name
    benign = observe(out / "benign.keras", "keras", timeout=240)
    assert benign.completed and not benign.fired


@pytest.mark.parametrize(
    "layer, severity",
    [
        ({"class_name": "TFSMLayer", "config": {"name": "t", "filepath": "/tmp/other_saved_model"}}, "error"),
        ({"class_name": "StringLookup", "config": {"name": "v", "vocabulary": "/etc/passwd"}}, "warning"),
    ],
)
def test_keras_other_safe_mode_only_layers(tmp_path, run_rules, layer, severity):
    import zipfile

    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [{"module": "keras.layers", **layer}]}}
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    findings = run_rules(tmp_path, select=["KRS"])
    assert [(f.code, f.severity) for f in findings] == [("KRS001", severity)]


def test_keras2_lambda_shape_in_h5(tmp_path, run_rules):
    h5py = pytest.importorskip("h5py")
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "class_name": "Lambda",
                    "config": {
                        "name": "payload",
                        "function": ["4wEAAAAAAAAA", None, None],
                        "function_type": "lambda",
                        "module": "__main__",
                    },
                }
            ],
        },
    }
    with h5py.File(tmp_path / "model.h5", "w") as handle:
        handle.attrs["model_config"] = json.dumps(config).encode()
    findings = run_rules(tmp_path, select=["KRS"])
    assert codes(findings) == ["KRS001"] and "'payload'" in findings[0].message


@pytest.mark.parametrize(
    "reference, severity",
    [
        ({"module": "os", "class_name": "function", "config": "system"}, "error"),
        ({"module": "builtins", "class_name": "function", "config": "exec"}, "error"),
        ({"module": "my_project.layers", "class_name": "Gate", "config": {}}, "warning"),
    ],
)
def test_keras_module_references(tmp_path, run_rules, reference, severity):
    import zipfile

    layers = [
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "activation": reference}},
        # how Keras itself saves Lambda(keras.activations.relu): a Keras built-in by name
        {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {"name": "l", "function": {"module": "builtins", "class_name": "function", "config": "relu"}},
        },
    ]
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": layers}}
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", "{}")
    findings = run_rules(tmp_path, select=["KRS"])
    assert codes(findings) == ["KRS002"] and findings[0].severity == severity


@pytest.mark.parametrize("content", [b"PK\x03\x04broken", b"\x89HDF\r\n\x1a\n" + b"\0" * 40], ids=["zip", "hdf5"])
def test_unreadable_keras_file_is_never_clean(tmp_path, run_rules, content):
    (tmp_path / ("model.keras" if content.startswith(b"PK") else "model.h5")).write_bytes(content)
    assert codes(run_rules(tmp_path, select=["KRS"])) == ["KRS003"]


def test_keras_config_nesting_bound(tmp_path, run_rules):
    import zipfile

    nested = "[" * 100_000 + "]" * 100_000
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.writestr("config.json", nested)
    assert codes(run_rules(tmp_path, select=["KRS"])) == ["KRS003"]


def test_h5_without_model_config_is_weights_only(tmp_path, run_rules):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "tf_model.h5", "w") as handle:
        handle.create_dataset("layer/kernel", data=[1.0, 2.0])
    assert run_rules(tmp_path, select=["KRS"]) == []


# -- TensorFlow SavedModel ------------------------------------------------------------------


def test_saved_model_verdicts(tmp_path, run_rules):
    from model_code_fixtures import write_saved_models

    expected = write_saved_models(tmp_path)
    by_path = _by_path(run_rules(tmp_path, select=["TFS"]))
    for rel, (verdict, code) in expected.items():
        found = by_path.get(rel, [])
        if verdict == "benign":
            assert found == [], found
        else:
            assert code in [f.code for f in found], (rel, found)
            assert any(f.severity == ("error" if verdict == "malicious" else "warning") for f in found)


@pytest.mark.parametrize("cut", [1, 5, 17])
def test_truncated_saved_model_is_never_clean(tmp_path, run_rules, cut):
    from model_code_fixtures import SAVED_MODELS, saved_model

    nodes, functions, _, _ = SAVED_MODELS["pyfunc_graph"]
    data = saved_model(nodes, functions)
    (tmp_path / "saved_model.pb").write_bytes(data[: len(data) - cut])
    assert "TFS003" in codes(run_rules(tmp_path, select=["TFS"]))


# -- GGUF ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, code",
    [
        ({}, None),
        ({"tokens": 40}, "GGF002"),
        ({"tokens": 20}, "GGF002"),
        ({"eos": 32}, "GGF003"),
        ({"block_count": 5}, "GGF004"),
        ({"embedding_length": 16}, "GGF004"),
        ({"heads": 3}, "GGF004"),
        ({"scores": 31}, "GGF002"),
    ],
)
def test_gguf_consistency(tmp_path, run_rules, kwargs, code):
    from model_code_fixtures import write_gguf

    write_gguf(tmp_path / "model.gguf", **kwargs)
    findings = run_rules(tmp_path, select=CODE_RULES)
    assert codes(findings) == ([code] if code else []), findings


def test_gguf_header_agrees_with_the_gguf_reader(tmp_path):
    """Our parse of a real file against llama.cpp's own Python reader."""
    import gguf

    from hfcheck.formats.gguf import TYPE_SIZES, read_gguf
    from model_code_fixtures import write_gguf

    path = write_gguf(tmp_path / "model.gguf")
    ours = read_gguf(path.read_bytes())
    theirs = gguf.GGUFReader(str(path))
    assert ours.error is None
    assert [t.name for t in ours.tensors] == [t.name for t in theirs.tensors]
    assert [t.dims for t in ours.tensors] == [tuple(int(d) for d in t.shape) for t in theirs.tensors]
    assert [t.nbytes for t in ours.tensors] == [int(t.n_bytes) for t in theirs.tensors]
    assert ours.data_start == theirs.data_offset
    assert ours.metadata["tokenizer.chat_template"] == theirs.fields["tokenizer.chat_template"].contents()
    for ggml_type, (block, size) in gguf.GGML_QUANT_SIZES.items():
        assert TYPE_SIZES.get(int(ggml_type)) == (block, size), ggml_type


@pytest.mark.parametrize("keep", [0, 3, 8, 23, 60, 200, -100, -1])
def test_truncated_gguf_is_never_clean(tmp_path, run_rules, keep):
    from model_code_fixtures import write_gguf

    data = write_gguf(tmp_path / "full.gguf").read_bytes()
    (tmp_path / "full.gguf").unlink()
    (tmp_path / "cut.gguf").write_bytes(data[:keep] if keep >= 0 else data[:keep])
    assert codes(run_rules(tmp_path, select=["GGF001"])) == ["GGF001"]


def test_gguf_huge_declared_sizes(tmp_path, run_rules):
    import struct

    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    key = b"general.architecture"
    huge_string = header + struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 1 << 62)
    huge_array = header + struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 4, 1 << 60)
    too_many = b"GGUF" + struct.pack("<IQQ", 3, 1 << 40, 1 << 40)
    for index, data in enumerate((huge_string, huge_array, too_many)):
        (tmp_path / f"m{index}.gguf").write_bytes(data)
    findings = run_rules(tmp_path, select=["GGF"])
    assert codes(findings) == ["GGF001"] * 3


# -- ONNX ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, []),
        ({"location": None}, []),
        ({"location": "/etc/passwd"}, ["ONX001", "error"]),
        ({"location": "../../etc/passwd"}, ["ONX001", "error"]),
        ({"location": "C:\\Windows\\win.ini"}, ["ONX001", "error"]),
        ({"location": "sub/../model.onnx_data"}, ["ONX001", "warning"]),
        ({"custom_domain": "com.example.ops"}, ["ONX002", "warning"]),
        ({"data": False}, ["ONX003", "error"]),
    ],
)
def test_onnx_verdicts(tmp_path, run_rules, kwargs, expected):
    from model_code_fixtures import write_onnx

    write_onnx(tmp_path / "model.onnx", **kwargs)
    findings = run_rules(tmp_path, select=["ONX"])
    assert [x for f in findings for x in (f.code, f.severity)] == expected, findings


def test_onnx_reader_agrees_with_onnx(tmp_path):
    import onnx

    from hfcheck.formats.onnx import read_onnx
    from model_code_fixtures import write_onnx

    path = write_onnx(tmp_path / "model.onnx", custom_domain="com.example.ops")
    ours, theirs = read_onnx(path.read_bytes()), onnx.load(str(path), load_external_data=False)
    assert ours.error is None
    assert ours.nodes == len(theirs.graph.node)
    assert ours.opset_domains == {o.domain for o in theirs.opset_import}
    assert [(t.tensor, t.location) for t in ours.external] == [
        (t.name, next(e.value for e in t.external_data if e.key == "location")) for t in theirs.graph.initializer
    ]


def test_onnx_subgraph_external_data(tmp_path, run_rules):
    """External data of a tensor inside an If branch is found too."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones(4, dtype=np.float32), "w")
    weight.data_location = TensorProto.EXTERNAL
    weight.ClearField("raw_data")
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "/etc/shadow"
    branch = helper.make_graph(
        [helper.make_node("Constant", [], ["y"], value=weight)], "then", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])]
    )
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=branch)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    (tmp_path / "model.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    assert "ONX001" in codes(run_rules(tmp_path, select=["ONX"]))


@pytest.mark.parametrize("cut", [1, 7, 30])
def test_truncated_onnx_is_never_clean(tmp_path, run_rules, cut):
    from model_code_fixtures import write_onnx

    data = write_onnx(tmp_path / "full.onnx", location=None).read_bytes()
    shutil.rmtree(tmp_path)
    tmp_path.mkdir()
    (tmp_path / "model.onnx").write_bytes(data[: len(data) - cut])
    assert codes(run_rules(tmp_path, select=["ONX004"])) == ["ONX004"]


def test_deeply_nested_onnx_subgraphs_are_bounded(tmp_path, run_rules):
    from model_code_fixtures import field

    graph = field(1, field(4, "Relu"))
    for _ in range(200):  # node with attribute g = the graph so far
        graph = field(1, field(4, "If") + field(5, field(1, "then_branch") + field(6, graph)))
    (tmp_path / "model.onnx").write_bytes(field(1, 8) + field(7, graph))
    findings = run_rules(tmp_path, select=["ONX"])
    assert codes(findings) == ["ONX004"] and "deeper" in findings[0].message


def test_static_pass_imports_none_of_the_format_libraries(tmp_path):
    from model_code_fixtures import write_gguf, write_onnx, write_saved_models
    from test_imports import loaded_modules

    write_gguf(tmp_path / "model.gguf")
    write_onnx(tmp_path / "model.onnx")
    write_saved_models(tmp_path / "tf")
    heavy = ("keras", "tensorflow", "onnx", "gguf", "google.protobuf", "torch", "transformers", "numpy")
    assert loaded_modules(tmp_path, "--format", "json", watched=heavy) == []
