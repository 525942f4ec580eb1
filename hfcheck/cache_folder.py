"""Where hfcheck keeps what it caches for a user (the result cache, the plugin index), and
how an entry is written: a leaf module, so that finding the folder imports nothing else of
hfcheck."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def default_cache_folder() -> Path:
    """The per-user cache folder, as platformdirs would choose it (HFCHECK_CACHE_DIR moves it)."""
    configured = os.environ.get("HFCHECK_CACHE_DIR")
    if configured:
        return Path(configured)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "hfcheck" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "hfcheck"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hfcheck"


def store_json(path: Path, data: dict) -> bool:
    """Write atomically (a reader never sees half an entry); a cache that cannot be written
    is no error (the work it would have saved was done)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, path)
        return True
    except (OSError, ValueError, TypeError, RecursionError):
        return False
