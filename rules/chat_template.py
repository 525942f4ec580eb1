"""Chat templates: Jinja code that serving stacks render with every request (transformers
in a sandbox; llama.cpp-based servers rendered GGUF templates without one, CVE-2024-34359)."""

from hfcheck.facts.model_code import chat_templates, template_scan
from hfcheck.findings import Finding
from hfcheck.registry import rule

MAX_PER_TEMPLATE = 3


def _findings(repo, kind: str):
    for template in chat_templates(repo):
        issues = [issue for issue in template_scan(repo, template).issues if issue.kind == kind]
        in_file = template.path.endswith(".jinja")
        label = "" if template.name == "default" or in_file else f"template {template.name!r}: "
        for issue in issues[:MAX_PER_TEMPLATE]:
            where = "" if in_file or issue.line is None else f" (line {issue.line} of the template)"
            yield Finding.at(template.path, f"{label}{issue.message}{where}", line=issue.line if in_file else None)
        if len(issues) > MAX_PER_TEMPLATE:
            yield Finding.at(template.path, f"{label}{len(issues) - MAX_PER_TEMPLATE} more of the same kind")


@rule("TPL001", concern="security", severity="error")
def chat_template_sandbox_escape(repo):
    """A chat template walks from its data to Python internals: dunder attributes or
    items (`__class__`, `__mro__`, `__subclasses__`, `__globals__`, `__builtins__`,
    `__import__`, `__init__`), function and frame internals, `os`/`subprocess`/`sys`
    reach, calls of `popen`/`system`/`eval`, Jinja's `cycler`/`joiner`/`lipsum`
    gadgets, or `str.format` fields that read attributes.

    Why: no chat template needs any of these; they are the server-side template
    injection chain to a shell. transformers renders in Jinja's sandbox (the render
    fails), but llama-cpp-python rendered GGUF templates unsandboxed (CVE-2024-34359)
    and other serving stacks use their own renderers.
    Fix: replace the template with the model family's reviewed template.
    """
    yield from _findings(repo, "escape")


@rule("TPL002", concern="security", severity="error")
def chat_template_obfuscation(repo):
    """A chat template builds a Python name from pieces (concatenation, `~`, `join`,
    `format`, `replace`, `reverse`, `chr`, `%`) or reads an attribute whose name is
    computed at render time (`|attr(variable)`).

    Why: hiding `__globals__` or `os` from a text search is only useful to an attacker;
    an attribute computed at render time cannot be judged without rendering.
    Fix: replace the template with the model family's reviewed template.
    """
    yield from _findings(repo, "obfuscation")


@rule("TPL003", concern="security", severity="warning")
def chat_template_web_globals(repo):
    """A chat template uses Flask-style globals (`request`, `config`, `self`, `url_for`,
    `session`) that no chat renderer provides.

    Why: they are the entry points of template-injection payloads written for web
    frameworks; in a chat template they render as nothing, so their only purpose is an
    attack on a renderer that does provide them.
    Fix: remove them; a chat template reads only `messages`, `tools`, `documents`,
    `add_generation_prompt` and the special tokens.
    """
    yield from _findings(repo, "web-global")


@rule("TPL004", concern="security", severity="warning")
def chat_template_unchecked(repo):
    """A chat template could not be checked: Jinja cannot parse it, or it is over a
    size or nesting bound.

    Why: a template that was not parsed was not checked for sandbox escapes; it also
    fails at render time in transformers, which parses with the same Jinja.
    Fix: fix the template's syntax (render it once with
    `tokenizer.apply_chat_template`) or replace it with the family's reviewed template.
    """
    yield from _findings(repo, "unreadable")
