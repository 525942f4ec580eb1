"""Hostile archives and files that change under the scanner: findings, never a crash,
never a hang, never an extraction."""

from __future__ import annotations

import io
import pickle
import struct
import time
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st

from hfcheck.api import check
from hfcheck.formats.python_code import scan_source
from hfcheck.repo import RepoView


def security(repo):
    start = time.perf_counter()
    findings = [f for f in check(repo, select=["SEC", "HFC"]).findings]
    assert time.perf_counter() - start < 60
    return findings


def payload() -> bytes:
    return b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."


def test_zip_with_a_hundred_thousand_entries(tmp_path):
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as archive:
        for index in range(100_000):
            archive.writestr(f"e{index}", b"")
        archive.writestr("late/data.pkl", payload())
    findings = security(tmp_path)
    assert any(f.path == "many.zip" and f.severity == "error" for f in findings), findings


def test_zip_in_zip_in_zip_payload(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("archive/data.pkl", payload())
    middle = io.BytesIO()
    with zipfile.ZipFile(middle, "w") as archive:
        archive.writestr("inner.zip", inner.getvalue())
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as archive:
        archive.writestr("middle.zip", middle.getvalue())
    assert any(f.code == "SEC001" and f.path == "outer.zip" for f in security(tmp_path))


def test_encrypted_entry_is_not_trusted(tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2))
    raw = bytearray(data.getvalue())
    # set the "encrypted" flag bit in the local and the central header
    raw[6] |= 1
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 8] |= 1
    (tmp_path / "locked.pt").write_bytes(bytes(raw))
    findings = security(tmp_path)
    assert any(f.path == "locked.pt" and f.code == "SEC003" for f in findings), findings


def test_truncated_central_directory(tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("archive/data.pkl", payload())
    raw = data.getvalue()
    (tmp_path / "cut.pt").write_bytes(raw[: raw.rfind(b"PK\x01\x02") + 10])
    findings = security(tmp_path)
    assert any(f.path == "cut.pt" and f.severity == "error" for f in findings), findings


def test_file_that_disappears_after_listing(tiny_llama):
    view = RepoView(tiny_llama)
    assert "tokenizer.json" in view.files
    (tiny_llama / "tokenizer.json").unlink()
    assert view.json("tokenizer.json") is None
    assert "cannot open" in view.read_errors["tokenizer.json"].message


def test_file_that_grows_while_read(tiny_llama):
    view = RepoView(tiny_llama)
    assert "config.json" in view.files
    (tiny_llama / "config.json").write_text("{" + '"x": 1, ' * 200_000 + '"y": 2}')
    doc = view.json("config.json")  # read what is there now, within the caps
    assert doc is not None and doc.error is None


def test_zip_bomb_member_is_capped(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.pt", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02" + b"(" * (300 << 20))
    assert (tmp_path / "bomb.pt").stat().st_size < 2 << 20
    findings = security(tmp_path)
    assert any(f.path == "bomb.pt" and f.code == "SEC003" for f in findings), findings


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_python_code_scanner_never_raises(source):
    first = scan_source(source)
    assert first == scan_source(source)


def test_safetensors_header_claiming_huge_length(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 2**63) + b"{}")
    findings = check(tmp_path, select=["WGT004"]).findings
    assert [f.code for f in findings] == ["WGT004"] and "exceeds" in findings[0].message
