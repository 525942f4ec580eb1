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

    python fuzz/pickle_differential.py --engine atheris --loaders torch -- -atheris_runs=20000

runs the same property under atheris instead, guided by the coverage of hfcheck's scanner
(instrumented at import): the fuzzer's bytes choose the seed and the mutation stream, and a
third of the inputs are the fuzzer's raw bytes as the pickle stream itself.
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
    parser.add_argument("--engine", choices=("random", "atheris"), default="random")
    args, engine_args = parser.parse_known_args()
    if args.engine == "atheris":
        return _atheris(args, engine_args)
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


def _atheris(args, engine_args) -> int:
    import random

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
                print(f"{loader}: {run.stats.executions[loader]} executions (atheris), {len(run.stats.disagreements)} distinct disagreements", flush=True)

        try:
            atheris.Setup([sys.argv[0], *engine_args], one_input)
            atheris.Fuzz()
        finally:
            run.close()
    return 0


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
