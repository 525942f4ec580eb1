"""Every rule on garbage: random values in the JSON files rules read must give findings,
never a crashed rule (HFC003)."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from hfcheck.api import check

FILES = ["config.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "tokenizer.json"]

garbage = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)


def mutate(document, key_choice: int, value):
    """Replace one existing key's value (keeping the file's shape) or the whole document."""
    if isinstance(document, dict) and document:
        keys = sorted(document)
        document[keys[key_choice % len(keys)]] = value
        return document
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(FILES), st.integers(0, 100), garbage, st.booleans())
def test_no_rule_crashes_on_garbage_values(name, key_choice, value, whole):
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        shutil.copytree(FIXTURES / "tiny-llama", repo)
        path = repo / name
        document = json.loads(path.read_text())
        path.write_text(json.dumps(value if whole else mutate(document, key_choice, value)))
        crashed = [f for f in check(repo).findings if f.code == "HFC003"]
        assert crashed == [], crashed
