"""The static memory estimate against the peak measured on a GPU, as a markdown table.

    python benchmarks/envelope_table.py [RESULTS_JSON] [--write]

--write puts the table into docs/smoke.md between its envelope-table markers
(tests/smoke/test_envelope.py checks that the doc holds exactly this output).

Reads what benchmarks/envelope_proof.py measured (each model's config.json, tensor shapes
and smoke results), rebuilds each model as header-only safetensors (sparse files: the
real headers, no tensor data) and computes hfcheck's estimate (hfcheck/facts/memory.py)
with the code as it is now, so the table follows any change of the formula. The error is
estimate / measured peak allocated - 1. docs/smoke.md carries this script's output.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from sparse_70b import write_sparse_safetensors  # noqa: E402

from hfcheck.facts.memory import GiB, dtype_bytes, estimate  # noqa: E402
from hfcheck.repo import RepoView  # noqa: E402


def header_only_repo(root: Path, config: dict, tensors: dict) -> RepoView:
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps(config))
    dtypes = {dtype for dtype, _shape in tensors.values()}
    for dtype in sorted(dtypes):
        names = [(name, shape) for name, (d, shape) in tensors.items() if d == dtype]
        write_sparse_safetensors(root / f"model-{dtype}.safetensors" if len(dtypes) > 1 else root / "model.safetensors", names, dtype)
    return RepoView(root)


def rows(data: dict) -> list[str]:
    out = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, model in data["models"].items():
            repo = header_only_repo(Path(scratch) / name, model["config"], model["tensors"])
            for run in model["runs"]:
                result = run["result"]
                env = result.get("envelope") or {}
                batch, length = run["batch"], run["seq_len"]
                if not env.get("fits", True):
                    fit = env.get("largest_fit")
                    out.append(
                        f"| {name} | {batch} x {length} | out of memory on {result['gpu_name']}; halving found {fit[0]} x {fit[1]} | | | | | | |"
                    )
                    continue
                steps = env.get("decode_steps", 0)
                guess = estimate(
                    repo,
                    batch=batch,
                    seq_len=max(1, env["seq_len"] - steps),
                    dtype_bytes=dtype_bytes(result["dtype"]),
                    attn_implementation=result["load_kwargs"].get("attn_implementation"),
                    new_tokens=steps,
                )
                peak = env["peak_allocated"]
                speed = lambda v: f"{v:.0f}" if v else "-"  # noqa: E731
                out.append(
                    f"| {name} | {batch} x {length} | {guess.weights / GiB:.2f} + {guess.kv_cache / GiB:.2f} + {guess.activations / GiB:.2f} = {guess.total / GiB:.2f} GiB"
                    f" | {peak / GiB:.2f} GiB ({env['peak_reserved'] / GiB:.2f}) | {(guess.total / peak - 1) * 100:+.1f}%"
                    f" | {env['ttft_batch1_s'] * 1000:.0f} ms | {speed(env.get('tokens_per_s_batch1'))} | {env['ttft_s'] * 1000:.0f} ms | {speed(env.get('tokens_per_s'))} |"
                )
    return out


START, END = "<!-- envelope-table:start -->", "<!-- envelope-table:end -->"
DOC = HERE.parent / "docs" / "smoke.md"


def table(data: dict) -> str:
    lines = []
    print = lines.append  # noqa: A001 - the table is built line by line
    print(
        f"Measured on {data['device']} (torch {data['torch']}, transformers {data['transformers']}) by benchmarks/envelope_proof.py; estimate by the current hfcheck/facts/memory.py.\n"
    )
    print(
        "| model | batch x length | static estimate: weights + KV + activations | measured peak allocated (reserved) | estimate error | TTFT batch 1 | tokens/s batch 1 | TTFT batch | tokens/s batch |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows(data)))
    print("\n| model | envelope | smoke pass (median of 3) | plain transformers, same work | ratio |")
    print("|---|---|---|---|---|")
    for name, model in data["models"].items():
        base = model.get("baseline")
        if base:
            print(
                f"| {name} | {base['envelope'][0]} x {base['envelope'][1]} | {base['smoke_median_s']:.1f} s | {base['plain_median_s']:.1f} s | {base['ratio']:.2f}x |"
            )
    llama = data["models"].get("llama-gqa-0.85b")
    for name in ("placement_h200.json", "placement_h200x2.json"):
        path = HERE / "results" / name
        if path.exists() and llama:
            print("")
            lines.extend(placement_table(json.loads(path.read_text()), llama))
    return "\n".join(lines)


def planned(llama: dict, serve: str) -> dict | None:
    """Weight bytes per device that the current plan (hfcheck/facts/memory.py) expects
    for the serve.py line, on the llama rebuilt from its headers."""
    import ast

    from hfcheck.facts import memory

    call = ast.parse(serve).body[0].value
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    with tempfile.TemporaryDirectory() as scratch:
        repo = header_only_repo(Path(scratch) / "llama", llama["config"], llama["tensors"])
        plan = memory.planned_placement(repo, kwargs.get("device_map"), kwargs.get("max_memory"))
        return memory.bytes_per_device(repo, plan) if plan else None


def placement_table(runs: dict, llama: dict) -> list[str]:
    gpus = runs.get("gpus", 1)
    out = [
        f"Placement on {gpus} x {runs['device']} (benchmarks/placement_proof.py{' with PLACEMENT_SET=two-gpus' if gpus > 1 else ''}, the llama above):",
        "",
    ]
    out.append(
        "| serve.py loads with | modules placed | weights planned from the headers | peak per GPU (whole smoke pass) | smoke pass / plain load + 32 tokens, in-process | SMK015 / notes |"
    )
    out.append("|---|---|---|---|---|---|")
    for run in runs["runs"].values():
        devices = sorted(set(run["placement"].values()))
        placed = (
            ", ".join(f"{d}: {sum(1 for v in run['placement'].values() if v == d)}" for d in devices) or "all on cuda:0 (no hf_device_map)"
        )
        plan = ", ".join(f"{d} {b / GiB:.2f} GiB" for d, b in (planned(llama, run["serve"]) or {}).items()) or "depends on the machine"
        peaks = ", ".join(f"{d} {b / GiB:.2f} GiB" for d, b in run["peak_by_device"].items())
        times = f"{run['wall_s']:.1f} s / {run['plain_s']:.1f} s" if run.get("plain_s") else f"{run['wall_s']:.1f} s / -"
        said = "; ".join([f.split(" ", 2)[2] for f in run["findings"] if " SMK015 " in f] + run["notes"]) or "none"
        out.append(f"| `{run['serve'].split('from_pretrained', 1)[1]}` | {placed} | {plan} | {peaks} | {times} | {said} |")
    return out


def in_doc(text: str) -> str:
    """docs/smoke.md with the table between its markers replaced by `text`."""
    doc = DOC.read_text(encoding="utf-8")
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{text}\n{END}{tail}"


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--write"]
    path = Path(args[0]) if args else HERE / "results" / "envelope_h200.json"
    text = table(json.loads(path.read_text()))
    if "--write" in sys.argv:
        DOC.write_text(in_doc(text), encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
