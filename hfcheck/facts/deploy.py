"""What the target tree says about how the model is deployed: the dependencies it
installs (and what pins them), the Python code that loads the model, the TGI / vLLM /
SageMaker serving configs, and the hardware they run on. Every fact keeps the file and
line it comes from, so findings point at the deployment file that causes them."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

# The parsers are imported when a file of their kind is present: most model repos have none.
if TYPE_CHECKING:
    from hfcheck.formats.requirements import Dependency, PipInstall

SHA = re.compile(r"^[0-9a-f]{40}$")
# requirement files of development tools, not of the service
_DEV_FILE = re.compile(r"(^|[-_./])(dev|test|tests|testing|docs?|lint|ci|bench|benchmarks?)([-_.]|$)", re.IGNORECASE)
# files formats/dependency_files.py reads, besides lock files (*.lock, conda-lock.*)
_MANIFESTS = ("pyproject.toml", "Pipfile", "setup.cfg", "environment.yml", "environment.yaml")
_SERVING_MARKERS = ("text-generation-inference", "text-generation-launcher", "vllm", "MODEL_ID", "tensor-parallel", "max-model-len", "HF_MODEL_ID", "tgi")


@dataclass(frozen=True)
class Declared:
    path: str
    dependency: Dependency
    locked: bool = False  # from a lock file, a hashed or compiled requirements file, or constraints


@dataclass
class Dependencies:
    declared: list[Declared] = field(default_factory=list)
    lock_versions: dict = field(default_factory=dict)  # name -> (version, lock path)
    files: list[str] = field(default_factory=list)  # every file that declares dependencies
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, parse error)

    def of(self, name: str) -> list[Declared]:
        return [d for d in self.declared if d.dependency.name == name]

    def pinned_version(self, name: str) -> tuple[str, str, int | None] | None:
        """(version, path, line) of the exact pin of a package, lock files first."""
        if name in self.lock_versions and self.lock_versions[name][0]:
            version, path = self.lock_versions[name]
            return version, path, None
        for item in self.of(name):
            version = item.dependency.pinned_version
            if version and not version.startswith(("http", "git+")) and "://" not in version:
                return version, item.path, item.dependency.line
        return None

    def locked(self, name: str) -> bool:
        return name in self.lock_versions or any(d.locked and d.dependency.pinned_version for d in self.of(name))


def _name(rel: str) -> str:
    return rel.rpartition("/")[2]  # PurePosixPath(rel).name, ~20x faster on 100k-file trees


def requirement_files(repo) -> list[str]:
    out = []
    for rel in repo.files:
        name = _name(rel)
        parent = rel.rpartition("/")[0].rpartition("/")[2]
        if fnmatch.fnmatch(name, "*requirements*.txt") or fnmatch.fnmatch(name, "constraints*.txt") or (parent == "requirements" and name.endswith(".txt")):
            out.append(rel)
        elif name.endswith(".in") and "requirements" in name:
            continue
    return sorted(out)


def shell_files(repo) -> list[str]:
    return sorted(rel for rel in repo.files if _name(rel).startswith(("Dockerfile", "Containerfile")) or _name(rel).endswith((".dockerfile", ".sh")))


def env_files(repo) -> list[str]:
    return sorted(rel for rel in repo.files if _name(rel) == ".env" or _name(rel).startswith(".env.") or _name(rel).endswith(".env"))


def yaml_files(repo) -> list[str]:
    skipped = ("environment.yml", "environment.yaml", "conda-lock.yml", "conda-lock.yaml", ".hfcheck.yaml", ".hfcheck.yml", ".pre-commit-config.yaml", ".pre-commit-hooks.yaml")
    return sorted(rel for rel in repo.files if rel.endswith((".yaml", ".yml")) and _name(rel) not in skipped and not rel.startswith(".github/"))


def _is_dev(rel: str) -> bool:
    return bool(_DEV_FILE.search(_name(rel).rsplit(".", 1)[0].replace("requirements", "")))


def shell_doc(repo, rel: str):
    def compute():
        from hfcheck.formats.shell import parse_dockerfile, parse_env_file, parse_shell

        text = repo.text(rel)
        if text is None:
            return None
        name = _name(rel)
        if name.startswith(("Dockerfile", "Containerfile")) or name.endswith(".dockerfile"):
            return parse_dockerfile(text)
        if rel in env_files(repo):
            return parse_env_file(text)
        return parse_shell(text)

    return repo.memo(("deploy", "shell", rel), compute)


def pip_installs(words: list, line: int) -> PipInstall | None:
    """The packages of a `pip install` / `python -m pip install` / `uv pip install` command."""
    words = [str(w) for w in words]
    for i in range(len(words) - 1):
        base = words[i].rsplit("/", 1)[-1]
        if re.fullmatch(r"pip(3(\.\d+)?)?", base) and words[i + 1] == "install":
            from hfcheck.formats.requirements import parse_pip_args

            return parse_pip_args(words[i + 2 :], line)
    return None


def _parse_requirements(text: str, *, constraint: bool):
    from hfcheck.formats.requirements import parse_requirements

    return parse_requirements(text, constraint=constraint)


def dependencies(repo) -> Dependencies:
    def compute():
        deps = Dependencies()
        seen = set()
        pending = [(rel, False) for rel in requirement_files(repo) if not _is_dev(rel)]
        while pending:
            rel, as_constraint = pending.pop(0)
            if rel in seen or not repo.exists(rel):
                continue
            seen.add(rel)
            text = repo.text(rel)
            if text is None:
                continue
            parsed = _parse_requirements(text, constraint=as_constraint or _name(rel).startswith("constraints"))
            deps.files.append(rel)
            for dep in parsed.dependencies:
                deps.declared.append(Declared(rel, dep, parsed.compiled or dep.hashed or dep.constraint))
            folder = str(PurePosixPath(rel).parent)
            for kind, target, _line in parsed.includes:
                resolved = str(PurePosixPath(folder) / target) if folder != "." else target
                pending.append((_normalise(resolved), kind == "constraint"))
        manifests = [rel for rel in repo.files if _name(rel) in _MANIFESTS or _name(rel).endswith(".lock") or _name(rel).startswith("conda-lock.")]
        if manifests:
            from hfcheck.formats.dependency_files import LOCK_FILES, parse_environment_yml, parse_lock, parse_pipfile, parse_pyproject, parse_setup_cfg

            parsers = {"pyproject.toml": parse_pyproject, "Pipfile": parse_pipfile, "setup.cfg": parse_setup_cfg, "environment.yml": parse_environment_yml, "environment.yaml": parse_environment_yml}
        for rel in manifests:
            name = _name(rel)
            if name in parsers:
                text = repo.text(rel)
                if text is None:
                    continue
                parsed = parsers[name](text)
                if parsed.error:
                    deps.problems.append((rel, parsed.error))
                    continue
                if parsed.dependencies:
                    deps.files.append(rel)
                deps.declared.extend(Declared(rel, dep) for dep in parsed.dependencies)
            elif name in LOCK_FILES:
                text = repo.text(rel)
                if text is None:
                    continue
                lock = parse_lock(name, text)
                deps.files.append(rel)
                for package, version in lock.versions.items():
                    deps.lock_versions.setdefault(package, (version, rel))
        for rel in shell_files(repo):
            doc = shell_doc(repo, rel)
            if doc is None:
                continue
            for command in doc.commands:
                installed = pip_installs(command.words, command.line)
                if installed is None:
                    continue
                if rel not in deps.files:
                    deps.files.append(rel)
                deps.declared.extend(Declared(rel, dep) for dep in installed.dependencies)
                for kind, target, _line in installed.includes:
                    for candidate in (_normalise(target), _normalise(target.lstrip("/")).split("/", 1)[-1]):
                        if candidate not in seen and repo.exists(candidate) and kind == "constraint":
                            parsed = _parse_requirements(repo.text(candidate) or "", constraint=True)
                            seen.add(candidate)
                            deps.files.append(candidate)
                            deps.declared.extend(Declared(candidate, dep, True) for dep in parsed.dependencies)
        return deps

    return repo.memo(("facts", "deploy", "dependencies"), compute)


def _normalise(path: str) -> str:
    parts = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", "/"):
            parts.append(part)
    return "/".join(parts)


def model_loads(repo) -> list:
    """(path, ModelLoad) for every from_pretrained / pipeline call in the tree's Python
    files, except the model's own remote code (what auto_map imports)."""

    def compute():
        from hfcheck.facts.remote_code import remote_code

        remote = set(remote_code(repo).executed)
        found = []
        for rel in repo.glob_anywhere("*.py"):
            if rel in remote:
                continue
            text = repo.text(rel)
            if text is None or ("from_pretrained" not in text and "pipeline" not in text):
                continue
            from hfcheck.formats.model_loads import scan_loads  # only when some code loads a model

            scan = scan_loads(text)
            found.extend((rel, load) for load in scan.loads)
        return found

    return repo.memo(("facts", "deploy", "model_loads"), compute)


