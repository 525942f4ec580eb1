"""What a scan reports (PickleScan and its parts), its bounds (Limits) and the mutable
state one scan accumulates over every stream and container it visits (ScanContext)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hfcheck.formats.pickle.values import ImportedGlobal


@dataclass(frozen=True)
class PickleGlobal:
    module: str  # "" when unresolved
    name: str  # "" when unresolved
    offset: int  # byte offset of the opcode within the stream
    member: str | None  # zip member / ".npy member" / None for raw file; for nested: "outer.zip/inner.pkl"
    resolved: bool = True
    called: bool = False  # reached a REDUCE/NEWOBJ/NEWOBJ_EX/INST/OBJ as the callable
    role: str = ""  # "nn-module class": the class of an object rebuilt with nn.Module's state


@dataclass(frozen=True)
class PickleProblem:
    message: str
    offset: int | None
    member: str | None


@dataclass(frozen=True)
class PickleCall:
    """One call site. `target` is the global called (for BUILD: the class of the object
    whose state is set), None when the callable is not an imported global."""

    opcode: str  # REDUCE | NEWOBJ | NEWOBJ_EX | INST | OBJ | BUILD
    offset: int
    member: str | None
    target: PickleGlobal | None


@dataclass
class PickleScan:
    container: str  # "pickle" | "torch-zip" | "torchscript" | "torch-legacy" | "numpy" | "npz" | "zip" | "compressed" | "not-pickle"
    globals: list[PickleGlobal]
    problems: list[PickleProblem]  # malformed/bounds/zip tricks — things that make the scan untrustworthy or suspicious
    streams: int  # number of pickle streams scanned
    bytes_scanned: int
    calls: list[PickleCall] = field(default_factory=list)
    persistent_ids: int = 0  # PERSID/BINPERSID seen (torch storages: benign)
    # A torch zip checkpoint's tensor bytes as stored: the sizes of its `<archive>/data/<key>`
    # members (None for any other container)
    storage_bytes: int | None = None


@dataclass(frozen=True)
class Limits:
    # decompressed bytes held for a scan (a compressed pickle, a deflated zip or 7z member);
    # data on disk is read to its end, skipping arguments by seeking
    max_stream_bytes: int = 1 << 30
    max_opcodes: int = 20_000_000  # per scan (all streams)
    max_memo: int = 1_000_000  # memo entries per stream
    max_stack: int = 1_000_000  # items on the stack (and on the mark stack)
    max_globals: int = 200_000  # recorded globals per scan
    max_problems: int = 500
    max_depth: int = 3  # nested containers (zip in zip, pickle bytes given to torch.load, ...)
    max_members: int = 100_000  # zip members looked at
    max_keep: int = 1 << 16  # string/bytes longer than this are skipped, not kept as values
    max_items: int = 1 << 16  # items kept per symbolic container
    budget_seconds: float | None = None


# Said in the problem of every scan that stopped at a bound of its own: the rest is unseen.
SCAN_INCOMPLETE = "scan incomplete"


class ScanHalt(Exception):
    """Stops the current stream (or the whole scan when `fatal`) with a recorded problem."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


class InternalError(ScanHalt):
    """A bug in the scanner met an input: the stream is reported as unverifiable (fail closed)."""


class ScanLimit(ScanHalt):
    """A bound of the scanner, not of the loader (a stack or memo CPython would still
    accept): what follows is unseen, so the stream is unverifiable (fail closed)."""


class ScanContext:
    """Everything one scan records, shared by all the streams and containers it visits."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.imported: list[ImportedGlobal] = []
        self.calls: list[tuple[str, int, str | None, ImportedGlobal | None]] = []  # (opcode, offset, member, target)
        self.problems: list[PickleProblem] = []
        self.streams = 0
        self.opcodes = 0
        self.persistent_ids = 0
        self.deadline = None if limits.budget_seconds is None else time.monotonic() + limits.budget_seconds
        self.stopped = False  # a scan-wide bound was hit
        self.storage_bytes: int | None = None  # set by the file's own torch zip directory

    def problem(self, message: str, offset: int | None, member: str | None) -> None:
        if len(self.problems) < self.limits.max_problems:
            self.problems.append(PickleProblem(message, offset, member))
        elif len(self.problems) == self.limits.max_problems:
            self.problems.append(PickleProblem("too many problems; the rest are not listed", offset, member))

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise ScanHalt("time budget exceeded; scan incomplete", fatal=True)

    def result(self, container: str, bytes_scanned: int) -> PickleScan:
        frozen: dict[int, PickleGlobal] = {}
        found = []
        for g in self.imported:
            public = PickleGlobal(g.module, g.name, g.offset, g.member, g.resolved, g.called, g.role)
            frozen[id(g)] = public
            found.append(public)
        calls = [
            PickleCall(op, off, member, frozen.get(id(target)) if target is not None else None) for op, off, member, target in self.calls
        ]
        return PickleScan(container, found, self.problems, self.streams, bytes_scanned, calls, self.persistent_ids, self.storage_bytes)
