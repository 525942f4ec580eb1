"""The result cache on a large monorepo: uncached, cold, warm and one-file-changed runs.

    python benchmarks/cache_monorepo.py WORKDIR [--runs 3] [--st 4] [--pt 4] [--tiny 40]
    python benchmarks/cache_monorepo.py --table-from benchmarks/results/cache_monorepo.json

Builds (once, in WORKDIR/monorepo) a repo of many model units: `--st` Llama-3-70B-shaped
repos of 30 sparse safetensors shards and `--pt` of 30 sparse torch.save zip shards
(benchmarks/sparse_70b.py, ~141 GB apparent each), `--tiny` tiny Llamas (the fixture, real
tokenizer and weights), the real ~2 GB torch.save checkpoint of WORKDIR/ckpt-2gb (hard
linked, else copied; built by run_all.py) and the service fixture (Dockerfile, serve.py
loading its model). Every file is dated an hour back (a checkout older than the racy window).

Each round, with an empty cache folder: `uncached` (--no-cache), `cold` (fills the cache),
`warm` (nothing changed), `one config changed` (a tiny model's config.json edited),
then, after the edit has aged and an untimed run stored its unit, `one shard changed` (one
torch.save shard of a 70B repo rewritten with the same bytes: a new inode and mtime, so it
is read and scanned again). Each command is a whole process;
the figure is the median wall time over --runs rounds and the CPU time (user+sys) of the
child. Bytes read: one more round under `strace -e trace=read,pread64` (not timed), summing
what the process read from files under the monorepo, and from the cache folder. The JSON
written with --json holds every figure; --table-from prints the table from it;
scripts/update_readme.py writes it between the cache-bench markers of README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sparse_70b import LLAMA_3_70B, write_sparse_repo  # noqa: E402

FIXTURES = HERE.parent / "fixtures" / "repos"
SCENARIOS = ("uncached", "cold", "warm", "one config changed", "one shard changed")


def build(workdir: Path, st: int, pt: int, tiny: int) -> Path:
    root = workdir / "monorepo"
    done = root / ".built"
    if done.exists() and done.read_text() == f"{st} {pt} {tiny}":
        return root
    shutil.rmtree(root, ignore_errors=True)
    for index in range(st):
        write_sparse_repo(root / "models" / f"llama70b-st-{index}", LLAMA_3_70B, shards=30)
    for index in range(pt):
        write_sparse_repo(root / "models" / f"llama70b-pt-{index}", LLAMA_3_70B, shards=30, pickle=True)
    for index in range(tiny):
        shutil.copytree(FIXTURES / "tiny-llama", root / "models" / f"tiny-{index:03d}")
    checkpoint = workdir / "ckpt-2gb" / "pytorch_model.bin"
    if checkpoint.exists():
        (root / "models" / "ckpt-2gb").mkdir(parents=True)
        try:
            os.link(checkpoint, root / "models" / "ckpt-2gb" / "pytorch_model.bin")
        except OSError:
            shutil.copyfile(checkpoint, root / "models" / "ckpt-2gb" / "pytorch_model.bin")
    shutil.copytree(FIXTURES / "service-repo", root / "service")
    done.write_text(f"{st} {pt} {tiny}")
    return root


def backdate(root: Path) -> None:
    past = time.time() - 3600
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (past, past))


def edit_config(root: Path) -> None:
    config = root / "models" / "tiny-000" / "config.json"
    data = json.loads(config.read_text())
    data["max_position_embeddings"] += 1  # a change whatever ran before (same size, as often)
    config.write_text(json.dumps(data, indent=2))


def rewrite_shard(root: Path) -> None:
    shard = next(iter(sorted((root / "models").glob("llama70b-pt-*/pytorch_model-00001-of-00030.bin"))), None)
    if shard is None:
        return
    moved = shard.with_suffix(".tmp")
    subprocess.run(["cp", "--sparse=always", str(shard), str(moved)], check=True)
    os.replace(moved, shard)


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{command} exited with {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


READ = re.compile(r"^\d+\s+(?:read|pread64)\((\d+)<([^>]*)>, .*\) = (\d+)$")


def bytes_read(command: list[str], env: dict, root: Path, cache: Path) -> dict:
    """Bytes and files the process read under the repo and under the cache folder."""
    with tempfile.NamedTemporaryFile(suffix=".strace") as log:
        subprocess.run(
            ["strace", "-f", "-qq", "-s", "0", "-y", "-e", "trace=read,pread64", "-o", log.name, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        lines = Path(log.name).read_text(errors="replace").splitlines()
    figures = {"repo_bytes": 0, "repo_files": set(), "cache_bytes": 0}
    repo, cached = str(root.resolve()) + "/", str(cache.resolve()) + "/"
    for line in lines:
        match = READ.match(line)
        if not match:
            continue
        path, count = match.group(2), int(match.group(3))
        if path.startswith(repo):
            figures["repo_bytes"] += count
            figures["repo_files"].add(path)
        elif path.startswith(cached):
            figures["cache_bytes"] += count
    figures["repo_files"] = len(figures["repo_files"])
    return figures


def one_round(hfcheck: list[str], root: Path, measure) -> dict:
    cache = Path(tempfile.mkdtemp(prefix="hfcheck-cache-monorepo-"))
    env = {**os.environ, "HFCHECK_CACHE_DIR": str(cache)}
    command = [*hfcheck, str(root), "--fail-on", "never", "--format", "json"]
    backdate(root)
    results = {"uncached": measure(command + ["--no-cache"], env, cache)}
    results["cold"] = measure(command, env, cache)
    results["warm"] = measure(command, env, cache)
    edit_config(root)
    results["one config changed"] = measure(command, env, cache)
    # time passes: the edit leaves the racy window and an untimed run stores its unit, so
    # the next row measures the shard alone
    backdate(root)
    timed(command, env)
    rewrite_shard(root)
    results["one shard changed"] = measure(command, env, cache)
    shutil.rmtree(cache, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path, nargs="?")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--st", type=int, default=4)
    parser.add_argument("--pt", type=int, default=4)
    parser.add_argument("--tiny", type=int, default=40)
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument(
        "--before-src",
        type=Path,
        help="a source tree of another hfcheck commit (`git archive COMMIT | tar -x -C DIR`): its CLI runs the same rounds, interleaved",
    )
    parser.add_argument("--table-from", type=Path, help="print the table of an earlier --json")
    args = parser.parse_args()
    if args.table_from:
        table = render(json.loads(args.table_from.read_text()))
        print(table)
        return
    if args.workdir is None:
        parser.error("WORKDIR is required unless --table-from is given")
    hfcheck = [shutil.which("hfcheck") or sys.exit("hfcheck is not installed")]
    before = _source_cli(args.before_src) if args.before_src else None
    root = build(args.workdir, args.st, args.pt, args.tiny)
    files = [p for p in root.rglob("*") if p.is_file()]
    rounds, before_rounds = [], []
    for _ in range(args.runs):
        rounds.append(one_round(hfcheck, root, lambda c, e, _: timed(c, e)))
        if before:
            before_rounds.append(one_round(before, root, lambda c, e, _: timed(c, e)))
    strace = shutil.which("strace")
    reads = one_round(hfcheck, root, lambda c, e, cache: bytes_read(c, e, root, cache)) if strace else None
    data = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": f"python benchmarks/cache_monorepo.py WORKDIR --runs {args.runs} --st {args.st} --pt {args.pt} --tiny {args.tiny}"
        + (" --before-src DIR" if before else ""),
        "repo": {
            "files": len(files),
            "apparent_gb": round(sum(p.stat().st_size for p in files) / 1e9, 1),
            "units": args.st + args.pt + args.tiny + 2,
        },
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
        "wall": {name: statistics.median(r[name][0] for r in rounds) for name in SCENARIOS},
        "cpu": {name: statistics.median(r[name][1] for r in rounds) for name in SCENARIOS},
        "reads": reads,
    }
    if before:
        data["before"] = {
            "source": _describe(args.before_src),
            "cpu": {name: statistics.median(r[name][1] for r in before_rounds) for name in SCENARIOS},
        }
    if args.json:
        args.json.write_text(json.dumps(data, indent=1) + "\n")
    print(render(data))


def _source_cli(source: Path) -> list[str]:
    """The CLI of an hfcheck source tree, run by this interpreter (its dependencies): rules/
    is linked where the installed package has it (hfcheck.rules)."""
    link = source / "hfcheck" / "rules"
    if not link.exists():
        link.symlink_to(Path("..") / "rules")
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(source)!r}); from hfcheck.__main__ import run; run()"]


def _describe(source: Path) -> str:
    stamp = source / "COMMIT"  # written by the caller, if at all
    return stamp.read_text().strip() if stamp.exists() else source.name


def render(data: dict) -> str:
    repo, wall, cpu, reads = data["repo"], data["wall"], data["cpu"], data.get("reads")
    before = data.get("before")
    lines = [
        f"Measured by `{data['command']}` on {data['date']} ({data['cpus']} CPUs, load average {data['load']:.1f} at the end):",
        f"a monorepo of {repo['units']} units, {repo['files']} files, {repo['apparent_gb']} GB apparent (sparse 70B shards).",
        "Median wall time (CPU time of the process); bytes read from the repo's files and from the cache (strace, one more round).",
        "",
        "| run | wall | CPU | CPU vs uncached | read from the repo | files read | read from the cache |"
        + (f" CPU, {before['source']} |" if before else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if before else ""),
    ]
    for name in SCENARIOS:
        row = reads.get(name) if reads else None
        read = f"{_size(row['repo_bytes'])} | {row['repo_files']} | {_size(row['cache_bytes'])}" if row else "| |"
        old = f" {before['cpu'][name] * 1000:.0f} ms |" if before else ""
        lines.append(
            f"| {name} | {wall[name] * 1000:.0f} ms | {cpu[name] * 1000:.0f} ms | {cpu[name] / cpu['uncached']:.2f} | {read} |{old}"
        )
    return "\n".join(lines) + "\n"


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.0f} KiB"


if __name__ == "__main__":
    main()
