"""hfcheck's safetensors header reader against the `safetensors` library itself.

The library (the Rust crate behind every `from_pretrained`) is the ground truth: where it
opens a file, hfcheck must read the same tensors (names, dtypes, shapes, byte spans) and
report no problem; where it refuses one, hfcheck must report an error or a problem. The
inputs are real files written by the library, and headers that hypothesis builds and
mutates (bad dtypes, shapes, offsets with gaps and overlaps, trailing bytes, metadata of
the wrong shape, duplicate keys, non-UTF-8, truncation)."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

safetensors = pytest.importorskip("safetensors")
numpy = pytest.importorskip("numpy")

from safetensors import safe_open  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

from hfcheck.formats.safetensors import DTYPE_BITS, read_header  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def library_view(path: Path):
    """{name: (dtype, shape)} as the library opens the file, or None when it refuses."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            view = {}
            for name in f.keys():
                piece = f.get_slice(name)
                view[name] = (piece.get_dtype(), tuple(piece.get_shape()))
            return view
    except Exception:
        return None


def hfcheck_view(path: Path):
    data = path.read_bytes()
    header = read_header(io.BytesIO(data), len(data))
    if not header.ok:
        return None
    return {name: (info.dtype, info.shape) for name, info in header.tensors.items()}


def agree(path: Path) -> None:
    expected, got = library_view(path), hfcheck_view(path)
    if expected is None:
        assert got is None, f"the library refuses {path.name} but hfcheck reads it cleanly: {got}"
    else:
        assert got == expected, f"the library reads {expected}, hfcheck {got}"


def test_every_safetensors_file_in_the_fixtures_agrees():
    files = sorted(ROOT.glob("fixtures/**/*.safetensors"))
    assert files, "the fixtures hold safetensors files"
    for path in files:
        agree(path)


def test_files_the_library_writes_agree(tmp_path):
    arrays = {
        "model.embed_tokens.weight": numpy.ones((7, 3), dtype=numpy.float16),
        "model.norm.weight": numpy.zeros(3, dtype=numpy.float32),
        "counts": numpy.arange(5, dtype=numpy.int64),
        "mask": numpy.array([True, False]),
        "empty": numpy.zeros((0, 4), dtype=numpy.float32),
        "scalar": numpy.array(2.5, dtype=numpy.float64),
    }
    path = tmp_path / "model.safetensors"
    save_file(arrays, str(path), metadata={"format": "pt"})
    agree(path)
    assert hfcheck_view(path)["model.embed_tokens.weight"] == ("F16", (7, 3))


# ---------------------------------------------------------------- hypothesis headers

NAMES = st.text(alphabet="abcdefghij._0123456789", min_size=1, max_size=12)
DTYPES = st.sampled_from(sorted(DTYPE_BITS)) | st.sampled_from(["F17", "float32", "", "f32"])
SHAPES = st.lists(st.integers(min_value=0, max_value=5), max_size=3)


@st.composite
def headers(draw):
    """A header of a few tensors laid out contiguously, then perhaps broken in one way."""
    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    entries, offset = {}, 0
    for name in names:
        dtype = draw(DTYPES)
        shape = draw(SHAPES)
        numel = 1
        for d in shape:
            numel *= d
        size = numel * DTYPE_BITS.get(dtype, 8) // 8 if DTYPE_BITS.get(dtype, 8) % 8 == 0 else numel
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    data_size = offset
    breakage = draw(
        st.sampled_from(
            [
                "none",
                "none",
                "none",
                "none",
                "none",
                "gap",
                "overlap",
                "short_data",
                "long_data",
                "bad_metadata",
                "metadata",
                "offsets_type",
                "shape_type",
                "missing_key",
                "extra_key",
            ]
        )
    )
    name = names[0]
    if breakage == "gap":
        begin, end = entries[name]["data_offsets"]
        entries[name]["data_offsets"] = [begin + 1, end + 1]
        data_size += 1
    elif breakage == "overlap" and len(names) > 1:
        entries[names[1]]["data_offsets"] = [max(0, entries[names[1]]["data_offsets"][0] - 1), entries[names[1]]["data_offsets"][1]]
    elif breakage == "short_data":
        data_size = max(0, data_size - draw(st.integers(1, 3)))
    elif breakage == "long_data":
        data_size += draw(st.integers(1, 3))
    elif breakage == "bad_metadata":
        entries["__metadata__"] = draw(st.sampled_from([{"a": 1}, ["x"], "text", {"k": None}]))
    elif breakage == "metadata":
        entries["__metadata__"] = {"format": "pt", "note": draw(st.text(max_size=8))}
    elif breakage == "offsets_type":
        entries[name]["data_offsets"] = draw(st.sampled_from([[0], [0, 1, 2], ["0", "1"], [1.0, 2.0], [-1, 0], None]))
    elif breakage == "shape_type":
        entries[name]["shape"] = draw(st.sampled_from([[-1], ["2"], [1.5], None, 3]))
    elif breakage == "missing_key":
        del entries[name][draw(st.sampled_from(["dtype", "shape", "data_offsets"]))]
    elif breakage == "extra_key":
        entries[name]["extra"] = 1
    return entries, data_size


def write(path: Path, header_bytes: bytes, data_size: int) -> None:
    path.write_bytes(struct.pack("<Q", len(header_bytes)) + header_bytes + b"\0" * data_size)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=headers(), padding=st.integers(0, 7))
def test_generated_headers_agree_with_the_library(tmp_path, case, padding):
    entries, data_size = case
    path = tmp_path / "model.safetensors"
    write(path, json.dumps(entries).encode() + b" " * padding, data_size)
    agree(path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=headers(), cut=st.integers(0, 40), flip=st.integers(0, 255))
def test_damaged_files_agree_with_the_library(tmp_path, case, cut, flip):
    entries, data_size = case
    path = tmp_path / "model.safetensors"
    write(path, json.dumps(entries).encode(), data_size)
    data = bytearray(path.read_bytes())
    position = 8 + cut % max(1, len(data) - 8)
    data[position] = flip  # one byte of the header (or data) replaced
    path.write_bytes(bytes(data))
    agree(path)


def test_duplicate_keys_and_invalid_utf8_agree(tmp_path):
    duplicate = b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}'
    path = tmp_path / "dup.safetensors"
    write(path, duplicate, 2)
    agree(path)
    path = tmp_path / "utf8.safetensors"
    write(path, b'{"\xff": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', 1)
    agree(path)
    path = tmp_path / "empty.safetensors"
    write(path, b"{}", 0)
    agree(path)
