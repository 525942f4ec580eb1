"""Edits as data: what a fixer returns. A leaf module (it imports nothing of hfcheck), so
rules, facts and the fix engine (hfcheck/fix.py) share these types without importing
each other: fixers plan edits, the engine applies and verifies them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, NamedTuple


class Edit(NamedTuple):
    """One planned change: the new content of a file (relative posix path), or None to
    delete it. `verify(written_path)` may check the written copy before it replaces the
    target and returns a problem, or None; `note` describes binary edits in diffs."""

    path: str
    data: bytes | None
    verify: Callable[[Path], str | None] | None = None
    note: str | None = None


class FixRefused(Exception):
    """A fixer declines: the fix would be unsafe for this repo (the message says why)."""


def json_edit(repo, rel: str, change: Callable[[dict], None], *, create: dict | None = None) -> Edit | None:
    """An Edit of a JSON object file: `change` mutates a copy of its data. The file keeps
    its key order, indentation and final newline. A missing file starts from `create`
    (None: no edit); an unreadable one gives no edit."""
    import copy

    if repo.exists(rel):
        data = repo.json_data(rel)
        text = repo.text(rel, repo.limits.json_bytes) or ""
        if not isinstance(data, dict):
            return None
        indent = _indent_of(text)
        newline = text.endswith("\n")
        data = copy.deepcopy(data)
    elif create is not None:
        data, indent, newline = dict(create), 2, True
    else:
        return None
    change(data)
    new = json.dumps(data, indent=indent, ensure_ascii=False) + ("\n" if newline else "")
    return Edit(rel, new.encode("utf-8"))


def _indent_of(text: str) -> int | None:
    for line in text.splitlines()[1:3]:
        stripped = line.lstrip(" ")
        if stripped and stripped != line:
            return len(line) - len(stripped)
    return None if "\n" not in text.strip() else 2
