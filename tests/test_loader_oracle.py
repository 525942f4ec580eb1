"""The loader oracle sees what a load does, and stops it before the payload runs."""

from __future__ import annotations

import os
import pickle

import pytest
from loader_oracle import observe


class _Canary:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_firing_payload_is_seen_and_stopped(tmp_path):
    marker = tmp_path / "fired"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Canary(marker)))
    seen = observe(path, "pickle")
    assert seen.fired and seen.side_effects == ["os.system"]
    assert ("posix", "system") in seen.globals or ("nt", "system") in seen.globals
    assert not marker.exists(), "the oracle must stop the load before the side effect"


def test_benign_torch_checkpoint_loads_cleanly(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": torch.zeros(2, 2)}, path)
    seen = observe(path, "torch")
    assert seen.completed and not seen.fired
    assert ("torch._utils", "_rebuild_tensor_v2") in seen.globals


def test_numpy_header_parse_is_not_a_side_effect(tmp_path):
    numpy = pytest.importorskip("numpy")
    path = tmp_path / "a.npy"
    numpy.save(path, numpy.arange(3))
    seen = observe(path, "numpy")
    assert seen.completed and not seen.fired and seen.globals == []
