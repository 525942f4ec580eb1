"""The result cache (as ruff's .ruff_cache), at three levels, so that a run after a small
edit re-reads only what the edit changed.

1. Target: a target whose files, settings and hfcheck are unchanged gets its previous
   report back without discovery or a rule; such a warm run stats every file and reads none.
2. Unit: after any change, discovery runs again, and each unit (hfcheck.discovery: a model
   folder, the deployment files) whose view is unchanged gets its previous findings back
   without running its rules. A unit's key holds the identity of every file its view
   lists (its own, the deployment files linked to it, a pipeline's sibling tokenizer),
   what discovery handed it (its unit record, the links and model loads that name it), its
   settings and selected rules, and the run key. Rules are cross-file (tokenizer against
   embedding rows, a deployment's max length against the model's config), so the unit,
   not the file, is the smallest set of findings that can be reused exactly.
3. File facts: in a unit that runs again, the per-file reads of weights (RepoView.file_fact:
   the pickle scan (with a torch zip's storage sizes), the safetensors, GGUF and ONNX headers,
   the first bytes sniffed) are looked up by the file's content identity and hfcheck's
   source stamp, so only the changed files are read. Facts are shared by every target:
   the same blob in two snapshots is scanned once. Text files (configs, tokenizers) are
   read again by the rules of a unit that runs again: parsing a stored copy would cost
   what parsing them costs.

A file's identity (the manifest row): its stat (size, mtime, inode, ctime) with git's
"racy" rule (a file modified within 2 s of the run that recorded it is compared by
content), else its content: a SHA-256 of the whole file up to 64 MiB. A larger file is
never hashed whole (a 140 GB repo is checked in a second); its identity is its stat alone,
because a hash of part of it could not vouch for a security verdict (a scan reads zip
members and pickle streams wherever they are). A fresh checkout with a restored cache is
therefore a hit for files up to 64 MiB and a miss for larger ones, which are checked again.

Keys: the run key is hfcheck's version, a hash of the source of hfcheck and of every
module the rules come from, the plugins' versions, the settings, the baseline and the
target's label. Unit and fact entries are content-addressed (named by their key); a unit
or fact entry is written only when every file it depends on was settled (not racy) and
still has the stat it had when its identity was taken, so an edit during the run is never
stored under the old content's key. Entries a target's previous run used and its new run
did not are deleted with the new target entry.

Entries are JSON (never pickle), validated field by field on load; anything unexpected,
unreadable or oversized is a miss, never an error. Fact values are rebuilt only as
dataclasses of hfcheck.formats, and a value is stored only when its JSON rebuilds into an
equal object. The cache lives in the user's cache folder, never inside a checked target
(one configured there is not used for that target). Hub targets and targets of more than
MAX_FILES files are not cached. --no-cache skips every level; --cache-dir /
HFCHECK_CACHE_DIR move it."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import posixpath
import re
import stat
import time
import types
import typing
from dataclasses import asdict, dataclass
from pathlib import Path

from hfcheck.cache_folder import default_cache_folder, store_json

FORMAT = 2
WHOLE_FILE_BYTES = 64 << 20
RACY_NS = 2_000_000_000
MAX_ENTRY_BYTES = 64 << 20
SMALL_FILE_BYTES = (
    1 << 20
)  # a file only sniffed (its first bytes read) gets a fact entry from this size  # a larger entry file is a miss, not a read
# A target of more files (a dataset, not a model) is checked uncached: its manifest (a stat
# and a JSON row per file) would cost a fifth of the check, for a gain only on a warm run.
MAX_FILES = 20_000
# Entries kept per target for runs over some of its files (pre-commit's changed files): one
# per set of files, so each commit would leave one behind.
SCOPED_ENTRIES = 8
# Identities that stand for no content: a file gone, special, unreadable, or too large to hash and racy.
NO_IDENTITY = ("", "special", "unreadable")


@dataclass(frozen=True)
class ResultCache:
    folder: Path

    @classmethod
    def at(cls, folder: Path | None = None) -> ResultCache:
        return cls(Path(folder) if folder else default_cache_folder())

    def check(self, target, settings, baseline, check_target):
        """`check_target(target, settings=..., baseline=..., repo=..., unit_cache=...)`, or
        the stored report of an unchanged target. Hub targets are not cached (their files
        are remote), nor is a target that holds the cache folder."""
        root = Path(target.root).resolve()
        if target.hub is not None or _inside(self.folder, root):
            return check_target(target, settings=settings, baseline=baseline)
        base = self.folder / f"v{FORMAT}"
        # the files named on the command line (pre-commit's changed files) choose the units
        # checked: a report of some units must never answer for the whole target
        scope = [str(root), sorted(target.only) if target.only is not None else None, target.alone]
        whole = base / "targets" / f"{_sha(str(root))[:40]}.json"
        entry_path = whole if scope[1:] == [None, False] else whole.with_name(f"{whole.stem}-{_sha(json.dumps(scope))[:16]}.json")
        stamp = hfcheck_stamp()
        key = run_key(stamp, settings, baseline, target.label, scope)
        stored = _load(entry_path, _valid_target_entry)
        known = stored or (_load(whole, _valid_target_entry) if entry_path != whole else None)  # its identities spare the hashing
        started_ns = time.time_ns()
        from hfcheck.api import target_view

        view = target_view(target, settings)  # the check's own walk: listed once, used twice
        if len(view.files) > MAX_FILES:
            return check_target(target, settings=settings, baseline=baseline, repo=view)
        # file identities do not depend on the key: an entry of other settings still spares the hashing
        rows, unchanged = manifest(view, known["files"] if known else {}, known["written_ns"] if known else 0, started_ns)
        if stored is not None and stored["key"] == key and unchanged:
            report = _report_from(stored["report"], target, settings)
            if report is not None:
                return report
        units = UnitCache(base, key, stamp, rows, {rel: entry.location for rel, entry in view.files.items()}, started_ns)
        view.tree.fact_cache = units.facts  # read by RepoView for pickle scans and safetensors headers
        try:
            report = check_target(target, settings=settings, baseline=baseline, repo=view, unit_cache=units)
        finally:
            view.tree.fact_cache = None
        units.facts.flush()
        entry = {
            "format": FORMAT,
            "key": key,
            "written_ns": started_ns,
            "files": rows,
            "report": _report_to(report),
            "used": sorted(units.used),
        }
        store_json(entry_path, entry)
        if stored is not None:
            _prune(base, set(stored["used"]) - units.used)
        if entry_path != whole:
            _keep_newest(whole.parent.glob(f"{whole.stem}-*.json"), SCOPED_ENTRIES)
        return report


class UnitCache:
    """Levels 2 and 3 for one check of one target: `findings` for a unit's view, and the
    fact store (`facts`) RepoView asks for per-file reads. `used` names every entry this
    run read or wrote."""

    def __init__(self, base: Path, run: str, stamp: str, rows: dict, paths: dict, started_ns: int):
        self.base, self.run, self.rows, self.paths, self.started_ns = base, run, rows, paths, started_ns
        self.used: set[str] = set()
        self.facts = FactCache(self, stamp)

    def findings(self, view, rules, settings, model_only: bool, run):
        """run() (the unit's rules on its view), or the findings it gave on the same inputs."""
        try:
            key = self._key(view, rules, settings, model_only)
        except Exception:  # noqa: BLE001 - anything the key cannot describe is checked uncached
            key = None
        if key is None:
            return run()
        name = f"units/{key}"
        stored = _load(
            self.base / f"{name}.json", lambda data: isinstance(data, dict) and data.get("format") == FORMAT and data.get("key") == key
        )
        findings = _findings_from(stored.get("findings"), _known_paths(view)) if stored else None
        if findings is not None:
            self.used.add(name)
            return findings
        produced = run()
        if not view.rule_crashes and not _transient(view.read_errors) and self.settled(entry.rel for entry in view.files.values()):
            if store_json(self.base / f"{name}.json", {"format": FORMAT, "key": key, "findings": [asdict(f) for f in produced]}):
                self.used.add(name)
        return produced

    def _key(self, view, rules, settings, model_only: bool) -> str | None:
        files = []
        for name, entry in sorted(view.files.items()):
            identity = self.identity(entry)
            if identity is None:
                return None
            files.append([name, entry.rel, identity])
        found, unit = view.discovery, view.unit
        seeded = sorted(f"{key!r}={value!r}" for key, value in view._cache.items())  # what discovery handed the view
        parts = {
            "run": self.run,
            "root": str(view.root),
            "label": view.label,
            "settings": repr(settings),
            "rules": sorted(rule.code for rule in rules),
            "model_only": model_only,
            "files": files,
            "read_errors": sorted(map(repr, view.read_errors.values())),
            "seeded": seeded,
            "discovery": _discovery_part(found, unit, {entry.rel for entry in view.files.values()}),
        }
        text = json.dumps(parts, sort_keys=True, default=repr)
        if " at 0x" in text:  # an object without a value repr: its state is not in the key
            return None
        return _sha(text)

    def identity(self, entry) -> str | None:
        """The identity of a listed file as the manifest took it, or None when it has none
        or the view reads it from elsewhere (a fix's staged copy)."""
        row = self.rows.get(entry.rel)
        if row is None or row[4] in NO_IDENTITY or self.paths.get(entry.rel) != entry.location or row[0] != entry.size:
            return None
        return row[4]

    def settled(self, rels) -> bool:
        """Every file is older than the racy window and still has the stat its identity was
        taken with: what was computed from it may be stored under that identity."""
        for rel in rels:
            row = self.rows.get(rel)
            if row is None or row[1] >= self.started_ns - RACY_NS:
                return False
            try:
                info = os.stat(self.paths[rel])
            except OSError:
                return False
            if _stat_of(info) != row[:4]:
                return False
        return True


class FactCache:
    """Per-file facts by content identity: `fact(kind, entry, limits, compute)` is compute()'s
    value for this file, or the stored value for a file of the same identity. One entry per
    file holds all its facts (its pickle scan, its headers, the first bytes sniffed), read
    at most once per run; new facts are written by `flush` once the check is over."""

    def __init__(self, units: UnitCache, stamp: str):
        self.units, self.stamp = units, stamp
        self._records: dict[str, dict] = {}  # file key -> kind -> encoded value, as stored
        self._new: dict[str, tuple[str, dict]] = {}  # file key -> (rel, kind -> encoded value) to write

    def fact(self, kind: str, entry, limits, compute):
        try:
            identity = self.units.identity(entry)
        except Exception:  # noqa: BLE001 - an entry the cache cannot identify is a miss, never a crash
            identity = None
        if identity is None:
            return compute()
        key = _sha(json.dumps([FORMAT, self.stamp, repr(limits), identity]))
        record = self._record(key)
        if kind in record:
            try:
                value = decode(record[kind])
            except (ValueError, TypeError, KeyError, AttributeError, ImportError, RecursionError, NameError):
                value = None
            if value is not None:
                self.units.used.add(f"facts/{key}")
                return value
        value = compute()
        if value is not None and not _incomplete(value):
            try:
                encoded = encode(value)
                exact = decode(encoded) == value
            except (ValueError, TypeError, KeyError, AttributeError, ImportError, RecursionError, NameError):
                exact = False
            if exact:
                self._new.setdefault(key, (entry.rel, {}))[1][kind] = encoded
        return value

    def _record(self, key: str) -> dict:
        if key not in self._records:
            stored = _load(
                self.units.base / "facts" / f"{key}.json",
                lambda data: isinstance(data, dict) and data.get("key") == key and isinstance(data.get("facts"), dict),
            )
            self._records[key] = stored["facts"] if stored else {}
        return self._records[key]

    def flush(self) -> None:
        """Write the facts learnt in this run, for files still as they were when identified."""
        for key, (rel, facts) in self._new.items():
            # the first bytes of a small file are as cheap to read again as an entry
            worth = any(not kind.startswith("head:") for kind in facts) or self.units.rows[rel][0] >= SMALL_FILE_BYTES
            if worth and self.units.settled([rel]):
                merged = {**self._records.get(key, {}), **facts}
                if store_json(self.units.base / "facts" / f"{key}.json", {"format": FORMAT, "key": key, "facts": merged}):
                    self.units.used.add(f"facts/{key}")
        self._new.clear()


# -- keys and identities ---------------------------------------------------------------


def hfcheck_stamp() -> str:
    """hfcheck's version, its sources' and rule modules' hash and the plugins' versions."""
    from hfcheck import __version__

    return _sha(json.dumps([__version__, source_stamps(), _plugin_versions()], default=str))


@functools.cache
def _plugin_versions() -> list:
    """(entry point, distribution, version) of every rule plugin, once per process:
    upgrading a plugin invalidates the results its rules produced."""
    from hfcheck.plugins import installed

    return [(value, dist, version) for _, value, dist, version in installed()]


def run_key(stamp: str, settings, baseline, label: str, scope=None) -> str:
    """What besides the files decides the findings."""
    return _sha(json.dumps([stamp, repr(settings), sorted(baseline or ()), label, scope], default=str))


def source_stamps() -> str:
    """One hash of the contents of hfcheck's own modules and data and of every rule module
    (plugins included): hfcheck is installed from commits that share a version number, and
    edited in place in a development tree; file mtimes would change with every fresh
    install (a CI run), contents do not. About 0.6 MB, a few ms: a run over many targets
    hashes them once, again only when a file's stat moves (or is within the racy window)."""
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
    ordered = sorted(files)
    try:
        stats = tuple((str(path), *_stat_of(path.stat())) for path in ordered)
    except OSError:
        stats = None
    if stats is not None and stats in _SOURCE_STAMPS:
        return _SOURCE_STAMPS[stats]
    digest = hashlib.sha256()
    for path in ordered:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    stamp = digest.hexdigest()
    if stats is not None and all(row[2] < time.time_ns() - RACY_NS for row in stats):
        _SOURCE_STAMPS.clear()
        _SOURCE_STAMPS[stats] = stamp
    return stamp


_SOURCE_STAMPS: dict[tuple, str] = {}  # the stats of the source files -> their hash, in this process


def _stat_of(info) -> list[int]:
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]


