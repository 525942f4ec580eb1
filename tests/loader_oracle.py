"""The loader oracle: what a model file really does when its real loader opens it.

Ground truth for the pickle scanner and the other format scanners, used only by tests and
fuzzing, never by hfcheck itself. `observe(path, loader)` loads the file in a child process,
exactly as the named loader does, under a `sys.addaudithook` hook that records

- every global the unpickler resolves (`pickle.find_class`, nested loads included),
- every module imported during the load,
- every side effect: a process started, a file opened for writing or removed, a network
  connection, code compiled or executed from a string, a shared library loaded,

and stops the load with an exception *before* the first side effect happens (audit events are
raised before the operation). So a payload such as `os.system("touch /tmp/x")` is seen as the
side effect `os.system` and never runs. Files under test should still carry harmless canary
payloads only.

Loaders: pickle, pickle_stream (pickle.load until the end of the file), torch (weights_only=False), torch_weights_only, joblib, numpy (.npy and every
.npz member), torch_jit, torch_export (.pt2), keras (safe_mode=False; needs keras installed). `OracleWorker(loader)`
is the batch form for fuzzing: one child answers many loads and is restarted whenever a load
may have changed it. Run as a script for a quick look:

    python tests/loader_oracle.py torch path/to/pytorch_model.bin
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

LOADERS = ("pickle", "pickle_stream", "torch", "torch_weights_only", "joblib", "numpy", "torch_jit", "torch_export", "keras")

# Audit events that are side effects: the load is stopped when one is raised.
SIDE_EFFECT_EVENTS = {
    "os.system",
    "subprocess.Popen",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.truncate",
    "os.putenv",
    "os.unsetenv",
    "shutil.rmtree",
    "shutil.copyfile",
    "shutil.move",
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "urllib.Request",
    "http.client.connect",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.call_function",
    "webbrowser.open",
    "marshal.loads",
    "code.__new__",
    "function.__new__",
    "builtins.input",
    "sys.settrace",
    "sys.setprofile",
    "sys.addaudithook",
}


@dataclass
class Observation:
    """What one load did. `completed`: the loader returned without error or stop."""

    loader: str
    globals: list[tuple[str, str]] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    side_effects: list[str] = field(default_factory=list)
    completed: bool = False
    error: str | None = None
    # Globals whose module was not imported after the load: find_class was called (the
    # audit event comes first) but the import failed, so nothing was resolved.
    unresolved: list[tuple[str, str]] = field(default_factory=list)

    @property
    def fired(self) -> bool:
        """The load reached a side effect: an attacker's payload would have run."""
        return bool(self.side_effects)


def observe(path: str | os.PathLike, loader: str, *, timeout: float = 60.0) -> Observation:
    """Load `path` with `loader` in a child process and report what the load did."""
    if loader not in LOADERS:
        raise ValueError(f"unknown loader {loader!r}; one of {LOADERS}")
    with tempfile.TemporaryDirectory() as scratch:
        try:
            done = subprocess.run(
                [sys.executable, os.path.abspath(__file__), loader, os.path.abspath(path)],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=scratch,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": ""},
            )
        except subprocess.TimeoutExpired:
            return Observation(loader, error="timeout")
    lines = [line for line in done.stdout.splitlines() if line.startswith("ORACLE ")]
    if not lines:
        return Observation(loader, error=f"child died (rc={done.returncode}): {done.stderr[-500:]}")
    data = json.loads(lines[-1][len("ORACLE ") :])
    return Observation(
        loader,
        globals=[tuple(g) for g in data["globals"]],
        imports=data["imports"],
        side_effects=data["side_effects"],
        completed=data["completed"],
        error=data["error"],
        unresolved=[tuple(g) for g in data.get("unresolved", [])],
    )


