"""GGUF files (llama.cpp): the header, the metadata key/values and the tensor infos, read
from a memory map with every count and length checked against the bytes that are there;
tensor data is never read. Large arrays (token lists, scores, merges) are walked to be
skipped and kept only as their length, except the few values rules need.
Layout: github.com/ggml-org/ggml/blob/master/docs/gguf.md."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAX_KEYS = 1_000_000
MAX_TENSORS = 1_000_000
MAX_STRING = 64 << 20
MAX_DIMS = 4  # GGML_MAX_DIMS
KEEP_ARRAY = 64  # arrays up to this length keep their values (e.g. rope sections)
DEFAULT_ALIGNMENT = 32

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
# ggml type -> (block size in elements, bytes per block); ggml/include/ggml.h, checked
# against the gguf package's GGML_QUANT_SIZES in the tests.
TYPE_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 40),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}  # fmt: skip


class GGUFError(ValueError):
    pass


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]  # ggml order: dims[0] is the row length (e.g. n_embd)
    ggml_type: int
    offset: int
    nbytes: int | None  # None for an unknown ggml type


@dataclass
class GGUFFile:
    version: int = 0
    metadata: dict[str, object] = field(default_factory=dict)
    array_lengths: dict[str, int] = field(default_factory=dict)
    tensors: list[TensorInfo] = field(default_factory=list)
    data_start: int = 0
    file_size: int = 0
    error: str | None = None


class _Reader:
    def __init__(self, data, version: int = 3):
        self.data, self.pos, self.version = data, 0, version

    def take(self, size: int):
        if size > len(self.data) - self.pos:
            raise GGUFError(f"truncated: {size} bytes needed at byte {self.pos}, {len(self.data) - self.pos} remain")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self) -> int:  # v1 counts and lengths are 32-bit
        return self.unpack("<I" if self.version == 1 else "<Q")

    def string(self) -> str:
        length = self.count()
        if length > MAX_STRING:
            raise GGUFError(f"string of {length} bytes declared at byte {self.pos} (limit {MAX_STRING})")
        return bytes(self.take(length)).decode("utf-8", "replace")

    def skip_strings(self, count: int) -> None:
        """Step over `count` length-prefixed strings (a 128k-token vocabulary) in one
        tight loop: this is most of the time a GGUF header takes."""
        data, pos, end = self.data, self.pos, len(self.data)
        prefix = 4 if self.version == 1 else 8
        length_at = struct.Struct("<I" if self.version == 1 else "<Q").unpack_from
        for _ in range(count):
            if pos + prefix > end:
                raise GGUFError(f"truncated: string array runs past the end of the file at byte {pos}")
            pos += prefix + length_at(data, pos)[0]
            if pos > end:
                raise GGUFError(f"truncated: string array runs past the end of the file at byte {pos}")
        self.pos = pos

    def value(self, kind: int, key: str, out: GGUFFile):
        if kind in SCALARS:
            return self.unpack(SCALARS[kind])
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            item_kind, length = self.unpack("<I"), self.count()
            out.array_lengths[key] = length
            if item_kind in SCALARS:
                size = struct.calcsize(SCALARS[item_kind])
                if length > (len(self.data) - self.pos) // size:
                    raise GGUFError(f"array {key!r} declares {length} items, more than the file holds")
                if length <= KEEP_ARRAY:
                    return [self.unpack(SCALARS[item_kind]) for _ in range(length)]
                self.take(length * size)
                return None
            if item_kind == STRING:
                if length > len(self.data) - self.pos:
                    raise GGUFError(f"array {key!r} declares {length} strings, more than the file holds")
                if length <= KEEP_ARRAY:
                    return [self.string() for _ in range(length)]
                self.skip_strings(length)
                return None
            raise GGUFError(f"array {key!r} of unsupported item type {item_kind}")
        raise GGUFError(f"metadata {key!r} has unknown value type {kind}")


def read_gguf(data, file_size: int | None = None) -> GGUFFile:
    """Parse `data` (bytes or a memoryview of a memory map of the whole file)."""
    out = GGUFFile(file_size=len(data) if file_size is None else file_size)
    try:
        _parse(_Reader(data), out)
    except GGUFError as error:
        out.error = str(error)
    except struct.error as error:
        out.error = f"malformed: {error}"
    return out


def _parse(reader: _Reader, out: GGUFFile) -> None:
    if bytes(reader.take(4)) != b"GGUF":
        raise GGUFError("not a GGUF file (no GGUF magic)")
    out.version = reader.version = reader.unpack("<I")
    if out.version not in (1, 2, 3):
        raise GGUFError(f"unknown GGUF version {out.version}")
    tensor_count, key_count = reader.count(), reader.count()
    if key_count > MAX_KEYS or tensor_count > MAX_TENSORS:
        raise GGUFError(f"declares {key_count} metadata keys and {tensor_count} tensors (limits {MAX_KEYS}, {MAX_TENSORS})")
    for _ in range(key_count):
        key = reader.string()
        kind = reader.unpack("<I")
        out.metadata[key] = reader.value(kind, key, out)
    for _ in range(tensor_count):
        out.tensors.append(_tensor_info(reader))
    alignment = out.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GGUFError(f"general.alignment {alignment!r} is not a power of two")
    out.data_start = -(-reader.pos // alignment) * alignment
    _check_extent(out, alignment)


def _tensor_info(reader: _Reader) -> TensorInfo:
    name = reader.string()
    n_dims = reader.unpack("<I")
    if n_dims > MAX_DIMS:
        raise GGUFError(f"tensor {name!r} has {n_dims} dimensions (ggml allows {MAX_DIMS})")
    dims = tuple(reader.count() for _ in range(n_dims))
    ggml_type, offset = reader.unpack("<I"), reader.unpack("<Q")
    nbytes = None
    if ggml_type in TYPE_SIZES:
        block, size = TYPE_SIZES[ggml_type]
        elements = 1
        for dim in dims:
            elements *= dim
        if dims and dims[0] % block:
            raise GGUFError(f"tensor {name!r}: row of {dims[0]} elements is not a multiple of its type's block of {block}")
        nbytes = elements // block * size
    return TensorInfo(name, dims, ggml_type, offset, nbytes)


def _check_extent(out: GGUFFile, alignment: int) -> None:
    for tensor in out.tensors:
        if tensor.offset % alignment:
            raise GGUFError(f"tensor {tensor.name!r} at offset {tensor.offset} is not aligned to {alignment}")
        if tensor.nbytes is not None and out.data_start + tensor.offset + tensor.nbytes > out.file_size:
            raise GGUFError(
                f"truncated: tensor {tensor.name!r} ends at byte {out.data_start + tensor.offset + tensor.nbytes}, the file has {out.file_size}"
            )
