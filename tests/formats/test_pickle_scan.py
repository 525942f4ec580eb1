"""hfcheck.formats.pickle (scan and policy) against the generated corpus and hostile input."""

from __future__ import annotations

import collections
import io
import json
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hfcheck.formats.pickle.policy import classify
from hfcheck.formats.pickle import Limits, PickleScan, scan_bytes, scan_file, sniff_container

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pickle-corpus")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pickle_corpus.py"), str(out)], check=True, capture_output=True)
    return out


def _manifest(corpus: Path) -> list[dict]:
    return json.loads((corpus / "manifest.json").read_text())


def _kinds(scan: PickleScan) -> collections.Counter:
    return collections.Counter(classify(g.module, g.name)[0] if g.resolved else "unresolved" for g in scan.globals)


def _flagged(scan: PickleScan) -> bool:
    kinds = _kinds(scan)
    return bool(kinds["dangerous"] or kinds["unknown"] or kinds["unresolved"] or scan.problems)


def test_corpus_has_every_verdict(corpus):
    counts = collections.Counter(i["verdict"] for i in _manifest(corpus))
    assert counts["benign"] >= 50 and counts["malicious"] >= 60 and counts["review"] >= 4


def test_every_malicious_sample_is_flagged(corpus):
    missed = []
    for item in _manifest(corpus):
        if item["verdict"] == "malicious":
            scan = scan_file(corpus / item["path"])
            if not _flagged(scan):
                missed.append((item["path"], item["technique"], scan))
    assert not missed


def test_malicious_samples_mostly_name_a_dangerous_global(corpus):
    """Beyond 'flagged': the denylist names the payload for all but the unresolvable ones."""
    not_dangerous = []
    for item in _manifest(corpus):
        if item["verdict"] == "malicious":
            scan = scan_file(corpus / item["path"])
            if not _kinds(scan)["dangerous"]:
                not_dangerous.append(Path(item["path"]).name)
    assert sorted(not_dangerous) == ["ext_opcode.pkl", "stack_global_computed.pkl"]


def test_benign_samples_are_clean(corpus):
    dirty = []
    for item in _manifest(corpus):
        if item["verdict"] == "benign":
            scan = scan_file(corpus / item["path"])
            kinds = _kinds(scan)
            no_pickle = item["path"].endswith(("float.npy", "structured.npy", "arrays.npz"))  # numpy data only
            if not set(kinds) <= {"allowed"} or scan.problems or (scan.streams < 1) != no_pickle or (not kinds) != no_pickle:
                dirty.append((item["path"], dict(kinds), scan.problems))
    assert not dirty


def test_review_samples_need_trust_but_are_never_dangerous(corpus):
    # whole pickled nn.Modules: their classes are off the allowlist (unknown, or a trusted
    # library's class such as torch.nn's, which is a warning naming the library)
    for item in _manifest(corpus):
        if item["verdict"] == "review":
            scan = scan_file(corpus / item["path"])
            kinds = _kinds(scan)
            assert not scan.problems and not kinds["dangerous"] and not kinds["unresolved"], item
            assert kinds["unknown"] + kinds["library"] >= 1, item


def test_no_canary_ever_appears(corpus):
    for item in _manifest(corpus):
        scan_file(corpus / item["path"])
    assert not list(corpus.glob("CANARY-*"))


def test_zip_tricks_are_reported_and_still_scanned(corpus):
    mal = corpus / "malicious"
    for name, needle in [
        ("torch_zip_header_mismatch.pt", "local header names it"),
        ("torch_zip_flag_bits.pt", "encrypted flag"),
        ("duplicate_member.pt", "duplicate zip member"),
    ]:
        scan = scan_file(mal / name)
        assert any(needle in p.message for p in scan.problems), (name, scan.problems)
        assert ("os", "system") in {(g.module, g.name) for g in scan.globals}, name


