"""Deployment platforms that describe a model server in their own YAML: KServe
InferenceService / LLMInferenceService, KubeAI Model, KubeRay RayService (serveConfigV2),
Ray Serve LLM / RayLLM model configs, dstack and SkyPilot tasks, Replicate cog.yaml and
BentoML bentofile.yaml. Each reader turns its file into the same Servings, shell
commands and package lists as the compose and Kubernetes readers, so every rule works on
them unchanged. Limits: the YAML parser's, and nesting depth."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from hfcheck.formats.serving import VLLM_KEYS, Serving, Setting, _option_name, kubernetes_servings, parse_args, serving_of_container

KSERVE_KEYS = {**VLLM_KEYS, "model_id": "model", "model_revision": "revision"}
RAY_ENGINE_KEYS = {"tensor_parallel_size": "tp", "max_model_len": "max_len", "trust_remote_code": "trust_remote_code", "dtype": "dtype", "quantization": "quantize",
                   "gpu_memory_utilization": "gpu_util", "revision": "revision", "rope_scaling": "rope_scaling", "hf_overrides": "hf_overrides", "cpu_offload_gb": "cpu_offload_gb"}  # fmt: skip


_MODEL_KEY = re.compile(r"(?i)((\w+_)?model(_\d+)?(_(id|name|source))?)")


def hf_uri(uri) -> tuple[str | None, str | None]:
    """`hf://org/name[:revision]` (KServe, KubeAI) -> (model id, revision)."""
    if not isinstance(uri, str) or not uri.startswith("hf://"):
        return None, None
    model, _, revision = uri[5:].partition(":")
    return model.strip("/") or None, revision or None


def read(data: dict, path: str, find, out) -> bool:
    """Fill `out` (serving.DeployYaml) when `data` is a platform file; False when not."""
    kind = str(data.get("kind", ""))
    api = str(data.get("apiVersion", ""))
    name = PurePosixPath(path).name
    for test, reader, label in (
        (api.startswith("serving.kserve.io") and kind in ("InferenceService", "LLMInferenceService"), _kserve, "kserve"),
        (api.startswith("kubeai.org") and kind == "Model", _kubeai, "kubeai"),
        (
            kind == "RayService" or "serveConfigV2" in (data.get("spec") or {} if isinstance(data.get("spec"), dict) else {}),
            _rayservice,
            "rayservice",
        ),
        (
            "applications" in data
            and isinstance(data.get("applications"), list)
            or "model_loading_config" in data
            or "engine_config" in data
            and "deployment_config" in data,
            _ray_config,
            "ray-llm",
        ),
        (name == "cog.yaml" and isinstance(data.get("build"), dict), _cog, "cog"),
        (name.startswith("bentofile") and ("service" in data or "python" in data), _bentofile, "bentoml"),
        (data.get("type") in ("service", "task", "dev-environment") and ("commands" in data or "resources" in data), _dstack, "dstack"),
        (
            ("run" in data or "setup" in data)
            and any(k in data for k in ("resources", "envs", "num_nodes", "workdir", "file_mounts", "service")),
            _skypilot,
            "skypilot",
        ),
    ):
        if test:
            out.kind = label
            reader(data, path, find, out)
            return True
    return False


def _kserve(data: dict, path: str, find, out) -> None:
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    out.servings.extend(kubernetes_servings(spec, path, find))  # custom containers
    if data.get("kind") == "LLMInferenceService":
        model_spec = spec.get("model") if isinstance(spec.get("model"), dict) else {}
        model, revision = hf_uri(model_spec.get("uri"))
        if model and not out.servings:
            settings = {"model": Setting(model, find(str(model_spec.get("uri"))))}
            if revision:
                settings["revision"] = Setting(revision, find(str(model_spec.get("uri"))))
            parallelism = spec.get("parallelism") if isinstance(spec.get("parallelism"), dict) else {}
            if str(parallelism.get("tensor", "")).isdigit():
                settings["tp"] = Setting(int(parallelism["tensor"]), find("tensor:"))
            out.servings.append(Serving("vllm", path, find("uri:"), settings))
        elif model:
            for serving in out.servings:
                serving.settings.setdefault("model", Setting(model, find(str(model_spec.get("uri")))))
        return
    predictor = spec.get("predictor") if isinstance(spec.get("predictor"), dict) else {}
    model_spec = predictor.get("model") if isinstance(predictor.get("model"), dict) else None
    if model_spec is None:
        return
    fmt = model_spec.get("modelFormat")
    if not (isinstance(fmt, dict) and str(fmt.get("name", "")).lower() == "huggingface"):
        return
    args = [str(a) for a in model_spec.get("args") or [] if isinstance(a, (str, int, float))]
    settings = parse_args(args, KSERVE_KEYS, lambda _n: None)
    for key, setting in list(settings.items()):
        spelled = next((a.split("=")[0] for a in args if a.startswith("-") and KSERVE_KEYS.get(_option_name(a.split("=")[0])) == key), None)
        settings[key] = Setting(setting.value, find(spelled) if spelled else find("args:"))
    model, revision = hf_uri(model_spec.get("storageUri"))
    if model:
        settings.setdefault("model", Setting(model, find("storageUri")))
        if revision:
            settings.setdefault("revision", Setting(revision, find("storageUri")))
    serving = Serving("kserve", path, find("modelFormat") or find("predictor:"), settings)
    resources = model_spec.get("resources") if isinstance(model_spec.get("resources"), dict) else {}
    limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
    if str(limits.get("nvidia.com/gpu", "")).isdigit():
        serving.gpus = Setting(int(limits["nvidia.com/gpu"]), find("nvidia.com/gpu"))
    out.servings.append(serving)


def _kubeai(data: dict, path: str, find, out) -> None:
    from hfcheck.formats.hardware import Hardware, gpu_type

    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    model, revision = hf_uri(spec.get("url"))
    if not model:
        return
    engine = str(spec.get("engine", "VLLM")).lower()
    args = [str(a) for a in spec.get("args") or [] if isinstance(a, (str, int, float))]
    settings = parse_args(args, VLLM_KEYS, lambda n: find(n))
    settings["model"] = Setting(model, find("url:"))
    if revision:
        settings["revision"] = Setting(revision, find("url:"))
    serving = Serving("vllm" if engine == "vllm" else engine, path, find("url:"), settings)
    profile = spec.get("resourceProfile")
    if isinstance(profile, str) and ":" in profile:
        gpu, _, count = profile.rpartition(":")
        known = gpu_type(gpu.replace("nvidia-gpu-", "").replace("amd-gpu-", ""))
        if count.isdigit():
            serving.gpus = Setting(int(count), find("resourceProfile"))
            if known:
                serving.hardware = Hardware(int(count), known[0], known[1], f"KubeAI resourceProfile {profile}", find("resourceProfile"))
    out.servings.append(serving)


def _rayservice(data: dict, path: str, find, out) -> None:
    from hfcheck.formats.yaml_doc import parse_yaml

    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    config = spec.get("serveConfigV2")
    if isinstance(config, str):
        inner = parse_yaml(config[:1_000_000])
        if inner.error:
            out.error = f"invalid YAML in serveConfigV2: {inner.error.message}"
        elif isinstance(inner.data, dict):
            _ray_config(inner.data, path, find, out)
    elif isinstance(config, dict):
        _ray_config(config, path, find, out)
    _ray_cluster_hardware(spec.get("rayClusterConfig"), out.servings, find)


def _ray_cluster_hardware(cluster, servings: list, find) -> None:
    """The GPU type of the Ray cluster's GPU worker pods (node selector, affinity) for
    the applications it serves, unless a model config names its own accelerator."""
    from hfcheck.formats.serving import Serving as _Serving
    from hfcheck.formats.serving import _containers, _pod_hardware

    if not isinstance(cluster, dict) or not servings:
        return
    for container, pod in _containers(cluster):
        limits = (container.get("resources") or {}).get("limits") if isinstance(container.get("resources"), dict) else None
        if not isinstance(limits, dict) or "nvidia.com/gpu" not in limits:
            continue
        probe = _Serving("ray", "", None)
        _pod_hardware([probe], pod, find)
        if probe.hardware is not None:
            for serving in servings:
                if serving.hardware is None:
                    serving.hardware = probe.hardware
            return


def _ray_config(data: dict, path: str, find, out) -> None:
    """Ray Serve config (applications with runtime_env, args) and Ray Serve LLM /
    RayLLM model configs (model_loading_config + engine_kwargs, engine_config)."""
    for app in data.get("applications") or [] if isinstance(data.get("applications"), list) else []:
        if not isinstance(app, dict):
            continue
        runtime_env = app.get("runtime_env") if isinstance(app.get("runtime_env"), dict) else {}
        for package in runtime_env.get("pip") or [] if isinstance(runtime_env.get("pip"), list) else []:
            if isinstance(package, str):
                out.packages.append((package, find(package)))
        args = app.get("args") if isinstance(app.get("args"), dict) else {}
        for llm in _llm_configs(args):
            out.servings.append(_ray_llm(llm, path, find))
        env = runtime_env.get("env_vars") if isinstance(runtime_env.get("env_vars"), dict) else {}
        for key, value in [*args.items(), *env.items()]:
            # model / model_id / MODEL_NAME / MODEL_1_ID: what the app's code loads
            if not _MODEL_KEY.fullmatch(str(key)) or not isinstance(value, str) or "/" not in value:
                continue
            if not any(s.get("model") == value for s in out.servings):
                out.servings.append(Serving("ray-serve", path, find(value), {"model": Setting(value, find(value))}))
    for llm in _llm_configs(data):
        out.servings.append(_ray_llm(llm, path, find))


def _llm_configs(data: dict) -> list:
    found = [data] if "model_loading_config" in data or "engine_config" in data else []
    configs = data.get("llm_configs")
    if isinstance(configs, list):
        found.extend(c for c in configs if isinstance(c, dict))
    return found


def _ray_llm(llm: dict, path: str, find) -> Serving:
    loading = llm.get("model_loading_config") if isinstance(llm.get("model_loading_config"), dict) else {}
    engine = llm.get("engine_config") if isinstance(llm.get("engine_config"), dict) else {}  # RayLLM (before Ray Serve LLM)
    kwargs = (
        llm.get("engine_kwargs")
        if isinstance(llm.get("engine_kwargs"), dict)
        else engine.get("engine_kwargs")
        if isinstance(engine.get("engine_kwargs"), dict)
        else {}
    )
    source = loading.get("model_source") or loading.get("model_id") or engine.get("hf_model_id") or engine.get("model_id")
    if isinstance(source, dict):  # model_source: {bucket_uri: ...}: not a Hub id
        source = None
    settings = {}
    if isinstance(source, str):
        settings["model"] = Setting(source, find(source))
    for key, value in kwargs.items():
        canonical = RAY_ENGINE_KEYS.get(str(key))
        if canonical:
            settings[canonical] = Setting(value, find(f"{key}:"))
    if "max_total_tokens" in engine:
        settings.setdefault("max_len", Setting(engine["max_total_tokens"], find("max_total_tokens")))
    serving = Serving("vllm", path, find("model_loading_config") or find("engine_config") or find(str(source)), settings)
    accelerator = llm.get("accelerator_type")
    if isinstance(accelerator, str):
        from hfcheck.formats.hardware import Hardware, gpu_type

        known = gpu_type(accelerator)
        if known is not None:
            tp = settings.get("tp")
            gpus = tp.value if tp is not None and isinstance(tp.value, int) else None
            serving.hardware = Hardware(gpus, known[0], known[1], f"Ray accelerator_type: {accelerator}", find("accelerator_type"))
    return serving


def _script_commands(script, find, env: dict) -> list:
    """Shell commands of a YAML block (`run: |`, `commands: [...]`), each on the line of
    the file it comes from."""
    from hfcheck.formats.shell import parse_shell

    lines = script if isinstance(script, list) else [script] if isinstance(script, str) else []
    commands = []
    for block in lines[:200]:
        if not isinstance(block, str):
            continue
        first_line = next((line.strip() for line in block.splitlines() if line.strip()), None)
        first = find(first_line) if first_line else None
        offset = next((i for i, line in enumerate(block.splitlines()) if line.strip()), 0)
        for command in parse_shell(block, env).commands:
            line = None if first is None else first + command.line - 1 - offset
            commands.append(type(command)(command.words, line or 0))
    return commands


def _env_of(value, find) -> dict:
    env = {}
    if isinstance(value, dict):
        env = {str(k): (str(v), find(f"{k}")) for k, v in value.items() if v is not None and isinstance(v, (str, int, float, bool))}
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str) and "=" in item:
                name, _, v = item.partition("=")
                env[name.strip()] = (v, find(item))
    return env


def _servings_of_commands(commands: list, env: dict, path: str, image: str | None) -> list:
    from hfcheck.formats.serving import from_command

    found = []
    for command in commands:
        serving = from_command(command, env, path)
        if serving is not None:
            if image:
                serving.image = Setting(image, command.line)
            found.append(serving)
    return found


def _with_hardware(servings: list, spec, label: str, line) -> None:
    from hfcheck.formats.hardware import Hardware, accelerator_spec

    parsed = accelerator_spec(spec)
    if parsed is None:
        return
    name, memory, count = parsed
    for serving in servings:
        serving.hardware = Hardware(count or 1, name, memory, f"{label} {spec}", line)
        if count and serving.gpus is None:
            serving.gpus = Setting(count, line)


def _dstack(data: dict, path: str, find, out) -> None:
    env = _env_of(data.get("env"), find)
    commands = _script_commands(data.get("commands"), find, env)
    out.commands.extend(commands)
    servings = _servings_of_commands(commands, env, path, data.get("image") if isinstance(data.get("image"), str) else None)
    image = data.get("image")
    if not servings and isinstance(image, str):
        serving = serving_of_container(image, [], env, path, find, find("image:"))
        servings = [serving] if serving else []
    resources = data.get("resources") if isinstance(data.get("resources"), dict) else {}
    if "gpu" in resources:
        _with_hardware(servings, resources["gpu"], "dstack resources.gpu:", find("gpu:"))
    out.servings.extend(servings)


def _skypilot(data: dict, path: str, find, out) -> None:
    env = _env_of(data.get("envs"), find)
    setup = _script_commands(data.get("setup"), find, env)
    run = _script_commands(data.get("run"), find, env)
    out.commands.extend(setup + run)
    servings = _servings_of_commands(run, env, path, None)
    resources = data.get("resources") if isinstance(data.get("resources"), dict) else {}
    if "accelerators" in resources:
        _with_hardware(servings, resources["accelerators"], "SkyPilot resources.accelerators:", find("accelerators"))
    out.servings.extend(servings)


def _cog(data: dict, path: str, find, out) -> None:
    build = data["build"]
    for package in build.get("python_packages") or [] if isinstance(build.get("python_packages"), list) else []:
        if isinstance(package, str):
            out.packages.append((package, find(package)))
    out.commands.extend(_script_commands(build.get("run") if isinstance(build.get("run"), list) else None, find, {}))


def _bentofile(data: dict, path: str, find, out) -> None:
    python = data.get("python") if isinstance(data.get("python"), dict) else {}
    for package in python.get("packages") or [] if isinstance(python.get("packages"), list) else []:
        if isinstance(package, str):
            out.packages.append((package, find(package)))


def is_worth_reading(text: str) -> bool:
    """Cheap test before a YAML parse: does the text name anything these readers use?"""
    return bool(
        re.search(
            r"serving\.kserve\.io|kubeai\.org|RayService|serveConfigV2|model_loading_config|engine_config|llm_configs|accelerators:|python_packages:|^type: *(service|task)|^run: *\|",
            text,
            re.M,
        )
    )
