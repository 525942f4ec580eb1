"""Formatters: leaves that turn a Report into text. They know nothing of how findings
were found."""

from __future__ import annotations

import os
from pathlib import Path

FORMATS = ("text", "concise", "json", "jsonl", "sarif", "github")


def render(report, fmt: str, **options) -> str:
    from importlib import import_module

    return import_module(f"hfcheck.report.{fmt}").render(report, **options)


def display_path(root: Path, rel: str | None) -> str:
    """A finding's file as seen from the current folder (what editors, GitHub and
    SARIF viewers resolve), falling back to the absolute path."""
    base = Path(root)
    full = base / rel if rel else base
    try:
        shown = os.path.relpath(full)
    except ValueError:
        return full.as_posix()
    if shown.startswith(".."):
        # absolute, but never resolved: an HF cache snapshot's files are links to blobs
        # named by hash, and the report must name the file as the snapshot does
        return Path(os.path.abspath(full)).as_posix()
    return Path(shown).as_posix()
