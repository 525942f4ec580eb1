"""Byte sources for the scan: the file on disk (counting what is read), windows onto a
part of a file (a stored zip member) and the bounded stream reader the machine reads
opcodes from (large payloads are skipped by seeking, never read)."""

from __future__ import annotations

import errno
import io
import os

from hfcheck.formats.pickle.results import ScanLimit

# Longest text-opcode argument line (protocol 0: UNICODE, STRING, INT, GLOBAL, ...) the scan
# reads. CPython has none: both unpicklers read the file's readline(), to the newline or the
# end of the file, so a payload may follow a line of any length (an attacker pads with text
# to pass a scanner's bound). Past this budget the stream is unverified (ScanLimit, SEC003),
# never "no pickle". A hole in a sparse file counts as its zero bytes but is never read, and
# a hole to the end holds no newline (Truncated): sparse safetensors shards whose header
# length reads as a line opcode stay cheap and clean. 64 MiB: 1000x the 64 KiB bound that
# was the miss; lines that long are protocol-0 strings of array data, rare in model files.
# Its costs: one line is held while parsed (~200-320 MB peak at the budget, measured), and a
# dense file whose first byte is a line opcode and whose next newline byte lies past 64 MiB
# (a safetensors header, then 64 MiB of zeros, then a 0x0A) is a false SEC003; of the line
# opcodes an 8-byte-padded header length can end in, PUT ('p') is exempt (machine.py: on an
# empty stack it fails whatever its line), PERSID ('P') is not.
LINE_BUDGET = 64 << 20
PREFIX_BYTES = 1 << 16  # first bytes of a long line asked whether the loader refuses it


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

    def data_span(self, pos: int) -> tuple[int, int] | None:
        """The run of stored data at or after pos, (start, stop), from SEEK_DATA/SEEK_HOLE;
        (pos, size) where holes are not known; None when only a hole follows pos (zero
        bytes, which are never read)."""
        if not hasattr(os, "SEEK_DATA") or pos >= self.size:
            return pos, self.size
        try:
            fd = self.f.fileno()
            here = os.lseek(fd, 0, os.SEEK_CUR)
        except (OSError, AttributeError, io.UnsupportedOperation):
            return pos, self.size
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
            return start, os.lseek(fd, start, os.SEEK_HOLE)
        except OSError as e:
            return None if e.errno == errno.ENXIO else (pos, self.size)
        finally:
            os.lseek(fd, here, os.SEEK_SET)  # the buffered file above reads from the fd's offset


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


def data_span(f, pos: int) -> tuple[int, int] | None:
    """The run of stored data at or after pos in f (a file, a window onto one, bytes in
    memory) as (start, stop): from pos on, unbounded, when no hole is known; None when only
    a hole follows."""
    if isinstance(f, CountingFile):
        return f.data_span(pos)
    if isinstance(f, FileWindow):
        found = data_span(f.f, f.start + pos)
        if found is None or found[0] >= f.start + f.size:
            return None
        return found[0] - f.start, min(found[1], f.start + f.size) - f.start
    return pos, 1 << 62  # bytes in memory: no holes; the reader's range bounds the read


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
        if want > n:  # read ahead only over stored data: a hole after it is never read
            span = data_span(self.f, self.pos)
            if span is not None and span[0] == self.pos:
                want = max(n, min(want, span[1] - self.pos))
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

    def readline(self, refuses=None) -> bytes:
        """The text argument line at pos, without its newline, read as CPython reads it: to
        the next newline however far it is (a hole in the file is zero bytes of the line,
        skipped by seeking, never read). Truncated when the data ends first (also when only
        a hole follows: zeros hold no newline); ScanLimit past LINE_BUDGET bytes.
        `refuses(first bytes)`: why every unpickler fails on a line that starts so, or None;
        asked while the line goes on past what is read (up to PREFIX_BYTES of it), so that a
        long text line the loader refuses at its first bytes (`Loss: ...` read as LONG) fails
        as the loader fails, not at the budget."""
        parts = []
        length = 0
        while True:
            if self.pos >= self.end:
                raise Truncated
            rel = self.pos - self.buf_start
            if not 0 <= rel < len(self.buf):
                if refuses is not None and parts:  # the line goes on: decided by its start?
                    prefix = b"".join(parts)[:PREFIX_BYTES]
                    why = refuses(prefix)
                    if why is not None:
                        raise BadArgument(why)
                    refuses = None if len(prefix) >= PREFIX_BYTES else refuses
                hole, stop = self._skip_hole(parts, length)
                length += hole
                self._fill_line(min(max(self.CHUNK, length), 1 << 20, stop - self.pos))
                rel = self.pos - self.buf_start
            i = self.buf.find(b"\n", rel)
            piece = self.buf[rel:] if i < 0 else self.buf[rel:i]
            if not piece and i < 0:
                raise Truncated
            length += len(piece)
            if length > LINE_BUDGET:
                self._past_budget(self.pos + len(piece))
            parts.append(piece)
            taken = len(piece) + (i >= 0)
            self.pos += taken
            self.consumed += taken
            if i >= 0:
                return b"".join(parts)

    def _skip_hole(self, parts: list, length: int) -> tuple[int, int]:
        """Before the line reads on from the file: a hole at pos is zero bytes of the line,
        added without reading them. Returns (its length, where the stored data run ends);
        Truncated when only a hole is left in the range."""
        span = data_span(self.f, self.pos)
        if span is None or span[0] >= self.end:
            raise Truncated  # zeros to the end of the data: no newline, as the loader finds
        hole = span[0] - self.pos
        if hole > 0:
            if length + hole > LINE_BUDGET:
                self._past_budget(span[0])
            parts.append(bytes(hole))
            self.pos += hole
            self.consumed += hole
        return max(hole, 0), max(span[1], self.pos + 1)

    def _past_budget(self, pos: int) -> None:
        """A line outgrew LINE_BUDGET at pos: unverified (ScanLimit), unless no newline
        follows in the rest of the data, which the loader reads to the end and fails on
        (Truncated): a sparse file whose last bytes follow a long hole. Reads at most
        LINE_BUDGET more stored bytes, skipping holes."""
        left = LINE_BUDGET
        while left > 0:
            span = data_span(self.f, pos)
            if span is None or span[0] >= self.end:
                raise Truncated  # only zeros are left: no newline, as the loader finds
            self.f.seek(span[0])
            chunk = self.f.read(min(min(span[1], self.end) - span[0], left, 1 << 20))
            if not chunk or b"\n" in chunk:
                break
            left -= len(chunk)
            pos = span[0] + len(chunk)
        raise ScanLimit("text argument line longer than %d bytes; scan incomplete" % LINE_BUDGET)

    def _fill_line(self, n: int) -> None:
        want = min(max(n, 1), self.end - self.pos)
        self.f.seek(self.pos)
        self.buf = self.f.read(want)
        self.buf_start = self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end
