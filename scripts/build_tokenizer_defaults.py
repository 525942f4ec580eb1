"""Build hfcheck/data/tokenizer_defaults.json from the installed transformers: each
tokenizer class's default `padding_side` (a class attribute: transformers 5 does not
write the default into tokenizer_config.json, and LlamaTokenizer, GemmaTokenizer, ...
default to "left" while most classes default to "right"), and the tokenizer class
AutoTokenizer picks for each model_type when tokenizer_config.json names none.

    python scripts/build_tokenizer_defaults.py

Run it after upgrading transformers; tests/test_packaged_data.py fails when the
committed table and the installed transformers disagree. The static pass reads the
JSON and never imports transformers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "hfcheck" / "data" / "tokenizer_defaults.json"
# Base classes a tokenizer_config.json may name directly (besides the mapping's classes).
BASE_CLASSES = ("PreTrainedTokenizerFast", "TokenizersBackend", "PreTrainedTokenizer", "PythonBackend", "SentencePieceBackend")


def build() -> dict:
    import transformers
    from transformers.models.auto import tokenization_auto
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES, tokenizer_class_from_name

    names = sorted({name for name in TOKENIZER_MAPPING_NAMES.values() if name} | set(BASE_CLASSES))
    sides, unresolved = {}, []
    for name in names:
        try:
            cls = tokenizer_class_from_name(name)
            side = getattr(cls, "padding_side", None)  # RagTokenizer wraps two tokenizers: no side of its own
        except ImportError:  # a placeholder for a class whose backend (sentencepiece, ...) is not installed
            cls, side = None, None
        if side in ("left", "right"):
            sides[name] = side
        else:
            unresolved.append(name)
    return {
        "source": "the installed transformers: each class's padding_side attribute, for the classes of "
        "TOKENIZER_MAPPING_NAMES; built by scripts/build_tokenizer_defaults.py",
        "transformers": transformers.__version__,
        "padding_side": sides,
        # classes whose default could not be read here (their backend is not installed)
        "unresolved": unresolved,
        # model types whose Hub tokenizer_class AutoTokenizer overrides with the mapping's class
        "hub_class_overridden": sorted(getattr(tokenization_auto, "MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS", ())),
        "model_type_tokenizer": {model_type: name for model_type, name in sorted(TOKENIZER_MAPPING_NAMES.items()) if name},
    }


def main() -> int:
    table = build()
    OUTPUT.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    left = sorted(name for name, side in table["padding_side"].items() if side == "left")
    print(
        f"{len(table['padding_side'])} classes ({', '.join(left)} pad left) from transformers {table['transformers']} -> {OUTPUT}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
