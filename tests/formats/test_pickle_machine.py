"""The symbolic machine reads what the real unpicklers read (issue #15, opcode side).

Every malicious file here carries a harmless canary (`os.system("echo canary")`); the loader
oracle (tests/loader_oracle.py) first proves that the payload really fires under the real
loader, and stops it before it runs. Then hfcheck's verdict on the same file is asserted.
"""

from __future__ import annotations

import io
import pickle
import random
import struct

import pytest
from loader_oracle import observe

from hfcheck.formats.pickle import machine, scan_bytes, scan_file, sniff_container
from hfcheck.formats.pickle.text_arguments import parse_float_line, parse_int_line, parse_long_line, parse_memo_index

CANARY = b"echo canary"


def _unicode(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _system_call() -> bytes:
    """Protocol-0/2 opcodes that call os.system(CANARY) and leave the result on the stack."""
    return b"cos\nsystem\n" + _unicode(CANARY.decode()) + b"\x85R"


def _runs_system(message: str) -> bool:
    return "imports os.system" in message or "imports posix.system" in message


def _errors(tmp_path, name: str, data: bytes) -> dict[str, list[str]]:
    from hfcheck.api import check

    folder = tmp_path / ("repo-" + name.replace(".", "-"))
    folder.mkdir()
    (folder / name).write_bytes(data)
    found: dict[str, list[str]] = {}
    for finding in check(folder, select=["security"]).findings:
        if finding.severity == "error":
            found.setdefault(finding.code, []).append(finding.message)
    return found


def _fires(tmp_path, name: str, data: bytes, loader: str) -> None:
    path = tmp_path / ("oracle-" + name)
    path.write_bytes(data)
    seen = observe(path, loader)
    assert seen.fired, (loader, seen)


# --------------------------------------------------------------------------- (2) text arguments


def _both_unpicklers(data: bytes):
    results = []
    for load in (pickle.loads, pickle._loads):
        try:
            results.append(("ok", load(data)))
        except Exception:
            results.append(("error", None))
    return results


def _expected(results):
    """The union the scanner must follow: C's value where C accepts, else pickle.py's."""
    for status, value in results:
        if status == "ok":
            return ("ok", repr(value))
    return ("error", None)


def _spellings():
    fixed = [b"1", b"00", b"01", b"010", b"0x1f", b"0o17", b"0b11", b"1_000", b" 5", b"5 ", b"+1", b"-0", b"1\x00junk", b"0x"]
    fixed += [b"", b"99999999999999999999", b"1L", b"077", b"08", b" 01", b"\x00", b"1e5", b"inf", b"1e999", b"-.5", b"1_0.5"]
    rng = random.Random(15)
    alphabet = b"0123456789xXoObB_ +-\x00Lfe.\t"
    return fixed + [bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(3000)]


@pytest.mark.parametrize(
    ("opcode", "parse"),
    [(b"I", parse_int_line), (b"L", parse_long_line), (b"F", parse_float_line)],
    ids=["INT", "LONG", "FLOAT"],
)
def test_text_number_arguments_parse_as_the_unpicklers_do(opcode, parse):
    wrong = []
    for spelling in _spellings():
        try:
            mine = ("ok", repr(parse(spelling)))
        except ValueError:
            mine = ("error", None)
        expected = _expected(_both_unpicklers(opcode + spelling + b"\n."))
        if mine != expected:
            wrong.append((spelling, mine, expected))
    assert wrong == []


def test_memo_index_arguments_parse_as_the_unpicklers_do():
    wrong = []
    for spelling in _spellings():
        try:
            mine = parse_memo_index(spelling) >= 0
        except ValueError:
            mine = False
        status, _ = _expected(_both_unpicklers(b"I7\np" + spelling + b"\n0g" + spelling + b"\n."))
        if mine != (status == "ok"):
            wrong.append(spelling)
    assert wrong == []


@pytest.mark.parametrize("spelling", [b"0x10", b"0o7", b"0b1", b"1_000", b"010", b"1\x00x", b" 3"])
def test_int_spellings_do_not_hide_a_payload(tmp_path, spelling):
    # A headerless protocol-0 stream whose first opcode is INT in a spelling int(x, 10)
    # rejects: a scanner that parses base 10 decides "not a pickle" and never scans it.
    data = b"I" + spelling + b"\n0" + _system_call() + b"."
    _fires(tmp_path, "int.pkl", data, "pickle")
    assert sniff_container(data) == "pickle"
    errors = _errors(tmp_path, "weights.pkl", data)
    assert any(_runs_system(message) for message in errors.get("SEC001", [])), errors


def test_long_spelling_does_not_hide_a_payload(tmp_path):
    data = b"L0x_1fL\n0" + _system_call() + b"."
    _fires(tmp_path, "long.pkl", data, "pickle")
    errors = _errors(tmp_path, "weights.pkl", data)
    assert "SEC001" in errors and "SEC003" not in errors


# --------------------------------------------------------------------------- (12) frames


def _straddling_frame() -> bytes:
    """PROTO 4, a FRAME that ends in the middle of a BINBYTES payload, then os.system."""
    hidden = b"\x8c\x02os\x8c\x06system\x93" + b"\x8c" + bytes([len(CANARY)]) + CANARY + b"\x85R."
    blob = b"B" + struct.pack("<I", 10) + b"0123456789"
    frame = blob[:9]  # opcode, length and 4 of the 10 payload bytes
    return b"\x80\x04\x95" + struct.pack("<Q", len(frame)) + blob + b"0" + hidden


def test_an_opcode_crossing_its_frame_is_unverifiable(tmp_path):
    data = _straddling_frame()
    _fires(tmp_path, "frame.pkl", data, "pickle")  # the C unpickler reads across the frame end
    with pytest.raises(pickle.UnpicklingError):
        pickle._loads(data)  # pickle.py (and pickletools-based scanners) stop there
    errors = _errors(tmp_path, "weights.pkl", data)
    assert any("crosses the end of its FRAME" in message for message in errors.get("SEC003", [])), errors
    assert any(_runs_system(message) for message in errors.get("SEC001", [])), errors


def test_real_framed_pickles_do_not_cross_frames():
    value = {"weights": [float(i) for i in range(20_000)], "names": ["x" * 70_000, "y"], "blob": bytes(200_000)}
    for protocol in (4, 5):
        scan = scan_bytes(pickle.dumps(value, protocol=protocol))
        assert scan.problems == [] and scan.streams == 1


# --------------------------------------------------------------------------- fail closed


def test_an_internal_error_is_unverifiable_never_not_a_pickle(tmp_path, monkeypatch):
    data = pickle.dumps({"a": 1}, protocol=0)

    def broken(m, arg, offset):
        raise TypeError("simulated bug in a handler")

    read_argument, _ = machine.DISPATCH[ord("d")]
    monkeypatch.setitem(machine.DISPATCH, ord("d"), (read_argument, broken))
    assert sniff_container(data) == "pickle"
    path = tmp_path / "state.pkl"
    path.write_bytes(data)
    assert any("internal error in the pickle machine" in p.message for p in scan_file(path).problems)
    errors = _errors(tmp_path, "state.pkl", data)
    assert any("internal error" in message for message in errors.get("SEC003", [])), errors


# --------------------------------------------------------------------------- (8) joblib array values


def _joblib_file(items: bytes, array_region: bytes) -> bytes:
    """A joblib-style pickle: NumpyArrayWrapper with the given state items, then the raw
    array bytes that joblib reads from the file after the wrapper's BUILD."""
    return b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(" + items + b"ub" + array_region + b"."


def _wrapper_items(shape: bytes, dtype_descr: str, elsize: int = -1) -> bytes:
    dtype = b"cnumpy\ndtype\n" + _unicode(dtype_descr) + b"\x89\x88\x87R"
    dtype += b"(K\x03" + _unicode("|") + b"NNNJ" + struct.pack("<i", elsize) + b"J\xff\xff\xff\xffK\x00tb"
    return (
        _unicode("subclass")
        + b"cnumpy\nndarray\n"
        + _unicode("order")
        + _unicode("C")
        + _unicode("dtype")
        + dtype
        + _unicode("allow_mmap")
        + b"\x88"
        + shape
    )


def _shape(n: int) -> bytes:
    return _unicode("shape") + b"J" + struct.pack("<i", n) + b"\x85"


def test_a_repeated_dict_key_takes_its_last_value(tmp_path):
    payload = _system_call() + b"0"
    # the state says shape=(len(payload),) first and shape=(0,) last: joblib keeps the last
    data = _joblib_file(_wrapper_items(_shape(len(payload)) + _shape(0), "u1"), payload)
    _fires(tmp_path, "dup.joblib", data, "joblib")
    errors = _errors(tmp_path, "model.joblib", data)
    assert any(_runs_system(message) for message in errors.get("SEC001", [])), errors


def test_a_pickled_element_size_numpy_ignores_is_ignored(tmp_path):
    payload = _system_call() + b"0"
    n = 8
    while (7 * n - len(payload)) % 2 or 7 * n < len(payload):
        n += 1
    padding = b"N0" * ((7 * n - len(payload)) // 2)  # no-ops for joblib after the payload
    region = bytes(n) + payload + padding
    # 'u1' elements are 1 byte whatever the pickled state says (elsize=8 here)
    data = _joblib_file(_wrapper_items(_shape(n), "u1", elsize=8), region)
    _fires(tmp_path, "elsize.joblib", data, "joblib")
    errors = _errors(tmp_path, "model.joblib", data)
    assert any(_runs_system(message) for message in errors.get("SEC001", [])), errors


def test_real_joblib_arrays_still_skip_cleanly(tmp_path):
    joblib = pytest.importorskip("joblib")
    numpy = pytest.importorskip("numpy")
    value = {"a": numpy.arange(1000, dtype="<f8"), "s": numpy.array(["ab", "cde"]), "v": numpy.zeros(3, dtype="V5")}
    path = tmp_path / "arrays.joblib"
    joblib.dump(value, path)
    scan = scan_file(path)
    assert scan.problems == [] and {g.name for g in scan.globals} >= {"NumpyArrayWrapper", "dtype"}


# --------------------------------------------------------------------------- (9) callables that call what they are given


def _canary_checkpoint(tensor_elements: int = 0) -> bytes:
    torch = pytest.importorskip("torch")

    class Canary:
        def __reduce__(self):
            import os

            return (os.system, (CANARY.decode(),))

    buffer = io.BytesIO()
    torch.save({"w": torch.zeros(tensor_elements), "x": Canary()} if tensor_elements else Canary(), buffer)
    return buffer.getvalue()


def _bytes_arg(data: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(data)) + data


def test_load_from_bytes_passed_to_rebuild_from_type_v2_is_scanned(tmp_path):
    inner = _canary_checkpoint()
    # _rebuild_from_type_v2(func, new_type, args, state) calls func(*args)
    data = (
        b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n("
        + b"ctorch.storage\n_load_from_bytes\n"
        + b"ctorch.nn.parameter\nParameter\n"
        + _bytes_arg(inner)
        + b"\x85}tR."
    )
    _fires(tmp_path, "rebuild.pkl", data, "pickle")
    errors = _errors(tmp_path, "weights.pkl", data)
    assert any(_runs_system(message) and "_load_from_bytes" in message for message in errors.get("SEC001", [])), errors


@pytest.mark.parametrize("attribute", ["__setstate__", "append"])
def test_an_instance_attribute_the_unpickler_calls_is_judged(tmp_path, attribute):
    inner = _canary_checkpoint()
    # an OrderedDict instance gets the attribute through BUILD; the unpickler then calls it
    prefix = b"\x80\x02ccollections\nOrderedDict\n)R}" + _unicode(attribute) + b"ctorch.storage\n_load_from_bytes\nsb"
    trigger = _bytes_arg(inner) + (b"b" if attribute == "__setstate__" else b"a")
    data = prefix + trigger + b"."
    _fires(tmp_path, attribute + ".pkl", data, "pickle")
    errors = _errors(tmp_path, "weights.pkl", data)
    assert any(repr(attribute) in message for message in errors.get("SEC003", [])), errors
    assert any(_runs_system(message) for message in errors.get("SEC001", [])), errors


def test_big_load_from_bytes_payloads_are_scanned_from_the_file(tmp_path):
    inner = _canary_checkpoint(tensor_elements=50_000)  # bigger than the scanner keeps in memory
    assert len(inner) > 100_000
    data = b"\x80\x02ctorch.storage\n_load_from_bytes\n" + _bytes_arg(inner) + b"\x85R."
    _fires(tmp_path, "big.pkl", data, "pickle")
    errors = _errors(tmp_path, "weights.pkl", data)
    assert any(_runs_system(message) for message in errors.get("SEC001", [])), errors


def test_build_on_a_persistent_load_result_is_unverifiable():
    data = b"\x80\x02(X\x06\x00\x00\x00moduleq\x00tQ}X\x0c\x00\x00\x00dump_patchesq\x01\x88sb."
    assert any("persistent-load result" in p.message for p in scan_bytes(data).problems)


def test_real_tensor_subclass_and_parameter_pickles_stay_clean():
    torch = pytest.importorskip("torch")
    value = {"p": torch.nn.Parameter(torch.ones(3)), "t": torch.zeros(2), "od": __import__("collections").OrderedDict(a=1)}
    scan = scan_bytes(pickle.dumps(value, protocol=2))
    assert scan.problems == []
    for protocol in (0, 2, 4):
        assert scan_bytes(pickle.dumps(torch.ones(4), protocol=protocol)).problems == []
