"""Byte sources for the scan: the file on disk (counting what is read), windows onto a
part of a file (a stored zip member) and the bounded stream reader the machine reads
opcodes from (large payloads are skipped by seeking, never read)."""

from __future__ import annotations

import io
import os

LINE_MAX = 1 << 16  # longest text-opcode argument line


class Truncated(Exception):
    """The data ended before the opcode or argument did."""


class BadArgument(Exception):
    """An opcode argument the unpickler would reject."""


class CountingFile(io.RawIOBase):
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


class FileWindow(io.RawIOBase):
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


def blob_size(f) -> int:
    if isinstance(f, (CountingFile, FileWindow)):
        return f.size
    if isinstance(f, io.BytesIO):
        return len(f.getbuffer())
    return f.seek(0, 2)


class StreamReader:
    """Buffered, bounded reads of f[start:end]; large payloads are skipped by seeking."""

    CHUNK = 1 << 16

    def __init__(self, f, start: int, end: int):
        self.f, self.end = f, end
        self.pos = start
        self.buf = b""
        self.buf_start = start
        self.consumed = 0

    def _fill(self, n: int) -> None:
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
        # The fast path (most opcodes and arguments are a few bytes inside the buffer,
        # which never extends past `end`) first: it runs once per opcode.
        rel = self.pos - self.buf_start
        if rel >= 0 and rel + n <= len(self.buf):
            self.pos += n
            self.consumed += n
            return self.buf[rel : rel + n]
        if n > self.end - self.pos:
            raise Truncated
        self._fill(n)
        rel = self.pos - self.buf_start
        data = self.buf[rel : rel + n]
        if len(data) < n:
            raise Truncated
        self.pos += n
        self.consumed += n
        return data

    def skip(self, n: int) -> None:
        if n > self.end - self.pos:
            raise Truncated
        self.pos += n

    def readline(self) -> bytes:
        out = []
        total = 0
        while True:
            if self.pos >= self.end:
                raise Truncated
            self._fill(1)
            rel = self.pos - self.buf_start
            i = self.buf.find(b"\n", rel)
            piece = self.buf[rel:] if i < 0 else self.buf[rel : i + 1]
            if not piece:
                raise Truncated
            out.append(piece)
            total += len(piece)
            self.pos += len(piece)
            self.consumed += len(piece)
            if i >= 0:
                return b"".join(out)[:-1]
            if total > LINE_MAX:
                # Not a ScanLimit (fail closed), though CPython has no such bound: a safetensors
                # file whose header length starts with a line opcode ('V') reads its JSON header
                # and any run of zero bytes after it as one line, and would be a false error.
                # A payload after a first text line this long is a known miss (docs/security-measurement.md).
                raise BadArgument("text argument line longer than %d bytes" % LINE_MAX)

    def at_end(self) -> bool:
        return self.pos >= self.end
