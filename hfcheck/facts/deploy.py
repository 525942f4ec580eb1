"""What the target tree says about how the model is deployed: the dependencies it
installs (and what pins them), the Python code that loads the model (scripts and
notebooks), the TGI / vLLM / SGLang / SageMaker / KServe / KubeAI / Ray / dstack /
SkyPilot / Triton serving configs, and the hardware they run on. Every fact keeps the
file and line it comes from, so findings point at the deployment file that causes them.

Public accessors (others build on them; extend, do not rename): dependencies, model_loads,
servings, has_deployment, is_hub_id, shell_doc, requirement_files, shell_files,
env_files, yaml_files, pip_installs, smoke_load; added: notebook_files, deploy_problems,
is_tooling, engine_calls, dependency_file_kind."""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from hfcheck.filekinds import MANIFEST_KINDS

# The parsers are imported when a file of their kind is present: most model repos have none.
if TYPE_CHECKING:
    from hfcheck.formats.requirements import Dependency, PipInstall

SHA = re.compile(r"^[0-9a-f]{40}$")
# requirement files of development tools, not of the service
_DEV_FILE = re.compile(r"(^|[-_./])(dev|test|tests|testing|docs?|lint|ci|bench|benchmarks?)([-_.]|$)", re.IGNORECASE)
_MANIFESTS = tuple(MANIFEST_KINDS)
_SERVING_MARKERS = ("text-generation-inference", "text-generation-launcher", "vllm", "MODEL_ID", "tensor-parallel", "max-model-len", "HF_MODEL_ID", "tgi", "sglang", "lmdeploy", "fastchat",
                    "serving.kserve.io", "kubeai.org", "RayService", "serveConfigV2", "model_loading_config", "engine_config", "accelerators", "python_packages", "hf://")  # fmt: skip
# Files that are tooling, not the service: a deliberate CPU load or a one-off
# conversion there is not how the model is served.
_TOOLING_PATH = re.compile(
    r"(^|[/_.-])(export|convert|conversion|merge|merging|quantiz\w*|train\w*|finetun\w*|fine_tun\w*|eval\w*|bench\w*|tests?|tools?|scripts?|upload|push)([/_.-]|$)",
    re.IGNORECASE,
)
_SERVING_CODE = re.compile(
    r"FastAPI\(|Flask\(|gradio|uvicorn|@app\.|bentoml|def (predict|handler|handle|serve)\b|class \w*(Predictor|Handler|Service)\b|ray\.serve|serve\.deployment|litserve|runpod"
)
_COMPOSE_OR_K8S = re.compile(r"^(services:|apiVersion:|kind:)", re.MULTILINE)


class Declared(NamedTuple):
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
    return rel.rpartition("/")[2]  # PurePosixPath(rel).name, without building a path: called per file


def requirement_files(repo) -> list[str]:
    out = []
    for rel in repo.files:
        name = _name(rel)
        parent = rel.rpartition("/")[0].rpartition("/")[2]
        if (
            fnmatch.fnmatch(name, "*requirements*.txt")
            or fnmatch.fnmatch(name, "constraints*.txt")
            or (parent == "requirements" and name.endswith(".txt"))
        ):
            out.append(rel)
        elif name.endswith(".in") and "requirements" in name:
            continue
    return sorted(out)


def dependency_file_kind(repo, rel: str) -> str:
    """How a file that declares dependencies is written: a manifest's kind
    (MANIFEST_KINDS), "dockerfile", "shell", or "requirements" (requirement files and
    the files they include with -r/-c)."""
    name = _name(rel)
    if name in MANIFEST_KINDS:
        return MANIFEST_KINDS[name]
    if rel in shell_files(repo):
        return "dockerfile" if name.startswith(("Dockerfile", "Containerfile")) or name.endswith(".dockerfile") else "shell"
    return "requirements"


