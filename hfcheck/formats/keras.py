"""Keras model configs, read without Keras: the `config.json` member of a `.keras` zip
archive, or the `model_config` attribute of a legacy HDF5 (`.h5`) file's root group,
and the places in them where loading runs code: Lambda layers carrying marshalled
Python bytecode (Keras 2 `function_type: lambda`, Keras 3 `__lambda__`), and object
references that make the loader import a module outside Keras.

HDF5 attributes are read by hfcheck.formats.hdf5_attrs (no h5py: libhdf5 can hang on
damaged files); a file it cannot follow is reported as not checked, never as clean."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field

MAX_CONFIG_BYTES = 64 << 20
MAX_DEPTH = 200
MAX_OBJECTS = 2_000_000
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# Modules a Keras config may name without importing anything the user did not install
# for Keras itself.
KERAS_PACKAGES = ("keras", "tf_keras", "keras_hub", "keras_nlp", "keras_cv", "tensorflow.keras", "tensorflow.python.keras")
# Modules (or their packages) that are a payload whatever the function: process, file,
# network, import and code-evaluation reach.
DANGEROUS_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtin__", "importlib", "runpy", "shutil",
        "socket", "pty", "webbrowser", "pickle", "marshal", "code", "codeop", "ctypes", "requests", "urllib",
        "http", "ftplib", "smtplib", "telnetlib", "asyncio", "multiprocessing", "pathlib", "io", "tempfile",
        "types", "functools", "operator", "numpy.testing", "torch.hub", "pip",
    }
)  # fmt: skip
# Keras saves its own functions (activations, losses, ...) as module "builtins" plus a
# name it looks up among its built-ins; the same reference to a Python built-in is
# resolved by older Keras versions with `getattr(builtins, name)`. These are the
# built-ins that reach code, files or objects' internals.
PYTHON_BUILTINS = frozenset(
    {
        "exec", "eval", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
        "vars", "input", "breakpoint", "print", "help", "exit", "quit", "memoryview", "object", "type", "super",
    }
)  # fmt: skip


@dataclass(frozen=True)
class KerasIssue:
    kind: str  # bytecode | unsafe (other safe_mode-only constructs) | file-read | foreign-module | dangerous-module
    message: str


@dataclass
class KerasConfig:
    config: object = None
    source: str = ""  # "config.json" or "model_config"
    error: str | None = None
    issues: list[KerasIssue] = field(default_factory=list)


def read_keras_archive(path) -> KerasConfig:
    """The config.json of a `.keras` zip (Keras 3's saving format)."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                return KerasConfig(error="no config.json in the .keras archive")
            if info.file_size > MAX_CONFIG_BYTES:
                return KerasConfig(error=f"config.json declares {info.file_size} bytes (limit {MAX_CONFIG_BYTES})")
            with archive.open(info) as member:
                raw = member.read(MAX_CONFIG_BYTES + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as error:
        return KerasConfig(error=f"not a readable .keras zip archive: {error}")
    if len(raw) > MAX_CONFIG_BYTES:
        return KerasConfig(error=f"config.json is over {MAX_CONFIG_BYTES} bytes once decompressed")
    return _judge(raw, "config.json")


def read_h5_model_config(data) -> KerasConfig | None:
    """The root group's `model_config` attribute of an HDF5 file (bytes or a memory map),
    read by hfcheck.formats.hdf5_attrs; None for an HDF5 file without one (weights only)."""
    from hfcheck.formats.hdf5_attrs import HDF5Error, read_root_attribute

    try:
        value = read_root_attribute(data, "model_config")
    except HDF5Error as error:
        return KerasConfig(error=f"HDF5 model config not readable: {error}")
    if value is None:
        return None
    if len(value) > MAX_CONFIG_BYTES:
        return KerasConfig(error=f"model_config of {len(value)} bytes is over the limit")
    return _judge(value, "model_config")


def _judge(raw: bytes, source: str) -> KerasConfig:
    try:
        config = json.loads(raw)
    except (ValueError, RecursionError) as error:
        return KerasConfig(source=source, error=f"{source} is not valid JSON: {error}")
    result = KerasConfig(config=config, source=source)
    try:
        result.issues = judge_config(config)
    except _TooBig as error:
        result.error = str(error)
    return result


class _TooBig(Exception):
    pass


def judge_config(config) -> list[KerasIssue]:
    """Every Lambda with bytecode and every module reference outside Keras, walking the
    config iteratively (a hostile config may nest deeper than Python's stack)."""
    issues: list[KerasIssue] = []
    stack = [(config, 0, "")]
    seen = 0
    while stack:
        value, depth, layer = stack.pop()
        seen += 1
        if seen > MAX_OBJECTS or depth > MAX_DEPTH:
            raise _TooBig(f"config nests deeper than {MAX_DEPTH} or holds more than {MAX_OBJECTS} values; not checked past that")
        if isinstance(value, list):
            stack.extend((item, depth + 1, layer) for item in value)
            continue
        if not isinstance(value, dict):
            continue
        if isinstance(value.get("class_name"), str) and isinstance(value.get("config"), dict):
            # an object's own name, else the enclosing layer's (a Lambda's function dict)
            named = value["config"].get("name")
            layer = named if isinstance(named, str) and value.get("class_name") not in ("Sequential", "Functional", "Model") else layer
        for issue in _judge_object(value, layer):
            if issue not in issues:
                issues.append(issue)
        stack.extend((item, depth + 1, layer) for item in value.values() if isinstance(item, (dict, list)))
    return issues


def _judge_object(obj: dict, layer: str) -> list[KerasIssue]:
    where = f" {layer!r}" if layer else ""
    at = f" (layer {layer!r})" if layer else ""
    found = []
    class_name = obj.get("class_name")
    config = obj.get("config")
    if class_name == "__lambda__":  # Keras 3: base64 of marshal.dumps(function.__code__)
        found.append(KerasIssue("bytecode", f"a Lambda function is serialized Python bytecode{at}: load_model(safe_mode=False) runs it"))
    if class_name == "Lambda" and isinstance(config, dict):
        function_type = config.get("function_type")
        if function_type == "lambda":  # Keras 2: [base64 marshal, defaults, closure]
            found.append(KerasIssue("bytecode", f"Lambda layer{where} holds serialized Python bytecode: loading the model runs it"))
        elif isinstance(config.get("function"), dict) and config["function"].get("class_name") != "__lambda__":
            function = config["function"]
            module, name = str(function.get("module") or ""), str(function.get("config") or function.get("class_name"))
            if module == "builtins" and name not in PYTHON_BUILTINS:
                pass  # a Keras built-in by name (relu, ...), or a name Keras will not resolve
            elif not _is_keras(module):
                kind = "dangerous-module" if module == "builtins" or _package(module) in DANGEROUS_MODULES else "foreign-module"
                found.append(
                    KerasIssue(
                        kind, f"Lambda layer{where} calls {module}.{name}, a function from outside Keras, on every call of the model"
                    )
                )
        elif isinstance(config.get("function"), str):
            module = config.get("module")
            name = config["function"]
            target = f"{module}.{name}" if module else name
            kind = (
                "dangerous-module" if (module and _package(module) in DANGEROUS_MODULES) or "(" in name or " " in name else "foreign-module"
            )
            if not (module and _is_keras(module)):
                found.append(
                    KerasIssue(
                        kind, f"Lambda layer{where} calls {target[:120]!r}, which Keras resolves from outside the model file at load time"
                    )
                )
    if isinstance(config, dict):
        found.extend(_safe_mode_only(class_name, config, where))
    module = obj.get("module")
    if isinstance(module, str) and isinstance(class_name, str) and not _is_keras(module):
        name = config if isinstance(config, str) else class_name
        target = f"{module}.{name}"
        if module == "builtins":
            if name in PYTHON_BUILTINS:
                found.append(KerasIssue("dangerous-module", f"the config references the Python built-in {name!r}{at}"))
        elif _package(module) in DANGEROUS_MODULES:
            found.append(KerasIssue("dangerous-module", f"the config makes Keras import {target!r}{at}"))
        else:
            found.append(
                KerasIssue(
                    "foreign-module",
                    f"the config names {target!r} from a module outside Keras{at}: older Keras versions import it on load, current ones need it registered",
                )
            )
    return found


def _safe_mode_only(class_name, config: dict, where: str) -> list[KerasIssue]:
    """The other constructs Keras 3 refuses unless safe_mode=False (keras/src: utils/
    torch_utils.py, export/tfsm_layer.py, layers/preprocessing/index_lookup.py)."""
    if class_name == "TorchModuleWrapper" and isinstance(config.get("module"), str):
        return [
            KerasIssue(
                "unsafe",
                f"TorchModuleWrapper{where} holds a pickled torch module: load_model(safe_mode=False) unpickles it with torch.load",
            )
        ]
    if class_name == "TFSMLayer":
        return [
            KerasIssue("unsafe", f"TFSMLayer{where} loads the external SavedModel {str(config.get('filepath'))[:120]!r} and runs its graph")
        ]
    if class_name in ("StringLookup", "IntegerLookup", "TextVectorization") and isinstance(config.get("vocabulary"), str):
        return [
            KerasIssue(
                "file-read",
                f"{class_name}{where} reads its vocabulary from the path {config['vocabulary'][:120]!r}, outside the model file",
            )
        ]
    return []


def _is_keras(module: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in KERAS_PACKAGES)


def _package(module: str) -> str:
    return module.split(".", 1)[0] if module not in DANGEROUS_MODULES else module
