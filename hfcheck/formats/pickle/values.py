"""Symbolic values on the machine's stack: what the unpickler would build, as far as a
static scan can know it. Identity matters (a memoised dict is one object wherever it is
fetched), so the mutable values compare by identity."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(eq=False, slots=True)
class ImportedGlobal:
    """A global the pickle imports (GLOBAL, STACK_GLOBAL, INST, EXT*). `called` becomes
    true when it reaches a call opcode as the callable."""

    module: str  # "" when unresolved
    name: str  # "" when unresolved
    offset: int  # byte offset of the importing opcode within the stream
    member: str | None
    resolved: bool = True
    called: bool = False
    role: str = ""  # what the scan saw it used as: "nn-module class" when it rebuilt an nn.Module


@dataclass(eq=False, slots=True)
class CallResult:
    """The result of calling something: the callee (an ImportedGlobal or any value), its
    arguments and the state a later BUILD gave it."""

    callee: object
    args: object
    state: object = None
    opcode: str = ""  # the opcode that made the call (NEWOBJ: cls.__new__, no __init__)
    attributes: dict = field(default_factory=dict)  # instance attributes BUILD stored
    mapping_items: list = field(default_factory=list)  # (key, value) pairs SETITEM(S) stored


@dataclass(eq=False, slots=True)
class DictValue:
    """A dict as (key, value) pairs in insertion order."""

    items: list = field(default_factory=list)

    def get(self, key, default=None):
        """The value the unpickled dict holds for `key`: the LAST one set (SETITEM(S) and
        DICT assign in order, so a repeated key keeps its last value)."""
        for k, v in reversed(self.items):
            if k == key and type(k) is type(key):
                return v
        return default


@dataclass(eq=False, slots=True)
class SetValue:
    items: list = field(default_factory=list)


@dataclass(eq=False, slots=True)
class BigBlob:
    """A string/bytes argument too long to keep (tensor data in a pickle): its length and
    where it lies, so a nested load of it can still be scanned from the file."""

    length: int
    source: object = None  # the file the stream is read from
    start: int = 0  # offset of the payload in that file


@dataclass(eq=False, slots=True)
class PersistentRef:
    """What persistent_load returns for a persistent id (torch storages, legacy modules)."""

    pid: object


class Opaque:
    """A value the scan does not model (an out-of-band buffer, a huge LONG, ...)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OPAQUE"


OPAQUE = Opaque()

# Ends a text kept to a bounded prefix (a text-opcode line longer than Limits.max_keep): no
# module or attribute name ends in it, so a cut name never matches an allowlist entry.
CUT = "\u2026"
