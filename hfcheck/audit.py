"""Audit a whole model registry: a list of targets, checked on one machine's processes
or on a Ray cluster, each result streamed as it finishes, resumable.

The API behind these flags of `hfcheck check`:

  --targets-from FILE|-   read_targets(): one local path or `org/name[@revision]` per
                          line, `#` comments, blank lines ignored
  --format jsonl          report.jsonl: one object per finished target, flushed per line
  --resume FILE           recorded(): skip targets FILE already holds for this hfcheck
                          version and settings fingerprint; append the rest to FILE
  --executor local|ray    LocalExecutor(jobs) (the existing --jobs) or RayExecutor
  --ray-address ADDR      RayExecutor(address=...): `auto`, `ray://host:10001`; none
                          starts a local Ray cluster

    settings = AuditSettings(config_file=..., overrides={...})
    for record in audit(read_targets(lines), settings, executor=RayExecutor("auto")):
        writer.write(record)

Every target is reported exactly once: a target that cannot be checked (a missing path,
an unknown repo, a worker lost more often than the retries allow) is an error record
with exit code 2, never a silent gap. `hfcheck --targets-from FILE` runs `run()`;
`python -m hfcheck.audit` is the same loop. Ray is imported only by RayExecutor (the extra `hfcheck[ray]`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hfcheck import __version__


class TargetsFileError(ValueError):
    """A line of a targets file that names no target: a usage error (exit 2)."""


@dataclass(frozen=True)
class AuditTarget:
    name: str  # a local path or org/name[@revision], as listed
    line: int  # its line in the targets file (1-based), for messages


def read_targets(lines: Iterable[str], source: str = "targets") -> list[AuditTarget]:
    """The targets of a targets file, in order, each once. A line is a local path or a Hub
    id `org/name[@revision]` (`hf://` allowed); `#` starts a comment (at the start of a
    line or after whitespace); blank lines are skipped. Malformed lines raise
    TargetsFileError naming every bad line; an empty list is an error too: an audit of
    nothing must not pass."""
    from hfcheck.hub import parse_hub_name

    targets, seen, problems = [], set(), []
    for number, raw in enumerate(lines, start=1):
        text = _without_comment(raw.rstrip("\r\n")).strip()
        if not text:
            continue
        if any(c.isspace() for c in text):
            problems.append(f"{source}:{number}: {text!r}: one target per line (a path or org/name[@revision]), found spaces")
        elif _looks_like_hub_id(text) and parse_hub_name(text) is None:
            problems.append(f"{source}:{number}: {text!r}: not a Hub model id (expected org/name or org/name@revision)")
        elif text not in seen:
            seen.add(text)
            targets.append(AuditTarget(text, number))
    if problems:
        raise TargetsFileError("\n".join(problems))
    if not targets:
        raise TargetsFileError(f"{source}: no targets (only blank lines and comments)")
    return targets


def _without_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    for marker in (" #", "\t#"):
        if marker in line:
            line = line[: line.index(marker)]
    return line


def _looks_like_hub_id(text: str) -> bool:
    """Not a path spelt as one (./x, /x, ~/x) and not an existing path: then a Hub id."""
    if text.startswith("hf://"):
        return True
    return "/" in text and not text.startswith((".", "/", "~")) and not Path(text).exists()


@dataclass(frozen=True)
class AuditSettings:
    """What every target is checked with; its fingerprint keys `--resume`."""

    config_file: Path | None = None
    overrides: dict = field(default_factory=dict)  # select, ignore, fail_on, ... (api.check_many's)
    baseline: frozenset | None = None
    download_pickles: bool = False
    smoke: bool = False
    smoke_options: dict = field(default_factory=dict)  # device, trust_remote_code

    def fingerprint(self) -> str:
        """Stable across runs and machines: the options, and the settings file's bytes
        (an edited policy file means the recorded results are stale)."""
        config = None
        if self.config_file is not None:
            config = {"name": Path(self.config_file).name, "sha256": hashlib.sha256(Path(self.config_file).read_bytes()).hexdigest()}
        described = {
            "config": config,
            "overrides": {k: v for k, v in sorted(self.overrides.items()) if v is not None},
            "baseline": hashlib.sha256("\n".join(sorted(self.baseline)).encode()).hexdigest() if self.baseline else None,
            "download_pickles": self.download_pickles,
            "smoke": self.smoke,
            "smoke_options": dict(sorted(self.smoke_options.items())) if self.smoke else None,
        }
        return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -- one target -------------------------------------------------------------------------


def check_one(
    target: AuditTarget, settings: AuditSettings, fingerprint: str, *, smoke: bool | None = None, want_gpus: bool = False
) -> dict:
    """The JSONL record of one target: its static check (and with `smoke`, the smoke pass
    after it). Never raises for a bad target: that is an error record. `want_gpus` adds
    "gpus", what its smoke task should ask the scheduler for (not part of the record)."""
    from hfcheck.api import check_target
    from hfcheck.report.jsonl import error_record, target_record
    from hfcheck.targets import TargetError, resolve_targets

    start = time.perf_counter()
    smoke = settings.smoke if smoke is None else smoke
    try:
        resolved = resolve_targets([target.name], download_pickles=settings.download_pickles)
        if len(resolved) != 1:
            raise TargetError(f"{target.name}: names {len(resolved)} targets")
        overrides = {k: v for k, v in settings.overrides.items() if v is not None}
        report = check_target(resolved[0], settings=None, baseline=settings.baseline, config_file=settings.config_file, overrides=overrides)
        if smoke:
            from hfcheck.smoke import smoke_target

            result = smoke_target(report, baseline=settings.baseline, **settings.smoke_options)
    except (TargetError, ValueError, OSError) as error:
        return error_record(target=target.name, settings=fingerprint, error=str(error), seconds=time.perf_counter() - start)
    record = target_record(report, target=target.name, settings=fingerprint, seconds=time.perf_counter() - start)
    if smoke:
        # whether the smoke pass ran, and where: a smoke audit that was skipped everywhere
        # (no GPU with --device auto) must be visible as such
        record["smoke"] = {"status": result.status, "reason": result.reason, "device": result.device, "gpu_name": result.gpu_name}
    if want_gpus:
        record["gpus"] = gpus_for(report)
    return record


def gpus_for(target_report) -> int:
    """GPUs the smoke pass of this target asks the scheduler for: the deployment's
    declared GPU count (settings `deploy.gpus`), else one."""
    declared = getattr(getattr(target_report.settings, "deploy", None), "gpus", None)
    return declared if isinstance(declared, int) and declared > 0 else 1


# -- executors ----------------------------------------------------------------------------


class LocalExecutor:
    """This machine: in this process (jobs=1) or `jobs` forked processes, at most
    2 * jobs targets in flight, results in the order they finish."""

    name = "local"

    def __init__(self, jobs: int = 1):
        self.jobs = max(1, jobs or os.cpu_count() or 1)

    def run(self, targets: list[AuditTarget], settings: AuditSettings, fingerprint: str) -> Iterator[dict]:
        from hfcheck import catalogue

        catalogue.load()  # loaded once here; forked workers inherit them
        if self.jobs == 1:
            for target in targets:
                yield check_one(target, settings, fingerprint)
            return
        yield from self._pool(targets, settings, fingerprint)

    def _pool(self, targets, settings, fingerprint) -> Iterator[dict]:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        from hfcheck.report.jsonl import error_record

        context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        pending, retried = list(reversed(targets)), set()
        while pending:
            with ProcessPoolExecutor(max_workers=self.jobs, mp_context=context) as pool:
                in_flight = {}
                try:
                    while pending or in_flight:
                        while pending and len(in_flight) < 2 * self.jobs:
                            target = pending.pop()
                            in_flight[pool.submit(check_one, target, settings, fingerprint)] = target
                        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                        for future in done:
                            record = future.result()  # raises BrokenProcessPool while still in flight
                            del in_flight[future]
                            yield record
                except BrokenProcessPool:
                    # a worker died (OOM killer, a crash in a native parser): every target in
                    # flight is retried once in a fresh pool, then reported as an error
                    for target in in_flight.values():
                        if target in retried:
                            yield error_record(target=target.name, settings=fingerprint, error="the worker process checking it died twice")
                        else:
                            retried.add(target)
                            pending.append(target)


class RayExecutor:
    """Each target is a Ray task: static tasks take one CPU; with smoke, a target whose
    static pass passed its security gate is then a smoke task asking for the GPUs its
    deployment declares (`num_gpus`). At most `max_in_flight` tasks are submitted at a
    time; a task whose worker dies is retried by Ray (`max_retries`) and, lost for good,
    becomes an error record, so every target is reported exactly once.

    `address`: None starts a local cluster (`num_cpus` of this machine), `"auto"` joins
    the cluster this machine belongs to, `"ray://head:10001"` a remote one.
    `runtime_env` is passed to ray.init (env_vars such as HF_TOKEN or HF_ENDPOINT)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        max_in_flight: int | None = None,
        max_retries: int = 3,
        runtime_env: dict | None = None,
    ):
        self.address, self.num_cpus, self.max_retries, self.runtime_env = address, num_cpus, max_retries, runtime_env
        self.max_in_flight = max_in_flight

    def _connect(self):
        try:
            import ray
        except ImportError:
            raise RuntimeError("--executor ray needs Ray: pip install 'hfcheck[ray]'") from None
        if not ray.is_initialized():
            options = {"address": self.address, "runtime_env": self.runtime_env, "log_to_driver": False, "include_dashboard": False}
            if self.address is None:
                options["num_cpus"] = self.num_cpus
            ray.init(**{k: v for k, v in options.items() if v is not None or k == "address"})
        return ray

    def run(self, targets: list[AuditTarget], settings: AuditSettings, fingerprint: str) -> Iterator[dict]:
        ray = self._connect()
        from hfcheck.report.jsonl import error_record

        resources = ray.cluster_resources()
        limit = self.max_in_flight or max(4, 2 * int(resources.get("CPU", 1)))
        # --device cpu, or auto on a cluster without GPUs, asks for none: a GPU request no
        # node can meet would wait forever (--device cuda may wait for an autoscaler)
        device = settings.smoke_options.get("device", "auto")
        no_gpus = device == "cpu" or (device == "auto" and not resources.get("GPU"))
        static = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(_static_task)
        # num_gpus is set per target (.options), so Ray's own default for GPU functions, a
        # fresh worker per task, must be asked for here: a reused worker would keep the last
        # model's CUDA memory and skew the next smoke pass's measured peak
        smoke = ray.remote(num_cpus=1, max_calls=1, max_retries=self.max_retries, retry_exceptions=False)(_smoke_task)
        shared = ray.put((settings, fingerprint))
        pending, in_flight = list(reversed(targets)), {}
        while pending or in_flight:
            while pending and len(in_flight) < limit:
                target = pending.pop()
                in_flight[static.remote(target, shared)] = (target, "static")
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            more, _ = ray.wait([ref for ref in in_flight if ref not in ready], num_returns=len(in_flight) - len(ready), timeout=0)
            for ref in ready + more:
                target, phase = in_flight.pop(ref)
                try:
                    record = ray.get(ref)
                except ray.exceptions.RayError as error:
                    yield error_record(
                        target=target.name,
                        settings=fingerprint,
                        error=f"lost by Ray after {self.max_retries} retries: {type(error).__name__}",
                    )
                    continue
                gpus = record.pop("gpus", 1)
                if phase == "static" and settings.smoke and record["error"] is None:
                    in_flight[smoke.options(num_gpus=0 if no_gpus else gpus).remote(target, shared)] = (target, "smoke")
                    continue
                yield record


