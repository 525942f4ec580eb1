"""Static pickle analysis: which globals a pickle imports and calls, without unpickling.

The opcode stream is read by our own bounded reader and run through a small symbolic
machine (stack, mark stack, memo) so that STACK_GLOBAL operands fetched from the memo
are still resolved, and every call site (REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ, BUILD)
knows which global it calls. Nothing named by the pickle is ever imported.

Containers are recognised by content, never by file name: raw pickles (also several
concatenated, and joblib files with inline numpy data), torch zip checkpoints, the legacy
torch format, .npy with object dtype, .npz and other zips (nested up to a depth), and
gzip/bz2/xz/zlib-compressed pickles (joblib's compressed files). Tensor storage is never
read: a 10 GB checkpoint costs what its data.pkl costs.

Anything malformed, out of bounds or zip-tricky is a PickleProblem, never an exception.
"""

from __future__ import annotations

import bz2
import codecs
import io
import lzma
import math
import os
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass, field

__all__ = [
    "PickleGlobal", "PickleProblem", "PickleCall", "PickleScan", "Limits",
    "sniff_container", "scan_file", "scan_bytes",
]  # fmt: skip


@dataclass(frozen=True)
class PickleGlobal:
    module: str  # "" when unresolved
    name: str  # "" when unresolved
    offset: int  # byte offset of the opcode within the stream
    member: str | None  # zip member / ".npy member" / None for raw file; for nested: "outer.zip/inner.pkl"
    resolved: bool = True
    called: bool = False  # reached a REDUCE/NEWOBJ/NEWOBJ_EX/INST/OBJ as the callable


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
    container: str  # "pickle" | "torch-zip" | "torch-legacy" | "numpy" | "npz" | "zip" | "compressed" | "not-pickle"
    globals: list[PickleGlobal]
    problems: list[PickleProblem]  # malformed/bounds/zip tricks — things that make the scan untrustworthy or suspicious
    streams: int  # number of pickle streams scanned
    bytes_scanned: int
    calls: list[PickleCall] = field(default_factory=list)
    persistent_ids: int = 0  # PERSID/BINPERSID seen (torch storages: benign)


@dataclass(frozen=True)
class Limits:
    max_stream_bytes: int = 1 << 30  # bytes of one pickle stream / decompressed member
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


PROTO_MAX = 5
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_MAGIC_LE = TORCH_LEGACY_MAGIC.to_bytes(10, "little")
_ZIP_LOCAL = b"PK\x03\x04"
_ZIP_EMPTY = b"PK\x05\x06"
_NPY_MAGIC = b"\x93NUMPY"
_LINE_MAX = 1 << 16  # text-opcode argument lines


# --------------------------------------------------------------------------- opcodes

# argument kinds
_A_NONE, _A_U1, _A_U2, _A_I4, _A_U4, _A_U8 = range(6)
_A_LINE, _A_LINE2, _A_STR1, _A_STR4, _A_U8LEN, _A_F8 = range(6, 12)

# code -> (name, argument kind). The full set CPython's _pickle accepts (protocols 0-5).
_OPS: dict[int, tuple[str, int]] = {
    ord(c): (n, a)
    for c, n, a in [
        ("(", "MARK", _A_NONE), (".", "STOP", _A_NONE), ("0", "POP", _A_NONE), ("1", "POP_MARK", _A_NONE),
        ("2", "DUP", _A_NONE), ("F", "FLOAT", _A_LINE), ("I", "INT", _A_LINE), ("J", "BININT", _A_I4),
        ("K", "BININT1", _A_U1), ("L", "LONG", _A_LINE), ("M", "BININT2", _A_U2), ("N", "NONE", _A_NONE),
        ("P", "PERSID", _A_LINE), ("Q", "BINPERSID", _A_NONE), ("R", "REDUCE", _A_NONE), ("S", "STRING", _A_LINE),
        ("T", "BINSTRING", _A_STR4), ("U", "SHORT_BINSTRING", _A_STR1), ("V", "UNICODE", _A_LINE),
        ("X", "BINUNICODE", _A_STR4), ("a", "APPEND", _A_NONE), ("b", "BUILD", _A_NONE), ("c", "GLOBAL", _A_LINE2),
        ("d", "DICT", _A_NONE), ("}", "EMPTY_DICT", _A_NONE), ("e", "APPENDS", _A_NONE), ("g", "GET", _A_LINE),
        ("h", "BINGET", _A_U1), ("i", "INST", _A_LINE2), ("j", "LONG_BINGET", _A_U4), ("l", "LIST", _A_NONE),
        ("]", "EMPTY_LIST", _A_NONE), ("o", "OBJ", _A_NONE), ("p", "PUT", _A_LINE), ("q", "BINPUT", _A_U1),
        ("r", "LONG_BINPUT", _A_U4), ("s", "SETITEM", _A_NONE), ("t", "TUPLE", _A_NONE), (")", "EMPTY_TUPLE", _A_NONE),
        ("u", "SETITEMS", _A_NONE), ("G", "BINFLOAT", _A_F8), ("\x80", "PROTO", _A_U1), ("\x81", "NEWOBJ", _A_NONE),
        ("\x82", "EXT1", _A_U1), ("\x83", "EXT2", _A_U2), ("\x84", "EXT4", _A_I4), ("\x85", "TUPLE1", _A_NONE),
        ("\x86", "TUPLE2", _A_NONE), ("\x87", "TUPLE3", _A_NONE), ("\x88", "NEWTRUE", _A_NONE),
        ("\x89", "NEWFALSE", _A_NONE), ("\x8a", "LONG1", _A_STR1), ("\x8b", "LONG4", _A_STR4),
        ("B", "BINBYTES", _A_STR4), ("C", "SHORT_BINBYTES", _A_STR1), ("\x8c", "SHORT_BINUNICODE", _A_STR1),
        ("\x8d", "BINUNICODE8", _A_U8LEN), ("\x8e", "BINBYTES8", _A_U8LEN), ("\x8f", "EMPTY_SET", _A_NONE),
        ("\x90", "ADDITEMS", _A_NONE), ("\x91", "FROZENSET", _A_NONE), ("\x92", "NEWOBJ_EX", _A_NONE),
        ("\x93", "STACK_GLOBAL", _A_NONE), ("\x94", "MEMOIZE", _A_NONE), ("\x95", "FRAME", _A_U8),
        ("\x96", "BYTEARRAY8", _A_U8LEN), ("\x97", "NEXT_BUFFER", _A_NONE), ("\x98", "READONLY_BUFFER", _A_NONE),
    ]
}  # fmt: skip