class OracleWorker:
    """`observe()` for many files: fuzzing needs thousands of loads a second, not one
    interpreter start per load.

    The child is a zygote that imports the loader once and forks a fresh server from that
    pristine state; the server loads file after file and answers a JSON line for each. A
    load cannot pollute the next: the server is replaced after any load that reached a side
    effect, imported a module (the next load would not see that import), resolved a global
    that the benign warm-up files did not, and after every `recycle` loads; the whole child
    is restarted after a timeout, a crash or an unreadable answer. `recycled` counts the
    server replacements, `restarts` the child restarts.

    `preload` names modules the zygote imports before the hook is armed, as a process that
    loads checkpoints usually has torch and numpy imported already. Without it, a load that
    resolves a `torch.*` global in the pickle or numpy child imports torch (a second or two)
    and then replaces its server: most of a fuzz run's time. The property does not change:
    resolved globals and side effects are recorded as before (imports inside the import
    system are never side effects), only `imports` no longer lists the preloaded modules.
    """

    def __init__(self, loader: str, *, recycle: int = 200, timeout: float = 30.0, preload: tuple[str, ...] = ()):
        if loader not in LOADERS:
            raise ValueError(f"unknown loader {loader!r}; one of {LOADERS}")
        self.loader = loader
        self.recycle = recycle
        self.timeout = timeout
        self.preload = tuple(preload)
        self.loads = 0
        self.recycled = 0
        self.restarts = 0
        self._process: subprocess.Popen | None = None
        self._scratch = tempfile.TemporaryDirectory()

    def observe(self, path: str | os.PathLike) -> Observation:
        """Load `path` in a fresh-enough server and report what the load did."""
        if self._process is None:
            self._start()
        self.loads += 1
        try:
            self._process.stdin.write(os.path.abspath(path) + "\n")
            self._process.stdin.flush()
        except OSError:
            self._restart()
            return Observation(self.loader, error="worker died before the load")
        line = self._read_line(self.timeout)
        if line is None:
            rc = self._process.poll()
            self._restart()
            return Observation(self.loader, error="timeout" if rc is None else f"child died (rc={rc})")
        try:
            data = json.loads(line)
            seen = Observation(
                self.loader,
                globals=[tuple(g) for g in data["globals"]],
                imports=data["imports"],
                side_effects=data["side_effects"],
                completed=data["completed"],
                error=data["error"],
                unresolved=[tuple(g) for g in data.get("unresolved", [])],
            )
        except (ValueError, KeyError, TypeError):
            self._restart()
            return Observation(self.loader, error=f"unreadable answer: {line[:200]!r}")
        self.recycled += bool(data.get("recycled"))
        return seen

    def close(self) -> None:
        self._stop()
        self._scratch.cleanup()

    def __enter__(self) -> "OracleWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--batch", self.loader],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            cwd=self._scratch.name,
            start_new_session=True,  # the zygote and its server are killed together
            # One thread: an idle OpenMP pool spinning between loads would starve the parent.
            env={
                **os.environ,
                "PYTHONDONTWRITEBYTECODE": "1",
                "CUDA_VISIBLE_DEVICES": "",
                "OMP_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
                "ORACLE_RECYCLE": str(self.recycle),
                "ORACLE_PRELOAD": ",".join(self.preload),
            },
        )
        if self._read_line(300.0) != "READY":
            self._stop()
            raise RuntimeError(f"oracle worker for {self.loader} did not start")

    def _read_line(self, timeout: float) -> str | None:
        import selectors

        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        line = self._process.stdout.readline()
        return line.rstrip("\n") if line else None

    def _restart(self) -> None:
        self.restarts += 1
        self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        import signal

        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass


# ---------------------------------------------------------------- the child process


class _Stopped(BaseException):
    """Raised from the audit hook to stop a load at its first side effect."""


def _prepare(loader: str):
    """Import the loader's modules before the hook is installed and return the load call."""
    if loader in ("pickle", "pickle_stream"):
        import pickle

        def load(path):
            with open(path, "rb") as f:
                return pickle.load(f)

        def load_stream(path):
            # Reading pickles one after another until the end, as torch's legacy format
            # reads its header pickles and as code that appends records to one file does.
            loaded = []
            with open(path, "rb") as f:
                while f.peek(1):
                    loaded.append(pickle.load(f))
            return loaded

        return load if loader == "pickle" else load_stream
    if loader in ("torch", "torch_weights_only", "torch_jit", "torch_export"):
        import torch
        import torch.serialization  # noqa: F401

        if loader == "torch_export":
            import torch.export

            return torch.export.load
        if loader == "torch_jit":
            return lambda path: torch.jit.load(path, map_location="cpu")
        weights_only = loader == "torch_weights_only"
        return lambda path: torch.load(path, map_location="cpu", weights_only=weights_only)
    if loader == "joblib":
        import joblib

        return joblib.load
    if loader == "numpy":
        import numpy

        def load(path):
            loaded = numpy.load(path, allow_pickle=True)
            if hasattr(loaded, "files"):  # .npz: each member is loaded on access
                return {name: loaded[name] for name in loaded.files}
            return loaded

        return load
    if loader == "keras":
        import keras

        return lambda path: keras.models.load_model(path, safe_mode=False, compile=False)
    raise ValueError(loader)


