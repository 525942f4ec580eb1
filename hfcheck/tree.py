"""The file tree of a target: one walk that lists every regular file once, with the
limits, the skip rules and the symlink policy in one place. The repo view (hfcheck.repo)
reads files through it; discovery (hfcheck.discovery) groups its files into units.

Symlink policy: a link is followed when its target stays inside the repository root
(the git work tree around the target, else the target itself) or points into a Hugging
Face cache `blobs/` folder; anything else is not followed and recorded as an error, so a
CI linter never leaks a file outside the checkout into a report and never passes a model
it could not read."""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from hfcheck.filekinds import MODEL_MARKERS, WEIGHT_SUFFIXES

MiB = 1 << 20

# Never part of a model or its deployment, whatever they hold.
ALWAYS_SKIPPED = {".git", ".hg", ".svn", "__pycache__"}
# Tool caches and environments: skipped unless the folder itself holds model files (a
# component folder may be named `.cache`, a model may live in `env/`).
TOOL_DIRS = {
    "node_modules",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".cache",
    ".dvc",
    "site-packages",
    ".ipynb_checkpoints",
}


class Limits(NamedTuple):
    max_files: int = 200_000
    json_bytes: int = 64 * MiB  # tokenizer.json of a 256k-token vocab is ~35 MB
    text_bytes: int = 16 * MiB
    yaml_bytes: int = 4 * MiB


class FileEntry(NamedTuple):
    rel: str  # posix path relative to the root
    location: str | Path  # what to open: the file itself, or a symlink's checked target
    size: int

    @property
    def path(self) -> Path:
        # built on use: a Path per listed file is a third of walking a 100k-file tree
        return Path(self.location)


class ReadError(NamedTuple):
    path: str
    message: str
    severity: str = "warning"


def holds_model_files(names) -> bool:
    return any(name in MODEL_MARKERS or name.endswith(WEIGHT_SUFFIXES) for name in names)


def git_top(start: Path) -> Path | None:
    """The nearest folder at or above `start` that holds `.git`."""
    try:
        start = start.resolve()
    except OSError:
        return None
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def hf_cache_blobs(root: Path) -> Path | None:
    """In the HF cache (models--org--name/snapshots/<rev>), snapshot files are links into
    models--org--name/blobs."""
    try:
        real = root.resolve()
    except OSError:
        return None
    for folder in (real, *real.parents):
        if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith(("models--", "datasets--", "spaces--")):
            return folder.parent.parent / "blobs"
    return None


@dataclass
class FileTree:
    """Every regular file under `root`, walked once on first use."""

    root: Path
    limits: Limits = field(default_factory=Limits)
    exclude: tuple[str, ...] = ()
    errors: dict[str, ReadError] = field(default_factory=dict)
    skipped_dirs: list[str] = field(default_factory=list)  # "node_modules (tool cache)", ...
    _files: dict[str, FileEntry] | None = None

    def __post_init__(self):
        self.root = Path(self.root)
        real_root = _real(self.root)
        self.repository_root = git_top(self.root) or real_root
        self._allowed = [p for p in (real_root, self.repository_root, hf_cache_blobs(self.root)) if p is not None]

    @property
    def files(self) -> dict[str, FileEntry]:
        if self._files is None:
            self._files = self._walk()
        return self._files

    def record(self, rel: str, message: str, severity: str = "warning") -> None:
        self.errors.setdefault(rel, ReadError(rel, message, severity))

    def _walk(self) -> dict[str, FileEntry]:
        found: dict[str, FileEntry] = {}
        real_root = _real(self.root)
        visited = {real_root}
        pending = [(self.root, "")]
        while pending:
            directory, prefix = pending.pop()
            try:
                with os.scandir(directory) as entries:
                    children = sorted(entries, key=lambda e: e.name)
            except OSError as error:
                self.record(prefix.rstrip("/") or ".", f"cannot list directory: {error.strerror or error}")
                continue
            if prefix and self._skip_folder(prefix.rstrip("/"), children):
                continue
            for entry in children:
                rel = prefix + entry.name
                if self._excluded(rel):
                    continue
                if len(found) >= self.limits.max_files:
                    self.record(".", f"more than {self.limits.max_files} files; the rest were not checked", "error")
                    return found
                try:
                    self._add(entry, rel, found, pending, visited, real_root)
                except OSError as error:
                    self.record(rel, f"cannot read: {error.strerror or error}")
        return dict(sorted(found.items()))

    def _skip_folder(self, rel: str, children: list) -> bool:
        """Virtualenvs and tool caches are skipped, but not for their name alone: a folder
        that holds model files is always walked."""
        names = [c.name for c in children]
        if holds_model_files(names):
            return False
        name = rel.rsplit("/", 1)[-1]
        if "pyvenv.cfg" in names:
            self.skipped_dirs.append(f"{rel} (virtualenv)")
            return True
        if name in TOOL_DIRS:
            self.skipped_dirs.append(f"{rel} (tool cache)")
            return True
        return False

    def _add(self, entry: os.DirEntry, rel: str, found: dict, pending: list, visited: set, real_root: Path) -> None:
        if entry.is_symlink():
            target = self._checked_link_target(entry, rel)
            if target is None:
                return
            info = target.stat()
            if stat.S_ISDIR(info.st_mode):
                # A linked folder inside the target is listed where it really is; one
                # elsewhere in the repository (a shared model store) is walked here once.
                if target != real_root and real_root not in target.parents and target not in visited and entry.name not in ALWAYS_SKIPPED:
                    visited.add(target)
                    pending.append((target, rel + "/"))
                return
            if stat.S_ISREG(info.st_mode):
                found[rel] = FileEntry(rel, target, info.st_size)
            else:
                self.record(rel, "not a regular file; skipped")
            return
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(info.st_mode):
            if entry.name not in ALWAYS_SKIPPED:
                pending.append((Path(entry.path), rel + "/"))
        elif stat.S_ISREG(info.st_mode):
            found[rel] = FileEntry(rel, entry.path, info.st_size)
        else:
            self.record(rel, "not a regular file (FIFO, socket or device); skipped, never opened")

    def _checked_link_target(self, entry: os.DirEntry, rel: str) -> Path | None:
        try:
            target = Path(entry.path).resolve(strict=True)
        except RuntimeError:
            self.record(rel, "symlink loop; skipped")
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:
                self.record(rel, "symlink loop; skipped")
            else:
                self.record(rel, "broken symlink (its target does not exist)", "error")
            return None
        if not any(target == base or base in target.parents for base in self._allowed):
            self.record(
                rel,
                "symlink to a file outside the target and its repository; not read (a linter must not leak files outside the checkout)",
                "error",
            )
            return None
        return target

    def _excluded(self, rel: str) -> bool:
        return any(fnmatch.fnmatchcase(rel, pattern) or rel.startswith(pattern.rstrip("/") + "/") for pattern in self.exclude)


def _real(path: Path) -> Path:
    try:
        return Path(path).resolve()
    except OSError:
        return Path(path).absolute()