def shell_files(repo) -> list[str]:
    return repo.memo(
        ("facts", "deploy", "shell_files"),
        lambda: sorted(
            rel
            for rel in repo.files
            if _name(rel).startswith(("Dockerfile", "Containerfile")) or _name(rel).endswith((".dockerfile", ".sh"))
        ),
    )


def env_files(repo) -> list[str]:
    return repo.memo(
        ("facts", "deploy", "env_files"),
        lambda: sorted(rel for rel in repo.files if _name(rel) == ".env" or _name(rel).startswith(".env.") or _name(rel).endswith(".env")),
    )


def yaml_files(repo) -> list[str]:
    skipped = (
        "environment.yml",
        "environment.yaml",
        "conda-lock.yml",
        "conda-lock.yaml",
        ".hfcheck.yaml",
        ".hfcheck.yml",
        ".pre-commit-config.yaml",
        ".pre-commit-hooks.yaml",
    )
    return repo.memo(
        ("facts", "deploy", "yaml_files"),
        lambda: sorted(
            rel for rel in repo.files if rel.endswith((".yaml", ".yml")) and _name(rel) not in skipped and not rel.startswith(".github/")
        ),
    )


def notebook_files(repo) -> list[str]:
    return repo.memo(
        ("facts", "deploy", "notebook_files"),
        lambda: sorted(rel for rel in repo.files if rel.endswith(".ipynb") and "/.ipynb_checkpoints/" not in f"/{rel}"),
    )


def _chart_of(repo, rel: str) -> str | None:
    """The chart folder when `rel` is a template of a Helm chart (Chart.yaml beside
    templates/), else None."""
    parts = PurePosixPath(rel).parts
    if "templates" not in parts:
        return None
    chart = "/".join(parts[: parts.index("templates")])
    return chart if repo.exists(f"{chart}/Chart.yaml" if chart else "Chart.yaml") else None


def is_tooling(repo, rel: str) -> bool:
    """A Python file or notebook that is tooling (export, conversion, training,
    evaluation, tests), not the code that serves the model: by its path, unless it
    defines a server."""

    def compute():
        if not _TOOLING_PATH.search(rel.rsplit(".", 1)[0]):
            return False
        text = repo.text(rel) or ""
        return not _SERVING_CODE.search(text)

    return repo.memo(("facts", "deploy", "tooling", rel), compute)


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


def notebook(repo, rel: str):
    def compute():
        from hfcheck.formats.notebook import parse_notebook

        text = repo.text(rel)
        return None if text is None else parse_notebook(text)

    return repo.memo(("deploy", "notebook", rel), compute)


def notebook_commands(repo, rel: str) -> list:
    """Shell commands of a notebook's `!` and `%pip` lines, on their .ipynb lines."""
    book = notebook(repo, rel)
    if book is None:
        return []
    from hfcheck.formats.shell import parse_shell

    out = []
    for text, line in book.shell:
        out.extend(type(c)(c.words, line or 0) for c in parse_shell(text).commands)
    return out


def deploy_yaml(repo, rel: str):
    """formats.serving.DeployYaml of a YAML file (a chart template rendered with the
    chart's values.yaml; a compose file with the .env beside it), or None when the
    file names nothing a deployment reader uses."""

    def compute():
        text = repo.text(rel, repo.limits.yaml_bytes)
        if text is None:
            return None
        chart = _chart_of(repo, rel)
        if chart is not None:
            from hfcheck.formats.helm import render

            values_rel = f"{chart}/values.yaml" if chart else "values.yaml"
            values = repo.yaml(values_rel) if repo.exists(values_rel) else None
            text = render(text, values.data if values is not None and isinstance(values.data, dict) else {})
        if not any(marker in text for marker in _SERVING_MARKERS) and not (_COMPOSE_OR_K8S.search(text) and _looks_deployment(rel)):
            return None
        from hfcheck.formats.serving import parse_deploy_yaml

        return parse_deploy_yaml(text, rel, _compose_variables(repo, rel))

    return repo.memo(("deploy", "yaml", rel), compute)


