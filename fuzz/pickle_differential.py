"""Long differential-fuzzing runs of hfcheck's pickle verdicts against the loader oracle.

    python fuzz/pickle_differential.py --workers 16 --executions 100000 --seed 1 \
        --out fuzz/findings --log fuzz/logs/run.json

For each loader it derives inputs from real checkpoints and canary payloads (opcode- and
byte-level mutations, container re-wrapping; see tests/differential.py), loads each under the
real loader in the oracle (child process, audit hook, stopped before any side effect) and
checks the property: whenever the loader resolves a global outside the allowlist or reaches a
side effect, hfcheck reports an error on the file. Untrusted bytes are never loaded in this
process or in its workers, only in the oracle's children.

`--workers N` runs N processes. Each takes an equal share of every loader's `--executions`
and draws its inputs from its own seed stream per loader (a hash of seed, N, worker and
loader), so a run is deterministic for a given --seed and --workers. A worker goes round the
loaders in rounds of a few dozen executions, so all loaders advance together and a
`--time-limit` cuts every loader alike. Every few seconds the parent prints executions and
executions/s per loader and rewrites the JSON log (--log): executions, loads, disagreements
found and open at the end per loader, where the time per execution goes (mutation, oracle,
scanner), machine, versions and wall time; benchmarks/security_figures.py reads it. Each
distinct disagreement (by loader and what the oracle saw) is minimised by the worker that
found it and written to --out as JSON (hex bytes, recipe, what the oracle saw); at the end
the parent checks each one against the scanner again, and the run exits 1 while any is open.

    python fuzz/pickle_differential.py --engine atheris --loaders torch -- -atheris_runs=20000

runs the same property under atheris instead (serially), guided by the coverage of hfcheck's
scanner (instrumented at import): the fuzzer's bytes choose the seed and the mutation stream,
and a third of the inputs are the fuzzer's raw bytes as the pickle stream itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import platform
import queue
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from differential import FUZZ_LOADERS, DifferentialRun, hfcheck_errors  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loaders", nargs="+", default=list(FUZZ_LOADERS), choices=FUZZ_LOADERS)
    parser.add_argument("--executions", type=int, default=100_000, help="per loader, all workers together")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="processes; 0 for one per CPU")
    parser.add_argument("--round", type=int, default=50, help="executions of one loader before a worker moves to the next")
    parser.add_argument("--time-limit", type=float, default=0, help="seconds; stop every worker after its current round (0: none)")
    parser.add_argument("--progress", type=float, default=10, help="seconds between progress lines")
    parser.add_argument("--out", type=Path, default=Path("fuzz/findings"))
    parser.add_argument("--log", type=Path, help="the run's JSON log (default: OUT/log-seedS-wN.json)")
    parser.add_argument("--machine", default="", help="a words-only description of the machine, for the log")
    parser.add_argument("--commit", default="", help="the commit of the code under test, for the log")
    parser.add_argument(
        "--oracle-timeout",
        type=float,
        default=5.0,
        help="seconds for one load; a load that runs out restarts its oracle child (a load takes milliseconds; a timeout is a lost observation either way)",
    )
    parser.add_argument("--minimise-budget", type=int, default=400)
    parser.add_argument(
        "--minimise-max", type=int, default=40, help="distinct disagreements minimised per loader and worker; the rest are saved as found"
    )
    parser.add_argument("--chunk", type=int, default=2_000, help="atheris: executions between progress lines")
    parser.add_argument("--engine", choices=("random", "atheris"), default="random")
    args, engine_args = parser.parse_known_args()
    if args.engine == "atheris":
        return _atheris(args, engine_args)
    args.workers = args.workers or os.cpu_count() or 1
    args.log = args.log or args.out / f"log-seed{args.seed}-w{args.workers}.json"
    return _parallel(args)


# ------------------------------------------------------------------ workers


def stream_seed(seed: int, workers: int, worker: int, loader: str) -> int:
    """The seed of one worker's input stream for one loader."""
    digest = hashlib.sha256(f"hfcheck-differential/{seed}/{workers}/{worker}/{loader}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def shares(total: int, workers: int) -> list[int]:
    return [total // workers + (k < total % workers) for k in range(workers)]


def signature_key(signature: tuple) -> str:
    return f"{signature[0]}-{hashlib.sha256(repr(signature).encode()).hexdigest()[:10]}"


def _record(found, small: bytes) -> dict:
    return {
        "key": signature_key(found.signature),
        "loader": found.loader,
        "name": found.name,
        "recipe": found.recipe,
        "oracle": found.oracle,
        "globals": [list(g) for g in found.observation.globals],
        "side_effects": found.observation.side_effects,
        "hex": small.hex(),
        "original_size": len(found.data),
    }


def _snapshot(run: DifferentialRun) -> dict:
    stats = run.stats
    return {
        "executions": dict(stats.executions),
        "completed_loads": dict(stats.completed_loads),
        "oracle_dangerous": dict(stats.oracle_dangerous),
        "unimportable_only": dict(stats.unimportable_only),
        "disagreements": dict(Counter(d.loader for d in stats.disagreements)),
        "hfcheck_calls": stats.hfcheck_calls,
        "recycled": {loader: w.recycled for loader, w in run.workers.items()},
        "restarts": {loader: w.restarts for loader, w in run.workers.items()},
        "seconds": stats.seconds,
    }


def _worker(index: int, settings: dict, events) -> None:
    """One worker: its share of every loader, round by round, reported to the parent."""
    args = argparse.Namespace(**settings)
    left = {loader: shares(args.executions, args.workers)[index] for loader in args.loaders}
    streams = {loader: random.Random(stream_seed(args.seed, args.workers, index, loader)) for loader in args.loaders}
    found, minimised = [], Counter()
    with tempfile.TemporaryDirectory() as scratch:
        run = DifferentialRun(Path(scratch), on_disagreement=found.append, oracle_timeout=args.oracle_timeout)
        try:
            while any(left.values()) and time.time() < args.deadline:
                for loader in args.loaders:
                    step = min(args.round, left[loader])
                    if step:
                        run.run(loader, step, streams[loader])
                        left[loader] -= step
                    while found:
                        new = found.pop(0)
                        minimised[new.loader] += 1
                        small = run.minimise(new, budget=args.minimise_budget) if minimised[new.loader] <= args.minimise_max else new.data
                        events.put(("disagreement", index, _record(new, small)))
                events.put(("progress", index, _snapshot(run)))
        finally:
            run.close()
    events.put(("done", index, _snapshot(run)))


# ------------------------------------------------------------------ the parent


class _Tally:
    """What the workers reported, merged: their latest snapshots and the distinct disagreements."""

    def __init__(self, args):
        self.args = args
        self.snapshots: dict[int, dict] = {}
        self.records: dict[str, dict] = {}
        self.done: set[int] = set()
        self.failed: dict[int, str] = {}
        self.started = time.monotonic()
        self.started_utc = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def total(self, field: str, loader: str) -> int:
        return sum(s[field].get(loader, 0) for s in self.snapshots.values())

    def add(self, kind: str, index: int, payload: dict) -> None:
        if kind == "disagreement":
            if payload["key"] not in self.records:
                self.records[payload["key"]] = payload
                (self.args.out / f"{payload['key']}.json").write_text(json.dumps(payload, indent=1))
                print(
                    f"DISAGREEMENT {payload['key']}: {payload['loader']} {payload['name']}: oracle {payload['oracle']}; "
                    f"hfcheck clean; {payload['recipe']} (minimised {payload['original_size']} -> {len(payload['hex']) // 2} bytes)",
                    flush=True,
                )
            return
        self.snapshots[index] = payload
        if kind == "done":
            self.done.add(index)

    def progress(self) -> None:
        elapsed = time.monotonic() - self.started
        for loader in self.args.loaders:
            executions = self.total("executions", loader)
            distinct = sum(r["loader"] == loader for r in self.records.values())
            print(
                f"{loader}: {executions} executions, {executions / max(elapsed, 1e-9):.0f}/s, "
                f"{self.total('completed_loads', loader)} completed loads, {self.total('oracle_dangerous', loader)} needed an error, "
                f"{self.total('disagreements', loader)} disagreements ({distinct} distinct), {elapsed:.0f}s",
                flush=True,
            )

    def log(self, *, finished: bool) -> dict:
        elapsed = time.monotonic() - self.started
        loaders = {}
        for loader in self.args.loaders:
            executions = self.total("executions", loader)
            seconds = Counter()
            for snapshot in self.snapshots.values():
                seconds.update(snapshot["seconds"].get(loader, {}))
            records = [r for r in self.records.values() if r["loader"] == loader]
            loaders[loader] = {
                "executions": executions,
                "executions_per_second": round(executions / max(elapsed, 1e-9), 1),
                "completed_loads": self.total("completed_loads", loader),
                "oracle_dangerous": self.total("oracle_dangerous", loader),
                # failed imports of modules no installed module is named like, alone: no error needed
                "unimportable_only": self.total("unimportable_only", loader),
                "disagreements": self.total("disagreements", loader),
                "distinct_disagreements": len(records),
                "open_at_end": sum(r.get("open_at_end", True) for r in records),
                "recycled": self.total("recycled", loader),
                "restarts": self.total("restarts", loader),
                # per execution, in one worker: where the time goes
                "ms_per_execution": {part: round(1000 * s / max(executions, 1), 3) for part, s in sorted(seconds.items())},
            }
        return {
            "harness": "fuzz/pickle_differential.py",
            "argv": sys.argv[1:],
            "seed": self.args.seed,
            "workers": self.args.workers,
            "executions_target_per_loader": self.args.executions,
            "time_limit": self.args.time_limit or None,
            "commit": self.args.commit or None,
            "started_utc": self.started_utc,
            "wall_seconds": round(elapsed, 1),
            "finished": finished,
            "complete": all(v["executions"] >= self.args.executions for v in loaders.values()),
            "machine": {
                "description": self.args.machine or None,
                "hostname": platform.node(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "versions": _versions(),
            "loaders": loaders,
            "hfcheck_calls": sum(s["hfcheck_calls"] for s in self.snapshots.values()),
            "worker_failures": sorted(self.failed.values()),
            "open_at_end": sum(v["open_at_end"] for v in loaders.values()),
            "disagreements": sorted(self.records.values(), key=lambda r: r["key"]),
        }

    def write_log(self, *, finished: bool) -> dict:
        log = self.log(finished=finished)
        partial = self.args.log.with_suffix(".partial")
        partial.write_text(json.dumps(log, indent=1) + "\n")
        partial.replace(self.args.log)
        return log


def _versions() -> dict:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for package in ("torch", "numpy", "joblib", "hfcheck"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    if versions["hfcheck"] is None:  # run from a source tree (PYTHONPATH), not installed
        import hfcheck

        versions["hfcheck"] = getattr(hfcheck, "__version__", None)
    return versions


def _still_open(record: dict) -> bool:
    """The scanner of this process, on the minimised bytes: still clean?"""
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / record["name"]).write_bytes(bytes.fromhex(record["hex"]))
        return not hfcheck_errors(Path(scratch))


def _parallel(args) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    args.log.parent.mkdir(parents=True, exist_ok=True)
    # One thread per process: the workers and their oracle children fill the cores already.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    settings = {
        key: value
        for key, value in vars(args).items()
        if key in ("loaders", "executions", "seed", "workers", "round", "minimise_budget", "minimise_max", "oracle_timeout")
    }
    settings["deadline"] = time.time() + args.time_limit if args.time_limit else math.inf
    context = multiprocessing.get_context("spawn")  # no fork of a parent that has threads
    events = context.Queue()
    processes = [context.Process(target=_worker, args=(index, settings, events)) for index in range(args.workers)]
    tally = _Tally(args)
    print(f"{args.workers} workers, {args.executions} executions per loader ({', '.join(args.loaders)}), seed {args.seed}", flush=True)
    for process in processes:
        process.start()
    last = time.monotonic()
    while len(tally.done) + len(tally.failed) < args.workers:
        try:
            tally.add(*events.get(timeout=1.0))
        except queue.Empty:
            for index, process in enumerate(processes):  # nothing queued for a second: a dead worker said all it will
                if process.exitcode is not None and index not in tally.done and index not in tally.failed:
                    tally.failed[index] = f"worker {index} exited with {process.exitcode}"
                    print(f"worker {index} died (exit code {process.exitcode})", flush=True)
        if time.monotonic() - last >= args.progress:
            last = time.monotonic()
            tally.progress()
            tally.write_log(finished=False)
    for process in processes:
        process.join()
    for record in tally.records.values():
        record["open_at_end"] = _still_open(record)
    tally.progress()
    log = tally.write_log(finished=True)
    print(
        json.dumps(
            {
                loader: {
                    k: v[k] for k in ("executions", "executions_per_second", "distinct_disagreements", "open_at_end", "ms_per_execution")
                }
                for loader, v in log["loaders"].items()
            }
        ),
        flush=True,
    )
    print(f"log: {args.log}; wall {log['wall_seconds']}s; complete: {log['complete']}; open at end: {log['open_at_end']}", flush=True)
    return 1 if log["open_at_end"] or tally.failed else 0


_minimised: dict[str, int] = {}


def _atheris(args, engine_args) -> int:
    import atheris

    # The scanner's coverage guides the fuzzer. Its modules are imported lazily by the API
    # (and through the editable install's finder, which instrument_imports does not see),
    # so every module is imported first and the loaded code is then instrumented.
    import importlib
    import pkgutil

    import hfcheck

    for module in pkgutil.walk_packages(hfcheck.__path__, "hfcheck."):
        if ".smoke" not in module.name:
            importlib.import_module(module.name)
    atheris.instrument_all()
    from differential import derive

    loader = args.loaders[0]
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        found = []
        run = DifferentialRun(Path(scratch), rng_seed=args.seed, on_disagreement=found.append)
        pool = run.seeds[loader]

        def one_input(data: bytes) -> None:
            provider = atheris.FuzzedDataProvider(data)
            sample = pool[provider.ConsumeIntInRange(0, len(pool) - 1)]
            rng = random.Random(provider.ConsumeInt(8))
            if provider.ConsumeIntInRange(0, 2) == 0 and loader == "pickle":
                payload, name, recipe = provider.ConsumeBytes(4096), sample.name, "atheris raw bytes"
            else:
                payload, name, recipe = derive(sample, rng, pool)
            disagreement = run.execute(loader, name, payload, f"atheris | {recipe}")
            if disagreement is not None and disagreement.signature not in run.seen_signatures:
                run.seen_signatures.add(disagreement.signature)
                run.stats.disagreements.append(disagreement)
                _report(run, disagreement, args)
            if run.stats.executions[loader] % args.chunk == 0:
                print(
                    f"{loader}: {run.stats.executions[loader]} executions (atheris), {len(run.stats.disagreements)} distinct disagreements",
                    flush=True,
                )

        try:
            atheris.Setup([sys.argv[0], *engine_args], one_input)
            atheris.Fuzz()
        finally:
            run.close()
    return 0


def _report(run: DifferentialRun, found, args) -> None:
    _minimised[found.loader] = _minimised.get(found.loader, 0) + 1
    small = run.minimise(found, budget=args.minimise_budget) if _minimised[found.loader] <= args.minimise_max else found.data
    record = _record(found, small)
    (args.out / f"{record['key']}.json").write_text(json.dumps(record, indent=1))
    print(
        f"DISAGREEMENT {record['key']}: {found.loader} {found.name}: oracle {found.oracle}; hfcheck clean; {found.recipe} (minimised {len(found.data)} -> {len(small)} bytes)",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
