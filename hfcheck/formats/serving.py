"""Serving configurations of text-generation-inference (TGI), vLLM, SGLang, LMDeploy,
FastChat and the SageMaker Hugging Face containers, normalised to one set of keys, from
launcher command lines, environment variables, Kubernetes manifests, docker-compose
files and vLLM's YAML config. The server is decided from the image, the command and the
args together. Values the deployment computes are resolved where the file says how:
Kubernetes `$(VAR)`, compose `${VAR:-default}` (with the .env beside it), `sh -c`
scripts. Every value keeps the line it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hfcheck.formats.shell import Command, _split

# canonical key -> (TGI launcher option / env, vLLM option, SageMaker env)
TGI_KEYS = {
    "model_id": "model", "revision": "revision", "num_shard": "tp", "max_total_tokens": "max_len",
    "max_batch_size": "max_batch", "quantize": "quantize", "dtype": "dtype", "trust_remote_code": "trust_remote_code",
    "cuda_memory_fraction": "gpu_util", "max_input_length": "max_input", "max_input_tokens": "max_input",
}  # fmt: skip
VLLM_KEYS = {
    "model": "model", "revision": "revision", "tensor_parallel_size": "tp", "tp": "tp", "max_model_len": "max_len",
    "dtype": "dtype", "quantization": "quantize", "q": "quantize", "gpu_memory_utilization": "gpu_util",
    "max_num_seqs": "max_batch",
    "trust_remote_code": "trust_remote_code", "cpu_offload_gb": "cpu_offload_gb", "kv_cache_dtype": "kv_cache_dtype",
    "rope_scaling": "rope_scaling", "hf_overrides": "hf_overrides", "served_model_name": "served_name",
}  # fmt: skip
TGI_KEYS.update({"rope_scaling": "rope_scaling", "rope_factor": "rope_scaling"})
# SGLang, LMDeploy and FastChat workers: the options that name the model and the GPUs
WORKER_KEYS = {
    "model_path": "model", "model": "model", "revision": "revision", "tp": "tp", "tp_size": "tp", "tensor_parallel_size": "tp", "num_gpus": "tp",
    "context_length": "max_len", "session_len": "max_len", "max_model_len": "max_len", "dtype": "dtype", "quantization": "quantize",
    "trust_remote_code": "trust_remote_code", "mem_fraction_static": "gpu_util", "cache_max_entry_count": "gpu_util", "json_model_override_args": "hf_overrides",
}  # fmt: skip
SAGEMAKER_ENV = {
    "HF_MODEL_ID": "model",
    "HF_MODEL_REVISION": "revision",
    "SM_NUM_GPUS": "tp",
    "HF_TASK": "task",
    "HF_MODEL_TRUST_REMOTE_CODE": "trust_remote_code",
}
TGI_IMAGES = ("text-generation-inference", "huggingface-pytorch-tgi-inference", "tgi-inference")
VLLM_IMAGES = ("vllm/vllm-openai", "vllm-openai", "/vllm:", "vllm/vllm")  # kept for callers; engine_of_image decides
SAGEMAKER_IMAGES = ("huggingface-pytorch-inference", "huggingface-pytorch-tgi-inference", "huggingface-text-generation-inference")
_WRAPPERS = ("sudo", "exec", "nohup", "time", "env", "nice", "stdbuf", "uv", "poetry", "pipenv", "conda")


def image_repository(image: str) -> str:
    """`ghcr.io/org/name:tag@sha256:..` -> `ghcr.io/org/name`."""
    image = image.split("@", 1)[0]
    head, _, tail = image.rpartition("/")
    return f"{head}/{tail.split(':', 1)[0]}" if head else tail.split(":", 1)[0]


def engine_of_image(image: str) -> str | None:
    """The server an image runs, from its repository name: vLLM's images (openai, cpu,
    rocm, tpu, neuron builds and mirrors) by the `vllm` in their name, TGI by
    text-generation-inference/tgi, SGLang and LMDeploy likewise."""
    name = image_repository(str(image)).lower().rsplit("/", 1)[-1]
    full = image_repository(str(image)).lower()
    if any(marker in full for marker in TGI_IMAGES) or re.search(r"(^|[-_])tgi([-_]|$)", name):
        return "tgi"
    if "vllm" in name or full.endswith("/vllm"):
        return "vllm"
    if "sglang" in name:
        return "sglang"
    if "lmdeploy" in name:
        return "lmdeploy"
    if any(marker in full for marker in SAGEMAKER_IMAGES):
        return "sagemaker"
    return None


def image_tag(image: str) -> str | None:
    """The tag of an image reference; "" when untagged; None when pinned by digest."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