def _compose_variables(repo, rel: str) -> dict:
    """What `${VAR}` in a compose file can resolve to: the .env beside it (compose reads
    it), else what a shell script beside it exports (the documented `source set_env.sh;
    docker compose up`)."""
    folder = PurePosixPath(rel).parent
    variables = {}
    for script in sorted(r for r in shell_files(repo) if PurePosixPath(r).parent == folder and r.endswith(".sh")):
        doc = shell_doc(repo, script)
        if doc is not None:
            variables.update({k: v for k, v in doc.env.items() if "$" not in str(v[0])})
    dotenv = str(folder / ".env") if str(folder) != "." else ".env"
    if repo.exists(dotenv) and shell_doc(repo, dotenv) is not None:
        variables.update(shell_doc(repo, dotenv).env)
    return variables


def _looks_deployment(rel: str) -> bool:
    name = _name(rel).lower()
    return "compose" in name or any(
        part in rel.lower() for part in ("k8s", "kube", "deploy", "manifest", "helm", "chart", "serving", "inference")
    )


def deploy_problems(repo) -> list[tuple[str, int | None, str]]:
    """(path, line, message) of deployment files that do not parse: a compose file or a
    Kubernetes manifest with a YAML error, a notebook that is not JSON."""
    out = []
    for rel in yaml_files(repo):
        if _chart_of(repo, rel) is not None:
            continue  # hfcheck renders templates only in part: a YAML error there may be its own
        parsed = deploy_yaml(repo, rel)
        if parsed is not None and parsed.error:
            match = re.search(r"at line (\d+)", parsed.error)
            line = int(match.group(1)) if match else None
            text = repo.text(rel, repo.limits.yaml_bytes) or ""
            if line and "{{" in "".join(text.splitlines()[max(0, line - 2) : line + 1]):
                continue  # a `{{PLACEHOLDER}}` the reader fills in before applying: a template, not a broken file
            out.append((rel, line, parsed.error))
    for rel in notebook_files(repo):
        book = notebook(repo, rel)
        if book is not None and book.error and book.error != "no cells":
            out.append((rel, None, book.error))
    return out


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
    """Every dependency the tree declares: requirement files (following -r/-c), the
    manifests and lock files, and the pip installs of shell scripts, Dockerfiles,
    notebooks and deployment YAML."""

    def compute():
        deps = Dependencies()
        seen: set[str] = set()
        _requirement_dependencies(repo, deps, seen)
        _manifest_dependencies(repo, deps)
        _command_dependencies(repo, deps, seen)
        return deps

    return repo.memo(("facts", "deploy", "dependencies"), compute)


def _requirement_dependencies(repo, deps: Dependencies, seen: set[str]) -> None:
    """The requirement files (not the development ones) and the files they include."""
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


def _manifest_dependencies(repo, deps: Dependencies) -> None:
    """pyproject.toml, Pipfile, setup.cfg, environment.yml, and the lock files' versions."""
    manifests = [
        rel for rel in repo.files if _name(rel) in _MANIFESTS or _name(rel).endswith(".lock") or _name(rel).startswith("conda-lock.")
    ]
    if not manifests:
        return
    from hfcheck.formats.dependency_files import (
        LOCK_FILES,
        parse_environment_yml,
        parse_lock,
        parse_pipfile,
        parse_pyproject,
        parse_setup_cfg,
    )

    parsers = {"pyproject": parse_pyproject, "pipfile": parse_pipfile, "setup.cfg": parse_setup_cfg, "environment": parse_environment_yml}
    for rel in manifests:
        name = _name(rel)
        if name in MANIFEST_KINDS:
            text = repo.text(rel)
            if text is None:
                continue
            parsed = parsers[MANIFEST_KINDS[name]](text)
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


