"""The fix engine: plan the fixes of a target's findings, show them as a diff, or apply
them atomically.

Fixers live next to their rules (`@fixer("SPT008", safe=True)` in rules/*.py) and return
plain data: a list of `Edit(path, new bytes)`, plus a `FixRefused(why)` for each part they
decline while fixing the rest (a whole refusal is raised). They never write. The engine
runs them one after another against a view in which earlier edits are already visible (so
two fixes of one file compose), then either renders a diff (nothing is written) or writes
every new file beside its target, verifies it, and renames all of them into place; any
failure restores every file it replaced, so the target is left as it was."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from hfcheck.config import declare_options

# Edit and FixRefused live in the leaf module hfcheck.edits (fixers return them as data);
# hfcheck.fix.Edit keeps working for plugins that import them from here.
from hfcheck.edits import Edit, FixRefused, json_edit  # noqa: F401

# Read by fixers through repo.settings.option("fix", ...); --fix-remove-pickles sets the first.
declare_options("fix", remove_pickles=False, max_shard_size="5GB")


class FixError(Exception):
    """Applying the edits failed; the target was restored."""


@dataclass
class FixOutcome:
    code: str
    status: str  # fixed | refused | unsafe | nothing
    findings: int
    message: str = ""
    refused: list[str] = field(default_factory=list)  # the parts a fixer declined, each with its reason


@dataclass
class FixPlan:
    root: Path
    edits: dict[str, Edit] = field(default_factory=dict)
    outcomes: list[FixOutcome] = field(default_factory=list)
    refused: str | None = None  # why the whole target was not fixed (a Hub target)

    @property
    def fixed(self) -> list[FixOutcome]:
        return [o for o in self.outcomes if o.status == "fixed"]


def _checked_rel(root: Path, rel: str) -> Path:
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or rel != pure.as_posix():
        raise FixRefused(f"a fixer planned an edit outside the repo: {rel!r}")
    return root / Path(*pure.parts)


def fix_targets(
    names: list[str],
    *,
    config_file: Path | None = None,
    overrides: dict | None = None,
    baseline: set[str] | None = None,
    unsafe: bool = False,
    remove_pickles: bool = False,
    apply: bool = True,
) -> list[tuple[str, FixPlan]]:
    """Plan the fixes of every target and, with `apply`, write them (atomically per
    target; raises FixError after restoring a target whose fix failed). Returns (target
    label, plan) pairs; check the targets again to see what remains."""
    from hfcheck import catalogue
    from hfcheck.config import load_settings
    from hfcheck.targets import resolve_targets

    catalogue.load()  # rule modules declare their options before settings are read
    plans = []
    for target in resolve_targets(names or ["."]):
        settings = load_settings(target.root, config_file, overrides)
        if remove_pickles:
            settings.options.setdefault("fix", {})["remove_pickles"] = True
        try:
            plan = plan_fixes(target, settings, unsafe=unsafe, baseline=baseline)
        except FixRefused as refused:
            plans.append((target.label, FixPlan(Path(target.root), refused=str(refused))))
            continue
        if apply and plan.edits:
            try:
                apply_fixes(plan)
            except FixError as error:
                raise FixError(f"{target.label}: {error}") from error
        plans.append((target.label, plan))
    return plans


def plan_fixes(target, settings, *, unsafe: bool = False, baseline: set[str] | None = None) -> FixPlan:
    """Run the fixers of the target's current findings (filtered by the settings, as a
    check reports them) and collect their edits; nothing in the target is written."""
    from hfcheck import catalogue
    from hfcheck.api import check_target, context_of, run_rule, visible
    from hfcheck.repo import RepoView

    plan = FixPlan(Path(target.root))
    if target.hub is not None:
        raise FixRefused("fixes apply to local folders only, not to Hub targets")
    report = check_target(target, settings=settings, baseline=baseline)
    by_code: dict[str, int] = {}
    for finding in report.findings:
        by_code[finding.code] = by_code.get(finding.code, 0) + 1
    base = RepoView(target.root, target.label, exclude=tuple(settings.exclude), settings=settings)
    import shutil
    import tempfile

    staging = Path(tempfile.mkdtemp(prefix="hfcheck-fix-"))
    staged: dict[str, Path | None] = {}
    pending: list[str] = []
    try:
        for code in sorted(by_code):
            found = catalogue.fixer(code)
            if found is None:
                continue
            if not found.safe and not unsafe:
                plan.outcomes.append(FixOutcome(code, "unsafe", by_code[code], "unsafe fix: run with --unsafe-fixes to apply it"))
                continue
            for rel in pending:  # written out only when a later fixer needs to see them
                edit = plan.edits[rel]
                if edit.data is None:
                    staged[rel] = None
                else:
                    copy = staging / f"{len(staged)}-{PurePosixPath(rel).name}"
                    copy.write_bytes(edit.data)
                    staged[rel] = copy
            pending.clear()
            view = base.overlaid(staged) if staged else base
            context = context_of(view, settings)  # what the rule and its fixer read
            current = visible(run_rule(catalogue.rule(code), context, settings), settings, baseline, repo=view, unused_suppressions=False)
            if not current:
                plan.outcomes.append(FixOutcome(code, "nothing", by_code[code], "already resolved by an earlier fix"))
                continue
            outcome, edits = _run_fixer(found, context, current, plan.root)
            plan.outcomes.append(outcome)
            for edit in edits:
                plan.edits[edit.path] = edit
                pending.append(edit.path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    plan.edits = {rel: edit for rel, edit in plan.edits.items() if not _unchanged(plan.root, edit)}
    return plan


def _run_fixer(found, context, current: list, root: Path) -> tuple[FixOutcome, list[Edit]]:
    """One fixer's outcome on the findings it is to remove, and its edits (checked to
    stay inside the target); a fixer that raises or declines gives no edit."""
    code = found.code
    try:
        planned = list(found.plan(context, current) or ())
        # a fixer that fixes some findings and declines others lists a FixRefused per declined part
        declined = [str(item) for item in planned if isinstance(item, FixRefused)]
        edits = [item for item in planned if not isinstance(item, FixRefused)]
        for edit in edits:
            _checked_rel(root, edit.path)
    except FixRefused as refused:
        return FixOutcome(code, "refused", len(current), str(refused)), []
    except Exception as error:  # noqa: BLE001 - a broken fixer must not stop the others; nothing was written
        return FixOutcome(code, "refused", len(current), f"the fixer failed: {type(error).__name__}: {error}"), []
    if not edits:
        if declined:
            return FixOutcome(code, "refused", len(current), "; ".join(declined), declined), []
        return FixOutcome(code, "nothing", len(current), "the fixer found nothing it can change safely"), []
    return FixOutcome(code, "fixed", len(current), found.summary, declined), edits


def _unchanged(root: Path, edit: Edit) -> bool:
    path = root / edit.path
    if edit.data is None:
        return not path.exists()
    try:
        return path.is_file() and path.stat().st_size == len(edit.data) and path.read_bytes() == edit.data
    except OSError:
        return False


# -- diff ---------------------------------------------------------------------------


TEXT_DIFF_BYTES = 64 << 20  # larger files get one line in a diff, like binary ones


def _as_text(data: bytes | None) -> list[str] | None:
    if data is None:
        return []
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def render_diff(plan: FixPlan) -> str:
    """A unified diff of every text edit, and one line per binary file."""
    out: list[str] = []
    for rel in sorted(plan.edits):
        edit = plan.edits[rel]
        path = plan.root / rel
        exists = path.is_file()
        old_size = path.stat().st_size if exists else 0
        # weights are never read whole for a diff line
        old = path.read_bytes() if exists and old_size <= TEXT_DIFF_BYTES else None
        before = _as_text(old) if exists and old is not None else ([] if not exists else None)
        after = _as_text(edit.data) if edit.data is None or len(edit.data) <= TEXT_DIFF_BYTES else None
        if before is None or after is None:
            if edit.data is None:
                action = f"delete ({old_size} bytes)"
            else:
                action = f"{'replace' if exists else 'create'} ({len(edit.data)} bytes)"
            out.append(f"binary file {rel}: {action}{f': {edit.note}' if edit.note else ''}\n")
            continue
        import difflib

        lines = list(
            difflib.unified_diff(before, after, f"a/{rel}" if exists else "/dev/null", f"b/{rel}" if edit.data is not None else "/dev/null")
        )
        for line in lines:
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


# -- apply --------------------------------------------------------------------------


def _replace(source: Path, dest: Path) -> None:
    os.replace(source, dest)


def _same_content(path: Path, data: bytes, chunk: int = 16 << 20) -> bool:
    """Compared in chunks: a converted shard is gigabytes, one more copy in memory is too many."""
    view = memoryview(data)
    with open(path, "rb") as stream:
        for start in range(0, len(data), chunk):
            if stream.read(chunk) != view[start : start + chunk]:
                return False
        return stream.read(1) == b""


def verify_written(path: Path, edit: Edit) -> str | None:
    """The written copy holds exactly the planned bytes, parses when it is JSON, and passes
    the edit's own check."""
    if not _same_content(path, edit.data):
        return "the written copy differs from the planned content"
    if path.name.endswith(".json"):
        try:
            json.loads(edit.data)
        except ValueError as error:
            return f"the new content is not valid JSON: {error}"
    return edit.verify(path) if edit.verify is not None else None


