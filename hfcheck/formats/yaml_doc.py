"""YAML through yaml.safe_load only, with the limits safe_load lacks.

safe_load refuses custom tags but expands aliases, so a "billion laughs" document turns
into an object graph that any later walk (ours, json.dumps) explodes on. We count alias
and node events first and refuse documents past the bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ALIASES = 1_000
MAX_NODES = 1_000_000
MAX_DEPTH = 200


@dataclass(frozen=True)
class YamlError:
    message: str
    line: int | None


@dataclass
class YamlDoc:
    data: Any = None
    error: YamlError | None = None
    # line (1-based) of each top-level mapping key, for findings
    key_lines: dict | None = None

    def line_of(self, key: str) -> int | None:
        return (self.key_lines or {}).get(key)


def parse_yaml(text: str, *, line_offset: int = 0) -> YamlDoc:
    import yaml

    try:
        problem = _check_bounds(text)
        if problem:
            return YamlDoc(error=YamlError(problem, None))
        data = yaml.safe_load(text)
        key_lines = _top_level_key_lines(text, line_offset)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 + line_offset if mark else None
        message = " ".join(str(part) for part in (error.context, error.problem) if part) or str(error)
        return YamlDoc(error=YamlError(message, line))
    except (yaml.YAMLError, RecursionError, ValueError) as error:
        return YamlDoc(error=YamlError(str(error).splitlines()[0] if str(error) else "invalid YAML", None))
    return YamlDoc(data=data, key_lines=key_lines)


def _check_bounds(text: str) -> str | None:
    """Refuse documents whose aliases would expand past MAX_NODES nodes (counting each
    alias as the size of what it points to), or that nest too deep."""
    import yaml

    aliases = 0
    expanded: dict[str, int] = {}  # anchor -> nodes it stands for, once expanded
    open_collections: list[list] = [[None, 0]]  # [anchor, nodes so far]; [0] is the document

    def add(nodes: int) -> str | None:
        open_collections[-1][1] += nodes
        if nodes > MAX_NODES or open_collections[0][1] > MAX_NODES:
            return f"expands to more than {MAX_NODES} nodes (a YAML alias bomb?)"
        return None

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        problem = None
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                return f"more than {MAX_ALIASES} aliases (a YAML alias bomb?)"
            problem = add(expanded.get(event.anchor, 1))
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                expanded[event.anchor] = 1
            problem = add(1)
        elif isinstance(event, yaml.CollectionStartEvent):
            open_collections.append([event.anchor, 1])
            if len(open_collections) > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, nodes = open_collections.pop()
            if anchor:
                expanded[anchor] = nodes
            problem = add(nodes)
        if problem:
            return problem
    return None


def _top_level_key_lines(text: str, line_offset: int) -> dict:
    import yaml

    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(node, yaml.MappingNode):
        return {}
    lines = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            lines.setdefault(key_node.value, key_node.start_mark.line + 1 + line_offset)
    return lines
