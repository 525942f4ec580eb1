"""Text opcode arguments (INT, LONG, FLOAT, GET, PUT), parsed as the unpicklers parse them.

Two unpicklers read the same bytes: the C one (`_pickle`, used by pickle.load and
torch.load) and the pure-Python one (`pickle._Unpickler`, which joblib's NumpyUnpickler
subclasses). They accept different spellings: C's INT goes through `strtol(s, &end, 0)`
(so `010` is octal 8, trailing bytes after a NUL are ignored) and falls back to
`PyLong_FromString(s, NULL, 0)` (`0x..`, `0o..`, `0b..`, underscores, whitespace);
Python's is `int(line, 0)`. A scanner that rejects a spelling either accepts stops reading
where the loader goes on, so each parser here accepts the union: the C value where C
accepts, else the Python value, else ValueError.
"""

from __future__ import annotations

_C_SPACE = b" \t\n\v\f\r"
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


def _c_string(line: bytes) -> bytes:
    """The line as the C unpickler's NUL-terminated buffer holds it (newline included)."""
    return (line + b"\n").split(b"\0", 1)[0]


def _strtol_base0(text: bytes) -> tuple[int, int, bool]:
    """C strtol(text, &end, 0): (value, index of end, overflowed)."""
    i, n = 0, len(text)
    while i < n and text[i] in _C_SPACE:
        i += 1
    negative = False
    if i < n and text[i] in b"+-":
        negative = text[i] == ord("-")
        i += 1
    base = 10
    if text[i : i + 2] in (b"0x", b"0X") and i + 2 < n and chr(text[i + 2]) in "0123456789abcdefABCDEF":
        base, i = 16, i + 2
    elif text[i : i + 1] == b"0":
        base = 8
    digits_start = i
    value = 0
    while i < n:
        c = chr(text[i]).lower()
        d = "0123456789abcdef".find(c)
        if d < 0 or d >= base:
            break
        value = value * base + d
        i += 1
    if i == digits_start:
        return 0, 0, False  # no conversion: end points at the start
    value = -value if negative else value
    return value, i, not _LONG_MIN <= value <= _LONG_MAX


def parse_int_line(line: bytes) -> int | bool:
    """INT: `line` is the argument without its newline."""
    if line:  # C rejects an empty line (len < 2); so does Python's int(b"\n", 0)
        value, end, overflow = _strtol_base0(line + b"\n")
        # C accepts when strtol stopped at the newline or at a NUL (also with no digits at all)
        if not overflow and ((end >= len(line) and end > 0) or (end < len(line) and line[end] == 0)):
            if len(line) == 2 and value in (0, 1):
                return bool(value)
            return value
        try:
            return int(_c_string(line), 0)
        except ValueError:
            pass
    if line == b"00":
        return False
    if line == b"01":
        return True
    return int(line + b"\n", 0)


def parse_long_line(line: bytes) -> int:
    """LONG: decimal (or any int literal) with an optional trailing 'L'."""
    if line.endswith(b"L"):
        line = line[:-1]
        c_text = line.split(b"\0", 1)[0]
    else:
        c_text = _c_string(line)
    try:
        return int(c_text, 0)
    except ValueError:
        return int(line, 0)


def parse_float_line(line: bytes) -> float:
    """FLOAT: Python's float(line); C's PyOS_string_to_double also stops at a NUL but takes
    neither whitespace nor underscores."""
    try:
        return float(line)
    except ValueError:
        prefix = line.split(b"\0", 1)[0]
        if not prefix or any(c in prefix for c in _C_SPACE + b"_"):
            raise
        return float(prefix)


def parse_memo_index(line: bytes) -> int:
    """GET/PUT: base 10 in both unpicklers (C reads up to a NUL)."""
    try:
        return int(line)
    except ValueError:
        return int(_c_string(line))