def _static_task(target: AuditTarget, shared) -> dict:
    settings, fingerprint = shared
    return check_one(target, settings, fingerprint, smoke=False, want_gpus=settings.smoke)


def _smoke_task(target: AuditTarget, shared) -> dict:
    import ray

    settings, fingerprint = shared
    record = check_one(target, settings, fingerprint, smoke=True)
    # where Ray ran it: the GPUs it was given (CUDA_VISIBLE_DEVICES is what torch saw)
    placement = {
        "node_id": ray.get_runtime_context().get_node_id(),
        "worker_pid": os.getpid(),
        "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
    }
    record.setdefault("smoke", {})["ray"] = {**placement, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}
    return record


EXECUTORS = {"local": LocalExecutor, "ray": RayExecutor}


# -- the audit loop, resume, progress -----------------------------------------------------


@dataclass
class Progress:
    total: int
    done: int = 0
    failing: int = 0  # exit code 1: a finding at or above fail_on
    errors: int = 0  # exit code 2: could not be checked
    skipped: int = 0  # already recorded (--resume)
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Targets per second since the start."""
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        left = self.total - self.done
        return left / self.rate if self.rate > 0 else None

    def line(self) -> str:
        eta = f"{self.eta_seconds:.0f}s" if self.eta_seconds is not None else "?"
        skipped = f", {self.skipped} already recorded" if self.skipped else ""
        return f"{self.done}/{self.total} checked, {self.failing} failing, {self.errors} errors{skipped}, {self.rate:.1f}/s, ETA {eta}"


def audit(
    targets: list[AuditTarget],
    settings: AuditSettings | None = None,
    *,
    executor=None,
    skip: set[str] | frozenset = frozenset(),
    progress: Callable[[Progress], None] | None = None,
) -> Iterator[dict]:
    """Check every target not in `skip` (names from recorded()) and yield each one's JSONL
    record as it finishes; `progress` is called after each."""
    settings = settings or AuditSettings()
    executor = executor or LocalExecutor()
    _check_options(settings)
    fingerprint = settings.fingerprint()
    todo = [t for t in targets if t.name not in skip]
    state = Progress(total=len(todo), skipped=len(targets) - len(todo))
    reported = set()
    for record in executor.run(todo, settings, fingerprint):
        if record["target"] in reported:  # an executor bug must not print a unit twice
            continue
        reported.add(record["target"])
        state.done += 1
        state.failing += record["exit_code"] == 1
        state.errors += record["exit_code"] == 2
        if progress:
            progress(state)
        yield record
    missing = [t.name for t in todo if t.name not in reported]
    if missing:
        raise RuntimeError(f"the {executor.name} executor lost {len(missing)} targets: {', '.join(missing[:5])}")


def _check_options(settings: AuditSettings) -> None:
    """An unknown rule code or option is a usage error before the first target, not an
    error record on every one of ten thousand."""
    from hfcheck.config import Settings, check_selectors
    from hfcheck import catalogue

    catalogue.load()  # rule modules declare their options
    check_selectors(Settings(**{k: v for k, v in settings.overrides.items() if v is not None}), "command line: ")


def recorded(lines: Iterable[str], settings: AuditSettings | None = None) -> set[str]:
    """Targets a JSONL file already holds for this hfcheck version and these settings.
    Error records are not counted (a Hub outage must not be resumed as done); a torn last
    line (the audit was killed while writing it) is ignored."""
    return {record.get("target") for record in recorded_records(lines, settings)}


def recorded_records(lines: Iterable[str], settings: AuditSettings | None = None) -> list[dict]:
    """The finished records of `recorded`, for the exit code of a resumed audit."""
    fingerprint = (settings or AuditSettings()).fingerprint()
    done = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(record, dict)
            and record.get("hfcheck") == __version__
            and record.get("settings") == fingerprint
            and record.get("error") is None
        ):
            done.append(record)
    return done


def open_for_resume(path: Path):
    """`path` opened for appending; a torn last line is ended first so the next record
    starts on its own line."""
    stream = open(path, "a+", encoding="utf-8")
    if stream.tell():
        stream.seek(stream.tell() - 1)
        torn = stream.read(1) != "\n"
        stream.seek(0, os.SEEK_END)
        if torn:
            stream.write("\n")
    return stream


def exit_code(records: Iterable[dict]) -> int:
    """2 when a target could not be checked, else 1 when one failed, else 0."""
    codes = {r["exit_code"] for r in records}
    return 2 if 2 in codes else 1 if 1 in codes else 0


def report_from_records(records: Iterable[dict]):
    """One api.Report from JSONL records of checked targets, in the order given (so an
    audit renders in every format as a serial run of the same targets would)."""
    from dataclasses import fields

    from hfcheck.api import Report, TargetReport
    from hfcheck.config import Settings
    from hfcheck.discovery import Unit
    from hfcheck.findings import Finding

    unit_fields = {f.name for f in fields(Unit)}
    targets = []
    for record in records:
        units = [Unit(**{k: v for k, v in u.items() if k in unit_fields}) for u in record["units"]]
        findings = [Finding(**f) for f in record["findings"]]
        root = Path(record.get("root") or record["path"])
        skipped = list(record.get("skipped_dirs", ()))
        targets.append(
            TargetReport(record["path"], root, findings, Settings(), revision=record["revision"], units=units, skipped_dirs=skipped)
        )
    return Report(targets)


def text_progress(stream=sys.stderr, every: float = 2.0) -> Callable[[Progress], None]:
    """A progress callback printing Progress.line() at most every `every` seconds (a
    terminal gets one rewritten line, a CI log a line each time) and once at the end."""
    last = [0.0]
    tty = stream.isatty()

    def show(state: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < every and state.done < state.total:
            return
        last[0] = now
        stream.write(("\r" + state.line() + ("\n" if state.done == state.total else "")) if tty else state.line() + "\n")
        stream.flush()

    return show


# -- `python -m hfcheck.audit` until the CLI carries the flags ------------------------------


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m hfcheck.audit", description="Audit every target of a targets file; JSONL on stdout or --output."
    )
    parser.add_argument("--targets-from", required=True, metavar="FILE", help="one path or org/name[@revision] per line; - for stdin")
    parser.add_argument(
        "--resume", type=Path, metavar="FILE", help="skip the targets FILE holds for this version and settings; append the rest to it"
    )
    parser.add_argument("--output", "-o", type=Path, metavar="FILE", help="write JSONL here (default: stdout)")
    parser.add_argument("--executor", choices=sorted(EXECUTORS), default="local")
    parser.add_argument("--jobs", "-j", type=int, default=1)
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--ray-num-cpus", type=int, default=None, help="CPUs of a local Ray cluster started here")
    parser.add_argument("--select"), parser.add_argument("--ignore"), parser.add_argument("--fail-on")
    parser.add_argument("--config", dest="config_file", type=Path)
    parser.add_argument(
        "--smoke", action="store_true", help="the smoke pass after the static one (Ray: a task asking for the deployment's GPUs)"
    )
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--quiet", "-q", action="store_true")
    args = parser.parse_args(argv)
    split = lambda text: [p.strip() for p in text.split(",") if p.strip()] if text else None  # noqa: E731
    overrides = {"select": split(args.select), "ignore": split(args.ignore), "fail_on": args.fail_on}
    return run(args.targets_from, overrides=overrides, config_file=args.config_file, resume=args.resume, output=args.output, executor=args.executor,
               jobs=args.jobs, ray_address=args.ray_address, ray_num_cpus=args.ray_num_cpus, smoke=args.smoke, device=args.device, quiet=args.quiet)  # fmt: skip


def audit_settings(*, overrides: dict, config_file: Path | None = None, baseline: Path | None = None, download_pickles: bool = False, smoke: bool = False,
                   device: str = "auto", trust_remote_code: bool = False) -> AuditSettings:  # fmt: skip
    """The settings of `hfcheck` options; the serial `--format jsonl` stamps its records with
    the same fingerprint, so its output can seed `--resume`."""
    from hfcheck.api import read_baseline

    known = frozenset(read_baseline(baseline)) if baseline else None
    smoke_options = {"device": device, "trust_remote_code": trust_remote_code} if smoke else {}
    return AuditSettings(
        config_file=config_file,
        overrides=overrides,
        baseline=known,
        download_pickles=download_pickles,
        smoke=smoke,
        smoke_options=smoke_options,
    )


def run(targets_from: str, *, overrides: dict, config_file: Path | None = None, resume: Path | None = None, output: Path | None = None, executor: str = "local",
        jobs: int = 1, ray_address: str | None = None, ray_num_cpus: int | None = None, smoke: bool = False, device: str = "auto", quiet: bool = False,
        fmt: str = "jsonl", render_options: dict | None = None, baseline: Path | None = None, download_pickles: bool = False,
        trust_remote_code: bool = False) -> int:  # fmt: skip
    """One audit as `hfcheck --targets-from FILE` runs it; the exit code back.

    JSONL streams a line per finished target: to --resume FILE when given, else (with
    `fmt` "jsonl") to --output or stdout. Any other `fmt` renders the whole list at the end
    (earlier records of --resume included, in the file's order) as one report, exactly
    as a serial run of the same targets would; targets that could not be checked are
    named on stderr (exit 2)."""
    try:
        settings = audit_settings(overrides=overrides, config_file=config_file, baseline=baseline, download_pickles=download_pickles, smoke=smoke,
                                  device=device, trust_remote_code=trust_remote_code)  # fmt: skip
    except (OSError, ValueError) as error:
        print(f"hfcheck: {error}", file=sys.stderr)
        return 2
    try:
        if targets_from == "-":
            targets = read_targets(sys.stdin, "<stdin>")
        else:
            with open(targets_from, encoding="utf-8") as stream:
                targets = read_targets(stream, targets_from)
    except (TargetsFileError, OSError) as error:
        print(f"hfcheck: {error}", file=sys.stderr)
        return 2
    from hfcheck.report.jsonl import JsonlWriter

    earlier: list[dict] = []
    if resume and resume.exists():
        with open(resume, encoding="utf-8") as stream:
            earlier = recorded_records(stream, settings)
    skip = {record.get("target") for record in earlier}
    if resume:
        out = open_for_resume(resume)
    elif fmt == "jsonl":
        out = open(output, "w", encoding="utf-8") if output else sys.stdout
    else:
        out = None  # the report is rendered at the end
    runner = RayExecutor(ray_address, num_cpus=ray_num_cpus) if executor == "ray" else LocalExecutor(jobs)
    writer, records = JsonlWriter(out) if out else None, []
    try:
        for record in audit(targets, settings, executor=runner, skip=skip, progress=None if quiet else text_progress()):
            if writer:
                writer.write(record)
            records.append(record)
    except (ValueError, TypeError, RuntimeError) as error:
        print(f"hfcheck: {error}", file=sys.stderr)
        return 2
    finally:
        if out not in (None, sys.stdout):
            out.close()
    # A resumed audit answers for the whole list: a failing target checked by an earlier
    # run still fails the gate.
    order = {t.name: index for index, t in enumerate(targets)}
    latest = {r["target"]: r for r in earlier + records if r.get("target") in order}  # one record a target, the last
    whole = sorted(latest.values(), key=lambda r: order[r["target"]])
    if fmt != "jsonl":
        _render_merged(whole, fmt, output, render_options or {})
    return exit_code(whole)


def _render_merged(records: list[dict], fmt: str, output: Path | None, options: dict) -> None:
    from hfcheck import catalogue
    from hfcheck.api import fingerprint
    from hfcheck.report import render

    for record in records:
        if record["error"] is not None:
            print(f"hfcheck: {record['target']}: not checked: {record['error']}", file=sys.stderr)
    report = report_from_records(r for r in records if r["error"] is None)
    color = output is None and fmt == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    text = render(report, fmt, rules=catalogue.rules(), fingerprint=fingerprint, color=color, **options)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    sys.exit(main())
