"""Turn what the user named into repository roots: a folder, a folder in the HF cache,
files inside a repo (pre-commit passes file names: each maps to its repo root, and
each root is checked once), or a Hub repo id (`org/name[@rev]`, `hf://org/name[@rev]`,
materialised by hfcheck.hub). A local path always wins over a Hub id spelt the same."""

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
    label: str  # as the user gave it; the repo id for Hub targets
    root: Path
    hub: object | None = None  # hfcheck.hub.HubSnapshot for a Hub target


def resolve_targets(names: list[str], *, download_pickles: bool = False) -> list[Target]:
    targets: list[Target] = []
    seen: set[Path] = set()
    for name in names or ["."]:
        for target in _resolve(name, download_pickles):
            key = target.root.resolve()
            if key not in seen:
                seen.add(key)
                targets.append(target)
    return targets


def _resolve(name: str, download_pickles: bool = False) -> list[Target]:
    path = Path(name)
    if name.startswith("hf://"):
        return [_hub_target(name, download_pickles)]
    if path.is_dir():
        return [Target(name, _cache_repo_snapshot(path) or path)]
    if path.exists() or path.is_symlink():
        root = repo_root_of(path)
        return [Target(str(root), root)]
    if "/" in name and not name.startswith((".", "/", "~")):
        from hfcheck.hub import parse_hub_name

        if parse_hub_name(name):
            return [_hub_target(name, download_pickles)]
    raise TargetError(f"{name}: no such file or folder")


def _hub_target(name: str, download_pickles: bool) -> Target:
    from hfcheck.hub import HubError, fetch, parse_hub_name

    parsed = parse_hub_name(name)
    if parsed is None:
        raise TargetError(f"{name}: not a Hub model id (expected hf://org/name or hf://org/name@revision)")
    try:
        snapshot = fetch(parsed, download_pickles=download_pickles)
    except HubError as error:
        local = "" if name.startswith("hf://") or not error.repo_not_found else "no such file or folder, and "
        raise TargetError(f"{name}: {local}{error}") from None
    return Target(snapshot.repo_id, snapshot.root, hub=snapshot)


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
    """The nearest folder above a file that is a model repo root, looking no higher than
    the git work tree it lives in (or the current folder). Without a marker the root is
    the git work tree, or else the file's own folder: never a bare parent like /tmp."""
    start = file.parent.resolve() if file.parent != Path("") else Path.cwd().resolve()
    git_top = _git_top(start)
    stop = git_top or Path.cwd().resolve()
    if stop != start and stop not in start.parents:
        stop = start
    current = start
    while True:
        if any((current / marker).exists() for marker in ROOT_MARKERS):
            return _relative_if_possible(current)
        if current == stop or current.parent == current:
            return _relative_if_possible(git_top or start)
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
