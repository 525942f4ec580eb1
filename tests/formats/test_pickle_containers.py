"""Containers and sniffing of the pickle scan (issue #15): each malicious file is built here
with a harmless canary payload (`os.system('true')`), checked to fire under its real loader
with the loader oracle, and must then be an error of the security rules. Benign files of the
same shapes are checked to load cleanly and to raise no error."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest
from loader_oracle import observe

from hfcheck.api import check

from zip_writer import Member, central_directory, end_record, simple_zip, write_locals, zip64_end_record, zip64_locator


class Canary:
    def __reduce__(self):
        return (os.system, ("true",))


PAYLOAD = pickle.dumps(Canary(), protocol=2)  # \x80\x02 cposix\nsystem\n ... R .
# protocol-0 text opcodes that call os.system('true') and pop the result: they can sit in
# the middle of another stream
INLINE_PAYLOAD = b"cposix\nsystem\n(S'true'\ntR0"


def security_errors(folder: Path, rel: str) -> set[str]:
    return {f.code for f in check(folder).findings if f.code.startswith("SEC") and f.severity == "error" and f.path == rel}


def findings_of(folder: Path, rel: str, code: str):
    return [f for f in check(folder).findings if f.code == code and f.path == rel]


def put(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def assert_fires(path: Path, loader: str) -> None:
    seen = observe(path, loader)
    assert seen.fired, (loader, seen)
    assert "os.system" in seen.side_effects


class TouchCanary:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch %s" % self.marker,))


def marker_fires(path: Path, load_code: str, payload_marker: Path) -> bool:
    """Loads `path` for real in a child process (`load_code` with `p` the path) and tells
    whether the canary touched its marker file. For loaders the oracle stops early (torch's
    legacy tar extraction writes a temporary file) or does not know (gzip.open)."""
    subprocess.run([sys.executable, "-c", "import sys\np = sys.argv[1]\n" + load_code, str(path)], capture_output=True, timeout=120)
    return payload_marker.exists()


def long_first_string_pickle(length: int = 20_000) -> bytes:
    """A pickle whose first opcode is a string longer than any sniff head, then the payload."""
    return b"\x80\x02X" + struct.pack("<I", length) + b"a" * length + b"0" + PAYLOAD[2:]


# ----------------------------------------------------------------- family 1: sniffing


def test_long_first_string_is_scanned(tmp_path):
    path = put(tmp_path, "model.pkl", long_first_string_pickle())
    assert_fires(path, "pickle")
    assert_fires(path, "torch")
    assert "SEC001" in security_errors(tmp_path, "model.pkl")


def test_long_first_string_under_any_name_is_scanned(tmp_path):
    """Content decides too: `torch.load('weights.txt')` runs it all the same."""
    path = put(tmp_path, "weights.txt", long_first_string_pickle(100_000))
    assert_fires(path, "torch")
    assert "SEC001" in security_errors(tmp_path, "weights.txt")


def test_compressed_file_with_a_long_decompressed_start_is_scanned(tmp_path):
    path = put(tmp_path, "model.joblib", gzip.compress(long_first_string_pickle()))
    assert_fires(path, "joblib")
    assert "SEC001" in security_errors(tmp_path, "model.joblib")


def test_zip_member_with_a_long_first_string_is_scanned(tmp_path):
    """A weights zip a user unpacks: its pytorch_model.bin is sniffed with a short head today."""
    inner = long_first_string_pickle()
    member = put(tmp_path / "unpacked", "pytorch_model.bin", inner)
    assert_fires(member, "torch")
    (tmp_path / "repo").mkdir()
    with zipfile.ZipFile(tmp_path / "repo" / "bundle.zip", "w") as zf:
        zf.writestr("model/pytorch_model.bin", inner)
    assert "SEC001" in security_errors(tmp_path / "repo", "bundle.zip")


# ----------------------------------------------------------------- family 3: multi-stream compression


def _split_compress(data: bytes, compress) -> bytes:
    cut = len(data) // 2
    return compress(data[:cut]) + compress(data[cut:])


@pytest.mark.parametrize(
    "method,compress",
    [
        ("bz2", bz2.compress),
        ("xz", lambda d: lzma.compress(d, format=lzma.FORMAT_XZ)),
        ("lzma", lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)),
    ],
)
def test_every_stream_of_a_multi_stream_file_is_scanned(tmp_path, method, compress):
    path = put(tmp_path, "model.joblib", _split_compress(long_first_string_pickle(300), compress))
    assert_fires(path, "joblib")
    assert "SEC001" in security_errors(tmp_path, "model.joblib"), method


def test_every_member_of_a_multi_member_gzip_is_scanned(tmp_path):
    """joblib's own gzip reader hangs on a second member; gzip.open reads them all."""
    marker = tmp_path / "fired"
    payload = pickle.dumps(TouchCanary(marker), protocol=2)
    data = b"\x80\x02X" + struct.pack("<I", 300) + b"a" * 300 + b"0" + payload[2:]
    path = put(tmp_path, "model.pkl.gz", _split_compress(data, gzip.compress))
    assert marker_fires(path, "import gzip, pickle\npickle.load(gzip.open(p))", marker)
    assert "SEC001" in security_errors(tmp_path, "model.pkl.gz")


