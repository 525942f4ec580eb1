"""JSON with line numbers: parsed with the stdlib's C decoder, then located on demand.

The stdlib gives no positions for keys, and a pure-Python parser that tracks them costs
seconds on a 30 MB tokenizer.json, so `line_of` walks only the path asked for, skipping
sibling values with the C decoder's raw_decode."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Any

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"


@dataclass(frozen=True)
class JsonError:
    message: str
    line: int | None
    column: int | None


@dataclass
class JsonDoc:
    text: str
    data: Any = None
    error: JsonError | None = None
    # (key path of the object, duplicated key) for every key that appears twice in one object
    duplicate_keys: list[tuple[tuple, str]] = field(default_factory=list)
    # NaN / Infinity / -Infinity: accepted by Python, rejected by strict parsers (Rust serde, JS)
    nonstandard_constants: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def line_of(self, *keys) -> int | None:
        """Line of the value at the key path (strings for object keys, ints for array items);
        the line of the deepest key found when the path goes further than the document."""
        pos = _locate(self.text, keys)
        return None if pos is None else self.text.count("\n", 0, pos) + 1


def parse_json(text: str) -> JsonDoc:
    doc = JsonDoc(text=text)
    saw_duplicates = False

    def pairs(items):
        nonlocal saw_duplicates
        result = dict(items)
        if len(result) != len(items):
            saw_duplicates = True
        return result

    try:
        doc.data = json.loads(text, object_pairs_hook=pairs, parse_constant=lambda c: doc.nonstandard_constants.append(c) or float(c))
    except json.JSONDecodeError as error:
        doc.error = JsonError(error.msg, error.lineno, error.colno)
    except RecursionError:
        doc.error = JsonError("nested too deeply to parse", None, None)
    if saw_duplicates:
        doc.duplicate_keys = _find_duplicates(text)
    return doc


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _locate(text: str, keys: tuple) -> int | None:
    pos = _skip_ws(text, 0)
    found = None
    try:
        for key in keys:
            if pos >= len(text):
                return found
            if text[pos] == "{" and isinstance(key, str):
                pos = _find_member(text, pos, key)
            elif text[pos] == "[" and isinstance(key, int):
                pos = _find_item(text, pos, key)
            else:
                return found
            if pos is None:
                return found
            found = pos
    except (ValueError, IndexError):
        return found
    return found if keys else pos


def _find_member(text: str, pos: int, wanted: str) -> int | None:
    """Position of the value of `wanted` in the object at pos (the last one if repeated,
    as Python's json keeps the last)."""
    pos = _skip_ws(text, pos + 1)
    hit = None
    while pos < len(text) and text[pos] != "}":
        key, pos = scanstring(text, pos + 1)
        pos = _skip_ws(text, pos)
        pos = _skip_ws(text, pos + 1)  # ':'
        if key == wanted:
            hit = pos
        _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
    return hit


def _find_item(text: str, pos: int, index: int) -> int | None:
    pos = _skip_ws(text, pos + 1)
    current = 0
    while pos < len(text) and text[pos] != "]":
        if current == index:
            return pos
        _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        current += 1
    return None


def _find_duplicates(text: str) -> list[tuple[tuple, str]]:
    """Walk every object (only done when the fast parse saw a duplicate)."""
    found: list[tuple[tuple, str]] = []
    # An explicit stack rather than recursion: the document already parsed, but keep
    # this walk bounded the same way.
    stack: list[tuple[int, tuple]] = [(_skip_ws(text, 0), ())]
    while stack:
        pos, path = stack.pop()
        if pos >= len(text):
            continue
        if text[pos] == "{":
            seen: set[str] = set()
            pos = _skip_ws(text, pos + 1)
            while pos < len(text) and text[pos] != "}":
                key, pos = scanstring(text, pos + 1)
                if key in seen:
                    found.append((path, key))
                seen.add(key)
                pos = _skip_ws(text, _skip_ws(text, pos) + 1)
                stack.append((pos, path + (key,)))
                _, pos = _DECODER.raw_decode(text, pos)
                pos = _skip_ws(text, pos)
                if pos < len(text) and text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
        elif text[pos] == "[":
            index = 0
            pos = _skip_ws(text, pos + 1)
            while pos < len(text) and text[pos] != "]":
                stack.append((pos, path + (index,)))
                _, pos = _DECODER.raw_decode(text, pos)
                pos = _skip_ws(text, pos)
                if pos < len(text) and text[pos] == ",":
                    pos = _skip_ws(text, pos + 1)
                index += 1
    return sorted(found, key=lambda item: (len(item[0]), str(item)))
