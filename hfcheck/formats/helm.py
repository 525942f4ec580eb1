"""Helm charts: a template rendered with the chart's values.yaml, far enough to read the
Kubernetes objects it declares. Resolved: `{{ .Values.a.b }}` (with `quote`, `default`,
`toYaml`, `nindent`/`indent`), `.Release.Name`/`.Chart.Name`; lines holding only
control actions (`if`, `range`, `with`, `end`, `include`, `define`) are dropped, their
bodies kept. What it cannot resolve stays empty, never invented."""

from __future__ import annotations

import re

MAX_TEMPLATE_CHARS = 2_000_000
_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)
_CONTROL = re.compile(r"^(if|else|end|range|with|define|template|include|block|/\*|-?\s*/\*)")


def lookup(values, dotted: str):
    node = values
    for part in dotted.split("."):
        if not part:
            continue
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def render(template: str, values: dict) -> str:
    """The template with its value references filled in (one output line per input line,
    so line numbers stay those of the template)."""
    out = []
    for line in template[:MAX_TEMPLATE_CHARS].splitlines():
        actions = _ACTION.findall(line)
        if actions and not _ACTION.sub("", line).strip() and all(_CONTROL.match(a) for a in actions):
            out.append("")
            continue
        out.append(_ACTION.sub(lambda m, line=line: _evaluate(m.group(1), values, line), line))
    return "\n".join(out)


def _evaluate(action: str, values: dict, line: str) -> str:
    if _CONTROL.match(action):
        return ""
    stages = [s.strip() for s in action.split("|")]
    head = stages[0]
    value = None
    if head.startswith(".Values."):
        value = lookup(values, head[len(".Values.") :])
    elif head in (".Release.Name", ".Chart.Name"):
        value = "release"
    elif head.startswith(("toYaml .Values.", "toYaml .Values")):
        value = lookup(values, head.split(".Values.", 1)[1]) if ".Values." in head else values
        stages.insert(1, "toYaml")
    elif head.startswith('"') and head.endswith('"'):
        value = head[1:-1]
    indent = None
    as_yaml = False
    for stage in stages[1:]:
        if stage.startswith("default ") and value in (None, ""):
            default = stage[len("default ") :].strip()
            value = (
                default[1:-1]
                if default[:1] == '"'
                else lookup(values, default[len(".Values.") :])
                if default.startswith(".Values.")
                else default
            )
        elif stage == "quote" and value is not None and not isinstance(value, (dict, list)):
            value = '"' + str(value).replace('"', '\\"') + '"'
        elif stage == "toYaml":
            as_yaml = True
        elif re.match(r"n?indent \d+$", stage):
            indent = (int(stage.split()[1]), stage.startswith("n"))
    if value is None:
        return ""
    if as_yaml or isinstance(value, (dict, list)):
        return _to_yaml(value, indent)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_yaml(value, indent) -> str:
    lines = _dump(value, 0)
    if indent is None:
        return "\n".join(lines)
    pad = " " * indent[0]
    text = "\n".join(pad + line for line in lines)
    return "\n" + text if indent[1] else text


def _dump(value, depth: int) -> list:
    if depth > 20:
        return []
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{key}:")
                lines.extend("  " + line for line in _dump(item, depth + 1))
            else:
                lines.append(f"{key}: {_scalar(item)}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            inner = _dump(item, depth + 1) if isinstance(item, (dict, list)) else [_scalar(item)]
            if inner:
                lines.append("- " + inner[0])
                lines.extend("  " + line for line in inner[1:])
        return lines
    return [_scalar(value)]


def _scalar(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(str(value))