# One transaction (write, verify, rename, roll back on any failure) in one piece, so the
# rollback sees every step it undoes.
def apply_fixes(plan: FixPlan) -> list[str]:  # noqa: C901 - older than the bound; split it when it next changes
    """Write every edit atomically: new files beside their targets, verified, then renamed
    into place; on any failure every replaced file is restored and new files removed.
    Returns the changed paths."""
    import shutil

    root = plan.root
    temps: dict[str, Path] = {}
    backups: dict[str, Path] = {}
    done: list[str] = []
    created_dirs: list[Path] = []
    tag = f".hfcheck-{os.getpid()}"
    try:
        for rel, edit in sorted(plan.edits.items()):
            target = _checked_rel(root, rel)
            if target.is_symlink():
                raise FixError(f"{rel} is a symlink; hfcheck does not write through links")
            if target.exists() and not target.stat().st_mode & 0o222:
                raise FixError(f"{rel} is read-only; make it writable to fix it")
            if edit.data is None:
                continue
            missing = [p for p in reversed(target.parents) if not p.exists()]
            for directory in missing:
                directory.mkdir()
                created_dirs.append(directory)
            temp = target.with_name(f".{target.name}{tag}.tmp")
            temps[rel] = temp
            with open(temp, "wb") as stream:
                stream.write(edit.data)
                stream.flush()
                os.fsync(stream.fileno())
            if target.exists():
                os.chmod(temp, stat.S_IMODE(target.stat().st_mode))  # a fix keeps the file's permissions
            problem = verify_written(temp, edit)
            if problem:
                raise FixError(f"{rel}: verification failed: {problem}")
        for rel, edit in sorted(plan.edits.items()):
            target = root / rel
            if target.exists():
                backup = target.with_name(f".{target.name}{tag}.bak")
                if edit.data is None:
                    _replace(target, backup)
                else:
                    try:
                        os.link(target, backup)
                    except OSError:
                        shutil.copy2(target, backup)
                backups[rel] = backup
            done.append(rel)
            if edit.data is not None:
                _replace(temps[rel], target)
                del temps[rel]
    except BaseException as error:
        for rel in reversed(done):
            target = root / rel
            if rel in backups:
                backup = backups.pop(rel)
                if target.exists() and os.path.samefile(backup, target):
                    backup.unlink()  # never replaced: rename() between two links of one file does nothing
                else:
                    os.replace(backup, target)
            elif target.exists():
                target.unlink()
        for path in list(temps.values()) + list(backups.values()):
            path.unlink(missing_ok=True)
        for directory in reversed(created_dirs):
            try:
                directory.rmdir()
            except OSError:
                pass
        if isinstance(error, FixError):
            raise
        if isinstance(error, Exception):
            raise FixError(f"{type(error).__name__}: {error}") from error
        raise
    for backup in backups.values():
        backup.unlink(missing_ok=True)
    return done
