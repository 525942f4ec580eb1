"""A local stand-in for the Hub, and hfcheck run against it in a subprocess (the
huggingface_hub settings are read from the environment at import time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hubserver import FakeHub  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "repos"


@pytest.fixture
def hub():
    server = FakeHub().start()
    yield server
    server.stop()


@pytest.fixture
def hub_env(hub, tmp_path):
    """Environment for a hfcheck run that talks only to the local hub, with its own cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "HFCHECK_"))}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_CACHE=str(tmp_path / "hf-hub"), HF_HUB_DISABLE_TELEMETRY="1", NO_COLOR="1")
    return env


def run_hfcheck(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-P", "-m", "hfcheck", *map(str, args)], env=env, capture_output=True, text=True, cwd=cwd, timeout=120)


def json_report(result):
    assert result.stderr == "" or "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)
