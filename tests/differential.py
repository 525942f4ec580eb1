"""Differential fuzzing of hfcheck's pickle verdicts against the loader oracle.

The property, per file and loader:

- whenever the real loader (under `loader_oracle`) resolves a global outside hfcheck's
  allowlist, or reaches a side effect, hfcheck reports an error (SEC00x) on that file;
- equivalently, whenever hfcheck says clean, the loader resolved only allowlisted globals.

"Allowlisted" is what the policy module's `classify` accepts without an error: `allowed`,
and `data` (known data classes, a warning by design). hfcheck is judged only through its
public API (`hfcheck.api.check` on a folder holding the file under a realistic name), so this
harness does not change when the scanner's internals do.

Inputs are real files (torch.save of small real modules, optimizer state, Trainer-style dicts,
joblib and numpy files, and canary payloads) mutated at the byte level and at the opcode level
(pickletools.genops spans: delete, duplicate, swap, insert a call of a global from a pool,
change a GLOBAL, rewrite INT text as CPython's int(x, 0) reads it, frames that straddle,
bytes after STOP) and re-wrapped in the loader's containers (torch zip and legacy, gzip/bz2/xz
multi-stream, npy/npz with dtype variants, joblib). Used by tests/fuzz (bounded) and
fuzz/pickle_differential.py (long runs).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import pickle
import pickletools
import random
import shutil
import struct
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from loader_oracle import Observation, OracleWorker

FUZZ_LOADERS = ("pickle", "torch", "joblib", "numpy")
CANARY = os.path.join(tempfile.gettempdir(), "hfcheck-differential-canary")


def classify_global(module: str, name: str) -> str:
    """The allowlist's verdict on one global, through the policy module (wherever it lives)."""
    try:
        from hfcheck.formats.pickle.policy import classify
    except ImportError:
        from hfcheck.formats.pickle_policy import classify
    return classify(module, name)[0]


def could_be_installed(module: str) -> bool:
    """Installed modules have dotted-identifier names (the scanner's own test for streams
    without a PROTO header, which text files can resemble)."""
    return bool(module) and all(part.isidentifier() for part in module.split("."))


def oracle_verdict(seen: Observation, *, exclude_unimportable: bool = True) -> list[str]:
    """Why the loader's behaviour demands an error: side effects and off-allowlist globals.

    A global counts when the loader resolved it, and also when it only tried: find_class
    failed to import the module here, but a module of that name may be installed where
    the file is loaded. The one exception is a module whose import failed and whose name
    no installed module has (not a dotted identifier: 'posi|', 'po\x07six'): the load
    failed there and resolved nothing, wherever it runs."""
    reasons = [f"side effect {s}" for s in seen.side_effects]
    unresolved = set(seen.unresolved)
    for module, name in seen.globals:
        if exclude_unimportable and (module, name) in unresolved and not could_be_installed(module):
            continue
        verdict = classify_global(module, name)
        if verdict not in ("allowed", "data"):
            reasons.append(f"{verdict} global {module}.{name}")
    return reasons


def hfcheck_errors(folder: Path) -> list[str]:
    """Error-severity security findings of hfcheck's public API on `folder`."""
    from hfcheck.api import check

    report = check(folder, select=["SEC"])
    return [f"{f.code}: {f.message}" for f in report.findings if f.severity == "error" and f.code.startswith("SEC")]


# ------------------------------------------------------------------ seeds (real files)


class _Canary:
    """A harmless payload: `touch CANARY`, stopped by the oracle before it runs."""

    def __init__(self, target="posix.system"):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {CANARY}",))


class _ExecCanary:
    def __reduce__(self):
        return (exec, (f"open({CANARY!r}, 'w')",))


@dataclass
class Sample:
    loader: str
    name: str  # a realistic file name for hfcheck's folder
    data: bytes
    recipe: str
    malicious: bool = False


