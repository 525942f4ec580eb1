"""Compressed pickle data as joblib reads it: the method chosen by joblib's own prefixes,
and every concatenated stream decompressed (joblib's and the stdlib's file readers start a
new decompressor where a stream ends, so a payload can sit in a second gzip member)."""

from __future__ import annotations

import bz2
import lzma
import zlib

# joblib < 0.10 wrote 'ZF' + the hex length left-justified to len(hex(2**64)) characters
ZF_HEADER = 2 + len(hex(2**64))
_MULTI_STREAM = ("gzip", "zlib", "bz2", "xz", "lzma")
_ERRORS = (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError, MemoryError)


def compression_method(head: bytes) -> str | None:
    """The decompressor joblib.load picks for a file starting with `head` (joblib tests
    its prefixes in this order: the old 'ZF' format first)."""
    if head.startswith(b"ZF"):
        return "joblib-zlib"
    if head.startswith(b"\x78"):
        return "zlib"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZ"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ"):
        return "xz"
    if head.startswith(b"\x5d\x00"):
        return "lzma"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    return None


def decompressor(method: str):
    """A fresh decompressor for gzip, zlib, bz2, xz or lzma."""
    if method == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if method == "zlib":
        return zlib.decompressobj()
    if method == "bz2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ if method == "xz" else lzma.FORMAT_ALONE)


def data_start(method: str, head: bytes) -> int:
    """Where the compressed data begins (after joblib's old 'ZF' header and its optional
    space)."""
    if method != "joblib-zlib":
        return 0
    return ZF_HEADER + (1 if head[ZF_HEADER : ZF_HEADER + 1] == b" " else 0)


def fails_at_once(head: bytes, method: str) -> bool:
    """The decompressor rejects the data before producing a single byte: every loader
    fails before it unpickles anything (text that starts with 'x', 'BZ', ...)."""
    if method == "lz4":
        return False
    try:
        dec = decompressor("zlib" if method == "joblib-zlib" else method)
        dec.decompress(head[data_start(method, head) :], 1)
    except _ERRORS:
        return True
    return False


def decompress_all(f, start: int, method: str, cap: int) -> tuple[bytes, str | None, bool]:
    """Every stream of f from `start`, decompressed up to `cap` bytes: (data, error or
    None, cut at the cap). A new stream starts where one ends, as joblib reads them; the
    old 'ZF' format is a single zlib stream."""
    multi = method in _MULTI_STREAM
    method = "zlib" if method == "joblib-zlib" else method
    dec = decompressor(method)
    out = bytearray()
    f.seek(start)
    pending = b""
    try:
        while len(out) < cap:
            chunk = pending or f.read(1 << 20)
            pending = b""
            if not chunk:
                break
            out += dec.decompress(chunk, cap - len(out))
            if dec.eof:
                rest = dec.unused_data
                if not multi:
                    break
                if not rest:
                    rest = f.read(1 << 20)
                    if not rest:
                        break
                dec = decompressor(method)
                pending = rest
                continue
            tail = getattr(dec, "unconsumed_tail", b"")
            if tail:
                pending = tail
            elif not getattr(dec, "needs_input", True):
                pending = b""  # lzma/bz2 hold input back until asked for more output
                out += dec.decompress(b"", cap - len(out))
    except _ERRORS as e:
        return bytes(out), "%s data could not be decompressed: %s" % (method, e), False
    if len(out) < cap and not dec.eof and out:
        return bytes(out), "%s data ends before its stream does" % method, False
    return bytes(out), None, len(out) >= cap
