"""The repo view: one object per target that lists its files once and parses, lazily and
once, whatever rules ask for. Rules never open files; every read here has a size cap,
and a file that cannot be read is recorded (once) instead of raising."""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # imported when a file of their kind is read (_parse_json, ... below)
    from hfcheck.formats.card import CardDoc
    from hfcheck.formats.json_doc import JsonDoc
    from hfcheck.formats.yaml_doc import YamlDoc

MiB = 1 << 20
# Per-file time budget of a pickle scan: past it the scan stops and says it is incomplete.
PICKLE_SCAN_SECONDS = 30.0

# Directories that are never part of a model or its deployment.
SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".cache"}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz", ".h5", ".hdf5", ".keras", ".msgpack", ".gguf", ".onnx")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json", "chat_template.jinja", "chat_template.json")
DEPLOY_FILES = ("requirements", "constraints", "pyproject.toml", "setup.cfg", "Pipfile", "environment.yml", "Dockerfile", ".env", "docker-compose")


@dataclass(frozen=True)
class Limits:
    max_files: int = 200_000
    json_bytes: int = 64 * MiB  # tokenizer.json of a 256k-token vocab is ~35 MB
    text_bytes: int = 16 * MiB
    yaml_bytes: int = 4 * MiB


@dataclass(frozen=True)
class FileEntry:
    rel: str  # posix path relative to the root
    path: Path  # what to open: the file itself, or a symlink's checked target
    size: int


@dataclass(frozen=True)
class ReadError:
    path: str
    message: str
    severity: str = "warning"


def concern_of(rel: str) -> str:
    """Which concern a file belongs to, for findings about the file itself."""
    name = PurePosixPath(rel).name
    if name.endswith(WEIGHT_SUFFIXES) or name.endswith(".index.json"):
        return "weights"
    if name in TOKENIZER_FILES:
        return "tokenizer"
    if name == "generation_config.json":
        return "generation"
    if name.upper() == "README.MD":
        return "card"
    if name.upper().startswith(("LICENSE", "LICENCE")):
        return "license"
    if name.startswith(DEPLOY_FILES) or name.endswith((".txt", ".toml", ".lock")):
        return "pinning"
    return "config"


