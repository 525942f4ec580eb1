"""Text opcode arguments (INT, LONG, FLOAT, GET, PUT), parsed as the unpicklers parse them.

Two unpicklers read the same bytes: the C one (`_pickle`, used by pickle.load and
torch.load) and the pure-Python one (`pickle._Unpickler`, which joblib's NumpyUnpickler
subclasses). They accept different spellings: C's INT goes through `strtol(s, &end, 0)`
(so `010` is octal 8, trailing bytes after a NUL are ignored) and falls back to
`PyLong_FromString(s, NULL, 0)` (`0x..`, `0o..`, `0b..`, underscores, whitespace);
Python's is `int(line, 0)`. A scanner that rejects a spelling either accepts stops reading
where the loader goes on, so each parser here accepts the union: the C value where C
accepts, else the Python value, else ValueError.

A line has no length bound in either unpickler (reader.LINE_BUDGET is the scan's): a number
too long to convert (Python's int() refuses more than 4300 decimal digits unless the
loading process lifts sys.set_int_max_str_digits) is accepted when it is a valid literal,
as OPAQUE; text is decoded in full (a bad escape anywhere fails the load) and kept to a
bounded prefix that ends in CUT.
"""

from __future__ import annotations

import codecs
import re

from hfcheck.formats.pickle.values import CUT, OPAQUE

_C_SPACE = b" \t\n\v\f\r"
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_CONVERT_MAX = 4000  # longer literals are checked by syntax, not converted
_DIGITS = {8: re.compile(rb"[0-7]*"), 10: re.compile(rb"[0-9]*"), 16: re.compile(rb"[0-9a-fA-F]*")}
_PREFIXED_DIGITS = {b"x": b"0123456789abcdefABCDEF", b"o": b"01234567", b"b": b"01"}


def _valid_int_literal(text: bytes, base: int) -> bool:
    """Would int(text, base) (base 0 or 10) accept text? Checked by bytes operations, in
    time linear in the text (a regular expression over 64 MiB of digits is not)."""
    body = text.strip(_C_SPACE)
    if body[:1] in (b"+", b"-"):
        body = body[1:]
    allowed = b"0123456789"
    if base == 0 and body[:2].lower() in (b"0x", b"0o", b"0b"):
        allowed = _PREFIXED_DIGITS[body[1:2].lower()]
        body = body[2:]
        body = body[1:] if body[:1] == b"_" else body  # 0x_ff: one underscore may follow the prefix
    elif base == 0 and body[:1] == b"0" and body.strip(b"0_"):
        return False  # base 0 takes no leading zeros before other digits
    return bool(body) and not body.translate(None, allowed + b"_") and b"__" not in body and body[:1] != b"_" and body[-1:] != b"_"


def _int_literal(text: bytes, base: int = 0):
    """int(text, base), or OPAQUE for a valid literal too long to convert."""
    if len(text) <= _CONVERT_MAX:
        return int(text, base)
    if not _valid_int_literal(text, base):
        raise ValueError("invalid literal")
    if base == 10:  # a memo index: leading zeros keep it small
        digits = text.strip(_C_SPACE).lstrip(b"+").replace(b"_", b"").lstrip(b"0") or b"0"
        if len(digits) <= _CONVERT_MAX and not text.strip(_C_SPACE).startswith(b"-"):
            return int(digits)
    return OPAQUE


def decode_kept(raw: bytes, encoding: str, keep: int) -> str:
    """raw decoded in full (strict, so an error anywhere fails as the loader fails) and
    kept to its first `keep` characters; a longer text ends in CUT."""
    if len(raw) <= keep:
        return raw.decode(encoding)
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(raw)
    kept, total, step = [], 0, 1 << 20
    for start in range(0, len(raw), step):
        text = decoder.decode(view[start : start + step], final=start + step >= len(raw))
        if total < keep:
            kept.append(text[: keep - total])
        total += len(text)
    return "".join(kept) + (CUT if total > keep else "")


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
    digits = _DIGITS[base].match(text, i).group()
    if not digits:
        return 0, 0, False  # no conversion: end points at the start
    significant = digits.lstrip(b"0")
    if len(significant) > 24:  # beyond any C long: strtol saturates (ERANGE)
        return 0, i + len(digits), True
    value = int(significant or b"0", base)
    value = -value if negative else value
    return value, i + len(digits), not _LONG_MIN <= value <= _LONG_MAX


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
            return _int_literal(_c_string(line))
        except ValueError:
            pass
    if line == b"00":
        return False
    if line == b"01":
        return True
    return _int_literal(line + b"\n")


def parse_long_line(line: bytes) -> int:
    """LONG: decimal (or any int literal) with an optional trailing 'L'."""
    if line.endswith(b"L"):
        line = line[:-1]
        c_text = line.split(b"\0", 1)[0]
    else:
        c_text = _c_string(line)
    try:
        return _int_literal(c_text)
    except ValueError:
        return _int_literal(line)


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
        return _int_literal(line, 10)
    except ValueError:
        return _int_literal(_c_string(line), 10)


# Every byte a numeric argument line may hold in either unpickler (the union of int(x, 0)
# with prefixes and underscores, LONG's trailing L, float()'s inf/nan/exponent spellings).
_NUMBER_BYTES = b"0123456789abcdefABCDEFxXoObBlLinftyINFTY_+-. \t\n\r\v\f"


def refuses_number(prefix: bytes) -> str | None:
    """INT, LONG, FLOAT, GET, PUT: the C unpickler reads up to a NUL, pickle.py the whole
    line; a byte no number holds before the first NUL fails both."""
    if prefix.split(b"\0", 1)[0].translate(None, _NUMBER_BYTES):
        return "numeric argument line is no number"
    return None


def refuses_string(prefix: bytes) -> str | None:
    """STRING: both unpicklers require the line to start (and end) with a quote."""
    return None if prefix[:1] in (b"'", b'"') else "the STRING opcode argument must be quoted"
