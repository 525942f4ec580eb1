"""The engine's catalogue of rules and fixers: the one way into the registry for
everything outside it (the engine, the fix engine, the CLI's listings and completion,
settings validation, the result cache). Rules never read it: a rule does not run or
list other rules (tests/test_layering.py checks).

The first call loads the built-in rule modules and the plugins; loading them is also
what declares their options, so settings are read after `load()`."""

from __future__ import annotations

from hfcheck import registry


def load() -> None:
    """Import every rule module (built-in and plugins), once."""
    registry.all_rules()


def rules() -> list[registry.Rule]:
    """Every registered rule, by code."""
    return registry.all_rules()


def rule(code: str) -> registry.Rule | None:
    return registry.get_rule(code)


def find(code_or_name: str) -> registry.Rule | None:
    """A rule by its code (`spt001`) or its name (`no-pad-token`, `no_pad_token`)."""
    return registry.find_rule(code_or_name)


def fixers() -> dict[str, registry.Fixer]:
    """The fixers of registered rules, by code."""
    return registry.all_fixers()


def fixer(code: str) -> registry.Fixer | None:
    return registry.get_fixer(code)