def test_container_detection_by_content(corpus):
    mal = corpus / "malicious"
    assert scan_file(mal / "weights.txt").container == "torch-zip"
    assert scan_file(mal / "model.safetensors").container == "pickle"
    assert scan_file(mal / "legacy_keys.bin").container == "torch-legacy"
    assert scan_file(mal / "array.npy").container == "numpy"
    assert scan_file(mal / "arrays.npz").container == "npz"
    assert scan_file(mal / "model.joblib").container == "compressed"
    nested = scan_file(mal / "nested.zip")
    assert nested.container == "zip"
    assert {g.member for g in nested.globals} == {"inner/model.pt/archive/data.pkl"}
    concat = scan_file(mal / "concat_third.pkl")
    assert concat.streams == 3 and [g.name for g in concat.globals] == ["system"]


def test_globals_calls_and_members(corpus):
    scan = scan_file(corpus / "malicious" / "torch_zip_other_member.pt")
    (g,) = scan.globals
    assert (g.module, g.name, g.member, g.called, g.resolved) == ("os", "system", "archive/extra.pkl", True, True)
    assert any(c.opcode == "REDUCE" and c.target == g for c in scan.calls)
    memo = scan_file(corpus / "malicious" / "stack_global_memo.pkl")
    assert [(g.module, g.name, g.called) for g in memo.globals] == [("os", "system", True)]
    computed = scan_file(corpus / "malicious" / "stack_global_computed.pkl")
    assert any(not g.resolved and g.module == "" and g.called for g in computed.globals)
    nested = scan_file(corpus / "malicious" / "load_from_bytes_nested.pkl")
    assert any(g.name == "system" and "<_load_from_bytes@" in g.member for g in nested.globals)


