"""Pickle security rules on the full corpus: every malicious technique flagged, every
real torch.save / numpy / joblib output passed, nothing ever executed."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, codes

SECURITY_ERRORS = {"SEC001", "SEC002", "SEC003"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pickle-corpus")
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "pickle_corpus.py"), str(out)], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def corpus_report(corpus):
    from hfcheck.api import check

    findings = check(corpus, select=["security"]).findings
    by_path: dict[str, list] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    return json.loads((corpus / "manifest.json").read_text()), by_path


def test_every_malicious_sample_is_an_error(corpus_report):
    manifest, by_path = corpus_report
    missed = [
        s["path"] for s in manifest if s["verdict"] == "malicious" and not any(f.severity == "error" for f in by_path.get(s["path"], []))
    ]
    assert missed == []
    assert sum(s["verdict"] == "malicious" for s in manifest) >= 50


def test_no_benign_sample_is_flagged(corpus_report):
    manifest, by_path = corpus_report
    flagged = {
        s["path"]: [f.message for f in by_path.get(s["path"], [])] for s in manifest if s["verdict"] == "benign" and by_path.get(s["path"])
    }
    assert flagged == {}


def test_no_canary_was_created(corpus, corpus_report):
    assert list(corpus.glob("CANARY*")) == []


def test_real_torch_checkpoint_in_a_model_repo(tiny_llama, run_rules):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    state = load_file(tiny_llama / "model.safetensors")
    (tiny_llama / "model.safetensors").unlink()
    torch.save(state, tiny_llama / "pytorch_model.bin")
    findings = run_rules(tiny_llama, select=["SEC", "WGT001"])
    assert codes(findings) == ["WGT001"]
    assert "only allowlisted globals" in findings[0].message


def test_named_dangerous_global_with_offset(tiny_llama, run_rules):
    payload = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    (tiny_llama / "pytorch_model.bin").write_bytes(payload)
    findings = run_rules(tiny_llama, select=["SEC001"])
    assert [(f.code, f.path) for f in findings] == [("SEC001", "pytorch_model.bin")]
    assert "posix.system" in findings[0].message and "byte 2" in findings[0].message


def test_pickle_disguised_as_text_and_safetensors(tiny_llama, run_rules):
    payload = pickle.dumps({"a": 1}, protocol=4)
    (tiny_llama / "notes.txt").write_bytes(payload)
    shutil.copy(tiny_llama / "notes.txt", tiny_llama / "extra.safetensors")
    findings = run_rules(tiny_llama, select=["SEC004"])
    assert sorted(f.path for f in findings) == ["extra.safetensors", "notes.txt"]


def test_text_files_starting_with_opcode_bytes_are_not_pickles(tiny_llama, run_rules):
    (tiny_llama / "notes.md").write_text("cimport numpy as np\nfrom libc.stdint cimport uint32_t\n")
    (tiny_llama / "module.f90").write_text("MODULE string_test\n  character(len=8) :: string\n")
    (tiny_llama / "serve.py").write_text("class Server:\n    pass\n")
    assert run_rules(tiny_llama, select=["SEC"]) == []


def test_compressed_files_that_are_not_pickles_are_left_alone(tiny_llama, run_rules):
    import bz2
    import gzip
    import lzma
    import os

    class Shell:
        def __reduce__(self):
            return (os.system, ("true",))

    (tiny_llama / "eval.json.gz").write_bytes(gzip.compress(json.dumps({"scores": list(range(3000))}).encode()))
    (tiny_llama / "data.csv.bz2").write_bytes(bz2.compress(b"text,label\n" * 5000))  # bz2: decided by the full scan
    (tiny_llama / "notes.txt.xz").write_bytes(lzma.compress(b"hello\n" * 100))
    assert run_rules(tiny_llama, select=["SEC", "WGT"]) == []
    (tiny_llama / "model.pkl.gz").write_bytes(gzip.compress(pickle.dumps({"w": Shell()})))
    (tiny_llama / "cache.bz2").write_bytes(bz2.compress(pickle.dumps({"w": Shell()})))
    found = run_rules(tiny_llama, select=["SEC001"])
    assert sorted(f.path for f in found) == ["cache.bz2", "model.pkl.gz"]


def test_data_class_is_a_warning(tiny_llama, run_rules):
    payload = b"\x80\x02cargparse\nNamespace\nq\x00)\x81q\x01}q\x02X\x02\x00\x00\x00lrq\x03G?\xb9\x99\x99\x99\x99\x99\x9asb."
    (tiny_llama / "training_args.bin").write_bytes(payload)
    findings = [f for f in run_rules(tiny_llama, select=["SEC"])]
    assert [(f.code, f.severity) for f in findings] == [("SEC002", "warning")]


def test_the_static_pass_never_imports_torch_for_pickles(tiny_llama):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(4)}, tiny_llama / "pytorch_model.bin")
    probe = "import sys\nfrom hfcheck.api import check\ncheck(sys.argv[1])\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe, str(tiny_llama)], capture_output=True, text=True, cwd=tiny_llama.parent)
    assert result.stdout.strip() == "False"