class RepoView:
    def __init__(self, root: Path, label: str | None = None, *, limits: Limits | None = None, exclude: tuple[str, ...] = (), settings=None):
        self.root = Path(root)
        self.label = label if label is not None else str(root)
        self.limits = limits or Limits()
        self.exclude = tuple(exclude)
        self.settings = settings
        self.read_errors: dict[str, ReadError] = {}
        self.rule_crashes: list[tuple[str, str]] = []  # (rule code, error), filled by the runner
        self._files: dict[str, FileEntry] | None = None
        self._cache: dict[Any, Any] = {}
        self._allowed_link_root = _hf_cache_repo_dir(self.root)

    # -- listing -----------------------------------------------------------------

    @property
    def files(self) -> dict[str, FileEntry]:
        if self._files is None:
            self._files = self._walk()
        return self._files

    def exists(self, rel: str) -> bool:
        return rel in self.files

    def size(self, rel: str) -> int | None:
        entry = self.files.get(rel)
        return entry.size if entry else None

    def glob(self, pattern: str) -> list[str]:
        """Files matching a shell pattern: against the whole relative path when the pattern
        has a '/', else against root-level names only."""
        if "/" in pattern:
            return sorted(rel for rel in self.files if fnmatch.fnmatchcase(rel, pattern))
        return sorted(rel for rel in self.files if "/" not in rel and fnmatch.fnmatchcase(rel, pattern))

    def glob_anywhere(self, pattern: str) -> list[str]:
        """Files whose name (at any depth) matches the pattern."""
        return sorted(rel for rel in self.files if fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern))

    def _walk(self) -> dict[str, FileEntry]:
        found: dict[str, FileEntry] = {}
        pending = [(self.root, "")]
        while pending:
            directory, prefix = pending.pop()
            try:
                with os.scandir(directory) as entries:
                    children = sorted(entries, key=lambda e: e.name)
            except OSError as error:
                self._record(prefix.rstrip("/") or ".", f"cannot list directory: {error.strerror or error}")
                continue
            for entry in children:
                rel = prefix + entry.name
                if self._excluded(rel):
                    continue
                if len(found) >= self.limits.max_files:
                    self._record(".", f"more than {self.limits.max_files} files; the rest were not checked")
                    return found
                try:
                    self._add(entry, rel, found, pending)
                except OSError as error:
                    self._record(rel, f"cannot read: {error.strerror or error}")
        return found

    def _add(self, entry: os.DirEntry, rel: str, found: dict, pending: list) -> None:
        if entry.is_symlink():
            target = self._checked_link_target(entry, rel)
            if target is None:
                return
            info = target.stat()
            if stat.S_ISDIR(info.st_mode):
                return  # a linked folder inside the target is listed where it really is
            if stat.S_ISREG(info.st_mode):
                found[rel] = FileEntry(rel, target, info.st_size)
            else:
                self._record(rel, "not a regular file; skipped")
            return
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            if entry.name not in SKIPPED_DIRS:
                pending.append((Path(entry.path), rel + "/"))
        elif stat.S_ISREG(info.st_mode):
            found[rel] = FileEntry(rel, Path(entry.path), info.st_size)
        else:
            self._record(rel, "not a regular file (FIFO, socket or device); skipped, never opened")

    def _checked_link_target(self, entry: os.DirEntry, rel: str) -> Path | None:
        try:
            target = Path(entry.path).resolve(strict=True)
        except RuntimeError:
            self._record(rel, "symlink loop; skipped")
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:
                self._record(rel, "symlink loop; skipped")
            else:
                self._record(rel, "broken symlink (its target does not exist)")
            return None
        real_root = self.root.resolve()
        allowed = [real_root] + ([self._allowed_link_root] if self._allowed_link_root else [])
        if not any(target == base or base in target.parents for base in allowed):
            self._record(rel, "symlink to a file outside the target; not read")
            return None
        return target

    def _excluded(self, rel: str) -> bool:
        return any(fnmatch.fnmatchcase(rel, pattern) or rel.startswith(pattern.rstrip("/") + "/") for pattern in self.exclude)

    # -- reading -------------------------------------------------------------------

    def _record(self, rel: str, message: str, severity: str = "warning") -> None:
        self.read_errors.setdefault(rel, ReadError(rel, message, severity))

    def open(self, rel: str):
        """A binary file object for a listed regular file, or None (recorded)."""
        entry = self.files.get(rel)
        if entry is None:
            return None
        try:
            # O_NONBLOCK: a file swapped for a FIFO after listing must not hang us.
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except OSError as error:
            self._record(rel, f"cannot open: {error.strerror or error}")
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            self._record(rel, "no longer a regular file; skipped")
            return None
        return os.fdopen(fd, "rb")

    def read_bytes(self, rel: str, limit: int) -> bytes | None:
        entry = self.files.get(rel)
        if entry is None:
            return None
        if entry.size > limit:
            self._record(rel, f"{entry.size / MiB:.1f} MiB is over the {limit / MiB:.0f} MiB limit for this kind of file; not read")
            return None
        stream = self.open(rel)
        if stream is None:
            return None
        try:
            with stream:
                data = stream.read(limit + 1)
        except OSError as error:
            self._record(rel, f"cannot read: {error.strerror or error}")
            return None
        if len(data) > limit:
            self._record(rel, f"grew past the {limit / MiB:.0f} MiB limit while being read; not read")
            return None
        return data

    def text(self, rel: str, limit: int | None = None) -> str | None:
        """The file decoded as UTF-8 (what transformers and most tools assume)."""
        key = ("text", rel)
        if key not in self._cache:
            data = self.read_bytes(rel, limit or self.limits.text_bytes)
            self._cache[key] = None if data is None else self._decode(rel, data)
        return self._cache[key]

    def _decode(self, rel: str, data: bytes) -> str | None:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            self._record(rel, "UTF-16 text (byte-order mark found): transformers and most tools read it as UTF-8 and fail", "error")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            self._record(rel, f"not valid UTF-8 (byte {error.start}): transformers reads it as UTF-8 and fails", "error")
            return None

    def memo(self, key, compute: Callable[[], Any]) -> Any:
        """Compute a derived fact once per view (shared by every rule that needs it)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def json(self, rel: str) -> JsonDoc | None:
        """The parsed file (check `.error`), or None when absent or unreadable."""
        return self.memo(("json", rel), lambda: _maybe(self.text(rel, self.limits.json_bytes), _parse_json))

    def json_data(self, rel: str) -> Any:
        doc = self.json(rel)
        return doc.data if doc is not None and doc.error is None else None

    def yaml(self, rel: str) -> YamlDoc | None:
        return self.memo(("yaml", rel), lambda: _maybe(self.text(rel, self.limits.yaml_bytes), _parse_yaml))

    @property
    def config(self) -> dict | None:
        """config.json as a mapping, or None when absent, invalid or not an object."""
        data = self.json_data("config.json")
        return data if isinstance(data, dict) else None

    @property
    def card(self) -> CardDoc | None:
        readme = self.card_path
        return None if readme is None else self.memo(("card", readme), lambda: _maybe(self.text(readme), _parse_card))

    @property
    def card_path(self) -> str | None:
        return next((rel for rel in self.files if "/" not in rel and rel.lower() == "readme.md"), None)

    def _read_stream(self, rel: str, read: Callable):
        """read(stream) on the opened file, or None when it cannot be opened or read."""
        stream = self.open(rel)
        if stream is None:
            return None
        try:
            with stream:
                return read(stream)
        except OSError as error:
            self._record(rel, f"cannot read: {error.strerror or error}")
            return None

    def safetensors(self, rel: str):
        """The checked header of a safetensors file (see formats.safetensors), or None."""

        def compute():
            from hfcheck.formats.safetensors import read_header

            return self._read_stream(rel, lambda stream: read_header(stream, self.files[rel].size))

        return self.memo(("safetensors", rel), compute)

    def head(self, rel: str, size: int = 512) -> bytes | None:
        """The first bytes of a file, for sniffing its real format."""
        return self.memo(("head", rel, size), lambda: self._read_stream(rel, lambda stream: stream.read(size)))

    def is_git_lfs_pointer(self, rel: str) -> bool:
        entry = self.files.get(rel)
        if entry is None or entry.size > 1024:
            return False
        head = self.head(rel, 200)
        return bool(head) and head.startswith(b"version https://git-lfs.github.com/spec/")

    @property
    def weight_files(self) -> list[str]:
        return sorted(rel for rel in self.files if rel.endswith(WEIGHT_SUFFIXES))

    # -- Hub targets ---------------------------------------------------------------
    # The runner sets this to an hfcheck.hub.HubSnapshot when the target is a Hub repo:
    # its commit, the safetensors files that hold only their header (the tensor data is
    # a hole of zeros), and the files that were not downloaded (holes of their size).
    hub = None

    def is_placeholder(self, rel: str) -> bool:
        """True for a file of a Hub target whose content was not downloaded: all of it
        (pickles without --download-pickles, other weights), or all after the header
        (safetensors). Those bytes read as zeros: rules that read them must skip it."""
        hub = self.hub
        return hub is not None and (rel in hub.header_only or any(s.rel == rel for s in hub.skipped))

    def pickle_scan(self, rel: str):
        """The static scan of every pickle stream in a file (formats.pickle_scan): globals,
        call sites and problems, from the opcode streams only; None when not readable."""

        def compute():
            from hfcheck.formats.pickle_scan import scan_file

            entry = self.files.get(rel)
            if entry is None or self.is_placeholder(rel):
                return None
            try:
                return scan_file(entry.path, budget_seconds=PICKLE_SCAN_SECONDS)
            except OSError as error:
                self._record(rel, f"cannot read: {error.strerror or error}")
                return None

        return self.memo(("pickle_scan", rel), compute)

    # -- fixes ---------------------------------------------------------------------

    def overlaid(self, changes: dict[str, Path | None]) -> RepoView:
        """A fresh view of the same target in which each file of `changes` reads from its
        staged copy (None: the file is gone): how planned fixes see each other's edits
        before anything in the target is written."""
        view = RepoView(self.root, self.label, limits=self.limits, exclude=self.exclude, settings=self.settings)
        view.hub = self.hub
        files = dict(self.files)
        for rel, staged in changes.items():
            if staged is None:
                files.pop(rel, None)
            else:
                files[rel] = FileEntry(rel, Path(staged), Path(staged).stat().st_size)
        view._files = dict(sorted(files.items()))
        return view


def _maybe(value, parse):
    return None if value is None else parse(value)


# The parsers are imported on the first file of their kind: a repo without one never pays for them.
def _parse_json(text: str) -> JsonDoc:
    from hfcheck.formats.json_doc import parse_json

    return parse_json(text)


def _parse_yaml(text: str) -> YamlDoc:
    from hfcheck.formats.yaml_doc import parse_yaml

    return parse_yaml(text)


def _parse_card(text: str) -> CardDoc:
    from hfcheck.formats.card import parse_card

    return parse_card(text)


def _hf_cache_repo_dir(root: Path) -> Path | None:
    """In the HF cache (models--org--name/snapshots/<rev>), snapshot files are links into
    models--org--name/blobs: the one place outside the target a link may point."""
    try:
        real = root.resolve()
    except OSError:
        return None
    if real.parent.name == "snapshots" and real.parent.parent.name.startswith(("models--", "datasets--", "spaces--")):
        return real.parent.parent / "blobs"
    return None
