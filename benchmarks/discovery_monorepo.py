"""Discovery on a synthetic monorepo: 200 models among 100k other files, and 10x the files.

    python benchmarks/discovery_monorepo.py WORKDIR [--models 200] [--files 10000 100000] [--runs 3]

Each tree holds MODELS copies of the tiny-llama fixture under models/, a service that
loads a tenth of them (serve.py, Dockerfile, requirements.txt), a `.git` and a
`node_modules` (each a tenth of the other files: never walked), and the rest of the
other files as source and data files in nested folders (walked, classified, none a
model). For each size it prints the median time of discovery alone (the walk + units +
links, in-process) and of a whole `hfcheck --select HFC,DMP` run (a child process), so
"linear in files" can be read off the 10x step.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _timing import median_run  # noqa: E402

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "repos" / "tiny-llama"


def build(root: Path, models: int, files: int) -> Path:
    if (root / ".built").exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    for index in range(models):
        shutil.copytree(FIXTURE, root / "models" / f"m{index:03d}")
    service = root / "services" / "chat"
    service.mkdir(parents=True)
    loads = "\n".join(f'm{i} = AutoModelForCausalLM.from_pretrained("/models/m{i:03d}")' for i in range(0, models, 10))
    (service / "serve.py").write_text(f"from transformers import AutoModelForCausalLM\n{loads}\n")
    (service / "Dockerfile").write_text("FROM python:3.11\nCOPY ../../models /models\nCOPY serve.py /app/\n")
    (service / "requirements.txt").write_text("transformers==4.46.3\n")
    skipped = files // 10
    _spray(root / ".git" / "objects", skipped, ".pack")
    _spray(root / "node_modules", skipped, ".js")
    _spray(root / "src", files - 2 * skipped, ".txt")
    (root / ".built").write_text("")
    return root


def _spray(base: Path, count: int, suffix: str) -> None:
    """count small files, 100 per folder, two levels deep."""
    for index in range(count):
        folder = base / f"d{index // 10000}" / f"e{(index // 100) % 100}"
        if index % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index % 100}{suffix}").write_bytes(b"x")


def time_discovery(root: Path, runs: int) -> tuple[float, int, int]:
    from hfcheck.discovery import discover
    from hfcheck.repo import RepoView

    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        view = RepoView(root)
        found = discover(view)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    # CPU seconds as well as wall: on a shared machine the wall time mostly measures the neighbours
    return statistics.median(times), statistics.median(cpu), len(view.files), len(found.units)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--files", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-check", action="store_true", help="time discovery only, not a whole hfcheck run")
    args = parser.parse_args()
    rows = []
    for files in args.files:
        root = build(args.workdir / f"mono-{args.models}-{files}", args.models, files)
        seconds, cpu, walked, units = time_discovery(root, args.runs)
        line = f"{args.models} models + {files} other files: {walked} files walked, {units} units; discovery {seconds:.2f} s wall, {cpu:.2f} s CPU"
        check_seconds = float("nan")
        if not args.no_check:
            command = [sys.executable, "-m", "hfcheck", str(root), "--select", "HFC,DMP", "-q"]
            check_seconds, rss = median_run(command, max(1, args.runs // 2))
            line += f"; hfcheck --select HFC,DMP {check_seconds:.2f} s, {rss:.0f} MiB"
        rows.append((files, walked, seconds, cpu, check_seconds))
        print(line, flush=True)
    if len(rows) > 1:
        (f0, w0, s0, p0, c0), (f1, w1, s1, p1, c1) = rows[0], rows[-1]
        print(
            f"{f1 / f0:.0f}x other files ({w1 / w0:.1f}x files walked): discovery {s1 / s0:.1f}x wall, {p1 / p0:.1f}x CPU; whole run {c1 / c0:.1f}x"
        )


if __name__ == "__main__":
    main()
