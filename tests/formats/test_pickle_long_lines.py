"""Text-opcode argument lines of any length (issue #15, found by an independent tester).

CPython's unpicklers read a protocol-0 argument line (UNICODE, STRING, INT, LONG, FLOAT,
GLOBAL, ...) with the file's readline(): to the newline, however far it is. A payload after
a 100 KB line runs under pickle.load; the scan must read the line to its end as well, and
past its own budget (reader.LINE_BUDGET) report the stream as unverified, never as "no
pickle". A hole in a sparse file is zero bytes of the line, skipped without being read, and
a hole to the end of the file holds no newline: a sparse safetensors shard whose header
length reads as a line opcode stays clean and costs only its header's bytes.
Every malicious file here is checked to fire under its real loader (the loader oracle, a
harmless canary); every benign one to load with the real `safetensors` library.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest
from loader_oracle import observe

from hfcheck.api import check
from hfcheck.formats.pickle import scan_bytes, scan_file
from hfcheck.formats.pickle.policy import classify
from hfcheck.formats.pickle.reader import LINE_BUDGET
from hfcheck.formats.pickle.values import CUT

LONG = 100_000  # past the 64 KiB line bound the scan had, and past any sniff head
CALL = b"cos\nsystem\n(Vtrue\ntR."  # os.system("true"): a harmless canary
NO_NEWLINE = bytes(range(11, 256))  # every byte value above "\n"


def security_errors(folder: Path, rel: str) -> set[str]:
    return {f.code for f in check(folder).findings if f.code.startswith("SEC") and f.severity == "error" and f.path == rel}


def put(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# (loader, bytes): a long first line, then the payload. Ids stay short (they reach the
# oracle's child through PYTEST_CURRENT_TEST).
ATTACKS = {
    "V": ("pickle", b"V" + b"lorem ipsum " * (LONG // 12) + b"\n0" + CALL),
    "V-proto2": ("pickle", b"\x80\x02V" + b"x" * LONG + b"\n0" + CALL),
    "V-utf8": ("pickle", b"(V" + "\u2014".encode() * (LONG // 3) + b"\r\n1" + CALL),  # MARK .. POP_MARK
    "S": ("pickle", b"S'" + b"x" * LONG + b"'\n0" + CALL),
    "I-nul": ("pickle", b"I1\x00" + NO_NEWLINE * (LONG // len(NO_NEWLINE)) + b"\n0" + CALL),  # C stops at the NUL
    "I-hex": ("pickle", b"I0x" + b"f" * LONG + b"\n0" + CALL),
    "L-hex": ("pickle", b"L0x" + b"f" * LONG + b"L\n0" + CALL),
    "F": ("joblib", b"F1" + b"0" * LONG + b"\n0" + CALL),  # float() gives inf in pickle.py; C raises OverflowError
    "chain": ("pickle", b"\x80\x04cos\n" + b"path.os." * (LONG // 8) + b"system\n(Vtrue\ntR."),  # protocol 4 dotted name
}


@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_a_payload_after_a_long_line_is_found(tmp_path, kind):
    loader, data = ATTACKS[kind]
    path = put(tmp_path, "model.pkl", data)
    assert "os.system" in observe(path, loader).side_effects
    assert "SEC001" in security_errors(tmp_path, "model.pkl")
    path.rename(tmp_path / "notes.txt")  # under a text name too: a long line is no text excuse
    assert "SEC001" in security_errors(tmp_path, "notes.txt")


def test_a_long_unquoted_string_line_stops_the_load_and_is_no_pickle(tmp_path):
    # The C unpickler requires a quoted STRING: it fails after the line, nothing after it runs.
    path = put(tmp_path, "notes.txt", b"S" + b"x" * LONG + b"\n0" + CALL)
    seen = observe(path, "pickle")
    assert not seen.fired and "quoted" in seen.error
    assert scan_file(path).container == "not-pickle"
    assert not security_errors(tmp_path, "notes.txt")


def test_a_long_module_string_is_judged_by_the_parent_it_imports(tmp_path):
    # STACK_GLOBAL of "colorsys." + 100 KB: the import of colorsys runs, then the full name fails
    data = b"\x80\x04V" + b"colorsys." + b"x" * LONG + b"\n\x8c\x01f\x93."
    path = put(tmp_path, "model.pkl", data)
    seen = observe(path, "pickle")
    assert "colorsys" in seen.imports and not seen.completed
    [found] = scan_file(path).globals
    assert found.module.startswith("colorsys.xxx") and found.module.endswith(CUT) and len(found.module) < 2 * LONG
    assert classify("os." + "x" * 10 + CUT, "f")[0] == "dangerous"  # a cut os.* submodule is still os
    assert "SEC002" in security_errors(tmp_path, "model.pkl")


def test_long_lines_inside_a_torch_zip_and_a_gzip_pickle(tmp_path):
    import torch

    torch.save({"w": torch.zeros(2)}, tmp_path / "real.pt")
    evil = b"\x80\x02V" + b"x" * LONG + b"\n0" + CALL
    for name, method in (("stored.pt", zipfile.ZIP_STORED), ("deflated.pt", zipfile.ZIP_DEFLATED)):
        with zipfile.ZipFile(tmp_path / "real.pt") as src, zipfile.ZipFile(tmp_path / name, "w", method) as dst:
            for info in src.infolist():
                data = evil if info.filename.endswith("/data.pkl") else src.read(info)
                dst.writestr(info.filename, data)
        assert "os.system" in observe(tmp_path / name, "torch").side_effects, name
        assert "SEC001" in security_errors(tmp_path, name), name
    put(tmp_path, "model.joblib", gzip.compress(evil))
    assert "os.system" in observe(tmp_path / "model.joblib", "joblib").side_effects
    assert "SEC001" in security_errors(tmp_path, "model.joblib")


def _sparse(path: Path, head: bytes, hole: int, tail: bytes) -> Path:
    with open(path, "wb") as f:
        f.write(head)
        f.seek(len(head) + hole)
        f.write(tail)
    return path


def _has_holes(path: Path) -> bool:
    return hasattr(os, "SEEK_DATA") and os.stat(path).st_blocks * 512 < os.stat(path).st_size // 2


def test_a_hole_inside_a_long_line_is_zeros_of_the_line_and_never_read(tmp_path):
    path = _sparse(tmp_path / "notes.txt", b"V" + b"x" * 10, 8 << 20, b"y\n0" + CALL)
    if not _has_holes(path):
        pytest.skip("the filesystem stores no holes")
    assert "os.system" in observe(path, "pickle").side_effects  # the zeros are part of the string
    scan = scan_file(path)
    assert any(g.module == "os" and g.name == "system" and g.called for g in scan.globals)
    assert scan.bytes_scanned < 1 << 17  # the 8 MiB hole is not read
    assert "SEC001" in security_errors(tmp_path, "notes.txt")


def test_a_line_past_the_budget_is_unverified_not_clean(tmp_path):
    path = _sparse(tmp_path / "notes.txt", b"V" + b"x" * 10, LINE_BUDGET + (1 << 20), b"y\n0" + CALL)
    assert "os.system" in observe(path, "pickle").side_effects  # CPython reads on: there is no bound
    scan = scan_file(path)
    assert not scan.globals and any("longer than %d bytes; scan incomplete" % LINE_BUDGET in p.message for p in scan.problems)
    assert "SEC003" in security_errors(tmp_path, "notes.txt")
    # the same bound in memory (a decompressed member has no holes)
    data = b"V" + b"z" * (LINE_BUDGET + 1) + b"\n0" + CALL
    assert any("scan incomplete" in p.message for p in scan_bytes(data).problems)


def _safetensors_with_low_byte(path: Path, tensors: dict, low: int) -> int:
    """A real safetensors file (the `safetensors` library) whose header length's low byte is
    `low`, reached by padding the metadata; returns the header length."""
    from safetensors.numpy import save_file

    for pad in range(0, 4096):
        save_file(tensors, str(path), metadata={"pad": "x" * pad})
        with open(path, "rb") as f:
            length = struct.unpack("<Q", f.read(8))[0]
        if length & 0xFF == low:
            return length
    raise AssertionError("no padding gives the low byte %#x" % low)


# The reference writer pads the header to 8 bytes: of the line opcodes only PERSID 'P' and
# PUT 'p' can be a real header length's low byte.
@pytest.mark.parametrize("low", [ord("P"), ord("p")], ids=["P", "p"])
def test_a_dense_safetensors_file_whose_length_reads_as_a_line_opcode_is_clean(tmp_path, low):
    numpy = pytest.importorskip("numpy")
    from safetensors.numpy import load_file

    rng = numpy.random.default_rng(0)
    tensors = {"w": rng.standard_normal((256, 256)).astype(numpy.float32), "z": numpy.zeros((64, 64), numpy.float32)}
    path = tmp_path / "model.safetensors"
    _safetensors_with_low_byte(path, tensors, low)
    assert sorted(load_file(str(path))) == ["w", "z"]
    assert not security_errors(tmp_path, "model.safetensors")
    zeros_only = {"z": numpy.zeros((512, 512), numpy.float32)}  # no newline byte anywhere: the line runs to the end
    _safetensors_with_low_byte(path, zeros_only, low)
    assert b"\n" not in path.read_bytes()[8:]
    assert not security_errors(tmp_path, "model.safetensors")


def test_a_sparse_safetensors_shard_whose_length_reads_as_V_costs_its_header(tmp_path):
    safetensors = pytest.importorskip("safetensors")
    size = 1 << 30
    header = {"__metadata__": {"format": "pt"}, "w": {"dtype": "BF16", "shape": [size // 2], "data_offsets": [0, size]}}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((ord("V") - len(raw)) % 256)  # unpadded: the low byte is 'V', as other writers may leave it
    assert len(raw) & 0xFF == ord("V")
    path = _sparse(tmp_path / "model.safetensors", struct.pack("<Q", len(raw)) + raw, size - 1, b"\0")
    if not _has_holes(path):
        pytest.skip("the filesystem stores no holes")
    with safetensors.safe_open(str(path), "np") as f:
        assert list(f.keys()) == ["w"]
    scan = scan_file(path)
    assert scan.container == "not-pickle" or not scan.problems
    assert scan.bytes_scanned <= 8 + len(raw) + (1 << 16)  # the header and at most one read-ahead chunk, not the GiB hole
    assert not security_errors(tmp_path, "model.safetensors")


def test_long_lines_in_memory_need_no_file():
    # the decompressed-member path: BytesIO, no holes, the same reading
    scan = scan_bytes(ATTACKS["V"][1])
    assert any(g.module == "os" and g.name == "system" and g.called for g in scan.globals)
    kept = scan_bytes(b"\x80\x02V" + b"a" * LONG + b"\n\x8c\x01f\x93.")
    assert [g.module for g in kept.globals] == ["a" * (1 << 16) + CUT]  # kept cut: bounded memory


def test_long_number_literals_are_checked_as_int_checks_them():
    # Past 4000 characters a literal is validated by syntax (Python refuses to convert more
    # than 4300 decimal digits unless the loading process lifts the limit); the syntax check
    # must agree with int() itself, the ground truth, on every short spelling.
    import random

    from hfcheck.formats.pickle.text_arguments import _valid_int_literal

    alphabet = [b"0", b"1", b"7", b"9", b"a", b"f", b"x", b"o", b"b", b"_", b" ", b"+", b"-", b"X", b"\t", b"8", b"g"]
    rng = random.Random(15)
    for _ in range(20000):
        text = b"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        for base in (0, 10):
            try:
                accepted = int(text, base) is not None
            except ValueError:
                accepted = False
            assert _valid_int_literal(text, base) == accepted, (text, base)
    assert scan_bytes(b"I1" + b"0" * LONG + b"_\n.").problems  # a trailing underscore fails the load
    assert not scan_bytes(b"I0x" + b"f_f" * LONG + b"\n.").problems


def test_a_put_line_past_the_budget_on_an_empty_stack_fails_as_the_loader_fails(tmp_path):
    # PUT reads its line, then needs a value on the stack: with none, both unpicklers fail
    # whatever the line holds, so a dense safetensors file whose header length reads as 'p'
    # and whose tensor bytes hold no newline for more than the budget is still clean.
    numpy = pytest.importorskip("numpy")
    from safetensors.numpy import load_file

    path = tmp_path / "model.safetensors"
    # 65 MiB of zeros, then a tensor of newline bytes: the line ends past the budget
    tensors = {"a": numpy.zeros(LINE_BUDGET // 4 + (1 << 18), numpy.float32), "b": numpy.full(8, 10, numpy.uint8)}
    _safetensors_with_low_byte(path, tensors, ord("p"))
    assert load_file(str(path))["a"].shape == tensors["a"].shape
    assert path.read_bytes().index(b"\n", 8) > LINE_BUDGET
    seen = observe(path, "pickle")
    assert not seen.fired and not seen.globals and "stack" in seen.error.lower(), seen
    scan = scan_file(path)
    assert scan.container == "not-pickle" and not scan.problems
    assert not security_errors(tmp_path, "model.safetensors")


@pytest.mark.parametrize("first", [b"Loss: 0.25 ", b"Sequence 1 ", b"Insertions: 3 "], ids=["L", "S", "I"])
def test_a_long_text_line_the_loader_refuses_at_its_start_is_no_pickle(tmp_path, first):
    # A text file whose first line is longer than the budget (a log line, a dump) and
    # starts with a line opcode: LONG, STRING and INT refuse such a line by its first
    # bytes, so the load fails there whatever follows; it is text, not an unverified pickle.
    # The same line with a number the loader accepts stays a stream to follow.
    path = _sparse(tmp_path / "notes.txt", first, LINE_BUDGET + 1, b"\n0" + CALL)
    seen = observe(path, "pickle")
    assert not seen.side_effects and seen.error
    assert scan_file(path).container == "not-pickle" and not security_errors(tmp_path, "notes.txt")
    numeric = _sparse(tmp_path / "model.pkl", b"I1\x00", LINE_BUDGET + 1, b"\n0" + CALL)
    assert "os.system" in observe(numeric, "pickle").side_effects
    assert security_errors(tmp_path, "model.pkl")


def test_a_hole_past_the_budget_with_no_newline_after_it_is_the_end_of_the_line(tmp_path):
    # The loader reads such a line to the end of the file and fails: no error, and only the
    # stored bytes after the hole are read.
    path = _sparse(tmp_path / "model.pkl", b"Vabc", LINE_BUDGET + 1, b"tail without a newline")
    assert not observe(path, "pickle").side_effects
    scan = scan_file(path)
    assert not scan.problems and scan.bytes_scanned < 1 << 20
