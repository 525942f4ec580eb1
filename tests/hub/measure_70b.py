"""What one `hfcheck org/name` of a Llama-3-70B-shaped repo (30 sparse safetensors shards,
~141 GB apparent, benchmarks/sparse_70b.py) fetches from the stand-in Hub, and how long it
takes with a cold cache:

    python tests/hub/measure_70b.py [--runs 5]

Prints the bytes of tensor files sent (per shard: header + the rest of the first probe),
of other files, of API JSON, the requests by kind and the median wall time. The hfcheck
run is whatever `python -m hfcheck` imports (set PYTHONPATH to measure another tree)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
from hubserver import FakeHub  # noqa: E402


def sparse_writer():
    spec = importlib.util.spec_from_file_location("sparse_70b", ROOT / "benchmarks" / "sparse_70b.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def request_kind(method: str, path: str) -> str:
    if "/resolve/" in path:
        return f"{method} resolve"
    parts = path.split("/")  # /api/models/org/name[/kind/...]
    return f"{method} {parts[5] if len(parts) > 5 else 'model-info'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sparse = sparse_writer()
    base = Path(tempfile.mkdtemp(prefix="hfcheck-hub-70b-"))
    repo = base / "llama-3-70b"
    apparent = sparse.write_sparse_repo(repo, sparse.LLAMA_3_70B, shards=30)
    hub = FakeHub().start()
    hub.add("meta/llama-3-70b", repo)
    walls = []
    try:
        for run in range(args.runs):
            hub.bytes_sent.clear(), hub.requests.clear()
            hub.api_bytes_sent = 0
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "HFCHECK_"))}
            env.update(HF_ENDPOINT=hub.url, HF_HOME=str(base / f"home-{run}"), HF_HUB_DISABLE_TELEMETRY="1", NO_COLOR="1")
            start = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "hfcheck", "meta/llama-3-70b", "--format", "json"], env=env, capture_output=True, text=True
            )
            walls.append(time.perf_counter() - start)
            if result.returncode not in (0, 1):
                sys.exit(result.stderr)
    finally:
        hub.stop()
    shards = {rel: sent for rel, sent in hub.bytes_sent.items() if rel.endswith(".safetensors")}
    import huggingface_hub

    print(f"huggingface_hub {huggingface_hub.__version__}; repo {apparent / 1e9:.1f} GB apparent, 30 shards")
    print(f"tensor files: {sum(shards.values()):,} bytes sent for {len(shards)} shards (max {max(shards.values()):,} per shard)")
    print(f"other files: {sum(v for k, v in hub.bytes_sent.items() if k not in shards):,} bytes; API JSON: {hub.api_bytes_sent:,} bytes")
    print(f"requests: {len(hub.requests)} {dict(sorted(Counter(request_kind(m, p) for m, p, _ in hub.requests).items()))}")
    print(f"wall, cold cache: median {statistics.median(walls):.2f} s over {len(walls)} runs")


if __name__ == "__main__":
    main()
