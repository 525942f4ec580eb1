"""Pickle-bearing containers, each read the way its loader reads it: raw pickles (also
several concatenated, and joblib files with inline numpy data, read both as joblib and as
plain pickle.load reads them), torch zip checkpoints and other zips (through both torch's
and Python's zip readers), the legacy torch formats (magic-number streams and tar),
.npy with object dtypes, .npz, every stream of gzip/bz2/xz/lzma/zlib-compressed data
(joblib's compressed files), and archives a user unpacks (tar, 7z: hfcheck.formats.pickle.archives).
Tensor storage is never read: a 10 GB checkpoint costs what its data.pkl costs. Anything
malformed, out of bounds or read differently by two readers is a problem on the scan,
never an exception."""

from __future__ import annotations

import io
import struct
import zlib

from hfcheck.formats.pickle.compression import compression_method, data_start, decompress_all, fails_at_once
from hfcheck.formats.pickle.machine import StreamMachine, run_streams
from hfcheck.formats.pickle.numpy_dtypes import descr_has_object
from hfcheck.formats.pickle.reader import FileWindow, StreamReader, blob_size
from hfcheck.formats.pickle.results import ScanContext
from hfcheck.formats.pickle.sniff import (
    NPY_MAGIC,
    TAR_BLOCK,
    ZIP_LOCAL,
    container_by_magic,
    first_stream_is_pickle,
    head_rules_out_pickle,
    looks_like_pickle,
    run_first_stream,
)
from hfcheck.formats.pickle.zip_reader import ZipEntry, ZipReadError, miniz_directory, torch_archive_records, zipfile_directory

MINIZ = "torch's zip reader (miniz)"
PYZIP = "Python's zipfile"
_HEAD = 1 << 12  # bytes of a large member read to rule it out before reading it all


class PlainPickleMachine(StreamMachine):
    """pickle.load and torch.load know nothing of joblib: the bytes joblib reads as array
    data after a NumpyArrayWrapper are, to them, more opcodes."""

    def skip_joblib_array(self, state) -> None:
        return None


def adopt(ctx: ScanContext, sub: ScanContext, with_problems: bool = True, same_stream: bool = False) -> None:
    """Moves what a scratch scan of a stream found into the scan of the file;
    `same_stream`: a second reading of a stream already counted."""
    ctx.imported.extend(sub.imported)
    ctx.calls.extend(sub.calls)
    if with_problems:
        for p in sub.problems:
            ctx.problem(p.message, p.offset, p.member)
    if not same_stream:
        ctx.streams += sub.streams
        ctx.persistent_ids += sub.persistent_ids
    ctx.opcodes += sub.opcodes
    ctx.stopped = ctx.stopped or sub.stopped


def _builds_joblib_array(sub: ScanContext) -> bool:
    return any(op == "BUILD" and t is not None and t.name == "NumpyArrayWrapper" for op, _, _, t in sub.calls)


class CutData(io.BytesIO):
    """Decompressed data cut at Limits.max_stream_bytes: the real data goes on past its end."""


