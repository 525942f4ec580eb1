"""Start-up and check time of two hfcheck installs side by side (issue #20: the CLI on
click, plugins through importlib.metadata). The result cache has its own benchmark
(benchmarks/cache_monorepo.py).

    python benchmarks/cli_startup.py --before VENV1 --after VENV2 [--runs 15] [--dir DIR] [--out FILE]

Inputs (built once under --dir): the tiny-llama fixture (a small repo); ckpt-2gb, a real
~2 GB torch.save checkpoint (16 x 128 MiB float32, as benchmarks/run_all.py builds it,
with the `after` interpreter's torch); llama70b-pt, a Llama-3-70B-shaped repo of 30 sparse
torch.save shards plus its index (benchmarks/sparse_70b.py).
The runs of `before`, `before` with click imported first (the old build's work plus the
CLI library's import: what the new build costs beyond click) and `after` alternate, so
load on the machine hits them alike; each figure is the median of a child process; `after`
runs with --no-cache. All use one bytecode cache (PYTHONPYCACHEPREFIX under --dir), warmed
up before timing. Last, the pickle scanner alone: scan_file over the 2 GB `.bin` and over
the 30 shards, in one process of each build.
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


# The old build run with click imported first: the same work plus what importing click
# costs, so that `after` against it shows what the new check path costs beyond its CLI
# library (the design names click; its import is a fixed cost no rewrite of ours removes).
WITH_CLICK = "import sys, click; sys.argv = ['hfcheck', *sys.argv[1:]]; from hfcheck.cli import main; sys.exit(main())"

# The pickle scanner alone, in one process (file reads warm): the part of a check that
# issue #15 rewrote; both builds expose scan_file, in their own module.
SCAN_ONLY = """
import sys, time, statistics
try:
    from hfcheck.formats.pickle.scan import scan_file
except ImportError:
    from hfcheck.formats.pickle_scan import scan_file
paths, runs = sys.argv[2:], int(sys.argv[1])
for path in paths:
    scan_file(path)
times = []
for _ in range(runs):
    start = time.perf_counter()
    for path in paths:
        scan_file(path)
    times.append(time.perf_counter() - start)
print(statistics.median(times))
"""


def side_by_side(before: Path, after: Path, args: list[str], runs: int, env: dict) -> dict[str, tuple]:
    """Median (wall, CPU) of `before`, `before` with click imported first, and `after`."""
    times: dict[str, list] = {"before": [], "before + click": [], "after": []}
    extra = [] if args == ["--version"] else ["--no-cache"]
    for _ in range(runs):
        times["before"].append(timed([str(before / "bin" / "hfcheck"), *args], env))
        times["before + click"].append(timed([str(before / "bin" / "python"), "-P", "-c", WITH_CLICK, *args], env))
        times["after"].append(timed([str(after / "bin" / "hfcheck"), *args, *extra], env))
    return {label: medians(samples) for label, samples in times.items()}


def scan_only(install: Path, paths: list[Path], runs: int, env: dict) -> float:
    out = subprocess.run(
        [str(install / "bin" / "python"), "-P", "-c", SCAN_ONLY, str(runs), *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="virtualenv of the old hfcheck")
    parser.add_argument("--after", type=Path, required=True, help="virtualenv of the new hfcheck")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "hfcheck-bench")
    parser.add_argument("--out", type=Path, help="also write the report here (benchmarks/results/cli_startup.md feeds the README)")
    args = parser.parse_args()
    # -P: the current folder (a source tree of hfcheck, perhaps) is not put on sys.path
    if subprocess.run([str(args.before / "bin" / "python"), "-P", "-c", "import click"], capture_output=True).returncode:
        parser.error(f"click cannot be imported in {args.before}: `before + click` needs it (pip install click there)")
    paths = build(args.dir, str(args.after / "bin" / "python"))
    # One bytecode cache for both installs, outside their trees (a source tree that cannot
    # hold __pycache__ would otherwise compile every module on every run), warmed up first.
    env = {k: v for k, v in os.environ.items() if k not in ("HFCHECK_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPYCACHEPREFIX"] = str(args.dir / "pycache")
    for install in (args.before, args.after):
        for target in paths.values():
            timed([str(install / "bin" / "hfcheck"), str(target)], {**env, "HFCHECK_CACHE_DIR": str(args.dir / "warm-up-cache")})
    lines = [
        "| command | before | before + click import | after | after / before | after / (before + click) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, command in (
        ("hfcheck --version", ["--version"]),
        ("hfcheck tiny-llama (small repo)", [str(paths["tiny-llama"])]),
        ("hfcheck ckpt-2gb/pytorch_model.bin (2 GB .bin)", [str(paths["ckpt-2gb"])]),
        ("hfcheck llama70b-pt (30 sparse .bin shards)", [str(paths["llama70b-pt"])]),
    ):
        m = side_by_side(args.before, args.after, command, args.runs, env)
        old, with_click, new = m["before"], m["before + click"], m["after"]
        lines.append(
            f"| `{label}` | {_ms(old)} | {_ms(with_click)} | {_ms(new)} | {new[1] / old[1]:.2f}x | {new[1] / with_click[1]:.2f}x |"
        )
    shards = sorted(paths["llama70b-pt"].glob("*.bin"))
    scans = ["", "| pickle scan alone, in one process (warm) | before | after | after / before |", "| --- | --- | --- | --- |"]
    for label, files in (("2 GB `.bin`", [paths["ckpt-2gb"]]), ("30 sparse 70B `.bin` shards", shards)):
        old_scan, new_scan = scan_only(args.before, files, args.runs, env), scan_only(args.after, files, args.runs, env)
        scans.append(f"| {label} | {old_scan * 1000:.1f} ms | {new_scan * 1000:.1f} ms | {new_scan / old_scan:.2f}x |")
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    lines[:0] = [
        f"`python benchmarks/cli_startup.py --before {args.before.name} --after {args.after.name} --runs {args.runs}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},",
        f"{os.cpu_count()} CPUs, load average at the end {load}; `before` = hfcheck {_described(args.before)}, `after` = hfcheck {_described(args.after)}.",
        f"Median of {args.runs} runs each, the three alternating; wall time (CPU time user+sys); the ratios are of CPU time.",
        "",
    ]
    lines += scans
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _ms(sample: tuple[float, float]) -> str:
    return f"{sample[0] * 1000:.0f} ms ({sample[1] * 1000:.0f})"


def _described(venv: Path) -> str:
    """The install's version and the virtualenv's name (the caller's label for the build)."""
    return f"{installed_version(str(venv / 'bin' / 'python'), 'hfcheck')} in {venv.name}"


if __name__ == "__main__":
    main()
