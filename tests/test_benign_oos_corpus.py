"""No error on any file of the out-of-sample benign corpus (benchmarks/benign_corpus.py):
checkpoints written by real libraries' own save paths and verified to load cleanly under the
loader oracle. The corpus never feeds the allowlist; today's false positives are strict
xfails that say why, and flip when #15's fixes merge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from differential import hfcheck_errors

CORPUS = Path(__file__).resolve().parents[1] / "benchmarks" / "corpus" / "benign_oos"
MANIFEST = json.loads((CORPUS / "MANIFEST.json").read_text())["files"]

# False positives of today's scanner (#15 "False positives on real files").
KNOWN_FALSE_POSITIVES: dict[str, str] = {}  # all five of the first measurement are fixed (#15)


def test_corpus_spans_ten_libraries_and_every_file_is_listed():
    assert len({m["library"] for m in MANIFEST}) >= 10
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.name != "MANIFEST.json"}
    assert on_disk == {m["file"] for m in MANIFEST}


@pytest.mark.parametrize(
    "relative",
    [
        pytest.param(
            m["file"],
            id=m["file"],
            marks=[pytest.mark.xfail(strict=True, reason=KNOWN_FALSE_POSITIVES[m["file"]])] if m["file"] in KNOWN_FALSE_POSITIVES else [],
        )
        for m in MANIFEST
    ],
)
def test_no_error_on_a_real_library_checkpoint(relative, tmp_path):
    source = CORPUS / relative
    shutil.copyfile(source, tmp_path / source.name)
    errors = hfcheck_errors(tmp_path)
    assert not errors, errors[:3]