@dataclass(frozen=True)
class Setting:
    value: object  # str, or True for a bare flag
    line: int | None


@dataclass
class Serving:
    engine: str  # "tgi", "vllm", "sagemaker"
    path: str
    line: int | None  # where the server is declared
    settings: dict = field(default_factory=dict)  # canonical key -> Setting
    gpus: Setting | None = None  # GPUs requested from the orchestrator (k8s, compose)
    image: Setting | None = None  # the container image reference, when one is named
    hardware: object = None  # formats.hardware.Hardware the deployment declares, when it does

    def get(self, key: str):
        setting = self.settings.get(key)
        return None if setting is None else setting.value

    def line_of(self, key: str) -> int | None:
        setting = self.settings.get(key)
        return setting.line if setting is not None and setting.line else self.line


def _option_name(word: str) -> str:
    return word.lstrip("-").replace("-", "_").lower()


def parse_args(args: list, keys: dict, line_of) -> dict:
    """--opt value / --opt=value / --flag into canonical settings (unknown options ignored)."""
    out = {}
    i = 0
    while i < len(args):
        word = str(args[i])
        if word.startswith("-") and len(word) > 1:
            name, eq, value = word.partition("=")
            key = keys.get(_option_name(name))
            if not eq:
                nxt = str(args[i + 1]) if i + 1 < len(args) else None
                if nxt is not None and not nxt.startswith("--"):
                    value, i = nxt, i + 1
                else:
                    value = True
            if key:
                out[key] = Setting(value, line_of(name))
        i += 1
    return out


def from_env(env: dict, path: str, line_of=None) -> list[Serving]:
    """Servings that environment variables alone declare. env: NAME -> (value, line)."""
    found = []
    tgi = {TGI_KEYS[name.lower()]: Setting(v, ln) for name, (v, ln) in env.items() if name.lower() in TGI_KEYS and name.isupper()}
    if "model" in tgi:
        found.append(Serving("tgi", path, tgi["model"].line, tgi))
    sagemaker = {SAGEMAKER_ENV[name]: Setting(v, ln) for name, (v, ln) in env.items() if name in SAGEMAKER_ENV}
    if "model" in sagemaker:
        extra = {k: v for k, v in tgi.items() if k not in sagemaker}
        found.append(Serving("sagemaker", path, sagemaker["model"].line, {**extra, **sagemaker}))
    return found


def _unwrap(words: list) -> list:
    """Drop `sudo`, `exec`, `env A=B`, `uv run`, `python -m` launchers' wrappers."""
    i = 0
    while i < len(words):
        word = words[i].rsplit("/", 1)[-1]
        if word in _WRAPPERS:
            i += 1
            while i < len(words) and (words[i].startswith("-") or "=" in words[i] or words[i] == "run"):
                i += 1
            continue
        return words[i:]
    return []


