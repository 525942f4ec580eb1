"""The safe reader: how the repo view opens a listed file. Opens never block (a file
swapped for a FIFO after listing is refused), reads stop at a per-kind size cap, text is
UTF-8 as transformers reads it, and every refusal is recorded (through `record`) instead
of raised, so HFC001 can report what was not read."""

from __future__ import annotations

import os
import stat
from typing import Callable

from hfcheck.tree import MiB, FileEntry


class SafeReader:
    def __init__(self, record: Callable[..., None]):
        self.record = record  # record(rel, message, severity="warning")

    def open(self, entry: FileEntry, rel: str | None = None):
        """A binary file object for a listed regular file, or None (recorded under `rel`,
        the name the caller knows the file by)."""
        rel = rel or entry.rel
        try:
            # O_NONBLOCK: a file swapped for a FIFO after listing must not hang us.
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        except OSError as error:
            self.record(rel, f"cannot open: {error.strerror or error}")
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            self.record(rel, "no longer a regular file; skipped")
            return None
        return os.fdopen(fd, "rb")

    def read_bytes(self, entry: FileEntry, rel: str, limit: int) -> bytes | None:
        if entry.size > limit:
            self.record(rel, f"{entry.size / MiB:.1f} MiB is over the {limit / MiB:.0f} MiB limit for this kind of file; not read")
            return None
        stream = self.open(entry, rel)
        if stream is None:
            return None
        try:
            with stream:
                data = stream.read(limit + 1)
        except OSError as error:
            self.record(rel, f"cannot read: {error.strerror or error}")
            return None
        if len(data) > limit:
            self.record(rel, f"grew past the {limit / MiB:.0f} MiB limit while being read; not read")
            return None
        return data

    def decode(self, rel: str, data: bytes) -> str | None:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            self.record(rel, "UTF-16 text (byte-order mark found): transformers and most tools read it as UTF-8 and fail", "error")
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            self.record(rel, f"not valid UTF-8 (byte {error.start}): transformers reads it as UTF-8 and fails", "error")
            return None