def servings(repo) -> list:
    """Every TGI / vLLM / SageMaker server the tree declares."""

    def compute():
        shells, envs, yamls = shell_files(repo), env_files(repo), yaml_files(repo)
        if not (shells or envs or yamls):
            return []  # a bare model repo: not even the parsers are imported
        from hfcheck.formats.serving import from_command, from_env, parse_yaml_serving

        found = []
        for rel in shells:
            doc = shell_doc(repo, rel)
            if doc is None:
                continue
            by_command = [s for s in (from_command(c, doc.env, rel) for c in doc.commands) if s is not None]
            found.extend(by_command or from_env(doc.env, rel))
        for rel in envs:
            doc = shell_doc(repo, rel)
            if doc is not None:
                found.extend(from_env(doc.env, rel))
        for rel in yamls:
            text = repo.text(rel, repo.limits.yaml_bytes)
            if text is None or not any(marker in text for marker in _SERVING_MARKERS):
                continue
            parsed, _error = parse_yaml_serving(text, rel)
            found.extend(parsed)
        return found

    return repo.memo(("facts", "deploy", "servings"), compute)


def has_deployment(repo) -> bool:
    """True when the tree holds more than a model: dependency files, serving configs or
    code that loads a model. A bare model repo is not a deployment."""
    return bool(dependencies(repo).files or servings(repo) or [load for _, load in model_loads(repo) if load.is_model])


