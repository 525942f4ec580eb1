"""The Python API: `check(target)` returns a Report; the CLI is a thin layer over it."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from hfcheck import catalogue
from hfcheck.config import Settings, check_selectors, load_settings
from hfcheck.context import CheckContext, SecurityVerdict
from hfcheck.discovery import MODEL_ONLY_CONCERNS
from hfcheck.findings import SEVERITY_RANK, Finding
from hfcheck.registry import Rule, matches, selected
from hfcheck.repo import RepoView
from hfcheck.targets import Target, resolve_targets


@dataclass
class TargetReport:
    path: str  # the target as given
    root: Path
    findings: list[Finding]
    settings: Settings
    revision: str | None = None  # resolved commit, for hub targets
    hub: object | None = None  # hfcheck.hub.HubSnapshot, for hub targets
    units: list = field(default_factory=list)  # hfcheck.discovery.Unit: what was found and checked
    skipped_dirs: list[str] = field(default_factory=list)  # folders never walked, and why

    def exit_code(self) -> int:
        """1 when a finding is at or above this target's fail_on, else 0."""
        return exit_code_for(self.findings, self.settings.fail_on)


@dataclass
class Report:
    targets: list[TargetReport] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return [f for t in self.targets for f in t.findings]

    @property
    def summary(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def exit_code(self) -> int:
        """The CLI's exit status: 1 when any target failed its own fail_on, else 0."""
        return max((t.exit_code() for t in self.targets), default=0)


def exit_code_for(findings: list[Finding], fail_on: str) -> int:
    if fail_on == "never":
        return 0
    threshold = SEVERITY_RANK[fail_on]
    return 1 if any(SEVERITY_RANK[f.severity] >= threshold for f in findings) else 0


_OVERRIDES = {f.name for f in fields(Settings)} - {"source", "problems", "models"}


def check(target: str | Path = ".", config: Settings | str | Path | None = None, *, download_pickles: bool = False, **overrides) -> Report:
    """Check one target (folder, cache snapshot, file inside a repo, or Hub id
    `org/name[@rev]`) and return the Report.

    `config` is a Settings object, or the path of a settings file; `overrides` set
    Settings fields (select, ignore, severity, fail_on, deploy, ...). `download_pickles`
    fetches a Hub repo's pickle weights so they are scanned too. An unknown option or an
    unknown rule code, prefix or concern raises ValueError (the CLI's exit 2)."""
    unknown = sorted(set(overrides) - _OVERRIDES)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(_OVERRIDES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"check() got unknown option {unknown[0]!r}{hint} (options: {', '.join(sorted(_OVERRIDES))})")
    if isinstance(config, Settings):
        catalogue.load()
        check_selectors(config)
        return Report(
            [check_target(t, settings=config, fixed=config) for t in resolve_targets([str(target)], download_pickles=download_pickles)]
        )
    return check_many([str(target)], config_file=Path(config) if config else None, overrides=overrides, download_pickles=download_pickles)


def check_many(
    names: list[str],
    *,
    config_file: Path | None = None,
    overrides: dict | None = None,
    baseline: set[str] | None = None,
    jobs: int = 1,
    extra_targets: list[Target] = (),
    download_pickles: bool = False,
    cache=None,
) -> Report:
    """Check every target; with jobs > 1 the targets run in parallel processes (the
    static pass is CPU-bound Python), and the report keeps the order they were given in."""
    catalogue.load()  # loads rule modules first: they declare their options
    check_selectors(Settings(**{k: v for k, v in (overrides or {}).items() if v is not None}), "command line: ")
    targets = (resolve_targets(names, download_pickles=download_pickles) if names or not extra_targets else []) + list(extra_targets)
    work = [(target, config_file, overrides, baseline, cache) for target in targets]
    if jobs > 1 and len(work) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork: workers inherit the loaded rules instead of importing them again
        context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            return Report(list(pool.map(_check_one, work, chunksize=max(1, len(work) // (jobs * 4)))))
    return Report([_check_one(item) for item in work])


def _check_one(item) -> TargetReport:
    target, config_file, overrides, baseline, cache = item
    if cache is not None:  # hfcheck.cache.ResultCache: reuse the report of an unchanged target
        from functools import partial

        settings = load_settings(target.root, config_file, overrides)
        return cache.check(target, settings, baseline, partial(check_target, config_file=config_file, overrides=overrides))
    return check_target(target, settings=None, baseline=baseline, config_file=config_file, overrides=overrides)


class SettingsLookup:
    """Each folder's settings, found once per settings file: the nearest file walking up to
    the repository root (or the one file given), with its `models:` entry for the folder.
    Unknown selectors in any of them are usage errors."""

    def __init__(self, root: Path, repository_root: Path, config_file: Path | None, overrides: dict | None, fixed: Settings | None = None):
        self.root, self.repository_root, self.config_file, self.overrides, self.fixed = root, repository_root, config_file, overrides, fixed
        self._cache: dict[Path, Settings] = {}

    def __call__(self, folder: str = ".") -> Settings:
        if self.fixed is not None:
            return self.fixed
        path = (self.root / folder) if folder != "." else self.root
        if path not in self._cache:
            settings = load_settings(self.root, self.config_file, self.overrides, stop=self.repository_root, unit=path)
            check_selectors(settings, f"{settings.source}: " if settings.source else "")
            self._cache[path] = settings
        return self._cache[path]


# Over 60 lines only through its keyword signature (one per line) and its docstring.
def check_target(
    target: Target,
    *,
    settings: Settings | None,
    rules: list[Rule] | None = None,
    baseline: set[str] | None = None,
    config_file: Path | None = None,
    overrides: dict | None = None,
    fixed: Settings | None = None,
    repo: RepoView | None = None,
    unit_cache=None,
) -> TargetReport:
    """Discover the target's units, run the rules once per unit on a view scoped to it,
    and return the findings, each with its unit. `settings` given (and no `fixed`): the
    target-level settings, with each unit's own still looked up from `config_file` and
    `overrides`; `fixed` (or `settings` alone): one Settings for every unit. `repo`: the
    target's view that the caller already walked (the result cache lists the files
    before it checks them); `unit_cache`: the result cache's per-unit store."""
    from functools import partial

    from hfcheck.discovery import discover

    rules = rules or catalogue.rules()
    if settings is not None and fixed is None and config_file is None and overrides is None:
        # The caller made the settings (the fix engine, the result cache's callers): nested
        # settings files could not repeat its overrides, so they apply to every unit.
        fixed = settings
    repository_root = repo.tree.repository_root if repo is not None else _repository_root(target.root)
    lookup = SettingsLookup(target.root, repository_root, config_file, overrides, fixed)
    settings = settings or lookup(".")
    if repo is None:
        repo = target_view(target, settings)
    found = discover(repo)
    for unit in found.units:
        unit.settings_file = lookup(unit.path).source
    findings = []
    for unit, view, unit_settings, model_only in _plan(repo, found, lookup, target.only):
        unit_path = unit.path if unit is not None else None
        context = CheckContext(view, unit_settings, hub=target.hub, unit=unit, discovery=found, judge_security=judge_security)
        selected = [r for r in selected_rules(rules, unit_settings) if model_only or r.concern not in MODEL_ONLY_CONCERNS]
        run = partial(run_rules, selected, context, unit_settings)
        # the result cache (hfcheck.cache.UnitCache) returns an unchanged unit's findings without running its rules
        produced = run() if unit_cache is None else unit_cache.findings(context, selected, unit_settings, model_only, run)
        findings.extend(_placed(produced, unit_path, found, unit_settings, baseline, view.real_paths))
    # Inline suppressions are judged once for the whole target: a comment that silences a
    # finding of one unit is used, whichever unit's view read its file.
    from hfcheck.suppressions import apply

    unique = sorted(apply(_deduplicated(findings, found), repo, settings), key=Finding.sort_key)
    units = found.units
    if target.hub is not None:
        # Findings name files as they are on the Hub (org/name/config.json), not in the cache.
        return TargetReport(
            target.label,
            Path(target.hub.repo_id),
            unique,
            settings,
            revision=target.hub.revision,
            hub=target.hub,
            units=units,
            skipped_dirs=found.skipped_dirs,
        )
    return TargetReport(target.label, target.root, unique, settings, units=units, skipped_dirs=found.skipped_dirs)


def _listed(root: Path, only) -> dict:
    """A file checked alone (outside any repository): the tree is that one file."""
    from hfcheck.tree import FileEntry

    listed = {}
    for rel in sorted(only or ()):
        path = root / rel
        if path.is_file() and not path.is_symlink():
            listed[rel] = FileEntry(rel, path, path.stat().st_size)
    return listed


def _plan(repo: RepoView, found, lookup, only) -> list:
    """(unit, view, settings, card rules apply) for every unit to check: each model
    unit, then the files outside model units (the deployments); with `only` (pre-commit's
    changed files) just the units owning them, a deployment bringing the models it loads."""
    from hfcheck.discovery import deployment_view, unit_view

    wanted = None
    if only is not None:
        wanted = set()
        for rel in only:
            owner = found.model_unit_of(rel)
            if owner is not None:
                wanted.add(owner)
                continue
            wanted.add("<rest>")
            deployment = found.unit(found.deployment_of.get(rel, "")) if rel in found.deployment_of else None
            wanted.update(link for link in (deployment.links if deployment else ()) if not link.startswith("hub:"))
    plan = []
    for unit in found.models:
        if wanted is None or unit.path in wanted:
            plan.append((unit, unit_view(repo, found, unit, lookup(unit.path)), lookup(unit.path), unit.gets_card_rules))
    if "." not in {u.path for u in found.models} and (wanted is None or "<rest>" in wanted):
        plan.append((None, deployment_view(repo, found, lookup(".")), lookup("."), False))
    return plan


def _placed(
    findings: list[Finding], unit_path: str | None, found, settings: Settings, baseline, real_paths: dict | None = None
) -> list[Finding]:
    """Findings of one unit's view with target-relative paths and their unit, filtered by
    that unit's per-path ignores and the baseline."""
    from dataclasses import replace

    from hfcheck.discovery import to_target

    placed = []
    for finding in findings:
        if unit_path is None:
            path, unit = finding.path, found.unit_of_file(finding.path) if finding.path else None
            placed.append(replace(finding, unit=unit or "."))
            continue
        # HFC002 names the settings file relative to the target already
        path = finding.path if finding.code == "HFC002" else (real_paths or {}).get(finding.path) or to_target(finding.path, unit_path)
        placed.append(replace(finding, path=path, unit=unit_path))
    return visible(placed, settings, baseline)


def _deduplicated(findings: list[Finding], found) -> list[Finding]:
    """One finding per (code, file, line, message): a deployment file seen by every model
    it loads reports a pinning problem once, at the unit that owns the file."""
    best: dict[tuple, Finding] = {}
    for finding in findings:
        key = (finding.code, finding.path, finding.line, finding.message)
        kept = best.get(key)
        if kept is None or (
            finding.path and found.unit_of_file(finding.path) == finding.unit and found.unit_of_file(finding.path) != kept.unit
        ):
            best[key] = finding
    return list(best.values())


def target_view(target: Target, settings: Settings) -> RepoView:
    """The target's file tree and view, walked once (a file checked alone is its own tree)."""
    from hfcheck.tree import FileTree

    tree = FileTree(target.root)
    tree.exclude = tuple(settings.exclude)
    if target.alone:
        tree._files = dict(_listed(target.root, target.only))
    return RepoView(target.root, target.label, settings=settings, tree=tree, hub=target.hub)


def _repository_root(root: Path) -> Path:
    from hfcheck.tree import FileTree

    return FileTree(root).repository_root


def selected_rules(rules: list[Rule], settings: Settings) -> list[Rule]:
    """The rules the settings select and do not ignore."""
    return [r for r in rules if selected(r.code, settings)]


def context_of(view: RepoView, settings: Settings | None = None, **given) -> CheckContext:
    """The context of a view checked on its own (the fix engine's overlays, the smoke
    pass, a single rule run): the engine's security judge, the view's Hub snapshot and
    smoke result unless given."""
    return CheckContext.of_view(view, settings, judge_security=judge_security, **given)


def run_rules(rules: list[Rule], context: CheckContext, settings: Settings) -> list[Finding]:
    """The findings of one unit's context: every rule of the main phase, then the final
    ones (they read what the others could not: unreadable files, crashed rules)."""
    produced = []
    for phase in ("main", "final"):
        for rule in rules:
            if rule.phase == phase:
                produced.extend(run_rule(rule, context, settings))
    return produced


def run_rule(rule: Rule, context: CheckContext | RepoView, settings: Settings) -> list[Finding]:
    """The rule's findings on a context (a bare view gets its own, see context_of), with
    the rule's code, severity (or the settings' override) and default fix filled in."""
    if not isinstance(context, CheckContext):
        context = context_of(context, settings)
    default_fix = rule.default_fix
    try:
        partial = list(rule.check(context) or ())
    except Exception as error:  # noqa: BLE001 - one broken rule must not hide every other finding
        context.record_crash(rule.code, f"{type(error).__name__}: {error}")
        return []
    findings = []
    for item in partial:
        finding = item.completed(rule.code, rule.severity, rule.concern, default_fix)
        override = settings.severity.get(rule.code)
        if override:
            finding = Finding(**{**finding.to_dict(), "severity": override})
        findings.append(finding)
    return findings


def judge_security(context: CheckContext) -> SecurityVerdict:
    """Every error the security rules report on the context's unit, whatever the settings
    select, ignore or downgrade: the judgement a fixer checks before it loads a file (the
    engine runs the rules; a rule or fixer never runs another rule)."""
    security = [r for r in catalogue.rules() if r.concern == "security"]
    errors, failed = [], []
    for rule in security:
        try:
            items = list(rule.check(context) or ())
        except Exception as error:  # noqa: BLE001 - the unit is not cleared: the fixer says which rule failed
            failed.append(f"{rule.code} ({type(error).__name__})")
            continue
        errors.extend(
            item.completed(rule.code, rule.severity, rule.concern, None) for item in items if (item.severity or rule.severity) == "error"
        )
    return SecurityVerdict(tuple(errors), tuple(failed), available=bool(security))


def visible(
    findings: list[Finding],
    settings: Settings,
    baseline: set[str] | None = None,
    *,
    repo: RepoView | None = None,
    unused_suppressions: bool = True,
) -> list[Finding]:
    """The findings a report shows: without inline suppressions (given the repo), per-path
    ignores and baseline entries."""
    if repo is not None:
        from hfcheck.suppressions import apply

        findings = apply(findings, repo, settings, report_unused=unused_suppressions)
    findings = [f for f in findings if not _ignored_by_path(f, settings)]
    if baseline:
        findings = [f for f in findings if fingerprint(f) not in baseline]
    return findings


def _ignored_by_path(finding: Finding, settings: Settings) -> bool:
    if not settings.per_path_ignores or finding.path is None:
        return False
    return any(
        fnmatch.fnmatchcase(finding.path, pattern) and matches(finding.code, codes) for pattern, codes in settings.per_path_ignores.items()
    )


def fingerprint(finding: Finding) -> str:
    """Stable across runs and line moves: code, unit, file and message (the unit keeps a
    baseline written on one model from hiding the same finding in another)."""
    import hashlib

    text = f"{finding.code}\0{finding.unit}\0{finding.path or ''}\0{finding.message}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def write_baseline(report: Report, path: Path) -> None:
    entries = sorted({fingerprint(f) for f in report.findings})
    path.write_text(json.dumps({"hfcheck_baseline": 1, "fingerprints": entries}, indent=1) + "\n", encoding="utf-8")


def read_baseline(path: Path) -> set[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("fingerprints"), list):
        raise ValueError(f"{path} is not an hfcheck baseline (write one with --write-baseline)")
    return set(data["fingerprints"])
