"""Which container a file is, from its first bytes (content, never the file name)."""

from __future__ import annotations

import io

from hfcheck.formats.pickle.compression import compression_method, decompressed_start
from hfcheck.formats.pickle.machine import StreamMachine
from hfcheck.formats.pickle.opcodes import HIGHEST_PROTOCOL
from hfcheck.formats.pickle.reader import StreamReader, Truncated
from hfcheck.formats.pickle.results import InternalError, Limits, ScanContext

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_MAGIC_LE = TORCH_LEGACY_MAGIC.to_bytes(10, "little")
ZIP_LOCAL = b"PK\x03\x04"
ZIP_EMPTY = b"PK\x05\x06"
NPY_MAGIC = b"\x93NUMPY"


def looks_like_pickle(head: bytes, strict: bool = False) -> bool:
    """Does `head` parse as the start of a pickle? Runs the symbolic machine over it: a
    text or binary file that happens to start with an opcode byte fails within a few
    opcodes (unknown opcode, stack underflow, unquoted STRING...)."""
    if not head:
        return False
    if strict and not (head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= HIGHEST_PROTOCOL):
        return False
    ctx = ScanContext(Limits(max_opcodes=4096, max_problems=4))
    if head[0] != 0x80 and not _plausible_headerless_pickle(ctx, head):
        # No PROTO header (protocol 0/1): source and text files often start with an opcode
        # byte ("cimport ...", "MODULE ..."). Such a stream can only do harm by importing,
        # so it counts when it imports an importable-looking (or unresolvable) global, or
        # is a clean data pickle that reaches STOP.
        return False
    machine = StreamMachine(ctx, StreamReader(io.BytesIO(head), 0, len(head)), None, 99, None)
    finished = False
    try:
        machine.run()
        finished = True
    except Truncated:
        # ran out of head: fine when the file is longer than the head
        pass
    except InternalError:
        return True  # the full scan reports it as unverifiable; never "not a pickle"
    except Exception:
        # pickle.load would already have imported (and maybe called) what came before the
        # failure, so a stream that breaks after importing something is still a pickle
        return bool(ctx.imported) and ctx.opcodes >= 2
    # recorded problems (a call of a computed value, BUILD on a global...) are findings
    # about a pickle, not evidence against it being one
    if finished:
        return True
    if ctx.opcodes < 3:
        return False
    if strict:
        return bool(ctx.imported)
    return True


def _plausible_headerless_pickle(ctx: ScanContext, head: bytes) -> bool:
    clean = False
    try:
        StreamMachine(ctx, StreamReader(io.BytesIO(head), 0, len(head)), None, 99, None).run()
        clean = not ctx.problems
    except InternalError:
        clean = True
    except Exception:
        pass
    found = clean or any(not g.resolved or (_dotted_identifier(g.module) and _dotted_identifier(g.name)) for g in ctx.imported)
    ctx.__init__(ctx.limits)  # the caller runs the stream again from a clean state
    return found


def _dotted_identifier(text) -> bool:
    return isinstance(text, str) and bool(text) and all(part.isidentifier() for part in text.split("."))


def sniff_container(head: bytes, _depth: int = 0) -> str | None:
    """Container kind from the first ~512 bytes; None = not a pickle-bearing container."""
    head = bytes(head[:4096])
    if head.startswith(ZIP_LOCAL):
        name = b""
        if len(head) >= 30:
            nlen = int.from_bytes(head[26:28], "little")
            name = head[30 : 30 + nlen]
        if name.endswith(b"data.pkl"):
            return "torch-zip"
        if name.lower().endswith(b".npy"):
            return "npz"
        return "zip"
    if head.startswith(ZIP_EMPTY):
        return "zip"
    if head.startswith(NPY_MAGIC):
        return "numpy"
    if head[:1] == b"\x80" and LEGACY_MAGIC_LE in head[:16]:
        return "torch-legacy"
    if head.startswith(b"L" + str(TORCH_LEGACY_MAGIC).encode()) or head.startswith(b"\x80\x01L" + str(TORCH_LEGACY_MAGIC).encode()):
        return "torch-legacy"
    method = compression_method(head)
    if method is not None:
        inner = decompressed_start(head, method)
        # gzip'd JSON, CSV or text is not a pickle; when the start does not decompress
        # (bz2 blocks, lz4, a short head) the full scan decides.
        if inner is not None and len(inner) >= 64 and _depth < 3 and sniff_container(inner, _depth + 1) is None:
            return None
        return "compressed"
    if looks_like_pickle(head):
        return "pickle"
    return None
