"""Coverage-guided fuzzing of hfcheck's parsers with atheris.

    pip install atheris
    python fuzz/fuzz_parsers.py TARGET -atheris_runs=100000 [corpus_dir]

TARGET is one of: json, yaml, card, safetensors, pickle, requirements, toml (pyproject,
Pipfile, lock files), ini (setup.cfg, environment.yml), shell (scripts, Dockerfiles,
.env), serving (compose/k8s/vLLM YAML), platforms (KServe, KubeAI, Ray, dstack, SkyPilot, cog,
BentoML YAML), helm (template rendering), notebook, triton (config.pbtxt, model.json),
hardware (GPU names), python (model loads, remote code). Any exception that escapes a
parser is a crash atheris reports with the input that caused it. The pickle target also
asserts that no canary file appears (nothing in the input is ever executed).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from hfcheck.formats.card import parse_card
    from hfcheck.formats.json_doc import parse_json
    from hfcheck.formats.safetensors import read_header
    from hfcheck.formats.yaml_doc import parse_yaml
    from hfcheck.formats import dependency_files, hardware, helm, model_loads, notebook, python_code, requirements, serving, shell, triton

CANARY = os.path.join(tempfile.gettempdir(), "hfcheck-fuzz-canary")


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def fuzz_json(data: bytes) -> None:
    doc = parse_json(_text(data))
    doc.line_of("a", 0)


def fuzz_yaml(data: bytes) -> None:
    parse_yaml(_text(data))


def fuzz_card(data: bytes) -> None:
    parse_card(_text(data)).headings()


def fuzz_safetensors(data: bytes) -> None:
    read_header(io.BytesIO(data), len(data))


def fuzz_pickle(data: bytes) -> None:
    from hfcheck.formats.pickle import scan_bytes

    scan_bytes(data)
    if os.path.exists(CANARY):
        raise AssertionError("a pickle input executed code")


def fuzz_requirements(data: bytes) -> None:
    text = _text(data)
    requirements.parse_requirements(text)
    requirements.parse_pip_args(text.split(), 1)


def fuzz_toml(data: bytes) -> None:
    text = _text(data)
    dependency_files.parse_pyproject(text)
    dependency_files.parse_pipfile(text)
    for name in dependency_files.LOCK_FILES:
        dependency_files.parse_lock(name, text)


def fuzz_ini(data: bytes) -> None:
    dependency_files.parse_setup_cfg(_text(data))
    dependency_files.parse_environment_yml(_text(data))


def fuzz_shell(data: bytes) -> None:
    for parse in (shell.parse_shell, shell.parse_dockerfile, shell.parse_env_file):
        doc = parse(_text(data))
        for command in doc.commands:
            serving.from_command(command, doc.env, "x")


def fuzz_serving(data: bytes) -> None:
    serving.parse_yaml_serving(_text(data), "docker-compose.yml")


def fuzz_platforms(data: bytes) -> None:
    text = _text(data)
    for path in ("k8s/isvc.yaml", "cog.yaml", "bentofile.yaml", "docker-compose.yml"):
        serving.parse_deploy_yaml(text, path, {"M": ("a/b", 1)})


def fuzz_helm(data: bytes) -> None:
    text = _text(data)
    values = parse_yaml(text).data
    helm.render(text, values if isinstance(values, dict) else {"a": text[:20]})


def fuzz_notebook(data: bytes) -> None:
    book = notebook.parse_notebook(_text(data))
    model_loads.scan_loads(book.source)


def fuzz_triton(data: bytes) -> None:
    triton.parse_config_pbtxt(_text(data))
    triton.parse_model_json(_text(data))


def fuzz_hardware(data: bytes) -> None:
    text = _text(data)
    hardware.gpu_type(text)
    hardware.instance_type(text)
    hardware.accelerator_spec(text)
    hardware.accelerator_spec(parse_yaml(text).data)


def fuzz_python(data: bytes) -> None:
    model_loads.scan_loads(_text(data))
    python_code.scan_source(_text(data))


TARGETS = {
    "json": fuzz_json,
    "yaml": fuzz_yaml,
    "card": fuzz_card,
    "safetensors": fuzz_safetensors,
    "pickle": fuzz_pickle,
    "requirements": fuzz_requirements,
    "toml": fuzz_toml,
    "ini": fuzz_ini,
    "shell": fuzz_shell,
    "serving": fuzz_serving,
    "platforms": fuzz_platforms,
    "helm": fuzz_helm,
    "notebook": fuzz_notebook,
    "triton": fuzz_triton,
    "hardware": fuzz_hardware,
    "python": fuzz_python,
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [atheris options]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