def manifest(view, previous: dict, written_ns: int, now_ns: int) -> tuple[dict[str, list], bool]:
    """(rel -> [size, mtime_ns, inode, ctime_ns, identity], whether the files are those of
    `previous`) for every file the check walks. A file whose stat is the one recorded, and
    was older than the racy window then, keeps its row unread; any other file up to 64 MiB
    is hashed whole; a larger one gets its stat as identity, or none while it is racy."""
    files: dict[str, list] = {}
    unchanged = bool(previous) and view.files.keys() == previous.keys()
    for rel, entry in view.files.items():
        old = previous.get(rel)
        try:
            info = os.stat(entry.location)  # not entry.path: building a Path per file costs about as much as its stat
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            files[rel] = [-1, -1, -1, -1, "special"]  # gone or not a regular file: the check reports it
            unchanged = unchanged and old == files[rel]
            continue
        now = _stat_of(info)
        if old and old[:4] == now and info.st_mtime_ns < written_ns - RACY_NS and old[4] not in NO_IDENTITY:
            files[rel] = old
            continue
        files[rel] = [*now, _identity(entry.path, info, now_ns)]
        unchanged = unchanged and bool(old) and files[rel][4] == old[4] and old[4] not in NO_IDENTITY
    return files, unchanged


def _identity(path: Path, info, now_ns: int) -> str:
    if info.st_size <= WHOLE_FILE_BYTES:
        return content_hash(path, info.st_size)
    if info.st_mtime_ns >= now_ns - RACY_NS:
        return ""  # an edit within the same mtime tick could follow unseen
    return f"stat:{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def content_hash(path: Path, size: int) -> str:
    """'sha256:' and the hash of the whole file (up to WHOLE_FILE_BYTES), 'unreadable' when it cannot be read."""
    digest = hashlib.sha256()
    try:
        # O_NONBLOCK: a file swapped for a FIFO since the stat must not hang the run
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
                if stream.tell() > WHOLE_FILE_BYTES:
                    return "unreadable"  # grew past the hashing limit since the stat
    except OSError:
        return "unreadable"
    return "sha256:" + digest.hexdigest()


