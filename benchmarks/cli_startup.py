"""Start-up and check time of two hfcheck installs side by side (issue #20: the CLI on
click, plugins through importlib.metadata). The result cache has its own benchmark
(benchmarks/cache_monorepo.py).

    python benchmarks/cli_startup.py --before VENV1 --after VENV2 [--runs 15] [--dir DIR] [--out FILE]

Inputs (built once under --dir): the tiny-llama fixture (a small repo); ckpt-2gb, a real
~2 GB torch.save checkpoint (16 x 128 MiB float32, as benchmarks/run_all.py builds it,
with the `after` interpreter's torch); llama70b-pt, a Llama-3-70B-shaped repo of 30 sparse
torch.save shards plus its index (benchmarks/sparse_70b.py).
The runs of `before` and `after` alternate, so load on the machine hits both alike; each
figure is the median wall time of a child process; `after` runs with --no-cache. Both use
one bytecode cache (PYTHONPYCACHEPREFIX under --dir), warmed up before timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _timing import installed_version  # noqa: E402


def timed(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one child run. On a shared machine the
    CPU time is the steadier figure: waiting for a core counts in wall time only."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, _, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def build(workdir: Path, python: str) -> dict[str, Path]:
    from run_all import build_checkpoint
    from sparse_70b import LLAMA_3_70B, write_sparse_repo

    checkpoint = workdir / "ckpt-2gb" / "pytorch_model.bin"
    if not checkpoint.exists():
        build_checkpoint(checkpoint, python)
    large = workdir / "llama70b-pt"
    if not (large / "pytorch_model.bin.index.json").exists():
        write_sparse_repo(large, LLAMA_3_70B, shards=30, pickle=True)
    return {"tiny-llama": ROOT / "fixtures" / "repos" / "tiny-llama", "ckpt-2gb": checkpoint, "llama70b-pt": large}


def side_by_side(before: Path, after: Path, args: list[str], runs: int, env: dict) -> tuple[tuple, tuple]:
    times: dict[str, list] = {"before": [], "after": []}
    extra = [] if args == ["--version"] else ["--no-cache"]
    for _ in range(runs):
        times["before"].append(timed([str(before / "bin" / "hfcheck"), *args], env))
        times["after"].append(timed([str(after / "bin" / "hfcheck"), *args, *extra], env))
    return medians(times["before"]), medians(times["after"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="virtualenv of the old hfcheck")
    parser.add_argument("--after", type=Path, required=True, help="virtualenv of the new hfcheck")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hfcheck-bench")
    parser.add_argument("--out", type=Path, help="also write the report here (benchmarks/results/cli_startup.md feeds the README)")
    args = parser.parse_args()
    paths = build(args.dir, str(args.after / "bin" / "python"))
    # One bytecode cache for both installs, outside their trees (a source tree that cannot
    # hold __pycache__ would otherwise compile every module on every run), warmed up first.
    env = {k: v for k, v in os.environ.items() if k not in ("HFCHECK_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPYCACHEPREFIX"] = str(args.dir / "pycache")
    for install in (args.before, args.after):
        for target in paths.values():
            timed([str(install / "bin" / "hfcheck"), str(target)], {**env, "HFCHECK_CACHE_DIR": str(args.dir / "warm-up-cache")})
    lines = ["| command | before | after | difference (CPU) |", "| --- | --- | --- | --- |"]
    for label, command in (
        ("hfcheck --version", ["--version"]),
        ("hfcheck tiny-llama (small repo)", [str(paths["tiny-llama"])]),
        ("hfcheck ckpt-2gb/pytorch_model.bin (2 GB .bin)", [str(paths["ckpt-2gb"])]),
        ("hfcheck llama70b-pt (30 sparse .bin shards)", [str(paths["llama70b-pt"])]),
    ):
        old, new = side_by_side(args.before, args.after, command, args.runs, env)
        lines.append(
            f"| `{label}` | {old[0] * 1000:.0f} ms ({old[1] * 1000:.0f}) | {new[0] * 1000:.0f} ms ({new[1] * 1000:.0f}) | {(new[1] - old[1]) * 1000:+.0f} ms |"
        )
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    lines[:0] = [
        f"`python benchmarks/cli_startup.py --before {args.before.name} --after {args.after.name} --runs {args.runs}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},",
        f"{os.cpu_count()} CPUs, load average at the end {load}; `before` = hfcheck {_described(args.before)}, `after` = hfcheck {_described(args.after)}.",
        f"Median of {args.runs} runs each, before and after alternating; wall time (CPU time user+sys).",
        "",
    ]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _described(venv: Path) -> str:
    """The install's version and the virtualenv's name (the caller's label for the build)."""
    return f"{installed_version(str(venv / 'bin' / 'python'), 'hfcheck')} in {venv.name}"


if __name__ == "__main__":
    main()
