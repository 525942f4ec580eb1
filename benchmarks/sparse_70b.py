"""Time hfcheck's static pass on a Llama-3-70B-shaped repo made of sparse files.

    python benchmarks/sparse_70b.py [--runs 7] [--dir DIR] [--keep]

Writes the real Llama-3-70B config.json (hidden 8192, 80 layers, 64 heads, 8 KV heads,
intermediate 28672, vocab 128256, bf16), 30 safetensors shards whose headers are real
(8-byte length + JSON) and whose data are holes made by truncate() (~141 GB apparent,
a few MB on disk), and model.safetensors.index.json. Then runs `hfcheck DIR` several
times and prints the median wall time and the peak RSS of the child (os.wait4).
A second repo with the intermediate size doubled (~2x the weight bytes) shows that the
time does not depend on the bytes of tensor data. Goal: < 0.3 s, < 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

LLAMA_3_70B = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 128000,
    "eos_token_id": 128001,
    "hidden_act": "silu",
    "hidden_size": 8192,
    "initializer_range": 0.02,
    "intermediate_size": 28672,
    "max_position_embeddings": 8192,
    "model_type": "llama",
    "num_attention_heads": 64,
    "num_hidden_layers": 80,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.40.0.dev0",
    "use_cache": True,
    "vocab_size": 128256,
}
BYTES = {"BF16": 2, "F16": 2, "F32": 4}


def llama_tensors(config: dict) -> list[tuple[str, list[int]]]:
    """(name, shape) of every tensor of a Llama checkpoint, in the order HF shards them."""
    hidden, inter, vocab = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    head_dim = config.get("head_dim") or hidden // config["num_attention_heads"]
    q, kv = config["num_attention_heads"] * head_dim, config["num_key_value_heads"] * head_dim
    tensors = [("model.embed_tokens.weight", [vocab, hidden])]
    for layer in range(config["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        tensors += [
            (p + "input_layernorm.weight", [hidden]),
            (p + "mlp.down_proj.weight", [hidden, inter]),
            (p + "mlp.gate_proj.weight", [inter, hidden]),
            (p + "mlp.up_proj.weight", [inter, hidden]),
            (p + "post_attention_layernorm.weight", [hidden]),
            (p + "self_attn.k_proj.weight", [kv, hidden]),
            (p + "self_attn.o_proj.weight", [hidden, q]),
            (p + "self_attn.q_proj.weight", [q, hidden]),
            (p + "self_attn.v_proj.weight", [kv, hidden]),
        ]
    tensors.append(("model.norm.weight", [hidden]))
    if not config.get("tie_word_embeddings"):
        tensors.append(("lm_head.weight", [vocab, hidden]))
    return tensors


def write_sparse_safetensors(path: Path, tensors: list[tuple[str, list[int]]], dtype: str) -> int:
    """A safetensors file with a real header and a hole for the data; returns data bytes."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in tensors:
        size = BYTES[dtype]
        for dim in shape:
            size *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the reference writer pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    return offset


def write_sparse_repo(root: Path, config: dict, shards: int, dtype: str = "BF16", pickle: bool = False) -> int:
    """A sharded model repo of sparse files (safetensors, or torch.save zips with
    `pickle`); returns the apparent size in bytes."""
    if pickle:
        if str(HERE) not in sys.path:  # also when this file is loaded by path (tests)
            sys.path.insert(0, str(HERE))
        from sparse_torch_zip import write_sparse_checkpoint

    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    tensors = llama_tensors(config)
    per_shard = -(-len(tensors) // shards)
    stem, suffix, write = (
        ("pytorch_model", "bin", write_sparse_checkpoint) if pickle else ("model", "safetensors", write_sparse_safetensors)
    )
    weight_map, total = {}, 0
    for i in range(shards):
        chunk = tensors[i * per_shard : (i + 1) * per_shard]
        name = f"{stem}-{i + 1:05d}-of-{shards:05d}.{suffix}"
        total += write(root / name, chunk, dtype)
        weight_map.update({t: name for t, _ in chunk})
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (root / f"{stem}.{suffix}.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return sum(p.stat().st_size for p in root.iterdir())


def disk_usage(root: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in root.iterdir())


def run_once(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one child."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        sys.exit(f"{' '.join(command)} failed:\n{output.decode(errors='replace')}")
    rss_mb = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20
    return wall, rss_mb, child.returncode


def measure(commands: list[list[str]], runs: int) -> list[tuple[float, float]]:
    """Median wall and max peak RSS per command; runs interleaved so load drift on a
    shared machine hits every command alike."""
    results = [[] for _ in commands]
    for _ in range(runs):
        for i, command in enumerate(commands):
            results[i].append(run_once(command))
    return [(statistics.median(r[0] for r in rs), max(r[1] for r in rs)) for rs in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="where to write the repos (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated repos")
    args = parser.parse_args()
    hfcheck = shutil.which("hfcheck") or sys.exit("hfcheck is not installed in this environment")
    base = args.dir or Path(tempfile.mkdtemp(prefix="hfcheck-sparse-"))
    variants = [("llama-3-70b", LLAMA_3_70B), ("llama-3-70b-2x-intermediate", {**LLAMA_3_70B, "intermediate_size": 2 * 28672})]
    try:
        rows = [("python -c pass", [sys.executable, "-c", "pass"], None, None)]
        for name, config in variants:
            root = base / name
            apparent = write_sparse_repo(root, config, shards=30)
            rows.append((f"hfcheck {name}", [hfcheck, str(root), "--format", "json"], apparent, disk_usage(root)))
        print(f"{'command':<40} {'apparent GB':>11} {'on disk MB':>10} {'median s':>9} {'peak RSS MB':>11}")
        timings = []
        for (name, _, apparent, on_disk), (wall, rss) in zip(rows, measure([r[1] for r in rows], args.runs), strict=True):
            timings.append(wall)
            gb = f"{apparent / 1e9:.1f}" if apparent else "-"
            mb = f"{on_disk / 1e6:.1f}" if on_disk is not None else "-"
            print(f"{name:<40} {gb:>11} {mb:>10} {wall:>9.3f} {rss:>11.1f}")
        if len(timings) == 3:
            print(f"time change with 2x weight bytes: {100 * (timings[2] - timings[1]) / timings[1]:+.1f}%")
        findings = json.loads(subprocess.run(rows[1][1], capture_output=True, text=True).stdout)
        print("findings on the 70B repo:", json.dumps(findings.get("summary", findings))[:300])
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
