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


def _random_data_stream(rng: random.Random) -> bytes:
    """A stream of data opcodes with arguments in the spellings the unpicklers accept."""
    pieces = [
        b"I" + rng.choice([b"0x1f", b"0o7", b"0b101", b"1_000", b"010", b" 3", b"-4", b"01", b"00", b"1\x00z"]) + b"\n",
        b"L" + rng.choice([b"0x1fL", b"12L", b"-7", b"0b1_1L"]) + b"\n",
        b"F" + rng.choice([b"1.5", b"-inf", b"1e5", b" 2.5", b"1_0.5", b"3\x00x"]) + b"\n",
        b"S" + rng.choice([b"'a\\x41b'", b'"q\\n"', b"''", b"'\\''"]) + b"\n",
        b"V" + rng.choice([b"abc\\u00e9", b"", b"\\U0001f600"]) + b"\n",
        b"J" + struct.pack("<i", rng.randint(-(2**31), 2**31 - 1)),
        b"K" + bytes([rng.randint(0, 255)]),
        b"M" + struct.pack("<H", rng.randint(0, 65535)),
        b"\x8a" + bytes([n := rng.randint(0, 9)]) + bytes(rng.randint(0, 255) for _ in range(n)),
        b"\x8b" + struct.pack("<i", n := rng.randint(0, 9)) + bytes(rng.randint(0, 255) for _ in range(n)),
        b"T" + struct.pack("<i", 3) + b"abc",
        b"U\x02hi",
        b"C\x03xyz",
        b"B" + struct.pack("<I", 2) + b"\x00\xff",
        b"\x8c\x02\xc3\xa9",
        b"G" + struct.pack(">d", rng.random()),
        b"N",
        b"\x88",
    ]
    count = rng.randint(1, 8)
    body = b"".join(rng.choice(pieces) + b"p" + str(i).encode() + b"\n" for i in range(count))
    return b"(" + body + b"lg" + str(rng.randrange(count)).encode() + b"\n0."


def test_streams_either_unpickler_accepts_scan_without_problems():
    # every argument spelling a loader accepts (C: pickle.load, torch.load; Python: joblib)
    # must leave the scanner in step with it
    rng = random.Random(1215)
    checked = 0
    for _ in range(1500):
        data = _random_data_stream(rng)
        if _expected(_both_unpicklers(data))[0] == "error":
            continue
        checked += 1
        scan = scan_bytes(data)
        assert scan.problems == [] and scan.streams == 1, (data, scan.problems)
        assert scan.bytes_scanned == len(data)
    assert checked > 1000


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


def test_joblib_alignment_padding_is_read_whatever_its_value(tmp_path):
    # joblib reads the padding byte when numpy_array_alignment_bytes "is not None", so a
    # string value pads too; a reader that only pads for ints reads the padding as opcodes
    payload = _system_call() + b"0"
    pad = ord("N")  # to a reader that skips no padding: NONE, then the padding below
    swallowed = pad - 3 + len(payload)
    assert swallowed < 256
    padding = b"0C" + bytes([swallowed]) + bytes(pad - 3)  # POP, then SHORT_BINBYTES over the rest and the payload
    items = _wrapper_items(_shape(0), "u1") + _unicode("numpy_array_alignment_bytes") + _unicode("x")
    data = _joblib_file(items, bytes([pad]) + padding + payload + b"0")
    _fires(tmp_path, "align.joblib", data, "joblib")
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


# --------------------------------------------------------------------------- real files that are not errors


def _loads_cleanly(path, loader: str) -> None:
    seen = observe(path, loader)
    assert seen.completed and not seen.fired, seen


def _findings(folder):
    from hfcheck.api import check

    return check(folder, select=["security"]).findings


def test_torchscript_archives_are_judged_as_torch_jit_loads_them(tmp_path):
    torch = pytest.importorskip("torch")
    scripted = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()))
    traced = torch.jit.trace(torch.nn.Sequential(torch.nn.Linear(2, 2)), torch.zeros(1, 2))
    torch.jit.save(scripted, tmp_path / "scripted.pt")
    torch.jit.save(traced, tmp_path / "traced.pt")
    for name in ("scripted.pt", "traced.pt"):
        _loads_cleanly(tmp_path / name, "torch_jit")
        assert scan_file(tmp_path / name).container == "torchscript"
    assert _findings(tmp_path) == []


def test_a_torchscript_archive_still_may_not_name_dangerous_globals(tmp_path):
    import zipfile

    torch = pytest.importorskip("torch")
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "model.pt")
    with zipfile.ZipFile(tmp_path / "model.pt", "a") as archive:
        archive.writestr("model/extra.pkl", b"\x80\x02" + _system_call() + b".")
    errors = _errors(tmp_path, "model.pt", (tmp_path / "model.pt").read_bytes())
    assert any(_runs_system(message) for message in errors.get("SEC001", [])), errors


