"""The static pass must stay light: no torch, no transformers, nothing heavy at start."""

from __future__ import annotations

import subprocess
import sys

from conftest import FIXTURES

PROBE = """
import sys
from hfcheck.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
heavy = sorted(m for m in sys.argv[1].split(",") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


HEAVY = ("torch", "transformers", "huggingface_hub", "tokenizers", "numpy")


def loaded_modules(*args, watched=HEAVY) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, ",".join(watched), *map(str, args)], capture_output=True, text=True)
    line = [line for line in result.stderr.splitlines() if line.startswith("HEAVY=")][-1]
    return [m for m in line[len("HEAVY=") :].split(",") if m]


def test_version_imports_nothing_heavy():
    assert loaded_modules("--version") == []


def test_static_run_never_imports_torch_or_transformers():
    heavy = loaded_modules(FIXTURES / "tiny-llama", "--format", "json")
    assert "torch" not in heavy and "transformers" not in heavy


def test_version_does_not_load_rules():
    probe = "import sys\nfrom hfcheck.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\nprint(any(m.startswith('hfcheck.rules') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip().endswith("False")


def test_parsers_of_absent_files_are_not_imported():
    # tiny-llama has no requirements, manifests, Dockerfiles or Python code
    absent = ("hfcheck.formats.requirements", "hfcheck.formats.dependency_files", "hfcheck.formats.shell", "hfcheck.formats.python_code")
    # no chat template, Keras, SavedModel, GGUF or ONNX file either
    absent += (
        "jinja2",
        "hfcheck.formats.chat_template",
        "hfcheck.formats.keras",
        "hfcheck.formats.gguf",
        "hfcheck.formats.onnx",
        "hfcheck.formats.tf_saved_model",
        "h5py",
    )
    assert loaded_modules(FIXTURES / "tiny-llama", "--format", "json", watched=absent) == []
