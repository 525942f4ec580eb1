"""ModelAudit's own Keras, TensorFlow and Jinja test files against hfcheck: the verdicts
of its tests (SOURCE.md) hold, each file in the layout a loader reads it from, except
where hfcheck rightly differs (listed with the reason). The files are never loaded.
ModelScan's suite has no Keras/TensorFlow/template files (its tests generate them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
# `shared/` beside the repository root (CI, the main checkout), or beside the folder of
# worktrees that hold this checkout
PEER = next(
    (
        root / "shared" / "peer-suites" / "modelaudit"
        for root in (_ROOT.parent, _ROOT.parent.parent)
        if (root / "shared" / "peer-suites").is_dir()
    ),
    _ROOT.parent / "shared" / "peer-suites" / "modelaudit",
)
CODES = ["KRS", "TFS", "TPL"]
FORMAT_DIRS = ("tests/assets/samples/keras/", "tests/assets/samples/tensorflow/", "tests/assets/samples/jinja2/")

# Where hfcheck's answer differs from the peer's test, and why.
DIFFERS = {
    # A YAML file is not where any loader reads a chat template (transformers reads
    # tokenizer_config.json, chat_template.json/.jinja; llama.cpp reads GGUF metadata).
    "tests/assets/samples/jinja2/yaml/malicious_config.yaml": "no loader renders a template from a YAML file",
}


def _rows() -> list[tuple[str, str]]:
    if not (PEER / "SOURCE.md").exists():
        return []
    rows = []
    for line in (PEER / "SOURCE.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith(FORMAT_DIRS) and cells[1] in ("malicious", "benign"):
            if (cells[0], cells[1]) not in rows:
                rows.append((cells[0], cells[1]))
    return rows


ROWS = _rows()


def layout(rel: str, dest: Path) -> Path:
    """The peer file where a loader would read it: HDF5 and SavedModel folders as they
    are, JSON with `chat_template` as tokenizer_config.json, bare templates as
    chat_template.jinja, YAML as it is."""
    source = PEER / rel
    dest.mkdir(parents=True)
    if source.is_dir():
        shutil.copytree(source, dest / source.name)
    elif rel.endswith(".json"):
        shutil.copy(source, dest / "tokenizer_config.json")
    elif rel.endswith((".j2", ".jinja", ".template")):
        shutil.copy(source, dest / "chat_template.jinja")
    else:
        shutil.copy(source, dest / source.name)
    return dest


@pytest.mark.skipif(not ROWS, reason="peer suites not present")
@pytest.mark.parametrize("rel, verdict", ROWS, ids=[r for r, _ in ROWS])
def test_peer_verdict(rel, verdict, tmp_path, run_rules):
    findings = run_rules(layout(rel, tmp_path / "repo"), select=CODES)
    errors = [f for f in findings if f.severity == "error"]
    if rel in DIFFERS:
        assert findings == [], DIFFERS[rel]
    elif verdict == "malicious":
        assert errors, f"{rel}: no error"
    else:
        assert findings == [], f"{rel}: {[f.message for f in findings]}"


@pytest.mark.skipif(not ROWS, reason="peer suites not present")
def test_peer_counts():
    """The counts the issue asked for: every malicious Keras/TensorFlow/template file of
    the suite caught but the one hfcheck rightly passes, every benign one clean."""
    malicious = [r for r, v in ROWS if v == "malicious"]
    benign = [r for r, v in ROWS if v == "benign"]
    assert len(malicious) >= 25 and len(benign) >= 12
    assert set(DIFFERS) <= set(malicious)
