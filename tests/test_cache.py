"""The result cache: a warm run returns the cold run's report without running a rule, and
any change that could change the findings (file content, settings, hfcheck's version)
runs the check again."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conftest import invoke
from hfcheck.cache import ResultCache
from hfcheck.cache_folder import default_cache_folder
from hfcheck.config import load_settings
from hfcheck.targets import resolve_targets


class Counting:
    """hfcheck.api.check_target, counting its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, target, **kwargs):
        from hfcheck.api import check_target

        self.calls += 1
        return check_target(target, **kwargs)


@pytest.fixture
def cached_check(tmp_path):
    cache = ResultCache.at(tmp_path / "cache")
    counting = Counting()

    def run(repo, **overrides):
        from hfcheck.registry import all_rules

        all_rules()
        [target] = resolve_targets([str(repo)])
        settings = load_settings(target.root, None, overrides)
        return cache.check(target, settings, None, counting)

    run.counting = counting
    run.cache = cache
    return run


def codes(report):
    return [(f.code, f.path, f.line) for f in report.findings]


def test_warm_run_reuses_the_report(tiny_llama, cached_check):
    (tiny_llama / "extra.json").write_text("{,}")
    cold = cached_check(tiny_llama)
    warm = cached_check(tiny_llama)
    assert cached_check.counting.calls == 1
    assert codes(warm) == codes(cold) == [("CFG002", "extra.json", 1)]
    assert warm.findings == cold.findings


def test_content_change_invalidates(tiny_llama, cached_check):
    extra = tiny_llama / "extra.json"
    extra.write_text('{"a": 1}')
    assert codes(cached_check(tiny_llama)) == []
    extra.write_text('{"a":,}')  # same size, written within the same second: the racy case
    assert codes(cached_check(tiny_llama)) == [("CFG002", "extra.json", 1)]
    assert cached_check.counting.calls == 2


def test_old_unchanged_file_keeps_its_hash_but_a_rewrite_is_seen(tiny_llama, cached_check):
    extra = tiny_llama / "extra.json"
    extra.write_text('{"a": 1}')
    past = time.time() - 3600
    os.utime(extra, (past, past))
    cached_check(tiny_llama)
    cached_check(tiny_llama)
    assert cached_check.counting.calls == 1
    extra.write_text('{"a":,}')  # a normal write moves the mtime
    assert codes(cached_check(tiny_llama)) == [("CFG002", "extra.json", 1)]


def test_new_and_deleted_files_invalidate(tiny_llama, cached_check):
    cached_check(tiny_llama)
    (tiny_llama / "other.json").write_text("[")
    assert codes(cached_check(tiny_llama)) == [("CFG002", "other.json", 1)]
    (tiny_llama / "other.json").unlink()
    assert codes(cached_check(tiny_llama)) == []
    assert cached_check.counting.calls == 3


def test_settings_change_invalidates(tiny_llama, cached_check):
    (tiny_llama / "extra.json").write_text("{,}")
    assert codes(cached_check(tiny_llama)) != []
    assert codes(cached_check(tiny_llama, ignore=["CFG002"])) == []
    assert cached_check.counting.calls == 2


def test_hfcheck_upgrade_invalidates(tiny_llama, cached_check, monkeypatch):
    import hfcheck

    cached_check(tiny_llama)
    monkeypatch.setattr(hfcheck, "__version__", "99.0.0")
    cached_check(tiny_llama)
    assert cached_check.counting.calls == 2


def test_edited_rule_module_invalidates(tiny_llama, cached_check):
    # an install from another commit, or an edited development tree: same version, other source
    import hfcheck.rules.config as module

    cached_check(tiny_llama)
    source = Path(module.__file__)
    original = source.read_bytes()
    try:
        source.write_bytes(original + b"\n# edited\n")
        cached_check(tiny_llama)
    finally:
        source.write_bytes(original)
    cached_check(tiny_llama)  # the source as it was: a new entry, then hits again
    cached_check(tiny_llama)
    assert cached_check.counting.calls == 3


def test_a_fresh_checkout_of_the_same_files_is_a_hit(tiny_llama, cached_check):
    # CI: the cache folder restored, the repo checked out again (new mtimes, same bytes)
    cached_check(tiny_llama)
    later = time.time() + 5
    for path in tiny_llama.iterdir():
        path.write_bytes(path.read_bytes())
        os.utime(path, (later, later))
    cached_check(tiny_llama)
    assert cached_check.counting.calls == 1


def test_a_crafted_or_corrupt_entry_is_a_miss(tiny_llama, cached_check):
    (tiny_llama / "extra.json").write_text("{,}")
    cached_check(tiny_llama)
    [entry] = (cached_check.cache.folder / "v2" / "targets").glob("*.json")
    data = json.loads(entry.read_text())
    data["report"]["findings"] = [{"code": "CFG002", "message": 3}]  # wrong type
    entry.write_text(json.dumps(data))
    assert codes(cached_check(tiny_llama)) == [("CFG002", "extra.json", 1)]
    entry.write_text("not json")
    assert codes(cached_check(tiny_llama)) == [("CFG002", "extra.json", 1)]
    assert cached_check.counting.calls == 3


def test_cache_lives_outside_the_repo_and_no_cache_writes_nothing(tiny_llama, tmp_path):
    assert tiny_llama not in default_cache_folder().parents
    folder = tmp_path / "c"
    (tiny_llama / "extra.json").write_text("{,}")
    before = sorted(p.name for p in tiny_llama.rglob("*"))
    assert invoke(tiny_llama, "--no-cache", "--cache-dir", folder).exit_code == 1
    assert not folder.exists()
    cold = invoke(tiny_llama, "--format", "json", "--cache-dir", folder)
    warm = invoke(tiny_llama, "--format", "json", "--cache-dir", folder)
    assert len(list((folder / "v2" / "targets").glob("*.json"))) == 1
    assert cold.stdout == warm.stdout and warm.exit_code == cold.exit_code == 1
    assert sorted(p.name for p in tiny_llama.rglob("*")) == before  # nothing written into the repo


def test_a_target_of_very_many_files_is_checked_uncached(tiny_llama, cached_check, monkeypatch):
    import hfcheck.cache

    monkeypatch.setattr(hfcheck.cache, "MAX_FILES", 5)
    cached_check(tiny_llama)
    cached_check(tiny_llama)
    assert cached_check.counting.calls == 2
    assert not (cached_check.cache.folder / "v2").exists()