def _command_dependencies(repo, deps: Dependencies, seen: set[str]) -> None:
    """pip installs in shell scripts, Dockerfiles, notebooks and deployment YAML (whose
    package lists count too), with the constraint files they name."""
    command_sources = [(rel, shell_doc(repo, rel).commands) for rel in shell_files(repo) if shell_doc(repo, rel) is not None]
    command_sources += [(rel, notebook_commands(repo, rel)) for rel in notebook_files(repo)]
    for rel in yaml_files(repo):
        parsed = deploy_yaml(repo, rel)
        if parsed is None:
            continue
        command_sources.append((rel, parsed.commands))
        if parsed.packages:
            deps.files.append(rel)
            deps.declared.extend(Declared(rel, dep) for dep in _listed_packages(parsed.packages))
    for rel, commands in command_sources:
        for command in commands:
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


def _listed_packages(packages: list) -> list:
    """Dependencies of requirement strings a YAML file lists (cog, BentoML, Ray pip)."""
    from dataclasses import replace

    out = []
    for text, line in packages:
        parsed = _parse_requirements(str(text), constraint=False)
        out.extend(replace(dep, line=line) for dep in parsed.dependencies)
    return out


def _normalise(path: str) -> str:
    parts = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", "/"):
            parts.append(part)
    return "/".join(parts)


_MODEL_LOADS = ("facts", "deploy", "model_loads")
_SERVINGS = ("facts", "deploy", "servings")


def scope_deployment(view, loads: list, servings: list) -> None:
    """Discovery's narrowing of a unit view to the model loads and serving configs that
    load that unit (of the deployment files linked to it, only those that load this
    unit apply), replacing what discovery computed from the view's files, before any
    rule reads model_loads or servings. These memo keys have one owner: this module."""
    view.replace_memo(_MODEL_LOADS, loads)
    view.replace_memo(_SERVINGS, servings)


def model_loads(repo) -> list:
    """(path, ModelLoad) for every from_pretrained / pipeline call in the tree's Python
    files, except the model's own remote code (what auto_map imports)."""

    def compute():

        return [(rel, load) for rel, scan in python_scans(repo) for load in scan.loads]

    return repo.memo(_MODEL_LOADS, compute)


_LOAD_MARKERS = ("from_pretrained", "pipeline", "HuggingFaceModel", "LLM(", "EngineArgs")


def python_scans(repo) -> list:
    """(path, LoadScan) of every Python file and notebook that loads a model, except the
    model's own remote code; a notebook's lines are its .ipynb lines."""

    def compute():
        from hfcheck.facts.remote_code import remote_code

        remote = set(remote_code(repo).executed)
        found = []
        for rel in [*repo.glob_anywhere("*.py"), *notebook_files(repo)]:
            if rel in remote:
                continue
            book = notebook(repo, rel) if rel.endswith(".ipynb") else None
            text = book.source if book is not None else repo.text(rel) if not rel.endswith(".ipynb") else None
            if text is None or not any(marker in text for marker in _LOAD_MARKERS):
                continue
            from hfcheck.formats.model_loads import scan_loads  # only when some code loads a model

            scan = scan_loads(text)
            if book is not None:
                _renumber(scan, book.file_line)
            found.append((rel, scan))
        return found

    return repo.memo(("facts", "deploy", "python_scans"), compute)


def _renumber(scan, file_line) -> None:
    def fix(line):
        return file_line(line) or line

    for item in [*scan.loads, *scan.engines]:
        item.line = fix(item.line)
        for kwarg in item.kwargs.values():
            kwarg.line = fix(kwarg.line)
            kwarg.entries = {k: fix(v) for k, v in kwarg.entries.items()}
    for engine in scan.engines:
        if engine.instance_type is not None:
            engine.instance_type.line = fix(engine.instance_type.line)
    scan.moves_to_cuda = [fix(line) for line in scan.moves_to_cuda]


def engine_calls(repo) -> list:
    """(path, EngineCall) of vLLM engines and SageMaker models built in Python."""
    return [(rel, engine) for rel, scan in python_scans(repo) for engine in scan.engines]


def servings(repo) -> list:
    """Every model server the tree declares (formats.serving.Serving)."""

    def compute():
        shells, envs, yamls = shell_files(repo), env_files(repo), yaml_files(repo)
        notebooks, pbtxts = (
            notebook_files(repo),
            [rel for rel in repo.files if rel.endswith("config.pbtxt") and _name(rel) == "config.pbtxt"],
        )
        scans = python_scans(repo) if repo.glob_anywhere("*.py") or notebooks else []
        if not (shells or envs or yamls or notebooks or pbtxts or any(scan.engines for _, scan in scans)):
            return []  # a bare model repo: not even the parsers are imported
        from hfcheck.formats.serving import from_command, from_env

        found = []
        for rel in shells:
            doc = shell_doc(repo, rel)
            if doc is None:
                continue
            if doc.stages:
                found.extend(_stage_servings(doc, rel))
                continue
            by_command = [s for s in (from_command(c, doc.env, rel) for c in doc.commands) if s is not None]
            found.extend(by_command or from_env(doc.env, rel))
        composed = {str(PurePosixPath(rel).parent) for rel in yamls if (deploy_yaml(repo, rel) or _NONE).kind == "compose"}
        for rel in envs:
            doc = shell_doc(repo, rel)
            if doc is not None and str(PurePosixPath(rel).parent) not in composed:  # a compose file beside it reads it
                found.extend(from_env(doc.env, rel))
        for rel in yamls:
            parsed = deploy_yaml(repo, rel)
            if parsed is not None:
                found.extend(parsed.servings)
        for rel in notebooks:
            found.extend(s for s in (from_command(c, {}, rel) for c in notebook_commands(repo, rel)) if s is not None)
        found.extend(_engine_servings(repo, scans))
        found.extend(_triton_servings(repo, pbtxts))
        return found

    return repo.memo(_SERVINGS, compute)


class _NONE:
    kind = None


def _stage_servings(doc, rel: str) -> list:
    """Each image of a Dockerfile on its own: its base image, environment and command."""
    from hfcheck.formats.serving import Setting, serving_of_container

    found = []
    for stage in doc.stages:
        words = [str(w) for w in stage.runs.words] if stage.runs else []
        line = stage.runs.line if stage.runs else stage.line
        serving = serving_of_container(stage.image, words, stage.env, rel, lambda _t: None, line)
        if serving is not None:
            if stage.image:
                serving.image = Setting(stage.image, stage.line)
            found.append(serving)
    return found


def _engine_servings(repo, scans) -> list:
    """vLLM engines and SageMaker models built in Python, as servings."""
    from hfcheck.formats.hardware import Hardware, instance_type
    from hfcheck.formats.model_loads import UNKNOWN
    from hfcheck.formats.serving import SAGEMAKER_ENV, VLLM_KEYS, Serving, Setting, from_env

    found = []
    for rel, scan in scans:
        for engine in scan.engines:
            if engine.kind == "vllm":
                settings = {
                    VLLM_KEYS[k]: Setting(v.value, v.line) for k, v in engine.kwargs.items() if k in VLLM_KEYS and v.value is not UNKNOWN
                }
                if "model" in settings:
                    found.append(Serving("vllm", rel, engine.line, settings))
                continue
            env_kwarg = engine.kwargs.get("env")
            if env_kwarg is None or not isinstance(env_kwarg.value, dict):
                continue
            env = {
                str(k): (str(v), env_kwarg.entries.get(k, env_kwarg.line))
                for k, v in env_kwarg.value.items()
                if isinstance(v, (str, int, float, bool))
                and str(k) in SAGEMAKER_ENV
                or str(k).lower()
                in ("max_total_tokens", "max_input_length", "max_input_tokens", "max_batch_size", "num_shard", "quantize", "dtype")
            }
            for serving in from_env(env, rel):
                if serving.engine != "sagemaker":
                    continue
                image = engine.kwargs.get("image_uri")
                if image is not None and isinstance(image.value, str):
                    serving.image = Setting(image.value, image.line)
                if engine.instance_type is not None:
                    instance = instance_type(engine.instance_type.value)
                    if instance is not None:
                        serving.hardware = Hardware(
                            instance[2],
                            instance[0],
                            instance[1],
                            f"SageMaker instance_type {engine.instance_type.value}",
                            engine.instance_type.line,
                        )
                        serving.gpus = serving.gpus or Setting(instance[2], engine.instance_type.line)
                found.append(serving)
    return found


