"""Long differential-fuzzing runs of hfcheck's pickle verdicts against the loader oracle.

    python fuzz/pickle_differential.py --loaders pickle torch joblib numpy --executions 100000 \
        --seed 1 --out fuzz/findings

For each loader it derives inputs from real checkpoints and canary payloads (opcode- and
byte-level mutations, container re-wrapping; see tests/differential.py), loads each under the
real loader in the oracle (child process, audit hook, stopped before any side effect) and
checks the property: whenever the loader resolves a global outside the allowlist or reaches a
side effect, hfcheck reports an error on the file. It prints executions per loader and every
new disagreement; each new one is minimised and written to --out as JSON (hex bytes, recipe,
what the oracle saw). Untrusted bytes are never loaded in this process.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from differential import FUZZ_LOADERS, DifferentialRun  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loaders", nargs="+", default=list(FUZZ_LOADERS), choices=FUZZ_LOADERS)
    parser.add_argument("--executions", type=int, default=100_000, help="per loader")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=2_000, help="executions between progress lines")
    parser.add_argument("--out", type=Path, default=Path("fuzz/findings"))
    parser.add_argument("--minimise-budget", type=int, default=400)
    parser.add_argument("--minimise-max", type=int, default=40, help="distinct disagreements minimised per loader; the rest are saved as found")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        new = []
        run = DifferentialRun(Path(scratch), rng_seed=args.seed, on_disagreement=new.append)
        try:
            for loader in args.loaders:
                started = time.monotonic()
                done = 0
                while done < args.executions:
                    step = min(args.chunk, args.executions - done)
                    run.run(loader, step)
                    done += step
                    while new:
                        _report(run, new.pop(0), args)
                    stats = run.stats
                    print(
                        f"{loader}: {stats.executions.get(loader, 0)} executions, "
                        f"{stats.completed_loads.get(loader, 0)} completed loads, "
                        f"{stats.oracle_dangerous.get(loader, 0)} needed an error, "
                        f"{sum(d.loader == loader for d in stats.disagreements)} disagreements "
                        f"({len({d.signature for d in stats.disagreements if d.loader == loader})} distinct), "
                        f"{time.monotonic() - started:.0f}s",
                        flush=True,
                    )
        finally:
            run.close()
        stats = run.stats
        print(json.dumps({"executions": stats.executions, "oracle_dangerous": stats.oracle_dangerous, "hfcheck_calls": stats.hfcheck_calls,
                          "disagreements": len(stats.disagreements), "distinct": len({d.signature for d in stats.disagreements}),
                          "recycled": stats.recycled, "restarts": stats.restarts}))
    return 0


_minimised: dict[str, int] = {}


def _report(run: DifferentialRun, found, args) -> None:
    _minimised[found.loader] = _minimised.get(found.loader, 0) + 1
    small = run.minimise(found, budget=args.minimise_budget) if _minimised[found.loader] <= args.minimise_max else found.data
    record = {
        "loader": found.loader,
        "name": found.name,
        "recipe": found.recipe,
        "oracle": found.oracle,
        "globals": [list(g) for g in found.observation.globals],
        "side_effects": found.observation.side_effects,
        "hex": small.hex(),
        "original_size": len(found.data),
    }
    key = f"{found.loader}-{abs(hash(found.signature)) % 10**8:08d}"
    (args.out / f"{key}.json").write_text(json.dumps(record, indent=1))
    print(f"DISAGREEMENT {key}: {found.loader} {found.name}: oracle {found.oracle}; hfcheck clean; {found.recipe} (minimised {len(found.data)} -> {len(small)} bytes)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