def _discovery_part(found, unit, rels: set[str]):
    """What a view's rules can learn from discovery beyond its own files."""
    if found is None:
        return None
    names = sorted({(link.name, link.model.startswith("hub:")) for link in found.links})  # facts.deploy.is_hub_id reads every link's name
    if unit is None:  # the deployment view: every unit and link
        return [names, [repr(u) for u in found.units], [repr(link) for link in found.links]]
    links = [repr(link) for link in found.links if link.model == unit.path or link.source in rels]
    return [names, repr(unit), links]


def _transient(read_errors) -> bool:
    """A read error that another run may not meet (an I/O error, not a size limit)."""
    return any(error.message.startswith(("cannot ", "no longer")) for error in read_errors.values())


def _incomplete(value) -> bool:
    """A fact that depends on more than the file's bytes: a scan stopped by its time
    budget, or one that met an I/O error."""
    problems = getattr(value, "problems", None) or ()
    return any("time budget" in str(getattr(p, "message", "")) or "could not be read" in str(getattr(p, "message", "")) for p in problems)


# -- entries -----------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _inside(folder: Path, root: Path) -> bool:
    try:
        return folder.resolve().is_relative_to(root)
    except OSError:
        return True


def _load(path: Path, valid) -> dict | None:
    """The JSON entry at `path` when `valid(data)`, else None; never raises."""
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if valid(data) else None
    except (OSError, ValueError, RecursionError):
        return None


