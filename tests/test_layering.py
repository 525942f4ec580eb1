"""The layering of issue #20, enforced: rules read facts only (no parser, no fix engine,
no registry lookups), nothing reaches around the check context through `sys.modules`,
and only the engine's catalogue calls into the registry. Parsed with ast, so a word in
a docstring or a data table does not count, and an import inside a function does."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = sorted((ROOT / "rules").glob("*.py"))
PRODUCT_FILES = sorted((ROOT / "hfcheck").rglob("*.py")) + RULE_FILES

# The registry's lookups; outside these modules everything goes through hfcheck.catalogue.
REGISTRY_LOOKUPS = {"all_rules", "all_fixers", "get_rule", "get_fixer", "find_rule"}
REGISTRY_OWNERS = {"hfcheck/registry.py", "hfcheck/catalogue.py"}
# What a rule module may take from the registry: the decorators that register it, and the
# selector matches (pure functions of a code and patterns or settings).
RULE_REGISTRY_NAMES = {"rule", "fixer", "matches", "selected"}
# Modules that read sys.modules, each with the reason; none today.
SYS_MODULES_READERS: dict[str, str] = {}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(tree: ast.Module) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import, at any depth."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, [alias.name for alias in node.names], node.lineno))
    return found


def _imported_modules(tree: ast.Module) -> list[tuple[str, int]]:
    """Every module an import names, `from hfcheck import formats` read as hfcheck.formats."""
    modules = []
    for module, names, line in _imports(tree):
        modules.append((module, line))
        modules.extend((f"{module}.{name}", line) for name in names)
    return modules


def test_the_walk_sees_every_rule_module():
    assert len(RULE_FILES) > 15 and (ROOT / "rules" / "pinning.py") in RULE_FILES


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rules_import_no_parser_no_engine_and_no_other_rule(path):
    forbidden = (
        "hfcheck.formats",
        "hfcheck.fix",
        "hfcheck.api",
        "hfcheck.catalogue",
        "hfcheck.rules.",
        "hfcheck.smoke",
        "hfcheck.reader",
        "hfcheck.tree",
    )
    bad = [
        f"{_rel(path)}:{line} imports {module}"
        for module, line in _imported_modules(_tree(path))
        if module.startswith(forbidden) or module == "hfcheck.fix"
    ]
    assert bad == [], "rules read facts (hfcheck/facts) and return findings or edits (hfcheck.edits)"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_rules_take_only_the_decorators_from_the_registry(path):
    tree = _tree(path)
    taken = {name for module, names, _ in _imports(tree) if module == "hfcheck.registry" for name in names}
    assert taken <= RULE_REGISTRY_NAMES, (
        f"{_rel(path)} takes {sorted(taken - RULE_REGISTRY_NAMES)} from the registry: a rule never lists or runs other rules"
    )
    assert not any(module == "hfcheck.registry" and not names for module, names, _ in _imports(tree)), (
        f"{_rel(path)} imports the registry module whole"
    )


def _reads_sys_modules(tree: ast.Module) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "modules" and isinstance(node.value, ast.Name) and node.value.id == "sys"
    ]


def test_nothing_finds_things_through_sys_modules():
    readers = {_rel(path): lines for path in PRODUCT_FILES if (lines := _reads_sys_modules(_tree(path)))}
    unexplained = {rel: lines for rel, lines in readers.items() if rel not in SYS_MODULES_READERS}
    assert unexplained == {}, "what a rule needs comes in its check context (hfcheck/context.py), not from sys.modules"


def test_the_sys_modules_check_finds_a_reader():
    assert _reads_sys_modules(ast.parse("import sys\nresult = sys.modules.get('x')\n")) == [2]
    assert _reads_sys_modules(ast.parse("text = 'sys.modules'\n")) == []


def _registry_lookups(tree: ast.Module) -> list[tuple[str, int]]:
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr if isinstance(node.func, ast.Attribute) else None
            if name in REGISTRY_LOOKUPS:
                calls.append((name, node.lineno))
    for module, names, line in _imports(tree):
        if module == "hfcheck.registry":
            calls.extend((name, line) for name in names if name in REGISTRY_LOOKUPS)
    return calls


def test_only_the_catalogue_calls_into_the_registry():
    callers = {
        _rel(path): calls for path in PRODUCT_FILES if _rel(path) not in REGISTRY_OWNERS and (calls := _registry_lookups(_tree(path)))
    }
    assert callers == {}, "list and find rules through hfcheck.catalogue (the engine's), not the registry"


def test_the_registry_check_finds_a_caller():
    assert [name for name, _ in _registry_lookups(ast.parse("from hfcheck.registry import all_rules\nall_rules()\n"))] == [
        "all_rules",
        "all_rules",
    ]
    assert _registry_lookups(ast.parse("from hfcheck import catalogue\ncatalogue.rules()\n")) == []


@pytest.mark.parametrize("leaf", ["hfcheck/edits.py", "hfcheck/context.py"])
def test_edits_and_the_context_are_leaves(leaf):
    modules = [module for module, _ in _imported_modules(_tree(ROOT / leaf))]
    assert not [m for m in modules if m.startswith("hfcheck")], f"{leaf} is shared by rules, facts and the engine: it imports none of them"


def test_the_context_is_read_only_and_answers_for_its_view(tmp_path):
    from hfcheck.api import context_of
    from hfcheck.config import Settings
    from hfcheck.repo import RepoView

    (tmp_path / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    settings = Settings()
    view = RepoView(tmp_path, settings=settings)
    context = context_of(view, settings)
    assert context.facts is view and context.settings is settings and context.smoke is None and context.hub is None
    assert context.config == {"model_type": "bert"} and context.files is view.files
    with pytest.raises(AttributeError):
        context.smoke = "a result"
    assert context.security.errors == () and context.security.available


def _foreign_cache_writes(tree: ast.Module) -> list[int]:
    """Lines that write into another object's `_cache` (a view's memo) instead of asking
    the facts layer (hfcheck.facts.deploy.scope_deployment narrows a unit view). Reading
    it (the result cache keys a unit on what discovery handed its view) is not a write."""

    def foreign(node) -> bool:
        return (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "_cache"
            and not (isinstance(node.value.value, ast.Name) and node.value.value.id == "self")
        )

    lines = []
    for node in ast.walk(tree):
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
        )
        lines.extend(node.lineno for target in targets if foreign(target))
    return lines


def test_nobody_writes_facts_into_a_view_from_outside():
    found = {_rel(path): lines for path in PRODUCT_FILES if (lines := _foreign_cache_writes(_tree(path)))}
    assert found == {}, "a view's memo is filled by the facts that own its keys"
    assert _foreign_cache_writes(ast.parse("view._cache[('facts', 'x')] = 1\n")) == [1]
    assert _foreign_cache_writes(ast.parse("seeded = sorted(view._cache.items())\nself._cache[1] = 2\n")) == []