def _torch_bytes(obj, legacy=False, protocol=2) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=not legacy, pickle_protocol=protocol)
    return buffer.getvalue()


def seed_samples() -> dict[str, list[Sample]]:
    """Real benign checkpoints and canary payloads per loader (deterministic)."""
    import joblib
    import numpy
    import torch

    torch.manual_seed(0)
    linear = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3), torch.nn.Embedding(5, 3))
    optimizer = torch.optim.AdamW(linear.parameters(), lr=1e-3)
    loss = linear[1](linear[0](torch.randn(2, 4))).sum()
    loss.backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer)
    trainer_style = {"epoch": 3, "global_step": 120, "model_state_dict": linear.state_dict(), "best_metric": 0.5}
    benign_objects = {
        "state_dict": linear.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "trainer": trainer_style,
        "rng": {"python": random.Random(0).getstate(), "cpu": torch.get_rng_state()},
        "plain": {"a": [1, 2.5, "x", b"y", None, True], "b": (1, 2), "c": {3, 4}},
    }
    payloads = {"canary_system": _Canary(), "canary_exec": _ExecCanary()}
    seeds: dict[str, list[Sample]] = {loader: [] for loader in FUZZ_LOADERS}
    for key, obj in benign_objects.items():
        for protocol in (2, 4):
            seeds["torch"].append(
                Sample("torch", "pytorch_model.bin", _torch_bytes(obj, protocol=protocol), f"torch.save {key} p{protocol}")
            )
        seeds["torch"].append(Sample("torch", "optimizer.pt", _torch_bytes(obj, legacy=True), f"torch.save legacy {key}"))
        # Torch objects pickled by plain pickle would import torch in the pickle worker on
        # every load (seconds each): the pickle loader gets torch-free objects.
        plain = {"rng": {"python": random.Random(0).getstate()}, "plain": obj}.get(key, {"a": [1, 2.5], "n": 3, "key": key})
        for protocol in (0, 2, 4, 5):
            seeds["pickle"].append(Sample("pickle", "model.pkl", pickle.dumps(plain, protocol=protocol), f"pickle {key} p{protocol}"))
    for key, payload in payloads.items():
        seeds["torch"].append(
            Sample("torch", "pytorch_model.bin", _torch_bytes({"w": torch.zeros(2), "x": payload}), f"torch.save {key}", True)
        )
        seeds["torch"].append(
            Sample("torch", "pytorch_model.bin", _torch_bytes({"x": payload}, legacy=True), f"torch.save legacy {key}", True)
        )
        for protocol in (0, 2, 4):
            seeds["pickle"].append(
                Sample("pickle", "model.pkl", pickle.dumps({"x": payload}, protocol=protocol), f"pickle {key} p{protocol}", True)
            )
    arrays = {"float": numpy.arange(6, dtype="float32").reshape(2, 3), "object": numpy.array([{"a": 1}, [1, 2], "s"], dtype=object)}
    for key, array in arrays.items():
        buffer = io.BytesIO()
        numpy.save(buffer, array, allow_pickle=True)
        seeds["numpy"].append(Sample("numpy", "array.npy", buffer.getvalue(), f"numpy.save {key}"))
    for key, payload in payloads.items():
        buffer = io.BytesIO()
        numpy.save(buffer, numpy.array([payload, 1], dtype=object), allow_pickle=True)
        seeds["numpy"].append(Sample("numpy", "array.npy", buffer.getvalue(), f"numpy.save object {key}", True))
    buffer = io.BytesIO()
    numpy.savez(buffer, a=arrays["float"], b=arrays["object"])
    seeds["numpy"].append(Sample("numpy", "arrays.npz", buffer.getvalue(), "numpy.savez"))
    with tempfile.TemporaryDirectory() as scratch:
        target = os.path.join(scratch, "model.joblib")
        for compress in (0, 3, ("xz", 3), ("bz2", 3)):
            for key, obj in (
                ("arrays", {"w": arrays["float"], "o": arrays["object"], "k": 2}),
                ("plain", {"classes": ["a", "b"], "n": 3, "params": {"C": 1.0}}),
                ("canary", {"x": _Canary()}),
            ):
                joblib.dump(obj, target, compress=compress)
                data = Path(target).read_bytes()
                seeds["joblib"].append(Sample("joblib", "model.joblib", data, f"joblib.dump {key} compress={compress}", key == "canary"))
    return seeds


