"""The pickle opcode set, derived from the stdlib's own description (`pickletools.opcodes`).

Each opcode is described by how its argument is laid out in the stream. The layout is
derived from pickletools' argument descriptors, so the set of opcodes and their argument
shapes follow the running Python's pickle module instead of a hand-copied table.
"""

from __future__ import annotations

import enum
import pickletools
from typing import NamedTuple

HIGHEST_PROTOCOL = 5


class ArgLayout(enum.Enum):
    NONE = "none"  # no argument
    FIXED_INT = "fixed-int"  # a little-endian integer of `size` bytes
    LENGTH = "length"  # a little-endian length of `size` bytes; the handler reads the payload
    LINE = "line"  # text up to a newline
    LINE_PAIR = "line-pair"  # two lines (module and name of GLOBAL/INST)
    FLOAT8 = "float8"  # a big-endian IEEE double


class Opcode(NamedTuple):
    name: str
    code: int
    layout: ArgLayout
    size: int = 0  # bytes of a FIXED_INT or LENGTH argument
    signed: bool = False  # FIXED_INT / LENGTH read as a signed integer


# pickletools argument descriptor name -> (layout, size, signed), as the unpicklers read them
# (pickle.py / _pickle.c: BINSTRING and LONG4 lengths are signed, the others unsigned).
_LAYOUTS: dict[str, tuple[ArgLayout, int, bool]] = {
    "uint1": (ArgLayout.FIXED_INT, 1, False),
    "uint2": (ArgLayout.FIXED_INT, 2, False),
    "int4": (ArgLayout.FIXED_INT, 4, True),
    "uint4": (ArgLayout.FIXED_INT, 4, False),
    "uint8": (ArgLayout.FIXED_INT, 8, False),
    "float8": (ArgLayout.FLOAT8, 8, False),
    "string1": (ArgLayout.LENGTH, 1, False),
    "bytes1": (ArgLayout.LENGTH, 1, False),
    "unicodestring1": (ArgLayout.LENGTH, 1, False),
    "long1": (ArgLayout.LENGTH, 1, False),
    "string4": (ArgLayout.LENGTH, 4, True),
    "long4": (ArgLayout.LENGTH, 4, True),
    "bytes4": (ArgLayout.LENGTH, 4, False),
    "unicodestring4": (ArgLayout.LENGTH, 4, False),
    "bytes8": (ArgLayout.LENGTH, 8, False),
    "bytearray8": (ArgLayout.LENGTH, 8, False),
    "unicodestring8": (ArgLayout.LENGTH, 8, False),
    "stringnl": (ArgLayout.LINE, 0, False),
    "stringnl_noescape": (ArgLayout.LINE, 0, False),
    "decimalnl_short": (ArgLayout.LINE, 0, False),
    "decimalnl_long": (ArgLayout.LINE, 0, False),
    "floatnl": (ArgLayout.LINE, 0, False),
    "unicodestringnl": (ArgLayout.LINE, 0, False),
    "stringnl_noescape_pair": (ArgLayout.LINE_PAIR, 0, False),
}


def _derive() -> dict[int, Opcode]:
    table: dict[int, Opcode] = {}
    for op in pickletools.opcodes:
        code = op.code.encode("latin-1")[0]
        if op.arg is None:
            table[code] = Opcode(op.name, code, ArgLayout.NONE)
            continue
        layout, size, signed = _LAYOUTS[op.arg.name]  # a KeyError here means a new pickle argument kind
        table[code] = Opcode(op.name, code, layout, size, signed)
    return table


OPCODES: dict[int, Opcode] = _derive()
BY_NAME: dict[str, Opcode] = {op.name: op for op in OPCODES.values()}
