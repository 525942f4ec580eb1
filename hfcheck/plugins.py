"""Rule plugins: the `hfcheck.rules` entry points of installed distributions, found by
`importlib.metadata` (dist-info and egg-info folders, zipped installs, custom finders).

Importing `importlib.metadata` and reading every distribution's entry points costs about
20 ms per run (it pulls in `email`, `zipfile`, `csv`), a third of checking a 2 GB
checkpoint; almost every run finds no plugin at all. So what the lookup found is kept in
the user cache folder, with a fingerprint of every place the lookup reads: each sys.path
entry's stat, and, for each `*.dist-info` / `*.egg-info` folder in those entries, the stat
of the folder and of its `entry_points.txt`. Installing, upgrading or removing a
distribution changes its site folder; editing an entry point file in place changes the
file. A run whose fingerprint matches reuses the list without importing
`importlib.metadata`; a different one (or a custom distribution finder on sys.meta_path,
which no stat can vouch for) looks the plugins up again. The plugins themselves are
always loaded through `importlib.metadata`'s EntryPoint, never by a reader of ours.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from pathlib import Path

from hfcheck.cache_folder import default_cache_folder, store_json

GROUP = "hfcheck.rules"
_INDEX_FORMAT = 1
_METADATA_SUFFIXES = (".dist-info", ".egg-info")


def entry_points(group: str = GROUP) -> list:
    """The entry points of `group`, one per name (the first distribution on sys.path wins,
    as Python's own lookup does)."""
    from importlib.metadata import entry_points as lookup

    found, seen = [], set()
    for entry_point in lookup(group=group):
        if entry_point.name not in seen:
            seen.add(entry_point.name)
            found.append(entry_point)
    return found


def installed() -> list[tuple[str, str, str, str]]:
    """(name, module:attr, distribution, version) of every rule plugin, from the index
    when nothing it depends on changed, else from importlib.metadata (and indexed)."""
    fingerprint = _fingerprint()
    # one index per environment (interpreter and path), so that two virtualenvs (a
    # pre-commit hook's and a project's) do not replace each other's
    environment = zlib.crc32("\0".join([sys.executable, *sys.path]).encode())
    index = default_cache_folder() / f"plugins-v{_INDEX_FORMAT}-{environment:08x}.json"
    if fingerprint is not None:
        stored = _read(index)
        if stored is not None and stored.get("fingerprint") == fingerprint:
            return [tuple(row) for row in stored["plugins"]]
    rows = [_described(entry_point) for entry_point in entry_points()]
    if fingerprint is not None:
        store_json(index, {"fingerprint": fingerprint, "plugins": rows})
    return rows


def _described(entry_point) -> tuple[str, str, str, str]:
    dist = getattr(entry_point, "dist", None)
    return (entry_point.name, entry_point.value, dist.name if dist else "", dist.version if dist else "")


def _fingerprint() -> str | None:
    """The stats of everything the lookup reads, as one string (no hash: hashlib would cost
    what the index saves); None when a finder on sys.meta_path other than the path finder
    supplies distributions (nothing to stat)."""
    from importlib.machinery import PathFinder

    if any(hasattr(finder, "find_distributions") and finder is not PathFinder for finder in sys.meta_path):
        return None
    parts = [sys.version, sys.executable]
    for entry in sys.path:
        folder = entry or "."  # the current folder: its stat tells one folder from another
        parts.append(f"{folder}:{_stat_key(folder)}")
        try:
            with os.scandir(folder) as listing:
                names = sorted(item.name for item in listing if item.name.lower().endswith(_METADATA_SUFFIXES))
        except OSError:
            continue  # a file (a zip on sys.path: its own stat covers it) or no folder
        for name in names:
            path = os.path.join(folder, name)
            parts.append(f"{name}:{_stat_key(path)}:{_stat_key(os.path.join(path, 'entry_points.txt'))}")
    return "\n".join(parts)


def _stat_key(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    return f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = data.get("plugins") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 4 and all(isinstance(v, str) for v in r) for r in rows):
        return None
    return data
