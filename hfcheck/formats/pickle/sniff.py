"""Which container a file is, decided by what its loaders would do with it.

Container formats are recognised by the bytes their loaders test: `torch.load` and
`numpy.load` open a zip when the file starts with a local header, torch tries the legacy
tar format when the first 512-byte block is a valid tar header, joblib picks a
decompressor by the first bytes. Anything else is a pickle when the unpickler, run over the
file itself (not a bounded head), would import something before it fails, or reaches STOP:
that is what `pickle.load` would run. A text file that happens to start with an opcode
byte fails within a few bytes without importing anything, and is no pickle.
"""

from __future__ import annotations

import io

from hfcheck.formats.pickle.compression import compression_method
from hfcheck.formats.pickle.machine import StreamMachine
from hfcheck.formats.pickle.opcodes import HIGHEST_PROTOCOL
from hfcheck.formats.pickle.reader import BadArgument, StreamReader, Truncated
from hfcheck.formats.pickle.results import InternalError, Limits, ScanContext, ScanHalt, ScanLimit
from hfcheck.formats.pickle.values import CUT

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_MAGIC_LE = TORCH_LEGACY_MAGIC.to_bytes(10, "little")
ZIP_LOCAL = b"PK\x03\x04"
ZIP_EMPTY = b"PK\x05\x06"
NPY_MAGIC = b"\x93NUMPY"
SEVEN_ZIP_MAGIC = b"7z\xbc\xaf\x27\x1c"
TAR_BLOCK = 512


