"""Turn what the user named into targets: a folder, a folder in the HF cache, files
inside a repo, or a Hub repo id (`org/name[@rev]`, `hf://org/name[@rev]`, materialised
by hfcheck.hub). A local path always wins over a Hub id spelt the same.

Files (pre-commit passes the changed ones) map to the tree they belong to, the git work
tree (else the current folder, else the nearest model folder above them), with the files
recorded in `only`: discovery then checks the units that own them, each once. A file
outside any repository and any model folder is checked alone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

# A folder holding one of these is the root of a model repo.
ROOT_MARKERS = ("config.json", "model_index.json", "adapter_config.json", ".hfcheck.yaml", ".hfcheck.yml", "tokenizer_config.json")


class TargetError(Exception):
    """A target that cannot be checked: a usage error (exit 2)."""


class Target(NamedTuple):
    label: str  # as the user gave it; the repo id for Hub targets
    root: Path
    hub: object | None = None  # hfcheck.hub.HubSnapshot for a Hub target
    only: frozenset | None = None  # files named by the user (relative to root): check the units owning them
    alone: bool = False  # the tree is just `only` (a file outside any repository)


def resolve_targets(names: list[str], *, download_pickles: bool = False) -> list[Target]:
    targets: list[Target] = []
    index: dict[Path, int] = {}
    for name in names or ["."]:
        for target in _resolve(name, download_pickles):
            key = target.root.resolve()
            if key not in index:
                index[key] = len(targets)
                targets.append(target)
                continue
            # several files of one tree (pre-commit): one target, the union of their files;
            # a whole folder named too: the whole tree
            known = targets[index[key]]
            if known.only is not None and target.only is not None:
                targets[index[key]] = Target(known.label, known.root, known.hub, known.only | target.only, known.alone and target.alone)
            elif target.only is None:
                targets[index[key]] = target
    return targets


def _resolve(name: str, download_pickles: bool = False) -> list[Target]:
    path = Path(name)
    if name.startswith("hf://"):
        return [_hub_target(name, download_pickles)]
    if path.is_dir():
        return [Target(name, _cache_repo_snapshot(path) or path)]
    if path.exists() or path.is_symlink():
        return [file_target(path)]
    if "/" in name and not name.startswith((".", "/", "~")):
        from hfcheck.hub import parse_hub_name

        if parse_hub_name(name):
            return [_hub_target(name, download_pickles)]
    raise TargetError(f"{name}: no such file or folder")


def file_target(file: Path) -> Target:
    """The tree a named file belongs to, with the file as its focus."""
    root, alone = tree_root_of(file)
    try:
        rel = Path(os.path.relpath(file.parent.resolve() / file.name, root.resolve())).as_posix()
    except ValueError:
        rel = file.name
    return Target(str(root), root, only=frozenset({rel}), alone=alone)


def tree_root_of(file: Path) -> tuple[Path, bool]:
    """(root, alone): the git work tree holding the file, else the current folder when it
    holds the file and is a project (a model, a deployment or dependency file, settings:
    a service laid out without git), else the nearest folder above the file that holds a
    model; else the file's own folder, with the file checked alone (never a bare parent
    like /etc, nor a home or temporary folder the user happens to run from)."""
    start = file.parent.resolve() if file.parent != Path("") else Path.cwd().resolve()
    top = _git_top(start)
    if top is not None:
        return _relative_if_possible(top), False
    cwd = Path.cwd().resolve()
    if (start == cwd or cwd in start.parents) and _is_project(cwd):
        return _relative_if_possible(cwd), False
    current = start
    while True:
        if any((current / marker).exists() for marker in ROOT_MARKERS):
            # a sentence-transformers module folder or a diffusers component: its model is above
            while current.parent != current and any((current.parent / name).exists() for name in ("modules.json", "model_index.json")):
                current = current.parent
            return _relative_if_possible(current), False
        if current.parent == current:
            return _relative_if_possible(start), True
        current = current.parent


def _is_project(folder: Path) -> bool:
    """Does the folder itself hold a model, deployment, dependency or settings file? One
    listing of its own entries, no walk."""
    from hfcheck.discovery import DEPLOY_ANCHORS

    try:
        names = os.listdir(folder)
    except OSError:
        return False
    return any(name in ROOT_MARKERS or DEPLOY_ANCHORS.match(name) for name in names)


def _hub_target(name: str, download_pickles: bool) -> Target:
    from hfcheck.hub import HubError, fetch, parse_hub_name

    parsed = parse_hub_name(name)
    if parsed is None:
        raise TargetError(f"{name}: not a Hub model id (expected hf://org/name or hf://org/name@revision)")
    try:
        snapshot = fetch(parsed, download_pickles=download_pickles)
    except HubError as error:
        if error.repo_exists:  # the Hub knows the repo: what failed is about it, not a path
            raise TargetError(str(error)) from None
        if name.startswith("hf://"):
            raise TargetError(f"{name}: {error}") from None
        # `does-not/exist`: most often a mistyped local path; say so first, then the Hub attempt
        raise TargetError(
            f"{name}: no such file or folder here; also tried as a Hub model id: {_without_name(str(error), parsed.repo_id)}"
        ) from None
    return Target(snapshot.repo_id, snapshot.root, hub=snapshot)


def _without_name(message: str, repo_id: str) -> str:
    """The Hub error without the repo id it starts with or quotes: the path is printed once."""
    if message.startswith(repo_id):
        message = message[len(repo_id) :].lstrip(":@ ")
    return message.replace(f" {repo_id!r}", "").replace(repo_id, "it")


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
    from huggingface_hub.utils import CacheNotFound

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
    if not targets:
        # an empty cache must not turn `hfcheck --hf-cache` into a check of nothing (or of ".")
        raise TargetError(
            f"--hf-cache: no model snapshots in the Hugging Face cache at {info.repos and cache_dir or _cache_location(cache_dir)}"
        )
    return targets


def _cache_location(cache_dir: str | None) -> str:
    if cache_dir:
        return cache_dir
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)
