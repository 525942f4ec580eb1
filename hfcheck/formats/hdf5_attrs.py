"""A small, bounded reader of one thing in an HDF5 file: a string attribute of the root
group (Keras writes its model config there as `model_config`). It follows the superblock
(versions 0-3) to the root object header (versions 1 and 2, with continuation blocks),
reads the compact attribute messages, and resolves variable-length strings through the
global heap. Anything else (attributes in dense storage, other datatypes) is reported as
unsupported, never guessed. Layout: the HDF5 File Format Specification, version 3.0.

Why not h5py: libhdf5 loops forever on some damaged files (a mutation of a real Keras
`.h5` did, in this repository's tests), and the static pass must never hang."""

from __future__ import annotations

SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_MESSAGES = 10_000
MAX_BLOCKS = 256
MAX_ATTRIBUTE_BYTES = 64 << 20
UNDEFINED = (1 << 64) - 1

MSG_DATATYPE, MSG_CONTINUATION, MSG_ATTRIBUTE, MSG_ATTRIBUTE_INFO = 0x03, 0x10, 0x0C, 0x15


class HDF5Error(ValueError):
    pass


class _View:
    def __init__(self, data):
        self.data = data

    def bytes(self, offset: int, size: int):
        if offset < 0 or size < 0 or offset + size > len(self.data):
            raise HDF5Error(f"reference to bytes {offset}..{offset + size} outside the file ({len(self.data)} bytes)")
        return self.data[offset : offset + size]

    def uint(self, offset: int, size: int) -> int:
        return int.from_bytes(self.bytes(offset, size), "little")


def read_root_attribute(data, name: str) -> bytes | None:
    """The value of the root group's string attribute `name` (None when there is none);
    raises HDF5Error for a file this reader cannot follow."""
    view = _View(data)
    base, offsets, lengths, root = _superblock(view)
    for message_type, body in _messages(view, root + base, offsets, lengths):
        if message_type == MSG_ATTRIBUTE:
            attribute = _attribute(view, body, offsets, lengths, name)
            if attribute is not None:
                return attribute
        elif message_type == MSG_ATTRIBUTE_INFO:
            heap = _View(body).uint(2 + (2 if body[1] & 1 else 0), offsets)
            if heap != UNDEFINED:
                raise HDF5Error("root attributes are in dense storage (fractal heap), which this reader does not follow")
    return None


def _superblock(view: _View) -> tuple[int, int, int, int]:
    """(base address, size of offsets, size of lengths, root object header address)."""
    for start in (0, 512, 1024, 2048, 4096, 8192):  # a user block shifts the superblock
        if start + 8 <= len(view.data) and bytes(view.bytes(start, 8)) == SIGNATURE:
            break
    else:
        raise HDF5Error("no HDF5 signature")
    version = view.uint(start + 8, 1)
    if version in (0, 1):
        offsets, lengths = view.uint(start + 13, 1), view.uint(start + 14, 1)
        _check_sizes(offsets, lengths)
        position = start + 24 + (4 if version == 1 else 0)
        base = view.uint(position, offsets)
        # base, free-space, end-of-file, driver addresses; then the root symbol table
        # entry: link name offset, object header address
        root = view.uint(position + 4 * offsets + offsets, offsets)
        return base, offsets, lengths, root
    if version in (2, 3):
        offsets, lengths = view.uint(start + 9, 1), view.uint(start + 10, 1)
        _check_sizes(offsets, lengths)
        base = view.uint(start + 12, offsets)
        root = view.uint(start + 12 + 3 * offsets, offsets)
        return base, offsets, lengths, root
    raise HDF5Error(f"unknown superblock version {version}")


def _check_sizes(offsets: int, lengths: int) -> None:
    if offsets not in (2, 4, 8) or lengths not in (2, 4, 8):
        raise HDF5Error(f"unsupported sizes of offsets/lengths ({offsets}, {lengths})")


