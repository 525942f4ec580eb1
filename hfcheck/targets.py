"""Turn what the user named into repository roots: a folder, a folder in the HF cache,
or files inside a repo (pre-commit passes file names: each maps to its repo root, and
each root is checked once)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# A folder holding one of these is the root of a model repo.
ROOT_MARKERS = ("config.json", "model_index.json", "adapter_config.json", ".hfcheck.yaml", ".hfcheck.yml", "tokenizer_config.json")


class TargetError(Exception):
    """A target that cannot be checked: a usage error (exit 2)."""


@dataclass(frozen=True)
class Target:
    label: str  # as the user gave it
    root: Path


def resolve_targets(names: list[str]) -> list[Target]:
    targets: list[Target] = []
    seen: set[Path] = set()
    for name in names or ["."]:
        for target in _resolve(name):
            key = target.root.resolve()
            if key not in seen:
                seen.add(key)
                targets.append(target)
    return targets


def _resolve(name: str) -> list[Target]:
    path = Path(name)
    if path.is_dir():
        return [Target(name, _cache_repo_snapshot(path) or path)]
    if path.exists() or path.is_symlink():
        root = repo_root_of(path)
        return [Target(str(root), root)]
    raise TargetError(f"{name}: no such file or folder")


def _cache_repo_snapshot(path: Path) -> Path | None:
    """`models--org--name` in the HF cache: check the snapshot that refs/main names,
    else the newest one."""
    if not path.name.startswith("models--") or not (path / "snapshots").is_dir():
        return None
    ref = path / "refs" / "main"
    if ref.is_file():
        snapshot = path / "snapshots" / ref.read_text().strip()
        if snapshot.is_dir():
            return snapshot
    snapshots = sorted((p for p in (path / "snapshots").iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    return snapshots[-1] if snapshots else None


def repo_root_of(file: Path) -> Path:
    """The nearest folder above a file that is a model repo root, stopping at the git
    work tree (or the current folder) it lives in."""
    start = file.parent.resolve() if file.parent != Path("") else Path.cwd().resolve()
    stop = _git_top(start) or Path.cwd().resolve()
    current = start
    while True:
        if any((current / marker).exists() for marker in ROOT_MARKERS):
            return _relative_if_possible(current)
        if current == stop or current.parent == current:
            return _relative_if_possible(stop if stop in start.parents or stop == start else start)
        current = current.parent


def _git_top(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _relative_if_possible(path: Path) -> Path:
    try:
        relative = Path(os.path.relpath(path))
    except ValueError:
        return path
    return path if str(relative).startswith("..") else relative


def hf_cache_snapshots(cache_dir: str | None = None) -> list[Target]:
    """Every model snapshot in the local Hugging Face cache (HF_HUB_CACHE, HF_HOME, ...),
    found with huggingface_hub's own cache scanner."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound as error:
        raise TargetError(f"no Hugging Face cache at {error.cache_dir}") from None
    targets = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        for revision in sorted(repo.revisions, key=lambda r: r.commit_hash):
            targets.append(Target(f"{repo.repo_id}@{revision.commit_hash}", Path(revision.snapshot_path)))
    return targets