# ------------------------------------------------------------------ opcode-level mutation

GLOBAL_POOL = [
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch", "FloatStorage"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "dtype"),
    ("builtins", "set"),
    ("builtins", "len"),
    ("builtins", "dict"),
    ("__builtin__", "list"),
    ("__future__", "annotations"),
    ("collections.abc", "Iterable"),
    ("argparse", "Namespace"),
    ("posix", "system"),
    ("os", "system"),
    ("builtins", "exec"),
    ("builtins", "eval"),
    ("builtins", "getattr"),
    ("builtins", "setattr"),
    ("subprocess", "Popen"),
    ("runpy", "_run_code"),
    ("webbrowser", "open"),
    ("pickle", "loads"),
    ("_pickle", "loads"),
    ("torch.storage", "_load_from_bytes"),
    ("torch._utils", "_rebuild_from_type_v2"),
    ("operator", "attrgetter"),
    ("functools", "partial"),
    ("copyreg", "_reconstructor"),
    ("torch.serialization", "os.system"),
    ("numpy", "load"),
    ("shutil", "rmtree"),
]

# Imported by every oracle child before its hook is armed (see OracleWorker's `preload`):
# otherwise each mutant naming a torch global costs the pickle/numpy/joblib child a torch import.
PRELOAD = tuple(sorted({module for module, _ in GLOBAL_POOL}))

INT_TEXTS = [b"0x10", b"0o7", b"0b1", b"1_0", b"010", b"-0x1", b" 5", b"00", b"1e3"]


