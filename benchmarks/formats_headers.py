"""Time hfcheck on a Llama-3-70B-shaped GGUF and a 70B-shaped ONNX model with external
data, made of sparse files, and count the bytes the check reads.

    python benchmarks/formats_headers.py [--runs 5] [--dir DIR] [--keep]

The GGUF header (128256 tokens, a chat template, 723 tensor infos) is written by the
`gguf` package (llama.cpp's writer) and the tensor data is a hole made by truncate()
(Q4_K, ~40 GB apparent); model.onnx is written by the `onnx` package with every
initializer in model.onnx_data (bf16-sized, ~141 GB apparent, a hole). Each repo is
checked twice, the second time with twice the tensor bytes: the time and the bytes read
must not depend on them. Bytes read: `rchar` of /proc/self/io around `hfcheck.api.check`
in a child process (Linux only; includes Python's own module reads) plus the header
bytes the readers walk through a memory map (which rchar does not see: the GGUF data
offset, the whole model.onnx); peak RSS of the child shows no tensor page was mapped in.
Needs gguf, onnx.
Goal: < 1 s per repo, bytes read < 0.1 % of the repo.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from sparse_70b import LLAMA_3_70B, llama_tensors  # noqa: E402

CHILD = r"""
import json, sys, time
def rchar():
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("rchar:")).split()[1])
before, start = rchar(), time.perf_counter()
from hfcheck.api import check
findings = check(sys.argv[1]).findings
elapsed = time.perf_counter() - start
import resource
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": elapsed, "read": rchar() - before, "rss": rss, "codes": sorted({f.code for f in findings})}))
"""
TEMPLATE = "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"


def gguf_name(hf_name: str) -> str:
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    if hf_name in names:
        return names[hf_name]
    layer, rest = hf_name.split(".")[2], ".".join(hf_name.split(".")[3:])
    short = {"input_layernorm.weight": "attn_norm", "post_attention_layernorm.weight": "ffn_norm", "mlp.down_proj.weight": "ffn_down"}
    short |= {"mlp.gate_proj.weight": "ffn_gate", "mlp.up_proj.weight": "ffn_up", "self_attn.k_proj.weight": "attn_k"}
    short |= {"self_attn.o_proj.weight": "attn_output", "self_attn.q_proj.weight": "attn_q", "self_attn.v_proj.weight": "attn_v"}
    return f"blk.{layer}.{short[rest]}.weight"


def write_gguf_repo(folder: Path, config: dict) -> int:
    import gguf
    import numpy as np

    folder.mkdir(parents=True)
    path = folder / "model-Q4_K_M.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"tok{i}" for i in range(config["vocab_size"])])
    writer.add_bos_token_id(config["bos_token_id"])
    writer.add_eos_token_id(config["eos_token_id"])
    writer.add_chat_template(TEMPLATE)
    total = 0
    for name, shape in llama_tensors(config):
        quantized = len(shape) == 2
        kind = gguf.GGMLQuantizationType.Q4_K if quantized else gguf.GGMLQuantizationType.F32
        block, size = gguf.GGML_QUANT_SIZES[kind]
        elements = 1
        for dim in shape:
            elements *= dim
        nbytes = elements // block * size
        # quantized tensors are described by their byte shape: rows of blocks
        byte_shape = [*shape[:-1], shape[-1] // block * size] if quantized else shape
        writer.add_tensor_info(gguf_name(name), byte_shape, np.dtype(np.uint8 if quantized else np.float32), nbytes, raw_dtype=kind)
        total += -(-nbytes // 32) * 32
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    header = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(-(-header // 32) * 32 + total)
    return path.stat().st_size


def write_onnx_repo(folder: Path, config: dict) -> int:
    import onnx
    from onnx import TensorProto, helper

    folder.mkdir(parents=True)
    initializers, offset = [], 0
    for name, shape in llama_tensors(config):
        tensor = onnx.TensorProto(name=name, data_type=TensorProto.BFLOAT16, dims=shape)
        tensor.data_location = TensorProto.EXTERNAL
        length = 2
        for dim in shape:
            length *= dim
        for key, value in (("location", "model.onnx_data"), ("offset", str(offset)), ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        initializers.append(tensor)
        offset += -(-length // 4096) * 4096
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input_ids"], ["logits"])],
        "llama",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("logits", TensorProto.INT64, ["batch", "sequence"])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    with open(folder / "model.onnx_data", "wb") as handle:
        handle.truncate(offset)
    return sum(p.stat().st_size for p in folder.iterdir())


def measure(target: Path, runs: int) -> dict:
    results = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", CHILD, str(target)], capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    mapped = sum(_mapped_header_bytes(path) for path in target.iterdir())
    return {
        "seconds": statistics.median(r["seconds"] for r in results),
        "read": max(r["read"] for r in results) + mapped,
        "rss": max(r["rss"] for r in results),
        "codes": results[0]["codes"],
    }


def _mapped_header_bytes(path: Path) -> int:
    if path.suffix == ".onnx":
        return path.stat().st_size
    if path.suffix == ".gguf":
        import mmap

        from hfcheck.formats.gguf import read_gguf

        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            start = read_gguf(view).data_start
            view.release()
            return start
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="hfcheck-formats-"))
    doubled = {**LLAMA_3_70B, "intermediate_size": LLAMA_3_70B["intermediate_size"] * 2}
    try:
        rows = []
        for label, write in (("gguf", write_gguf_repo), ("onnx", write_onnx_repo)):
            for suffix, config in (("", LLAMA_3_70B), ("-2x", doubled)):
                size = write(workdir / f"{label}{suffix}", config)
                result = measure(workdir / f"{label}{suffix}", args.runs)
                rows.append((f"{label}{suffix}", size, result))
        print(f"| repo | apparent size | check (median of {args.runs}) | bytes read | share read | peak RSS | findings |")
        print("|---|---|---|---|---|---|---|")
        for name, size, result in rows:
            share = result["read"] / size
            cells = (
                name,
                f"{size / 1e9:.1f} GB",
                f"{result['seconds'] * 1000:.0f} ms",
                f"{result['read'] / 1e6:.1f} MB",
                f"{share:.5%}",
                f"{result['rss'] / 1e6:.0f} MB",
            )
            print("| " + " | ".join(cells) + f" | {', '.join(result['codes']) or 'none'} |")
        ok = all(result["seconds"] < 1.0 and result["read"] / size < 0.001 for _, size, result in rows)
        print("goal (< 1 s, < 0.1 % of the bytes read):", "met" if ok else "NOT met")
        return 0 if ok else 1
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
