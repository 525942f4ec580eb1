"""Hub targets: `org/name`, `org/name@revision` or `hf://org/name[@revision]`.

The repo is materialised as a folder that the ordinary repo view reads, so every rule and
every read limit applies unchanged:

- small files (config, tokenizer, card, generation config, index files, *.json, *.txt,
  *.md, *.jinja, *.model, *.py, *.yaml, ... under a size cap) are downloaded with
  huggingface_hub into the HF cache (HF_HOME, HF_HUB_CACHE, HF_TOKEN, HF_ENDPOINT and
  HF_HUB_OFFLINE apply) and linked or copied into the view;
- each safetensors file becomes a sparse file of its true size holding the real 8-byte
  length and header at offset 0 (fetched with bounded range requests through
  huggingface_hub's HfFileSystem) and a hole after it, so `repo.safetensors(rel)` checks
  the real header against the real size;
- pickle weights are downloaded only when asked (`--download-pickles`); other weights
  (GGUF, ONNX, ...) and text files over the cap are not: each becomes a hole of its true
  size, so rules that test presence and size see the repo as it is. `HubSnapshot`
  records what was left out (rules/hub.py reports it; `repo.is_placeholder(rel)` tells
  content-reading rules to skip it). Images and other files no rule reads are left out.

Views live in `$HFCHECK_CACHE` (default `$HF_HOME/hfcheck`), one per commit, with the
branch -> commit refs that let HF_HUB_OFFLINE=1 runs find them. A commit never changes,
so a view of a commit sha is reused without any network call.

Only huggingface_hub's public API is used (HfApi, hf_hub_download, snapshot_download,
HfFileSystem, huggingface_hub.utils' errors, huggingface_hub.constants): its session and
HTTP internals differ between releases (requests before 1.0, httpx after). It is imported
inside functions: it costs ~0.4 s, which local runs never pay."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hfcheck.filekinds import OTHER_WEIGHT_SUFFIXES, PICKLE_WEIGHT_SUFFIXES, SMALL_NAMES, SMALL_SUFFIXES
from hfcheck.formats.safetensors import MAX_HEADER_BYTES
from hfcheck.tree import Limits

# What huggingface_hub itself fetches first for a safetensors header: 97% of headers on
# the Hub fit in 100 kB, so one request is usually enough.
HEADER_PROBE_BYTES = 100_001
# The repo view's own read limits (one definition, hfcheck.tree): a file over them would
# not be read anyway, so it is not fetched.
READ_LIMITS = Limits()
MANIFEST = "manifest.json"

_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
_COMMIT = re.compile(r"[0-9a-f]{40}")


class HubError(Exception):
    """The Hub target could not be resolved or fetched (a usage error, exit 2)."""

    def __init__(self, message: str, *, repo_not_found: bool = False, repo_exists: bool = False):
        super().__init__(message)
        self.repo_not_found = repo_not_found
        # The Hub knows the repo (gated, a missing revision or file, ...): the target was
        # no mistyped local path. The message then starts with the repo id.
        self.repo_exists = repo_exists


@dataclass(frozen=True)
class HubName:
    repo_id: str
    revision: str | None  # as asked: branch, tag or commit; None is the default branch


@dataclass(frozen=True)
class SkippedFile:
    rel: str
    size: int
    reason: str  # "pickle", "weights", "too-large"


@dataclass(frozen=True)
class HubSnapshot:
    repo_id: str
    revision: str  # the commit sha that was checked
    root: Path  # the materialised view
    header_only: tuple[str, ...]  # safetensors files whose tensor data is a hole
    skipped: tuple[SkippedFile, ...]  # files of the commit that are not in the view


def parse_hub_name(name: str) -> HubName | None:
    """`org/name`, `org/name@rev` or `hf://...` as a HubName; None when it does not look
    like a model repo id (the caller then reports a missing path)."""
    text = name[len("hf://") :] if name.startswith("hf://") else name
    repo_id, _, revision = text.partition("@")
    if text.endswith("@") or not _REPO_ID.fullmatch(repo_id) or ".." in repo_id or "--" in repo_id or repo_id.endswith(".git"):
        return None
    if revision and (any(c.isspace() for c in revision) or ".." in revision):
        return None
    return HubName(repo_id, revision or None)


def views_dir() -> Path:
    from huggingface_hub import constants

    return Path(os.environ.get("HFCHECK_CACHE") or Path(constants.HF_HOME) / "hfcheck")


def fetch(name: HubName, *, download_pickles: bool = False) -> HubSnapshot:
    """The materialised view of a Hub model repo at the asked revision."""
    from huggingface_hub import constants

    base = views_dir() / ("models--" + name.repo_id.replace("/", "--"))
    variant = "+pickles" if download_pickles else ""
    asked = name.revision or "main"
    commit = asked if _COMMIT.fullmatch(asked) else None
    if constants.HF_HUB_OFFLINE:
        commit = commit or _read_ref(base, asked)
        snapshot = (_load(base, commit, variant) if commit else None) or _from_hf_cache(name.repo_id, asked)
        if snapshot is None:
            raise HubError(
                f"{name.repo_id}@{asked} is neither in the Hugging Face cache ({constants.HF_HUB_CACHE}) nor in hfcheck's ({base}) "
                "and HF_HUB_OFFLINE is set; run once online first"
            )
        return snapshot
    if commit and (snapshot := _load(base, commit, variant)):
        return snapshot
    from huggingface_hub import HfApi

    api = HfApi()
    with _hub_errors(name):
        commit = api.model_info(name.repo_id, revision=name.revision).sha
    if not commit or not _COMMIT.fullmatch(commit):
        raise HubError(f"{name.repo_id}: the Hub did not say which commit {asked!r} is")
    if asked != commit:
        _write_ref(base, asked, commit)
    return _load(base, commit, variant) or _build(api, name.repo_id, commit, base, variant, download_pickles)


def _from_hf_cache(repo_id: str, revision: str) -> HubSnapshot | None:
    """A snapshot already in the standard Hugging Face cache (what from_pretrained or
    snapshot_download left there), found by huggingface_hub's own lookup: checked as
    the local folder it is, with the files it holds."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        return None
    if not path.is_dir() or not _COMMIT.fullmatch(path.name):
        return None
    return HubSnapshot(repo_id, path.name, path, header_only=(), skipped=())