def _messages(view: _View, address: int, offsets: int, lengths: int):
    """(type, body) of every message of the object header at `address`, following
    continuation messages (bounded, and never the same block twice)."""
    version2 = bytes(view.bytes(address, 4)) == b"OHDR"
    if version2:
        blocks, with_order = _v2_first_block(view, address)

        def parse(view, start, size):
            return _v2_messages(view, start, size, with_order)
    else:
        if view.uint(address, 1) != 1:
            raise HDF5Error(f"unknown object header version {view.uint(address, 1)} at byte {address}")
        size = view.uint(address + 8, 4)
        blocks, parse = [(address + 16, size)], _v1_messages
    seen, count = set(), 0
    while blocks:
        start, size = blocks.pop(0)
        if (start, size) in seen or len(seen) >= MAX_BLOCKS:
            raise HDF5Error("object header continuation blocks loop or exceed the bound")
        seen.add((start, size))
        for message_type, body in parse(view, start, size):
            count += 1
            if count > MAX_MESSAGES:
                raise HDF5Error(f"more than {MAX_MESSAGES} object header messages")
            if message_type == MSG_CONTINUATION:
                block = _View(body)
                target, length = block.uint(0, offsets), block.uint(offsets, lengths)
                if version2:  # "OCHK" signature, messages, checksum
                    if bytes(view.bytes(target, 4)) != b"OCHK":
                        raise HDF5Error("continuation block without its OCHK signature")
                    blocks.append((target + 4, length - 8))
                else:
                    blocks.append((target, length))
            else:
                yield message_type, body


def _v1_messages(view: _View, start: int, size: int):
    position, end = start, start + size
    view.bytes(start, size)
    while position + 8 <= end:
        message_type, length = view.uint(position, 2), view.uint(position + 2, 2)
        body = view.bytes(position + 8, length)
        if position + 8 + length > end:
            raise HDF5Error("object header message runs past its block")
        yield message_type, body
        position += 8 + ((length + 7) & ~7)


def _v2_first_block(view: _View, address: int) -> tuple[list[tuple[int, int]], bool]:
    """The first message block of a version 2 header, and whether its messages carry a
    creation order (flag bit 2)."""
    if view.uint(address + 4, 1) != 2:
        raise HDF5Error("unknown version of an OHDR object header")
    flags = view.uint(address + 5, 1)
    position = address + 6 + (16 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
    width = 1 << (flags & 3)
    size = view.uint(position, width)
    return [(position + width, size)], bool(flags & 0x04)


def _v2_messages(view: _View, start: int, size: int, with_order: bool):
    position, end = start, start + size
    view.bytes(start, size)
    while position + 4 <= end:
        message_type, length = view.uint(position, 1), view.uint(position + 1, 2)
        header = 4 + (2 if with_order else 0)
        if position + header + length > end:
            if message_type == 0:  # gap at the end of a block
                return
            raise HDF5Error("object header message runs past its block")
        yield message_type, view.bytes(position + header, length)
        position += header + length


def _attribute(view: _View, body, offsets: int, lengths: int, wanted: str) -> bytes | None:
    message = _View(body)
    version = message.uint(0, 1)
    if version not in (1, 2, 3):
        raise HDF5Error(f"unknown attribute message version {version}")
    name_size, type_size, space_size = message.uint(2, 2), message.uint(4, 2), message.uint(6, 2)
    position = 8 + (1 if version == 3 else 0)

    def padded(size: int) -> int:
        return (size + 7) & ~7 if version == 1 else size

    name = bytes(message.bytes(position, name_size)).rstrip(b"\0").decode("utf-8", "replace")
    position += padded(name_size)
    if name != wanted:
        return None
    datatype = message.bytes(position, type_size)
    position += padded(type_size) + padded(space_size)
    value = body[position:]
    kind, size = datatype[0] & 0x0F, _View(datatype).uint(4, 4)
    if kind == 3:  # fixed-length string
        return bytes(value[:size]).rstrip(b"\0")
    if kind == 9 and datatype[1] & 0x0F == 1:  # variable-length string: length, heap id
        element = _View(value)
        length, collection, index = element.uint(0, 4), element.uint(4, offsets), element.uint(4 + offsets, 4)
        if length > MAX_ATTRIBUTE_BYTES:
            raise HDF5Error(f"attribute {wanted!r} declares {length} bytes")
        return bytes(_global_heap_object(view, collection, index, lengths)[:length])
    raise HDF5Error(f"attribute {wanted!r} has datatype class {kind}, not a string")


def _global_heap_object(view: _View, collection: int, index: int, lengths: int):
    if bytes(view.bytes(collection, 4)) != b"GCOL":
        raise HDF5Error("variable-length string points to no global heap collection")
    size = view.uint(collection + 8, lengths)
    position, end = collection + 8 + lengths, collection + size
    view.bytes(collection, size)
    for _ in range(MAX_MESSAGES):
        if position + 8 + lengths > end:
            break
        object_index, object_size = view.uint(position, 2), view.uint(position + 8, lengths)
        if object_index == 0:  # free space: the rest of the collection
            break
        data_start = position + 8 + lengths
        if object_index == index:
            return view.bytes(data_start, object_size)
        position = data_start + ((object_size + 7) & ~7)
    raise HDF5Error(f"global heap object {index} not found")
