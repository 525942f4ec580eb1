"""Triton Inference Server model repositories: `config.pbtxt` (backend, instance_group
GPUs, string parameters) and the vLLM backend's `model.json` (vLLM engine arguments).
The text protobuf is read by a small tokenizer with a size bound, never by protobuf."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

MAX_CHARS = 1_000_000
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?|[{}\[\]:,<>]|#[^\n]*')


@dataclass
class TritonConfig:
    backend: str | None = None
    platform: str | None = None
    parameters: dict = field(default_factory=dict)  # key -> (string value, line)
    gpus: int | None = None  # GPUs named by instance_group `gpus: [...]`
    error: str | None = None


def parse_config_pbtxt(text: str) -> TritonConfig:
    config = TritonConfig()
    text = text[:MAX_CHARS]
    tokens = [(m.group(0), text.count("\n", 0, m.start()) + 1) for m in _TOKEN.finditer(text) if not m.group(0).startswith("#")]
    gpus = set()
    for i, (token, _) in enumerate(tokens[:-2]):
        value = tokens[i + 2][0] if tokens[i + 1][0] == ":" else None
        if token == "backend" and value:
            config.backend = value.strip('"')
        elif token == "platform" and value:
            config.platform = value.strip('"')
        elif token == "key" and value and value.startswith('"'):
            string = next(
                (
                    tokens[j + 2]
                    for j in range(i + 3, min(i + 12, len(tokens) - 2))
                    if tokens[j][0] == "string_value" and tokens[j + 1][0] == ":"
                ),
                None,
            )
            if string:
                config.parameters[value.strip('"')] = (string[0].strip('"'), string[1])
        elif token == "gpus" and tokens[i + 1][0] == ":" and tokens[i + 2][0] == "[":
            for other, _ in tokens[i + 3 : i + 40]:
                if other == "]":
                    break
                if other.isdigit():
                    gpus.add(other)
    config.gpus = len(gpus) or None
    return config


def parse_model_json(text: str) -> tuple[dict, str | None]:
    """The vLLM backend's engine arguments: (dict, error)."""
    try:
        data = json.loads(text[:MAX_CHARS])
    except (ValueError, RecursionError) as error:
        return {}, f"model.json is not JSON: {error}"
    return (data, None) if isinstance(data, dict) else ({}, "model.json is not an object")
