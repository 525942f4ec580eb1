"""A Hugging Face cache with many model snapshots, and hfcheck's time on it.

    python benchmarks/cache_200.py WORKDIR [--snapshots 200] [--runs 3]

Each snapshot is the tiny-llama fixture laid out as huggingface_hub caches it (files are
links into blobs/). Prints the time for 50, 100 and 200 snapshots serially and with
--jobs (one per CPU), to show the cost grows linearly and uses the cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_run  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "repos" / "tiny-llama"


def build_cache(cache: Path, count: int) -> None:
    for index in range(count):
        repo = cache / f"models--bench--model{index:03d}"
        if repo.exists():
            continue
        revision = f"{index:040x}"
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (repo / "blobs").mkdir()
        for file in FIXTURE.iterdir():
            blob = repo / "blobs" / f"{revision}{file.name}"
            shutil.copyfile(file, blob)
            (snapshot / file.name).symlink_to(Path("../../blobs") / blob.name)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(revision)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--snapshots", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    hfcheck = shutil.which("hfcheck") or sys.exit("hfcheck is not installed")
    cpus = os.cpu_count() or 1
    print(f"{'snapshots':>9} {'jobs':>5} {'median s':>9} {'ms/snapshot':>12} {'peak MiB':>9}")
    for count in sorted({args.snapshots // 4, args.snapshots // 2, args.snapshots}):
        cache = args.workdir / f"hub-{count}"
        build_cache(cache, count)
        for jobs in sorted({1, cpus}):
            seconds, rss = median_run(
                [hfcheck, "--hf-cache", "--jobs", str(jobs), "--fail-on", "never", "--format", "json"],
                args.runs,
                {"HF_HUB_CACHE": str(cache)},
            )
            print(f"{count:>9} {jobs:>5} {seconds:>9.2f} {1000 * seconds / count:>12.1f} {rss:>9.0f}")


if __name__ == "__main__":
    main()
