"""safetensors headers, read and checked without touching tensor data.

huggingface_hub.parse_local_safetensors_file_metadata parses the same header, but its
import alone costs ~0.37 s (more than our whole budget for a 140 GB repo), it decodes the
header with errors="ignore" (the Rust loader rejects such a file) and it checks neither
dtypes nor offsets. So the header is read here: 8-byte little-endian length, then JSON."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field

# The Rust crate's own bound on the header length.
MAX_HEADER_BYTES = 100_000_000

# Bits per element, from the safetensors crate's Dtype enum.
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}  # fmt: skip


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclass
class SafetensorsHeader:
    file_size: int
    header_length: int = 0
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    metadata: dict[str, str] | None = None
    # Fatal: the header could not be read at all; the tensors are unknown.
    error: str | None = None
    # Integrity problems in a readable header (each makes the real loader fail).
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.problems

    @property
    def data_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors.values())


def read_header(stream, file_size: int) -> SafetensorsHeader:
    """Read and check one header from an open binary stream positioned at 0."""
    header = SafetensorsHeader(file_size=file_size)
    prefix = stream.read(8)
    if len(prefix) < 8:
        header.error = f"file is {file_size} bytes, too short for a safetensors header"
        return header
    (length,) = struct.unpack("<Q", prefix)
    header.header_length = length
    if length == 0:
        header.error = "header length is 0"
        return header
    if length > MAX_HEADER_BYTES:
        header.error = f"header length {length} exceeds the format's limit of {MAX_HEADER_BYTES} bytes"
        return header
    if 8 + length > file_size:
        header.error = f"header length {length} runs past the end of the {file_size}-byte file (truncated download?)"
        return header
    raw = stream.read(length)
    if len(raw) < length:
        header.error = "file ended inside the header"
        return header
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        header.error = "header is not valid UTF-8"
        return header
    except json.JSONDecodeError as error:
        header.error = f"header is not valid JSON ({error.msg} at byte {error.pos})"
        return header
    except RecursionError:
        header.error = "header JSON is nested too deeply"
        return header
    if not isinstance(parsed, dict):
        header.error = "header is not a JSON object"
        return header
    _check_entries(header, parsed, file_size - 8 - length)
    return header


def _check_entries(header: SafetensorsHeader, parsed: dict, data_size: int) -> None:
    problems = header.problems
    metadata = parsed.pop("__metadata__", None)
    if metadata is not None:
        if isinstance(metadata, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            header.metadata = metadata
        else:
            problems.append("__metadata__ must map strings to strings")
    spans = []
    for name, entry in parsed.items():
        info = _tensor_info(name, entry, problems)
        if info is not None:
            header.tensors[name] = info
            spans.append((info.begin, info.end, name))
    spans.sort()
    expected = 0
    for begin, end, name in spans:
        if begin != expected:
            kind = "overlaps the previous tensor" if begin < expected else f"leaves a gap of {begin - expected} bytes"
            problems.append(f"tensor {name!r} {kind} (offsets are not contiguous)")
            if len(problems) > 50:
                break
        expected = max(expected, end)
    if expected != data_size:
        if expected > data_size:
            problems.append(f"tensors need {expected} data bytes but the file holds {data_size} (truncated download?)")
        else:
            problems.append(f"file has {data_size - expected} bytes after the last tensor")


def _tensor_info(name: str, entry, problems: list[str]) -> TensorInfo | None:
    if not isinstance(entry, dict):
        problems.append(f"tensor {name!r}: entry is not an object")
        return None
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in DTYPE_BITS:
        problems.append(f"tensor {name!r}: unknown dtype {dtype!r}")
        return None
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        problems.append(f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        return None
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets) or not 0 <= offsets[0] <= offsets[1]:
        problems.append(f"tensor {name!r}: data_offsets {offsets!r} are not [begin, end] with 0 <= begin <= end")
        return None
    info = TensorInfo(name, dtype, tuple(shape), offsets[0], offsets[1])
    bits = info.numel * DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != info.nbytes:
        problems.append(f"tensor {name!r}: {dtype} {list(shape)} needs {bits / 8:g} bytes but its offsets span {info.nbytes}")
    return info