class _Hook:
    """The audit hook, installed once per child and armed for one load at a time."""

    def __init__(self):
        self.armed = False
        self.in_hook = False
        self.record = _fresh_record()

    def start(self) -> None:
        self.record = _fresh_record()
        self.armed = True

    def __call__(self, event, args):
        if not self.armed or self.in_hook:
            return
        self.in_hook = True
        try:
            if event == "pickle.find_class" or event == "import" or not _inside_import():
                self._observe(event, args)
        finally:
            self.in_hook = False

    def _observe(self, event, args):
        record = self.record
        if event == "pickle.find_class":
            record["globals"].append([str(args[0]), str(args[1])])
        elif event == "import":
            if args[0] not in sys.modules:
                record["imports"].append(str(args[0]))
        elif event == "open":
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                self._side_effect(f"open-for-write:{args[0]}")
        elif event in ("exec", "compile"):
            # Imports exec their module's code object (a real file name); code built from a
            # string (eval, exec, compile) carries a pseudo file name such as '<string>'.
            name = getattr(args[0], "co_filename", None) if event == "exec" else args[1]
            if isinstance(name, bytes):
                name = name.decode(errors="replace")
            if (name is None or str(name).startswith("<")) and not (event == "compile" and _parsing_only()):
                self._side_effect(event)
        elif event in SIDE_EFFECT_EVENTS or event.startswith(("os.exec", "os.spawn")):
            self._side_effect(event)

    def _side_effect(self, what: str):
        self.record["side_effects"].append(what)
        self.armed = False
        raise _Stopped(what)


def _fresh_record() -> dict:
    return {"globals": [], "imports": [], "side_effects": [], "completed": False, "error": None}


def _inside_import() -> bool:
    # The import system's own work (reading a .pyc with marshal, executing the module's
    # code) is not the file's doing; the import itself is recorded by the 'import' event.
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _parsing_only() -> bool:
    # ast.parse (numpy's .npy header goes through ast.literal_eval) compiles to a tree,
    # never to code that runs.
    frame = sys._getframe(3)
    while frame is not None:
        if frame.f_code.co_name == "parse" and frame.f_code.co_filename.endswith(os.sep + "ast.py"):
            return True
        frame = frame.f_back
    return False


