"""numpy dtypes as numpy reads them: does an array hold Python objects (then its data is a
pickle that numpy.load(allow_pickle=True) and joblib unpickle), and how many bytes is
one element (joblib reads that many bytes of inline array data)."""

from __future__ import annotations

import re

from hfcheck.formats.pickle.values import CallResult, DictValue, ImportedGlobal

# fixed-size type codes and their element sizes; flexible ones (S, U, V, a) take their size
# from the descr or, for a pickled dtype, from the pickled state
_FIXED_SIZES = {
    "?": 1, "b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8, "p": 8, "P": 8,
    "e": 2, "f": 4, "d": 8, "g": 16, "F": 8, "D": 16, "G": 32, "M": 8, "m": 8,
}  # fmt: skip
_KIND_SIZED = set("biufcMm")  # kind letter + byte count: 'f4', 'u1', 'M8'
_FLEXIBLE = set("SUVa")
_OBJECT_WORD = re.compile(r"object", re.IGNORECASE)


def descr_has_object(descr, depth: int = 0) -> bool:
    """A .npy header descr (a string, a list of fields, or a (base, shape) tuple) that
    numpy turns into a dtype holding objects. Any 'O' type code or 'object' name counts,
    wherever it sits: 'O', '|O8', 'object', '(1,)O', 'f4,O', nested fields."""
    if depth > 16:
        return True  # absurd nesting: assume the worst, scan
    if isinstance(descr, str):
        return "O" in descr or bool(_OBJECT_WORD.search(descr))
    if isinstance(descr, (list, tuple)):
        return any(descr_has_object(part, depth + 1) for part in descr)
    return not isinstance(descr, (int, type(None)))  # a type numpy may still accept: assume objects


def _pickled_dtype(dtype):
    """(descr, state) of a pickled numpy.dtype(descr, align, copy) with its BUILD state."""
    if (
        isinstance(dtype, CallResult)
        and isinstance(dtype.callee, ImportedGlobal)
        and dtype.callee.name == "dtype"
        and isinstance(dtype.args, tuple)
        and dtype.args
    ):
        return dtype.args[0], dtype.state
    return None, None


def pickled_dtype_has_object(dtype, depth: int = 0) -> bool:
    """Does a pickled numpy dtype hold objects? Unknown shapes count as yes (fail closed)."""
    if depth > 8:
        return True
    descr, state = _pickled_dtype(dtype)
    if descr is None:
        return True
    if not isinstance(descr, str) or descr_has_object(descr):
        return True
    # structured dtype: state = (version, byteorder, subarray, names, fields, ...)
    if isinstance(state, tuple) and len(state) >= 5:
        sub = state[2]
        if isinstance(sub, tuple) and sub and pickled_dtype_has_object(sub[0], depth + 1):
            return True
        fields = state[4]
        if isinstance(fields, DictValue):
            for _, v in fields.items:
                if not (isinstance(v, tuple) and v) or pickled_dtype_has_object(v[0], depth + 1):
                    return True
    return False


def pickled_dtype_itemsize(dtype) -> int | None:
    """The element size numpy gives a pickled dtype: the state's elsize only for
    flexible and structured types (numpy ignores it for fixed-size types), else the
    size the descr names. None when it cannot be known."""
    descr, state = _pickled_dtype(dtype)
    if not isinstance(descr, str):
        return None
    code = descr.lstrip("<>|=!")
    elsize = state[5] if isinstance(state, tuple) and len(state) >= 6 and isinstance(state[5], int) else None
    if code[:1] in _FLEXIBLE or (isinstance(state, tuple) and len(state) >= 5 and state[4] is not None):
        return elsize if elsize is not None and elsize >= 0 else _descr_size(code)
    return _descr_size(code)


def _descr_size(code: str) -> int | None:
    if code in _FIXED_SIZES:
        return _FIXED_SIZES[code]
    if len(code) >= 2 and code[0] in _KIND_SIZED | _FLEXIBLE and code[1:].isdigit():
        size = int(code[1:])
        return size * 4 if code[0] == "U" else size  # 'U' counts characters
    return None
