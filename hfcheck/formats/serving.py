"""Serving configurations of text-generation-inference (TGI), vLLM and the SageMaker
Hugging Face containers, normalised to one set of keys, from launcher command lines,
environment variables, Kubernetes manifests, docker-compose files and vLLM's YAML
config. Every value keeps the line it came from."""

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
}  # fmt: skip
SAGEMAKER_ENV = {"HF_MODEL_ID": "model", "HF_MODEL_REVISION": "revision", "SM_NUM_GPUS": "tp", "HF_TASK": "task", "HF_MODEL_TRUST_REMOTE_CODE": "trust_remote_code"}
TGI_IMAGES = ("text-generation-inference", "huggingface-pytorch-tgi-inference", "tgi-inference")
VLLM_IMAGES = ("vllm/vllm-openai", "vllm-openai", "/vllm:", "vllm/vllm")


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


def from_command(command: Command, env: dict, path: str) -> Serving | None:
    """A TGI or vLLM server started by one command line (or `docker run` of their images)."""
    words = [str(w) for w in command.words]
    line = command.line
    def at(_name):
        return line

    for i, word in enumerate(words):
        base = word.rsplit("/", 1)[-1]
        if base == "text-generation-launcher":
            return Serving("tgi", path, line, {**_env_settings(env, TGI_KEYS), **parse_args(words[i + 1 :], TGI_KEYS, at)})
        if base == "vllm" and i + 1 < len(words) and words[i + 1] == "serve":
            settings = parse_args(words[i + 2 :], VLLM_KEYS, at)
            if i + 2 < len(words) and not words[i + 2].startswith("-"):
                settings.setdefault("model", Setting(words[i + 2], line))
            return Serving("vllm", path, line, settings)
        if word in ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server"):
            return Serving("vllm", path, line, parse_args(words[i + 1 :], VLLM_KEYS, at))
    if words and words[0] == "docker" and "run" in words[:3]:
        run_env = dict(env)
        for i, word in enumerate(words):
            if word in ("-e", "--env") and i + 1 < len(words) and "=" in words[i + 1]:
                name, _, value = words[i + 1].partition("=")
                run_env[name] = (value, line)
            if any(image in word for image in TGI_IMAGES):
                return Serving("tgi", path, line, {**_env_settings(run_env, TGI_KEYS), **parse_args(words[i + 1 :], TGI_KEYS, at)})
            if any(image in word for image in VLLM_IMAGES):
                return Serving("vllm", path, line, parse_args(words[i + 1 :], VLLM_KEYS, at))
    return None


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


def parse_yaml_serving(text: str, path: str) -> tuple[list[Serving], str | None]:
    """Servings in a Kubernetes manifest (any workload kind, multi-document), a
    docker-compose file or a vLLM YAML config; (servings, parse error)."""
    from hfcheck.formats.yaml_doc import parse_yaml

    found, error = [], None
    for first, document in _documents(text):
        doc = parse_yaml(document, line_offset=first - 1)
        if doc.error:
            error = f"invalid YAML{f' at line {doc.error.line}' if doc.error.line else ''}: {doc.error.message}"
            continue
        find = _Finder(document, first)
        data = doc.data
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("services"), dict):
            for service in data["services"].values():
                if isinstance(service, dict):
                    found.extend(_compose_service(service, path, find))
        elif "model" in data and any(_option_name(str(k)) in VLLM_KEYS for k in data if k != "model") or _is_vllm_config(path, data):
            settings = {VLLM_KEYS[_option_name(str(k))]: Setting(v, find(f"{k}:")) for k, v in data.items() if _option_name(str(k)) in VLLM_KEYS}
            found.append(Serving("vllm", path, find("model:"), settings))
        else:
            for container in _containers(data):
                found.extend(_container(container, path, find))
    return found, error


def _is_vllm_config(path: str, data: dict) -> bool:
    return "vllm" in path.lower() and isinstance(data.get("model"), str)


def _containers(data, depth: int = 0):
    """Every `containers:` entry of a k8s object (Deployment, Pod, StatefulSet, KServe, ...)."""
    if depth > 12:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (c for c in value if isinstance(c, dict))
            else:
                yield from _containers(value, depth + 1)
    elif isinstance(data, list):
        for item in data:
            yield from _containers(item, depth + 1)


def _words(value) -> list:
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float))]
    if isinstance(value, str):
        return _split(value) or []
    return []


def _serving_from(image: str, words: list, env: dict, path: str, find, line) -> list[Serving]:
    command = Command(words, line)
    serving = from_command(command, env, path)
    if serving is None and any(i in image for i in TGI_IMAGES):
        serving = Serving("tgi", path, line, {**_env_settings(env, TGI_KEYS), **parse_args(words, TGI_KEYS, lambda _n: line)})
    if serving is None and any(i in image for i in VLLM_IMAGES):
        serving = Serving("vllm", path, line, parse_args(words, VLLM_KEYS, lambda _n: line))
    if serving is not None:
        # each option's own line, where it can be found
        for key, setting in list(serving.settings.items()):
            if setting.line == line:
                spelled = next((w for w in words if isinstance(w, str) and w.startswith("-") and (TGI_KEYS if serving.engine == "tgi" else VLLM_KEYS).get(_option_name(w.split("=")[0])) == key), None)
                own = find(spelled.split("=")[0]) if spelled else None
                if own:
                    serving.settings[key] = Setting(setting.value, own)
        return [serving]
    return from_env(env, path)


def _container(container: dict, path: str, find) -> list[Serving]:
    image = str(container.get("image", ""))
    env = {}
    for item in container.get("env") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and "value" in item:
            env[item["name"]] = (str(item["value"]), find(item["name"]))
    words = _words(container.get("command")) + _words(container.get("args"))
    line = find(image) if image else find("containers:")
    found = _serving_from(image, words, env, path, find, line)
    limits = ((container.get("resources") or {}).get("limits") or {}) if isinstance(container.get("resources"), dict) else {}
    gpus = limits.get("nvidia.com/gpu") if isinstance(limits, dict) else None
    for serving in found:
        if isinstance(gpus, (int, str)) and str(gpus).isdigit():
            serving.gpus = Setting(int(gpus), find("nvidia.com/gpu"))
    return found


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
                env[name] = (value, find(item))
    words = _words(service.get("entrypoint")) + _words(service.get("command"))
    line = find(image) if image else None
    found = _serving_from(image, words, env, path, find, line)
    for serving in found:
        count = _compose_gpus(service)
        if count is not None:
            serving.gpus = Setting(count, find("count:") or find("device_ids"))
    return found


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