def from_command(command: Command, env: dict, path: str) -> Serving | None:
    """A server started by one command line: TGI's launcher, `vllm serve` or its api
    server module, SGLang, LMDeploy, FastChat workers, or `docker run` of a serving image."""
    words = _unwrap([str(w) for w in command.words])
    line = command.line

    def at(_name):
        return line

    for i, word in enumerate(words):
        base = word.rsplit("/", 1)[-1]
        rest = words[i + 1 :]
        if base == "text-generation-launcher":
            return Serving("tgi", path, line, {**_env_settings(env, TGI_KEYS), **parse_args(rest, TGI_KEYS, at)})
        if base == "vllm" and rest[:1] == ["serve"]:
            settings = parse_args(rest[1:], VLLM_KEYS, at)
            if len(rest) > 1 and not rest[1].startswith("-"):
                settings.setdefault("model", Setting(rest[1], line))
            return Serving("vllm", path, line, settings)
        if word in ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server"):
            return Serving("vllm", path, line, parse_args(rest, VLLM_KEYS, at))
        if (
            word in ("sglang.launch_server", "lmdeploy.serve.openai.api_server")
            or word.startswith("fastchat.serve.")
            and word.endswith("worker")
        ):
            engine = word.split(".")[0]
            return Serving(engine, path, line, parse_args(rest, WORKER_KEYS, at))
        if base == "lmdeploy" and rest[:2] == ["serve", "api_server"]:
            settings = parse_args(rest[2:], WORKER_KEYS, at)
            if len(rest) > 2 and not rest[2].startswith("-"):
                settings.setdefault("model", Setting(rest[2], line))
            return Serving("lmdeploy", path, line, settings)
        if i > 5:  # the server is the command, not an argument of another one
            break
    if words and words[0].rsplit("/", 1)[-1] in ("docker", "podman", "nvidia-docker"):
        return _docker_run(words, env, path, line)
    return None


_DOCKER_VALUE_OPTIONS = ("-e", "--env", "--env-file", "-v", "--volume", "-p", "--publish", "--name", "--gpus", "--shm-size", "-w", "--workdir", "--network", "--net",
                         "--ipc", "--runtime", "-u", "--user", "--entrypoint", "--mount", "--device", "--platform", "--restart", "-m", "--memory", "--label", "-l", "--ulimit", "--cpus", "--hostname", "--add-host", "--cap-add", "--security-opt", "--pull", "--log-driver", "--health-cmd")  # fmt: skip


def _docker_run(words: list, env: dict, path: str, line: int) -> Serving | None:
    """`docker run [options] IMAGE [args]`: the image decides the server, args after it
    are the server's, `-e NAME=value` its environment, `--gpus` its GPUs."""
    rest = words[1:]
    if rest[:2] == ["container", "run"]:
        rest = rest[1:]
    if rest[:1] != ["run"]:
        return None
    run_env, gpus, entrypoint = {}, None, None
    i = 1
    while i < len(rest):
        word = rest[i]
        name, eq, value = word.partition("=")
        if not word.startswith("-"):
            break
        if name in _DOCKER_VALUE_OPTIONS and not eq:
            value, i = (rest[i + 1] if i + 1 < len(rest) else ""), i + 1
        if name in ("-e", "--env"):
            var, has, var_value = value.partition("=")
            if has:
                run_env[var] = (var_value, line)
            elif var in env:  # `-e HF_TOKEN`: from the calling shell
                run_env[var] = env[var]
        elif name == "--gpus":
            gpus = value
        elif name == "--entrypoint":
            entrypoint = value
        i += 1
    if i >= len(rest):
        return None
    image, args = rest[i], rest[i + 1 :]
    if entrypoint:
        args = [entrypoint, *args]
    serving = serving_of_container(image, args, run_env, path, lambda _t: None, line)
    if serving is not None and gpus:
        count = _docker_gpus(gpus)
        if count:
            serving.gpus = Setting(count, line)
    return serving


def _docker_gpus(value: str) -> int | None:
    value = value.strip("\"'")
    if value.isdigit():
        return int(value)
    match = re.search(r"device=([\d,]+)", value)
    return len(match.group(1).strip(",").split(",")) if match else None


def _env_settings(env: dict, keys: dict) -> dict:
    return {keys[name.lower()]: Setting(value, line) for name, (value, line) in env.items() if name.isupper() and name.lower() in keys}


def _documents(text: str):
    """(first line, text) of each document of a multi-document YAML stream."""
    start, current = 1, []
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r"^---(\s|$)", line):
            if current:
                yield start, "\n".join(current)
            start, current = number + 1, []
        else:
            current.append(line)
    if current:
        yield start, "\n".join(current)


