"""A bounded reader of the protobuf wire format (varints, fixed, length-delimited fields),
enough to walk TensorFlow's SavedModel and ONNX's ModelProto without the protobuf
library: every length is checked against the bytes that are there, so a truncated or
hostile file raises ProtoError instead of reading past its end or allocating what it
declares."""

from __future__ import annotations

from typing import Iterator

VARINT, FIXED64, LENGTH, START_GROUP, END_GROUP, FIXED32 = 0, 1, 2, 3, 4, 5


class ProtoError(ValueError):
    pass


def read_varint(data: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtoError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtoError("varint longer than 10 bytes")


def fields(data) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value) of one message: value is an int for varint and
    fixed fields, a memoryview for length-delimited ones (sub-messages, strings, bytes)."""
    data = memoryview(data)
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtoError(f"field number 0 at byte {pos}")
        if wire == VARINT:
            value, pos = read_varint(data, pos)
        elif wire == FIXED64:
            if pos + 8 > end:
                raise ProtoError("truncated fixed64 field")
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == FIXED32:
            if pos + 4 > end:
                raise ProtoError("truncated fixed32 field")
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        elif wire == LENGTH:
            length, pos = read_varint(data, pos)
            if length > end - pos:
                raise ProtoError(f"field {number} declares {length} bytes, {end - pos} remain")
            value, pos = data[pos : pos + length], pos + length
        else:
            raise ProtoError(f"unsupported wire type {wire} (field {number})")
        yield number, wire, value


def text(value) -> str:
    return bytes(value).decode("utf-8", "replace")