def _build(api, repo_id: str, commit: str, base: Path, variant: str, download_pickles: bool) -> HubSnapshot:
    from huggingface_hub import HfFileSystem, hf_hub_download
    from huggingface_hub.hf_api import RepoFile

    name = HubName(repo_id, commit)
    (base / "views").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{commit}{variant}.", dir=base / "views"))
    try:
        root = work / "repo"
        root.mkdir()
        header_only, skipped = [], []
        # A fresh instance: fsspec caches file systems per process, with their listings.
        remote = HfFileSystem(skip_instance_cache=True)
        with _hub_errors(name, repo_exists=True) as errors:
            entries = [e for e in api.list_repo_tree(repo_id, revision=commit, recursive=True) if isinstance(e, RepoFile)]
            for entry in entries:
                rel, size = entry.path, int(entry.size or 0)
                errors.file = rel
                if not _safe_rel(rel):
                    continue  # a path that would leave the view: never written
                kind = _kind(rel, size, download_pickles)
                if kind == "fetch":
                    _place(Path(hf_hub_download(repo_id, rel, revision=commit)), root / rel)
                elif kind == "header":
                    if not _write_header_stub(remote, f"{repo_id}@{commit}/{rel}", size, root / rel):
                        header_only.append(rel)
                elif kind != "ignore":
                    skipped.append(SkippedFile(rel, size, kind))
                    # A hole of the true size: rules that ask whether a file exists or how
                    # big it is see the truth; a text file over the cap is reported over
                    # the view's read limit (HFC001), exactly as for a local copy.
                    _write_placeholder(root / rel, size)
        manifest = {"repo_id": repo_id, "revision": commit, "header_only": header_only, "skipped": [vars(s) for s in skipped]}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        final = base / "views" / f"{commit}{variant}"
        try:
            os.rename(work, final)
        except OSError:  # another run finished the same view first: use theirs
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    snapshot = _load(base, commit, variant)
    if snapshot is None:
        raise HubError(f"{repo_id}@{commit}: could not store the fetched files under {base}")
    return snapshot


