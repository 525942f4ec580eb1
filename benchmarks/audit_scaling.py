"""Auditing a registry: N Hub targets on the local Hub test server, serial vs local jobs vs
Ray with N workers, and the Ray executor's own per-target overhead.

    python benchmarks/audit_scaling.py WORKDIR [--targets 2000] [--workers 1,2,4] [--noop 2000] [--log FILE]
    python benchmarks/audit_scaling.py --table-from LOG [--repeat LOG2 ...] [--out FILE]

The first form measures and writes one `# label: {...}` line per run to --log (default
WORKDIR/audit_scaling.log) and to stderr; the second prints the README block from such a
log (and a line for each --repeat run of the same command), with --out saves it
(benchmarks/results/audit_scaling.md, from benchmarks/results/audit_scaling_2000.log and
--repeat benchmarks/results/audit_scaling_2000_repeat.log) and scripts/update_readme.py puts --out's file into README.md between
its audit-bench markers (tests/test_audit.py checks that the README holds exactly the
saved block, and that the block is this script's output of the saved log).

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
    print(
        json.dumps(
            {
                "start_s": started - start,
                "audit_s": finished - started,
                "targets": len(records),
                "busy_s": sum(r["seconds"] for r in records),
            }
        )
    )


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far: other people's jobs included."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK"), sum(values) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, workers: int, argument: Path, env: dict, server_pid: int | None, noop: bool = False) -> dict:
    before = cpu_seconds(server_pid) if server_pid else 0.0
    busy_before, total_before = machine_busy()
    load_before = os.getloadavg()[0]
    command = [sys.executable, __file__, "--drive", mode, str(workers), str(argument)] + (["--noop-run"] if noop else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode:
        raise SystemExit(f"{mode} x{workers} failed:\n{result.stderr[-3000:]}")
    row = json.loads(result.stdout.strip().splitlines()[-1])
    row["server_cpu_s"] = (cpu_seconds(server_pid) - before) if server_pid else 0.0
    busy_after, total_after = machine_busy()
    # the whole machine's CPU use while this mode ran (in cores), and the load around it
    row["machine_cores_busy"] = (busy_after - busy_before) / max(total_after - total_before, 1e-9) * (os.cpu_count() or 1)
    row["load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    row["cpus"] = os.cpu_count()
    row["date"] = time.strftime("%Y-%m-%d")
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
    parser.add_argument("--log", type=Path, help="where the measured rows go (default WORKDIR/audit_scaling.log)")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(args.log or workdir / "audit_scaling.log", "w", encoding="utf-8")

    def record(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        print(line, file=log, flush=True)

    counts = [int(w) for w in args.workers.split(",")]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "HFCHECK_"))}
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(args.targets), str(workdir)], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        base.update(HF_ENDPOINT=url, HF_HUB_DISABLE_TELEMETRY="1")
        targets_file = workdir / "targets.txt"
        targets_file.write_text("".join(f"bench{i % 10}/model-{i}\n" for i in range(args.targets)))
        plan = (
            [("serial", "local", 1)]
            + [(f"local --jobs {n}", "local", n) for n in counts if n > 1]
            + [(f"ray, {n} CPUs", "ray", n) for n in counts]
        )
        rows = []
        for label, mode, workers in plan:
            row = measure(mode, workers, targets_file, fresh_env(base, workdir, label.replace(" ", "_").replace(",", "")), server.pid)
            rows.append((label, workers, row))
            record(f"# {label}: {row}")
        overhead = []
        if args.noop:
            for label, mode, workers in [("local (in-process)", "local", 1), ("ray, 1 CPU", "ray", 1), ("ray, 2 CPUs", "ray", 2)]:
                row = measure(mode, workers, workdir / str(args.noop), fresh_env(base, workdir, "noop"), None, noop=True)
                overhead.append((label, row))
                record(f"# overhead {label}: {row}")
    finally:
        server.kill()
        log.close()
    print(table(rows, overhead, args.targets))


def table(rows, overhead, count: int) -> str:
    """The README block: caption, scaling table, overhead table and what they say, all from
    the measured rows (nothing typed by hand)."""
    first = rows[0][2]
    serial = first["targets"] / first["audit_s"]
    cpus = first.get("cpus", os.cpu_count())
    loads = [x for _, _, row in rows for x in row.get("load", [])] + [x for _, row in overhead for x in row.get("load", [])]
    load = f", load average {min(loads):.1f} to {max(loads):.1f} while it ran" if loads else ""
    out = [
        f"{count} Hub targets on the local Hub test server, measured by `benchmarks/audit_scaling.py` on {first.get('date', '?')} on this",
        f"project's {cpus}-core machine while it was shared with 4 other sessions' builds and tests{load}: take the ratios, not",
        "the absolute rates. Every mode starts from an empty cache (each fetches every repo); the server is a process of its own.",
        "",
        f"| executor | targets/s | speed-up | check time per target | worker time not checking, per target | test server CPU (of one core) | machine CPU busy (of {cpus} cores) | start |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, workers, row in rows:
        rate = row["targets"] / row["audit_s"]
        # a worker slot's time spent outside check_one: the executor's own cost (and idling)
        idle = 1000 * (row["audit_s"] * workers - row["busy_s"]) / row["targets"]
        busy = f"{row['machine_cores_busy']:.1f}" if "machine_cores_busy" in row else "?"
        out.append(
            f"| {label} | {rate:.1f} | {rate / serial:.2f}x | {1000 * row['busy_s'] / row['targets']:.0f} ms | {idle:.1f} ms |"
            f" {100 * row['server_cpu_s'] / row['audit_s']:.0f}% | {busy} | {row['start_s']:.1f} s |"
        )
    if overhead:
        out += [
            "",
            "Executor overhead per target (targets that fail at once: nothing but the executor's own work):",
            "",
            "| executor | targets | per target |",
            "|---|---|---|",
        ]
        for label, row in overhead:
            out.append(f"| {label} | {row['targets']} | {1000 * row['audit_s'] / row['targets']:.2f} ms |")
    out += ["", *summary(rows, overhead, serial, cpus)]
    return "\n".join(out) + "\n"


def summary(rows, overhead, serial: float, cpus: int) -> list[str]:
    """What the tables say, as sentences computed from them."""
    best_label, _, best = max(rows, key=lambda r: r[2]["targets"] / r[2]["audit_s"])
    best_rate = best["targets"] / best["audit_s"]
    server = max(100 * row["server_cpu_s"] / row["audit_s"] for _, _, row in rows)
    # the server's own CPU per target: one core (one Python process) serves at most 1 s / that
    server_ms = 1000 * sum(row["server_cpu_s"] for _, _, row in rows) / sum(row["targets"] for _, _, row in rows)
    lines = [
        f"Fastest: {best_label}, {best_rate:.1f} targets/s ({best_rate / serial:.2f}x serial). The test server used at most {server:.0f}% of one core"
        f" ({server_ms:.1f} ms of CPU a target: its one core would saturate near {1000 / server_ms:.0f} targets/s), so it was never the limit here;",
        limit(rows[0][2], cpus),
    ]
    ray_costs = [1000 * row["audit_s"] / row["targets"] for label, row in overhead if label.startswith("ray")]
    starts = [row["start_s"] for label, _, row in rows if label.startswith("ray")]
    if ray_costs:
        lines.append(f"The Ray executor's own cost is {min(ray_costs):.2f}-{max(ray_costs):.2f} ms per target (goal: under 5 ms).")
    if starts:
        lines.append(f"A local Ray cluster took {min(starts):.1f}-{max(starts):.1f} s to start, not counted in the rates.")
    return lines


def limit(serial_row: dict, cpus: int) -> str:
    busy = serial_row.get("machine_cores_busy")
    if busy is not None and busy >= 0.9 * cpus:
        return (
            f"the {cpus} cores were: already {busy:.1f} busy during the serial run (other sessions' jobs with it), so more worker"
            " processes win a larger share of contended cores, and speed-ups past the core count measure that share as much as scaling."
        )
    return f"the {cpus} cores were: workers past the core count share them."


def read_log(log: Path) -> tuple[list, list]:
    """The (label, workers, row) and (label, row) overhead rows of a measuring run's log."""
    import ast

    measured, noop_rows = [], []
    for line in log.read_text(encoding="utf-8").splitlines():
        label, _, row = line[2:].partition(": ")
        if line.startswith("# overhead "):
            noop_rows.append((label[len("overhead ") :], ast.literal_eval(row)))
        elif line.startswith("# "):
            workers = 1 if label == "serial" else int(label.split()[-1] if "jobs" in label else label.split()[1])
            measured.append((label, workers, ast.literal_eval(row)))
    return measured, noop_rows


