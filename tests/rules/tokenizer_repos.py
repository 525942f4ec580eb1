"""Chat-model repos for the tokenizer, special-token and generation tests, in both file
generations, built on the tiny-llama fixture with tokenizers trained here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fixtures"))

from build import CORPUS  # noqa: E402

CHAT_SPECIALS = ["<unk>", "<s>", "</s>", "<pad>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def train(special_tokens=CHAT_SPECIALS, vocab_size: int = 300):
    """A byte-level BPE like fixtures/build.py's, with chat tokens among the specials."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special_tokens, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    bos = special_tokens[1]  # the bos follows <unk>, as in fixtures/build.py
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tokenizer.token_to_id(bos))]
    )
    return tokenizer


def read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def write(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def edit(path: Path, **changes) -> None:
    """Set (or, with None, delete) top-level keys of a JSON file."""
    data = read(path)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    write(path, data)


def make_chat_repo(repo: Path, generation: int, template: str = CHATML) -> dict[str, int]:
    """Turn a tiny-llama copy into a ChatML chat model saved by transformers 4.x
    (template in tokenizer_config.json, torch_dtype) or 5.x (chat_template.jinja,
    TokenizersBackend, dtype). Returns the special tokens' ids."""
    tokenizer = train()
    ids = {token: tokenizer.token_to_id(token) for token in CHAT_SPECIALS}
    (repo / "tokenizer.json").write_text(tokenizer.to_str(pretty=True) + "\n", encoding="utf-8")
    config = read(repo / "config.json")
    config.update(bos_token_id=ids["<s>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<pad>"])
    if generation == 5:
        config["dtype"] = config.pop("torch_dtype")
        config["transformers_version"] = "5.0.0"
    write(repo / "config.json", config)
    write(repo / "generation_config.json", {
        "bos_token_id": ids["<s>"], "eos_token_id": [ids["</s>"], ids["<|im_end|>"]], "pad_token_id": ids["<pad>"],
        "do_sample": True, "temperature": 0.7, "top_p": 0.9, "max_new_tokens": 64,
        "transformers_version": config["transformers_version"],
    })  # fmt: skip
    tokenizer_config = {
        "bos_token": "<s>", "eos_token": "<|im_end|>", "pad_token": "<pad>", "unk_token": "<unk>",
        "add_bos_token": True, "model_max_length": 256, "padding_side": "left", "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": {str(ids[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True} for t in CHAT_SPECIALS},
    }  # fmt: skip
    if generation == 5:
        tokenizer_config["tokenizer_class"] = "TokenizersBackend"
        (repo / "chat_template.jinja").write_text(template, encoding="utf-8")
    else:
        tokenizer_config["tokenizer_class"] = "PreTrainedTokenizerFast"
        tokenizer_config["chat_template"] = template
    write(repo / "tokenizer_config.json", tokenizer_config)
    write(repo / "special_tokens_map.json", {"bos_token": "<s>", "eos_token": "<|im_end|>", "pad_token": "<pad>", "unk_token": "<unk>"})
    card = (repo / "README.md").read_text(encoding="utf-8").replace("- text-generation\n", "- text-generation\n- chat\n", 1)
    (repo / "README.md").write_text(card, encoding="utf-8")
    return ids


def remove_template(repo: Path) -> None:
    (repo / "chat_template.jinja").unlink(missing_ok=True)
    edit(repo / "tokenizer_config.json", chat_template=None)