class _Finder:
    """Line of the first occurrence of a token within a document (YAML loses lines)."""

    def __init__(self, text: str, first: int):
        self.lines = text.splitlines()
        self.first = first

    def __call__(self, token: str) -> int | None:
        token = str(token)
        for number, line in enumerate(self.lines):
            if token in line:
                return self.first + number
        return None


@dataclass
class DeployYaml:
    """What one deployment YAML file declares: servers, the shell commands it runs
    (`pip install` among them), the Python packages it lists, and its parse error."""

    servings: list = field(default_factory=list)
    commands: list = field(default_factory=list)  # shell Commands, with file lines
    packages: list = field(default_factory=list)  # (requirement string, line)
    kind: str | None = None  # "compose", "kubernetes", "vllm-config", "skypilot", ...
    error: str | None = None


def parse_yaml_serving(text: str, path: str, variables: dict | None = None) -> tuple[list[Serving], str | None]:
    """Servings in a Kubernetes manifest (any workload kind, multi-document), a
    docker-compose file or a vLLM YAML config; (servings, parse error)."""
    parsed = parse_deploy_yaml(text, path, variables)
    return parsed.servings, parsed.error


def parse_deploy_yaml(text: str, path: str, variables: dict | None = None) -> DeployYaml:
    """Every deployment kind hfcheck reads from YAML, by the shape of each document.
    `variables`: NAME -> (value, line) from the .env beside a compose file."""
    from hfcheck.formats import platforms
    from hfcheck.formats.yaml_doc import parse_yaml

    out = DeployYaml()
    for first, document in _documents(text):
        doc = parse_yaml(document, line_offset=first - 1)
        if doc.error:
            out.error = f"invalid YAML{f' at line {doc.error.line}' if doc.error.line else ''}: {doc.error.message}"
            continue
        find = _Finder(document, first)
        data = doc.data
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("services"), dict):
            out.kind = "compose"
            data = interpolate_compose(data, variables or {})
            for service in data["services"].values():
                if isinstance(service, dict):
                    out.servings.extend(_compose_service(service, path, find))
        elif platforms.read(data, path, find, out):
            continue
        elif "model" in data and any(_option_name(str(k)) in VLLM_KEYS for k in data if k != "model") or _is_vllm_config(path, data):
            out.kind = "vllm-config"
            settings = {
                VLLM_KEYS[_option_name(str(k))]: Setting(v, find(f"{k}:")) for k, v in data.items() if _option_name(str(k)) in VLLM_KEYS
            }
            out.servings.append(Serving("vllm", path, find("model:"), settings))
        else:
            out.servings.extend(kubernetes_servings(data, path, find))
            out.kind = out.kind or ("kubernetes" if "kind" in data or "apiVersion" in data else None)
    return out


_COMPOSE_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate_compose(data, variables: dict, depth: int = 0):
    """Compose's interpolation of `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR`
    and `$$`, from the .env beside the file (the shell's environment is unknown)."""
    if depth > 30:
        return data
    if isinstance(data, dict):
        return {k: interpolate_compose(v, variables, depth + 1) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate_compose(v, variables, depth + 1) for v in data]
    if isinstance(data, str) and "$" in data:
        return _COMPOSE_VARIABLE.sub(lambda m: _compose_value(m, variables), data)
    return data


def _compose_value(match, variables: dict) -> str:
    if match.group(0) == "$$":
        return "$"
    name = match.group(1) or match.group(4)
    value = variables.get(name, (None, None))[0]
    operator, default = match.group(2), match.group(3) or ""
    if operator in (":-",) and not value or operator == "-" and value is None:
        return default
    if operator in (":+", "+"):
        return default if value else ""
    return match.group(0) if value is None else str(value)


def _is_vllm_config(path: str, data: dict) -> bool:
    return "vllm" in path.lower() and isinstance(data.get("model"), str)


def kubernetes_servings(data, path: str, find) -> list[Serving]:
    """Servings of every container of a Kubernetes object, with the GPU type its pod
    asks for in node selectors or affinity."""
    found = []
    for container, pod in _containers(data):
        servings = _container(container, path, find)
        _pod_hardware(servings, pod, find)
        found.extend(servings)
    return found