def _prune(base: Path, names: set) -> None:
    for name in names:
        if type(name) is not str or not ENTRY_NAME.fullmatch(name):
            continue  # a crafted name: never a path outside the cache
        try:
            (base / f"{name}.json").unlink()
        except OSError:
            pass


def _keep_newest(paths, count: int) -> None:
    """Delete all but the `count` most recently written of these entries."""
    try:
        dated = sorted(((path.stat().st_mtime_ns, path) for path in paths), reverse=True)
    except OSError:
        return
    for _, path in dated[count:]:
        try:
            path.unlink()
        except OSError:
            pass


def _is_int(value, low: int = -1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value < 1 << 63


def _valid_target_entry(data) -> bool:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return False
    if not (isinstance(data.get("key"), str) and _is_int(data.get("written_ns"), 0) and isinstance(data.get("files"), dict)):
        return False
    if not isinstance(data.get("used"), list):  # its names are checked when pruned
        return False
    for row in data["files"].values():
        if not (type(row) is list and len(row) == 5 and type(row[4]) is str and len(row[4]) < 200):
            return False
        for value in row[:4]:
            if type(value) is not int or not -1 <= value < 1 << 63:
                return False
    return isinstance(data.get("report"), dict)


ENTRY_NAME = re.compile(r"(units|facts)/[0-9a-f]{64}")


FINDING_TYPES = {
    "code": (str,),
    "severity": (str,),
    "concern": (str,),
    "message": (str,),
    "path": (str, type(None)),
    "line": (int, type(None)),
    "fix": (str, type(None)),
    "unit": (str,),
}


def _findings_from(items, known_paths: set[str] | None = None) -> list | None:
    """Findings rebuilt from stored JSON, or None when any is not one this hfcheck writes:
    unknown or missing fields, a wrong type, a severity hfcheck has not, a path outside
    the target."""
    from hfcheck.findings import SEVERITY_RANK, Finding

    names = {f.name for f in dataclasses.fields(Finding)}
    if not isinstance(items, list) or names != set(FINDING_TYPES):
        return None
    findings = []
    for item in items:
        if not isinstance(item, dict) or set(item) != names:
            return None
        if any(not isinstance(item[name], types) or isinstance(item[name], bool) for name, types in FINDING_TYPES.items()):
            return None
        if item["severity"] not in SEVERITY_RANK or not _plausible_path(item["path"], known_paths):
            return None
        findings.append(Finding(**item))
    return findings


def _plausible_path(path: str | None, known: set[str] | None) -> bool:
    if path is None or (known is not None and path in known):
        return True
    return "\0" not in path and not posixpath.isabs(path) and posixpath.normpath(path) == path and not path.startswith("..")


def _known_paths(view) -> set[str]:
    return set(view.files) | set(view.read_errors) | set((view.real_paths or {}).values())


UNIT_TYPES = {
    "path": (str,),
    "kind": (str,),
    "summary": (str,),
    "files": (list,),
    "settings_file": (str, type(None)),
    "links": (list,),
    "part_of": (str, type(None)),
    "model_type": (str, type(None)),
}


def _report_to(report) -> dict:
    return {
        "path": report.path,
        "root": str(report.root),
        "findings": [asdict(f) for f in report.findings],
        "units": [asdict(unit) for unit in report.units],
        "skipped_dirs": list(report.skipped_dirs),
    }


def _report_from(data: dict, target, settings):
    """The stored report of this target, or None when it is not exactly one this hfcheck writes."""
    from hfcheck.api import TargetReport
    from hfcheck.discovery import Unit

    if not isinstance(data, dict) or data.get("path") != target.label or data.get("root") != str(target.root):
        return None
    findings = _findings_from(data.get("findings"))
    units, skipped = data.get("units"), data.get("skipped_dirs")
    if findings is None or not isinstance(units, list) or not isinstance(skipped, list) or not all(isinstance(s, str) for s in skipped):
        return None
    if {f.name for f in dataclasses.fields(Unit)} != set(UNIT_TYPES):
        return None
    rebuilt = []
    for item in units:
        if not isinstance(item, dict) or set(item) != set(UNIT_TYPES) or any(not isinstance(item[k], t) for k, t in UNIT_TYPES.items()):
            return None
        if not all(isinstance(v, str) for v in item["files"] + item["links"]):
            return None
        rebuilt.append(Unit(**item))
    return TargetReport(target.label, target.root, findings, settings, units=rebuilt, skipped_dirs=skipped)


# -- the fact codec: dataclasses of hfcheck.formats as tagged JSON --------------------------


def encode(value):
    """Tagged JSON for a value made of scalars, lists, tuples, sets, dicts, bytes and
    dataclasses of hfcheck.formats; ValueError for anything else."""
    kind = type(value)
    if value is None or kind in (bool, str, int):
        return value
    if kind is float:
        if not math.isfinite(value):
            raise ValueError("non-finite float")
        return {"f": value}
    if kind is list or kind is tuple:
        return {"list" if kind is list else "tuple": [encode(v) for v in value]}
    if kind is set or kind is frozenset:
        return {kind.__name__: sorted((encode(v) for v in value), key=lambda e: json.dumps(e, sort_keys=True))}
    if kind is dict:
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if dataclasses.is_dataclass(kind) and _allowed(kind):
        return {
            "dc": f"{kind.__module__}:{kind.__qualname__}",
            "fields": {name: encode(getattr(value, name)) for name in _field_names(kind)},
        }
    raise ValueError(f"cannot cache a {kind.__name__}")


_SEQUENCES = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}


