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


def test_batch_worker_answers_many_loads_and_recycles_after_a_payload(tmp_path):
    from loader_oracle import OracleWorker

    marker = tmp_path / "fired"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Canary(marker)))
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps({"a": [1, 2.0]}))
    with OracleWorker("pickle", recycle=5) as worker:
        seen = [worker.observe(good) for _ in range(12)]
        assert all(s.completed and not s.fired for s in seen)
        assert worker.recycled == 2  # every 5 loads a fresh server
        stopped = worker.observe(evil)
        after = worker.observe(good)
    assert stopped.fired and stopped.side_effects == ["os.system"]
    assert after.completed and not after.fired and after.globals == []
    assert worker.recycled == 3 and worker.restarts == 0 and worker.loads == 14
    assert not marker.exists()


def test_batch_worker_recycles_after_an_unfamiliar_global(tmp_path):
    """A load that resolved a global the warm-up files did not (it may have changed the
    process, e.g. through setattr) is the last one its server answers."""
    import argparse

    from loader_oracle import OracleWorker

    path = tmp_path / "ns.pkl"
    path.write_bytes(pickle.dumps(argparse.Namespace(lr=0.1)))
    with OracleWorker("pickle") as worker:
        seen = worker.observe(path)
        assert seen.completed and ("argparse", "Namespace") in seen.globals
        assert worker.recycled == 1


def test_batch_worker_load_reading_stdin_cannot_eat_the_next_command(tmp_path):
    """A payload that reads stdin (sys.stdin.read through a protocol-4 dotted name) gets
    /dev/null, not the worker's command pipe: the next load is still answered."""
    from loader_oracle import OracleWorker

    reader = tmp_path / "reads_stdin.pkl"
    reader.write_bytes(b"\x80\x04\x8c\x03sys\x8c\nstdin.read\x93)R.")
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps([1, 2]))
    with OracleWorker("pickle", timeout=20) as worker:
        seen = worker.observe(reader)
        after = worker.observe(good)
    assert seen.completed and ("sys", "stdin.read") in seen.globals
    assert after.completed and worker.restarts == 0
