"""The entry points: scan a file or raw pickle bytes. Never raises for content."""

from __future__ import annotations

import io
import os

from hfcheck.formats.pickle.containers import ContainerScanner
from hfcheck.formats.pickle.machine import run_streams
from hfcheck.formats.pickle.reader import CountingFile, StreamReader
from hfcheck.formats.pickle.results import Limits, PickleScan, ScanContext, ScanHalt


def scan_file(
    path: str | os.PathLike,
    *,
    max_stream_bytes: int = 1 << 30,
    max_depth: int = 3,
    budget_seconds: float | None = None,
    limits: Limits | None = None,
) -> PickleScan:
    """Statically scan a file that torch.load / pickle.load / numpy.load / joblib.load
    would read. Never raises for file content; I/O errors become problems."""
    limits = limits or Limits(max_stream_bytes=max_stream_bytes, max_depth=max_depth, budget_seconds=budget_seconds)
    ctx = ScanContext(limits)
    container = "not-pickle"
    counted = None
    try:
        with open(path, "rb") as raw:
            counted = CountingFile(raw)
            container = ContainerScanner(ctx).scan_blob(counted, counted.size, None, 0)
    except ScanHalt as e:
        ctx.problem(str(e), None, None)
    except OSError as e:
        ctx.problem("file could not be read: %s" % e.strerror, None, None)
    except Exception as e:  # noqa: BLE001 - a bug here must not turn into a crash of the linter
        ctx.problem("internal error while scanning: %s: %s" % (type(e).__name__, e), None, None)
    return ctx.result(container, counted.count if counted else 0)


def scan_bytes(data: bytes, *, member: str | None = None, limits: Limits | None = None) -> PickleScan:
    """Scan raw pickle bytes (one or several concatenated streams)."""
    ctx = ScanContext(limits or Limits())
    data = bytes(data)
    reader = StreamReader(io.BytesIO(data), 0, len(data))
    try:
        run_streams(ctx, reader, member, 0, ContainerScanner(ctx).scan_nested)
    except Exception as e:  # noqa: BLE001 - a bug here must not turn into a crash of the linter: the file is unverified (SEC003)
        ctx.problem("internal error while scanning: %s: %s" % (type(e).__name__, e), None, member)
    return ctx.result("pickle", reader.consumed)
