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

        def listing(root):
            return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

        assert listing(repo) == listing(committed), repo.name
        for name in listing(repo):
            file = repo / name
            mine, theirs = file.read_bytes(), (committed / name).read_bytes()
            if file.name == "tokenizer.json":
                # serialisation details may differ across tokenizers releases; the model may not
                assert json.loads(mine)["model"] == json.loads(theirs)["model"]
            else:
                assert mine == theirs, f"{repo.name}/{file.name} is stale: run python fixtures/build.py"
