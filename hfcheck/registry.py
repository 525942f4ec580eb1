"""Rule metadata and discovery: built-in rules from `hfcheck.rules`, third-party rules
from the `hfcheck.rules` entry point group. The engine knows no rule by name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, replace
from typing import Callable, Iterable, NamedTuple

from hfcheck import plugins
from hfcheck.findings import CONCERNS, SEVERITIES

CODE_PATTERN = re.compile(r"^[A-Z]{2,4}[0-9]{3}$")
_SECTION = re.compile(r"^(Why|Fix|Example|Fixes|Options):\s*", re.MULTILINE)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    concern: str
    severity: str
    summary: str
    doc: str
    fixable: bool
    check: Callable
    # "final" rules run after every other rule, e.g. to report what the others could not read.
    phase: str = "main"

    @property
    def default_fix(self) -> str | None:
        return doc_section(self.doc, "Fix")


def doc_section(doc: str, title: str) -> str | None:
    """The paragraph of a rule's docstring that starts with `Title:`."""
    parts = _SECTION.split(doc)
    # split() with one group gives [before, title1, text1, title2, text2, ...]
    for heading, text in zip(parts[1::2], parts[2::2]):
        if heading == title:
            return " ".join(text.split()) or None
    return None


class Fixer(NamedTuple):
    """A rule's fix: `plan(ctx, findings)` (ctx: the check context, hfcheck/context.py)
    returns the edits (hfcheck.edits.Edit) that remove the findings; the engine in
    hfcheck/fix.py applies them. Unsafe fixes (they change weights or need judgement)
    run only with --unsafe-fixes."""

    code: str
    safe: bool
    plan: Callable
    summary: str


_RULES: dict[str, Rule] = {}
_FIXERS: dict[str, Fixer] = {}
_loaded = False


class RegistryError(Exception):
    pass


def rule(code: str, *, concern: str, severity: str, fixable: bool = False, name: str | None = None, phase: str = "main"):
    """Register a rule. Its docstring is its documentation: a one-line summary, then
    `Why:`, `Fix:` and `Example:` paragraphs; `Fix:` is the fix text of every finding
    that does not carry its own."""
    if not CODE_PATTERN.match(code):
        raise RegistryError(f"rule code {code!r} must look like ABC123")
    if concern not in CONCERNS:
        raise RegistryError(f"rule {code}: unknown concern {concern!r}")
    if severity not in SEVERITIES:
        raise RegistryError(f"rule {code}: unknown severity {severity!r}")

    def register(func):
        doc = inspect.cleandoc(func.__doc__ or "")
        if not doc:
            raise RegistryError(f"rule {code} has no documentation")
        if code in _RULES and _RULES[code].check is not func:
            raise RegistryError(f"rule code {code} is defined twice ({_RULES[code].check.__module__} and {func.__module__})")
        _RULES[code] = Rule(
            code=code,
            name=name or func.__name__.replace("_", "-"),
            concern=concern,
            severity=severity,
            summary=" ".join(doc.split("\n\n")[0].split()),
            doc=doc,
            fixable=fixable or code in _FIXERS,
            check=func,
            phase=phase,
        )
        return func

    return register


def fixer(code: str, *, safe: bool):
    """Register the fix of rule `code`, next to the rule: a function `(ctx, findings)`
    that returns a list of hfcheck.edits.Edit (plain data, never writes a file) and may
    raise hfcheck.edits.FixRefused. The rule becomes `fixable`."""
    if not CODE_PATTERN.match(code):
        raise RegistryError(f"fixer code {code!r} must look like ABC123")

    def register(func):
        if code in _FIXERS and _FIXERS[code].plan is not func:
            raise RegistryError(f"rule {code} has two fixers ({_FIXERS[code].plan.__module__} and {func.__module__})")
        doc = inspect.cleandoc(func.__doc__ or "")
        _FIXERS[code] = Fixer(code=code, safe=safe, plan=func, summary=" ".join(doc.split("\n\n")[0].split()))
        if code in _RULES:
            _RULES[code] = replace(_RULES[code], fixable=True)
        return func

    return register


def get_fixer(code: str) -> Fixer | None:
    _load()
    found = _FIXERS.get(code.upper())
    return found if found is not None and found.code in _RULES else None


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import hfcheck.rules as builtin

    for module in pkgutil.iter_modules(builtin.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"hfcheck.rules.{module.name}")
    if not plugins.installed():  # the common case: importlib.metadata is never imported
        return
    for entry_point in plugins.entry_points():
        try:
            entry_point.load()  # importing the module registers its rules
        except Exception as error:  # a broken plugin must not hide the built-in rules
            raise RegistryError(f"cannot load rule plugin {entry_point.name!r} ({entry_point.value}): {error}") from error


def all_rules() -> list[Rule]:
    _load()
    return sorted(_RULES.values(), key=lambda r: r.code)


def get_rule(code: str) -> Rule | None:
    _load()
    return _RULES.get(code.upper())


def find_rule(code_or_name: str) -> Rule | None:
    """A rule by its code (`spt001`) or its name (`no-pad-token`, `no_pad_token`)."""
    found = get_rule(code_or_name)
    if found is not None:
        return found
    name = code_or_name.strip().lower().replace("_", "-")
    return next((r for r in _RULES.values() if r.name == name), None)


def all_fixers() -> dict[str, Fixer]:
    """The fixers of registered rules, by code."""
    _load()
    return {code: fixer for code, fixer in _FIXERS.items() if code in _RULES}


def matches(code: str, patterns: Iterable[str]) -> bool:
    """A code matches a pattern that is the code itself, one of its prefixes, a concern
    name, or ALL."""
    return any(_matches_one(code, p) for p in patterns)


def selected(code: str, settings) -> bool:
    """The settings select the code and do not ignore it (per-path ignores aside)."""
    return matches(code, settings.select) and not matches(code, settings.ignore)


def _matches_one(code: str, pattern: str) -> bool:
    pattern = pattern.strip()
    if pattern.upper() == "ALL":
        return True
    if pattern in CONCERNS:
        found = _RULES.get(code)
        return found is not None and found.concern == pattern
    return code.startswith(pattern.upper())
