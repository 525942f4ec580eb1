"""The Python API: `check(target)` returns a Report; the CLI is a thin layer over it."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path

from hfcheck.config import Settings, load_settings
from hfcheck.findings import SEVERITY_RANK, Finding
from hfcheck.registry import Rule, all_rules, matches
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


def check(target: str | Path = ".", config: Settings | str | Path | None = None, *, download_pickles: bool = False, **overrides) -> Report:
    """Check one target (folder, cache snapshot, file inside a repo, or Hub id
    `org/name[@rev]`) and return the Report.

    `config` is a Settings object, or the path of a settings file; `overrides` set
    Settings fields (select, ignore, severity, fail_on, deploy, ...). `download_pickles`
    fetches a Hub repo's pickle weights so they are scanned too."""
    if isinstance(config, Settings):
        return Report([check_target(t, settings=config) for t in resolve_targets([str(target)], download_pickles=download_pickles)])
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
    all_rules()  # loads rule modules first: they declare their options
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
    settings = load_settings(target.root, config_file, overrides)
    if cache is not None:  # hfcheck.cache.ResultCache: reuse the report of an unchanged target
        return cache.check(target, settings, baseline, check_target)
    return check_target(target, settings=settings, baseline=baseline)


def check_target(target: Target, *, settings: Settings, rules: list[Rule] | None = None, baseline: set[str] | None = None, repo: RepoView | None = None) -> TargetReport:
    """`repo`: a fresh view of the target that the caller already walked (the result cache
    lists the files before it checks them)."""
    rules = rules or all_rules()
    repo = target_view(target, settings) if repo is None else repo
    repo.hub = target.hub
    selected = [r for r in rules if matches(r.code, settings.select) and not matches(r.code, settings.ignore)]
    findings: list[Finding] = []
    for phase in ("main", "final"):
        for rule in selected:
            if rule.phase == phase:
                findings.extend(run_rule(rule, repo, settings))
    unique = sorted(set(visible(findings, settings, baseline, repo=repo)), key=Finding.sort_key)
    if target.hub is not None:
        # Findings name files as they are on the Hub (org/name/config.json), not in the cache.
        return TargetReport(target.label, Path(target.hub.repo_id), unique, settings, revision=target.hub.revision, hub=target.hub)
    return TargetReport(target.label, target.root, unique, settings)


def target_view(target: Target, settings: Settings) -> RepoView:
    return RepoView(target.root, target.label, exclude=tuple(settings.exclude), settings=settings)


def run_rule(rule: Rule, repo: RepoView, settings: Settings) -> list[Finding]:
    default_fix = rule.default_fix
    try:
        partial = list(rule.check(repo) or ())
    except Exception as error:  # one broken rule must not hide every other finding
        repo.rule_crashes.append((rule.code, f"{type(error).__name__}: {error}"))
        return []
    findings = []
    for item in partial:
        finding = item.completed(rule.code, rule.severity, rule.concern, default_fix)
        override = settings.severity.get(rule.code)
        if override:
            finding = Finding(**{**finding.to_dict(), "severity": override})
        findings.append(finding)
    return findings


def visible(findings: list[Finding], settings: Settings, baseline: set[str] | None = None, *, repo: RepoView | None = None, unused_suppressions: bool = True) -> list[Finding]:
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
    return any(fnmatch.fnmatchcase(finding.path, pattern) and matches(finding.code, codes) for pattern, codes in settings.per_path_ignores.items())


def fingerprint(finding: Finding) -> str:
    """Stable across runs and line moves: code, file and message."""
    import hashlib

    text = f"{finding.code}\0{finding.path or ''}\0{finding.message}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def write_baseline(report: Report, path: Path) -> None:
    entries = sorted({fingerprint(f) for f in report.findings})
    path.write_text(json.dumps({"hfcheck_baseline": 1, "fingerprints": entries}, indent=1) + "\n", encoding="utf-8")


def read_baseline(path: Path) -> set[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("fingerprints"), list):
        raise ValueError(f"{path} is not an hfcheck baseline (write one with --write-baseline)")
    return set(data["fingerprints"])
