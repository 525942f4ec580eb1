"""Pickle-bearing containers: raw pickles (also several concatenated, and joblib files
with inline numpy data), torch zip checkpoints, the legacy torch format, .npy with object
dtype, .npz and other zips (nested up to a depth), and gzip/bz2/xz/zlib-compressed
pickles (joblib's compressed files). Tensor storage is never read: a 10 GB checkpoint
costs what its data.pkl costs. Anything malformed, out of bounds or zip-tricky is a
problem on the scan, never an exception."""

from __future__ import annotations

import io
import lzma
import struct
import zipfile
import zlib

from hfcheck.formats.pickle.compression import compression_method, decompressor
from hfcheck.formats.pickle.machine import run_streams
from hfcheck.formats.pickle.reader import FileWindow, StreamReader, blob_size
from hfcheck.formats.pickle.results import ScanContext
from hfcheck.formats.pickle.sniff import NPY_MAGIC, ZIP_LOCAL, looks_like_pickle, sniff_container


class ContainerScanner:
    """Scans one blob (a file, a zip member, decompressed data) by its container kind."""

    def __init__(self, ctx: ScanContext):
        self.ctx = ctx

    # entry for one blob (file, zip member, decompressed data) -----------------
    def scan_blob(self, f, size: int, member: str | None, depth: int, kind: str | None = None, strict: bool = False) -> str:
        ctx = self.ctx
        if ctx.stopped:
            return kind or "not-pickle"
        if kind is None:
            f.seek(0)
            head = f.read(512)
            if strict and not head.startswith((ZIP_LOCAL, NPY_MAGIC)) and not looks_like_pickle(head, strict=True):
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
            run_streams(ctx, StreamReader(f, 0, size), member, depth, self.scan_nested, max_streams=5)
        elif kind == "compressed":
            if self.scan_compressed(f, size, member, depth) == "not-pickle":
                return "not-pickle"  # compressed text or data: nothing to load
        else:
            if size > ctx.limits.max_stream_bytes:
                ctx.problem("pickle larger than %d bytes; only the start is scanned" % ctx.limits.max_stream_bytes, None, member)
            run_streams(ctx, StreamReader(f, 0, min(size, ctx.limits.max_stream_bytes)), member, depth, self.scan_nested)
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

    # compressed ---------------------------------------------------------------
    def scan_compressed(self, f, size: int, member: str | None, depth: int) -> None:
        ctx = self.ctx
        f.seek(0)
        head = f.read(16)
        method = compression_method(head)
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
        dec = decompressor(method)
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
                if dec.unconsumed_tail if is_zlib else not dec.needs_input:
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
        if descr_has_object(header["descr"], 0):
            # numpy.load(allow_pickle=True) unpickles the data part
            run_streams(
                ctx,
                StreamReader(f, hstart + hlen, min(size, hstart + hlen + ctx.limits.max_stream_bytes)),
                member,
                depth,
                self.scan_nested,
                max_streams=1,
            )

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
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            OSError,
            ValueError,
            EOFError,
            KeyError,
            struct.error,
            NotImplementedError,
            UnicodeDecodeError,
        ) as e:
            ctx.problem("zip central directory unreadable: %s" % e, None, member)
            return "zip"
        if len(infos) > ctx.limits.max_members:
            ctx.problem("zip has %d members; only the first %d are looked at" % (len(infos), ctx.limits.max_members), None, member)
            infos = infos[: ctx.limits.max_members]
        names = [i.filename for i in infos]
        kind = "zip"
        if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            kind = "torch-zip"
            # torch.load dispatches an archive with a constants.pkl record to torch.jit.load
            # (torch.serialization._is_torchscript_zip), whose C++ unpickler reads the pickles
            if any(n.count("/") == 1 and n.endswith("/constants.pkl") for n in names):
                kind = "torchscript"
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
        if len(hdr) < 30 or hdr[:4] != ZIP_LOCAL:
            ctx.problem("zip member %r: no local file header at offset %d" % (info.filename, where), where, member)
            return None
        _, _ver, lflags, lmethod, _t, _d, lcrc, lcsize, lusize, nlen, xlen = struct.unpack("<4sHHHHHIIIHH", hdr)
        lname_raw = f.read(nlen)
        lname = lname_raw.decode("utf-8" if info.flag_bits & 0x800 else "cp437", "replace")
        if lname != info.orig_filename:
            ctx.problem("zip member %r: local header names it %r" % (info.filename, lname), where, member)
        if lflags != info.flag_bits:
            ctx.problem(
                "zip member %r: flags differ between local header (0x%04x) and central directory (0x%04x)"
                % (info.filename, lflags, info.flag_bits),
                where,
                member,
            )
        for flags, which in ((info.flag_bits, "central"), (lflags, "local")):
            if flags & 0x1:
                ctx.problem("zip member %r: encrypted flag set (%s header)" % (info.filename, which), where, member)
            # bit 3 data descriptor, bits 1-2 deflate level, bit 11 UTF-8 names are normal
            odd = flags & ~(0x1 | 0x2 | 0x4 | 0x8 | 0x800)
            if odd:
                ctx.problem(
                    "zip member %r: unusual general-purpose flag bits 0x%04x (%s header)" % (info.filename, odd, which), where, member
                )
        if lmethod != info.compress_type:
            ctx.problem(
                "zip member %r: compression method differs between local header (%d) and central directory (%d)"
                % (info.filename, lmethod, info.compress_type),
                where,
                member,
            )
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
            ctx.problem(
                "zip member %r: compression ratio %d:1 (zip bomb?)" % (info.filename, info.file_size // max(1, info.compress_size)),
                where,
                member,
            )
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
        storage = kind in ("torch-zip", "torchscript") and "/data/" in "/" + name and not is_pkl
        head = self.member_head(f, info, data_start)
        if head is None:
            if is_pkl or info.file_size:
                ctx.problem("zip member %r: compression method %d not scanned" % (name, info.compress_type), info.header_offset, label)
            return
        if is_pkl:
            sub_kind = sniff_container(head) or "pickle"
        elif storage:
            if not (head.startswith((ZIP_LOCAL, NPY_MAGIC)) or looks_like_pickle(head, strict=True)):
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
        self.scan_blob(blob, blob_size(blob), label, depth + 1 if sub_kind in ("zip", "torch-zip", "npz") else depth, kind=sub_kind)

    def member_blob(self, f, info, data_start: int, label: str):
        ctx = self.ctx
        if info.compress_type == zipfile.ZIP_STORED:
            return FileWindow(f, data_start, info.compress_size)
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
            ctx.problem(
                "zip member %r: decompresses to more than %d bytes; only the start is scanned" % (info.filename, cap),
                info.header_offset,
                label,
            )
        return io.BytesIO(bytes(out))


def descr_has_object(descr, depth: int) -> bool:
    if depth > 16:
        return True  # absurd nesting: assume the worst, scan
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(descr_has_object(d, depth + 1) for d in descr)
    return False
