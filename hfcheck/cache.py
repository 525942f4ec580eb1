"""The result cache (as ruff's .ruff_cache): a target whose files, settings and hfcheck
are unchanged gets its previous report back without running a rule.

One entry per local target, in the user's cache folder (never inside the checked repo, so
a crafted file there cannot inject results), named by the target's resolved path. An
entry is reused only when all of these match:

- the key: hfcheck's version, a hash of the source of hfcheck and of every module the
  rules come from (an upgrade, a plugin change or an edited source tree invalidates), the
  plugins' distribution versions, the settings, the baseline and the target's label;
- the manifest: the same files (the check's own walk, excludes applied), each with the
  size and mtime it had, its mtime at least 2 s older than the entry (git's "racy" rule),
  or else with the same content hash: whole up to 64 MiB, else its size with its first and
  last MiB, where the static pass reads (safetensors and GGUF headers, the zip directory
  and pickle of a torch.save file). An unchanged warm run reads no file; a run that checks
  hashes every file first (empty files for free), so a later touch without an edit (a
  fresh CI checkout with a restored cache) is still a hit.

Targets of more than MAX_FILES files and Hub targets are not cached.
Entries are JSON (never pickle), validated field by field on load; anything unexpected
is a miss. --no-cache skips the cache; --cache-dir / HFCHECK_CACHE_DIR move it."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

FORMAT = 1
WHOLE_FILE_BYTES = 64 << 20
EDGE_BYTES = 1 << 20
RACY_NS = 2_000_000_000
# A target of more files (a dataset, not a model) is checked uncached: its manifest (a stat
# and a JSON row per file) would cost a fifth of the check, for a gain only on a warm run.
MAX_FILES = 20_000


def default_folder() -> Path:
    """The per-user cache folder, as platformdirs would choose it."""
    configured = os.environ.get("HFCHECK_CACHE_DIR")
    if configured:
        return Path(configured)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "hfcheck" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "hfcheck"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hfcheck"


@dataclass(frozen=True)
class ResultCache:
    folder: Path

    @classmethod
    def at(cls, folder: Path | None = None) -> ResultCache:
        return cls(Path(folder) if folder else default_folder())

    def check(self, target, settings, baseline, check_target):
        """`check_target(target, settings=..., baseline=...)`, or the stored report of an
        unchanged target. Hub targets are not cached (their files are remote)."""
        if target.hub is not None:
            return check_target(target, settings=settings, baseline=baseline)
        root = Path(target.root).resolve()
        entry_path = self.folder / f"v{FORMAT}" / f"{hashlib.sha256(str(root).encode()).hexdigest()[:40]}.json"
        key = run_key(settings, baseline, target.label)
        stored = _load(entry_path)
        if stored is not None and stored["key"] != key:
            stored = None
        started_ns = time.time_ns()
        from hfcheck.api import target_view

        view = target_view(target, settings)  # the check's own walk: listed once, used twice
        if len(view.files) > MAX_FILES:
            return check_target(target, settings=settings, baseline=baseline, repo=view)
        files, unchanged = manifest(view, stored["files"] if stored else {}, stored["written_ns"] if stored else 0, started_ns)
        if stored is not None and unchanged:
            report = _report_from(stored, target, settings)
            if report is not None:
                return report
        for rel, row in files.items():  # hashed now, so a later touch without an edit is still a hit
            if row[2] == "":
                row[2] = content_hash(view.files[rel].path, row[0])
        report = check_target(target, settings=settings, baseline=baseline, repo=view)
        _store(entry_path, {"format": FORMAT, "key": key, "written_ns": started_ns, "files": files, "report": _report_to(report)})
        return report


def run_key(settings, baseline, label: str) -> str:
    """What besides the files decides the findings."""
    from hfcheck import __version__
    from hfcheck.registry import plugin_versions

    parts = [__version__, source_stamps(), plugin_versions(), repr(settings), sorted(baseline or ()), label]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def source_stamps() -> str:
    """One hash of the contents of hfcheck's own modules and data and of every rule module
    (plugins included): hfcheck is installed from commits that share a version number, and
    edited in place in a development tree; file mtimes would change with every fresh
    install (a CI run), contents do not. About 0.6 MB, a few ms."""
    import inspect

    import hfcheck
    import hfcheck.rules
    from hfcheck import catalogue

    folders = {Path(hfcheck.__file__).parent, *map(Path, hfcheck.rules.__path__)}
    files = {path for folder in folders for path in folder.rglob("*") if path.suffix in (".py", ".json")}
    for rule in catalogue.rules():
        try:
            source = inspect.getsourcefile(rule.check)  # a plugin's module may live anywhere
        except TypeError:  # defined in C or built at run time: no file to hash
            source = None
        if source:
            files.add(Path(source))
    digest = hashlib.sha256()
    for path in sorted(files):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def manifest(view, previous: dict, written_ns: int, now_ns: int) -> tuple[dict[str, list], bool]:
    """(rel -> [size, mtime_ns, content hash or ""], whether the files are those of
    `previous`) for every file the check walks. A file is read only to compare it with a
    stored hash after its size or mtime moved, or when it is "racy" (modified within 2 s of
    an entry, so a same-size edit could keep its mtime); other rows get the hash "" (the
    caller fills them in before a check)."""
    files: dict[str, list] = {}
    unchanged = bool(previous) and view.files.keys() == previous.keys()
    for rel, entry in view.files.items():
        old = previous.get(rel)
        try:
            info = os.stat(entry.path)
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            files[rel] = [-1, -1, "special"]  # gone or not a regular file: the check reports it
            unchanged = unchanged and old == files[rel]
            continue
        if old and old[:2] == [info.st_size, info.st_mtime_ns] and info.st_mtime_ns < written_ns - RACY_NS:
            files[rel] = old
            continue
        compare = bool(old and old[2])
        racy_now = info.st_mtime_ns >= now_ns - RACY_NS
        digest = content_hash(entry.path, info.st_size) if (compare and unchanged) or racy_now else ""
        files[rel] = [info.st_size, info.st_mtime_ns, digest]
        unchanged = unchanged and compare and digest == old[2] != "unreadable"
    return files, unchanged


def content_hash(path: Path, size: int) -> str:
    digest = hashlib.sha256(str(size).encode())
    if size == 0:
        return digest.hexdigest()
    try:
        # O_NONBLOCK: a file swapped for a FIFO since the stat must not hang the run
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as stream:
            if size <= WHOLE_FILE_BYTES:
                for block in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(block)
            else:
                digest.update(stream.read(EDGE_BYTES))
                stream.seek(size - EDGE_BYTES)
                digest.update(stream.read(EDGE_BYTES))
    except OSError:
        return "unreadable"
    return digest.hexdigest()


def _report_to(report) -> dict:
    data = {"path": report.path, "root": str(report.root), "findings": [asdict(f) for f in report.findings]}
    if getattr(report, "units", None) is not None:  # discovery's units (hfcheck.discovery.Unit)
        data["units"] = [asdict(unit) for unit in report.units]
    return data


def _report_from(stored: dict, target, settings):
    """The stored report, or None when this hfcheck cannot rebuild it exactly."""
    from dataclasses import fields

    from hfcheck.api import TargetReport
    from hfcheck.findings import Finding

    data = stored["report"]
    extra = {}
    try:
        findings = [Finding(**item) for item in data["findings"]]
        if "units" in {f.name for f in fields(TargetReport)}:
            from hfcheck.discovery import Unit

            extra["units"] = [Unit(**item) for item in data["units"]]
    except (TypeError, KeyError, ImportError):  # written by an hfcheck whose data had other fields
        return None
    return TargetReport(data["path"], Path(data["root"]), findings, settings, **extra)


def _load(path: Path) -> dict | None:
    """The entry at `path` if it is one this hfcheck wrote, else None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if _valid(data) else None


def _valid(data) -> bool:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return False
    if not (isinstance(data.get("key"), str) and isinstance(data.get("written_ns"), int) and isinstance(data.get("files"), dict)):
        return False
    for row in data["files"].values():
        if not (isinstance(row, list) and len(row) == 3 and all(isinstance(v, int) for v in row[:2]) and isinstance(row[2], str)):
            return False
    report = data.get("report")
    if not (
        isinstance(report, dict)
        and isinstance(report.get("path"), str)
        and isinstance(report.get("root"), str)
        and isinstance(report.get("findings"), list)
    ):
        return False
    return all(
        isinstance(item, dict) and isinstance(item.get("code"), str) and isinstance(item.get("message"), str) for item in report["findings"]
    )


def _store(path: Path, data: dict) -> None:
    """Write atomically; a cache that cannot be written is no error (the check ran)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass
