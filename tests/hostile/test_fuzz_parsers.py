"""Property tests: no parser lets an exception escape, and each is deterministic."""

from __future__ import annotations

import io
import json
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hfcheck.formats.card import parse_card
from hfcheck.formats.json_doc import parse_json
from hfcheck.formats.safetensors import read_header
from hfcheck.formats.yaml_doc import parse_yaml

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=20,
)


def describe(doc):
    return (repr(doc.data), doc.error, doc.duplicate_keys)


@FAST
@given(st.text(max_size=400))
def test_json_never_raises(text):
    doc = parse_json(text)
    assert describe(doc) == describe(parse_json(text))
    doc.line_of("a", 0, "b")


@FAST
@given(json_values, st.lists(st.one_of(st.text(max_size=4), st.integers(0, 3)), max_size=4))
def test_json_line_lookup_on_valid_documents(value, path):
    doc = parse_json(json.dumps(value, indent=1))
    assert doc.error is None
    line = doc.line_of(*path)
    assert line is None or 1 <= line <= doc.text.count("\n") + 1


@FAST
@given(st.text(max_size=400))
def test_yaml_and_card_never_raise(text):
    first = parse_yaml(text)
    assert (repr(first.data), first.error) == (repr(parse_yaml(text).data), parse_yaml(text).error)
    card = parse_card("---\n" + text + "\n---\nbody")
    card.headings()


safetensors_entries = st.dictionaries(
    st.text(max_size=5),
    st.fixed_dictionaries(
        {
            "dtype": st.sampled_from(["F32", "BF16", "U8", "F4", "X"]),
            "shape": st.lists(st.integers(-2, 6), max_size=3),
            "data_offsets": st.lists(st.integers(-3, 64), min_size=0, max_size=3),
        }
    ),
    max_size=5,
)


@FAST
@given(safetensors_entries, st.binary(max_size=64), st.integers(-16, 16))
def test_safetensors_header_never_raises(entries, data, size_delta):
    raw = json.dumps(entries).encode()
    blob = struct.pack("<Q", len(raw)) + raw + data
    size = max(0, len(blob) + size_delta)
    first = read_header(io.BytesIO(blob), size)
    second = read_header(io.BytesIO(blob), size)
    assert (first.error, first.problems, first.tensors) == (second.error, second.problems, second.tensors)


@FAST
@given(st.binary(max_size=200))
def test_safetensors_header_on_random_bytes(blob):
    read_header(io.BytesIO(blob), len(blob))