# --------------------------------------------------------------------------- byte sources


class _Counting(io.RawIOBase):
    """The file on disk; counts every byte actually read (PickleScan.bytes_scanned)."""

    def __init__(self, f):
        self.f = f
        self.count = 0
        self.size = os.fstat(f.fileno()).st_size

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, off, whence=0):
        return self.f.seek(off, whence)

    def tell(self):
        return self.f.tell()

    def read(self, n=-1):
        data = self.f.read(n)
        self.count += len(data)
        return data

    def readinto(self, b):
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class _Window(io.RawIOBase):
    """A byte range of another seekable file, as a file (a stored zip member)."""

    def __init__(self, f, start: int, size: int):
        self.f, self.start, self.size, self.pos = f, start, size, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, off, whence=0):
        base = {0: 0, 1: self.pos, 2: self.size}[whence]
        self.pos = max(0, base + off)
        return self.pos

    def tell(self):
        return self.pos

    def read(self, n=-1):
        if n is None or n < 0 or self.pos + n > self.size:
            n = max(0, self.size - self.pos)
        if n == 0:
            return b""
        self.f.seek(self.start + self.pos)
        data = self.f.read(n)
        self.pos += len(data)
        return data

    def readinto(self, b):
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def _size_of(f) -> int:
    if isinstance(f, (_Counting, _Window)):
        return f.size
    if isinstance(f, io.BytesIO):
        return len(f.getbuffer())
    return f.seek(0, 2)


class _Truncated(Exception):
    pass


class _Reader:
    """Buffered, bounded reads of f[start:end]; large payloads are skipped by seeking."""

    CHUNK = 1 << 16

    def __init__(self, f, start: int, end: int):
        self.f, self.end = f, end
        self.pos = start
        self.buf = b""
        self.buf_start = start
        self.consumed = 0

    def _avail(self, n: int) -> None:
        rel = self.pos - self.buf_start
        if 0 <= rel and rel + n <= len(self.buf):
            return
        want = min(max(n, self.CHUNK), self.end - self.pos)
        if want <= 0:
            self.buf, self.buf_start = b"", self.pos
            return
        self.f.seek(self.pos)
        self.buf = self.f.read(want)
        self.buf_start = self.pos

    def read(self, n: int) -> bytes:
        if n > self.end - self.pos:
            raise _Truncated
        self._avail(n)
        rel = self.pos - self.buf_start
        data = self.buf[rel : rel + n]
        if len(data) < n:
            raise _Truncated
        self.pos += n
        self.consumed += n
        return data

    def skip(self, n: int) -> None:
        if n > self.end - self.pos:
            raise _Truncated
        self.pos += n

    def readline(self) -> bytes:
        out = []
        total = 0
        while True:
            if self.pos >= self.end:
                raise _Truncated
            self._avail(1)
            rel = self.pos - self.buf_start
            i = self.buf.find(b"\n", rel)
            piece = self.buf[rel:] if i < 0 else self.buf[rel : i + 1]
            if not piece:
                raise _Truncated
            out.append(piece)
            total += len(piece)
            self.pos += len(piece)
            self.consumed += len(piece)
            if i >= 0:
                return b"".join(out)[:-1]
            if total > _LINE_MAX:
                raise _BadArg("text argument line longer than %d bytes" % _LINE_MAX)

    def at_end(self) -> bool:
        return self.pos >= self.end


class _BadArg(Exception):
    pass


class _Halt(Exception):
    """Stops the current stream (or the whole scan when `fatal`) with a recorded problem."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


# --------------------------------------------------------------------------- symbolic values


class _G:
    """An imported global; `rec` is its mutable record (module, name, offset, member, resolved, called)."""

    __slots__ = ("rec",)

    def __init__(self, rec):
        self.rec = rec


class _Call:
    """The result of calling something: callee (a _G or anything), args, BUILD state."""

    __slots__ = ("callee", "args", "state")

    def __init__(self, callee, args):
        self.callee, self.args, self.state = callee, args, None


class _DictV:
    __slots__ = ("items",)

    def __init__(self, items=None):
        self.items = items if items is not None else []

    def get(self, key, default=None):
        for k, v in self.items:
            if k == key and type(k) is type(key):
                return v
        return default


class _SetV:
    __slots__ = ("items",)

    def __init__(self, items=None):
        self.items = items if items is not None else []


class _Big:
    """A string/bytes argument too long to keep (tensor data in a pickle): length only."""

    __slots__ = ("n",)

    def __init__(self, n):
        self.n = n


class _Pid:
    __slots__ = ("pid",)

    def __init__(self, pid):
        self.pid = pid


_UNK = object()  # a value we do not model (out-of-band buffer, ...)


# --------------------------------------------------------------------------- scan context


class _Ctx:
    def __init__(self, limits: Limits):
        self.limits = limits
        self.recs: list[list] = []  # [module, name, offset, member, resolved, called]
        self.calls: list[tuple] = []  # (opcode, offset, member, rec|None)
        self.problems: list[PickleProblem] = []
        self.streams = 0
        self.opcodes = 0
        self.pids = 0
        self.deadline = None if limits.budget_seconds is None else time.monotonic() + limits.budget_seconds
        self.stopped = False  # a scan-wide bound was hit

    def problem(self, message: str, offset: int | None, member: str | None) -> None:
        if len(self.problems) < self.limits.max_problems:
            self.problems.append(PickleProblem(message, offset, member))
        elif len(self.problems) == self.limits.max_problems:
            self.problems.append(PickleProblem("too many problems; the rest are not listed", offset, member))

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise _Halt("time budget exceeded; scan incomplete", fatal=True)

    def result(self, container: str, bytes_scanned: int) -> PickleScan:
        frozen: dict[int, PickleGlobal] = {}
        globs = []
        for rec in self.recs:
            g = PickleGlobal(rec[0], rec[1], rec[2], rec[3], rec[4], rec[5])
            frozen[id(rec)] = g
            globs.append(g)
        calls = [PickleCall(op, off, mem, frozen.get(id(rec)) if rec is not None else None) for op, off, mem, rec in self.calls]
        return PickleScan(container, globs, self.problems, self.streams, bytes_scanned, calls, self.pids)


# --------------------------------------------------------------------------- the pickle machine


def _int_line(line: bytes) -> int | bool:
    if line == b"00":
        return False
    if line == b"01":
        return True
    return int(line)


def _decode_str8(raw: bytes):
    """STRING/BINSTRING: Python 3 decodes them with the unpickler's encoding (ASCII by default)."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return raw