def is_hub_id(model: str | None, repo) -> bool:
    """A Hub repo id (org/name), not a local path or a folder of this tree."""
    if not isinstance(model, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", model):
        return False
    found = getattr(repo, "discovery", None)  # a unit view: discovery linked the string to a model folder
    if found is not None and any(link.name == model and not link.model.startswith("hub:") for link in found.links):
        return False
    return not any(rel.startswith(model.rstrip("/") + "/") for rel in repo.files)


def as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def as_float(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def truthy(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"))


# from_pretrained kwargs the smoke pass replays from the deployment's own load. Others
# stay out: revision/token/cache_dir reach the Hub, offload_folder writes files, and
# trust_remote_code/use_safetensors are hfcheck's own guard.
SMOKE_KWARGS = ("device_map", "dtype", "torch_dtype", "attn_implementation", "max_memory", "quantization_config", "load_in_8bit", "load_in_4bit", "low_cpu_mem_usage")
# Quantization configs the smoke pass may build from literal kwargs (all in transformers).
QUANTIZATION_CONFIGS = ("BitsAndBytesConfig", "GPTQConfig", "AwqConfig", "HqqConfig", "QuantoConfig", "TorchAoConfig", "FbgemmFp8Config", "FineGrainedFP8Config")
_SERVING_DTYPES = {"half": "float16", "float16": "float16", "fp16": "float16", "bfloat16": "bfloat16", "bf16": "bfloat16", "float": "float32", "float32": "float32", "auto": "auto"}


def _plain(value):
    """A kwarg value as plain data the smoke runner can rebuild, or UNKNOWN. Calls become
    {"__class__": name, "kwargs": {...}} (only quantization configs); `torch.float16`
    stays a dotted string."""
    from hfcheck.formats.model_loads import UNKNOWN, CallValue

    if isinstance(value, CallValue):
        name = value.name.rpartition(".")[2]
        kwargs = {k: _plain(v) for k, v in value.kwargs.items()}
        if name not in QUANTIZATION_CONFIGS or any(v is UNKNOWN for v in kwargs.values()):
            return UNKNOWN
        return {"__class__": name, "kwargs": kwargs}
    if isinstance(value, dict):
        items = {k: _plain(v) for k, v in value.items()}
        return UNKNOWN if any(v is UNKNOWN for v in items.values()) else items
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return UNKNOWN if any(v is UNKNOWN for v in items) else items
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return UNKNOWN


def smoke_load(repo) -> tuple[dict, str | None]:
    """How the deployment loads the model, for the smoke pass to load it the same way:
    the SMOKE_KWARGS with literal values of the first model load in the tree's code,
    else the dtype its serving config asks for. Also says where that is ("serve.py:12");
    ({}, None) when the tree declares no load."""
    from hfcheck.formats.model_loads import UNKNOWN

    for path, load in model_loads(repo):
        if not load.is_model:
            continue
        kwargs = {name: _plain(load.value(name, UNKNOWN)) for name in SMOKE_KWARGS if name in load.kwargs}
        return {k: v for k, v in kwargs.items() if v is not UNKNOWN}, f"{path}:{load.line}"
    for serving in servings(repo):
        dtype = _SERVING_DTYPES.get(str(serving.get("dtype")).lower())
        if dtype:
            return {"dtype": dtype}, f"{serving.path}:{serving.line_of('dtype')}"
    return {}, None