def decode(data):
    """The value `encode` made; ValueError (or TypeError, ...) for anything it would not make."""
    kind = type(data)
    if data is None or kind is bool or kind is str or (kind is int and -(1 << 63) <= data < 1 << 63):
        return data
    if kind is not dict:
        raise ValueError("not an encoded value")
    if len(data) == 2 and "dc" in data:
        return _decode_dataclass(data["dc"], data.get("fields"))
    if len(data) != 1:
        raise ValueError("not an encoded value")
    [(tag, body)] = data.items()
    if tag == "f" and type(body) in (float, int):
        return float(body)
    if tag == "bytes" and type(body) is str:
        return bytes.fromhex(body)
    if type(body) is not list:
        raise ValueError("not an encoded value")
    if tag in _SEQUENCES:
        return _SEQUENCES[tag]([decode(v) for v in body])
    if tag == "dict" and all(type(pair) is list and len(pair) == 2 for pair in body):
        return {decode(k): decode(v) for k, v in body}
    raise ValueError(f"unknown tag {tag!r}")


def _decode_dataclass(name, values):
    cls, checked = _dataclass_named(name) if type(name) is str else (None, ())
    if cls is None or type(values) is not dict or len(values) != len(checked):
        raise ValueError("not an hfcheck.formats dataclass with these fields")
    obj = cls.__new__(cls)  # the stored state as it was, without __post_init__ recomputing it
    for key, conforms in checked:
        value = decode(values[key])  # KeyError: a field missing
        if not conforms(value):
            raise TypeError(f"{name}.{key}: not of its declared type")
        object.__setattr__(obj, key, value)
    return obj


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.cache
def _dataclass_named(name: str) -> tuple[type | None, tuple]:
    """The allowlisted dataclass `module:qualname` and a type check per field, or (None, ())."""
    import importlib

    module, _, qualname = name.partition(":")
    if not module.startswith("hfcheck.formats.") or not qualname.isidentifier():
        return None, ()
    try:
        cls = getattr(importlib.import_module(module), qualname, None)
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls) and _allowed(cls) and cls.__module__ == module):
            return None, ()
        hints = typing.get_type_hints(cls)
        return cls, tuple((field_name, _checker(hints[field_name])) for field_name in _field_names(cls))
    except (ImportError, NameError, TypeError, KeyError, AttributeError):
        return None, ()