def _triton_servings(repo, pbtxts: list) -> list:
    """Triton's vLLM backend: config.pbtxt `backend: "vllm"` + `<version>/model.json`."""
    from hfcheck.formats.serving import VLLM_KEYS, Serving, Setting, _option_name
    from hfcheck.formats.triton import parse_config_pbtxt, parse_model_json

    found = []
    for rel in pbtxts:
        config = parse_config_pbtxt(repo.text(rel) or "")
        folder = str(PurePosixPath(rel).parent)
        if config.backend != "vllm":
            continue
        for json_rel in sorted(r for r in repo.files if r.startswith(f"{folder}/") and _name(r) == "model.json"):
            data, _error = parse_model_json(repo.text(json_rel) or "")
            doc = repo.json(json_rel)
            settings = {}
            for key, value in data.items():
                canonical = VLLM_KEYS.get(_option_name(str(key)))
                if canonical:
                    settings[canonical] = Setting(value, doc.line_of(key) if doc is not None else None)
            if "model" in settings:
                serving = Serving("vllm", json_rel, settings["model"].line, settings)
                if config.gpus:
                    serving.gpus = Setting(config.gpus, None)
                found.append(serving)
    return found


def has_deployment(repo) -> bool:
    """True when the tree holds more than a model: dependency files, serving configs or
    code that loads a model. A bare model repo is not a deployment."""
    return bool(dependencies(repo).files or servings(repo) or [load for _, load in model_loads(repo) if load.is_model])


def is_hub_id(model: str | None, repo) -> bool:
    """A Hub repo id (org/name, or one of the Hub's org-less canonical ids such as
    `gpt2`), not a local path or a folder of this tree."""
    if not isinstance(model, str):
        return False
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", model) and model not in canonical_ids():
        return False
    found = getattr(repo, "discovery", None)  # a unit view: discovery linked the string to a model folder
    if found is not None and any(link.name == model and not link.model.startswith("hub:") for link in found.links):
        return False
    return not any(rel.startswith(model.rstrip("/") + "/") for rel in repo.files) and not repo.exists(model)


def canonical_ids() -> frozenset:
    """The Hub's org-less model ids (hfcheck/data/canonical_models.json)."""
    from hfcheck.data import load

    return _frozen(tuple(load("canonical_models.json")["models"]))


@functools.cache
def _frozen(ids: tuple) -> frozenset:
    return frozenset(ids)


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
SMOKE_KWARGS = (
    "device_map",
    "dtype",
    "torch_dtype",
    "attn_implementation",
    "max_memory",
    "quantization_config",
    "load_in_8bit",
    "load_in_4bit",
    "low_cpu_mem_usage",
)
# Quantization configs the smoke pass may build from literal kwargs (all in transformers).
QUANTIZATION_CONFIGS = (
    "BitsAndBytesConfig",
    "GPTQConfig",
    "AwqConfig",
    "HqqConfig",
    "QuantoConfig",
    "TorchAoConfig",
    "FbgemmFp8Config",
    "FineGrainedFP8Config",
)
_SERVING_DTYPES = {
    "half": "float16",
    "float16": "float16",
    "fp16": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float": "float32",
    "float32": "float32",
    "auto": "auto",
}


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
