"""Chat template rules (TPL001-TPL004): every sandbox-escape shape is an error, and the
templates in the shapes of popular chat models render in transformers' sandbox and get
no finding. Ground truth for the malicious shapes: each one is rendered, in a child
process, by an unsandboxed Jinja environment (how llama-cpp-python rendered GGUF
templates before CVE-2024-34359 was fixed) under an audit hook that stops at the first
process start, and by transformers' sandbox, which must refuse it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import codes

TEMPLATES = Path(__file__).resolve().parents[1] / "chat_templates"
POPULAR = sorted(TEMPLATES.glob("*.jinja"))

# Shapes that reach os.system/popen when rendered without a sandbox (canary: `true`).
FIRING = {
    "cycler_globals": "{{ cycler.__init__.__globals__.os.system('true') }}",
    "joiner_globals": "{{ joiner.__init__.__globals__.os.popen('true').read() }}",
    "lipsum_globals_item": "{{ lipsum.__globals__['os'].system('true') }}",
    "namespace_globals": "{{ namespace.__init__.__globals__.os.system('true') }}",
    "self_builtins_import": "{{ self.__init__.__globals__.__builtins__.__import__('os').system('true') }}",
    "cve_2024_34359": (
        "{% for c in [].__class__.__base__.__subclasses__() %}{% if c.__name__ == 'catch_warnings' %}"
        "{{ c()._module.__builtins__['__import__']('os').system('true') }}{% endif %}{% endfor %}"
    ),
    "attr_filter": "{{ (lipsum|attr('__globals__'))['os'].system('true') }}",
    "concat_set": "{% set g = '__glo' ~ 'bals__' %}{{ (lipsum|attr(g)).os.system('true') }}",
    "plus_concat": "{{ (lipsum|attr('__glo' + 'bals__')).os.system('true') }}",
    "join_filter": "{{ (lipsum|attr(['__glo', 'bals__']|join)).os.system('true') }}",
    "str_join": "{{ (lipsum|attr(''.join(['__glo', 'bals__']))).os.system('true') }}",
    "format_filter": "{{ (lipsum|attr('%s%sglobals%s%s'|format('_', '_', '_', '_'))).os.system('true') }}",
    "percent_char": "{% set u = '%c'|format(95) %}{{ (lipsum|attr(u ~ u ~ 'globals' ~ u ~ u)).os.system('true') }}",
    "replace_filter": "{{ (lipsum|attr('XXglobalsXX'|replace('X', '_'))).os.system('true') }}",
    "reverse_filter": "{{ (lipsum|attr('__slabolg__'|reverse)).os.system('true') }}",
    "hex_escapes": "{{ lipsum['\\x5f\\x5fglobals\\x5f\\x5f']['os'].system('true') }}",
    "str_format_method": "{{ (lipsum|attr('{0}{0}globals{0}{0}'.format('_'))).os.system('true') }}",
    "map_attr": "{{ ([lipsum]|map(attribute='__globals__')|first).os.system('true') }}",
}
# Shapes that are escapes or hiding but do not start a process by themselves here.
NOT_FIRING = {
    "subclasses_leak": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "computed_attr": "{{ messages|attr(name) }}",
    "format_field_attr": "{{ '{0.__class__}'.format(messages) }}",
    "chr_building": "{{ ()|attr(chr(95) ~ chr(95) ~ 'class' ~ chr(95) ~ chr(95)) }}",
    "builtins_name": "{{ __builtins__['eval']('1') }}",
    "func_globals": "{{ raise_exception.func_globals }}",
    "gadget_method": "{{ cycler.__call__ }}",
    "include_file": "{% include '/etc/passwd' %}",
    "import_macros": "{% import 'other.jinja' as helpers %}{{ helpers.x() }}",
}

RENDER_CHILD = r"""
import json, sys
import jinja2
template = sys.argv[1]
fired = []
class Stop(BaseException):
    pass
def hook(event, args):
    if event in ("os.system", "subprocess.Popen", "os.posix_spawn", "os.exec") and not fired:
        fired.append(event)
        raise Stop(event)
sys.addaudithook(hook)
try:
    jinja2.Environment().from_string(template).render(messages=[{"role": "user", "content": "hi"}])
except Stop:
    pass
except Exception as error:
    fired.append("error: " + type(error).__name__)
