"""Build a random-weight ~0.85B Llama (bf16, sharded safetensors, trained BPE tokenizer)
and run the smoke pass on it clean, with broken pad setups, and loaded the way two
deployments' serve.py files load it; writes JSON to OUT.

    python benchmarks/gpu_proof.py /tmp/llama1b OUT_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path


def build(path: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    start = time.perf_counter()
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    words = "the quick brown fox jumps over lazy dog model token batch pad serve deploy check weight".split()
    corpus = [" ".join(words[(i * 7 + j) % len(words)] for j in range(12)) + f" {i}." for i in range(2000)]
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=2000, special_tokens=["<unk>", "<s>", "</s>", "<pad>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>", padding_side="left"
    )
    fast.chat_template = "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}{% if add_generation_prompt %}<s>assistant\n{% endif %}"
    config = LlamaConfig(
        hidden_size=2048,
        num_hidden_layers=16,
        num_attention_heads=32,
        num_key_value_heads=8,
        intermediate_size=5632,
        vocab_size=32000,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=False,
        dtype="bfloat16",
    )
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.generation_config.pad_token_id = 3
    model.save_pretrained(path, max_shard_size="500MB")
    fast.save_pretrained(path)
    params = sum(p.numel() for p in model.parameters())
    del model
    torch.cuda.empty_cache()
    print(f"built {params / 1e9:.3f}B params in {time.perf_counter() - start:.1f} s: {sorted(os.listdir(path))}", flush=True)


def edit(path: Path, name: str, **changes) -> None:
    data = json.loads((path / name).read_text())
    data.update(changes)
    (path / name).write_text(json.dumps(data, indent=2))


def variant(source: Path, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir()
    for f in source.iterdir():
        if f.suffix == ".safetensors":
            os.link(f, dest / f.name)  # hard link: the same weights; only the small JSON files change
        else:
            shutil.copy(f, dest / f.name)
    return dest


def smoke(path: Path, out: Path, label: str) -> None:
    from hfcheck.api import check
    from hfcheck.smoke import smoke_target

    start = time.perf_counter()
    report = check(path)
    target = report.targets[0]
    result = smoke_target(target, device="cuda", progress=lambda step: print(f"[{label}] {step}", flush=True))
    wall = time.perf_counter() - start
    data = {
        "label": label,
        "wall_s": wall,
        "exit_code": target.exit_code(),
        "result": result.to_dict(),
        "findings": [f.to_dict() for f in target.findings],
    }
    (out / f"{label}.json").write_text(json.dumps(data, indent=1, default=str))
    print(json.dumps({k: data[k] for k in ("label", "wall_s", "exit_code")}), flush=True)
    for f in target.findings:
        print(f"  {f.severity} {f.code} {f.path}:{f.line} {f.message}", flush=True)


def main() -> None:
    path, out = Path(sys.argv[1]), Path(sys.argv[2])
    if not (path / "config.json").exists():
        build(path)
    smoke(path, out, "clean")
    side = variant(path, Path(str(path) + "-right-pad"))
    edit(side, "tokenizer_config.json", padding_side="right")
    smoke(side, out, "broken-padding-side")
    pad = variant(path, Path(str(path) + "-pad-id"))
    edit(pad, "config.json", pad_token_id=1)  # <s>, a real token that starts every prompt
    edit(pad, "generation_config.json", pad_token_id=1)
    smoke(pad, out, "broken-pad-id")
    # The smoke pass loads the model the way the deployment's code does.
    deployed = variant(path, Path(str(path) + "-deployed"))
    (deployed / "serve.py").write_text(
        "import torch\nfrom transformers import AutoModelForCausalLM\n\n"
        "model = AutoModelForCausalLM.from_pretrained('.', torch_dtype=torch.float16, attn_implementation='sdpa', device_map={'': 3})\n"
    )
    smoke(deployed, out, "deployed-fp16-sdpa")
    (deployed / "serve.py").write_text(
        "from transformers import AutoModelForCausalLM\n\nmodel = AutoModelForCausalLM.from_pretrained('.', attn_implementation='flash_attention_2')\n"
    )
    smoke(deployed, out, "deployed-flash-attention-2")


if __name__ == "__main__":
    main()