class _Stream:
    """Runs one pickle stream (PROTO .. STOP) symbolically."""

    def __init__(self, ctx: _Ctx, rd: _Reader, member: str | None, depth: int, file_scanner):
        self.ctx, self.rd, self.member, self.depth = ctx, rd, member, depth
        self.file_scanner = file_scanner  # scans nested bytes (torch.storage._load_from_bytes)
        self.stack: list = []
        self.meta: list[list] = []
        self.memo: dict[int, object] = {}
        self.proto = 0
        self.lim = ctx.limits

    # stack helpers ---------------------------------------------------------
    def push(self, v) -> None:
        if len(self.stack) >= self.lim.max_stack:
            raise _Halt("stack deeper than %d items" % self.lim.max_stack)
        self.stack.append(v)

    def pop(self):
        if not self.stack:
            raise _Halt("stack underflow")
        return self.stack.pop()

    def top(self):
        if not self.stack:
            raise _Halt("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list:
        if not self.meta:
            raise _Halt("MARK expected but not found (mark stack underflow)")
        items = self.stack
        self.stack = self.meta.pop()
        return items

    def new_global(self, module: str, name: str, off: int, resolved: bool = True) -> _G:
        ctx = self.ctx
        if len(ctx.recs) >= self.lim.max_globals:
            raise _Halt("more than %d globals; scan incomplete" % self.lim.max_globals, fatal=True)
        rec = [module, name, off, self.member, resolved, False]
        ctx.recs.append(rec)
        return _G(rec)

    def call(self, opname: str, callee, args, off: int):
        ctx = self.ctx
        if isinstance(callee, _Pid):
            # torch's legacy format pickles a module's class as the persistent id
            # ('module', <class global>, source_file, source); persistent_load returns the class.
            pid = callee.pid
            if isinstance(pid, tuple) and len(pid) >= 2 and pid[0] == "module" and isinstance(pid[1], _G):
                callee = pid[1]
        if isinstance(callee, _G):
            callee.rec[5] = True
            ctx.calls.append((opname, off, self.member, callee.rec))
            rec = callee.rec
            if rec[0] == "torch.storage" and rec[1] == "_load_from_bytes":
                self.nested_load(args, off)
        else:
            ctx.calls.append((opname, off, self.member, None))
            if callee is not _UNK:
                # A REDUCE whose callable was itself computed (getattr(...) result, memo
                # games): what runs is invisible to an import-based scan.
                ctx.problem("%s calls a value that is not an imported global" % opname, off, self.member)
        return _Call(callee, args)

    def nested_load(self, args, off: int) -> None:
        """torch.storage._load_from_bytes(b) is torch.load(BytesIO(b)): scan b as a checkpoint."""
        data = args[0] if isinstance(args, tuple) and args else None
        if isinstance(data, (bytes, bytearray)) and self.file_scanner is not None:
            self.file_scanner(bytes(data), "%s<_load_from_bytes@%d>" % (self.member + "/" if self.member else "", off), self.depth + 1)
        else:
            self.ctx.problem("torch.storage._load_from_bytes payload could not be scanned", off, self.member)

    def memo_put(self, idx: int, off: int) -> None:
        if idx < 0:
            raise _Halt("negative memo index")
        if idx not in self.memo and len(self.memo) >= self.lim.max_memo:
            raise _Halt("memo larger than %d entries" % self.lim.max_memo)
        self.memo[idx] = self.top()

    def memo_get(self, idx: int):
        try:
            return self.memo[idx]
        except KeyError:
            raise _Halt("memo key %d read before it was written" % idx) from None

    def read_blob(self, n: int, as_text: bool):
        rd = self.rd
        if n < 0:
            raise _Halt("negative length")
        if n > self.lim.max_keep:
            rd.skip(n)
            return _Big(n)
        raw = rd.read(n)
        if as_text:
            try:
                return raw.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                raise _Halt("invalid UTF-8 in a unicode string") from None
        return raw

    # the loop ----------------------------------------------------------------
    def run(self):
        """Returns the value STOP popped; raises _Halt/_Truncated/_BadArg on failure."""
        ctx, rd, lim = self.ctx, self.rd, self.lim
        ops = _OPS
        stack_push = self.push
        while True:
            ctx.opcodes += 1
            if ctx.opcodes > lim.max_opcodes:
                raise _Halt("more than %d opcodes; scan incomplete" % lim.max_opcodes, fatal=True)
            if not ctx.opcodes & 0xFFF:
                ctx.check_time()
            off = rd.pos
            code = rd.read(1)[0]
            spec = ops.get(code)
            if spec is None:
                raise _Halt("unknown opcode 0x%02x" % code)
            name, kind = spec
            # arguments
            if kind == _A_NONE:
                arg = None
            elif kind == _A_U1:
                arg = rd.read(1)[0]
            elif kind == _A_STR1:
                arg = rd.read(1)[0]
            elif kind == _A_U2:
                arg = int.from_bytes(rd.read(2), "little")
            elif kind == _A_I4:
                arg = int.from_bytes(rd.read(4), "little", signed=True)
            elif kind == _A_STR4:
                arg = int.from_bytes(rd.read(4), "little", signed=name in ("BINSTRING", "LONG4"))
            elif kind == _A_U4:
                arg = int.from_bytes(rd.read(4), "little")
            elif kind in (_A_U8, _A_U8LEN):
                arg = int.from_bytes(rd.read(8), "little")
            elif kind == _A_F8:
                arg = struct.unpack(">d", rd.read(8))[0]
            elif kind == _A_LINE:
                arg = rd.readline()
            else:  # _A_LINE2
                arg = (rd.readline(), rd.readline())

            if name == "BINPUT" or name == "LONG_BINPUT":
                self.memo_put(arg, off)
            elif name == "MEMOIZE":
                self.memo_put(len(self.memo), off)
            elif name == "BINGET" or name == "LONG_BINGET":
                stack_push(self.memo_get(arg))
            elif name == "MARK":
                if len(self.meta) >= lim.max_stack:
                    raise _Halt("mark stack deeper than %d" % lim.max_stack)
                self.meta.append(self.stack)
                self.stack = []
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"):
                stack_push(self.read_blob(arg, True))
            elif name in ("SHORT_BINBYTES", "BINBYTES", "BINBYTES8", "BYTEARRAY8"):
                stack_push(self.read_blob(arg, False))
            elif name in ("SHORT_BINSTRING", "BINSTRING"):
                v = self.read_blob(arg, False)
                stack_push(_decode_str8(v) if isinstance(v, bytes) else v)
            elif name in ("BININT", "BININT1", "BININT2"):
                stack_push(arg)
            elif name in ("LONG1", "LONG4"):
                if arg < 0:
                    raise _Halt("negative LONG4 length")
                if arg > 64:
                    rd.skip(arg)
                    stack_push(_UNK)
                else:
                    stack_push(int.from_bytes(rd.read(arg), "little", signed=True))
            elif name == "BINFLOAT":
                stack_push(arg)
            elif name == "NONE":
                stack_push(None)
            elif name == "NEWTRUE":
                stack_push(True)
            elif name == "NEWFALSE":
                stack_push(False)
            elif name == "EMPTY_TUPLE":
                stack_push(())
            elif name == "TUPLE1":
                stack_push((self.pop(),))
            elif name == "TUPLE2":
                b = self.pop()
                stack_push((self.pop(), b))
            elif name == "TUPLE3":
                c = self.pop()
                b = self.pop()
                stack_push((self.pop(), b, c))
            elif name == "TUPLE":
                stack_push(tuple(self.pop_mark()[: lim.max_items]))
            elif name == "EMPTY_LIST":
                stack_push([])
            elif name == "LIST":
                stack_push(self.pop_mark()[: lim.max_items])
            elif name == "APPEND":
                v = self.pop()
                lst = self.top()
                if isinstance(lst, list) and len(lst) < lim.max_items:
                    lst.append(v)
            elif name == "APPENDS":
                items = self.pop_mark()
                lst = self.top()
                if isinstance(lst, list):
                    lst.extend(items[: max(0, lim.max_items - len(lst))])
            elif name == "EMPTY_DICT":
                stack_push(_DictV())
            elif name == "DICT":
                items = self.pop_mark()
                if len(items) % 2:
                    raise _Halt("odd number of items for DICT")
                stack_push(_DictV(list(zip(items[0::2], items[1::2]))[: lim.max_items]))
            elif name == "SETITEM":
                v = self.pop()
                k = self.pop()
                d = self.top()
                if isinstance(d, _DictV) and len(d.items) < lim.max_items:
                    d.items.append((k, v))
            elif name == "SETITEMS":
                items = self.pop_mark()
                if len(items) % 2:
                    raise _Halt("odd number of items for SETITEMS")
                d = self.top()
                if isinstance(d, _DictV):
                    d.items.extend(list(zip(items[0::2], items[1::2]))[: max(0, lim.max_items - len(d.items))])
            elif name == "EMPTY_SET":
                stack_push(_SetV())
            elif name == "ADDITEMS":
                items = self.pop_mark()
                s = self.top()
                if isinstance(s, _SetV):
                    s.items.extend(items[: max(0, lim.max_items - len(s.items))])
            elif name == "FROZENSET":
                stack_push(_SetV(self.pop_mark()[: lim.max_items]))
            elif name == "GLOBAL":
                module, gname = arg
                try:
                    stack_push(self.new_global(module.decode("utf-8"), gname.decode("utf-8"), off))
                except UnicodeDecodeError:
                    raise _Halt("GLOBAL names are not UTF-8") from None
            elif name == "STACK_GLOBAL":
                gname = self.pop()
                module = self.pop()
                if isinstance(module, str) and isinstance(gname, str):
                    stack_push(self.new_global(module, gname, off))
                else:
                    # Operands built at load time (a call's result, a concatenation, ...):
                    # the import cannot be known statically, a known bypass technique.
                    ctx.problem("STACK_GLOBAL with operands that are not string constants", off, self.member)
                    stack_push(self.new_global("", "", off, resolved=False))
            elif name == "INST":
                module, gname = arg
                items = self.pop_mark()
                try:
                    g = self.new_global(module.decode("utf-8"), gname.decode("utf-8"), off)
                except UnicodeDecodeError:
                    raise _Halt("INST names are not UTF-8") from None
                stack_push(self.call("INST", g, tuple(items), off))
            elif name == "OBJ":
                items = self.pop_mark()
                if not items:
                    raise _Halt("OBJ without a class")
                stack_push(self.call("OBJ", items[0], tuple(items[1:]), off))
            elif name == "REDUCE":
                args = self.pop()
                func = self.pop()
                stack_push(self.call("REDUCE", func, args, off))
            elif name == "NEWOBJ":
                args = self.pop()
                cls = self.pop()
                stack_push(self.call("NEWOBJ", cls, args, off))
            elif name == "NEWOBJ_EX":
                self.pop()  # kwargs
                args = self.pop()
                cls = self.pop()
                stack_push(self.call("NEWOBJ_EX", cls, args, off))
            elif name == "BUILD":
                state = self.pop()
                obj = self.top()
                self.build(obj, state, off)
            elif name in ("EXT1", "EXT2", "EXT4"):
                # The copyreg extension registry maps codes to globals at load time.
                ctx.problem("%s: global from the copyreg extension registry (code %d) cannot be resolved" % (name, arg), off, self.member)
                stack_push(self.new_global("", "", off, resolved=False))
            elif name == "PERSID" or name == "BINPERSID":
                # torch refers to tensor storages by persistent id: benign, only counted.
                pid = arg if name == "PERSID" else self.pop()
                ctx.pids += 1
                stack_push(_Pid(pid))
            elif name == "PROTO":
                if arg > PROTO_MAX:
                    raise _Halt("unsupported pickle protocol %d" % arg)
                self.proto = arg
            elif name == "FRAME":
                if arg > rd.end - rd.pos:
                    ctx.problem("FRAME of %d bytes runs past the end of the stream" % arg, off, self.member)
            elif name == "STOP":
                return self.pop()
            elif name == "POP":
                if self.stack:
                    self.stack.pop()
                else:
                    self.pop_mark()
            elif name == "POP_MARK":
                self.pop_mark()
            elif name == "DUP":
                stack_push(self.top())
            elif name == "INT":
                try:
                    stack_push(_int_line(arg))
                except ValueError:
                    raise _Halt("bad INT argument") from None
            elif name == "LONG":
                try:
                    stack_push(int(arg[:-1] if arg.endswith(b"L") else arg))
                except ValueError:
                    raise _Halt("bad LONG argument") from None
            elif name == "FLOAT":
                try:
                    stack_push(float(arg))
                except ValueError:
                    raise _Halt("bad FLOAT argument") from None
            elif name == "STRING":
                if len(arg) >= 2 and arg[0] == arg[-1] and arg[:1] in (b"'", b'"'):
                    try:
                        stack_push(_decode_str8(codecs.escape_decode(arg[1:-1])[0]))
                    except ValueError:
                        raise _Halt("bad STRING escape") from None
                else:
                    raise _Halt("the STRING opcode argument must be quoted")
            elif name == "UNICODE":
                try:
                    stack_push(arg.decode("raw-unicode-escape"))
                except UnicodeDecodeError:
                    raise _Halt("bad UNICODE argument") from None
            elif name == "GET":
                try:
                    stack_push(self.memo_get(int(arg)))
                except ValueError:
                    raise _Halt("bad GET argument") from None
            elif name == "PUT":
                try:
                    idx = int(arg)
                except ValueError:
                    raise _Halt("bad PUT argument") from None
                self.memo_put(idx, off)
            elif name == "NEXT_BUFFER":
                # Protocol 5 out-of-band data lives outside the file; pickle.load without
                # `buffers=` fails here, and what the buffer holds cannot be checked.
                ctx.problem("out-of-band buffer (NEXT_BUFFER): data is not in the stream", off, self.member)
                stack_push(_UNK)
            elif name == "READONLY_BUFFER":
                self.top()
            else:  # pragma: no cover - every _OPS name is handled above
                raise _Halt("unhandled opcode %s" % name)

    def build(self, obj, state, off: int) -> None:
        ctx = self.ctx
        if isinstance(obj, _G):
            # BUILD on an imported class/function/module sets attributes on it: a way to
            # monkey-patch code that later runs (e.g. replace torch._utils helpers).
            ctx.calls.append(("BUILD", off, self.member, obj.rec))
            ctx.problem("BUILD sets attributes on an imported global (%s.%s)" % (obj.rec[0], obj.rec[1]), off, self.member)
            return
        if isinstance(obj, _Call):
            obj.state = state
            callee = obj.callee
            ctx.calls.append(("BUILD", off, self.member, callee.rec if isinstance(callee, _G) else None))
            if isinstance(callee, _G) and callee.rec[1] == "NumpyArrayWrapper" and callee.rec[0].endswith("joblib.numpy_pickle"):
                self.joblib_array(state, off)
        else:
            ctx.calls.append(("BUILD", off, self.member, None))

    def joblib_array(self, state, off: int) -> None:
        """joblib writes array bytes right after the wrapper's BUILD, inside the pickle
        stream (NumpyUnpickler reads them there); object arrays are a nested pickle."""
        ctx, rd = self.ctx, self.rd
        if not isinstance(state, _DictV):
            raise _Halt("joblib array wrapper without a state dict; rest of stream not scanned")
        dtype = state.get("dtype")
        shape = state.get("shape")
        if _dtype_has_object(dtype, 0):
            ctx.streams += 1
            sub = _Stream(ctx, rd, self.member, self.depth, self.file_scanner)
            sub.run()  # failures propagate: the outer stream cannot be resynchronised
            return
        itemsize = _dtype_itemsize(dtype)
        if itemsize is None or not isinstance(shape, tuple) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise _Halt("joblib inline array of unknown size; rest of stream not scanned")
        if isinstance(state.get("numpy_array_alignment_bytes"), int):
            pad = rd.read(1)[0]
            rd.skip(pad)
        rd.skip(math.prod(shape) * itemsize)


def _dtype_args(dtype):
    if isinstance(dtype, _Call) and isinstance(dtype.callee, _G) and dtype.callee.rec[1] == "dtype" and isinstance(dtype.args, tuple) and dtype.args:
        return dtype.args[0], dtype.state
    return None, None


def _dtype_has_object(dtype, depth: int) -> bool:
    if depth > 8:
        return False
    descr, state = _dtype_args(dtype)
    if isinstance(descr, str) and descr.startswith("O"):
        return True
    # structured dtype: state = (version, byteorder, subarray, names, fields, ...)
    if isinstance(state, tuple) and len(state) >= 5:
        sub = state[2]
        if isinstance(sub, tuple) and sub and _dtype_has_object(sub[0], depth + 1):
            return True
        fields = state[4]
        if isinstance(fields, _DictV):
            for _, v in fields.items:
                if isinstance(v, tuple) and v and _dtype_has_object(v[0], depth + 1):
                    return True
    return False


def _dtype_itemsize(dtype) -> int | None:
    descr, state = _dtype_args(dtype)
    if isinstance(state, tuple) and len(state) >= 6 and isinstance(state[5], int) and state[5] > 0:
        return state[5]  # elsize, set for flexible and structured dtypes
    if isinstance(descr, str) and len(descr) >= 2 and descr[1:].isdigit():
        size = int(descr[1:])
        return size * 4 if descr[0] == "U" else size  # 'U' counts characters
    return None


def _run_streams(ctx: _Ctx, rd: _Reader, member: str | None, depth: int, file_scanner, max_streams: int | None = None, first_values=None) -> None:
    """Scans consecutive pickle streams until the end of the range (or max_streams)."""
    n = 0
    while not rd.at_end() and not ctx.stopped:
        if max_streams is not None and n >= max_streams:
            return
        start = rd.pos
        ctx.streams += 1
        n += 1
        try:
            value = _Stream(ctx, rd, member, depth, file_scanner).run()
            if first_values is not None:
                first_values.append(value)
        except _Truncated:
            ctx.problem("truncated pickle stream (no STOP before the end of data)", start, member)
            return
        except _BadArg as e:
            ctx.problem(str(e), rd.pos, member)
            return
        except _Halt as e:
            ctx.problem(str(e), rd.pos, member)
            if e.fatal:
                ctx.stopped = True
            return
        except (RecursionError, MemoryError, ValueError, OverflowError) as e:
            ctx.problem("pickle stream could not be analysed: %s" % type(e).__name__, rd.pos, member)
            return
    if max_streams is not None and n < max_streams and not ctx.stopped:
        ctx.problem("expected %d pickle streams, found %d" % (max_streams, n), rd.pos, member)


# --------------------------------------------------------------------------- sniffing


def _looks_like_pickle(head: bytes, strict: bool = False) -> bool:
    """Does `head` parse as the start of a pickle? Runs the symbolic machine over it: a
    text or binary file that happens to start with an opcode byte fails within a few
    opcodes (unknown opcode, stack underflow, unquoted STRING...)."""
    if not head:
        return False
    if strict and not (head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= PROTO_MAX):
        return False
    ctx = _Ctx(Limits(max_opcodes=4096, max_problems=4))
    if head[0] != 0x80 and not _plausible_headerless_pickle(ctx, head):
        # No PROTO header (protocol 0/1): source and text files often start with an opcode
        # byte ("cimport ...", "MODULE ..."). Such a stream can only do harm by importing,
        # so it counts when it imports an importable-looking (or unresolvable) global, or
        # is a clean data pickle that reaches STOP.
        return False
    rd = _Reader(io.BytesIO(head), 0, len(head))
    stream = _Stream(ctx, rd, None, 99, None)
    finished = False
    try:
        stream.run()
        finished = True
    except _Truncated:
        # ran out of head: fine when the file is longer than the head
        pass
    except Exception:
        # pickle.load would already have imported (and maybe called) what came before the
        # failure, so a stream that breaks after importing something is still a pickle
        return bool(ctx.recs) and ctx.opcodes >= 2
    # recorded problems (a call of a computed value, BUILD on a global...) are findings
    # about a pickle, not evidence against it being one
    if finished:
        return True
    if ctx.opcodes < 3:
        return False
    if strict:
        return bool(ctx.recs)
    return True


def _plausible_headerless_pickle(ctx: _Ctx, head: bytes) -> bool:
    rd = _Reader(io.BytesIO(head), 0, len(head))
    clean = False
    try:
        _Stream(ctx, rd, None, 99, None).run()
        clean = not ctx.problems
    except Exception:
        pass
    found = clean or any(not rec[4] or (_dotted_identifier(rec[0]) and _dotted_identifier(rec[1])) for rec in ctx.recs)
    ctx.__init__(ctx.limits)  # the caller runs the stream again from a clean state
    return found


def _dotted_identifier(text) -> bool:
    return isinstance(text, str) and bool(text) and all(part.isidentifier() for part in text.split("."))


def sniff_container(head: bytes, _depth: int = 0) -> str | None:
    """Container kind from the first ~512 bytes; None = not a pickle-bearing container."""
    head = bytes(head[:4096])
    if head.startswith(_ZIP_LOCAL):
        name = b""
        if len(head) >= 30:
            nlen = int.from_bytes(head[26:28], "little")
            name = head[30 : 30 + nlen]
        if name.endswith(b"data.pkl"):
            return "torch-zip"
        if name.lower().endswith(b".npy"):
            return "npz"
        return "zip"
    if head.startswith(_ZIP_EMPTY):
        return "zip"
    if head.startswith(_NPY_MAGIC):
        return "numpy"
    if head[:1] == b"\x80" and _LEGACY_MAGIC_LE in head[:16]:
        return "torch-legacy"
    if head.startswith(b"L" + str(TORCH_LEGACY_MAGIC).encode()) or head.startswith(b"\x80\x01L" + str(TORCH_LEGACY_MAGIC).encode()):
        return "torch-legacy"
    method = _compression(head)
    if method is not None:
        inner = _decompressed_start(head, method)
        # gzip'd JSON, CSV or text is not a pickle; when the start does not decompress
        # (bz2 blocks, lz4, a short head) the full scan decides.
        if inner is not None and len(inner) >= 64 and _depth < 3 and sniff_container(inner, _depth + 1) is None:
            return None
        return "compressed"
    if _looks_like_pickle(head):
        return "pickle"
    return None


def _decompressor(method: str):
    """A fresh decompressor for gzip, zlib, bz2, xz or lzma."""
    if method == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if method == "zlib":
        return zlib.decompressobj()
    if method == "bz2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ if method == "xz" else lzma.FORMAT_ALONE)


def _decompressed_start(head: bytes, method: str) -> bytes | None:
    """Up to 4 KiB decompressed from the start of a compressed file, None when that
    cannot be had from the head alone (bz2 decompresses whole blocks only)."""
    if method not in ("gzip", "zlib", "xz", "lzma"):
        return None
    try:
        return _decompressor(method).decompress(head, 4096)
    except (zlib.error, lzma.LZMAError, EOFError, ValueError, MemoryError):
        return None


def _compression(head: bytes) -> str | None:
    # joblib.dump(compress=...) writes one of these around the pickle.
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and len(head) > 3 and head[3:4].isdigit():
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"]\x00\x00"):
        return "lzma"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if head.startswith(b"ZF0x"):
        return "joblib-zlib"  # joblib < 0.10: 'ZF0x' + hex length, then zlib
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    return None


