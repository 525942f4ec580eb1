"""A tiny zip writer for tests that need archives no zip library writes on purpose: two
central directories, offsets relative to a chosen base, a chosen zip64 locator. Stored
members only, with correct CRCs, so that every reader accepts the parts it reads."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass


@dataclass
class Member:
    name: str
    data: bytes
    offset: int = 0  # absolute offset of its local header, set by write_locals


def write_locals(members: list[Member], base: int) -> bytes:
    """Local headers and data of `members`, as if they started at absolute offset `base`."""
    out = bytearray()
    for member in members:
        member.offset = base + len(out)
        name = member.name.encode()
        crc = zlib.crc32(member.data)
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(member.data), len(member.data), len(name), 0)
        out += name + member.data
    return bytes(out)


def central_directory(members: list[Member], shift: int = 0) -> bytes:
    """Central directory entries; each local header offset is written minus `shift`."""
    out = bytearray()
    for member in members:
        name = member.name.encode()
        crc = zlib.crc32(member.data)
        out += struct.pack(
            "<4sHHHHHHIIIHHHHHII",
            b"PK\x01\x02",
            20,
            20,
            0,
            0,
            0,
            0,
            crc,
            len(member.data),
            len(member.data),
            len(name),
            0,
            0,
            0,
            0,
            0,
            member.offset - shift,
        )
        out += name
    return bytes(out)


def end_record(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, 0)


def zip64_end_record(count: int, cd_size: int, cd_offset: int) -> bytes:
    return struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)


def zip64_locator(record_offset: int) -> bytes:
    return struct.pack("<4sIQI", b"PK\x06\x07", 0, record_offset, 1)


def simple_zip(members: list[Member], base: int = 0) -> bytes:
    """An ordinary archive whose offsets count from absolute offset `base`."""
    body = write_locals(members, base)
    cd = central_directory(members)
    return body + cd + end_record(len(members), len(cd), base + len(body))