print(json.dumps(fired))
"""


def _unsandboxed_render(template: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", RENDER_CHILD, template], capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _sandboxed_render(template: str, **context) -> str:
    from transformers.utils.chat_template_utils import _compile_jinja_template

    return _compile_jinja_template(template).render(**context)


def _repo_with(tmp_path: Path, template: str, where: str = "tokenizer_config.json") -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    if where == "chat_template.jinja":
        (repo / where).write_text(template)
    else:
        (repo / where).write_text(json.dumps({"chat_template": template}))
    return repo


@pytest.mark.parametrize("name", sorted(FIRING))
def test_firing_shapes_are_real_and_errors(name, tmp_path, run_rules):
    template = FIRING[name]
    assert _unsandboxed_render(template)[:1] in (["os.system"], ["subprocess.Popen"], ["os.posix_spawn"])
    from jinja2.exceptions import SecurityError

    with pytest.raises(SecurityError):
        _sandboxed_render(template, messages=[])
    findings = run_rules(_repo_with(tmp_path, template), select=["TPL"])
    assert {"TPL001", "TPL002"} & set(codes(findings)), findings
    assert all(f.severity == "error" for f in findings if f.code in ("TPL001", "TPL002"))


@pytest.mark.parametrize("name", sorted(NOT_FIRING))
def test_escape_and_hiding_shapes_are_errors(name, tmp_path, run_rules):
    findings = run_rules(_repo_with(tmp_path, NOT_FIRING[name], "chat_template.jinja"), select=["TPL"])
    assert {"TPL001", "TPL002"} & set(codes(findings)), findings


@pytest.mark.parametrize("path", POPULAR, ids=[p.stem for p in POPULAR])
def test_popular_template_shapes_render_and_pass(path, tmp_path, run_rules):
    template = path.read_text()
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {}}},
    }
    messages = [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi there"}, {"role": "user", "content": "Weather?"}]
    extra = {}
    if path.stem.startswith("command_r"):  # Cohere's tool and RAG shapes
        tool = {
            "name": "web_search",
            "description": "Search",
            "parameter_definitions": {"query": {"description": "Query", "type": "str", "required": True}},
        }
        extra["documents"] = [{"title": "Tall penguins", "text": "Emperor penguins are the tallest."}]
    context = dict(
        messages=messages,
        add_generation_prompt=True,
        bos_token="<s>",
        eos_token="</s>",
        tools=[tool] if "tools" in path.stem else None,
        **extra,
    )
    rendered = _sandboxed_render(template, **context)
    assert "Hello" in rendered
    for where in ("tokenizer_config.json", "chat_template.jinja"):
        (tmp_path / where).mkdir()
        assert run_rules(_repo_with(tmp_path / where, template, where), select=["TPL"]) == []


def test_named_template_list_is_checked(tmp_path, run_rules):
    repo = tmp_path / "repo"
    repo.mkdir()
    templates = [
        {"name": "default", "template": (TEMPLATES / "chatml.jinja").read_text()},
        {"name": "tool_use", "template": FIRING["cycler_globals"]},
    ]
    (repo / "tokenizer_config.json").write_text(json.dumps({"chat_template": templates}))
    findings = run_rules(repo, select=["TPL001"])
    assert findings and all("tool_use" in f.message for f in findings)


def test_gguf_template_is_checked(tmp_path, run_rules):
    from model_code_fixtures import CVE_TEMPLATE, write_gguf

    write_gguf(tmp_path / "model.gguf", template=CVE_TEMPLATE)
    findings = run_rules(tmp_path, select=["TPL001"])
    assert findings and all(f.path == "model.gguf" and "tokenizer.chat_template" in f.message for f in findings)


def test_web_globals_warn(tmp_path, run_rules):
    findings = run_rules(_repo_with(tmp_path, "{{ config.items() }}{{ request.args }}"), select=["TPL"])
    assert codes(findings) == ["TPL003", "TPL003"] and all(f.severity == "warning" for f in findings)


def test_own_variable_named_like_a_global_is_not_flagged(tmp_path, run_rules):
    template = "{% set config = messages[0] %}{{ config['content'] }}{% for self in messages %}{{ self.role }}{% endfor %}"
    assert run_rules(_repo_with(tmp_path, template), select=["TPL"]) == []


def test_unparseable_template_is_never_clean(tmp_path, run_rules):
    findings = run_rules(_repo_with(tmp_path, "{% for m in messages %}{{ m.content }"), select=["TPL"])
    assert codes(findings) == ["TPL004"]


def test_deeply_nested_template_is_reported_not_crashed(tmp_path, run_rules):
    template = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    findings = run_rules(_repo_with(tmp_path, template), select=["TPL"])
    assert codes(findings) == ["TPL004"]


def test_mentions_in_text_are_not_accesses(tmp_path, run_rules):
    template = "{{ 'Never write __class__ or os.system in code.' }}{% raw %}{{ ''.__class__ }}{% endraw %}{{ messages[0]['content'] }}"
    assert run_rules(_repo_with(tmp_path, template), select=["TPL"]) == []