def table_from(log: Path, repeats: list[Path] = ()) -> str:
    """table() again from a measuring run's log, and a line per repeat run of the same
    command (the spread between runs on a shared machine is part of the result)."""
    measured, noop_rows = read_log(log)
    block = table(measured, noop_rows, measured[0][2]["targets"])
    for repeat in repeats:
        rows, overhead = read_log(repeat)
        rates = ", ".join(f"{label} {row['targets'] / row['audit_s']:.1f}" for label, _, row in rows)
        costs = [1000 * row["audit_s"] / row["targets"] for label, row in overhead if label.startswith("ray")]
        loads = [x for _, _, row in rows for x in row.get("load", [])]
        block += (
            f"\nA repeat of the same command ({repeat.name}, load average {min(loads):.1f} to {max(loads):.1f}), targets/s: {rates};"
            f" the Ray executor's own cost {min(costs):.2f}-{max(costs):.2f} ms per target.\n"
        )
    return block


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table-from"]:
        repeats = [Path(sys.argv[i + 1]) for i, arg in enumerate(sys.argv) if arg == "--repeat"]
        block = table_from(Path(sys.argv[2]), repeats)
        if "--out" in sys.argv[3:]:
            Path(sys.argv[sys.argv.index("--out") + 1]).write_text(block, encoding="utf-8")
        print(block, end="")
    elif sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1:2] == ["--drive"]:
        drive(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), "--noop-run" in sys.argv)
    else:
        main()
