"""GPU names as deployments write them (`nvidia-l4`, `NVIDIA-A100-SXM4-80GB`, `A100:8`,
`ml.g5.12xlarge`, dstack's `24GB..80GB:2`), resolved to a GPU count and memory per GPU
with the packaged table hfcheck/data/gpu_memory.json. Nothing here guesses: a name not
in the table gives no figure."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Hardware:
    gpus: int | None
    gpu_type: str | None
    memory_gib: float | None  # per GPU
    source: str  # what declared it: "nodeSelector cloud.google.com/gke-accelerator", "SkyPilot resources", ...
    line: int | None = None


def table() -> dict:
    from hfcheck.data import load

    return load("gpu_memory.json")


def gpu_type(name) -> tuple[str, float] | None:
    """(canonical name, GiB per GPU) of a GPU name, or None when the table does not know it."""
    if not isinstance(name, str) or len(name) > 200:
        return None
    text = name.strip().lower().replace("_", "-")
    text = re.sub(r"^(nvidia[- ]?)?(tesla[- ]?|geforce[- ]?)?", "", text)
    gpus = table().get("gpus") or {}
    size = re.search(r"(\d+)\s*gb", text)
    for key in sorted(gpus, key=len, reverse=True):
        if re.search(rf"(^|[^a-z0-9]){re.escape(key)}($|[^a-z0-9])", text):
            memory = float(gpus[key])
            if size and 8 <= int(size.group(1)) <= 512:
                memory = float(size.group(1))  # `A100-SXM4-80GB`: the name says the size
            return key, memory
    return None


def instance_type(name) -> tuple[str, float, int] | None:
    """(GPU, GiB per GPU, count) of an AWS/SageMaker instance type (`ml.g5.12xlarge`)."""
    if not isinstance(name, str):
        return None
    match = re.fullmatch(r"(?:ml\.)?([a-z0-9]+)\.([a-z0-9]+)", name.strip().lower())
    families = table().get("instance_families") or {}
    if not match or match.group(1) not in families:
        return None
    gpu, counts = families[match.group(1)]
    known = gpu_type(gpu)
    if known is None:
        return None
    return known[0], known[1], int(counts.get(match.group(2), 1))


def accelerator_spec(spec) -> tuple[str | None, float | None, int | None] | None:
    """SkyPilot `accelerators` / dstack `gpu`: `A100:8`, `{L4: 1, A10G: 1}`, `[L4, A10g]`,
    `24GB`, `A100:80GB:2`, `24GB..80GB:1..2`, `{name: [A100], memory: 80GB, count: 2}`.
    Several choices: the smallest memory (the one the scheduler may pick)."""
    choices = []
    if isinstance(spec, dict) and any(k in spec for k in ("name", "memory", "count")):
        names = spec.get("name")
        names = names if isinstance(names, list) else [names]
        for item in names:
            choices.append(_one(f"{item or ''}:{spec.get('memory') or ''}:{spec.get('count') or ''}"))
    elif isinstance(spec, dict):
        choices = [_one(f"{k}:{v}") for k, v in list(spec.items())[:16]]
    elif isinstance(spec, list):
        choices = [_one(str(item)) for item in spec[:16]]
    elif isinstance(spec, (str, int)):
        choices = [_one(part) for part in str(spec).split(",")[:16]]
    choices = [c for c in choices if c is not None and (c[1] is not None or c[2] is not None)]
    if not choices:
        return None
    return min(choices, key=lambda c: c[1] if c[1] is not None else float("inf"))


def _one(text: str):
    name, memory, count = None, None, None
    for part in text.strip().split(":")[:4]:
        part = part.strip()
        low = part.split("..")[0].strip()  # a range: its lower end
        if re.fullmatch(r"\d+(\.\d+)?\s*gb", low.lower()):
            memory = float(low.lower().rstrip("gb ").strip())
        elif re.fullmatch(r"\d+", low):
            count = int(low)
        elif part:
            known = gpu_type(part)
            if known is None:
                return None
            name, memory = known[0], memory if memory is not None else known[1]
    return name, memory, count
