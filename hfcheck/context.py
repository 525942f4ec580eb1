"""The check context: everything a rule (or a fixer) may read, handed to it by the engine.

A rule receives one `CheckContext` and reads from it only:

- `facts`: the repo view of the unit being checked (hfcheck.repo.RepoView), whose
  accessors the context also answers itself (`ctx.files`, `ctx.json(rel)`,
  `ctx.memo(...)`), so the fact functions of hfcheck/facts take a context or a view alike;
- `settings`: the unit's hfcheck.config.Settings;
- `smoke`: the SmokeResult of the smoke pass (hfcheck/smoke/result.py), None in the
  static pass;
- `hub`: the hfcheck.hub.HubSnapshot when the target is a Hub repo, else None;
- `unit`, `discovery`: the hfcheck.discovery Unit being checked (None for the files
  outside every model unit) and the Discovery of the whole target;
- `rule_crashes`: (code, error) of the rules that failed before this one (the final
  phase reports them);
- `security`: the engine's security verdict on the unit (every security error whatever
  the settings select), computed when first read: what a fixer checks before it loads
  anything.

Nothing flows back: the context is read-only (assigning an attribute raises), rules
return findings and fixers return edits (hfcheck.edits). Only the engine (hfcheck/api.py,
hfcheck/fix.py, hfcheck/smoke) makes contexts."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

# The memo key under which hfcheck.smoke.result.attach leaves a result on a view that is
# checked outside smoke_target (tests run single SMK rules that way); the engine reads it
# when it makes the view's context, and nothing else reads it.
SMOKE_RESULT_KEY = ("smoke", "result")


class SecurityVerdict(NamedTuple):
    """Every security error of a unit, whatever the settings select, ignore or downgrade."""

    errors: tuple  # hfcheck.findings.Finding of every security rule, severity error
    failed: tuple[str, ...] = ()  # "CODE (ErrorType)" of security rules that raised: the unit is not cleared
    available: bool = True  # False: no security rule is registered, nothing could clear it


# The view's methods rules and facts call most (exists alone ~800 times on a 70B repo):
# bound once per context, so they skip the __getattr__ hop.
_BOUND = ("exists", "memo", "safetensors", "json", "json_data", "text", "head", "is_placeholder", "is_git_lfs_pointer", "pickle_scan")


class CheckContext:
    """What one rule run may read (see the module docstring). Attributes it does not hold
    itself are the facts view's (`ctx.files` is `ctx.facts.files`)."""

    __slots__ = ("facts", "settings", "smoke", "hub", "unit", "discovery", "_crashes", "_judge_security", "_security", *_BOUND)

    def __init__(
        self,
        facts,
        settings=None,
        *,
        smoke=None,
        hub=None,
        unit=None,
        discovery=None,
        crashes: list | None = None,
        judge_security: Callable[[CheckContext], SecurityVerdict] | None = None,
    ):
        init = object.__setattr__  # the context is read-only once made
        init(self, "facts", facts)
        init(self, "settings", settings)
        init(self, "smoke", smoke)
        init(self, "hub", hub)
        init(self, "unit", unit)
        init(self, "discovery", discovery)
        init(self, "_crashes", crashes if crashes is not None else [])
        init(self, "_judge_security", judge_security)
        init(self, "_security", None)
        for name in _BOUND:
            init(self, name, getattr(facts, name))

    @classmethod
    def of_view(cls, view, settings=None, **given) -> CheckContext:
        """The context of a view checked on its own (no discovery): the settings given or
        the view's, its Hub snapshot, and a smoke result attached to it."""
        given.setdefault("hub", view.hub)
        given.setdefault("smoke", view.memo(SMOKE_RESULT_KEY, lambda: None))
        return cls(view, settings if settings is not None else view.settings, **given)

    def __getattr__(self, name: str) -> Any:
        # Called only for names the context does not hold: the facts view answers them.
        return getattr(self.facts, name)

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"the check context is read-only (cannot set {name!r})")

    @property
    def rule_crashes(self) -> tuple[tuple[str, str], ...]:
        return tuple(self._crashes)

    def record_crash(self, code: str, error: str) -> None:
        """The engine's record of a rule that raised (rules never call it)."""
        self._crashes.append((code, error))

    @property
    def security(self) -> SecurityVerdict:
        if self._security is None:
            if self._judge_security is None:
                raise RuntimeError("this context was made without a security judge (only the engine makes contexts)")
            object.__setattr__(self, "_security", self._judge_security(self))
        return self._security
