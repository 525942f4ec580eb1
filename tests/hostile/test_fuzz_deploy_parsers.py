"""Property tests for the deployment parsers: whatever a requirements file, pyproject,
Pipfile, setup.cfg, environment.yml, lock file, Dockerfile, shell script, .env file,
serving YAML or Python module holds, the parser returns a result (never raises) and the
same one twice. Inputs are spliced from the tokens real files are made of, so the
examples reach past the first syntax check."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hfcheck.formats.dependency_files import LOCK_FILES, parse_environment_yml, parse_lock, parse_pipfile, parse_pyproject, parse_setup_cfg
from hfcheck.formats.model_loads import scan_loads
from hfcheck.formats.requirements import parse_pip_args, parse_requirements
from hfcheck.formats.serving import parse_yaml_serving
from hfcheck.formats.shell import parse_dockerfile, parse_env_file, parse_shell
from hfcheck.formats.hardware import accelerator_spec, gpu_type, instance_type
from hfcheck.formats.helm import render
from hfcheck.formats.notebook import parse_notebook
from hfcheck.formats.serving import parse_deploy_yaml
from hfcheck.formats.triton import parse_config_pbtxt, parse_model_json

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spliced(*tokens: str, max_size: int = 40):
    """Text made of real-file tokens and random characters."""
    return st.lists(st.sampled_from(tokens) | st.text(max_size=3), max_size=max_size).map("".join)


REQUIREMENTS = spliced(
    "transformers",
    "torch",
    "==",
    ">=",
    "~=",
    "4.46.0",
    ",",
    "<5",
    "[torch]",
    " ; ",
    'sys_platform == "linux"',
    "\n",
    " \\\n",
    "#",
    "-r ",
    "-c ",
    "--hash=sha256:aa",
    "-e ",
    "git+https://x/y@abc#egg=peft",
    "--index-url ",
    "https://x",
    " ",
    "*",
    "@ https://x/a.whl",
    "\t",
    "\r\n",
)
TOML = spliced(
    "[project]",
    "[tool.poetry.dependencies]",
    "[packages]",
    "[[package]]",
    "\n",
    "dependencies = [",
    "]",
    '"transformers>=4.40"',
    ",",
    "name = ",
    '"transformers"',
    "version = ",
    '"4.46.0"',
    "transformers = ",
    '"^4.40"',
    '{version = "1"}',
    "python = ",
    "=",
    '"',
    "'",
    "{",
    "}",
    "[",
    " ",
)
INI_YAML = spliced(
    "[options]",
    "\ninstall_requires =",
    "\n    ",
    "transformers>=4.40",
    "name: svc",
    "\ndependencies:",
    "\n  - ",
    "pip:",
    "python=3.11",
    "transformers=4.46",
    "conda-forge::",
    ":",
    "- ",
    "\n",
    "  ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "!!python/object:os.system",
    "'",
    '"',
)
SHELL = spliced(
    "FROM python:3.11\n",
    "RUN ",
    "pip install ",
    "python -m pip install -U ",
    "transformers",
    "==4.46.0",
    " && ",
    " \\\n",
    "ENV ",
    "ARG ",
    "V=1",
    "${V}",
    "$V",
    "CMD ",
    '["python", "serve.py"]',
    "text-generation-launcher ",
    "vllm serve ",
    "--model-id ",
    "--revision ",
    "MODEL_ID=",
    "export ",
    "'",
    '"',
    ";",
    "|",
    "\n",
    " ",
    "$(",
    ")",
    "`",
    "#",
    "=",
    "\\",
)
SERVING_YAML = spliced(
    "services:\n",
    "  tgi:\n",
    "    image: ghcr.io/huggingface/text-generation-inference:2.4\n",
    "    command: --model-id x --num-shard 2\n",
    "    environment:\n",
    "      - MODEL_ID=acme/m\n",
    "      MAX_TOTAL_TOKENS: 4096\n",
    "containers:\n",
    "  - image: vllm/vllm-openai\n",
    "    args: [--model, m, --tensor-parallel-size, '2']\n",
    "model: m\n",
    "tensor-parallel-size: 2\n",
    "---\n",
    "kind: Deployment\n",
    "spec:\n",
    "  ",
    "- ",
    ": ",
    "&a ",
    "*a",
    "{",
    "[",
    "]",
    "}",
    "\n",
)
PYTHON = spliced(
    "from transformers import AutoModelForCausalLM, pipeline, BitsAndBytesConfig\n",
    "PeftModel.from_pretrained(m, ",
    "HuggingFaceModel(env={'HF_MODEL_ID': 'a/b'})",
    ".deploy(instance_type=",
    "LLM(model=",
    "self.pipeline(",
    "torch.device('cuda', 3)",
    "import transformers as t\n",
    "t.pipeline(",
    "import torch\n",
    "M = ",
    "'acme/m'",
    "{'': 0}",
    "AutoModel.from_pretrained(",
    "pipeline(",
    "model=",
    "device_map=",
    "'auto'",
    "torch_dtype=",
    "torch.float16",
    "quantization_config=",
    "BitsAndBytesConfig(load_in_4bit=True)",
    "revision=",
    "trust_remote_code=True",
    "model_kwargs={",
    "**kw",
    ", ",
    ")",
    "}",
    "\n",
    "M",
    "(",
    "[",
    "]",
    ".to('cuda')",
    "x = ",
    "lambda: ",
    "    ",
)


@FAST
@given(REQUIREMENTS)
@example("# \\\n")  # a comment continued on the last line (found by this test)
def test_requirements(text):
    first = parse_requirements(text)
    assert repr(first) == repr(parse_requirements(text))
    parse_pip_args(text.split(), 1)


@FAST
@given(TOML, INI_YAML)
@example("", "name: sc\ndependencies: 40\n")  # found by fuzz/fuzz_parsers.py ini
@example("package = 5\n", "")
def test_dependency_files(toml_text, other_text):
    for parse, text in (
        (parse_pyproject, toml_text),
        (parse_pipfile, toml_text),
        (parse_setup_cfg, other_text),
        (parse_environment_yml, other_text),
    ):
        assert repr(parse(text)) == repr(parse(text))
    for name in LOCK_FILES:
        assert repr(parse_lock(name, toml_text)) == repr(parse_lock(name, toml_text))


@FAST
@given(SHELL)
def test_shell_dockerfile_env(text):
    for parse in (parse_shell, parse_dockerfile, parse_env_file):
        assert repr(parse(text)) == repr(parse(text))


@FAST
@given(SERVING_YAML, st.sampled_from(["docker-compose.yml", "k8s/deploy.yaml", "vllm-config.yaml"]))
def test_serving_yaml(text, path):
    assert repr(parse_yaml_serving(text, path)) == repr(parse_yaml_serving(text, path))


PLATFORM_YAML = spliced(
    "apiVersion: serving.kserve.io/v1beta1\n",
    "kind: InferenceService\n",
    "kind: LLMInferenceService\n",
    "apiVersion: kubeai.org/v1\n",
    "kind: Model\n",
    "kind: RayService\n",
    "spec:\n",
    "  predictor:\n    model:\n      modelFormat:\n        name: huggingface\n",
    "      args: [--model_id=a/b]\n",
    "  url: hf://a/b:rev\n",
    "  resourceProfile: nvidia-gpu-l4:1\n",
    "  serveConfigV2: |\n",
    "    applications:\n",
    "    - runtime_env: {pip: [x]}\n",
    "      args: {llm_configs: [{model_loading_config: {model_source: a/b}}]}\n",
    "type: service\n",
    "commands:\n",
    "  - vllm serve $M\n",
    "resources:\n",
    "  gpu: 24GB\n",
    "  accelerators: {A100: 2}\n",
    "run: |\n",
    "  python -m vllm.entrypoints.openai.api_server --model x\n",
    "envs:\n",
    "  M: a/b\n",
    "build:\n",
    "  python_packages: [torch]\n",
    "python:\n  packages: [vllm]\n",
    "services:\n",
    "  x:\n    image: vllm/vllm-openai\n",
    "    command: --model ${M:-a/b} $$\n",
    "      containers:\n",
    "      - image: python\n        command: [sh, -c]\n        args: ['vllm serve $(M)']\n",
    "nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}\n",
    "---\n",
    "  ",
    "- ",
    ": ",
    "{",
    "[",
    "\n",
)
HELM = spliced(
    "{{ .Values.a }}",
    "{{- if .Values.b }}",
    "{{ end }}",
    "{{ toYaml .Values | nindent 4 }}",
    '{{ .Values.a | default "x" | quote }}',
    "{{",
    "}}",
    "|",
    "\n",
    "  ",
    "image: ",
    ".Values.",
    "-",
)
NOTEBOOK = spliced(
    '{"cells": [',
    '{"cell_type": "code", "source": [',
    '"!pip install x\\n"',
    '"%pip install y"',
    '"from transformers import pipeline\\n"',
    "\"pipeline(model='a/b')\"",
    "]}",
    "]",
    "}",
    ",",
    '"',
    "\\",
    "\n",
    " ",
)
PBTXT = spliced(
    'backend: "vllm"\n',
    "instance_group [",
    "{",
    "}",
    "]",
    "gpus: [0, 1]",
    'parameters { key: "a" value: { string_value: "b" } }',
    ":",
    '"',
    "\\",
    "#",
    "\n",
    " ",
    "-1.5",
)
GPU = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["A100:8", "24GB..80GB:1..2", "ml.g5.12xlarge", "nvidia-l4", "H100:80GB:2", ":", "::", "1e99GB"]),
    st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8), st.none()), max_size=4),
    st.lists(st.text(max_size=8), max_size=4),
)


@FAST
@given(PLATFORM_YAML, st.sampled_from(["docker-compose.yml", "k8s/isvc.yaml", "cog.yaml", "bentofile.yaml", "sky.yaml"]))
def test_platform_yaml(text, path):
    first = parse_deploy_yaml(text, path, {"M": ("a/b", 1)})
    assert repr(first) == repr(parse_deploy_yaml(text, path, {"M": ("a/b", 1)}))


@FAST
@given(
    HELM,
    st.dictionaries(
        st.sampled_from(["a", "b", "image"]),
        st.one_of(st.text(max_size=5), st.integers(), st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3)),
        max_size=3,
    ),
)
def test_helm_render(template, values):
    rendered = render(template, values)
    assert len(rendered.splitlines()) >= len(template.splitlines()) - 1 or not template.strip()
    assert render(template, values) == rendered


@FAST
@given(NOTEBOOK, PBTXT, GPU)
def test_notebook_triton_hardware(notebook, pbtxt, gpu):
    assert repr(parse_notebook(notebook)) == repr(parse_notebook(notebook))
    assert repr(parse_config_pbtxt(pbtxt)) == repr(parse_config_pbtxt(pbtxt))
    parse_model_json(pbtxt)
    accelerator_spec(gpu)
    gpu_type(gpu)
    instance_type(gpu)


@FAST
@given(PYTHON)
def test_model_loads(text):
    scan = scan_loads(text)
    assert repr(scan) == repr(scan_loads(text))
    for load in scan.loads:
        load.value("device_map")
        load.line_of("revision")


PACKAGE = st.sampled_from(
    ["transformers", "Transformers", "torch", "accelerate", "huggingface_hub", "safetensors", "tokenizers", "fastapi", "torchvision"]
)
REQUIREMENT = st.tuples(
    PACKAGE,
    st.sampled_from(["", "[torch]", " [a,b]"]),
    st.sampled_from(["", ">=4.40", " >= 1.0, < 99", "~=1.0", "==1.*", "<2", "==1.0.0", " (>=1)", "@ https://x/y.whl"]),
    st.sampled_from(["", ' ; python_version >= "3.9"', ";sys_platform=='linux'"]),
).map("".join)
NOISE = st.sampled_from(["", "# c", "  ", "\\", "'", '"', "[x]", "- ", "=", "$V", "${V}"]) | st.text(max_size=4)
TAIL = st.sampled_from(["", "  # note", " \\", " --hash=sha256:aa"])


def _file_lines(line, noise=NOISE):
    return st.lists(st.one_of(line, line, noise), min_size=1, max_size=6)


QUIET = st.sampled_from(["", "# c", "  # c"])  # noise that keeps TOML/YAML/INI valid


DEPLOY_FILES = st.one_of(
    st.tuples(st.just("requirements.txt"), _file_lines(st.tuples(REQUIREMENT, TAIL).map("".join)).map("\n".join)),
    st.tuples(
        st.just("pyproject.toml"),
        _file_lines(REQUIREMENT.map(lambda r: f'  "{r}",'), QUIET).map(
            lambda ls: "[project]\ndependencies = [\n" + "\n".join(ls) + "\n]\n"
        ),
    ),
    st.tuples(
        st.just("pyproject.toml"),
        _file_lines(
            st.tuples(
                PACKAGE, st.sampled_from(['"*"', '"^1.2"', "'~1'", '{version = ">=1", extras = ["x"]}', '{git = "x"}', '["1", "2"]'])
            ).map(" = ".join),
            QUIET,
        ).map(lambda ls: "[tool.poetry.dependencies]\n" + "\n".join(ls) + "\n"),
    ),
    st.tuples(
        st.just("Pipfile"),
        _file_lines(st.tuples(PACKAGE, st.sampled_from(['"*"', '">=1"', '{version = "*"}'])).map(" = ".join), QUIET).map(
            lambda ls: "[packages]\n" + "\n".join(ls) + "\n"
        ),
    ),
    st.tuples(
        st.just("setup.cfg"),
        _file_lines(REQUIREMENT.map(lambda r: "    " + r), QUIET).map(lambda ls: "[options]\ninstall_requires =\n" + "\n".join(ls) + "\n"),
    ),
    st.tuples(
        st.just("environment.yml"),
        _file_lines(REQUIREMENT.map(lambda r: "  - " + r), QUIET).map(lambda ls: "dependencies:\n" + "\n".join(ls) + "\n"),
    ),
    st.tuples(
        st.sampled_from(["Dockerfile", "setup.sh"]),
        _file_lines(
            st.lists(st.one_of(REQUIREMENT, REQUIREMENT.map(repr), NOISE), min_size=1, max_size=4).map(
                lambda ws: "RUN pip install " + " ".join(ws)
            )
        ).map("\n".join),
    ),
    st.tuples(st.just("requirements.txt"), REQUIREMENTS),
    st.tuples(st.just("pyproject.toml"), TOML),
    st.tuples(st.just("environment.yml"), INI_YAML),
    st.tuples(st.just("Dockerfile"), SHELL),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(DEPLOY_FILES)
def test_pin_fix_never_crashes_and_edits_only_flagged_lines(tmp_path_factory, file):
    """The PIN001/PIN002 fixers on mostly-valid dependency files of every kind: no crash,
    nothing written, and an edit keeps the line count and changes only flagged lines."""
    import json

    from hfcheck.api import check
    from hfcheck.config import load_settings
    from hfcheck.fix import plan_fixes
    from hfcheck.targets import resolve_targets

    name, text = file
    if name == "setup.sh":
        text = text.replace("RUN ", "")
    root = tmp_path_factory.mktemp("pinfuzz")
    (root / "config.json").write_text(json.dumps({"model_type": "llama", "transformers_version": "4.46.0"}))
    (root / name).write_bytes(text.encode("utf-8"))
    settings_ = load_settings(root)
    settings_.select = ["PIN001", "PIN002"]
    plan = plan_fixes(resolve_targets([str(root)])[0], settings_, unsafe=True)
    assert not [o.message for o in plan.outcomes if "fixer failed" in o.message]
    assert (root / name).read_bytes() == text.encode("utf-8")
    if name in plan.edits:
        flagged = {f.line for f in check(root, select=["PIN001", "PIN002"]).findings if f.path == name}
        before, after = text.splitlines(), plan.edits[name].data.decode().splitlines()
        assert len(before) == len(after)
        changed = {number for number, (old, new) in enumerate(zip(before, after), 1) if old != new}
        # a shell command's words may sit on the continuation lines after the flagged one
        assert changed and (min(changed) >= min(flagged) if name in ("Dockerfile", "setup.sh") else changed <= flagged)