def download_for_smoke(snapshot: HubSnapshot) -> Path:
    """The real files the smoke pass loads for a Hub target, at the commit the static pass
    checked: the small files and the weights (safetensors when the repo has any, else the
    pickle weights, only when the static pass scanned them: --download-pickles), fetched
    into the HF cache by snapshot_download (a complete cached snapshot is used offline).
    Returns the snapshot folder."""
    from huggingface_hub import snapshot_download

    view = snapshot.root
    unscanned = [s.rel for s in snapshot.skipped if s.reason == "pickle"]
    if any(view.rglob("*.safetensors")):
        weights = ["*.safetensors"]
    elif unscanned:
        raise HubError(
            f"{snapshot.repo_id} has only pickle weights and the static pass did not scan them ({', '.join(unscanned[:3])}); run with --download-pickles"
        )
    else:
        weights = [f"*{suffix}" for suffix in PICKLE_WEIGHT_SUFFIXES]
    # The small files include *.py: remote code, which plan_load refuses without --trust-remote-code.
    patterns = [f"*{suffix}" for suffix in SMALL_SUFFIXES] + [f"{name}*" for name in SMALL_NAMES] + weights
    with _hub_errors(HubName(snapshot.repo_id, snapshot.revision), repo_exists=True):
        return Path(snapshot_download(snapshot.repo_id, revision=snapshot.revision, allow_patterns=patterns))


def _kind(rel: str, size: int, download_pickles: bool) -> str:
    """What to do with one file of the tree listing: fetch, header, pickle, weights,
    too-large, or ignore (images, data and other files no rule reads)."""
    filename = PurePosixPath(rel).name
    lower = filename.lower()
    if lower.endswith(".safetensors"):
        return "header"
    if lower.endswith(PICKLE_WEIGHT_SUFFIXES):
        return "fetch" if download_pickles else "pickle"
    if lower.endswith(OTHER_WEIGHT_SUFFIXES):
        return "weights"
    small = (
        lower.endswith(SMALL_SUFFIXES)
        or filename.startswith(SMALL_NAMES)
        or lower.startswith(("requirements", "constraints", "readme", "license", "licence"))
    )
    if not small:
        return "ignore"
    return "fetch" if size <= _read_cap(lower) else "too-large"


def _read_cap(lower_name: str) -> int:
    """The most the repo view reads of such a file: JSON has its own cap; every other small
    file is read as text (YAML's own cap is lower, and a YAML file is also read as text)."""
    if lower_name.endswith(".json"):
        return READ_LIMITS.json_bytes
    return max(READ_LIMITS.text_bytes, READ_LIMITS.yaml_bytes)


def _safe_rel(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and "\\" not in rel and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)


