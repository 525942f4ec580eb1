"""Shared helpers of the benchmark scripts: wall time and peak RSS of a child process, and
the version of a package installed in another interpreter."""

from __future__ import annotations

import os
import statistics
import subprocess
import time


def run_once(command: list[str], env: dict | None = None) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MiB, exit code, stdout) of one run of command."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.stdout.close()
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), stdout.decode(errors="replace")


def median_run(command: list[str], runs: int, env: dict | None = None) -> tuple[float, float]:
    """(median wall seconds, max peak RSS MiB) over several runs."""
    results = [run_once(command, env) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def installed_version(python: str, distribution: str) -> str:
    """The version of `distribution` installed for the interpreter `python` (a tool's own
    virtualenv), as importlib.metadata there reports it; "not installed" when it is not."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    return subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip() or "not installed"
