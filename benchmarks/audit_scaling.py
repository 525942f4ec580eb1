"""Auditing a registry: N Hub targets on the local Hub test server, serial vs local jobs vs
Ray with N workers, and the Ray executor's own per-target overhead.

    python benchmarks/audit_scaling.py WORKDIR [--targets 2000] [--workers 1,2,4] [--noop 2000]

The Hub test server (tests/hub/hubserver.py) runs in its own process serving --targets
repos (three real variants of the tiny-llama fixture: clean, broken config, no card); its
CPU time per run says when it, not hfcheck, is the bottleneck. Every mode runs in a fresh
process with an empty cache, so each one fetches every repo. Ray's cluster start is timed
apart from the audit. The overhead rows run targets that fail at once (missing local
paths): what is left is the executor's own cost per target. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("clean", "broken-config", "no-card")


def serve(count: int, workdir: Path) -> None:
    """Child: the Hub test server with `count` repos; prints its URL, serves until killed."""
    import shutil

    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "hub")]
    from hubserver import FakeHub

    fixtures = ROOT / "fixtures" / "repos"
    no_card = workdir / "no-card"
    if not no_card.exists():
        shutil.copytree(fixtures / "tiny-llama", no_card)
        (no_card / "README.md").unlink()
    folders = [fixtures / "tiny-llama", fixtures / "tiny-llama-broken-config", no_card]
    hub = FakeHub()
    for index in range(count):
        hub.add(f"bench{index % 10}/model-{index}", folders[index % 3])
    hub.start()
    print(hub.url, flush=True)
    while True:
        time.sleep(3600)


def drive(mode: str, workers: int, targets_file: Path, noop: bool) -> None:
    """Child: one audit, timed inside; prints {"start_s", "audit_s", "targets", "busy_s"}."""
    from hfcheck.audit import AuditTarget, LocalExecutor, RayExecutor, audit, read_targets

    if noop:
        targets = [AuditTarget(f"./missing-{i}", i) for i in range(int(targets_file.name))]
    else:
        targets = read_targets(targets_file.read_text().splitlines(), str(targets_file))
    start = time.perf_counter()
    if mode == "ray":
        import ray

        hub_vars = {k: v for k, v in os.environ.items() if k.startswith("HF_")}
        ray.init(num_cpus=workers, runtime_env={"env_vars": hub_vars}, include_dashboard=False, log_to_driver=False)
        executor = RayExecutor()
        # the workers' own start (a process each, the hfcheck import) is cluster start, not audit
        warm = [AuditTarget(f"./warm-{i}", i) for i in range(workers * 2)]
        list(audit(warm, executor=executor))
    else:
        executor = LocalExecutor(workers)
    started = time.perf_counter()
    records = list(audit(targets, executor=executor))
    finished = time.perf_counter()
    errors = sum(r["error"] is not None for r in records)
    assert len(records) == len(targets) and (noop or errors == 0), f"{errors} errors: {[r['error'] for r in records if r['error']][:3]}"
    print(json.dumps({"start_s": started - start, "audit_s": finished - started, "targets": len(records), "busy_s": sum(r["seconds"] for r in records)}))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, workers: int, argument: Path, env: dict, server_pid: int | None, noop: bool = False) -> dict:
    before = cpu_seconds(server_pid) if server_pid else 0.0
    command = [sys.executable, __file__, "--drive", mode, str(workers), str(argument)] + (["--noop-run"] if noop else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise SystemExit(f"{mode} x{workers} failed:\n{result.stderr[-3000:]}")
    row = json.loads(result.stdout.strip().splitlines()[-1])
    row["server_cpu_s"] = (cpu_seconds(server_pid) - before) if server_pid else 0.0
    return row


def fresh_env(base: dict, workdir: Path, label: str) -> dict:
    home = workdir / "homes" / label
    return {**base, "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"), "HFCHECK_CACHE": str(home / "hfcheck")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts for local jobs and Ray")
    parser.add_argument("--noop", type=int, default=2000, help="instant-fail targets for the executor overhead rows (0: skip)")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    counts = [int(w) for w in args.workers.split(",")]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "HFCHECK_"))}
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(args.targets), str(workdir)], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        base.update(HF_ENDPOINT=url, HF_HUB_DISABLE_TELEMETRY="1")
        targets_file = workdir / "targets.txt"
        targets_file.write_text("".join(f"bench{i % 10}/model-{i}\n" for i in range(args.targets)))
        plan = [("serial", "local", 1)] + [(f"local --jobs {n}", "local", n) for n in counts if n > 1] + [(f"ray, {n} CPUs", "ray", n) for n in counts]
        rows = []
        for label, mode, workers in plan:
            row = measure(mode, workers, targets_file, fresh_env(base, workdir, label.replace(" ", "_").replace(",", "")), server.pid)
            rows.append((label, workers, row))
            print(f"# {label}: {row}", file=sys.stderr, flush=True)
        overhead = []
        if args.noop:
            for label, mode, workers in [("local (in-process)", "local", 1), ("ray, 1 CPU", "ray", 1), ("ray, 2 CPUs", "ray", 2)]:
                row = measure(mode, workers, workdir / str(args.noop), fresh_env(base, workdir, "noop"), None, noop=True)
                overhead.append((label, row))
                print(f"# overhead {label}: {row}", file=sys.stderr, flush=True)
    finally:
        server.kill()
    print(table(rows, overhead, args.targets))


def table(rows, overhead, count: int) -> str:
    serial = rows[0][2]["targets"] / rows[0][2]["audit_s"]
    out = [
        f"{count} Hub targets on the local Hub test server (`benchmarks/audit_scaling.py`, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs):",
        "",
        "| executor | targets/s | speed-up | check time per target | worker time not checking, per target | test server CPU (of one core) | start |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, workers, row in rows:
        rate = row["targets"] / row["audit_s"]
        # a worker slot's time spent outside check_one: the executor's own cost (and idling)
        idle = 1000 * (row["audit_s"] * workers - row["busy_s"]) / row["targets"]
        out.append(
            f"| {label} | {rate:.1f} | {rate / serial:.2f}x | {1000 * row['busy_s'] / row['targets']:.0f} ms | {idle:.1f} ms |"
            f" {100 * row['server_cpu_s'] / row['audit_s']:.0f}% | {row['start_s']:.1f} s |"
        )
    if overhead:
        out += ["", "Executor overhead per target (targets that fail at once: nothing but the executor's own work):", "", "| executor | targets | per target |", "|---|---|---|"]
        for label, row in overhead:
            out.append(f"| {label} | {row['targets']} | {1000 * row['audit_s'] / row['targets']:.2f} ms |")
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table-from"]:
        # the table again from the `# label: {...}` lines a run printed on stderr
        import ast

        measured, noop_rows = [], []
        for line in Path(sys.argv[2]).read_text().splitlines():
            label, _, row = line[2:].partition(": ")
            if line.startswith("# overhead "):
                noop_rows.append((label[len("overhead ") :], ast.literal_eval(row)))
            elif line.startswith("# "):
                workers = 1 if label == "serial" else int(label.split()[-1] if "jobs" in label else label.split()[1])
                measured.append((label, workers, ast.literal_eval(row)))
        print(table(measured, noop_rows, measured[0][2]["targets"]))
    elif sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1:2] == ["--drive"]:
        drive(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), "--noop-run" in sys.argv)
    else:
        main()