def _place(cached: Path, dest: Path) -> None:
    """A downloaded file into the view: a copy, never a link, so nothing that writes in
    the view (a fix) can change the HF cache's blob."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached.resolve(), dest)


def _write_header_stub(remote, path: str, size: int, dest: Path) -> bool:
    """A sparse file of the remote file's size: its real first 8 + header-length bytes,
    then a hole. Two bounded range requests at most (`cache_type="none"`: fsspec reads
    exactly the asked span, no read-ahead block). True when the whole file came with the
    first request (a complete, real file)."""
    with remote.open(path, "rb", block_size=HEADER_PROBE_BYTES, cache_type="none", size=size) as stream:
        data = _read_exactly(stream, min(size, HEADER_PROBE_BYTES), path)
        complete = len(data) == size
        if len(data) >= 8 and not complete:
            (length,) = struct.unpack("<Q", data[:8])
            end = 8 + length
            if len(data) < end <= size and length <= MAX_HEADER_BYTES:
                data += _read_exactly(stream, end - len(data), path)
            data = data[:end]  # header only: the tensor bytes that came with it are dropped
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as stream:
        stream.write(data)
        stream.truncate(size)
    return complete


def _read_exactly(stream, count: int, path: str) -> bytes:
    """`count` bytes from the stream's position. An endpoint that ignores Range answers
    with the whole file: that is refused, not used, since the next shard would cost its
    full size too (the Hub and its CDN honour ranges)."""
    data = stream.read(count)
    if len(data) > count:
        raise HubError(
            f"{path}: the endpoint ignored the byte range asked for ({count} bytes) and sent {len(data)}; a Hub mirror must support HTTP Range",
            repo_exists=True,
        )
    return data


def _write_placeholder(dest: Path, size: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as stream:
        stream.truncate(size)


def _load(base: Path, commit: str, variant: str) -> HubSnapshot | None:
    folder = base / "views" / f"{commit}{variant}"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return HubSnapshot(
            repo_id=manifest["repo_id"],
            revision=manifest["revision"],
            root=folder / "repo",
            header_only=tuple(manifest["header_only"]),
            skipped=tuple(SkippedFile(**s) for s in manifest["skipped"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or half-written: built again


def _read_ref(base: Path, revision: str) -> str | None:
    try:
        commit = (base / "refs" / _ref_file(revision)).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return commit if _COMMIT.fullmatch(commit) else None


def _write_ref(base: Path, revision: str, commit: str) -> None:
    ref = base / "refs" / _ref_file(revision)
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.write_text(commit, encoding="utf-8")


def _ref_file(revision: str) -> str:
    # refs/pr/1 and branch names with slashes stay one file
    return revision.replace("/", "%2F")


class _QuietLibraryLog:
    """huggingface_hub logs every retry of a failing request as a warning on stderr (0.3x
    retries a lost connection five times); hfcheck reports the outcome in one line instead.
    Its log level is raised to ERROR while any Hub read runs (counted, so threads checking
    several targets restore it once, after the last) unless HF_HUB_VERBOSITY asks otherwise."""

    _lock = threading.Lock()
    _active = 0
    _saved: int | None = None

    @classmethod
    def enter(cls) -> None:
        from huggingface_hub.utils import logging as hub_logging

        with cls._lock:
            if cls._active == 0 and not os.environ.get("HF_HUB_VERBOSITY"):
                cls._saved = hub_logging.get_verbosity()
                hub_logging.set_verbosity_error()
            cls._active += 1

    @classmethod
    def leave(cls) -> None:
        from huggingface_hub.utils import logging as hub_logging

        with cls._lock:
            cls._active -= 1
            if cls._active == 0 and cls._saved is not None:
                hub_logging.set_verbosity(cls._saved)
                cls._saved = None


class _hub_errors:
    """huggingface_hub's exceptions as one-line HubErrors (naming `file`, the file being
    read when there is one), with the library's retry warnings held back meanwhile."""

    def __init__(self, name: HubName, *, repo_exists: bool = False):
        self.name = name
        self.repo_exists = repo_exists
        self.file: str | None = None

    def __enter__(self):
        _QuietLibraryLog.enter()
        return self

    def __exit__(self, kind, error, _traceback):
        _QuietLibraryLog.leave()
        if error is None or not isinstance(error, Exception) or isinstance(error, HubError):
            return False
        from huggingface_hub import constants
        from huggingface_hub.utils import (
            EntryNotFoundError,
            GatedRepoError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        if isinstance(error, FileNotFoundError) and isinstance(error.__cause__, HfHubHTTPError):
            error = error.__cause__  # HfFileSystem's wrapping of a missing repo or revision
        repo, endpoint = self.name.repo_id, constants.ENDPOINT
        where = f" for {self.file}" if self.file else ""
        unreachable = (
            f"{repo}: cannot reach {endpoint}{where} ({_first_line(error) or type(error).__name__}); HF_HUB_OFFLINE=1 uses the cache"
        )
        if isinstance(error, GatedRepoError):
            message = f"{repo} is gated on {endpoint}: accept its terms and set HF_TOKEN"
        elif isinstance(error, RepositoryNotFoundError):
            message = f"no model repo {repo!r} on {endpoint} (a private repo needs HF_TOKEN)"
        elif isinstance(error, RevisionNotFoundError):
            message = f"{repo} has no revision {self.name.revision!r}"
        elif isinstance(error, LocalEntryNotFoundError):  # hf_hub_download (0.x) lost the Hub and has no cached copy
            message = unreachable
        elif isinstance(error, (EntryNotFoundError, FileNotFoundError)):
            message = f"{repo}: could not download {self.file or 'a file'}, which the Hub lists at this revision ({_first_line(error)})"
        elif isinstance(error, OfflineModeIsEnabled):
            message = f"{repo}: HF_HUB_OFFLINE is set and the repo is not in hfcheck's cache"
        elif isinstance(error, HfHubHTTPError):
            message = f"{repo}: the Hub answered {_first_line(error)}{where}"
        elif isinstance(error, OSError) or type(error).__module__.startswith(("httpx", "httpcore")):
            message = unreachable
        else:
            return False
        not_found = isinstance(error, RepositoryNotFoundError) and not isinstance(error, GatedRepoError)
        exists = not not_found and (self.repo_exists or isinstance(error, (GatedRepoError, RevisionNotFoundError)))
        raise HubError(message, repo_not_found=not_found, repo_exists=exists) from error


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]