def _short_unicode(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _global_op(module: str, name: str, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"
    return _short_unicode(module) + _short_unicode(name) + b"\x93"


def _call_snippet(module: str, name: str, rng: random.Random) -> bytes:
    """Push module.name, call it on a canary string, pop the result: stack-neutral."""
    argument = _short_unicode(f"touch {CANARY}") + b"\x85"
    return _global_op(module, name, rng) + argument + b"R0"


def op_spans(data: bytes) -> list[tuple[int, int, str]]:
    """(start, end, opcode name) of every opcode genops reads before it stops."""
    starts: list[tuple[int, str]] = []
    try:
        for opcode, _arg, pos in pickletools.genops(data):
            starts.append((pos, opcode.name))
    except Exception:
        pass  # a malformed tail: the spans read so far are still opcodes
    spans = []
    for index, (pos, name) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else (pos + 1 if name == "STOP" else len(data))
        spans.append((pos, end, name))
    return spans


def mutate_opcodes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    spans = op_spans(data)
    if len(spans) < 2:
        return mutate_bytes(data, rng)
    choice = rng.randrange(9)
    start, end, name = spans[rng.randrange(len(spans))]
    if choice == 0:
        return data[:start] + data[end:], f"delete {name}"
    if choice == 1:
        return data[:end] + data[start:end] + data[end:], f"duplicate {name}"
    if choice == 2:
        other_start, other_end, other = spans[rng.randrange(len(spans))]
        if other_start < start:
            start, end, other_start, other_end = other_start, other_end, start, end
        if other_start >= end:
            return data[:start] + data[other_start:other_end] + data[end:other_start] + data[start:end] + data[
                other_end:
            ], f"swap {name}/{other}"
        return data, "swap (overlap)"
    if choice == 3:
        module, gname = rng.choice(GLOBAL_POOL)
        return data[:start] + _call_snippet(module, gname, rng) + data[start:], f"insert call {module}.{gname}"
    if choice == 4:
        globals_ = [s for s in spans if s[2] in ("GLOBAL", "INST", "STACK_GLOBAL")]
        if not globals_:
            return data, "no global"
        start, end, name = rng.choice(globals_)
        module, gname = rng.choice(GLOBAL_POOL)
        if name == "STACK_GLOBAL":
            return data[:start] + b"00" + _short_unicode(module) + _short_unicode(gname) + data[start:], f"stack global -> {module}.{gname}"
        return data[:start] + data[start : start + 1] + module.encode() + b"\n" + gname.encode() + b"\n" + data[
            end:
        ], f"global -> {module}.{gname}"
    if choice == 5:
        ints = [s for s in spans if s[2] in ("INT", "LONG", "BININT1", "BININT", "BININT2")]
        text = rng.choice(INT_TEXTS)
        if ints:
            start, end, name = rng.choice(ints)
            return data[:start] + b"I" + text + b"\n" + data[end:], f"int text {text!r}"
        return data[:start] + b"I" + text + b"\n0" + data[start:], f"int text {text!r}"
    if choice == 6:  # a FRAME whose length ends inside a later opcode, or past the end
        length = max(0, len(data) - end + rng.randint(-12, 12))
        return data[:end] + b"\x95" + struct.pack("<Q", length) + data[end:], f"frame {length}"
    if choice == 7:  # bytes after STOP: a second stream with a call
        module, gname = rng.choice(GLOBAL_POOL)
        tail = b"\x80\x02" + _call_snippet(module, gname, rng) + b"N."
        return data + tail, f"after stop {module}.{gname}"
    # change a length-prefixed argument's length byte
    position = rng.randrange(start, end)
    return data[:position] + bytes([rng.randrange(256)]) + data[position + 1 :], f"arg byte {name}"


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if not data:
        return bytes([rng.randrange(256)]), "byte insert"
    choice = rng.randrange(5)
    position = rng.randrange(len(data))
    if choice == 0:
        return data[:position] + bytes([data[position] ^ (1 << rng.randrange(8))]) + data[position + 1 :], "bit flip"
    if choice == 1:
        return data[:position] + bytes([rng.randrange(256)]) + data[position + 1 :], "byte set"
    if choice == 2:
        return data[:position] + data[position + rng.randint(1, 8) :], "byte delete"
    if choice == 3:
        return data[:position] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + data[position:], "byte insert"
    size = rng.randint(1, 16)
    other = rng.randrange(len(data))
    return data[:position] + data[other : other + size] + data[position:], "splice"


def mutate_pickle(data: bytes, rng: random.Random, rounds: int) -> tuple[bytes, list[str]]:
    steps = []
    for _ in range(rounds):
        if rng.random() < 0.75:
            data, step = mutate_opcodes(data, rng)
        else:
            data, step = mutate_bytes(data, rng)
        steps.append(step)
    return data, steps


# ------------------------------------------------------------------ containers


def _torch_members(data: bytes) -> tuple[list[tuple[str, bytes]], str] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    except Exception:
        return None
    pickles = [name for name, _ in members if name.endswith("data.pkl")]
    return (members, pickles[0]) if pickles else None


def _rezip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def _compress(data: bytes, kind: str) -> bytes:
    return {"gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress, "zlib": zlib.compress}[kind](data)


def _decompress(data: bytes) -> tuple[bytes, str] | None:
    for kind, magic, function in (
        ("gzip", b"\x1f\x8b", gzip.decompress),
        ("bz2", b"BZh", bz2.decompress),
        ("xz", b"\xfd7zXZ", lzma.decompress),
        ("zlib", b"ZF0x", None),
    ):
        if data.startswith(magic) and function is not None:
            try:
                return function(data), kind
            except Exception:
                return None
    return None


NPY_DESCRS = ["'|O'", "'O'", "'object'", "'(1,)O'", "[('a', 'O')]", "[('a', '<i4'), ('b', 'O')]", "'<O'"]


def _npy(payload: bytes, descr: str, shape: str = "(1,)") -> bytes:
    header = "{'descr': %s, 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def _npy_pickle(data: bytes) -> tuple[bytes, bytes] | None:
    """(header, pickle) of an object-array .npy."""
    if not data.startswith(b"\x93NUMPY") or len(data) < 10:
        return None
    major = data[6]
    size, start = (struct.unpack("<H", data[8:10])[0], 10) if major == 1 else (struct.unpack("<I", data[8:12])[0], 12)
    header_end = start + size
    if b"O" not in data[start:header_end]:
        return None
    return data[:header_end], data[header_end:]


def derive(sample: Sample, rng: random.Random, pool: list[Sample]) -> tuple[bytes, str, str]:
    """One fuzz input from `sample`: (bytes, file name, recipe)."""
    rounds = rng.choice((1, 1, 1, 2, 3))
    loader = sample.loader
    data = sample.data
    if rng.random() < 0.15:  # plain byte-level on the whole file, containers included
        for _ in range(rounds):
            data, step = mutate_bytes(data, rng)
        return data, sample.name, f"{sample.recipe} | bytes {step}"
    if loader == "torch":
        return _derive_torch(sample, rng, rounds, pool)
    if loader == "numpy":
        return _derive_numpy(sample, rng, rounds, pool)
    if loader == "joblib":
        return _derive_joblib(sample, rng, rounds, pool)
    mutated, steps = mutate_pickle(data, rng, rounds)
    wrap = rng.random()
    if wrap < 0.1:
        return (
            _compress(mutated, "gzip"),
            "model.pkl.gz" if rng.random() < 0.5 else "model.pkl",
            f"{sample.recipe} | {'; '.join(steps)} | gzip",
        )
    return mutated, sample.name, f"{sample.recipe} | {'; '.join(steps)}"


def _donor_pickle(pool: list[Sample], rng: random.Random) -> bytes:
    donor = rng.choice(pool)
    members = _torch_members(donor.data)
    return members[0][[n for n, _ in members[0]].index(members[1])][1] if members else donor.data


def _derive_torch(sample, rng, rounds, pool):
    found = _torch_members(sample.data)
    if found is None:  # legacy format: several pickles back to back
        mutated, steps = mutate_pickle(sample.data, rng, rounds)
        return mutated, sample.name, f"{sample.recipe} | {'; '.join(steps)}"
    members, pickle_name = found
    original = dict(members)[pickle_name]
    mutated, steps = mutate_pickle(original, rng, rounds)
    members = [(name, mutated if name == pickle_name else content) for name, content in members]
    choice = rng.random()
    if choice < 0.1:  # a second member holding a pickle that nothing names
        members.append((pickle_name.rsplit("/", 1)[0] + "/extra.pkl", _donor_pickle(pool, rng)))
        steps.append("extra member")
    data = _rezip(members)
    if choice > 0.92:
        data = rng.choice([b"\x00" * 16, b"PK junk", pickle.dumps(1)]) + data
        steps.append("prepended bytes")
    return data, sample.name, f"{sample.recipe} | {'; '.join(steps)}"


def _derive_numpy(sample, rng, rounds, pool):
    if sample.data.startswith(b"PK"):
        try:
            with zipfile.ZipFile(io.BytesIO(sample.data)) as archive:
                members = [(info.filename, archive.read(info)) for info in archive.infolist()]
        except Exception:
            return sample.data, sample.name, sample.recipe
        index = rng.randrange(len(members))
        name, content = members[index]
        inner = Sample("numpy", "x.npy", content, sample.recipe)
        content, _, recipe = _derive_numpy(inner, rng, rounds, pool)
        members[index] = (name, content)
        return _rezip(members), sample.name, f"{recipe} | in npz"
    split = _npy_pickle(sample.data)
    if split is None:
        mutated, steps = mutate_bytes(sample.data, rng)
        return mutated, sample.name, f"{sample.recipe} | {steps}"
    header, payload = split
    mutated, steps = mutate_pickle(payload, rng, rounds)
    if rng.random() < 0.3:
        descr = rng.choice(NPY_DESCRS)
        header = _npy(b"", descr)
        steps.append(f"descr {descr}")
    return header + mutated, sample.name, f"{sample.recipe} | {'; '.join(steps)}"


def _derive_joblib(sample, rng, rounds, pool):
    unpacked = _decompress(sample.data)
    raw, kind = unpacked if unpacked else (sample.data, None)
    mutated, steps = mutate_pickle(raw, rng, rounds)
    if kind:
        data = _compress(mutated, kind)
        if rng.random() < 0.3:  # a second stream of the same kind: the stdlib readers read on
            module, name = rng.choice(GLOBAL_POOL)
            data = _compress(mutated[: rng.randrange(len(mutated) + 1)], kind) + _compress(
                b"\x80\x02" + _call_snippet(module, name, rng) + b"N.", kind
            )
            steps.append(f"multi-stream {kind} {module}.{name}")
    else:
        data = mutated
        if rng.random() < 0.15:
            kind = rng.choice(("gzip", "bz2", "xz", "zlib"))
            data = _compress(mutated, kind)
            steps.append(f"compress {kind}")
    return data, sample.name, f"{sample.recipe} | {'; '.join(steps)}"


# ------------------------------------------------------------------ the run


@dataclass
class Disagreement:
    loader: str
    name: str
    data: bytes
    recipe: str
    oracle: list[str]
    observation: Observation

    @property
    def signature(self) -> tuple:
        return (self.loader, tuple(sorted(set(self.oracle))))


@dataclass
class RunStats:
    executions: dict[str, int] = field(default_factory=dict)
    oracle_dangerous: dict[str, int] = field(default_factory=dict)
    hfcheck_calls: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    recycled: dict[str, int] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    completed_loads: dict[str, int] = field(default_factory=dict)
    # Loads whose only off-allowlist globals were failed imports of modules no installed
    # module can be named like (oracle_verdict's exception): counted, so the log shows it.
    unimportable_only: dict[str, int] = field(default_factory=dict)
    # Seconds per loader spent deriving inputs, in the oracle (file write and load) and in
    # hfcheck: where a run's time goes.
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)

    def add_time(self, loader: str, part: str, seconds: float) -> None:
        parts = self.seconds.setdefault(loader, {"mutation": 0.0, "oracle": 0.0, "scanner": 0.0})
        parts[part] += seconds


class DifferentialRun:
    """Fuzz inputs through the oracle and hfcheck; keeps one oracle worker per loader."""

    def __init__(
        self,
        workdir: Path,
        seeds: dict[str, list[Sample]] | None = None,
        *,
        rng_seed: int = 0,
        on_disagreement=None,
        oracle_timeout: float = 30.0,
    ):
        self.workdir = Path(workdir)
        self.seeds = seeds if seeds is not None else seed_samples()
        self.rng = random.Random(rng_seed)
        self.workers: dict[str, OracleWorker] = {}
        self.stats = RunStats()
        self.verdict_cache: dict[bytes, list[str]] = {}
        self.seen_signatures: set[tuple] = set()
        self.on_disagreement = on_disagreement
        self.oracle_timeout = oracle_timeout

    def close(self):
        for worker in self.workers.values():
            worker.close()

    def worker(self, loader: str) -> OracleWorker:
        if loader not in self.workers:
            self.workers[loader] = OracleWorker(loader, preload=PRELOAD, timeout=self.oracle_timeout)
        return self.workers[loader]

    def hfcheck_errors(self, name: str, data: bytes) -> list[str]:
        key = hashlib.sha256(name.encode() + b"\0" + data).digest()
        if key not in self.verdict_cache:
            folder = self.workdir / "hfcheck-target"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            (folder / name).write_bytes(data)
            self.stats.hfcheck_calls += 1
            self.verdict_cache[key] = hfcheck_errors(folder)
        return self.verdict_cache[key]

    def execute(self, loader: str, name: str, data: bytes, recipe: str, *, counted: bool = True) -> Disagreement | None:
        started = time.perf_counter()
        path = self.workdir / f"oracle-{loader}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        seen = self.worker(loader).observe(path)
        reasons = oracle_verdict(seen)
        stats = self.stats
        if counted:  # minimisation's loads are not fuzz executions
            stats.executions[loader] = stats.executions.get(loader, 0) + 1
            stats.completed_loads[loader] = stats.completed_loads.get(loader, 0) + seen.completed
            stats.oracle_dangerous[loader] = stats.oracle_dangerous.get(loader, 0) + bool(reasons)
            if not reasons and seen.unresolved and oracle_verdict(seen, exclude_unimportable=False):
                stats.unimportable_only[loader] = stats.unimportable_only.get(loader, 0) + 1
        scanned = time.perf_counter()
        if counted:
            stats.add_time(loader, "oracle", scanned - started)
        if not reasons:
            return None
        errors = self.hfcheck_errors(name, data)
        if counted:
            stats.add_time(loader, "scanner", time.perf_counter() - scanned)
        if errors:
            return None
        return Disagreement(loader, name, data, recipe, reasons, seen)

    def run(self, loader: str, executions: int, rng: random.Random | None = None) -> None:
        """`executions` fuzz inputs for `loader`, drawn from `rng` (the run's own by default)."""
        rng = rng or self.rng
        pool = self.seeds[loader]
        for _ in range(executions):
            started = time.perf_counter()
            sample = rng.choice(pool)
            data, name, recipe = derive(sample, rng, pool)
            self.stats.add_time(loader, "mutation", time.perf_counter() - started)
            found = self.execute(loader, name, data, recipe)
            if found is not None:
                self.stats.disagreements.append(found)
                if found.signature not in self.seen_signatures:
                    self.seen_signatures.add(found.signature)
                    if self.on_disagreement:
                        self.on_disagreement(found)
        self.stats.recycled[loader] = self.workers[loader].recycled if loader in self.workers else 0
        self.stats.restarts[loader] = self.workers[loader].restarts if loader in self.workers else 0

    def still_disagrees(self, found: Disagreement, data: bytes) -> bool:
        """The same disagreement: hfcheck clean where the loader does something it reported before."""
        again = self.execute(found.loader, found.name, data, "minimise", counted=False)
        return again is not None and bool(set(again.oracle) & set(found.oracle))

    def minimise(self, found: Disagreement, budget: int = 400) -> bytes:
        """Delta debugging: drop runs of opcode spans, then runs of bytes, halving the run
        length whenever no run can go, while the disagreement holds."""
        data = found.data
        calls = 0
        for unit in ("opcodes", "bytes"):
            cuts = self._cuts(data, unit)
            run_length = max(1, len(cuts) // 2)
            while cuts and calls < budget:
                for index in reversed(range(0, len(cuts), run_length)):
                    start, end = cuts[index][0], cuts[min(index + run_length, len(cuts)) - 1][1]
                    candidate = data[:start] + data[end:]
                    calls += 1
                    if candidate and self.still_disagrees(found, candidate):
                        data = candidate
                        cuts = self._cuts(data, unit)
                        run_length = min(run_length, max(1, len(cuts) // 2))
                        break
                    if calls >= budget:
                        break
                else:
                    if run_length == 1:
                        break
                    run_length //= 2
        return data

    @staticmethod
    def _cuts(data: bytes, unit: str) -> list[tuple[int, int]]:
        if unit == "opcodes":
            return [(start, end) for start, end, _ in op_spans(data)]
        return [(i, i + 1) for i in range(len(data))]