class ContainerScanner:
    """Scans one blob (a file, an archive member, decompressed data) by its container kind."""

    def __init__(self, ctx: ScanContext):
        self.ctx = ctx

    def scan_blob(self, f, size: int, member: str | None, depth: int, kind: str | None = None) -> str:
        """Scans f by its kind (from its first bytes when not given); returns the kind, or
        "not-pickle" when no loader would unpickle anything from it."""
        ctx = self.ctx
        if ctx.stopped:
            return kind or "not-pickle"
        if kind is None:
            f.seek(0)
            kind = container_by_magic(f.read(TAR_BLOCK)) or "pickle"
        if kind in ("zip", "tar", "7z") and depth > ctx.limits.max_depth:
            ctx.problem("archive nested deeper than %d levels not scanned" % ctx.limits.max_depth, None, member)
            return kind
        if kind == "zip":
            return self.scan_zip(f, size, member, depth)
        if kind in ("tar", "7z"):
            from hfcheck.formats.pickle import archives  # tarfile and py7zr only when needed

            return (archives.scan_tar if kind == "tar" else archives.scan_7z)(self, f, size, member, depth)
        if kind == "numpy":
            self.scan_npy(f, size, member, depth)
        elif kind == "torch-legacy":
            # magic number, protocol version, sys_info, the object, the storage keys; then
            # raw storage bytes that torch reads without unpickling.
            run_streams(ctx, StreamReader(f, 0, size), member, depth, self.scan_nested, max_streams=5)
        elif kind == "compressed":
            return self.scan_compressed(f, size, member, depth)
        else:
            return self.scan_raw_pickle(f, size, member, depth)
        return kind

    def scan_nested(self, data, member: str, depth: int) -> None:
        """`data`: the bytes given to a nested torch.load, or a file window onto them."""
        if depth > self.ctx.limits.max_depth:
            self.ctx.problem("nested checkpoint deeper than %d levels not scanned" % self.ctx.limits.max_depth, None, member)
            return
        blob = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
        kind = self.scan_blob(blob, blob_size(blob), member, depth)
        if kind == "not-pickle":
            self.ctx.problem("nested torch.load payload is not a checkpoint", None, member)

    # raw pickles --------------------------------------------------------------
    def scan_raw_pickle(self, f, size: int, member: str | None, depth: int) -> str:
        """The whole file decides whether it is a pickle (first_stream_is_pickle), not a
        head; a joblib stream is also read as plain pickle.load reads it."""
        ctx = self.ctx
        # The whole blob (to `size`), however large: a loader reads on to STOP, and a payload
        # may sit past any window of ours (after a 1 GiB BINBYTES8 argument, or a hole in a
        # sparse file). Arguments are skipped by seeking; the opcode count and the time budget
        # bound the work.
        f.seek(0)
        proto_header = f.read(1) == b"\x80"
        sub, finished, reader, failure = run_first_stream(f, 0, size, ctx.limits, self.scan_nested, member=member, depth=depth)
        if isinstance(f, CutData) and not finished and failure.startswith("truncated"):
            # the stream runs on past the data decompressed for the scan: unseen, never "no
            # pickle" (scan_compressed reports the cut)
            adopt(ctx, sub)
            return "pickle"
        if not first_stream_is_pickle(sub, finished, proto_header):
            return "not-pickle"
        adopt(ctx, sub)
        if failure is not None:
            ctx.problem(failure, reader.pos, member)
        if _builds_joblib_array(sub):
            plain, _, _, _ = run_first_stream(
                f, 0, size, ctx.limits, self.scan_nested, member=member, depth=depth, machine_class=PlainPickleMachine
            )
            adopt(ctx, plain, with_problems=False, same_stream=True)  # where pickle.load fails, it stops: only what ran before counts
        while finished and not reader.at_end() and not ctx.stopped:
            # pickle.load never reads past the first STOP; code that loads in a loop reads
            # on. A further stream counts when it is a pickle by the same test, and its
            # globals are judged; bytes that are no stream are data no loader reads.
            start = reader.pos
            sub, finished, reader, failure = run_first_stream(f, start, size, ctx.limits, self.scan_nested, member=member, depth=depth)
            if not first_stream_is_pickle(sub, finished, f.seek(start) is not None and f.read(1) == b"\x80"):
                break
            adopt(ctx, sub, with_problems=getattr(sub, "internal_failure", False) or getattr(sub, "frames_disagree", False))
        return "pickle"

    # compressed ---------------------------------------------------------------
    def scan_compressed(self, f, size: int, member: str | None, depth: int) -> str:
        ctx = self.ctx
        f.seek(0)
        head = f.read(64)
        method = compression_method(head)
        label = "%s(%s)" % (member + "/" if member else "", method)
        if method == "lz4":
            ctx.problem("lz4-compressed data cannot be scanned without the lz4 package", 0, member)
            return "compressed"
        if fails_at_once(head, method):
            return "not-pickle"  # the decompressor refuses the first bytes: nothing is unpickled
        if depth > ctx.limits.max_depth:
            ctx.problem("compressed data nested deeper than %d levels not scanned" % ctx.limits.max_depth, None, member)
            return "compressed"
        cap = ctx.limits.max_stream_bytes
        data, error, capped = decompress_all(f, data_start(method, head), method, cap)
        if not data:
            return "not-pickle"
        if error:
            # fail closed: data that starts to decompress and then breaks is never "no pickle"
            ctx.problem(error, None, member)
        blob = CutData(data) if capped else io.BytesIO(data)
        if self.scan_blob(blob, len(data), label, depth + 1) == "not-pickle" and not error:
            return "not-pickle"  # compressed text or data that fails before the cap: nothing to load
        if capped:
            ctx.problem("decompressed data larger than %d bytes; only the start is scanned (scan incomplete)" % cap, None, member)
        return "compressed"

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
        except Exception:  # noqa: BLE001 - literal_eval raises many types on hostile input
            ctx.problem(".npy header is not a Python literal", hstart, member)
            return
        if not isinstance(header, dict) or "descr" not in header:
            ctx.problem(".npy header has no descr", hstart, member)
            return
        if descr_has_object(header["descr"], 0):
            # numpy.load(allow_pickle=True) unpickles the data part
            run_streams(
                ctx,
                StreamReader(f, hstart + hlen, size),  # to the end, as numpy's unpickler reads
                member,
                depth,
                self.scan_nested,
                max_streams=1,
            )

    # zip ------------------------------------------------------------------------
    def scan_zip(self, f, size: int, member: str | None, depth: int) -> str:
        """Every member that torch's reader (miniz) or Python's zipfile would find, with its
        data located the way both locate it (the local header's own name and extra
        lengths); any difference between the two readers' views is a problem. A scanner
        that trusts one reader scans members the other never returns (picklescan
        CVE-2025-1944/1945: ZipFile.open() refuses what miniz reads)."""
        ctx = self.ctx
        views: dict[str, list[ZipEntry]] = {}
        errors: dict[str, str] = {}
        for reader_name, read in ((MINIZ, lambda: miniz_directory(f, size, ctx.limits.max_members)), (PYZIP, lambda: zipfile_directory(f))):
            try:
                views[reader_name] = read()
            except ZipReadError as e:
                errors[reader_name] = str(e)
            except (OSError, ValueError, struct.error, MemoryError) as e:
                errors[reader_name] = type(e).__name__
        if not views:
            ctx.problem("zip central directory unreadable: %s" % "; ".join("%s: %s" % item for item in errors.items()), None, member)
            return "zip"
        if errors:
            (failed, why), (reads, _) = next(iter(errors.items())), next(iter(views.items()))
            ctx.problem("zip readers disagree: %s refuses the archive (%s) while %s reads it" % (failed, why, reads), None, member)
        elif [e.name for e in views[MINIZ]] != [e.name for e in views[PYZIP]] or [e.where() for e in views[MINIZ]] != [
            e.where() for e in views[PYZIP]
        ]:
            ctx.problem("zip readers disagree: %s" % _view_difference(views[MINIZ], views[PYZIP]), None, member)
        entries = _union(views)
        if len(entries) > ctx.limits.max_members:
            ctx.problem("zip has %d members; only the first %d are looked at" % (len(entries), ctx.limits.max_members), None, member)
            entries = entries[: ctx.limits.max_members]
        torch_view = views.get(MINIZ) or []
        folder, records = torch_archive_records(torch_view)
        kind = _zip_kind(entries, torch_view, folder, records)
        self.check_names(views, records, member)
        storages = set()
        if kind in ("torch-zip", "torchscript"):
            storages = {id(e) for key, found in records.items() if key.startswith("data/") and not key.endswith(".pkl") for e in found}
            if member is None:  # the file itself (not an archive inside it) is the checkpoint
                ctx.storage_bytes = sum(e.file_size for e in torch_view if id(e) in storages)
        prefix = member + "/" if member else ""
        spans = []
        for entry in entries:
            if ctx.stopped:
                break
            begin = self.check_local_header(f, size, entry, member)
            if begin is None:
                continue
            spans.append((entry.header_offset, begin + entry.compress_size, entry.name))
            self.scan_member(f, entry, begin, prefix + entry.name, depth, id(entry) in storages)
        spans = sorted(set(spans))
        for (_, a1, an), (b0, _, bn) in zip(spans, spans[1:]):
            if a1 > b0:
                ctx.problem("zip members %r and %r overlap" % (an, bn), b0, member)
        return kind

    def check_names(self, views: dict[str, list[ZipEntry]], records: dict[str, list[ZipEntry]], member: str | None) -> None:
        ctx = self.ctx
        reported: set[str] = set()
        for entries in views.values():
            seen: set[str] = set()
            for entry in entries:
                n = entry.name
                if n in seen and n not in reported:
                    ctx.problem("duplicate zip member name %r" % n, None, member)
                    reported.add(n)
                seen.add(n)
                if n.startswith(("/", "\\")) or ".." in n.replace("\\", "/").split("/") or (len(n) > 1 and n[1] == ":") or "\x00" in n:
                    if "unsafe:" + n not in reported:
                        ctx.problem("unsafe zip member name %r" % n, None, member)
                        reported.add("unsafe:" + n)
        for record, found in records.items():
            names = sorted({e.name for e in found})
            if len(names) > 1:
                ctx.problem(
                    "torch's reader looks records up case-insensitively: %s all answer for %r" % (", ".join(map(repr, names)), record),
                    None,
                    member,
                )

    def check_local_header(self, f, size: int, entry: ZipEntry, member: str | None) -> int | None:
        ctx = self.ctx
        where = entry.header_offset
        f.seek(where)
        hdr = f.read(30)
        if len(hdr) < 30 or hdr[:4] != ZIP_LOCAL:
            ctx.problem("zip member %r: no local file header at offset %d" % (entry.name, where), where, member)
            return None
        _, _ver, lflags, lmethod, _t, _d, lcrc, lcsize, lusize, nlen, xlen = struct.unpack("<4sHHHHHIIIHH", hdr)
        if f.read(nlen) != entry.raw_name:
            ctx.problem("zip member %r: the local header names it differently" % entry.name, where, member)
        if lflags != entry.flags:
            ctx.problem(
                "zip member %r: flags differ between local header (0x%04x) and central directory (0x%04x)"
                % (entry.name, lflags, entry.flags),
                where,
                member,
            )
        for flags, which in ((entry.flags, "central"), (lflags, "local")):
            if flags & 0x1:
                ctx.problem("zip member %r: encrypted flag set (%s header)" % (entry.name, which), where, member)
            # bit 3 data descriptor, bits 1-2 deflate level, bit 11 UTF-8 names are normal
            odd = flags & ~(0x1 | 0x2 | 0x4 | 0x8 | 0x800)
            if odd:
                ctx.problem("zip member %r: unusual general-purpose flag bits 0x%04x (%s header)" % (entry.name, odd, which), where, member)
        if lmethod != entry.method:
            ctx.problem(
                "zip member %r: compression method differs between local header (%d) and central directory (%d)"
                % (entry.name, lmethod, entry.method),
                where,
                member,
            )
        if not lflags & 0x8 and 0xFFFFFFFF not in (lcsize, lusize):
            if lcsize != entry.compress_size or lusize != entry.file_size or lcrc != entry.crc:
                ctx.problem("zip member %r: sizes/CRC differ between local header and central directory" % entry.name, where, member)
        if entry.method == 0 and entry.compress_size != entry.file_size:
            ctx.problem("zip member %r: stored but sizes differ" % entry.name, where, member)
        begin = where + 30 + nlen + xlen
        if begin + entry.compress_size > size:
            ctx.problem("zip member %r: data runs past the end of the archive" % entry.name, where, member)
            return None
        if entry.file_size > 64 << 20 and entry.file_size > 200 * max(1, entry.compress_size):
            ctx.problem(
                "zip member %r: compression ratio %d:1 (zip bomb?)" % (entry.name, entry.file_size // max(1, entry.compress_size)),
                where,
                member,
            )
        return begin

    def scan_member(self, f, entry: ZipEntry, begin: int, label: str, depth: int, storage: bool) -> None:
        """A member is scanned when its content is a pickle-bearing container, whatever its
        name. torch storages (`<archive>/data/<key>`) are raw tensor bytes that torch never
        unpickles; they are only sniffed (strictly, so float data cannot look like a pickle)."""
        ctx = self.ctx
        if entry.is_dir:
            return
        if entry.method not in (0, 8):
            if entry.name.lower().endswith(".pkl") or entry.file_size:
                ctx.problem("zip member %r: compression method %d not scanned" % (entry.name, entry.method), entry.header_offset, label)
            return
        if storage:
            head = self.member_data(f, entry, begin, label, TAR_BLOCK)
            if not (head.startswith((ZIP_LOCAL, NPY_MAGIC)) or looks_like_pickle(head, strict=True)):
                return
            ctx.problem("zip member %r: tensor storage member holds a pickle/archive" % entry.name, entry.header_offset, label)
        elif entry.file_size > _HEAD and head_rules_out_pickle(self.member_data(f, entry, begin, label, _HEAD), entry.file_size):
            return  # a large member that its first bytes prove no pickle is not read further
        blob = (
            FileWindow(f, begin, entry.compress_size)
            if entry.method == 0
            else io.BytesIO(self.member_data(f, entry, begin, label, ctx.limits.max_stream_bytes))
        )
        self.scan_blob(blob, blob_size(blob), label, depth + 1)

    def member_data(self, f, entry: ZipEntry, begin: int, label: str, cap: int) -> bytes:
        """Up to `cap` bytes of a member, inflated when deflated (a bomb is cut off)."""
        ctx = self.ctx
        f.seek(begin)
        if entry.method == 0:
            return f.read(min(cap, entry.compress_size))
        dec = zlib.decompressobj(-15)
        out = bytearray()
        left = entry.compress_size
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
            ctx.problem("zip member %r: deflate data corrupt: %s" % (entry.name, e), entry.header_offset, label)
        if len(out) >= cap and cap == ctx.limits.max_stream_bytes:
            ctx.problem(
                "zip member %r: decompresses to more than %d bytes; only the start is scanned" % (entry.name, cap),
                entry.header_offset,
                label,
            )
        return bytes(out)


def _zip_kind(entries: list[ZipEntry], torch_view: list[ZipEntry], folder: str | None, records: dict) -> str:
    if "data.pkl" in records:
        # torch.load hands an archive with a constants.pkl record to torch.jit.load
        # (torch.serialization._is_torchscript_zip), whose C++ unpickler reads the pickles
        return "torchscript" if any(e.name == "%s/constants.pkl" % folder for e in torch_view) else "torch-zip"
    return "npz" if entries and all(e.name.lower().endswith(".npy") for e in entries) else "zip"


def _union(views: dict[str, list[ZipEntry]]) -> list[ZipEntry]:
    seen, out = set(), []
    for entries in views.values():
        for entry in entries:
            key = (entry.raw_name, entry.where())
            if key not in seen:
                seen.add(key)
                out.append(entry)
    return out


def _view_difference(torch_view: list[ZipEntry], python_view: list[ZipEntry]) -> str:
    a = {(e.name, e.where()) for e in torch_view}
    b = {(e.name, e.where()) for e in python_view}
    only_torch = sorted({n for n, _ in a - b})
    only_python = sorted({n for n, _ in b - a})
    if not only_torch and not only_python:
        return "the members are listed in a different order"
    return "only %s finds %s; only %s finds %s (at those offsets)" % (
        MINIZ,
        only_torch[:5] or "nothing",
        PYZIP,
        only_python[:5] or "nothing",
    )
