"""Measure the declared serving envelope on a GPU: the smoke pass against plain transformers.

    python benchmarks/envelope_proof.py OUT_DIR [--tiny]

Builds four random-weight models in the shapes that matter for memory (a GQA Llama of
~0.85B parameters, an MHA GPT-2 with a plain MLP and tied embeddings, a Qwen2 with GQA,
a 152k vocabulary and tied embeddings, a BERT encoder in all-MiniLM-L6-v2's shape),
declares envelopes in .hfcheck.yaml (one of them too large for the GPU), runs
`hfcheck --smoke` on each (static pass + smoke_target, as the CLI does) and, for one
envelope per decoder, benchmarks/smoke_vs_transformers.py: the smoke pass against plain
transformers doing the same work including the envelope, in fresh processes. Writes OUT_DIR/envelope_runs.json with
the measured figures, each model's config.json and tensor shapes (so
benchmarks/envelope_table.py recomputes the static estimate with the current formula,
without the weights). --tiny: small shapes on CPU, to test the script.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

MODELS = {
    # name: (transformers config class, kwargs, dtype, envelopes [(batch, seq_len)], baseline envelope)
    "llama-gqa-0.85b": (
        "LlamaConfig",
        dict(
            hidden_size=2048,
            num_hidden_layers=16,
            num_attention_heads=32,
            num_key_value_heads=8,
            intermediate_size=5632,
            vocab_size=32000,
            max_position_embeddings=32768,
            tie_word_embeddings=False,
        ),
        "bfloat16",
        [(1, 4096), (8, 4096), (32, 4096), (64, 32768)],
        (8, 4096),
    ),
    "gpt2-mha-0.35b": (
        "GPT2Config",
        dict(n_embd=1024, n_layer=24, n_head=16, n_positions=4096, vocab_size=50257, tie_word_embeddings=True),
        "bfloat16",
        [(1, 1024), (8, 2048), (16, 4096)],
        (8, 2048),
    ),
    "qwen2-tied-0.5b": (
        "Qwen2Config",
        dict(
            hidden_size=896,
            num_hidden_layers=24,
            num_attention_heads=14,
            num_key_value_heads=2,
            intermediate_size=4864,
            vocab_size=151936,
            max_position_embeddings=32768,
            tie_word_embeddings=True,
        ),
        "bfloat16",
        [(1, 4096), (8, 4096), (16, 8192)],
        (8, 4096),
    ),
    "bert-minilm-l6": (
        "BertConfig",
        dict(
            hidden_size=384,
            num_hidden_layers=6,
            num_attention_heads=12,
            intermediate_size=1536,
            vocab_size=30522,
            max_position_embeddings=512,
        ),
        "float32",
        [(32, 256), (128, 512), (512, 512)],
        (128, 512),
    ),
}
TINY = {
    "llama-gqa-0.85b": dict(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=2000,
        max_position_embeddings=256,
    ),
    "gpt2-mha-0.35b": dict(n_embd=64, n_layer=2, n_head=4, n_positions=256, vocab_size=2000),
    "qwen2-tied-0.5b": dict(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=2000,
        max_position_embeddings=256,
    ),
    "bert-minilm-l6": dict(
        hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128, vocab_size=2000, max_position_embeddings=128
    ),
}
TINY_ENVELOPES = [(1, 32), (4, 64)]


def tokenizer(path: Path, decoder: bool) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    words = "the quick brown fox jumps over lazy dog model token batch pad serve deploy check weight".split()
    corpus = [" ".join(words[(i * 7 + j) % len(words)] for j in range(12)) + f" {i}." for i in range(2000)]
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=1000, special_tokens=["<unk>", "<s>", "</s>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left" if decoder else "right",
    )
    fast.save_pretrained(path)


def build(name: str, path: Path, tiny: bool, device: str) -> None:
    import torch
    import transformers

    config_class, kwargs, dtype, _envelopes, _baseline = MODELS[name]
    kwargs = TINY[name] if tiny else kwargs
    decoder = config_class != "BertConfig"
    config = getattr(transformers, config_class)(bos_token_id=1, eos_token_id=2, pad_token_id=3, **kwargs)
    model_class = transformers.AutoModelForCausalLM if decoder else transformers.AutoModel
    torch.manual_seed(0)
    with torch.device(device):
        model = model_class.from_config(config).to(getattr(torch, dtype))
    if decoder:
        model.generation_config.pad_token_id = 3
    model.save_pretrained(path)
    tokenizer(path, decoder)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()


def declare(path: Path, batch: int, seq_len: int) -> None:
    (path / ".hfcheck.yaml").write_text(f"deploy:\n  max_batch_size: {batch}\n  max_seq_len: {seq_len}\n")


def smoke(path: Path, device: str) -> dict:
    from hfcheck.api import check
    from hfcheck.smoke import smoke_target

    start = time.perf_counter()
    target = check(path).targets[0]
    result = smoke_target(target, device=device, progress=lambda step: print(f"  {path.name}: {step}", flush=True))
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "result": result.to_dict(),
        "findings": [f"{f.severity} {f.code} {f.message}" for f in target.findings if f.code.startswith(("SMK", "DMP"))],
    }


def tensor_shapes(path: Path) -> dict:
    from safetensors import safe_open

    shapes = {}
    for file in sorted(path.glob("*.safetensors")):
        with safe_open(file, "np") as f:
            for name in f.keys():
                sl = f.get_slice(name)
                shapes[name] = [sl.get_dtype(), sl.get_shape()]
    return shapes


def main() -> None:
    out = Path(sys.argv[1])
    tiny = "--tiny" in sys.argv
    import torch

    device = "cuda" if torch.cuda.is_available() and not tiny else "cpu"
    work = Path(os.environ.get("ENVELOPE_WORK", "/tmp/envelope-proof"))
    shutil.rmtree(work, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    import transformers

    report = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "models": {},
    }
    only = os.environ.get("ENVELOPE_MODELS")
    for name, (config_class, _kwargs, _dtype, envelopes, baseline) in MODELS.items():
        if only and name not in only.split(","):
            continue
        path = work / name
        start = time.perf_counter()
        build(name, path, tiny, device)
        entry = {
            "build_s": time.perf_counter() - start,
            "config": json.loads((path / "config.json").read_text()),
            "tensors": tensor_shapes(path),
            "runs": [],
        }
        decoder = config_class != "BertConfig"
        for batch, seq_len in TINY_ENVELOPES if tiny else envelopes:
            declare(path, batch, seq_len)
            run = smoke(path, device)
            run.update(batch=batch, seq_len=seq_len)
            entry["runs"].append(run)
            env = run["result"].get("envelope") or {}
            print(
                json.dumps(
                    {
                        "model": name,
                        "envelope": [batch, seq_len],
                        "wall_s": round(run["wall_s"], 2),
                        "fits": env.get("fits"),
                        "largest_fit": env.get("largest_fit"),
                        "peak_allocated_gib": (env.get("peak_allocated") or 0) / 2**30,
                        "peak_reserved_gib": (env.get("peak_reserved") or 0) / 2**30,
                    }
                ),
                flush=True,
            )
        b, n = TINY_ENVELOPES[-1] if tiny else baseline
        declare(path, b, n)
        if decoder:  # fresh processes on both sides, as benchmarks/smoke_vs_transformers.py measures
            import smoke_vs_transformers

            side = out / f"{name}-vs-transformers.json"
            smoke_vs_transformers.main([str(path), "--device", device, "--repeats", "3", "--envelope", f"{b},{n}", "--json", str(side)])
            entry["baseline"] = json.loads(side.read_text())
        print(json.dumps({"model": name, "baseline": entry.get("baseline")}), flush=True)
        report["models"][name] = entry
        shutil.rmtree(path, ignore_errors=True)
    (out / "envelope_runs.json").write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