def test_omegaconf_checkpoints_are_warnings_naming_the_library(tmp_path):
    torch = pytest.importorskip("torch")
    omegaconf = pytest.importorskip("omegaconf")
    cfg = omegaconf.OmegaConf.create({"model": {"dim": 4, "layers": [1, 2]}, "lr": 0.1, "name": "x"})
    torch.save({"cfg": cfg, "model": torch.nn.Linear(2, 2).state_dict()}, tmp_path / "checkpoint_best.pt", pickle_protocol=2)
    _loads_cleanly(tmp_path / "checkpoint_best.pt", "torch")
    findings = _findings(tmp_path)
    assert [f for f in findings if f.severity == "error"] == []
    assert any("OmegaConf class omegaconf.dictconfig.DictConfig" in f.message for f in findings)


def test_scikit_learn_estimators_are_warnings_naming_the_library(tmp_path):
    joblib = pytest.importorskip("joblib")
    numpy = pytest.importorskip("numpy")
    pytest.importorskip("sklearn")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = numpy.random.default_rng(0).random((30, 3))
    y = (x[:, 0] > 0.5).astype(int)
    joblib.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), tmp_path / "pipeline.joblib")
    joblib.dump(RandomForestClassifier(n_estimators=2, random_state=0).fit(x, y), tmp_path / "forest.joblib", compress=3)
    for name in ("pipeline.joblib", "forest.joblib"):
        _loads_cleanly(tmp_path / name, "joblib")
    findings = _findings(tmp_path)
    assert [f for f in findings if f.severity == "error"] == []
    assert any("scikit-learn class sklearn.tree._tree.Tree" in f.message for f in findings)


def test_harmless_globals_off_the_allowlist_are_not_errors(tmp_path):
    import __future__
    import collections.abc

    value = {"f": len, "t": dict, "a": __future__.annotations, "i": collections.abc.Iterable, "e": ValueError("x"), "s": sorted}
    for protocol in (0, 2, 4):
        (tmp_path / f"state{protocol}.pkl").write_bytes(pickle.dumps(value, protocol=protocol))
        _loads_cleanly(tmp_path / f"state{protocol}.pkl", "pickle")
    findings = _findings(tmp_path)
    assert [f for f in findings if f.severity == "error"] == []
    # protocols 0-1 rebuild the exception through copyreg/object: the existing data-class warning
    assert {f.message.split()[5] for f in findings} <= {"__builtin__.object", "copy_reg._reconstructor"}, [f.message for f in findings]


def test_builtins_that_call_what_they_are_given_stay_errors(tmp_path):
    # list(map(torch.storage._load_from_bytes, [checkpoint])): two allowlisted-looking calls
    # and a builtin that calls what it is given, which runs a nested torch.load
    inner = _canary_checkpoint()
    mapped = b"c__builtin__\nmap\nctorch.storage\n_load_from_bytes\n]" + _bytes_arg(inner) + b"a\x86R"
    data = b"\x80\x02c__builtin__\nlist\n" + mapped + b"\x85R."
    _fires(tmp_path, "map.pkl", data, "pickle")
    errors = _errors(tmp_path, "map.pkl", data)
    assert any("__builtin__.map" in message and "calls the function" in message for message in errors.get("SEC002", [])), errors


def test_every_builtin_is_classified():
    import builtins

    from hfcheck.formats.pickle.policy import BUILTIN_VALUES, BUILTINS_NOT_HARMLESS, DENYLIST

    unclassified = []
    for name in dir(builtins):
        value = getattr(builtins, name)
        exception = isinstance(value, type) and issubclass(value, BaseException)
        dunder = name.startswith("__") and name.endswith("__")
        kinds = [name in BUILTIN_VALUES, name in BUILTINS_NOT_HARMLESS, "builtins." + name in DENYLIST or dunder, exception]
        if sum(kinds) != 1:
            unclassified.append((name, kinds))
    assert unclassified == []


def test_bytes_after_stop_that_no_loader_reads_are_not_errors(tmp_path):
    (tmp_path / "state.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=4) + b"\x00 trailing notes, never unpickled\n")
    _loads_cleanly(tmp_path / "state.pkl", "pickle")
    assert _findings(tmp_path) == []
    # a second stream that does parse is still judged (loaders that read in a loop run it)
    (tmp_path / "state.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=4) + b"\x80\x02" + _system_call() + b".")
    assert any(f.code == "SEC001" for f in _findings(tmp_path))


def test_whole_module_saves_are_warnings_that_name_the_class(tmp_path):
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("sentence_transformers.models")
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2), models.Pooling(2)), tmp_path / "model.pt")
    _loads_cleanly(tmp_path / "model.pt", "torch")
    findings = _findings(tmp_path)
    assert [f for f in findings if f.severity == "error"] == []
    pooling = [f.message for f in findings if "its own class sentence_transformers." in f.message and "Pooling" in f.message]
    assert pooling and all(f.severity == "warning" for f in findings), [f.message for f in findings]
