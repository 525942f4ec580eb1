"""Inline `# hfcheck: ignore[CODE]` suppressions on each file kind that allows comments,
the HFC005 finding for one that silences nothing, and per-file-ignores for JSON."""

from __future__ import annotations

import json

import pytest

from conftest import invoke

# (file, text with {mark} where the suppression goes, the code it silences, the finding's line)
KINDS = {
    "requirements": ("requirements.txt", "transformers{mark}\n", "PIN001", 1),
    "dockerfile": ("Dockerfile", "FROM python:3.11\n{own}RUN pip install transformers\n", "PIN001", None),
    "yaml": (
        "docker-compose.yml",
        "services:\n  tgi:\n    image: ghcr.io/huggingface/text-generation-inference:2.0\n    environment:\n      MODEL_ID: org/name{mark}\n",
        "PIN004",
        5,
    ),
    "python": ("serve.py", 'from transformers import AutoModel\nmodel = AutoModel.from_pretrained("org/name"){mark}\n', "PIN004", 2),
    "shell": ("setup.sh", "#!/bin/sh\npip install transformers{mark}\n", "PIN001", 2),
}


def findings(repo, *args):
    result = invoke(repo, "--format", "json", "--no-cache", *args)
    return [(f["code"], f["path"], f["line"], f["message"]) for f in json.loads(result.stdout)["targets"][0]["findings"]]


def write(repo, kind, mark="", own=""):
    name, text, code, _ = KINDS[kind]
    (repo / name).write_text(text.format(mark=mark, own=own))
    return name, code


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_suppression_silences_the_code_on_its_line(tiny_llama, kind):
    name, code = write(tiny_llama, kind)
    before = [f for f in findings(tiny_llama) if f[0] == code and f[1] == name]
    assert before, f"the fixture must trigger {code} in {name}"
    if kind == "dockerfile":  # a Dockerfile comment must start its line: on the line above
        write(tiny_llama, kind, own=f"# hfcheck: ignore[{code}]\n")
    else:
        write(tiny_llama, kind, mark=f"  # hfcheck: ignore[{code}]")
    after = findings(tiny_llama)
    assert not [f for f in after if f[1] == name and f[0] in (code, "HFC005")], after


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unused_suppression_is_hfc004(tiny_llama, kind):
    # a code that has no finding on the line: the suppression is stale
    if kind == "dockerfile":
        name, _ = write(tiny_llama, kind, own="# hfcheck: ignore[SEC001]\n")
        line = 2
    else:
        name, _ = write(tiny_llama, kind, mark="  # hfcheck: ignore[SEC001]")
        line = KINDS[kind][3]
    unused = [f for f in findings(tiny_llama) if f[0] == "HFC005"]
    assert [(f[1], f[2]) for f in unused] == [(name, line)]
    assert "no SEC001 finding" in unused[0][3]


def test_unknown_code_and_partly_used_suppression(tiny_llama):
    (tiny_llama / "requirements.txt").write_text("transformers  # hfcheck: ignore[PIN001, PIN999]\n")
    found = findings(tiny_llama)
    assert [f[0] for f in found if f[1] == "requirements.txt"] == ["HFC005"]
    assert "'PIN999', which is no rule code" in found[0][3] or any("'PIN999'" in f[3] for f in found)


def test_unused_suppression_of_an_unselected_rule_is_not_reported(tiny_llama):
    # with --select SEC, PIN001 never runs: its suppression is not known to be stale
    (tiny_llama / "requirements.txt").write_text("transformers==4.44.0  # hfcheck: ignore[PIN001]\n")

    def unused(*args):
        return [f[0] for f in findings(tiny_llama, *args) if f[0] == "HFC005"]

    assert unused() == ["HFC005"]
    assert unused("--select", "SEC,HFC") == []
    assert unused("--ignore", "HFC005") == []


def test_text_that_only_mentions_the_marker_is_no_suppression(tiny_llama):
    (tiny_llama / "requirements.txt").write_text("transformers\n")
    (tiny_llama / "serve.py").write_text('HELP = "write hfcheck: ignore[PIN001] in a comment"\n')
    assert [f[0] for f in findings(tiny_llama)] == ["PIN001"]


@pytest.mark.parametrize("key", ["per-file-ignores", "per_file_ignores", "per_path_ignores"])
def test_per_file_ignores_cover_json(tiny_llama, key):
    (tiny_llama / "extra.json").write_text('{"a": 1, "a": 2}')
    assert [f[0] for f in findings(tiny_llama)] == ["CFG004"]
    (tiny_llama / ".hfcheck.yaml").write_text(f"{key}:\n  'extra.json': [CFG004]\n")
    assert findings(tiny_llama) == []


def test_fix_leaves_a_suppressed_finding_alone(tiny_llama):
    requirements = tiny_llama / "requirements.txt"
    requirements.write_text("transformers\n")
    assert "b/requirements.txt" in invoke(tiny_llama, "--diff", "--unsafe-fixes", "--select", "PIN").stdout
    requirements.write_text("transformers  # hfcheck: ignore[PIN001]\n")
    result = invoke(tiny_llama, "--diff", "--unsafe-fixes", "--select", "PIN")
    assert "requirements.txt" not in result.stdout, result.output