# --------------------------------------------------------------------------- containers


class _FileScanner:
    def __init__(self, ctx: _Ctx):
        self.ctx = ctx

    # entry for one blob (file, zip member, decompressed data) -----------------
    def scan_blob(self, f, size: int, member: str | None, depth: int, kind: str | None = None, strict: bool = False) -> str:
        ctx = self.ctx
        if ctx.stopped:
            return kind or "not-pickle"
        if kind is None:
            f.seek(0)
            head = f.read(512)
            if strict and not head.startswith((_ZIP_LOCAL, _NPY_MAGIC)) and not _looks_like_pickle(head, strict=True):
                return "not-pickle"
            kind = sniff_container(head)
            if kind is None:
                return "not-pickle"
        if kind in ("torch-zip", "npz", "zip"):
            if depth > ctx.limits.max_depth:
                ctx.problem("archive nested deeper than %d levels not scanned" % ctx.limits.max_depth, None, member)
                return kind
            return self.scan_zip(f, size, member, depth)
        if kind == "numpy":
            self.scan_npy(f, size, member, depth)
        elif kind == "torch-legacy":
            # magic number, protocol version, sys_info, the object, the storage keys; then
            # raw storage bytes that torch reads without unpickling.
            _run_streams(ctx, _Reader(f, 0, size), member, depth, self.scan_nested, max_streams=5)
        elif kind == "compressed":
            if self.scan_compressed(f, size, member, depth) == "not-pickle":
                return "not-pickle"  # compressed text or data: nothing to load
        else:
            if size > ctx.limits.max_stream_bytes:
                ctx.problem("pickle larger than %d bytes; only the start is scanned" % ctx.limits.max_stream_bytes, None, member)
            _run_streams(ctx, _Reader(f, 0, min(size, ctx.limits.max_stream_bytes)), member, depth, self.scan_nested)
        return kind

    def scan_nested(self, data: bytes, member: str, depth: int) -> None:
        if depth > self.ctx.limits.max_depth:
            self.ctx.problem("nested checkpoint deeper than %d levels not scanned" % self.ctx.limits.max_depth, None, member)
            return
        kind = self.scan_blob(io.BytesIO(data), len(data), member, depth)
        if kind == "not-pickle":
            self.ctx.problem("nested torch.load payload is not a checkpoint", None, member)

    # compressed ---------------------------------------------------------------
    def scan_compressed(self, f, size: int, member: str | None, depth: int) -> None:
        ctx = self.ctx
        f.seek(0)
        head = f.read(16)
        method = _compression(head)
        label = "%s(%s)" % (member + "/" if member else "", method)
        if depth > ctx.limits.max_depth:
            ctx.problem("compressed data nested deeper than %d levels not scanned" % ctx.limits.max_depth, None, member)
            return
        if method == "lz4":
            ctx.problem("lz4-compressed data cannot be scanned without the lz4 package", 0, member)
            return
        start = 0
        if method == "joblib-zlib":
            start = 4 + 19  # 'ZF0x' + hex length padded to 19 characters
            method = "zlib"
        dec = _decompressor(method)
        cap = ctx.limits.max_stream_bytes
        out = bytearray()
        f.seek(start)
        is_zlib = method in ("gzip", "zlib")
        try:
            while len(out) < cap:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                out += dec.decompress(chunk, cap - len(out))
                if dec.eof:
                    break  # trailing bytes after the compressed stream are ignored, as joblib does
                if (dec.unconsumed_tail if is_zlib else not dec.needs_input):
                    break  # reached the cap mid-chunk
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as e:
            ctx.problem("%s data could not be decompressed: %s" % (method, e), None, member)
        if len(out) >= cap:
            ctx.problem("decompressed data larger than %d bytes; only the start is scanned" % cap, None, member)
        data = bytes(out)
        return self.scan_blob(io.BytesIO(data), len(data), label, depth + 1)

    # numpy --------------------------------------------------------------------
    def scan_npy(self, f, size: int, member: str | None, depth: int) -> None:
        ctx = self.ctx
        f.seek(0)
        pre = f.read(12)
        if len(pre) < 10:
            ctx.problem("truncated .npy header", 0, member)
            return
        major = pre[6]
        if major == 1:
            hlen, hstart = int.from_bytes(pre[8:10], "little"), 10
        elif major in (2, 3):
            if len(pre) < 12:
                ctx.problem("truncated .npy header", 0, member)
                return
            hlen, hstart = int.from_bytes(pre[8:12], "little"), 12
        else:
            ctx.problem(".npy format version %d.%d is unknown" % (major, pre[7]), 6, member)
            return
        if hlen > 1 << 16:
            ctx.problem(".npy header of %d bytes is too large" % hlen, 8, member)
            return
        f.seek(hstart)
        raw = f.read(hlen)
        if len(raw) < hlen:
            ctx.problem("truncated .npy header", hstart, member)
            return
        try:
            import ast

            header = ast.literal_eval(raw.decode("utf-8" if major == 3 else "latin1"))
        except Exception:  # literal_eval raises many types on hostile input
            ctx.problem(".npy header is not a Python literal", hstart, member)
            return
        if not isinstance(header, dict) or "descr" not in header:
            ctx.problem(".npy header has no descr", hstart, member)
            return
        if _descr_has_object(header["descr"], 0):
            # numpy.load(allow_pickle=True) unpickles the data part
            _run_streams(ctx, _Reader(f, hstart + hlen, min(size, hstart + hlen + ctx.limits.max_stream_bytes)), member, depth, self.scan_nested, max_streams=1)

    # zip ------------------------------------------------------------------------
    def scan_zip(self, f, size: int, member: str | None, depth: int) -> str:
        """Central directory from zipfile; local headers and data read by us.

        zipfile alone is not enough: ZipFile.open() raises on a local/central name
        mismatch, on the encryption flag and on unsupported compression, while torch's
        reader (miniz) locates members through the central directory, takes the data
        offset from the local header's lengths and ignores those fields. Scanners that
        relied on ZipFile.open() skipped such members (picklescan CVE-2025-1944/1945).
        So data is read the way miniz reads it, and every disagreement is a problem."""
        ctx = self.ctx
        prefix = member + "/" if member else ""
        f.seek(0)
        try:
            zf = zipfile.ZipFile(f)
            infos = zf.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, KeyError, struct.error, NotImplementedError, UnicodeDecodeError) as e:
            ctx.problem("zip central directory unreadable: %s" % e, None, member)
            return "zip"
        if len(infos) > ctx.limits.max_members:
            ctx.problem("zip has %d members; only the first %d are looked at" % (len(infos), ctx.limits.max_members), None, member)
            infos = infos[: ctx.limits.max_members]
        names = [i.filename for i in infos]
        kind = "zip"
        if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            kind = "torch-zip"
        elif infos and all(n.lower().endswith(".npy") for n in names):
            kind = "npz"
        seen: set[str] = set()
        for n in names:
            if n in seen:
                ctx.problem("duplicate zip member name %r" % n, None, member)
            seen.add(n)
            if n.startswith(("/", "\\")) or ".." in n.replace("\\", "/").split("/") or (len(n) > 1 and n[1] == ":") or "\x00" in n:
                ctx.problem("unsafe zip member name %r" % n, None, member)
        spans = []
        for info in infos:
            if ctx.stopped:
                break
            data_start = self.check_local_header(f, size, info, member)
            if data_start is None:
                continue
            spans.append((info.header_offset, data_start + info.compress_size, info.filename))
            self.scan_member(f, size, info, data_start, prefix + info.filename, depth, kind)
        spans.sort()
        for (a0, a1, an), (b0, _, bn) in zip(spans, spans[1:]):
            if a1 > b0:
                ctx.problem("zip members %r and %r overlap" % (an, bn), b0, member)
        return kind

    def check_local_header(self, f, size: int, info: zipfile.ZipInfo, member: str | None) -> int | None:
        ctx = self.ctx
        where = info.header_offset
        f.seek(where)
        hdr = f.read(30)
        if len(hdr) < 30 or hdr[:4] != _ZIP_LOCAL:
            ctx.problem("zip member %r: no local file header at offset %d" % (info.filename, where), where, member)
            return None
        _, _ver, lflags, lmethod, _t, _d, lcrc, lcsize, lusize, nlen, xlen = struct.unpack("<4sHHHHHIIIHH", hdr)
        lname_raw = f.read(nlen)
        lname = lname_raw.decode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
        if lname != info.orig_filename:
            ctx.problem("zip member %r: local header names it %r" % (info.filename, lname), where, member)
        if lflags != info.flag_bits:
            ctx.problem("zip member %r: flags differ between local header (0x%04x) and central directory (0x%04x)" % (info.filename, lflags, info.flag_bits), where, member)
        for flags, which in ((info.flag_bits, "central"), (lflags, "local")):
            if flags & 0x1:
                ctx.problem("zip member %r: encrypted flag set (%s header)" % (info.filename, which), where, member)
            # bit 3 data descriptor, bits 1-2 deflate level, bit 11 UTF-8 names are normal
            odd = flags & ~(0x1 | 0x2 | 0x4 | 0x8 | 0x800)
            if odd:
                ctx.problem("zip member %r: unusual general-purpose flag bits 0x%04x (%s header)" % (info.filename, odd, which), where, member)
        if lmethod != info.compress_type:
            ctx.problem("zip member %r: compression method differs between local header (%d) and central directory (%d)" % (info.filename, lmethod, info.compress_type), where, member)
        if not lflags & 0x8 and 0xFFFFFFFF not in (lcsize, lusize):
            if lcsize != info.compress_size or lusize != info.file_size or lcrc != info.CRC:
                ctx.problem("zip member %r: sizes/CRC differ between local header and central directory" % info.filename, where, member)
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            ctx.problem("zip member %r: stored but sizes differ" % info.filename, where, member)
        data_start = where + 30 + nlen + xlen
        if data_start + info.compress_size > size:
            ctx.problem("zip member %r: data runs past the end of the archive" % info.filename, where, member)
            return None
        if info.file_size > 64 << 20 and info.file_size > 200 * max(1, info.compress_size):
            ctx.problem("zip member %r: compression ratio %d:1 (zip bomb?)" % (info.filename, info.file_size // max(1, info.compress_size)), where, member)
        return data_start

    def member_head(self, f, info, data_start: int, n: int = 512) -> bytes | None:
        f.seek(data_start)
        if info.compress_type == zipfile.ZIP_STORED:
            return f.read(min(n, info.compress_size))
        if info.compress_type == zipfile.ZIP_DEFLATED:
            try:
                return zlib.decompressobj(-15).decompress(f.read(min(info.compress_size, 1 << 16)), n)
            except zlib.error:
                return b""
        return None

    def scan_member(self, f, size, info: zipfile.ZipInfo, data_start: int, label: str, depth: int, kind: str) -> None:
        ctx = self.ctx
        if info.is_dir():
            return
        name = info.filename
        is_pkl = name.lower().endswith(".pkl")
        # torch storages (`<archive>/data/<key>`) are raw tensor bytes that torch never
        # unpickles; they are only sniffed (strictly, so float data cannot look like a pickle).
        storage = kind == "torch-zip" and "/data/" in "/" + name and not is_pkl
        head = self.member_head(f, info, data_start)
        if head is None:
            if is_pkl or info.file_size:
                ctx.problem("zip member %r: compression method %d not scanned" % (name, info.compress_type), info.header_offset, label)
            return
        if is_pkl:
            sub_kind = sniff_container(head) or "pickle"
        elif storage:
            if not (head.startswith((_ZIP_LOCAL, _NPY_MAGIC)) or _looks_like_pickle(head, strict=True)):
                return
            sub_kind = sniff_container(head)
            ctx.problem("zip member %r: tensor storage member holds a pickle/archive" % name, info.header_offset, label)
        else:
            sub_kind = sniff_container(head)
        if sub_kind is None:
            return
        blob = self.member_blob(f, info, data_start, label)
        if blob is None:
            return
        self.scan_blob(blob, _size_of(blob), label, depth + 1 if sub_kind in ("zip", "torch-zip", "npz") else depth, kind=sub_kind)

    def member_blob(self, f, info, data_start: int, label: str):
        ctx = self.ctx
        if info.compress_type == zipfile.ZIP_STORED:
            return _Window(f, data_start, info.compress_size)
        # deflated: decompress into memory, capped (pickle members are small; a bomb is cut off)
        cap = ctx.limits.max_stream_bytes
        dec = zlib.decompressobj(-15)
        out = bytearray()
        f.seek(data_start)
        left = info.compress_size
        try:
            while left > 0 and len(out) < cap:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)
                out += dec.decompress(chunk, cap - len(out))
                if dec.unconsumed_tail:
                    break
        except zlib.error as e:
            ctx.problem("zip member %r: deflate data corrupt: %s" % (info.filename, e), info.header_offset, label)
        if len(out) >= cap:
            ctx.problem("zip member %r: decompresses to more than %d bytes; only the start is scanned" % (info.filename, cap), info.header_offset, label)
        return io.BytesIO(bytes(out))


def _descr_has_object(descr, depth: int) -> bool:
    if depth > 16:
        return True  # absurd nesting: assume the worst, scan
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(_descr_has_object(d, depth + 1) for d in descr)
    return False


# --------------------------------------------------------------------------- public API


def scan_file(path: str | os.PathLike, *, max_stream_bytes: int = 1 << 30, max_depth: int = 3, budget_seconds: float | None = None, limits: Limits | None = None) -> PickleScan:
    """Statically scan a file that torch.load / pickle.load / numpy.load / joblib.load
    would read. Never raises for file content; I/O errors become problems."""
    lim = limits or Limits(max_stream_bytes=max_stream_bytes, max_depth=max_depth, budget_seconds=budget_seconds)
    ctx = _Ctx(lim)
    container = "not-pickle"
    counted = None
    try:
        with open(path, "rb") as raw:
            counted = _Counting(raw)
            scanner = _FileScanner(ctx)
            container = scanner.scan_blob(counted, counted.size, None, 0)
    except _Halt as e:
        ctx.problem(str(e), None, None)
    except OSError as e:
        ctx.problem("file could not be read: %s" % e.strerror, None, None)
    except Exception as e:  # a bug here must not turn into a crash of the linter
        ctx.problem("internal error while scanning: %s: %s" % (type(e).__name__, e), None, None)
    return ctx.result(container, counted.count if counted else 0)


def scan_bytes(data: bytes, *, member: str | None = None, limits: Limits | None = None) -> PickleScan:
    """Scan raw pickle bytes (one or several concatenated streams)."""
    ctx = _Ctx(limits or Limits())
    data = bytes(data)
    rd = _Reader(io.BytesIO(data), 0, len(data))
    try:
        _run_streams(ctx, rd, member, 0, _FileScanner(ctx).scan_nested)
    except Exception as e:
        ctx.problem("internal error while scanning: %s: %s" % (type(e).__name__, e), None, member)
    return ctx.result("pickle", rd.consumed)