def _load_once(hook: _Hook, load, path: str) -> dict:
    hook.start()
    try:
        load(path)
        hook.record["completed"] = True
    except _Stopped:
        pass
    except BaseException as exc:  # the loader refused the file: that is an observation too
        hook.record["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        hook.armed = False
    record = hook.record
    record["unresolved"] = [g for g in record["globals"] if g[0] not in sys.modules]
    if record["side_effects"]:
        record["completed"] = False
        record["error"] = None
    return record


def _limit_memory() -> None:
    # A fuzzed stream can ask for gigabytes (a huge BINBYTES length, a repeated DUP); the
    # child fails with MemoryError instead of taking the machine down.
    try:
        import resource

        limit = int(os.environ.get("ORACLE_MEMORY_LIMIT", str(6 << 30)))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _child(loader: str, path: str) -> None:
    load = _prepare(loader)
    hook = _Hook()
    sys.addaudithook(hook)
    record = _load_once(hook, load, path)
    sys.stdout.write("ORACLE " + json.dumps(record) + "\n")
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: nothing the load left behind gets to run


def _warm_up_samples(loader: str) -> list[str]:
    """Benign files of the loader's formats, written before the hook is installed."""
    import pickle

    samples = {f"warm{p}.pkl": pickle.dumps({"a": [1, 2.0, "x"]}, protocol=p) for p in (2, 4)}
    if loader.startswith("torch"):
        import io

        import torch

        for legacy in (False, True):
            buffer = io.BytesIO()
            state = torch.nn.Linear(2, 2).state_dict()
            torch.save({"state": state, "step": 1}, buffer, _use_new_zipfile_serialization=not legacy)
            samples[f"warm{legacy}.pt"] = buffer.getvalue()
        if loader == "torch_jit":
            buffer = io.BytesIO()
            torch.jit.save(torch.jit.script(torch.nn.Linear(1, 1)), buffer)
            samples = {"warm.pt": buffer.getvalue()}
    if loader in ("joblib", "numpy"):
        import io

        import numpy

        buffer = io.BytesIO()
        numpy.save(buffer, numpy.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        samples["warm.npy"] = buffer.getvalue()
        buffer = io.BytesIO()
        numpy.savez(buffer, a=numpy.arange(3), b=numpy.array([1], dtype=object))
        samples["warm.npz"] = buffer.getvalue()
    if loader == "joblib":
        import joblib

        for compress in (0, 3, "lzma", "bz2", "xz"):
            joblib.dump({"a": numpy.arange(3)}, "warm.joblib", compress=compress)
            with open("warm.joblib", "rb") as f:
                samples[f"warm{compress}.joblib"] = f.read()
            os.remove("warm.joblib")
    for name, data in samples.items():
        with open(name, "wb") as f:
            f.write(data)
    return list(samples)


def _preload(modules: str) -> None:
    import importlib

    for module in filter(None, modules.split(",")):
        try:
            importlib.import_module(module)
        except ImportError:
            pass  # a module the fuzzer names but this environment lacks: the load will say so


def _read_line(fd: int) -> str | None:
    # Unbuffered on purpose: a buffered reader would take lines meant for the next server.
    chunks = []
    while True:
        byte = os.read(fd, 1)
        if not byte:
            return None
        if byte == b"\n":
            return b"".join(chunks).decode()
        chunks.append(byte)


def _batch_child(loader: str) -> None:
    """A zygote: imports the loader, loads benign warm-up files (the loader's lazy imports
    happen there, and the globals they resolve are the 'familiar' set), then forks a fresh
    server from this pristine state. The server answers one JSON line per path read from
    stdin, on private copies of stdin and stdout, and
    exits after any load that may have changed it: a side effect, an import, a global the
    warm-up did not resolve, or `ORACLE_RECYCLE` loads. A fork costs milliseconds where a
    fresh interpreter with torch costs seconds."""
    # Private copies of the command and answer pipes; the load itself sees /dev/null on
    # stdin and stdout, so a payload that reads or prints cannot eat a command or forge an answer.
    commands, answers = os.dup(0), os.dup(1)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    _limit_memory()
    load = _prepare(loader)
    _preload(os.environ.get("ORACLE_PRELOAD", ""))
    samples = _warm_up_samples(loader)
    hook = _Hook()
    sys.addaudithook(hook)
    familiar = set()
    for name in samples:
        familiar.update(map(tuple, _load_once(hook, load, name)["globals"]))
        os.remove(name)
    recycle = int(os.environ.get("ORACLE_RECYCLE", "200"))
    os.write(answers, b"READY\n")
    while True:
        pid = os.fork()
        if pid == 0:
            _serve(hook, load, familiar, commands, answers, recycle)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 3:  # stdin closed: the parent is done
            os._exit(0)


def _serve(hook: _Hook, load, familiar: set, commands: int, answers: int, recycle: int) -> None:
    for served in range(1, recycle + 1):
        path = _read_line(commands)
        if not path:
            os._exit(3)
        record = _load_once(hook, load, path)
        unfamiliar = any(tuple(g) not in familiar for g in record["globals"])
        record["recycled"] = bool(record["side_effects"] or record["imports"] or unfamiliar or served == recycle)
        os.write(answers, (json.dumps(record) + "\n").encode())
        if record["recycled"]:
            os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--batch":
        _batch_child(sys.argv[2])
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(LOADERS)}}} FILE  |  --batch LOADER")
    _child(sys.argv[1], sys.argv[2])