def is_tar_header(block: bytes) -> bool:
    """Would `tarfile.open(mode='r:')` accept this first block (torch.load's legacy tar
    test)? Decided by tarfile's own header parser, after a quick checksum test that keeps
    tarfile unimported for the files that are no tar."""
    if len(block) < TAR_BLOCK or block[:TAR_BLOCK].count(0) == TAR_BLOCK or not _checksum_may_match(block):
        return False
    import tarfile

    try:
        tarfile.TarInfo.frombuf(block[:TAR_BLOCK], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    except Exception:  # noqa: BLE001 - a header tarfile's parser chokes on is not one tarfile opens
        return False
    return True


def _checksum_may_match(block: bytes) -> bool:
    """tarfile's checksum: the header's bytes summed with the checksum field read as
    spaces, unsigned or signed; the field holds it in octal (or base-256)."""
    field = block[148:156]
    if field[:1] in (b"\x80", b"\xff"):
        return True  # base-256: left to tarfile
    digits = field.rstrip(b"\x00 ").lstrip(b" ")
    if not digits or any(c not in b"01234567" for c in digits):
        return False
    stored = int(digits, 8)
    unsigned = sum(block[:148]) + 256 + sum(block[156:512])
    signed = unsigned - 2 * sum(b for b in block[:148] + block[156:512] if b > 127)
    return stored in (unsigned, signed)


def container_by_magic(head: bytes) -> str | None:
    """The container a loader would open from the first bytes; None for a possible raw
    pickle (decided by running it)."""
    if head.startswith(ZIP_LOCAL) or head.startswith(ZIP_EMPTY):
        return "zip"
    if head.startswith(NPY_MAGIC):
        return "numpy"
    if head.startswith(SEVEN_ZIP_MAGIC):
        return "7z"
    if is_tar_header(head):
        return "tar"
    if head[:1] == b"\x80" and LEGACY_MAGIC_LE in head[:16]:
        return "torch-legacy"
    if head.startswith(b"L" + str(TORCH_LEGACY_MAGIC).encode()) or head.startswith(b"\x80\x01L" + str(TORCH_LEGACY_MAGIC).encode()):
        return "torch-legacy"
    if compression_method(head) is not None:
        return "compressed"
    return None


def first_stream_is_pickle(ctx: ScanContext, finished: bool, proto_header: bool) -> bool:
    """After running the first stream of a file into `ctx`: is it a pickle to a loader?

    It is when it reached STOP (with a PROTO header, or cleanly: a protocol 0/1 data
    pickle), or when it imported a global from an importable-looking module before it
    failed: the unpickler would already have imported the module (and maybe called the
    global). A failure of the scanner
    itself (InternalError) counts as a pickle: fail closed, never "not a pickle"."""
    if getattr(ctx, "internal_failure", False) or getattr(ctx, "frames_disagree", False) or ctx.stopped:
        return True  # an opcode crossing its FRAME, or a STOP inside one, is binary pickle structure, and a problem
    # find_class imports the module before it looks the name up: an importable module is
    # already a side effect, whatever the name (CPython resolves "posix" for any name line).
    # After a PROTO header (no text file starts with one) every module string counts, as
    # __import__ takes any string; without one (protocol 0/1, which text can resemble) a
    # module counts when it is a dotted identifier, the names installed modules have.
    imported = any(not g.resolved or proto_header or _dotted_identifier(g.module) for g in ctx.imported)
    if finished:
        return proto_header or imported or not ctx.problems
    return imported


def _dotted_identifier(text) -> bool:
    if isinstance(text, str) and text.endswith(CUT):
        # a module line kept cut: its parents, whole before the cut, are imported before
        # the import of the full name fails
        text = text[: text.rfind(".")] if "." in text else ""
    return isinstance(text, str) and bool(text) and all(part.isidentifier() for part in text.split("."))


def run_first_stream(
    f, start: int, end: int, limits: Limits, nested_scanner=None, *, member: str | None = None, depth: int = 0, machine_class=StreamMachine
):
    """Runs one stream of f[start:end] into a fresh context: (context, finished, reader,
    failure message or None)."""
    ctx = ScanContext(limits)
    reader = StreamReader(f, start, end)
    ctx.streams = 1
    failure = None
    try:
        machine_class(ctx, reader, member, depth, nested_scanner).run()
        return ctx, True, reader, None
    except Truncated:
        failure = "truncated pickle stream (no STOP before the end of data)"
    except (BadArgument, ScanHalt) as e:
        failure = str(e)
        # a failure or a bound of the scanner itself: unverified, never "not a pickle"
        ctx.internal_failure = isinstance(e, (InternalError, ScanLimit))
        if isinstance(e, ScanHalt) and e.fatal:
            ctx.stopped = True
    except (RecursionError, MemoryError, ValueError, OverflowError) as e:
        failure = "pickle stream could not be analysed: %s" % type(e).__name__
    return ctx, False, reader, failure


def head_rules_out_pickle(head: bytes, size: int) -> bool:
    """True only when the head alone proves that no loader would find a pickle in the
    file: no container magic, and the unpickler fails inside the head (not at its end,
    unless the head is the whole file) without importing anything. Never a guess from a
    bounded window: an undecided head means the whole file is scanned."""
    if not head:
        return size == 0
    if container_by_magic(head) is not None:
        return False
    ctx, finished, reader, failure = run_first_stream(io.BytesIO(head), 0, len(head), Limits(max_opcodes=1 << 16, max_problems=4))
    if finished:
        return not first_stream_is_pickle(ctx, finished, head[0] == 0x80)
    if failure.startswith("truncated") and len(head) < size:
        return False  # the stream goes on past the head
    if ctx.stopped:
        return False
    return not first_stream_is_pickle(ctx, False, head[0] == 0x80)


def looks_like_pickle(head: bytes, strict: bool = False) -> bool:
    """Does `head` start a pickle (for sniffing bytes whose loader is not known: tensor
    storages)? strict: only a protocol 2+ stream that imports something counts."""
    if not head:
        return False
    if strict and not (head[0] == 0x80 and len(head) > 1 and 2 <= head[1] <= HIGHEST_PROTOCOL):
        return False
    ctx, finished, _, failure = run_first_stream(io.BytesIO(head), 0, len(head), Limits(max_opcodes=4096, max_problems=4))
    if strict:
        return bool(ctx.imported)
    if not finished and failure.startswith("truncated"):
        return ctx.opcodes >= 3 or bool(ctx.imported)
    return first_stream_is_pickle(ctx, finished, head[0] == 0x80)


def sniff_container(head: bytes) -> str | None:
    """Container kind from the first bytes, None when they prove the file is no pickle.
    "pickle" means: run the whole file to decide (scan_file does)."""
    head = bytes(head)
    if not head:
        return None
    kind = container_by_magic(head)
    if kind is not None:
        return kind
    return None if head_rules_out_pickle(head, len(head) + 1) else "pickle"