@functools.cache
def _checker(hint):
    """value -> whether a decoded value is of a field's declared type. A type this does not
    know accepts nothing, so a value holding one is never cached (its round trip fails)."""
    if hint is typing.Any or hint is object:  # any value decode makes: scalars, containers, hfcheck.formats dataclasses
        return lambda value: True
    if hint is None or hint is type(None):
        return lambda value: value is None
    if hint in (int, str, bool, bytes, float, list, tuple, dict, set, frozenset):
        return lambda value: type(value) is hint
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = tuple(map(_checker, args))
        return lambda value: any(check(value) for check in options)
    if origin in (list, set, frozenset) and len(args) == 1:
        item = _checker(args[0])
        return lambda value: type(value) is origin and all(map(item, value))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _checker(args[0])
        return lambda value: type(value) is tuple and all(map(item, value))
    if origin is tuple:
        items = tuple(map(_checker, args))
        return lambda value: type(value) is tuple and len(value) == len(items) and all(check(v) for check, v in zip(items, value))
    if origin is dict and len(args) == 2:
        key, item = map(_checker, args)
        return lambda value: type(value) is dict and all(key(k) and item(v) for k, v in value.items())
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return lambda value: type(value) is hint
    return lambda value: False


def _allowed(cls: type) -> bool:
    return cls.__module__.startswith("hfcheck.formats.") and "." not in cls.__qualname__ and "<" not in cls.__qualname__