def _containers(data, depth: int = 0, pod=None):
    """(container, pod spec) for every `containers:` entry of a k8s object (Deployment,
    Pod, StatefulSet, KServe, LeaderWorkerSet, ...)."""
    if depth > 12:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from ((c, data) for c in value if isinstance(c, dict))
            else:
                yield from _containers(value, depth + 1, pod)
    elif isinstance(data, list):
        for item in data:
            yield from _containers(item, depth + 1, pod)


_GPU_LABELS = (
    "cloud.google.com/gke-accelerator",
    "nvidia.com/gpu.product",
    "karpenter.k8s.aws/instance-gpu-name",
    "accelerator",
    "gpu-type",
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
)


def _pod_hardware(servings: list, pod: dict, find) -> None:
    from hfcheck.formats.hardware import Hardware, gpu_type, instance_type

    labels = []
    selector = pod.get("nodeSelector")
    if isinstance(selector, dict):
        labels.extend((str(k), v) for k, v in selector.items())
    for term in _affinity_terms(pod.get("affinity")):
        for expression in term.get("matchExpressions") or []:
            if isinstance(expression, dict) and isinstance(expression.get("values"), list) and expression.get("operator", "In") == "In":
                labels.extend((str(expression.get("key")), v) for v in expression["values"][:8])
    for key, value in labels:
        if key not in _GPU_LABELS:
            continue
        known = gpu_type(value) if "instance-type" not in key else None
        count = None
        if "instance-type" in key:
            instance = instance_type(value)
            known, count = (instance[:2], instance[2]) if instance else (None, None)
        if known is None:
            continue
        for serving in servings:
            gpus = serving.gpus.value if serving.gpus else count
            serving.hardware = Hardware(gpus, known[0], known[1], f"nodeSelector {key}: {value}", find(str(value)))
        return


def _affinity_terms(affinity):
    try:
        terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    except (KeyError, TypeError):
        return []
    return [t for t in terms if isinstance(t, dict)] if isinstance(terms, list) else []


def _words(value) -> list:
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float))]
    if isinstance(value, str):
        return _split(value) or []
    return []


def serving_of_container(image: str, words: list, env: dict, path: str, find, line) -> Serving | None:
    """The server a container runs, decided from its image, command and args together:
    a command that starts a server says so; else the image's own entrypoint, given the
    args (`FROM vllm/vllm-openai` + `CMD ["--model", ...]`); else nothing (a container
    with a MODEL_ID variable is not a server by that alone)."""
    from hfcheck.formats.shell import _simple_commands

    if len(words) > 2 and _is_shell_c(words):
        script_env = dict(env)
        for command in _simple_commands(" ".join(words[2:]), line or 0, script_env):
            serving = from_command(command, script_env, path)
            if serving is not None:
                return _with_image(serving, image, line)
        return None
    serving = from_command(Command(words, line or 0), env, path)
    if serving is None:
        engine = engine_of_image(image) if image else None
        keys = {"tgi": TGI_KEYS, "vllm": VLLM_KEYS}.get(engine, WORKER_KEYS)
        if engine in ("tgi", "vllm", "sglang", "lmdeploy") and (not words or words[0].startswith("-")):
            settings = parse_args(words, keys, lambda _n: line)
            serving = Serving(engine, path, line, {**_env_settings(env, TGI_KEYS), **settings} if engine == "tgi" else settings)
        elif engine == "sagemaker" or engine == "tgi":
            found = from_env(env, path)
            serving = next((s for s in found if s.engine in ("sagemaker", engine)), None)
    if serving is None:
        return None
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible and serving.gpus is None and re.fullmatch(r"\d+(,\d+)*", str(visible[0]).strip()):
        serving.gpus = Setting(len(str(visible[0]).split(",")), visible[1])
    for key, setting in list(serving.settings.items()):  # each option's own line, where it can be found
        if setting.line == line:
            spelled = next(
                (
                    w
                    for w in words
                    if isinstance(w, str) and w.startswith("-") and _any_keys(serving.engine).get(_option_name(w.split("=")[0])) == key
                ),
                None,
            )
            own = find(spelled.split("=")[0]) if spelled else None
            if own:
                serving.settings[key] = Setting(setting.value, own)
    return _with_image(serving, image, line)