def test_a_torch_zip_scan_reports_its_storage_bytes(tmp_path):
    # The memory-fit rule sizes pickle weights from the scan's reading of the archive: the
    # tensors' bytes as torch itself counts them; a legacy file cannot be sized that way.
    torch = pytest.importorskip("torch")
    tensors = {"w": torch.ones(1000), "b": torch.zeros(7, dtype=torch.float16), "i": torch.arange(5)}
    torch.save(tensors, tmp_path / "zip.bin")
    assert scan_file(tmp_path / "zip.bin").storage_bytes == sum(t.untyped_storage().nbytes() for t in tensors.values())
    torch.save(tensors, tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    assert scan_file(tmp_path / "legacy.bin").storage_bytes is None
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as archive:  # a checkpoint inside an archive is not the file's weights
        archive.write(tmp_path / "zip.bin", "inner.bin")
    assert scan_file(outer).storage_bytes is None


def test_legacy_format_stops_before_storage_bytes(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "legacy.bin"
    torch.save({"w": torch.ones(1000)}, path, _use_new_zipfile_serialization=False)
    with open(path, "ab") as f:  # anything after the storages is never unpickled by torch
        f.write(b"cos\nsystem\n(S'x'\ntR.")
    scan = scan_file(path)
    assert scan.container == "torch-legacy" and scan.streams == 5 and not scan.problems
    assert {(g.module, g.name) for g in scan.globals} <= {
        ("collections", "OrderedDict"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch", "FloatStorage"),
    }


def test_large_checkpoint_costs_its_pickle_not_its_data(tmp_path):
    torch = pytest.importorskip("torch")
    for legacy in (False, True):
        path = tmp_path / ("big-%s.pt" % legacy)
        torch.save({"w": torch.zeros(50_000_000), "b": torch.ones(3)}, path, _use_new_zipfile_serialization=not legacy)
        size = path.stat().st_size
        assert size > 190_000_000
        scan = scan_file(path)
        assert not scan.problems and scan.streams >= 1
        assert scan.bytes_scanned < 300_000, (legacy, scan.bytes_scanned)
        assert {classify(g.module, g.name)[0] for g in scan.globals} == {"allowed"}


# --------------------------------------------------------------------------- hostile streams


def _messages(scan):
    return " | ".join(p.message for p in scan.problems)


def test_truncated_stream_is_a_problem():
    data = pickle.dumps({"a": list(range(100))}, protocol=4)
    for cut in (1, 2, 10, len(data) // 2, len(data) - 1):
        scan = scan_bytes(data[:cut])
        assert "truncated" in _messages(scan)


def test_unknown_opcode_is_a_problem():
    assert "unknown opcode 0xff" in _messages(scan_bytes(b"\x80\x02\xff."))


def test_unsupported_protocol_is_a_problem():
    assert "protocol" in _messages(scan_bytes(b"\x80\x09N."))


def test_memo_bound_and_huge_indices():
    many = b"\x80\x04N" + b"\x94" * 1_000_001 + b"."
    assert "memo larger than 1000000" in _messages(scan_bytes(many))
    huge = b"\x80\x02Nr\xff\xff\xff\xff0j\xff\xff\xff\xff."
    scan = scan_bytes(huge)
    assert not scan.problems and scan.streams == 1
    assert "read before it was written" in _messages(scan_bytes(b"\x80\x02j\x40\x42\x0f\x00."))


def test_protocol5_out_of_band_buffers_are_problems():
    pb = pickle.PickleBuffer(b"abc")
    data = pickle.dumps(pb, protocol=5, buffer_callback=lambda b: False)
    assert b"\x97" in data
    assert "out-of-band" in _messages(scan_bytes(data))
    assert "out-of-band" in _messages(scan_bytes(b"\x80\x05\x97\x98."))


def test_deep_nesting_hits_the_bound():
    scan = scan_bytes(b"\x80\x02" + b"(" * 5000 + b".", limits=Limits(max_stack=1000))
    assert "mark stack deeper" in _messages(scan)
    scan = scan_bytes(b"\x80\x02" + b"]" * 3000 + b".", limits=Limits(max_stack=1000))
    assert "stack deeper" in _messages(scan)
    # default bounds: 300k nested lists are fine and fast
    scan = scan_bytes(b"\x80\x02" + b"]" * 300_000 + b"a" * 299_999 + b".")
    assert not scan.problems


def test_opcode_and_time_bounds():
    data = pickle.dumps(list(range(50_000)), protocol=2)
    assert "opcodes" in _messages(scan_bytes(data, limits=Limits(max_opcodes=1000)))
    assert "time budget" in _messages(scan_bytes(data, limits=Limits(budget_seconds=0.0)))


def test_persistent_ids_are_counted_not_flagged():
    scan = scan_bytes(b"\x80\x02(X\x07\x00\x00\x00storageK\x01tQPabc\n0.")
    assert scan.persistent_ids == 2 and not scan.problems and not scan.globals


def test_build_on_a_global_is_flagged():
    data = b"\x80\x02ctorch\n_utils\nN}X\x02\x00\x00\x00xxK\x01s\x86b."
    assert "BUILD sets attributes on an imported global" in _messages(scan_bytes(data))


def test_scan_bytes_and_policy_do_not_import_heavy_modules():
    probe = "import sys, hfcheck.formats.pickle as s, hfcheck.formats.pickle.policy\ns.scan_bytes(b'\\x80\\x02ctorch._utils\\n_rebuild_tensor_v2\\n.')\nprint(sorted(m for m in ('torch', 'numpy', 'joblib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- zip hostility


def _zip_bytes(members, compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_bomb_is_capped(tmp_path):
    path = tmp_path / "bomb.pt"
    path.write_bytes(_zip_bytes([("archive/data.pkl", b"\x80\x02N" + b"0N" * 40_000_000 + b".")], zipfile.ZIP_DEFLATED))
    assert path.stat().st_size < 1_000_000
    scan = scan_file(path, max_stream_bytes=1 << 20)
    msgs = _messages(scan)
    assert "zip bomb" in msgs and "decompresses to more than" in msgs


def test_unsafe_member_names(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(_zip_bytes([("../evil.pkl", pickle.dumps(1, protocol=2)), ("/abs.pkl", pickle.dumps(1, protocol=2))]))
    msgs = _messages(scan_file(path))
    assert "'../evil.pkl'" in msgs and "'/abs.pkl'" in msgs


def test_storage_members_are_not_read(tmp_path):
    """Random tensor bytes are sniffed only; a pickle hidden in data/ is still found."""
    rng = bytes((i * 2654435761 >> 7) & 0xFF for i in range(1 << 20))
    benign = tmp_path / "ok.pt"
    benign.write_bytes(_zip_bytes([("archive/data.pkl", b"\x80\x02}."), ("archive/data/0", b"\x80\x02" + rng)]))
    scan = scan_file(benign)
    assert not scan.problems and scan.bytes_scanned < 20_000
    hidden = tmp_path / "hidden.pt"
    hidden.write_bytes(
        _zip_bytes([("archive/data.pkl", b"\x80\x02}."), ("archive/data/0", b"\x80\x02cos\nsystem\n(X\x01\x00\x00\x00xtR.")])
    )
    scan = scan_file(hidden)
    assert ("os", "system") in {(g.module, g.name) for g in scan.globals}
    assert "tensor storage member holds a pickle" in _messages(scan)


def test_npy_without_objects_has_no_stream(tmp_path):
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path = tmp_path / "a.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\x80\x02cos\nsystem\n." + b"\x00" * 8)
    scan = scan_file(path)
    assert scan.container == "numpy" and scan.streams == 0 and not scan.globals  # numpy never unpickles f4 data
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY\x01\x00\x10\x00__import__('os')")
    assert "not a Python literal" in _messages(scan_file(bad))


def test_sniff_container():
    assert sniff_container(b"PK\x03\x04" + b"\x00" * 22 + b"\x10\x00\x00\x00archive/data.pkl") == "zip"  # the directory tells torch-zip
    assert sniff_container(b"\x93NUMPY\x01\x00") == "numpy"
    assert sniff_container(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + b"\x80\x02") == "torch-legacy"
    assert sniff_container(pickle.dumps([1, 2], protocol=0)) == "pickle"
    assert sniff_container(b"cos\nsystem\n(S'x'\ntR.") == "pickle"
    for text in (b"# README\nhello", b'{"a": 1}', b"little", b"3\n", b"1234567890", b"Note: x", b"", b"\x00" * 64):
        assert sniff_container(text) is None, text
    for real in (ROOT / "fixtures" / "repos" / "tiny-llama").iterdir():
        assert sniff_container(real.read_bytes()[:512]) is None, real


# --------------------------------------------------------------------------- properties

_PIECES = [
    bytes([b])
    for b in b"(.012FIJKLMNPQRSTUVXabcdeghijlopqrstu}])GN\x80\x81\x82\x85\x86\x87\x88\x89\x8a\x8c\x8f\x90\x91\x92\x93\x94\x95\x97\x98"
]
_PIECES += [
    b"\x80\x04",
    b"\x8c\x02os",
    b"\x8c\x06system",
    b"cos\nsystem\n",
    b"h\x00",
    b"q\x00",
    b"K\x01",
    b"X\x01\x00\x00\x00a",
    b"\n",
    b"\xff\xff\xff\xff",
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_scan_bytes_never_raises_and_is_deterministic(data):
    a = scan_bytes(data)
    assert isinstance(a, PickleScan)
    assert a == scan_bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=200))
def test_opcode_soup_never_raises(pieces):
    data = b"".join(pieces)
    a = scan_bytes(data)
    assert a == scan_bytes(data)
    for g in a.globals:
        classify(g.module, g.name)  # never raises either
    sniff_container(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_scan_file_never_raises(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f"
    for prefix in (b"", b"PK\x03\x04", b"\x93NUMPY\x01\x00", b"\x1f\x8b", pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)):
        path.write_bytes(prefix + data)
        assert isinstance(scan_file(path), PickleScan)
