"""The smoke pass against plain transformers on the same model: goal <= 1.2x the time.

    python benchmarks/smoke_vs_transformers.py MODEL_DIR [--device cuda] [--repeats 3] [--json FILE]

Each side runs in a fresh process (imports, CUDA start and the load counted for both),
alternating, `--repeats` times; the medians are compared.
- smoke: what `hfcheck --smoke --device D MODEL_DIR` does: the static pass, then the
  smoke pass (load, forward, first token, greedy generation, padded batch against each
  sequence alone, tokenizer round trip, chat template).
- plain: AutoTokenizer + AutoModelForCausalLM.from_pretrained(dtype="auto",
  device_map=D) + one forward on the same prompt + the same greedy generation; with
  --envelope B,L (declared in the model folder's .hfcheck.yaml for the smoke side) also
  the envelope work: at batch 1 and at batch B, a prompt of L - 8 tokens and a greedy
  generation of 8 tokens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMOKE = """
import sys
from hfcheck.api import check
from hfcheck.smoke import smoke_target
report = check(sys.argv[1])
result = smoke_target(report.targets[0], device=sys.argv[2])
assert result.status == "ran" and result.load_error is None, result.reason or result.load_error
"""

PLAIN = """
import os, sys
os.environ["HF_HUB_OFFLINE"] = "1"
import torch, transformers
path, device, prompt, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
kwargs = {"device_map": device} if device == "cuda" else {}
model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype="auto", local_files_only=True, **kwargs).eval()
with torch.inference_mode():
    inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
    model(**inputs).logits
    model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False)
    batch, length, steps = (int(a) for a in sys.argv[5:8])
    for b in (1, batch) if batch else ():
        # the declared envelope, as the smoke pass serves it: prefill then decode steps
        ids = torch.randint(0, model.get_input_embeddings().weight.shape[0], (b, length - steps), generator=torch.Generator().manual_seed(0)).to(model.device)
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=steps, min_new_tokens=steps, do_sample=False, pad_token_id=0)
if device == "cuda":
    torch.cuda.synchronize()
"""


def timed(code: str, *args: str) -> float:
    start = time.perf_counter()
    # from a neutral folder: `python -c` puts the cwd first on sys.path, and a checkout's
    # own hfcheck/ must not shadow the one being measured
    subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--envelope", help="B,L: also run the declared envelope on the plain side")
    args = parser.parse_args(argv)
    from hfcheck.smoke.runner import ENVELOPE_DECODE_STEPS, NEW_TOKENS_CPU, NEW_TOKENS_GPU, PROMPTS

    args.model = str(Path(args.model).resolve())
    batch, length = (int(x) for x in args.envelope.split(",")) if args.envelope else (0, 0)
    plain_args = (
        args.model,
        args.device,
        PROMPTS[0],
        str(NEW_TOKENS_GPU if args.device == "cuda" else NEW_TOKENS_CPU),
        str(batch),
        str(length),
        str(ENVELOPE_DECODE_STEPS),
    )
    timed(PLAIN, *plain_args)  # warm the page cache for both sides
    smoke, plain = [], []
    for _ in range(args.repeats):
        plain.append(timed(PLAIN, *plain_args))
        smoke.append(timed(SMOKE, args.model, args.device))
    result = {
        "model": args.model,
        "envelope": [batch, length] if batch else None,
        "device": args.device,
        "smoke_s": smoke,
        "plain_s": plain,
        "smoke_median_s": statistics.median(smoke),
        "plain_median_s": statistics.median(plain),
    }
    result["ratio"] = result["smoke_median_s"] / result["plain_median_s"]
    result["goal_met"] = result["ratio"] <= 1.2
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
