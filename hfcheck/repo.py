"""The repo view: one object per target that lists its files once and parses, lazily and
once, whatever rules ask for. Rules never open files; every read here has a size cap,
and a file that cannot be read is recorded (once) instead of raising."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # imported when a file of their kind is read (_parse_json, ... below)
    from hfcheck.formats.card import CardDoc
    from hfcheck.formats.json_doc import JsonDoc
    from hfcheck.formats.yaml_doc import YamlDoc

from hfcheck.filekinds import WEIGHT_SUFFIXES
from hfcheck.reader import SafeReader
from hfcheck.tree import FileEntry, FileTree, Limits, MiB, ReadError  # noqa: F401 (re-exported)

# Per-file time budget of a pickle scan: past it the scan stops and says it is incomplete.
PICKLE_SCAN_SECONDS = 30.0


class RepoView:
    """A facade over three parts: the file tree (hfcheck.tree: walk, limits, symlink
    policy), the safe reader (hfcheck.reader: size caps, UTF-8, non-blocking opens) and the cache of parsed
    artefacts and facts (`memo`). A unit view (hfcheck.discovery) is the same facade over
    one model's files, with `unit` set and the deployment files linked to it."""

    def __init__(
        self,
        root: Path,
        label: str | None = None,
        *,
        limits: Limits | None = None,
        exclude: tuple[str, ...] = (),
        settings=None,
        tree: FileTree | None = None,
        hub=None,
    ):
        self.root = Path(root)
        self.hub = hub  # see "Hub targets" below
        self.label = label if label is not None else str(root)
        self.limits = limits or (tree.limits if tree is not None else Limits())
        self.exclude = tuple(exclude)
        self.settings = settings
        self.tree = tree if tree is not None else FileTree(self.root, self.limits, self.exclude)
        self.read_errors: dict[str, ReadError] = self.tree.errors
        self._files: dict[str, FileEntry] | None = None
        self._cache: dict[Any, Any] = {}
        self.real_paths: dict[str, str] | None = None  # a unit view: its names -> the target's
        self._reader = SafeReader(self._record)

    # -- listing -----------------------------------------------------------------

    @property
    def files(self) -> dict[str, FileEntry]:
        if self._files is None:
            self._files = self.tree.files
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

    # -- reading -------------------------------------------------------------------

    def _record(self, rel: str, message: str, severity: str = "warning") -> None:
        self.read_errors.setdefault(rel, ReadError(rel, message, severity))

    def open(self, rel: str):
        """A binary file object for a listed regular file, or None (recorded)."""
        entry = self.files.get(rel)
        return None if entry is None else self._reader.open(entry, rel)

    def read_bytes(self, rel: str, limit: int) -> bytes | None:
        entry = self.files.get(rel)
        return None if entry is None else self._reader.read_bytes(entry, rel, limit)

    def text(self, rel: str, limit: int | None = None) -> str | None:
        """The file decoded as UTF-8 (what transformers and most tools assume)."""
        key = ("text", rel)
        if key not in self._cache:
            data = self.read_bytes(rel, limit or self.limits.text_bytes)
            self._cache[key] = None if data is None else self._decode(rel, data)
        return self._cache[key]

    def _decode(self, rel: str, data: bytes) -> str | None:
        return self._reader.decode(rel, data)

    def memo(self, key, compute: Callable[[], Any]) -> Any:
        """Compute a derived fact once per view (shared by every rule that needs it)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def replace_memo(self, key, value: Any) -> None:
        """Set a derived fact, replacing one already computed: how the facts layer narrows
        a view discovery scoped (hfcheck.facts.deploy.scope_deployment)."""
        self._cache[key] = value

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

        return self.memo(("safetensors", rel), lambda: self.file_fact("safetensors", rel, compute))

    def head(self, rel: str, size: int = 512) -> bytes | None:
        """The first bytes of a file, for sniffing its real format."""
        return self.memo(
            ("head", rel, size),
            lambda: self.file_fact(f"head:{size}", rel, lambda: self._read_stream(rel, lambda stream: stream.read(size))),
        )

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
    # `hub` is the hfcheck.hub.HubSnapshot of a Hub target, given when the view is made:
    # its commit, the safetensors files that hold only their header (the tensor data is
    # a hole of zeros), and the files that were not downloaded (holes of their size).

    def is_placeholder(self, rel: str) -> bool:
        """True for a file of a Hub target whose content was not downloaded: all of it
        (pickles without --download-pickles, other weights), or all after the header
        (safetensors). Those bytes read as zeros: rules that read them must skip it."""
        hub = self.hub
        return hub is not None and (rel in hub.header_only or any(s.rel == rel for s in hub.skipped))

    def pickle_scan(self, rel: str):
        """The static scan of every pickle stream in a file (hfcheck.formats.pickle): globals,
        call sites and problems, from the opcode streams only; None when not readable."""

        def compute():
            from hfcheck.formats.pickle import scan_file

            entry = self.files.get(rel)
            if entry is None or self.is_placeholder(rel):
                return None
            try:
                return scan_file(entry.path, budget_seconds=PICKLE_SCAN_SECONDS)
            except OSError as error:
                self._record(rel, f"cannot read: {error.strerror or error}")
                return None

        return self.memo(("pickle_scan", rel), lambda: self.file_fact("pickle_scan", rel, compute))

    def file_fact(self, kind: str, rel: str, compute: Callable[[], Any]) -> Any:
        """compute(), or the value it gave for a file of the same content in an earlier run
        (the result cache, hfcheck.cache, sets `fact_cache` on the tree while it checks)."""
        store = getattr(self.tree, "fact_cache", None)
        entry = self.files.get(rel)
        if store is None or entry is None or self.is_placeholder(rel):
            return compute()
        return store.fact(kind, entry, self.limits, compute)

    # -- fixes ---------------------------------------------------------------------

    def overlaid(self, changes: dict[str, Path | None]) -> RepoView:
        """A fresh view of the same target in which each file of `changes` reads from its
        staged copy (None: the file is gone): how planned fixes see each other's edits
        before anything in the target is written."""
        view = RepoView(
            self.root, self.label, limits=self.limits, exclude=self.exclude, settings=self.settings, tree=self.tree, hub=self.hub
        )
        view.read_errors = dict(self.read_errors)
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
