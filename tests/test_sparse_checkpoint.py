"""The sparse torch.save checkpoints the benchmarks use are real checkpoints: torch loads
them, and hfcheck's scan of one reads its pickle stream and nothing of the tensor data."""

from __future__ import annotations

import sys
import zlib

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
from sparse_torch_zip import crc32_of_zeros, write_sparse_checkpoint  # noqa: E402

from hfcheck.formats.pickle import scan_file  # noqa: E402


def test_crc_of_zeros_matches_zlib():
    for n in (0, 1, 2, 3, 7, 8, 64, 1000, 65537, 1 << 20):
        assert crc32_of_zeros(n) == zlib.crc32(bytes(n)), n


def test_torch_loads_a_sparse_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "pytorch_model.bin"
    write_sparse_checkpoint(path, [("model.embed.weight", [7, 4]), ("model.norm.weight", [4])], "BF16")
    state = torch.load(path, weights_only=True)
    assert {k: (v.dtype, tuple(v.shape)) for k, v in state.items()} == {
        "model.embed.weight": (torch.bfloat16, (7, 4)),
        "model.norm.weight": (torch.bfloat16, (4,)),
    }
    assert all(not v.any() for v in state.values())


def test_scanning_a_10_gb_checkpoint_reads_only_its_pickle(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    data = write_sparse_checkpoint(path, [(f"layer{i}.weight", [1 << 15, 1 << 15]) for i in range(5)], "BF16")
    assert data == 5 * 2 * (1 << 30) and path.stat().st_size > data
    scan = scan_file(path)
    assert scan.container == "torch-zip" and not scan.problems
    assert {f"{g.module}.{g.name}" for g in scan.globals} == {
        "torch._utils._rebuild_tensor_v2",
        "torch.BFloat16Storage",
        "collections.OrderedDict",
    }
    assert scan.persistent_ids == 5 and scan.bytes_scanned < 64 * 1024
