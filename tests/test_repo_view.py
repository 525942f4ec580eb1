"""The repo view: what it lists, what it refuses to read, and what it records."""

from __future__ import annotations

import os

import pytest

from conftest import codes
from hfcheck.formats.json_doc import parse_json
from hfcheck.formats.yaml_doc import parse_yaml
from hfcheck.repo import Limits, RepoView


def test_symlink_outside_target_is_reported_not_read(tiny_llama, tmp_path, run_rules):
    secret = tmp_path / "secret.json"
    secret.write_text("{ not json")
    (tiny_llama / "leak.json").symlink_to(secret)
    findings = run_rules(tiny_llama)
    assert [(f.code, f.path) for f in findings] == [("HFC001", "leak.json")]
    assert "outside the target" in findings[0].message


def test_symlink_loop_and_broken_link(tiny_llama, run_rules):
    (tiny_llama / "a.json").symlink_to(tiny_llama / "b.json")
    (tiny_llama / "b.json").symlink_to(tiny_llama / "a.json")
    (tiny_llama / "gone.json").symlink_to(tiny_llama / "nowhere.json")
    messages = {f.path: f.message for f in run_rules(tiny_llama)}
    assert "loop" in messages["a.json"] and "loop" in messages["b.json"]
    assert "broken symlink" in messages["gone.json"]


def test_fifo_is_skipped_without_opening(tiny_llama, run_rules):
    os.mkfifo(tiny_llama / "tokenizer.json.fifo.json")
    findings = run_rules(tiny_llama)  # would hang forever if the FIFO were opened
    assert [(f.code, f.path) for f in findings] == [("HFC001", "tokenizer.json.fifo.json")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tiny_llama, run_rules):
    (tiny_llama / "config.json").chmod(0)
    assert "cannot open" in run_rules(tiny_llama, select=["HFC"])[0].message


def test_size_cap_is_recorded(tiny_llama):
    view = RepoView(tiny_llama, limits=Limits(json_bytes=100))
    assert view.json("tokenizer.json") is None
    assert "over the" in view.read_errors["tokenizer.json"].message


def test_non_utf8_json_is_an_error(tiny_llama, run_rules):
    (tiny_llama / "generation_config.json").write_bytes('{"a": 1}'.encode("utf-16"))
    findings = run_rules(tiny_llama)
    assert [(f.code, f.severity, f.concern) for f in findings] == [("HFC001", "error", "generation")]
    assert "UTF-16" in findings[0].message


def test_file_limit(tiny_llama):
    view = RepoView(tiny_llama, limits=Limits(max_files=3))
    assert len(view.files) == 3 and "more than 3 files" in view.read_errors["."].message


def test_skipped_dirs_and_exclude(tiny_llama, run_rules):
    (tiny_llama / ".git").mkdir()
    (tiny_llama / ".git" / "bad.json").write_text("{")
    (tiny_llama / "scratch").mkdir()
    (tiny_llama / "scratch" / "bad.json").write_text("{")
    assert codes(run_rules(tiny_llama)) == ["CFG002"]
    assert run_rules(tiny_llama, exclude=["scratch"]) == []


def test_json_line_lookup_and_hostile_nesting():
    doc = parse_json('{\n "a": {"b": [1,\n 2, {"c": 3}]},\n "d": 4\n}')
    assert (doc.line_of("a"), doc.line_of("a", "b", 2, "c"), doc.line_of("d"), doc.line_of("zz")) == (2, 3, 4, None)
    deep = parse_json("[" * 100_000 + "]" * 100_000)
    assert deep.error is not None and "nested" in deep.error.message


def test_yaml_alias_bomb_and_custom_tags_refused():
    # billion laughs: 9 levels of 9 aliases, 81 aliases that expand to 9**9 nodes
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
    )
    assert "alias bomb" in parse_yaml(bomb).error.message
    small = "a: &a [x, y]\nb: [*a, *a]\n"
    assert parse_yaml(small).data == {"a": ["x", "y"], "b": [["x", "y"], ["x", "y"]]}
    lots = "base: &b x\nitems: [" + ", ".join(["*b"] * 5000) + "]\n"
    assert "alias" in parse_yaml(lots).error.message
    tagged = parse_yaml("x: !!python/object/apply:os.system ['true']\n")
    assert tagged.error is not None and tagged.data is None


def test_permission_denied_is_recorded_even_as_root(tiny_llama, monkeypatch, run_rules):
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if str(path).endswith("tokenizer_config.json"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr("hfcheck.reader.os.open", refusing_open)  # the safe reader opens files
    findings = [f for f in run_rules(tiny_llama) if f.code == "HFC001"]
    assert [(f.path, f.message) for f in findings] == [("tokenizer_config.json", "cannot open: Permission denied")]
