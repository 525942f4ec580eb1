"""A payload past any window of the scan (issue #15, found by an independent tester).

The scan read a raw pickle only up to Limits.max_stream_bytes (1 GiB): a BINBYTES8 (or
BINUNICODE8, BYTEARRAY8, ...) argument that ended past it, or a hole in a sparse file that
ran past it, hid the call after it, and the first stream was judged "no pickle". A loader
reads on to STOP, so a file on disk is scanned to its end (arguments are skipped by
seeking, never read); only decompressed data is cut at the bound, and a stream that runs
past the cut is unverified (SEC003), never "no pickle". The mechanism is tested with a small
bound; one sparse file past the real 1 GiB bound shows the default. Each malicious file is
checked to fire under its real loader (the loader oracle, a harmless canary).
"""

from __future__ import annotations

import gzip
import struct

import pytest
from loader_oracle import observe

from hfcheck.api import check
from hfcheck.formats.pickle import Limits, scan_file

CALL = b"cos\nsystem\n(Vtrue\ntR."  # os.system("true"): a harmless canary
SMALL = Limits(max_stream_bytes=1 << 20)


def big_bytes_then_call(size: int, opcode: bytes = b"\x8e") -> bytes:
    """PROTO 4, an argument of `size` bytes (BINBYTES8 by default), POP, then the call."""
    return b"\x80\x04" + opcode + struct.pack("<Q", size) + b"\0" * size + b"0" + CALL


def dangerous(scan) -> bool:
    return any((g.module, g.name) == ("os", "system") for g in scan.globals)


@pytest.mark.parametrize("opcode", [b"\x8e", b"\x8d", b"\x96"], ids=["B8", "U8", "A8"])  # BINBYTES8, BINUNICODE8, BYTEARRAY8
def test_a_call_after_an_argument_that_ends_past_the_bound_is_found(tmp_path, opcode):
    path = tmp_path / "model.pkl"
    path.write_bytes(big_bytes_then_call(2 << 20, opcode))
    assert "os.system" in observe(path, "pickle").side_effects
    scan = scan_file(path, limits=SMALL)  # 2 MiB of argument, a 1 MiB bound
    assert scan.container == "pickle" and dangerous(scan)


def test_a_hole_past_the_default_bound_hides_nothing(tmp_path):
    # A sparse file: the argument's 1.1 GiB are a hole (never read); the call follows it.
    size = (1 << 30) + (100 << 20)
    path = tmp_path / "model.pkl"
    with open(path, "wb") as f:
        f.write(b"\x80\x04\x8e" + struct.pack("<Q", size))
        f.seek(size, 1)
        f.write(b"0" + CALL)
    scan = scan_file(path)
    assert dangerous(scan) and scan.bytes_scanned < 1 << 20
    assert {f.code for f in check(tmp_path).findings if f.severity == "error" and f.path == "model.pkl"} >= {"SEC001"}


def test_a_stored_zip_member_is_read_to_its_end(tmp_path):
    import zipfile

    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", big_bytes_then_call(2 << 20))
        archive.writestr("archive/version", "3\n")
    assert "os.system" in observe(path, "torch").side_effects
    assert dangerous(scan_file(path, limits=SMALL))


def test_compressed_data_cut_at_the_bound_is_unverified_not_clean(tmp_path):
    path = tmp_path / "model.joblib"
    path.write_bytes(gzip.compress(big_bytes_then_call(2 << 20)))
    assert "os.system" in observe(path, "joblib").side_effects
    scan = scan_file(path, limits=SMALL)  # 1 MiB of the 2 MiB decompressed: the call is unseen
    assert scan.container == "compressed" and not dangerous(scan)
    assert any("scan incomplete" in p.message for p in scan.problems)
    # compressed text longer than the bound fails before it and stays no pickle
    text = tmp_path / "notes.txt.gz"
    text.write_bytes(gzip.compress(b"epoch 1 loss 0.5\n" * 200_000))
    assert scan_file(text, limits=SMALL).container == "not-pickle"


def test_a_large_benign_pickle_is_scanned_whole_and_clean(tmp_path):
    # An ordinary protocol-4 dump of 2 MiB of bytes: clean at a 1 MiB bound (it was an error).
    import pickle

    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"blob": b"\x01" * (2 << 20)}, protocol=4))
    scan = scan_file(path, limits=SMALL)
    assert scan.container == "pickle" and not scan.problems and scan.bytes_scanned < 1 << 18
