"""Sparse `torch.save` checkpoints: the zip format torch writes (data.pkl, .format_version,
.storage_alignment, byteorder, data/<key> records aligned to 64 bytes, version,
.data/serialization_id), with a real pickle stream for the state dict and each tensor's
storage record written as a hole: apparent size of the real checkpoint, almost nothing
on disk. CRC-32s are the true ones of the zero bytes torch would read, so torch.load
accepts the file (the tensors are zeros). Only the zip format can be sparse this way: the
legacy format checksums nothing but writes storages inside one pickle-adjacent stream, and
compressed formats cannot hold holes.

    from sparse_torch_zip import write_sparse_checkpoint
    write_sparse_checkpoint(path, [(name, shape), ...], "BF16")
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from pathlib import Path

_STORAGE = {"BF16": ("BFloat16Storage", 2), "F16": ("HalfStorage", 2), "F32": ("FloatStorage", 4)}
_ALIGN = 64


# -- CRC-32 of n zero bytes without reading them (zlib's crc32_combine, GF(2) matrices) --


def _gf2_times(matrix: list[int], vector: int) -> int:
    out, i = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[i]
        vector >>= 1
        i += 1
    return out


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


@functools.lru_cache(maxsize=None)
def crc32_of_zeros(n: int) -> int:
    """zlib.crc32(bytes(n)) in O(log n)."""
    if n == 0:
        return 0
    # operator for one zero bit, then squared to 2, 4, 8 bits ...
    odd = [0xEDB88320] + [1 << i for i in range(31)]
    even = _gf2_square(odd)  # 2 zero bits
    odd = _gf2_square(even)  # 4 zero bits
    crc = 0xFFFFFFFF  # pre-conditioned initial value
    while True:
        even = _gf2_square(odd)  # first pass: 1 zero byte
        if n & 1:
            crc = _gf2_times(even, crc)
        n >>= 1
        if not n:
            break
        odd = _gf2_square(even)
        if n & 1:
            crc = _gf2_times(odd, crc)
        n >>= 1
        if not n:
            break
    return crc ^ 0xFFFFFFFF


# -- the pickle stream torch writes for a state dict --------------------------------------


class _Tensor:
    def __init__(self, name: str, key: str, storage: str, numel: int, shape: list[int]):
        self.name, self.key, self.storage, self.numel, self.shape = name, key, storage, numel, shape


def _data_pkl(tensors: list[_Tensor]) -> bytes:
    """The stream torch.save writes: {name: _rebuild_tensor_v2(storage, 0, shape, stride,
    False, OrderedDict())} with storages as persistent ids."""
    out = io.BytesIO()
    write = out.write
    memo: dict[str, int] = {}

    def put_global(module: str, name: str) -> None:
        key = f"{module} {name}"
        if key in memo:
            write(b"h" + bytes([memo[key]]) if memo[key] < 256 else b"j" + struct.pack("<I", memo[key]))
            return
        write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")
        memo[key] = len(memo)
        write(b"r" + struct.pack("<I", memo[key]))

    def put_str(text: str) -> None:
        raw = text.encode()
        write(b"X" + struct.pack("<I", len(raw)) + raw)

    def put_int(value: int) -> None:
        write(b"J" + struct.pack("<i", value) if value < 2**31 else b"\x8a\x08" + struct.pack("<q", value))

    def put_tuple(values: list[int]) -> None:
        write(b"(")
        for v in values:
            put_int(v)
        write(b"t")

    write(b"\x80\x02}(")
    for t in tensors:
        put_str(t.name)
        put_global("torch._utils", "_rebuild_tensor_v2")
        write(b"((")
        put_str("storage")
        put_global("torch", t.storage)
        put_str(t.key)
        put_str("cpu")
        put_int(t.numel)
        write(b"tQ")  # the storage tuple, as a persistent id
        put_int(0)  # storage offset
        put_tuple(t.shape)
        strides, step = [], 1
        for dim in reversed(t.shape):
            strides.insert(0, step)
            step *= dim
        put_tuple(strides)
        write(b"\x89")  # requires_grad False
        put_global("collections", "OrderedDict")
        write(b")Rt")  # OrderedDict(), then the args tuple
        write(b"R")  # _rebuild_tensor_v2(*args)
    write(b"u.")
    return out.getvalue()


# -- the zip container ---------------------------------------------------------------------


def write_sparse_checkpoint(path: Path, tensors: list[tuple[str, list[int]]], dtype: str) -> int:
    """Write a sparse torch.save zip of these tensors; returns the storage bytes."""
    storage, size = _STORAGE[dtype]
    items = []
    for i, (name, shape) in enumerate(tensors):
        numel = 1
        for dim in shape:
            numel *= dim
        items.append(_Tensor(name, str(i), storage, numel, list(shape)))
    prefix = Path(path).stem
    records: list[tuple[str, bytes | int]] = [
        ("data.pkl", _data_pkl(items)),
        (".format_version", b"1"),
        (".storage_alignment", b"64"),
        ("byteorder", b"little"),
    ]
    records += [(f"data/{t.key}", t.numel * size) for t in items]  # an int: a hole of that many bytes
    records += [("version", b"3\n"), (".data/serialization_id", b"0" * 40)]
    central = []
    total = 0
    with open(path, "wb") as f:
        for name, content in records:
            arcname = f"{prefix}/{name}".encode()
            length = content if isinstance(content, int) else len(content)
            crc = crc32_of_zeros(content) if isinstance(content, int) else zlib.crc32(content)
            offset = f.tell()
            zip64 = struct.pack("<HHQQ", 1, 16, length, length)
            base = offset + 30 + len(arcname) + len(zip64)
            pad = (-(base + 4)) % _ALIGN
            extra = zip64 + struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # 'FB' padding, as torch writes
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(arcname), len(extra)))
            f.write(arcname + extra)
            if isinstance(content, int):
                f.seek(content, io.SEEK_CUR)  # the hole
                total += content
            else:
                f.write(content)
            central.append((arcname, crc, length, offset))
        f.truncate(f.tell())  # a hole at the end still needs the file to be that long
        directory = f.tell()
        for arcname, crc, length, offset in central:
            extra = struct.pack("<HHQQQ", 1, 24, length, length, offset)
            f.write(
                struct.pack(
                    "<IHHHHHHIIIHHHHHII",
                    0x02014B50,
                    45,
                    45,
                    0,
                    0,
                    0,
                    0x21,
                    crc,
                    0xFFFFFFFF,
                    0xFFFFFFFF,
                    len(arcname),
                    len(extra),
                    0,
                    0,
                    0,
                    0,
                    0xFFFFFFFF,
                )
            )
            f.write(arcname + extra)
        end = f.tell()
        f.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(central), len(central), end - directory, directory))
        f.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))
    return total
