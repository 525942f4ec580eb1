"""The security figures as a markdown table, for the README and the issue notes.

    python benchmarks/security_figures.py [--fuzz-log LOG ...]

Four measurements, each on its own data:

1. the existing corpus (benchmarks/pickle_corpus.py): recall on its malicious samples and
   false positives on its benign ones. The allowlist was derived from this corpus's benign
   half: an in-sample figure, shown as such;
2. the out-of-sample benign corpus (benchmarks/corpus/benign_oos/, written by real libraries,
   never used to derive the allowlist): files with an error;
3. the peer suites (../shared/peer-suites): per suite, files that need an error (a loader,
   under the loader oracle, reached a side effect or resolved an off-allowlist global, or a
   fail-closed case) caught, and files that need none but get an error;
4. the differential fuzzing: minimised disagreements kept as regression cases (open ones per
   #15 family) and, from --fuzz-log JSON logs of fuzz/pickle_differential.py, each run's
   executions per loader, machine, wall time and disagreements (found, open then, open now).

hfcheck is judged through its public API: an error-severity SEC finding on the file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "peer")]

from differential import hfcheck_errors  # noqa: E402


def _errors_on_own(path: Path, name: str | None = None) -> list[str]:
    """hfcheck's errors on one file, alone in a folder under its own name."""
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copyfile(path, Path(scratch) / (name or path.name))
        return hfcheck_errors(Path(scratch))


def existing_corpus() -> tuple[str, str]:
    from hfcheck.api import check

    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus"
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pickle_corpus.py"), str(corpus)], check=True, capture_output=True)
        expected = {s["path"]: s["verdict"] for s in json.loads((corpus / "manifest.json").read_text())}
        report = check(corpus, select=["SEC"])
        flagged = {f.path for f in report.findings if f.severity == "error"}
    malicious = [p for p, v in expected.items() if v == "malicious"]
    benign = [p for p, v in expected.items() if v == "benign"]
    caught = sum(p in flagged for p in malicious)
    false_positives = sum(p in flagged for p in benign)
    return f"{caught}/{len(malicious)} caught ({caught / len(malicious):.0%})", f"{false_positives}/{len(benign)} flagged"


def benign_oos() -> tuple[str, list[str]]:
    folder = ROOT / "benchmarks" / "corpus" / "benign_oos"
    manifest = json.loads((folder / "MANIFEST.json").read_text())["files"]
    flagged = [m["file"] for m in manifest if _errors_on_own(folder / m["file"])]
    libraries = len({m["library"] for m in manifest})
    return f"{len(flagged)}/{len(manifest)} files with an error ({libraries} libraries)", flagged


def peer_suites() -> dict[str, tuple[int, int, int, int]]:
    from observe_peers import OBSERVATIONS_FILE, PEERS, expected_error

    observations = json.loads(OBSERVATIONS_FILE.read_text())
    counts: dict[str, list[int]] = {}
    for relative, record in sorted(observations.items()):
        suite = relative.split("/", 1)[0]
        needs_error, _ = expected_error(relative, record)
        has_error = bool(_errors_on_own(PEERS / relative))
        row = counts.setdefault(suite, [0, 0, 0, 0])
        if needs_error:
            row[0] += has_error
            row[1] += 1
        else:
            row[2] += has_error
            row[3] += 1
    return {suite: tuple(row) for suite, row in counts.items()}


def fuzz_cases() -> tuple[int, Counter]:
    cases = [json.loads(p.read_text()) for p in (ROOT / "tests" / "fuzz" / "cases").glob("*.json")]
    return len(cases), Counter(c["family"] for c in cases if c.get("open"))


def fuzz_runs(logs: list[Path]) -> list[str]:
    """One table row per JSON log of fuzz/pickle_differential.py: executions per loader, the
    machine and wall time, distinct disagreements found, open at the end of that run, and
    open now: the current scanner is clean on the saved bytes while the loader, under the
    oracle and the current property, still needs an error."""
    rows = []
    for path in logs:
        log = json.loads(path.read_text())
        loaders = log["loaders"]
        executions = ", ".join(f"{name} {v['executions']:,}" for name, v in sorted(loaders.items()))
        found = log["disagreements"]
        machine = log["machine"].get("description") or f"{log['machine']['cpus']} CPUs"
        versions = log["versions"]
        where = (
            f"{machine}, {log['workers']} workers, seed {log['seed']}, {log['wall_seconds']:.0f} s; python {versions['python']}, "
            f"torch {versions['torch']}, numpy {versions['numpy']}, joblib {versions['joblib']}"
        )
        rows.append(
            f"| fuzz run {path.name} | {where} | {executions}; {len(found)} distinct disagreements found, "
            f"{log['open_at_end']} open at the end of the run, {_open_now(found)} open now |"
        )
    return rows


def _open_now(records: list[dict]) -> int:
    from differential import PRELOAD, oracle_verdict
    from loader_oracle import OracleWorker

    workers: dict[str, OracleWorker] = {}
    still = 0
    try:
        for record in records:
            with tempfile.TemporaryDirectory() as scratch:
                target = Path(scratch) / record["name"]
                target.write_bytes(bytes.fromhex(record["hex"]))
                if hfcheck_errors(Path(scratch)):
                    continue
                worker = workers.setdefault(record["loader"], OracleWorker(record["loader"], preload=PRELOAD))
                still += bool(oracle_verdict(worker.observe(target)))
    finally:
        for worker in workers.values():
            worker.close()
    return still


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz-log", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    recall, false_positives = existing_corpus()
    oos, oos_flagged = benign_oos()
    peers = peer_suites()
    total_cases, open_by_family = fuzz_cases()
    print("| measure | data | result |")
    print("|---|---|---|")
    print(f"| malicious caught (in sample) | benchmarks/pickle_corpus.py | {recall} |")
    print(f"| benign flagged (in sample) | benchmarks/pickle_corpus.py | {false_positives} |")
    print(f"| benign flagged (out of sample) | benchmarks/corpus/benign_oos | {oos} |")
    for suite, (caught, need, flagged, clean) in peers.items():
        print(
            f"| peer suite {suite} | files needing an error / needing none (loader oracle) | {caught}/{need} caught, {flagged}/{clean} flagged |"
        )
    families = ", ".join(f"family {family}: {count}" for family, count in sorted(open_by_family.items())) or "none"
    print(f"| fuzz disagreements | tests/fuzz/cases (minimised) | {total_cases} cases, open: {families} |")
    for row in fuzz_runs(args.fuzz_log):
        print(row)
    if oos_flagged:
        print("\nout-of-sample benign files with an error: " + ", ".join(oos_flagged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
