"""Helpers for card and license tests: rewrite a fixture repo's README.md."""

from __future__ import annotations

import json
from pathlib import Path

BODY = """
# model

## Uses

For tests.

## Limitations

Random weights.

## Training data

Six sentences.

## Evaluation

None.
"""


def write_card(repo: Path, metadata: str | None, body: str = BODY) -> Path:
    """README.md with `metadata` (YAML text, without the --- lines) as front matter;
    metadata None writes no front matter."""
    text = body if metadata is None else f"---\n{metadata.strip()}\n---\n{body}"
    (repo / "README.md").write_text(text, encoding="utf-8")
    return repo / "README.md"


def tiny_card(**replace: str | None) -> str:
    """tiny-llama's metadata, with keys replaced (None drops the key)."""
    keys = {"license": "apache-2.0", "library_name": "transformers", "pipeline_tag": "text-generation"}
    keys.update(replace)
    return "\n".join(f"{k}: {v}" for k, v in keys.items() if v is not None)


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