# ----------------------------------------------------------------- family 4: numpy dtypes


def npy_bytes(descr, payload: bytes = PAYLOAD, shape=(1,)) -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


@pytest.mark.parametrize("descr", ["object", "(1,)O", "|O", [("a", "(2,)O")], [("a", "<f4"), ("b", "O")], "f4,O"])
def test_object_dtypes_of_every_spelling_in_npy(tmp_path, descr):
    path = put(tmp_path, "array.npy", npy_bytes(descr))
    assert_fires(path, "numpy")
    assert "SEC001" in security_errors(tmp_path, "array.npy"), descr


def test_object_dtype_spelled_object_in_npz(tmp_path):
    with zipfile.ZipFile(tmp_path / "arrays.npz", "w") as zf:
        zf.writestr("a.npy", npy_bytes("object"))
    assert_fires(tmp_path / "arrays.npz", "numpy")
    assert "SEC001" in security_errors(tmp_path, "arrays.npz")


def test_plain_numeric_npy_is_clean(tmp_path):
    import numpy

    numpy.save(tmp_path / "float.npy", numpy.arange(10, dtype="f4"))
    numpy.save(tmp_path / "rec.npy", numpy.zeros(3, dtype=[("a", "<f4"), ("b", "(2,)i8")]))
    for name in ("float.npy", "rec.npy"):
        seen = observe(tmp_path / name, "numpy")
        assert seen.completed and not seen.fired
        assert not security_errors(tmp_path, name)


# ----------------------------------------------------------------- family 5: legacy tar checkpoints


def storage_record(storage_class: str, numel: int) -> bytes:
    """One legacy storage: its (key, location, storage type) pickle, an int64 element count
    and the raw bytes, as torch's legacy tar `storages` member holds them."""
    args = b"\x80\x02(X\x01\x00\x00\x000X\x03\x00\x00\x00cpuctorch\n" + storage_class.encode() + b"\nt."
    return args + struct.pack("<q", numel) + b"\x00" * (4 * numel)


def legacy_tar(pickle_member: bytes, storages: list[bytes] = (), first: str | None = None) -> bytes:
    members = {
        "storages": pickle.dumps(len(storages), protocol=2) + b"".join(storages) + pickle.dumps([], protocol=2),
        "tensors": pickle.dumps(0, protocol=2),
        "pickle": pickle_member,
    }
    if first:
        members = {first: b"padding", **members}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


TORCH_LOAD = "import torch\ntorch.load(p, weights_only=False)"


def test_legacy_tar_checkpoint_is_scanned(tmp_path):
    marker = tmp_path / "fired"
    path = put(tmp_path, "model.pt", legacy_tar(pickle.dumps(TouchCanary(marker), protocol=2)))
    assert marker_fires(path, TORCH_LOAD, marker)
    assert "SEC001" in security_errors(tmp_path, "model.pt")


def test_tar_pickle_polyglot_is_scanned_as_what_torch_reads(tmp_path):
    """The first 4 bytes are a benign pickle for pickle.load; torch.load opens the tar."""
    marker = tmp_path / "fired"
    data = bytearray(legacy_tar(pickle.dumps(TouchCanary(marker), protocol=2), first="readme"))
    data[0:4] = b"\x80\x02N."  # the first member's name field
    data[148:156] = b" " * 8
    data[148:156] = b"%06o\x00 " % sum(data[:512])
    path = put(tmp_path, "model.bin", bytes(data))
    assert observe(path, "pickle").completed
    assert marker_fires(path, TORCH_LOAD, marker)
    assert "SEC001" in security_errors(tmp_path, "model.bin")


