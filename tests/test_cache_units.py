"""The result cache below the target: per unit (an unchanged model or deployment gets its
findings back without running a rule) and per file (a pickle scan or safetensors header of
an unchanged file is not read again). Every test checks the findings against an uncached
run and records which files under the repo were opened."""

from __future__ import annotations

import builtins
import io
import json
import os
import shutil
from pathlib import Path

import pytest

import hfcheck.api
import hfcheck.cache
from conftest import FIXTURES, copy_repo
from hfcheck.api import check_target
from hfcheck.cache import ResultCache
from hfcheck.config import load_settings
from hfcheck.targets import resolve_targets

ROOT = Path(__file__).resolve().parents[1]
PEERS = next(
    (root / "shared" / "peer-suites" for root in (ROOT.parent, ROOT.parent.parent) if (root / "shared" / "peer-suites").is_dir()),
    ROOT.parent / "shared" / "peer-suites",
)
PAST = 1_700_000_000  # a checkout older than the racy window


def backdate(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (PAST, PAST))


def save_torch(path: Path, seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    torch.save({"step": seed, "weights": torch.randn(64)}, path)


@pytest.fixture
def monorepo(tmp_path) -> Path:
    """models/a, models/b, models/c (tiny Llamas, each with a torch.save file) and a service
    whose serve.py loads its own model folder."""
    root = tmp_path / "mono"
    for index, name in enumerate("abc"):
        model = copy_repo(FIXTURES / "tiny-llama", root / "models" / name)
        save_torch(model / "training_args.bin", index)
    copy_repo(FIXTURES / "service-repo", root / "service")
    backdate(root)
    return root


class Opened:
    """Every file under `root` that the process opens, by path relative to it."""

    def __init__(self, root: Path, monkeypatch):
        self.root, self.paths = str(root.resolve()) + os.sep, []
        real_os_open, real_open = os.open, builtins.open

        def os_open(path, *args, **kwargs):
            self._note(path)
            return real_os_open(path, *args, **kwargs)

        def py_open(file, *args, **kwargs):
            self._note(file)
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(os, "open", os_open)
        monkeypatch.setattr(builtins, "open", py_open)
        monkeypatch.setattr(io, "open", py_open)

    def _note(self, path) -> None:
        if isinstance(path, (str, os.PathLike)):
            text = os.path.realpath(os.fspath(path))
            if text.startswith(self.root):
                self.paths.append(text[len(self.root) :].replace(os.sep, "/"))

    def take(self) -> set[str]:
        taken, self.paths = set(self.paths), []
        return taken


class RuleRuns:
    """hfcheck.api.run_rules, recording the label of each view it runs on."""

    def __init__(self, monkeypatch):
        self.labels = []
        real = hfcheck.api.run_rules

        def counted(rules, view, settings):
            self.labels.append(view.label)
            return real(rules, view, settings)

        monkeypatch.setattr(hfcheck.api, "run_rules", counted)

    def take(self) -> list[str]:
        taken, self.labels = sorted(self.labels), []
        return taken


def run(repo: Path, cache: ResultCache | None, **overrides):
    from hfcheck.registry import all_rules

    all_rules()
    [target] = resolve_targets([str(repo)])
    settings = load_settings(target.root, None, overrides)
    if cache is None:
        return check_target(target, settings=settings)
    return cache.check(target, settings, None, check_target)


def rows(report):
    return sorted((f.code, f.path, f.line, f.message, f.unit, f.severity) for f in report.findings)


def weights(paths: set[str]) -> set[str]:
    return {p for p in paths if p.endswith((".bin", ".safetensors", ".pkl", ".pt"))}


def test_one_changed_file_is_the_only_weight_read_again(monorepo, tmp_path, monkeypatch):
    cache = ResultCache.at(tmp_path / "cache")
    runs = RuleRuns(monkeypatch)
    cold = run(monorepo, cache)
    label = str(monorepo)
    assert runs.take() == sorted([f"{label}/models/a", f"{label}/models/b", f"{label}/models/c", f"{label}/service/model", label])
    opened = Opened(monorepo, monkeypatch)
    assert rows(run(monorepo, cache)) == rows(cold)  # warm: the target entry, no file read
    assert opened.take() == set() and runs.take() == []

    save_torch(monorepo / "models/a/training_args.bin", 7)
    changed = run(monorepo, cache)
    read = opened.take()
    assert runs.take() == [f"{label}/models/a"]  # the other units come from the cache
    assert weights(read) == {"models/a/training_args.bin"}  # hashed, then scanned: nothing else
    # of the unchanged models, discovery reads the config.json that makes each a unit; no rule reads more
    assert {p for p in read if p.startswith(("models/b/", "models/c/"))} == {"models/b/config.json", "models/c/config.json"}
    assert rows(changed) == rows(run(monorepo, None))


def test_settings_change_runs_the_rules_again_but_reads_no_weight(monorepo, tmp_path, monkeypatch):
    cache = ResultCache.at(tmp_path / "cache")
    run(monorepo, cache)
    runs, opened = RuleRuns(monkeypatch), Opened(monorepo, monkeypatch)
    other = run(monorepo, cache, ignore=["CRD"])
    assert len(runs.take()) == 5  # every unit: the settings are in each unit's key
    assert weights(opened.take()) == set()  # per-file facts do not depend on the settings
    assert rows(other) == rows(run(monorepo, None, ignore=["CRD"]))


@pytest.mark.parametrize("upgrade", ["version", "source"])
def test_hfcheck_upgrade_reads_every_file_again(monorepo, tmp_path, monkeypatch, upgrade):
    import hfcheck

    cache = ResultCache.at(tmp_path / "cache")
    cold = run(monorepo, cache)
    runs, opened = RuleRuns(monkeypatch), Opened(monorepo, monkeypatch)
    if upgrade == "version":
        monkeypatch.setattr(hfcheck, "__version__", "99.0.0")
    else:  # an install from another commit with the same version
        real = hfcheck.cache.source_stamps
        monkeypatch.setattr(hfcheck.cache, "source_stamps", lambda: real() + "-edited")
    assert rows(run(monorepo, cache)) == rows(cold)
    assert len(runs.take()) == 5
    every_weight = {str(p.relative_to(monorepo)) for p in monorepo.rglob("*") if p.suffix in (".bin", ".safetensors")}
    assert weights(opened.take()) == every_weight


def test_a_model_edit_reruns_that_model_only(monorepo, tmp_path, monkeypatch):
    cache = ResultCache.at(tmp_path / "cache")
    run(monorepo, cache)
    runs, label = RuleRuns(monkeypatch), str(monorepo)
    config = monorepo / "models/b/config.json"
    data = json.loads(config.read_text())
    config.write_text(json.dumps({**data, "max_position_embeddings": 64}))
    edited = run(monorepo, cache)
    assert runs.take() == [f"{label}/models/b"]
    assert rows(edited) == rows(run(monorepo, None))


def test_a_deployment_edit_reruns_the_deployment_and_the_model_it_loads(monorepo, tmp_path, monkeypatch):
    cache = ResultCache.at(tmp_path / "cache")
    cold = run(monorepo, cache)
    assert any(link == "service/model" for unit in cold.units for link in unit.links)  # serve.py loads ./model
    runs, label = RuleRuns(monkeypatch), str(monorepo)
    serve = monorepo / "service/serve.py"
    serve.write_text(serve.read_text() + "\n# a comment\n")
    changed = run(monorepo, cache)
    # the deployment unit and the model whose view holds serve.py run again; models a-c do not
    assert runs.take() == sorted([label, f"{label}/service/model"])
    assert rows(changed) == rows(run(monorepo, None))


def test_security_verdicts_from_the_cache_equal_a_fresh_scan(tmp_path, monkeypatch):
    from hfcheck.formats.pickle import scan_file
    from hfcheck.repo import PICKLE_SCAN_SECONDS

    source = PEERS / "picklescan" / "tests" / "data"
    if not source.is_dir():
        pytest.skip("shared/peer-suites is not beside the repository")
    names = ["malicious0.pkl", "malicious1.zip", "malicious13a.pkl", "malicious1_central_directory.zip", "pytorch_magic_bypass.pt"]
    names += ["benign0_v3.pkl", "pytorch_model.bin", "new_pytorch_model.bin", "bad_pytorch.pt", "not_a_pickle.bin"]
    repo = tmp_path / "suite"
    repo.mkdir()
    for name in names:
        shutil.copyfile(source / name, repo / name)
    backdate(repo)
    cache = ResultCache.at(tmp_path / "cache")
    fresh = run(repo, None)
    assert {f.path for f in fresh.findings if f.concern == "security" and f.severity == "error"} >= {"malicious0.pkl", "malicious1.zip"}
    run(repo, cache)
    facts = sorted((tmp_path / "cache" / "v2" / "facts").glob("*.json"))
    assert len(facts) >= len(names) - 1  # every scan but possibly the not-a-pickle file was stored
    opened = Opened(repo, monkeypatch)
    cached = run(repo, cache, ignore=["CRD"])  # a unit miss: the verdicts come from the stored scans
    assert weights(opened.take()) <= {"not_a_pickle.bin"}  # a small file only sniffed is read again
    assert rows(cached) == rows(run(repo, None, ignore=["CRD"]))
    # and each stored scan rebuilds into exactly what scan_file says now
    from hfcheck.cache import decode

    stored = [decode(value) for path in facts for value in json.loads(path.read_text())["facts"].values()]
    scans = {name: scan_file(repo / name, budget_seconds=PICKLE_SCAN_SECONDS) for name in names}
    for value in stored:
        if type(value).__name__ == "PickleScan":
            assert value in scans.values()


def test_a_large_file_is_known_by_its_stat_not_a_partial_hash(monorepo, tmp_path, monkeypatch):
    # a fresh checkout (same bytes, new inode and mtime): small files are matched by their
    # hash, a file over the hashing limit is read again, since a hash of part of it could
    # not vouch for its scan
    monkeypatch.setattr(hfcheck.cache, "WHOLE_FILE_BYTES", 1024)
    cache = ResultCache.at(tmp_path / "cache")
    cold = run(monorepo, cache)
    big = monorepo / "models/c/training_args.bin"
    assert big.stat().st_size > 1024
    copy = big.read_bytes()
    big.unlink()
    big.write_bytes(copy)
    os.utime(big, (PAST, PAST))
    opened = Opened(monorepo, monkeypatch)
    assert rows(run(monorepo, cache)) == rows(cold)
    assert weights(opened.take()) == {"models/c/training_args.bin"}


def _entries(cache: ResultCache, kind: str) -> list[Path]:
    return sorted((cache.folder / "v2" / kind).glob("*.json"))


CRAFTED_UNIT = [
    lambda d: {**d, "findings": [{"code": 1}]},
    lambda d: {**d, "findings": [{**f, "line": "3"} for f in d["findings"]] or [{"line": "3"}]},
    lambda d: {
        **d,
        "findings": [
            {
                "code": "SEC001",
                "severity": "error",
                "concern": "security",
                "message": "x",
                "path": "../../etc/passwd",
                "line": None,
                "fix": None,
                "unit": ".",
            }
        ],
    },
    lambda d: {
        **d,
        "findings": [
            {
                "code": "SEC001",
                "severity": "fatal",
                "concern": "security",
                "message": "x",
                "path": None,
                "line": None,
                "fix": None,
                "unit": ".",
            }
        ],
    },
    lambda d: {**d, "key": "0" * 64},
    lambda d: [d],
]


@pytest.mark.parametrize("craft", range(len(CRAFTED_UNIT)))
def test_a_crafted_unit_entry_is_a_miss(monorepo, tmp_path, monkeypatch, craft):
    cache = ResultCache.at(tmp_path / "cache")
    expected = rows(run(monorepo, cache))
    for entry in _entries(cache, "units"):
        entry.write_text(json.dumps(CRAFTED_UNIT[craft](json.loads(entry.read_text()))))
    (monorepo / "models/a/README.md").write_text("changed\n")  # a target miss, so the unit entries are read
    runs = RuleRuns(monkeypatch)
    assert rows(run(monorepo, cache)) == rows(run(monorepo, None))
    assert len(runs.take()) == 10  # every unit ran, in the cached run and in the uncached one
    assert expected  # the fixture has findings to forge


CRAFTED_FACT = [
    lambda v: {"dc": "os:system", "fields": {}},
    lambda v: {"dc": "hfcheck.formats.pickle.results:PickleScan", "fields": {"container": "pickle"}},
    lambda v: {**v, "fields": {**v["fields"], "globals": {"list": [{"dc": "subprocess:Popen", "fields": {}}]}}},
    lambda v: {**v, "fields": {**v["fields"], "streams": "many"}},
    lambda v: {"list": [{"f": "nan"}]},
]


@pytest.mark.parametrize("craft", range(len(CRAFTED_FACT)))
def test_a_crafted_fact_is_a_miss(tmp_path, monkeypatch, craft):
    import torch

    repo = tmp_path / "repo"
    repo.mkdir()
    torch.save({"w": torch.zeros(4)}, repo / "pytorch_model.bin")
    backdate(repo)
    cache = ResultCache.at(tmp_path / "cache")
    run(repo, cache)
    [fact] = [p for p in _entries(cache, "facts") if "PickleScan" in p.read_text()]
    data = json.loads(fact.read_text())
    data["facts"]["pickle_scan"] = CRAFTED_FACT[craft](data["facts"]["pickle_scan"])
    fact.write_text(json.dumps(data))
    opened = Opened(repo, monkeypatch)
    assert rows(run(repo, cache, ignore=["CRD"])) == rows(run(repo, None, ignore=["CRD"]))
    assert "pytorch_model.bin" in opened.take()  # read again, not taken from the crafted entry


def test_a_crafted_target_entry_is_a_miss(monorepo, tmp_path, monkeypatch):
    cache = ResultCache.at(tmp_path / "cache")
    expected = rows(run(monorepo, cache))
    [entry] = _entries(cache, "targets")
    good = json.loads(entry.read_text())
    crafted = [
        {**good, "files": {rel: [1 << 70, *row[1:]] for rel, row in good["files"].items()}},  # huge sizes
        {**good, "report": {**good["report"], "root": "/elsewhere"}},
        {**good, "report": {**good["report"], "units": [{"path": 3}]}},
        {**good, "report": {**good["report"], "findings": [{"code": "X", "message": "forged"}]}},
    ]
    checks = []
    real = hfcheck.api.check_target

    def counted(*args, **kwargs):
        checks.append(1)
        return real(*args, **kwargs)

    for data in crafted:
        entry.write_text(json.dumps(data))
        assert rows(cache.check(*_args(monorepo), counted)) == expected
    assert len(checks) == len(crafted)  # each crafted entry was a miss: the target was checked
    monkeypatch.setattr(hfcheck.cache, "MAX_ENTRY_BYTES", 100)  # an oversized entry is not even read
    assert rows(cache.check(*_args(monorepo), counted)) == expected and len(checks) == len(crafted) + 1
    # names of entries to prune are checked when pruned: a crafted one deletes nothing outside
    sentinel = tmp_path / "precious.json"
    sentinel.write_text("{}")
    monkeypatch.setattr(hfcheck.cache, "MAX_ENTRY_BYTES", 64 << 20)
    entry.write_text(json.dumps({**good, "used": ["units/../../../precious", str(sentinel.with_suffix(""))]}))
    (monorepo / "models/a/README.md").write_text("changed\n")  # a miss: the previous entry's names are pruned
    cache.check(*_args(monorepo), counted)
    assert sentinel.exists()


def _args(repo: Path, **overrides):
    [target] = resolve_targets([str(repo)])
    return target, load_settings(target.root, None, overrides), None


def test_a_cache_folder_inside_the_target_is_not_used(monorepo, monkeypatch):
    cache = ResultCache.at(monorepo / ".hfcheck-cache")
    run(monorepo, cache)
    assert not (monorepo / ".hfcheck-cache").exists()


def test_an_unwritable_cache_is_no_error(monorepo, tmp_path):
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the cache folder should be")
    cache = ResultCache.at(blocker)
    assert rows(run(monorepo, cache)) == rows(run(monorepo, None))


def test_a_run_on_some_files_never_answers_for_the_whole_target(monorepo, tmp_path):
    # pre-commit names the changed files: only their units are checked, and that report
    # must not come back for a run over the whole tree (nor the other way round)
    import subprocess

    subprocess.run(["git", "init", "-q", str(monorepo)], check=True, capture_output=True)  # the root a file's target resolves to
    (monorepo / "models/a/extra.json").write_text("{,}")
    (monorepo / "models/b/extra.json").write_text("{,}")
    backdate(monorepo)
    cache = ResultCache.at(tmp_path / "cache")
    [one] = resolve_targets([str(monorepo / "models/a/extra.json")])
    [whole] = resolve_targets([str(monorepo)])
    assert one.root == whole.root and one.label == whole.label and one.only
    settings = load_settings(whole.root, None, {})
    expected = {"models/a/extra.json", "models/b/extra.json"}
    for _ in range(2):
        assert {f.path for f in cache.check(one, settings, None, check_target).findings if f.code == "CFG002"} == {"models/a/extra.json"}
        assert {f.path for f in cache.check(whole, settings, None, check_target).findings if f.code == "CFG002"} == expected
    targets = sorted((p.name for p in (tmp_path / "cache" / "v2" / "targets").iterdir()), key=len)
    assert len(targets) == 2 and targets[1].startswith(targets[0].removesuffix(".json") + "-")  # the whole tree's, and the scoped one


def test_runs_over_ever_other_files_keep_few_entries(monorepo, tmp_path, monkeypatch):
    import subprocess

    subprocess.run(["git", "init", "-q", str(monorepo)], check=True, capture_output=True)
    monkeypatch.setattr(hfcheck.cache, "SCOPED_ENTRIES", 2)
    cache = ResultCache.at(tmp_path / "cache")
    for name in ("a", "b", "c"):
        [target] = resolve_targets([str(monorepo / "models" / name / "config.json")])
        cache.check(target, load_settings(target.root, None, {}), None, check_target)
    assert len(list((tmp_path / "cache" / "v2" / "targets").iterdir())) == 2


@pytest.mark.parametrize("kind", ["gguf", "onnx"])
def test_gguf_and_onnx_headers_come_back_exactly(tmp_path, monkeypatch, kind):
    pytest.importorskip(kind)
    from model_code_fixtures import write_gguf, write_onnx

    repo = tmp_path / "repo"
    repo.mkdir()
    if kind == "gguf":
        write_gguf(repo / "model.gguf", eos=40)  # an eos id past the vocabulary: a finding to reproduce
    else:
        write_onnx(repo / "model.onnx", custom_domain="com.example.custom")
    backdate(repo)
    cache = ResultCache.at(tmp_path / "cache")
    fresh = rows(run(repo, None, ignore=["CRD"]))
    assert any(code.startswith(("GGF", "ONX")) for code, *_ in fresh), fresh
    run(repo, cache)
    [entry] = [json.loads(p.read_text()) for p in _entries(cache, "facts") if f'"{kind}"' in p.read_text()]
    assert kind in entry["facts"]  # the parsed header was stored
    opened = Opened(repo, monkeypatch)
    assert rows(run(repo, cache, ignore=["CRD"])) == fresh
    assert f"model.{kind}" not in opened.take()
