"""Files from strangers: every case gives a finding naming the file (or a clean skip),
exit 0 or 1, no traceback, in bounded time and memory."""

from __future__ import annotations

import json
import os
import struct
import time

import pytest

from conftest import invoke
from hfcheck.formats.safetensors import read_header


def hfcheck_json(target, *args):
    start = time.perf_counter()
    result = invoke(target, "--format", "json", *args)
    elapsed = time.perf_counter() - start
    assert result.exit_code in (0, 1), result.output
    assert elapsed < 20, f"took {elapsed:.1f}s"
    return json.loads(result.stdout)["targets"][0]["findings"]


def header_of(data: bytes, file_size: int | None = None):
    import io

    return read_header(io.BytesIO(data), len(data) if file_size is None else file_size)


def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(
    "blob, expected",
    [
        (struct.pack("<Q", 2**63) + b"{}", "exceeds the format's limit"),
        (struct.pack("<Q", 11) + b"{}", "runs past the end"),
        (struct.pack("<Q", 0), "header length is 0"),
        (b"\x01\x02", "too short"),
        (struct.pack("<Q", 4) + b"\xff\xfe{}", "not valid UTF-8"),
        (struct.pack("<Q", 200_002) + b"[" * 100_001 + b"]" * 100_001, "nested too deeply"),
    ],
)
def test_safetensors_header_bounds(blob, expected):
    header = header_of(blob)
    assert header.error is not None and expected in header.error


@pytest.mark.parametrize(
    "offsets, expected",
    [
        ([0, 2**70], "needs 4 bytes"),
        ([-4, 0], "not [begin, end]"),
        ([8, 4], "not [begin, end]"),
        (["0", 4], "not [begin, end]"),
    ],
)
def test_safetensors_bad_offsets(offsets, expected):
    header = header_of(safetensors_bytes({"t": {"dtype": "F32", "shape": [1], "data_offsets": offsets}}, b"\0" * 4))
    assert any(expected in problem for problem in header.problems), header.problems


def test_safetensors_overlap_gap_truncation_and_dtype():
    overlap = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}
    assert any("overlaps" in p for p in header_of(safetensors_bytes(overlap, b"\0" * 8)).problems)
    truncated = {"a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}}
    assert any("truncated" in p for p in header_of(safetensors_bytes(truncated, b"\0" * 6)).problems)
    assert any(
        "unknown dtype" in p
        for p in header_of(safetensors_bytes({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}, b"\0")).problems
    )
    assert any("__metadata__" in p for p in header_of(safetensors_bytes({"__metadata__": {"a": 1}})).problems)


def test_safetensors_with_a_million_tensors_is_bounded():
    header = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(1_000_000)}
    blob = safetensors_bytes(header, b"\0" * 1_000_000)
    start = time.perf_counter()
    parsed = header_of(blob)
    assert parsed.error is None and len(parsed.tensors) == 1_000_000 and parsed.problems == []
    assert time.perf_counter() - start < 60  # a guard against hangs, not a benchmark


def test_json_hostile_cases(tiny_llama):
    (tiny_llama / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tiny_llama / "nan.json").write_text('{"x": NaN, "y": -Infinity}')
    (tiny_llama / "bom16.json").write_bytes("{}".encode("utf-16"))
    (tiny_llama / "latin1.json").write_bytes('{"name": "caf\xe9"}'.encode("latin-1"))
    (tiny_llama / "dupes.json").write_text('{"a": 1, "a": 2}')
    with open(tiny_llama / "huge.json", "wb") as handle:  # 1 GB single line, sparse
        handle.truncate(1 << 30)
    by_path = {f["path"]: f for f in hfcheck_json(tiny_llama)}
    assert "nested too deeply" in by_path["deep.json"]["message"]
    assert by_path["nan.json"]["severity"] == "warning"
    assert "UTF-16" in by_path["bom16.json"]["message"]
    assert "UTF-8" in by_path["latin1.json"]["message"]
    assert by_path["dupes.json"]["code"] == "CFG004"
    assert "limit" in by_path["huge.json"]["message"]


def test_yaml_hostile_settings(tiny_llama):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
    )
    (tiny_llama / ".hfcheck.yaml").write_text(bomb)
    findings = hfcheck_json(tiny_llama)
    assert any(f["code"] == "HFC002" and "alias bomb" in f["message"] for f in findings)
    (tiny_llama / ".hfcheck.yaml").write_text("select: !!python/object/apply:os.system ['touch pwned']\n")
    findings = hfcheck_json(tiny_llama)
    assert any(f["code"] == "HFC002" for f in findings)
    assert not (tiny_llama / "pwned").exists()


def test_file_system_hostile_cases(tiny_llama, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (tiny_llama / "loop").symlink_to(tiny_llama / "loop")
    (tiny_llama / "escape.json").symlink_to(outside)
    (tiny_llama / "dir-escape").symlink_to(tmp_path)
    os.mkfifo(tiny_llama / "pipe.json")
    found = {f["path"]: f["message"] for f in hfcheck_json(tiny_llama)}
    assert "loop" in found["loop"]
    assert "outside the target" in found["escape.json"]
    assert "FIFO" in found["pipe.json"]
    assert "secret" not in json.dumps(found)


def test_a_hundred_thousand_files(tmp_path):
    repo = tmp_path / "many"
    for index in range(100):
        folder = repo / f"d{index}"
        folder.mkdir(parents=True)
        for item in range(1000):
            (folder / f"f{item}.txt").touch()
    # every file listed, none of them a model or a deployment: nothing checked, said loudly
    assert [(f["code"], "100000 files" in f["message"]) for f in hfcheck_json(repo)] == [("HFC004", True)]
