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

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spliced(*tokens: str, max_size: int = 40):
    """Text made of real-file tokens and random characters."""
    return st.lists(st.sampled_from(tokens) | st.text(max_size=3), max_size=max_size).map("".join)


REQUIREMENTS = spliced(
    "transformers", "torch", "==", ">=", "~=", "4.46.0", ",", "<5", "[torch]", " ; ", 'sys_platform == "linux"', "\n", " \\\n", "#", "-r ", "-c ",
    "--hash=sha256:aa", "-e ", "git+https://x/y@abc#egg=peft", "--index-url ", "https://x", " ", "*", "@ https://x/a.whl", "\t", "\r\n",
)
TOML = spliced(
    "[project]", "[tool.poetry.dependencies]", "[packages]", "[[package]]", "\n", "dependencies = [", "]", '"transformers>=4.40"', ",", "name = ",
    '"transformers"', "version = ", '"4.46.0"', "transformers = ", '"^4.40"', '{version = "1"}', "python = ", "=", '"', "'", "{", "}", "[", " ",
)
INI_YAML = spliced(
    "[options]", "\ninstall_requires =", "\n    ", "transformers>=4.40", "name: svc", "\ndependencies:", "\n  - ", "pip:", "python=3.11", "transformers=4.46",
    "conda-forge::", ":", "- ", "\n", "  ", "{", "}", "[", "]", "&a ", "*a", "!!python/object:os.system", "'", '"',
)
SHELL = spliced(
    "FROM python:3.11\n", "RUN ", "pip install ", "python -m pip install -U ", "transformers", "==4.46.0", " && ", " \\\n", "ENV ", "ARG ", "V=1", "${V}", "$V",
    "CMD ", '["python", "serve.py"]', "text-generation-launcher ", "vllm serve ", "--model-id ", "--revision ", "MODEL_ID=", "export ", "'", '"', ";", "|",
    "\n", " ", "$(", ")", "`", "#", "=", "\\",
)
SERVING_YAML = spliced(
    "services:\n", "  tgi:\n", "    image: ghcr.io/huggingface/text-generation-inference:2.4\n", "    command: --model-id x --num-shard 2\n", "    environment:\n",
    "      - MODEL_ID=acme/m\n", "      MAX_TOTAL_TOKENS: 4096\n", "containers:\n", "  - image: vllm/vllm-openai\n", "    args: [--model, m, --tensor-parallel-size, '2']\n",
    "model: m\n", "tensor-parallel-size: 2\n", "---\n", "kind: Deployment\n", "spec:\n", "  ", "- ", ": ", "&a ", "*a", "{", "[", "]", "}", "\n",
)
PYTHON = spliced(
    "from transformers import AutoModelForCausalLM, pipeline, BitsAndBytesConfig\n", "import torch\n", "M = ", "'acme/m'", "{'': 0}", "AutoModel.from_pretrained(",
    "pipeline(", "model=", "device_map=", "'auto'", "torch_dtype=", "torch.float16", "quantization_config=", "BitsAndBytesConfig(load_in_4bit=True)",
    "revision=", "trust_remote_code=True", "model_kwargs={", "**kw", ", ", ")", "}", "\n", "M", "(", "[", "]", ".to('cuda')", "x = ", "lambda: ", "    ",
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
    for parse, text in ((parse_pyproject, toml_text), (parse_pipfile, toml_text), (parse_setup_cfg, other_text), (parse_environment_yml, other_text)):
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


@FAST
@given(PYTHON)
def test_model_loads(text):
    scan = scan_loads(text)
    assert repr(scan) == repr(scan_loads(text))
    for load in scan.loads:
        load.value("device_map")
        load.line_of("revision")