def test_wgt001_clean_statement_only_when_the_scan_covered_the_file(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    benign = put(tmp_path, "model.pt", legacy_tar(pickle.dumps({"a": 1}, protocol=2), [storage_record("FloatStorage", 2)]))
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, torch\nprint(torch.load(sys.argv[1], weights_only=False))", str(benign)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "{'a': 1}" in loaded.stdout, loaded.stderr
    assert not security_errors(tmp_path, "model.pt")
    assert "only allowlisted" in findings_of(tmp_path, "model.pt", "WGT001")[0].message
    # a storage whose element size torch takes from a class the scan cannot size: the rest
    # of the member is unread, so no clean statement
    put(tmp_path, "model.pt", legacy_tar(pickle.dumps({"a": 1}, protocol=2), [storage_record("MysteryStorage", 2)]))
    assert "SEC003" in security_errors(tmp_path, "model.pt")
    assert "only allowlisted" not in findings_of(tmp_path, "model.pt", "WGT001")[0].message


# ----------------------------------------------------------------- family 6: zip reader differential

TORCH_EXTRA = [("archive/version", b"3\n"), ("archive/byteorder", b"little")]


def torch_members(pickle_bytes: bytes) -> list[Member]:
    return [Member("archive/data.pkl", pickle_bytes)] + [Member(n, d) for n, d in TORCH_EXTRA]


def test_zip64_locator_offset_differential(tmp_path):
    """torch's reader (miniz) follows the zip64 locator's offset; Python's zipfile reads the
    zip64 record just before the locator. Each finds its own central directory."""
    evil, benign = torch_members(PAYLOAD), torch_members(pickle.dumps({"w": 1}, protocol=2))
    body = write_locals(evil, 0)
    body += write_locals(benign, len(body))
    cd_evil_at = len(body)
    cd_evil = central_directory(evil)
    z64_evil_at = cd_evil_at + len(cd_evil)
    z64_evil = zip64_end_record(len(evil), len(cd_evil), cd_evil_at)
    cd_benign_at = z64_evil_at + len(z64_evil)
    cd_benign = central_directory(benign)
    z64_benign = zip64_end_record(len(benign), len(cd_benign), cd_benign_at)
    data = (
        body
        + cd_evil
        + z64_evil
        + cd_benign
        + z64_benign
        + zip64_locator(z64_evil_at)
        + struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    )
    path = put(tmp_path, "pytorch_model.bin", data)
    with zipfile.ZipFile(path) as zf:
        assert pickle.loads(zf.read("archive/data.pkl")) == {"w": 1}
    assert_fires(path, "torch")
    assert {"SEC001", "SEC003"} <= security_errors(tmp_path, "pytorch_model.bin")


def test_concatenation_offset_differential(tmp_path):
    """Python's zipfile shifts every offset by the bytes it thinks were prepended; miniz
    takes offsets as they are. Two directories of the same size, one for each reader."""
    evil, benign = torch_members(PAYLOAD), torch_members(pickle.dumps({"w": 1}, protocol=2))
    body = write_locals(evil, 0)
    cd_evil_at = len(body)
    cd_evil = central_directory(evil)
    body += cd_evil
    body += write_locals(benign, len(body))
    shift = len(body) - cd_evil_at  # zipfile finds the directory this far after where the end record says
    cd_benign = central_directory(benign, shift=shift)
    assert len(cd_benign) == len(cd_evil)
    data = body + cd_benign + end_record(len(evil), len(cd_evil), cd_evil_at)
    path = put(tmp_path, "pytorch_model.bin", data)
    with zipfile.ZipFile(path) as zf:
        assert pickle.loads(zf.read("archive/data.pkl")) == {"w": 1}
    assert_fires(path, "torch")
    assert {"SEC001", "SEC003"} <= security_errors(tmp_path, "pytorch_model.bin")


def test_case_insensitive_duplicate_member_names(tmp_path):
    """miniz finds members case-insensitively: `archive/DATA.PKL` answers for data.pkl."""
    members = [Member("archive/DATA.PKL", PAYLOAD)] + [Member(n, d) for n, d in TORCH_EXTRA]
    path = put(tmp_path, "pytorch_model.bin", simple_zip(members))
    assert_fires(path, "torch")
    assert "SEC001" in security_errors(tmp_path, "pytorch_model.bin")
    both = [Member("archive/data.pkl", pickle.dumps({"w": 1}, protocol=2)), Member("archive/DATA.pkl", PAYLOAD)] + [
        Member(n, d) for n, d in TORCH_EXTRA
    ]
    put(tmp_path, "other.bin", simple_zip(both))
    assert "SEC003" in security_errors(tmp_path, "other.bin")


def test_real_torch_checkpoint_has_no_reader_disagreement(tmp_path):
    import torch

    torch.save({"w": torch.zeros(4), "b": torch.ones(2, dtype=torch.float16)}, tmp_path / "pytorch_model.bin")
    assert not security_errors(tmp_path, "pytorch_model.bin")


# ----------------------------------------------------------------- family 7: safetensors polyglots


def test_safetensors_zip_polyglot_is_scanned(tmp_path):
    """The 8-byte header length is `PK\\x03\\x04\\0\\0\\0\\0`: a valid safetensors file whose
    tensor bytes hold a torch zip that torch.load opens (it only checks the first 4 bytes)."""
    header_len = int.from_bytes(b"PK\x03\x04\x00\x00\x00\x00", "little")
    base = 8 + header_len
    archive = simple_zip(torch_members(PAYLOAD), base=base)
    header = b'{"t":{"dtype":"U8","shape":[%d],"data_offsets":[0,%d]}}' % (len(archive), len(archive))
    data = b"PK\x03\x04\x00\x00\x00\x00" + header + b" " * (header_len - len(header)) + archive
    path = put(tmp_path, "pytorch_model.bin", data)
    from safetensors import safe_open

    with safe_open(path, "np") as f:
        assert list(f.keys()) == ["t"]
    assert_fires(path, "torch")
    assert "SEC001" in security_errors(tmp_path, "pytorch_model.bin")


# ----------------------------------------------------------------- family 8: joblib inline arrays


def joblib_wrapper(shape: int, elsize: int = -1, alignment: bool = False, descr: bytes = b"u1", flags: int = 0) -> bytes:
    """A protocol-2 joblib stream up to the NumpyArrayWrapper's BUILD (uint8 array by default)."""
    state = (
        b"X\x08\x00\x00\x00subclasscnumpy\nndarray\n"
        b"X\x05\x00\x00\x00shapeK" + bytes([shape]) + b"\x85"
        b"X\x05\x00\x00\x00orderX\x01\x00\x00\x00C"
        b"X\x05\x00\x00\x00dtypecnumpy\ndtype\nX"
        + struct.pack("<I", len(descr))
        + descr
        + b"\x89\x88\x87R(K\x03X\x01\x00\x00\x00|NNNJ"
        + struct.pack("<i", elsize)
        + b"J\xff\xff\xff\xffK"
        + bytes([flags])
        + b"tb"
        b"X\n\x00\x00\x00allow_mmap\x88"
    )
    if alignment:
        state += b"X\x1b\x00\x00\x00numpy_array_alignment_bytesK\x10"
    return b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(" + state + b"ub"


def test_joblib_array_bytes_are_opcodes_to_pickle_load(tmp_path):
    data = joblib_wrapper(len(INLINE_PAYLOAD)) + INLINE_PAYLOAD + b"."
    path = put(tmp_path, "model.pkl", data)
    seen = observe(path, "joblib")
    assert seen.completed and not seen.fired
    assert_fires(path, "pickle")
    assert "SEC001" in security_errors(tmp_path, "model.pkl")


def test_joblib_dtype_element_size_is_what_numpy_uses(tmp_path):
    """numpy ignores the pickled element size of a fixed-size dtype: joblib reads 1 byte of
    array data, then runs the payload the scanner skipped as 100 bytes of array."""
    rest = INLINE_PAYLOAD + b"."
    data = joblib_wrapper(1, elsize=100) + b"A" + rest + b"\x00" * (99 - len(rest)) + b"N."
    path = put(tmp_path, "model.joblib", data)
    assert_fires(path, "joblib")
    assert "SEC001" in security_errors(tmp_path, "model.joblib")


def test_joblib_object_dtype_spelled_object(tmp_path):
    """joblib unpickles the array data of any dtype numpy says holds objects."""
    data = joblib_wrapper(1, descr=b"object", flags=63) + PAYLOAD + b"."
    path = put(tmp_path, "model.joblib", data)
    assert_fires(path, "joblib")
    assert "SEC001" in security_errors(tmp_path, "model.joblib")


def test_real_joblib_files_are_clean(tmp_path):
    import joblib
    import numpy

    for compress in (0, 3, ("xz", 3), ("bz2", 3)):
        name = f"m{len(list(tmp_path.iterdir()))}.joblib"
        joblib.dump({"w": numpy.arange(100, dtype="f8"), "s": numpy.array(["a", "bc"])}, tmp_path / name, compress=compress)
        assert observe(tmp_path / name, "joblib").completed
        assert not security_errors(tmp_path, name), compress


# ----------------------------------------------------------------- family 13: archives a user unpacks


@pytest.mark.parametrize("mode,suffix", [("w", ".tar"), ("w:gz", ".tar.gz"), ("w:xz", ".tar.xz")])
def test_weights_in_a_tar_archive_are_scanned(tmp_path, mode, suffix):
    member = put(tmp_path / "unpacked", "pytorch_model.bin", PAYLOAD)
    assert_fires(member, "torch")
    (tmp_path / "repo").mkdir()
    with tarfile.open(tmp_path / "repo" / f"weights{suffix}", mode) as tar:
        tar.add(member, arcname="model/pytorch_model.bin")
    assert "SEC001" in security_errors(tmp_path / "repo", f"weights{suffix}")


def test_7z_archive_is_scanned_or_reported(tmp_path, monkeypatch):
    py7zr = pytest.importorskip("py7zr")
    member = put(tmp_path / "unpacked", "model.pkl", PAYLOAD)
    assert_fires(member, "pickle")
    (tmp_path / "repo").mkdir()
    with py7zr.SevenZipFile(tmp_path / "repo" / "weights.7z", "w") as archive:
        archive.write(member, "model/model.pkl")
    assert "SEC001" in security_errors(tmp_path / "repo", "weights.7z")
    # without the optional library a 7z archive is an explicit error, never clean
    import hfcheck.formats.pickle.archives as archives

    monkeypatch.setattr(archives, "_import_py7zr", lambda: None)
    assert "SEC003" in security_errors(tmp_path / "repo", "weights.7z")


# ----------------------------------------------------------------- false positives


@pytest.mark.parametrize("name,text", [("notes.txt", "x = 1\nprint(x)\n"), ("train.py", "x = 1\n"), ("README.md", "x marks the spot\n")])
def test_text_starting_like_a_zlib_header_is_not_a_pickle(tmp_path, name, text):
    assert (0x78 * 256 + ord(text[1])) % 31 == 0  # the first two bytes are a valid zlib header
    put(tmp_path, name, text.encode())
    assert not security_errors(tmp_path, name)


# Text that protocol 0 reads as GLOBAL + failure: "cat\ndog" is GLOBAL at.dog. Under a text
# name it is text; under a pickle name, or naming a module every Python has, it is judged.
TEXT_READ_AS_PROTOCOL_0 = [
    ("labels.txt", "cat\ndog\nbird\nfish\n"),
    ("DEVICE", "cpu"),
    ("latest", "checkpoint\n"),
    ("notes.txt", "cuda"),
    ("classes.txt", "car\nbus\n"),
]


@pytest.mark.parametrize("name,text", TEXT_READ_AS_PROTOCOL_0)
def test_text_that_protocol_0_reads_as_a_global_is_not_a_pickle(tmp_path, name, text):
    path = put(tmp_path, name, text.encode())
    seen = observe(path, "pickle")
    assert not seen.fired and not seen.completed and set(seen.globals) <= set(seen.unresolved), seen  # it fails, resolving nothing
    assert not security_errors(tmp_path, name)
    put(tmp_path, "model.pkl", text.encode())  # the same bytes under a name loaders open: judged
    assert security_errors(tmp_path, "model.pkl")


@pytest.mark.parametrize("text", ["cos\nsystem\n", "cbuiltins\nexec\n(S'1'\ntR", "cnot_installed_here\nrun\n(tR", "cpip.__main__\nx\n"])
def test_text_named_file_that_imports_the_stdlib_or_calls_is_judged(tmp_path, text):
    put(tmp_path, "notes.txt", text.encode())
    assert security_errors(tmp_path, "notes.txt")


# Bounds of the scanner that CPython does not have: a stream that reaches the stack bound is
# unverified (SEC003), never "no pickle here", whatever the file's name (found by an
# independent tester; its other miss, a long first text line, is in test_pickle_long_lines.py).
CANARY_CALL = b"cos\nsystem\n(Vtrue\ntR."


@pytest.mark.parametrize(
    "name,data",
    [
        ("config.yaml", b"(" + b"N" * 1_000_100 + b"1" + CANARY_CALL),  # a stack past the stack bound
        ("model.pkl", b"\x80\x02(" + b"N" * 1_000_100 + b"1" + CANARY_CALL),
    ],
    ids=["text-name", "pickle-name"],  # short: the test id is in PYTEST_CURRENT_TEST, which the oracle's child inherits
)
def test_a_stream_past_a_bound_of_the_scanner_is_unverified_not_clean(tmp_path, name, data):
    path = put(tmp_path, name, data)
    assert "os.system" in observe(path, "pickle").side_effects  # the loader runs the call
    assert "SEC003" in security_errors(tmp_path, name)


def test_old_joblib_zf_file(tmp_path):
    """joblib < 0.10: 'ZF' + the hex length padded to 19 characters (21 bytes), then zlib."""
    inner = pickle.dumps({"w": [1.0, 2.0]}, protocol=2)
    data = b"ZF" + hex(len(inner)).encode().ljust(19) + zlib.compress(inner)
    put(tmp_path, "old.pkl", data)
    assert not security_errors(tmp_path, "old.pkl")
    evil = b"ZF" + hex(len(PAYLOAD)).encode().ljust(19) + zlib.compress(PAYLOAD)
    put(tmp_path, "old_evil.pkl", evil)
    assert "SEC001" in security_errors(tmp_path, "old_evil.pkl")


def test_no_disguised_pickle_warning_on_keras_skops_and_dill(tmp_path):
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as zf:
        zf.writestr("config.json", '{"class_name": "Sequential"}')
        zf.writestr("metadata.json", '{"keras_version": "3.5.0"}')
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
    with zipfile.ZipFile(tmp_path / "pipeline.skops", "w") as zf:
        zf.writestr("schema.json", '{"__class__": "Pipeline"}')
        buf = io.BytesIO()
        import numpy

        numpy.save(buf, numpy.arange(4))
        zf.writestr("a.npy", buf.getvalue())
    put(tmp_path, "model.dill", pickle.dumps({"w": 1}, protocol=2))
    for name in ("model.keras", "pipeline.skops", "model.dill"):
        assert not findings_of(tmp_path, name, "SEC004"), name
    put(tmp_path, "evil.dill", PAYLOAD)
    assert "SEC001" in security_errors(tmp_path, "evil.dill")


def test_disguised_pickle_still_warns(tmp_path):
    put(tmp_path, "weights.txt", pickle.dumps({"w": 1}, protocol=2))
    assert findings_of(tmp_path, "weights.txt", "SEC004")


# ----------------------------------------------------------------- fail closed


def test_a_sniffing_failure_never_means_not_a_pickle(tmp_path, monkeypatch):
    import hfcheck.formats.pickle.sniff as sniff

    def broken(head, size):
        raise RuntimeError("sniffer bug")

    monkeypatch.setattr(sniff, "head_rules_out_pickle", broken)
    put(tmp_path, "model.bin", PAYLOAD)
    assert "SEC001" in security_errors(tmp_path, "model.bin")


def test_a_scanner_failure_is_an_error(tmp_path, monkeypatch):
    from hfcheck.formats.pickle.containers import ContainerScanner

    def broken(self, *args):
        raise RuntimeError("container bug")

    monkeypatch.setattr(ContainerScanner, "scan_raw_pickle", broken)
    put(tmp_path, "model.bin", pickle.dumps({"w": 1}, protocol=2))
    assert "SEC003" in security_errors(tmp_path, "model.bin")


def test_corrupt_compressed_data_after_a_pickle_start_is_an_error(tmp_path):
    start = gzip.compress(long_first_string_pickle(300))
    put(tmp_path, "model.joblib", start[: len(start) // 2] + b"\xff" * 64)
    assert "SEC003" in security_errors(tmp_path, "model.joblib")
