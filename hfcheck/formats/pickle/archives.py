"""Tar and 7z archives.

A tar file is what `torch.load` opens as a legacy tar checkpoint whenever `tarfile` accepts
its first block, whatever else the file looks like (a tar whose first header is also a
benign pickle loads the tar's `pickle` member); its `storages`, `tensors` and `pickle`
members are read here the way torch's `_legacy_load` reads them. Every other member, and
every member of a 7z archive, is scanned like a zip member: weights shipped in an archive
are unpacked and loaded. 7z needs the optional py7zr (`pip install hfcheck[archives]`);
without it a 7z archive is a problem on the scan, never clean."""

from __future__ import annotations

import io
import struct
import tarfile

from hfcheck.formats.pickle.machine import StreamMachine
from hfcheck.formats.pickle.reader import BadArgument, FileWindow, StreamReader, Truncated
from hfcheck.formats.pickle.results import ScanHalt
from hfcheck.formats.pickle.sniff import head_rules_out_pickle
from hfcheck.formats.pickle.values import ImportedGlobal

LEGACY_TAR_MEMBERS = ("storages", "tensors", "pickle")
# torch._utils._element_size of each legacy storage class
_STORAGE_ELEMENT_SIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8, "IntStorage": 4,
    "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1, "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8,
}  # fmt: skip
_FAILED = object()


class _Unparsed(Exception):
    pass


def scan_tar(scanner, f, size: int, member: str | None, depth: int) -> str:
    ctx = scanner.ctx
    members = []
    try:
        f.seek(0)
        with tarfile.open(fileobj=f, mode="r:") as tar:
            for info in tar:
                if len(members) >= ctx.limits.max_members:
                    ctx.problem("tar archive has more than %d members; the rest are not scanned" % ctx.limits.max_members, None, member)
                    break
                members.append(info)
    except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError, struct.error) as e:
        ctx.problem("tar archive could not be read to its end: %s" % e, None, member)
    prefix = member + "/" if member else ""
    last = {info.name: info for info in members}  # tarfile's getmember returns the last of a name
    legacy = all(name in last and last[name].isreg() for name in LEGACY_TAR_MEMBERS)
    if legacy:
        _scan_legacy_tar(scanner, f, last, prefix, depth)
    for info in members:
        if legacy and last.get(info.name) is info and info.name in LEGACY_TAR_MEMBERS:
            continue
        if info.issparse():
            ctx.problem("tar member %r is a sparse file: not scanned" % info.name, None, member)
        elif info.isreg() and info.size:
            window = FileWindow(f, info.offset_data, info.size)
            if not head_rules_out_pickle(window.read(1 << 16), info.size):
                scanner.scan_blob(FileWindow(f, info.offset_data, info.size), info.size, prefix + info.name, depth + 1)
    return "torch-legacy-tar" if legacy else "tar"


def _scan_legacy_tar(scanner, f, members: dict, prefix: str, depth: int) -> None:
    """torch's `_legacy_load`: `storages` = count, per storage (key, location, type) then
    an int64 element count and raw bytes, then the storage views; `tensors` = count, per
    tensor (key, storage id, type) then raw shape data; `pickle` = the object."""
    ctx = scanner.ctx
    for name in LEGACY_TAR_MEMBERS:
        info = members[name]
        reader = StreamReader(FileWindow(f, info.offset_data, info.size), 0, info.size)
        label = prefix + name
        try:
            if name == "pickle":
                _one_stream(scanner, reader, label, depth)
            elif name == "storages":
                for _ in range(_count(_one_stream(scanner, reader, label, depth), label)):
                    element = _storage_element_size(_one_stream(scanner, reader, label, depth))
                    (numel,) = struct.unpack("<q", reader.read(8))
                    reader.skip(numel * element)
                _one_stream(scanner, reader, label, depth)  # the storage views
            else:
                for _ in range(_count(_one_stream(scanner, reader, label, depth), label)):
                    _one_stream(scanner, reader, label, depth)
                    (ndim,) = struct.unpack("<i", reader.read(4))
                    if ndim < 0:
                        raise _Unparsed("negative tensor rank")
                    reader.skip(4 + 16 * ndim + 8)
        except (_Unparsed, Truncated, struct.error) as e:
            ctx.problem(
                "legacy tar checkpoint member %r could not be parsed as torch reads it: %s" % (name, e or "truncated"), reader.pos, label
            )


def _one_stream(scanner, reader: StreamReader, label: str, depth: int):
    ctx = scanner.ctx
    ctx.streams += 1
    try:
        return StreamMachine(ctx, reader, label, depth, scanner.scan_nested).run()
    except (Truncated, BadArgument, ScanHalt, RecursionError, MemoryError, ValueError, OverflowError) as e:
        if isinstance(e, ScanHalt) and e.fatal:
            ctx.stopped = True
        raise _Unparsed(str(e) or type(e).__name__) from None


def _count(value, label: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1 << 24:
        raise _Unparsed("record count is not a small integer")
    return value


def _storage_element_size(args) -> int:
    storage_type = args[2] if isinstance(args, tuple) and len(args) == 3 else None
    if isinstance(storage_type, ImportedGlobal) and storage_type.name in _STORAGE_ELEMENT_SIZE:
        return _STORAGE_ELEMENT_SIZE[storage_type.name]
    raise _Unparsed("storage type cannot be known")


# --------------------------------------------------------------------------- 7z


def _import_py7zr():
    try:
        import py7zr
    except ImportError:
        return None
    return py7zr


def scan_7z(scanner, f, size: int, member: str | None, depth: int) -> str:
    ctx = scanner.ctx
    py7zr = _import_py7zr()
    if py7zr is None:
        ctx.problem(
            "7z archive not scanned: install the optional py7zr (pip install 'hfcheck[archives]') to scan what it holds", None, member
        )
        return "7z"
    cap = ctx.limits.max_stream_bytes
    prefix = member + "/" if member else ""
    try:
        f.seek(0)
        with py7zr.SevenZipFile(f, "r") as archive:
            infos = [i for i in archive.list() if not i.is_directory]
            if len(infos) > ctx.limits.max_members or sum(i.uncompressed for i in infos) > cap:
                ctx.problem("7z archive holds more than %d members or %d bytes: not scanned" % (ctx.limits.max_members, cap), None, member)
                return "7z"
            factory = py7zr.io.BytesIOFactory(cap)
            archive.extract(factory=factory)
    except Exception as e:  # noqa: BLE001 - py7zr raises many types on hostile input: the archive is unverified
        ctx.problem("7z archive could not be read: %s: %s" % (type(e).__name__, e), None, member)
        return "7z"
    for info in infos:
        product = factory.products.get(info.filename)
        if product is None:
            ctx.problem("7z member %r was not extracted" % info.filename, None, member)
            continue
        product.seek(0)
        data = product.read()
        if not head_rules_out_pickle(data[: 1 << 16], len(data)):
            scanner.scan_blob(io.BytesIO(data), len(data), prefix + info.filename, depth + 1)
    return "7z"
