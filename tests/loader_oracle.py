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

Loaders: pickle, torch (weights_only=False), torch_weights_only, joblib, numpy, torch_jit, keras
(safe_mode=False; needs keras installed). Run as a script for a quick look:

    python tests/loader_oracle.py torch path/to/pytorch_model.bin
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

LOADERS = ("pickle", "torch", "torch_weights_only", "joblib", "numpy", "torch_jit", "keras")

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
    )


# ---------------------------------------------------------------- the child process


class _Stopped(BaseException):
    """Raised from the audit hook to stop a load at its first side effect."""


def _prepare(loader: str):
    """Import the loader's modules before the hook is installed and return the load call."""
    if loader == "pickle":
        import pickle

        def load(path):
            with open(path, "rb") as f:
                return pickle.load(f)

        return load
    if loader in ("torch", "torch_weights_only", "torch_jit"):
        import torch
        import torch.serialization  # noqa: F401

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


def _child(loader: str, path: str) -> None:
    load = _prepare(loader)
    record = {"globals": [], "imports": [], "side_effects": [], "completed": False, "error": None}
    armed = [True]
    in_hook = [False]

    def hook(event, args):
        if not armed[0] or in_hook[0]:
            return
        in_hook[0] = True
        try:
            if event == "pickle.find_class" or event == "import" or not _inside_import():
                _observe(event, args)
        finally:
            in_hook[0] = False

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
        frame = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_name == "parse" and frame.f_code.co_filename.endswith(os.sep + "ast.py"):
                return True
            frame = frame.f_back
        return False

    def _observe(event, args):
        if event == "pickle.find_class":
            record["globals"].append([str(args[0]), str(args[1])])
        elif event == "import":
            if args[0] not in sys.modules:
                record["imports"].append(str(args[0]))
        elif event == "open":
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                _side_effect(f"open-for-write:{args[0]}")
        elif event in ("exec", "compile"):
            # Imports exec their module's code object (a real file name); code built from a
            # string (eval, exec, compile) carries a pseudo file name such as '<string>'.
            name = getattr(args[0], "co_filename", None) if event == "exec" else args[1]
            if isinstance(name, bytes):
                name = name.decode(errors="replace")
            if (name is None or str(name).startswith("<")) and not (event == "compile" and _parsing_only()):
                _side_effect(event)
        elif event in SIDE_EFFECT_EVENTS or event.startswith(("os.exec", "os.spawn")):
            _side_effect(event)

    def _side_effect(what: str):
        record["side_effects"].append(what)
        armed[0] = False
        raise _Stopped(what)

    sys.addaudithook(hook)
    try:
        load(path)
        record["completed"] = True
    except _Stopped:
        pass
    except BaseException as exc:  # the loader refused the file: that is an observation too
        record["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        armed[0] = False
    if record["side_effects"]:
        record["completed"] = False
        record["error"] = None
    sys.stdout.write("ORACLE " + json.dumps(record) + "\n")
    sys.stdout.flush()
    os._exit(0)  # no interpreter teardown: nothing the load left behind gets to run


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(LOADERS)}}} FILE")
    _child(sys.argv[1], sys.argv[2])
