"""Placement across devices on the one GPU there is: the smoke pass loads a deployment
with its own device_map / max_memory and compares where accelerate put each module with
what the deployment asked for (SMK015), with the per-device plan from the headers.

    python benchmarks/placement_proof.py OUT_DIR [--tiny]

Builds the ~0.85B GQA Llama of benchmarks/envelope_proof.py and checks it as four
serve.py files load it: max_memory too small for GPU 0 (modules fall to the CPU), a
max_memory that fits, a dict that puts the head on the CPU on purpose, and a dict over
two GPUs (on one GPU it is replayed as "auto": the two-GPU run is not made here).
Writes OUT_DIR/placement_runs.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import envelope_proof  # noqa: E402

SERVE = {
    "gpu0-budget-too-small": "model = AutoModelForCausalLM.from_pretrained('.', device_map='auto', max_memory={0: '1GiB', 'cpu': '32GiB'})",
    "gpu0-budget-fits": "model = AutoModelForCausalLM.from_pretrained('.', device_map='auto', max_memory={0: '40GiB', 'cpu': '32GiB'})",
    "head-on-cpu-on-purpose": "model = AutoModelForCausalLM.from_pretrained('.', device_map={'model': 0, 'lm_head': 'cpu'})",
    "dict-over-two-gpus": "model = AutoModelForCausalLM.from_pretrained('.', device_map={'model.embed_tokens': 0, 'model.layers': 1, 'model.norm': 1, 'lm_head': 1})",
}


# With two GPUs (PLACEMENT_SET=two-gpus): placements over both, per-GPU plan vs peak.
SERVE_TWO_GPUS = {
    "max-memory-split-over-two-gpus": "model = AutoModelForCausalLM.from_pretrained('.', device_map='auto', max_memory={0: '1GiB', 1: '40GiB'})",
    "dict-over-two-gpus": SERVE["dict-over-two-gpus"],
    "auto-on-two-gpus": "model = AutoModelForCausalLM.from_pretrained('.', device_map='auto')",
}


def plain_seconds(path: Path, line: str) -> float:
    """Plain transformers loading with the same kwargs and generating 32 tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401 - used by the serve line

    start = time.perf_counter()
    namespace = {"AutoModelForCausalLM": AutoModelForCausalLM}
    exec(line.replace("'.'", repr(str(path))), namespace)  # the serve.py line, as written
    model = namespace["model"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    inputs = tokenizer("The quick brown fox jumps over the lazy dog.", return_tensors="pt").to(model.device)
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=32, min_new_tokens=32, do_sample=False)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    del model
    torch.cuda.empty_cache()
    return seconds


def main() -> None:
    out = Path(sys.argv[1])
    tiny = "--tiny" in sys.argv
    import torch

    device = "cuda" if torch.cuda.is_available() and not tiny else "cpu"
    path = Path("/tmp/placement-proof/llama")
    out.mkdir(parents=True, exist_ok=True)
    envelope_proof.build("llama-gqa-0.85b", path, tiny, device)
    report = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "runs": {}}
    import os

    serve = SERVE_TWO_GPUS if os.environ.get("PLACEMENT_SET") == "two-gpus" else SERVE
    report["gpus"] = torch.cuda.device_count() if device == "cuda" else 0
    for label, line in serve.items():
        (path / "serve.py").write_text(f"from transformers import AutoModelForCausalLM\n\n{line}\n")
        start = time.perf_counter()
        run = envelope_proof.smoke(path, device)
        run["wall_s"] = time.perf_counter() - start
        result = run["result"]
        report["runs"][label] = {
            "serve": line,
            "wall_s": run["wall_s"],
            "findings": run["findings"],
            "placement": result["placement"],
            "peak_by_device": result["peak_by_device"],
            "notes": result["load_notes"],
            "load_error": result["load_error"],
            "plain_s": plain_seconds(path, line) if device == "cuda" else None,
        }
        print(
            json.dumps(
                {
                    "label": label,
                    "wall_s": round(run["wall_s"], 2),
                    "plain_s": report["runs"][label]["plain_s"],
                    "devices": sorted(set(result["placement"].values())),
                    "peak_by_device": result["peak_by_device"],
                    "notes": result["load_notes"],
                    "findings": [f for f in run["findings"] if "SMK015" in f or "DMP001" in f or "SMK003" in f],
                }
            ),
            flush=True,
        )
    (out / "placement_runs.json").write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
