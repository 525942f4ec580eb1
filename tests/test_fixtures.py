"""The committed fixture repos are exactly what fixtures/build.py writes."""

from __future__ import annotations

import importlib.util
import json

from conftest import FIXTURES, ROOT


def load_builder():
    spec = importlib.util.spec_from_file_location("fixture_build", ROOT / "fixtures" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_fixtures_match_the_generator(tmp_path):
    built = load_builder().build_all(tmp_path)
    assert sorted(p.name for p in built) == sorted(p.name for p in FIXTURES.iterdir())
    for repo in built:
        committed = FIXTURES / repo.name
        assert sorted(p.name for p in repo.iterdir()) == sorted(p.name for p in committed.iterdir()), repo.name
        for file in repo.iterdir():
            mine, theirs = file.read_bytes(), (committed / file.name).read_bytes()
            if file.name == "tokenizer.json":
                # serialisation details may differ across tokenizers releases; the model may not
                assert json.loads(mine)["model"] == json.loads(theirs)["model"]
            else:
                assert mine == theirs, f"{repo.name}/{file.name} is stale: run python fixtures/build.py"
