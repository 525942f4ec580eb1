"""Compressed pickle data (joblib's compressed files): recognising the method and
building a decompressor for it."""

from __future__ import annotations

import bz2
import lzma
import zlib


def compression_method(head: bytes) -> str | None:
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


def decompressor(method: str):
    """A fresh decompressor for gzip, zlib, bz2, xz or lzma."""
    if method == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if method == "zlib":
        return zlib.decompressobj()
    if method == "bz2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ if method == "xz" else lzma.FORMAT_ALONE)


def decompressed_start(head: bytes, method: str) -> bytes | None:
    """Up to 4 KiB decompressed from the start of a compressed file, None when that
    cannot be had from the head alone (bz2 decompresses whole blocks only)."""
    if method not in ("gzip", "zlib", "xz", "lzma"):
        return None
    try:
        return decompressor(method).decompress(head, 4096)
    except (zlib.error, lzma.LZMAError, EOFError, ValueError, MemoryError):
        return None
