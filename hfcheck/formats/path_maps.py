"""Where a deployment puts the tree's folders, and which model paths its code names, for
linking deployments to models: Dockerfile COPY/ADD, docker compose volumes, Kubernetes
hostPath volumes, and the model-loading constructors that are not `from_pretrained`
(SentenceTransformer(...), CrossEncoder(...), vLLM's LLM(...)).

Text only: nothing is imported, nothing is run."""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class PathMap:
    source: str  # a path in the tree, relative to the file's build context or folder
    dest: str  # where the deployment sees it
    line: int | None


def dockerfile_copies(text: str) -> list[PathMap]:
    """COPY/ADD of local paths (not `--from=` another stage, not URLs)."""
    found = []
    for number, line in enumerate(_joined(text), 1):
        if line is None:
            continue
        stripped = line.strip()
        instruction, _, rest = stripped.partition(" ")
        if instruction.upper() not in ("COPY", "ADD"):
            continue
        if "--from=" in rest:
            continue
        from hfcheck.formats.shell import exec_form  # on first use, like every parser

        words = exec_form(rest)
        if words is None:
            try:
                words = shlex.split(rest, comments=False)
            except ValueError:
                continue
        words = [w for w in words if not w.startswith("--")]
        if len(words) < 2:
            continue
        dest = words[-1]
        for source in words[:-1]:
            if "://" not in source:
                found.append(PathMap(source, dest, number))
    return found


def _joined(text: str):
    """Lines with backslash continuations joined; continued lines yield None so numbering stays."""
    pending = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            yield None
            continue
        yield pending + raw
        pending = ""


def volume_maps(data) -> list[PathMap]:
    """compose `volumes: ["./models:/models:ro"]` (short and long forms) and Kubernetes
    `hostPath` volumes mounted by a container."""
    found: list[PathMap] = []
    if not isinstance(data, dict):
        return found
    services = data.get("services")
    if isinstance(services, dict):
        for service in services.values():
            if isinstance(service, dict):
                found.extend(_compose_volumes(service.get("volumes")))
    found.extend(_kubernetes_volumes(data))
    return found


def _compose_volumes(volumes) -> list[PathMap]:
    found = []
    for item in volumes if isinstance(volumes, list) else ():
        if isinstance(item, str) and ":" in item:
            source, _, rest = item.partition(":")
            if source.startswith((".", "/", "~")):
                found.append(PathMap(source, rest.split(":", 1)[0], None))
        elif (
            isinstance(item, dict)
            and item.get("type", "bind") == "bind"
            and isinstance(item.get("source"), str)
            and isinstance(item.get("target"), str)
        ):
            found.append(PathMap(item["source"], item["target"], None))
    return found


def _kubernetes_volumes(data, depth: int = 0) -> list[PathMap]:
    """Pod specs anywhere in the object (Deployment, StatefulSet, Job, Pod)."""
    if depth > 12:
        return []
    found = []
    if isinstance(data, dict):
        volumes, containers = data.get("volumes"), data.get("containers")
        if isinstance(volumes, list) and isinstance(containers, list):
            host = {
                v.get("name"): v["hostPath"].get("path") for v in volumes if isinstance(v, dict) and isinstance(v.get("hostPath"), dict)
            }
            for container in containers:
                for mount in container.get("volumeMounts") or () if isinstance(container, dict) else ():
                    if isinstance(mount, dict) and isinstance(host.get(mount.get("name")), str) and isinstance(mount.get("mountPath"), str):
                        found.append(PathMap(host[mount["name"]], mount["mountPath"], None))
        for value in data.values():
            found.extend(_kubernetes_volumes(value, depth + 1))
    elif isinstance(data, list):
        for value in data:
            found.extend(_kubernetes_volumes(value, depth + 1))
    return found


# Constructors that take the model path as their first argument (or `model=` /
# `model_name_or_path=`): sentence-transformers and vLLM.
CONSTRUCTORS = {"SentenceTransformer", "CrossEncoder", "LLM", "AsyncLLMEngine"}
_CONSTRUCTOR_HINT = re.compile(r"\b(SentenceTransformer|CrossEncoder|LLM|AsyncLLMEngine)\s*\(")


@dataclass(frozen=True)
class ConstructorLoad:
    line: int
    callee: str
    model: str


def constructor_loads(source: str) -> list[ConstructorLoad]:
    """Literal model paths given to the CONSTRUCTORS; an unparsable file has none."""
    if not _CONSTRUCTOR_HINT.search(source):
        return []
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name not in CONSTRUCTORS:
            continue
        argument = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg in ("model", "model_name_or_path")), None)
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            found.append(ConstructorLoad(node.lineno, name, argument.value))
    return sorted(found, key=lambda load: load.line)
