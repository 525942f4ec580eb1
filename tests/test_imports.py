"""The static pass must stay light: no torch, no transformers, nothing heavy at start."""

from __future__ import annotations

import subprocess
import sys

from conftest import FIXTURES

PROBE = """
import sys
from hfcheck.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "transformers", "huggingface_hub", "tokenizers", "numpy") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def loaded_heavy_modules(*args) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True)
    line = [line for line in result.stderr.splitlines() if line.startswith("HEAVY=")][-1]
    return [m for m in line[len("HEAVY="):].split(",") if m]


def test_version_imports_nothing_heavy():
    assert loaded_heavy_modules("--version") == []


def test_static_run_never_imports_torch_or_transformers():
    heavy = loaded_heavy_modules(FIXTURES / "tiny-llama", "--format", "json")
    assert "torch" not in heavy and "transformers" not in heavy


def test_version_does_not_load_rules():
    probe = "import sys\nfrom hfcheck.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n    pass\nprint(any(m.startswith('hfcheck.rules') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip().endswith("False")