def _is_shell_c(words: list) -> bool:
    """`sh -c`, `/bin/bash -exc`, `bash -lc` ...: a shell given a script to run."""
    return words[0].rsplit("/", 1)[-1] in ("sh", "bash", "dash", "zsh") and re.fullmatch(r"-[a-z]*c[a-z]*", words[1]) is not None


def _any_keys(engine: str) -> dict:
    return {"tgi": TGI_KEYS, "vllm": VLLM_KEYS}.get(engine, WORKER_KEYS)


def _with_image(serving: Serving, image: str, line) -> Serving:
    if image and serving.image is None:
        serving.image = Setting(image, line)
    return serving


_K8S_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_k8s(word: str, env: dict) -> str:
    """Kubernetes' `$(VAR)` in command/args, from the container's env; `$$` escapes."""
    return _K8S_REFERENCE.sub(lambda m: "$" if m.group(0) == "$$" else env[m.group(1)][0] if m.group(1) in env else m.group(0), word)


def _container(container: dict, path: str, find) -> list[Serving]:
    image = str(container.get("image", ""))
    env = {}
    for item in container.get("env") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and "value" in item:
            env[item["name"]] = (expand_k8s(str(item["value"]), env), find(item["name"]))
    words = [expand_k8s(w, env) for w in _words(container.get("command")) + _words(container.get("args"))]
    line = find(image) if image else find("containers:")
    serving = serving_of_container(image, words, env, path, find, line) or _hf_download(words, path, find, line)
    if serving is None:
        return []
    resources = container.get("resources")
    limits = (resources.get("limits") or resources.get("requests") or {}) if isinstance(resources, dict) else {}
    gpus = next((limits.get(k) for k in ("nvidia.com/gpu", "amd.com/gpu") if isinstance(limits, dict) and k in limits), None)
    if isinstance(gpus, (int, str)) and str(gpus).isdigit():
        serving.gpus = Setting(int(gpus), find("nvidia.com/gpu") or find("amd.com/gpu"))
    return [serving]


def _hf_download(words: list, path: str, find, line) -> Serving | None:
    """A container that fetches a Hub model by an `hf://org/name[:revision]` argument
    (KServe's storage initializer, download jobs): it decides which weights are served."""
    for word in words:
        if word.startswith("hf://"):
            model, _, revision = word[5:].partition(":")
            settings = {"model": Setting(model.strip("/"), find(word) or line)}
            if revision:
                settings["revision"] = Setting(revision, find(word) or line)
            return Serving("hf-download", path, find(word) or line, settings)
    return None


def _compose_service(service: dict, path: str, find) -> list[Serving]:
    image = str(service.get("image", ""))
    env = {}
    environment = service.get("environment")
    if isinstance(environment, dict):
        env = {str(k): (str(v), find(f"{k}")) for k, v in environment.items() if v is not None}
    elif isinstance(environment, list):
        for item in environment:
            if isinstance(item, str) and "=" in item:
                name, _, value = item.partition("=")
                env[name] = (value, find(name))
    words = _words(service.get("entrypoint")) + _words(service.get("command"))
    line = find(image) if image else None
    serving = serving_of_container(image, words, env, path, find, line)
    if serving is None:
        return []
    count = _compose_gpus(service)
    if count is not None:
        serving.gpus = Setting(count, find("count:") or find("device_ids"))
    return [serving]


def _compose_gpus(service: dict) -> int | None:
    try:
        devices = service["deploy"]["resources"]["reservations"]["devices"]
    except (KeyError, TypeError):
        return None
    for device in devices if isinstance(devices, list) else []:
        if isinstance(device, dict):
            if type(device.get("count")) is int:
                return device["count"]
            if isinstance(device.get("device_ids"), list):
                return len(device["device_ids"])
    return None
