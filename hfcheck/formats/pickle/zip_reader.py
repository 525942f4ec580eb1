"""Zip central directories as each loader's reader sees them.

torch reads checkpoints with miniz (caffe2/serialize/inline_container.cc, PyTorchStreamReader):
the end record is the last signature in the file's final ~64 KiB, the zip64 end record is
read where the zip64 locator points, the entry count comes from the end record, and offsets
are taken as they are. Python's zipfile (numpy's .npz, Keras, most tools) instead reads the
zip64 record just before the locator, counts entries by the directory's size, and shifts
every offset by the bytes it believes were prepended to the archive. An archive can thus
show one set of members to torch and another to a scanner built on zipfile: both views are
read here, so that the scan follows each loader and reports any disagreement.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_Z64_LOCATOR = b"PK\x06\x07"
_Z64_LOCATOR_SIZE = 20
_Z64_EOCD = b"PK\x06\x06"
_Z64_EOCD_SIZE = 56
_CENTRAL = b"PK\x01\x02"
_CENTRAL_SIZE = 46
_U32_MAX = 0xFFFFFFFF
_MASKED_LOCAL_DIRECTORY = 0x2000  # miniz refuses archives with this flag


class ZipReadError(Exception):
    pass


@dataclass(frozen=True)
class ZipEntry:
    name: str  # decoded as the reader decodes it
    raw_name: bytes
    header_offset: int  # absolute offset of the local header
    compress_size: int
    file_size: int
    method: int
    flags: int
    crc: int

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    def where(self) -> tuple:
        return (self.header_offset, self.compress_size, self.file_size, self.method, self.crc)


def _read_at(f, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def _find_end_record(f, size: int) -> int:
    """The last end-of-central-directory signature with a whole record after it, in the
    range miniz searches (the record plus a maximal comment, and one read buffer)."""
    if _read_at(f, size - _EOCD_SIZE, 4) == _EOCD:
        return size - _EOCD_SIZE  # no archive comment: the last possible place, so miniz's pick
    window = min(size, 0xFFFF + _EOCD_SIZE + 4096)
    tail = _read_at(f, size - window, window)
    at = tail.rfind(_EOCD, 0, len(tail) - _EOCD_SIZE + 4)
    if at < 0:
        raise ZipReadError("failed finding central directory")
    return size - window + at


def miniz_directory(f, size: int, max_entries: int) -> list[ZipEntry]:
    """The members torch's reader (miniz) finds, by its rules; ZipReadError where miniz
    refuses the archive (torch.load then fails before unpickling anything)."""
    if size < _EOCD_SIZE:
        raise ZipReadError("not a zip archive")
    eocd_at = _find_end_record(f, size)
    eocd = _read_at(f, eocd_at, _EOCD_SIZE)
    _, this_disk, cd_disk, on_disk, total, cd_size, cd_offset, _ = struct.unpack("<4sHHHHIIH", eocd)
    if eocd_at >= _Z64_LOCATOR_SIZE + _Z64_EOCD_SIZE:
        locator = _read_at(f, eocd_at - _Z64_LOCATOR_SIZE, _Z64_LOCATOR_SIZE)
        if locator[:4] == _Z64_LOCATOR:
            _, _, record_at, disks = struct.unpack("<4sIQI", locator)
            if record_at > size - _Z64_EOCD_SIZE:
                raise ZipReadError("zip64 locator points past the end of the file")
            record = _read_at(f, record_at, _Z64_EOCD_SIZE)
            if record[:4] == _Z64_EOCD:
                _, record_size, _, _, this_disk, cd_disk, on_disk, total, cd_size, cd_offset = struct.unpack("<4sQHHIIQQQQ", record)
                if record_size < _Z64_EOCD_SIZE - 12 or disks != 1:
                    raise ZipReadError("invalid zip64 end record")
                if total > _U32_MAX or cd_size > _U32_MAX:
                    raise ZipReadError("zip64 directory beyond miniz's limits")
    if total != on_disk or ((this_disk | cd_disk) and (this_disk != 1 or cd_disk != 1)):
        raise ZipReadError("multi-disk archive")
    if cd_size < total * _CENTRAL_SIZE or cd_offset + cd_size > size:
        raise ZipReadError("central directory out of bounds")
    if total > max_entries:
        raise ZipReadError("more than %d members" % max_entries)
    directory = _read_at(f, cd_offset, cd_size)
    return [entry for entry in _central_entries(directory, total, this_disk, size)]


def _central_entries(directory: bytes, total: int, this_disk: int, size: int):
    pos = 0
    for _ in range(total):
        if len(directory) - pos < _CENTRAL_SIZE or directory[pos : pos + 4] != _CENTRAL:
            raise ZipReadError("invalid central directory header")
        (flags, method, crc, csize, usize, nlen, xlen, clen, disk) = struct.unpack_from("<8xHH4xIIIHHHH", directory, pos)
        (local_at,) = struct.unpack_from("<I", directory, pos + 42)
        end = pos + _CENTRAL_SIZE + nlen + xlen + clen
        if end > len(directory):
            raise ZipReadError("central directory entry runs past the directory")
        raw_name = directory[pos + _CENTRAL_SIZE : pos + _CENTRAL_SIZE + nlen]
        extra = directory[pos + _CENTRAL_SIZE + nlen : pos + _CENTRAL_SIZE + nlen + xlen]
        usize, csize, local_at = _zip64_values(extra, usize, csize, local_at)
        if csize != _U32_MAX and usize != _U32_MAX and ((method == 0 and usize != csize) or (usize and not csize)):
            raise ZipReadError("invalid sizes in the central directory")
        if disk == 0xFFFF or (disk != this_disk and disk != 1):
            raise ZipReadError("multi-disk archive")
        if local_at + 30 + csize > size:
            raise ZipReadError("member data past the end of the archive")
        if flags & _MASKED_LOCAL_DIRECTORY:
            raise ZipReadError("masked local directory (unsupported encryption)")
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        yield ZipEntry(name, raw_name, local_at, csize, usize, method, flags, crc)
        pos = end


def _zip64_values(extra: bytes, usize: int, csize: int, local_at: int) -> tuple[int, int, int]:
    """Sizes and offset from the zip64 extended field, for those set to 0xFFFFFFFF."""
    if _U32_MAX not in (usize, csize, local_at):
        return usize, csize, local_at
    pos = 0
    while pos + 4 <= len(extra):
        field_id, field_size = struct.unpack_from("<HH", extra, pos)
        if field_id == 1:
            values = extra[pos + 4 : pos + 4 + field_size]
            taken = 0
            out = []
            for value in (usize, csize, local_at):
                if value == _U32_MAX:
                    if taken + 8 > len(values):
                        raise ZipReadError("zip64 extended field too short")
                    value = int.from_bytes(values[taken : taken + 8], "little")
                    taken += 8
                out.append(value)
            return out[0], out[1], out[2]
        pos += 4 + field_size
    return usize, csize, local_at


def zipfile_directory(f) -> list[ZipEntry]:
    """The members Python's zipfile finds (offsets already shifted as zipfile shifts them)."""
    f.seek(0)
    try:
        infos = zipfile.ZipFile(f).infolist()
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
        raise ZipReadError(str(e) or type(e).__name__) from None
    return [
        ZipEntry(
            i.filename,
            i.orig_filename.encode("utf-8" if i.flag_bits & 0x800 else "cp437", "replace"),
            i.header_offset,
            i.compress_size,
            i.file_size,
            i.compress_type,
            i.flag_bits,
            i.CRC,
        )
        for i in infos
    ]


def torch_archive_records(entries: list[ZipEntry]) -> tuple[str | None, dict[str, list[ZipEntry]]]:
    """torch's archive folder (the first member's name up to its first '/') and, for each
    record name, the members miniz's case-insensitive lookup could return for it."""
    if not entries or "/" not in entries[0].name:
        return None, {}
    prefix = entries[0].name.split("/", 1)[0] + "/"
    records: dict[str, list[ZipEntry]] = {}
    for entry in entries:
        if entry.name.lower().startswith(prefix.lower()):
            records.setdefault(entry.name[len(prefix) :].lower(), []).append(entry)
    return prefix[:-1], records
