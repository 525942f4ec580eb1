"""Property tests for the Keras, SavedModel, chat template, GGUF and ONNX readers: random
bytes and mutations of real files (written by gguf, onnx, the SavedModel encoder) never
let an exception escape, and an unreadable file always says so."""

from __future__ import annotations

import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfcheck.formats.chat_template import scan_template
from hfcheck.formats.gguf import read_gguf
from hfcheck.formats.keras import judge_config
from hfcheck.formats.onnx import read_onnx
from hfcheck.formats.tf_saved_model import read_saved_model

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    from model_code_fixtures import SAVED_MODELS, saved_model, write_gguf, write_onnx

    out = tmp_path_factory.mktemp("real")
    nodes, functions, _, _ = SAVED_MODELS["eager_pyfunc_in_function"]
    return {
        "gguf": write_gguf(out / "m.gguf").read_bytes(),
        "onnx": write_onnx(out / "m.onnx", location=None, custom_domain="com.example").read_bytes(),
        "tf": saved_model(nodes, functions),
    }


READERS = {"gguf": read_gguf, "onnx": read_onnx, "tf": read_saved_model}


@FAST
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data):
    for read in READERS.values():
        result = read(data)
        assert result.error is not None or data  # empty input is never "read"


@FAST
@given(st.data())
def test_mutated_real_files_never_raise(real_files, data):
    kind = data.draw(st.sampled_from(sorted(READERS)))
    original = bytearray(real_files[kind])
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(original) - 1))
        original[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(original)))
    READERS[kind](bytes(original[:cut]))


def _top_level_ends(data: bytes) -> set[int]:
    """Offsets where a top-level protobuf field ends: a cut there leaves a valid message
    (protobuf has no end marker), so only the required fields can tell it is short."""
    from hfcheck.formats.protowire import LENGTH, VARINT, read_varint

    view, position, ends = memoryview(data), 0, set()
    while position < len(data):
        key, position = read_varint(view, position)
        if key & 7 == VARINT:
            _, position = read_varint(view, position)
        elif key & 7 == LENGTH:
            length, position = read_varint(view, position)
            position += length
        else:
            position += 8 if key & 7 == 1 else 4
        ends.add(position)
    return ends


@pytest.mark.parametrize("kind", sorted(READERS))
def test_every_truncation_is_an_error(real_files, kind):
    data = real_files[kind]
    complete_prefixes = _top_level_ends(data) if kind != "gguf" else set()
    for cut in range(0, len(data) - 1):
        if cut in complete_prefixes and READERS[kind](data[:cut]).error is None:
            continue  # e.g. a cut between two opset_import entries after the graph
        assert READERS[kind](data[:cut]).error is not None, (kind, cut)


def test_gguf_declared_counts_are_checked_before_allocation():
    huge = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, 1 << 61)
    assert "more than the file holds" in read_gguf(huge).error


@FAST
@given(st.text(max_size=300))
def test_templates_never_raise(text):
    scan_template(text)


@FAST
@given(
    st.lists(
        st.sampled_from(
            [
                "{{",
                "}}",
                "{%",
                "%}",
                "x",
                ".",
                "__class__",
                "|attr(",
                ")",
                "(",
                "'",
                "~",
                "[",
                "]",
                " ",
                "for ",
                "in ",
                "endfor",
                "set ",
                "=",
            ]
        ),
        max_size=60,
    )
)
def test_template_token_soup_never_raises(pieces):
    scan_template("".join(pieces))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["Lambda", "__lambda__", "builtins", "os", "keras.layers", "lambda"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["class_name", "config", "module", "function", "function_type", "name", "layers"]), children, max_size=5
        )
    ),
    max_leaves=30,
)


@FAST
@given(json_values)
def test_keras_config_judging_never_raises(value):
    judge_config(json.loads(json.dumps(value)))


# -- HDF5 attributes (Keras .h5) ---------------------------------------------------


@pytest.fixture(scope="module")
def h5_files(tmp_path_factory):
    """model_config written by h5py in every layout it has: the default (superblock 0,
    object header 1, variable-length string), libver latest (superblock 3, OHDR),
    fixed-length bytes, attribute creation order tracked."""
    h5py = pytest.importorskip("h5py")
    out = tmp_path_factory.mktemp("h5")
    config = json.dumps({"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"units": 3}}]}})
    files = {}
    for name, options, value in (
        ("default", {}, config),
        ("latest", {"libver": "latest"}, config),
        ("bytes", {}, config.encode()),
        ("ordered", {"track_order": True}, config),
        ("latest_ordered", {"libver": "latest", "track_order": True}, config),
    ):
        path = out / f"{name}.h5"
        with h5py.File(path, "w", **options) as handle:
            handle.attrs["other"] = "x" * 100
            handle.attrs["model_config"] = value
            handle.create_dataset("kernel", data=[1.0, 2.0, 3.0])
        files[name] = path.read_bytes()
    return config.encode(), files


def test_hdf5_reader_agrees_with_h5py(h5_files):
    from hfcheck.formats.hdf5_attrs import read_root_attribute

    config, files = h5_files
    for name, data in files.items():
        assert read_root_attribute(data, "model_config") == config, name
        assert read_root_attribute(data, "absent") is None, name


def test_file_that_hangs_libhdf5_is_read(tmp_path):
    """A mutation of a real Keras .h5 on which h5py 3.16 (libhdf5) never returns."""
    from pathlib import Path

    from hfcheck.formats.hdf5_attrs import read_root_attribute

    data = (Path(__file__).resolve().parents[1] / "model_files" / "libhdf5_hangs.h5").read_bytes()
    assert read_root_attribute(data, "model_config").startswith(b'{"class_name": "Sequential"')


@FAST
@given(st.data())
def test_mutated_hdf5_never_raises_anything_else(h5_files, data):
    from hfcheck.formats.hdf5_attrs import HDF5Error, read_root_attribute

    _, files = h5_files
    original = bytearray(files[data.draw(st.sampled_from(sorted(files)))])
    for _ in range(data.draw(st.integers(1, 8))):
        original[data.draw(st.integers(0, min(len(original), 4096) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(original)))
    try:
        read_root_attribute(bytes(original[:cut]), "model_config")
    except HDF5Error:
        pass
