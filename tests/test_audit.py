"""Auditing a registry (hfcheck.audit) on this machine: the targets file, JSONL records equal
to the serial CLI's findings, every target once, resume after an interrupted run, progress,
and the static pass never importing Ray."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

sys.path.insert(0, str(Path(__file__).resolve().parent / "hub"))  # the Hub test server lives beside its own tests
from hubserver import FakeHub, hub, hub_env, json_report, run_hfcheck  # noqa: E402, F401  (fixtures)
from test_imports import loaded_modules  # noqa: E402
import test_sarif  # noqa: E402  (where the SARIF 2.1.0 schema is)

from hfcheck.audit import (
    AuditSettings,
    AuditTarget,
    LocalExecutor,
    Progress,
    TargetsFileError,
    audit,
    read_targets,
    recorded,
    report_from_records,
)  # noqa: E402


def model_variants(tmp_path: Path) -> list[Path]:
    """Three real repos with different findings: clean, a broken config.json, no model card."""
    no_card = shutil.copytree(FIXTURES / "tiny-llama", tmp_path / "no-card")
    (no_card / "README.md").unlink()
    return [FIXTURES / "tiny-llama", FIXTURES / "tiny-llama-broken-config", no_card]


def serve_registry(hub: FakeHub, tmp_path: Path, count: int) -> list[str]:
    variants = model_variants(tmp_path)
    names = [f"org{i % 5}/model-{i}" for i in range(count)]
    for i, name in enumerate(names):
        hub.add(name, variants[i % len(variants)])
    return names


@pytest.fixture
def audit_env(hub_env):
    """hub_env without TRANSFORMERS_OFFLINE: huggingface_hub reads it as HF_HUB_OFFLINE, and the
    smoke tests' in-process runs leave it set in this process's environment."""
    return {k: v for k, v in hub_env.items() if not k.startswith("TRANSFORMERS_")}


def run_audit(env, *args, stdin=None):
    return subprocess.run(
        [sys.executable, "-P", "-m", "hfcheck.audit", *map(str, args)], env=env, input=stdin, capture_output=True, text=True, timeout=300
    )


def records_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def finding_keys(findings) -> list:
    return sorted((f["code"], f["path"], f["line"], f["message"], f["unit"]) for f in findings)


def serial_findings(env, names) -> dict:
    """Ground truth: the plain CLI on the same targets, one process, no audit code."""
    result = run_hfcheck(env, *names, "--format", "json")
    assert result.stdout, result.stderr[-2000:]
    report = json_report(result)
    return {t["path"]: finding_keys(t["findings"]) for t in report["targets"]}


REPORT_FORMATS = ("text", "concise", "json", "sarif", "github", "jsonl")


def comparable(fmt: str, text: str):
    """A report as compared with the serial run's: JSONL records by target, without their
    timing field (the only one that may differ); every other format byte for byte."""
    if fmt == "jsonl":
        return {r["target"]: {k: v for k, v in r.items() if k != "seconds"} for r in records_of(text)}
    return text


def validate_sarif(text: str) -> None:
    """Against the official SARIF 2.1.0 schema where it is (beside the checkout, as in CI);
    a missing schema fails under CI and skips only this validation elsewhere."""
    if not test_sarif.SCHEMA.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"SARIF schema missing at {test_sarif.SCHEMA}")
        return
    import jsonschema

    jsonschema.validate(json.loads(text), json.loads(test_sarif.SCHEMA.read_text()))


def serial_outputs(env, names) -> dict:
    """Ground truth for every format: the plain CLI on the same targets, one process."""
    outputs = {}
    for fmt in REPORT_FORMATS:
        result = run_hfcheck(env, *names, "--format", fmt)
        assert result.returncode in (0, 1) and result.stdout, result.stderr[-2000:]
        outputs[fmt] = comparable(fmt, result.stdout)
    return outputs


# -- the targets file ---------------------------------------------------------------------


def test_targets_file_takes_paths_and_hub_ids_with_comments_and_blank_lines(tmp_path):
    local = tmp_path / "model"
    local.mkdir()
    lines = [
        "# the serving fleet\n",
        "\n",
        "org/name\n",
        "org/name@v1.0   # pinned\n",
        f"{local}\n",
        "hf://org/other@refs/pr/3\n",
        "org/name\n",
        "  \n",
    ]
    assert read_targets(lines) == [
        AuditTarget("org/name", 3),
        AuditTarget("org/name@v1.0", 4),
        AuditTarget(str(local), 5),
        AuditTarget("hf://org/other@refs/pr/3", 6),
    ]


def test_bad_target_lines_are_errors_naming_each_line():
    with pytest.raises(TargetsFileError) as error:
        read_targets(["org/name\n", "org/name extra\n", "org/../x\n", "a/b/c\n", "ok/fine@\n"], "fleet.txt")
    message = str(error.value)
    assert "fleet.txt:2:" in message and "fleet.txt:3:" in message and "fleet.txt:4:" in message and "fleet.txt:5:" in message
    assert "fleet.txt:1:" not in message


def test_a_targets_file_without_targets_is_an_error_not_a_pass():
    with pytest.raises(TargetsFileError, match="no targets"):
        read_targets(["# nothing yet\n", "\n"], "fleet.txt")


def test_settings_fingerprint_follows_options_and_the_settings_file_bytes(tmp_path):
    config = tmp_path / "policy.toml"
    config.write_text("[tool.hfcheck]\nignore = ['CARD001']\n")
    base = AuditSettings(config_file=config, overrides={"select": None, "fail_on": "error"})
    assert base.fingerprint() == AuditSettings(config_file=config, overrides={"fail_on": "error"}).fingerprint()
    assert base.fingerprint() != AuditSettings(config_file=config, overrides={"fail_on": "warning"}).fingerprint()
    before = base.fingerprint()
    config.write_text("[tool.hfcheck]\nignore = []\n")
    assert base.fingerprint() != before


# -- local executor over the Hub test server ---------------------------------------------------


def test_local_audit_reports_every_target_once_with_the_serial_findings(hub, audit_env, tmp_path):
    names = serve_registry(hub, tmp_path, 24)
    targets = tmp_path / "fleet.txt"
    targets.write_text("# fleet\n" + "\n".join(names) + "\nmissing/model\n")
    result = run_audit(audit_env, "--targets-from", targets, "--jobs", "2", "--quiet")
    records = records_of(result.stdout)
    assert sorted(r["target"] for r in records) == sorted(names + ["missing/model"])
    assert result.returncode == 2  # the missing repo: an error record, loud
    missing = next(r for r in records if r["target"] == "missing/model")
    assert missing["exit_code"] == 2 and "missing/model" in missing["error"]
    expected = serial_findings(audit_env, names)
    assert {r["target"]: finding_keys(r["findings"]) for r in records if r["error"] is None} == expected
    assert len({tuple(map(tuple, v)) for v in expected.values()}) == 3  # three different outcomes were compared
    assert all(r["revision"] and r["hfcheck"] and r["settings"] == records[0]["settings"] for r in records if r["error"] is None)


def test_targets_come_from_stdin(hub, audit_env, tmp_path):
    names = serve_registry(hub, tmp_path, 3)
    result = run_audit(audit_env, "--targets-from", "-", "--quiet", stdin="\n".join(names) + "\n")
    assert sorted(r["target"] for r in records_of(result.stdout)) == sorted(names)


def test_resume_after_an_interrupted_run_checks_only_the_rest(hub, audit_env, tmp_path):
    names = serve_registry(hub, tmp_path, 12)
    targets = tmp_path / "fleet.txt"
    targets.write_text("\n".join(names) + "\n")
    results = tmp_path / "audit.jsonl"
    assert run_audit(audit_env, "--targets-from", targets, "--resume", results, "--quiet").returncode == 1
    full = results.read_text().splitlines()
    # interrupted: five records written, the sixth torn mid-line by the kill
    results.write_text("\n".join(full[:5]) + "\n" + full[5][:40])
    kept = {json.loads(line)["target"] for line in full[:5]}
    hub.requests.clear()
    result = run_audit(audit_env, "--targets-from", targets, "--resume", results, "--quiet")
    lines = results.read_text().splitlines()
    appended = [json.loads(line) for line in lines[6:]]
    assert sorted(r["target"] for r in appended) == sorted(set(names) - kept)
    asked = {"/".join(path.split("/")[3:5]) for _, path, _ in hub.requests if path.startswith("/api/models/")}
    assert asked == set(names) - kept  # the recorded repos were not fetched again
    assert result.returncode in (0, 1)
    # the whole file now holds every target once (the torn line is skipped)
    assert recorded(lines, AuditSettings(overrides={})) == set(names)


def test_a_resumed_audit_renders_every_format_as_the_serial_run_does(hub, audit_env, tmp_path):
    """Interrupted, then resumed with --format X: one report of the whole list (the earlier
    run's records and the new ones merged, in the list's order), equal to a serial
    `hfcheck TARGETS --format X`; the SARIF validates against the 2.1.0 schema."""
    names = serve_registry(hub, tmp_path, 9)
    # and a local snapshot whose checked folder is not the path listed: an HF cache repo folder
    cached = tmp_path / "hf-cache" / "models--local--cached"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(FIXTURES / "tiny-llama-broken-config", cached / "snapshots" / commit)
    (cached / "refs").mkdir()
    (cached / "refs" / "main").write_text(commit)
    names.insert(2, str(cached))
    targets = tmp_path / "fleet.txt"
    targets.write_text("\n".join(names) + "\n")
    full = tmp_path / "full.jsonl"
    assert run_hfcheck(audit_env, "--targets-from", targets, "--resume", full, "--quiet").returncode == 1
    lines = full.read_text().splitlines()
    serial = serial_outputs(audit_env, names)
    assert (
        len({tuple(sorted(f["code"] for f in t["findings"])) for t in json.loads(serial["json"])["targets"]}) == 3
    )  # three outcomes compared
    for fmt in REPORT_FORMATS:
        partial = tmp_path / f"audit-{fmt}.jsonl"
        partial.write_text("\n".join(lines[:4]) + "\n" + lines[4][:30])  # four records kept, the fifth torn by the kill
        report = tmp_path / f"report.{fmt}"
        hub.requests.clear()
        to_file = [] if fmt == "jsonl" else ["--output", report]  # JSONL lines go to the --resume file
        result = run_hfcheck(audit_env, "--targets-from", targets, "--resume", partial, "--format", fmt, *to_file)
        assert result.returncode == 1, result.stderr[-2000:]
        fetched = {"/".join(path.split("/")[3:5]) for _, path, _ in hub.requests if path.startswith("/api/models/")}
        kept = {json.loads(line)["target"] for line in lines[:4]}
        assert fetched == set(names) - kept - {str(cached)}  # only the rest was checked (the local target asks the Hub nothing)
        if fmt == "jsonl":
            assert result.stdout == ""  # the --resume file now holds the whole list
            assert comparable(fmt, "\n".join(partial.read_text().splitlines()[:4] + partial.read_text().splitlines()[5:])) == serial[fmt]
            continue
        assert comparable(fmt, report.read_text()) == serial[fmt], fmt
        if fmt == "sarif":
            validate_sarif(report.read_text())


def test_records_render_in_the_order_listed_and_errors_are_named_not_rendered(hub, audit_env, tmp_path):
    names = serve_registry(hub, tmp_path, 3)
    targets = tmp_path / "fleet.txt"
    targets.write_text("\n".join([names[2], "missing/model", names[0], names[1]]) + "\n")
    result = run_hfcheck(audit_env, "--targets-from", targets, "--format", "concise", "--jobs", "2")
    assert result.returncode == 2  # the missing repo: loud
    assert "missing/model: not checked:" in result.stderr and "missing/model" not in result.stdout
    assert result.stdout == run_hfcheck(audit_env, names[2], names[0], names[1], "--format", "concise").stdout


def test_resume_reruns_targets_recorded_with_other_settings_or_errors(tmp_path):
    settings = AuditSettings(overrides={"fail_on": "warning"})
    other = AuditSettings()
    base = {"hfcheck": __import__("hfcheck").__version__, "error": None}
    lines = [
        json.dumps({**base, "target": "a/same", "settings": settings.fingerprint()}),
        json.dumps({**base, "target": "a/other", "settings": other.fingerprint()}),
        json.dumps({**base, "target": "a/failed", "settings": settings.fingerprint(), "error": "cannot reach the Hub"}),
        json.dumps({**base, "target": "a/old", "settings": settings.fingerprint(), "hfcheck": "0.0.1"}),
    ]
    assert recorded(lines, settings) == {"a/same"}


# -- in-process API: progress, one report from the records ---------------------------------------


def test_progress_counts_done_and_failing_and_the_records_render_as_the_api_report(tmp_path):
    from hfcheck.api import check_many
    from hfcheck.report import render

    variants = [str(p) for p in model_variants(tmp_path)]
    seen = []
    records = list(
        audit(
            [AuditTarget(v, i + 1) for i, v in enumerate(variants)],
            executor=LocalExecutor(1),
            progress=lambda p: seen.append((p.done, p.failing, p.total, p.eta_seconds)),
        )
    )
    assert [s[0] for s in seen] == [1, 2, 3] and seen[-1][2] == 3 and seen[-1][3] == 0
    failing = sum(r["exit_code"] == 1 for r in records)
    assert failing >= 1 and seen[-1][1] == failing
    direct = json.loads(render(check_many(variants), "json"))
    merged = json.loads(render(report_from_records(records), "json"))
    assert merged == direct


def test_progress_line_says_rate_and_eta():
    state = Progress(total=10, done=5, failing=2, errors=1)
    state.started -= 5.0
    line = state.line()
    assert line.startswith("5/10 checked, 2 failing, 1 errors") and "1.0/s" in line and "ETA 5s" in line


def test_the_static_pass_and_a_local_audit_never_import_ray(tmp_path):
    assert loaded_modules(FIXTURES / "tiny-llama", "--format", "json", watched=("ray",)) == []
    targets = tmp_path / "fleet.txt"
    targets.write_text(f"{FIXTURES / 'tiny-llama'}\n")
    probe = f"import sys\nfrom hfcheck.audit import main\nmain(['--targets-from', {str(targets)!r}, '--quiet', '-o', {str(tmp_path / 'out.jsonl')!r}])\nprint('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
    assert records_of((tmp_path / "out.jsonl").read_text())[0]["exit_code"] == 0


def test_a_local_worker_process_killed_mid_target_is_retried_and_reported_once(hub, audit_env, tmp_path):
    import signal
    import threading
    import time

    names = serve_registry(hub, tmp_path, 8)
    slow = "slow/model"
    hub.add(slow, FIXTURES / "tiny-llama")
    asked, release = threading.Event(), threading.Event()
    real_resolve = hub.resolve

    def resolve(repo_id, revision):
        # the first request for the slow repo holds its worker until the test has killed the workers
        if repo_id == slow and not release.is_set():
            asked.set()
            release.wait(60)
        return real_resolve(repo_id, revision)

    hub.resolve = resolve
    targets = tmp_path / "fleet.txt"
    targets.write_text("\n".join(names[:4] + [slow] + names[4:]) + "\n")
    driver = subprocess.Popen(
        [sys.executable, "-P", "-m", "hfcheck.audit", "--targets-from", str(targets), "--jobs", "2", "--quiet"],
        env=audit_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert asked.wait(120)
        workers = [int(pid) for pid in Path(f"/proc/{driver.pid}/task/{driver.pid}/children").read_text().split()]
        assert workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        release.set()
        stdout, _ = driver.communicate(timeout=240)
    finally:
        release.set()
        driver.kill()
    records = records_of(stdout)
    assert sorted(r["target"] for r in records) == sorted(names + [slow])  # each exactly once
    assert all(r["error"] is None for r in records), [r["error"] for r in records if r["error"]]
    asked_slow = [path for _, path, _ in hub.requests if path.startswith(f"/api/models/{slow}")]
    assert asked_slow.count(asked_slow[0]) >= 2  # asked by the killed worker, then by the retry


def test_an_unknown_rule_code_is_a_usage_error_before_any_target(tmp_path):
    targets = tmp_path / "fleet.txt"
    targets.write_text(f"{FIXTURES / 'tiny-llama'}\n")
    result = run_audit(dict(os.environ), "--targets-from", targets, "--select", "NOPE999", "--quiet")
    assert result.returncode == 2 and "NOPE999" in result.stderr and result.stdout == ""
    bad = tmp_path / "bad.txt"
    bad.write_text("org/name\norg/na me\n")
    result = run_audit(dict(os.environ), "--targets-from", bad, "--quiet")
    assert result.returncode == 2 and "bad.txt:2:" in result.stderr and "Traceback" not in result.stderr


def test_the_cli_audits_a_targets_file_into_jsonl(tmp_path):
    """`hfcheck --targets-from FILE --resume OUT`: the CLI runs the same audit, one JSON
    record a target; a second run with --resume checks nothing again and still answers
    for the whole list."""
    import json
    import subprocess
    import sys

    clean = tmp_path / "clean"
    shutil.copytree(FIXTURES / "tiny-llama", clean)
    broken = tmp_path / "broken"
    shutil.copytree(FIXTURES / "tiny-llama-broken-config", broken)
    listing = tmp_path / "targets.txt"
    listing.write_text(f"# two local models\n{clean}\n{broken}\n")
    out = tmp_path / "audit.jsonl"
    command = [sys.executable, "-m", "hfcheck", "--targets-from", str(listing), "--resume", str(out), "--quiet"]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 1, first.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["target"] for r in records) == sorted([str(clean), str(broken)])
    second = subprocess.run(command, capture_output=True, text=True)
    # nothing is checked again, and the broken target recorded by the first run still fails the gate
    assert second.returncode == 1 and out.read_text().count("\n") == 2, second.stderr
    usage = subprocess.run([sys.executable, "-m", "hfcheck", "--resume", str(out), str(clean)], capture_output=True, text=True)
    assert usage.returncode == 2 and "--targets-from" in usage.stderr


def test_the_readme_scaling_figures_are_the_benchmark_scripts_output_of_its_saved_log():
    """README's audit-bench section is benchmarks/results/audit_scaling.md verbatim, and that
    file is what benchmarks/audit_scaling.py --table-from prints for the saved measurement
    log: no figure typed by hand."""
    import importlib.util
    import re

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("audit_scaling", ROOT / "benchmarks" / "audit_scaling.py")
    scaling = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scaling)
    results = ROOT / "benchmarks" / "results"
    block = (results / "audit_scaling.md").read_text(encoding="utf-8")
    assert block == scaling.table_from(results / "audit_scaling_2000.log", [results / "audit_scaling_2000_repeat.log"])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"<!-- audit-bench:start -->\n(.*?)<!-- audit-bench:end -->", readme, re.S)
    assert section and section.group(1) == block, (
        "run: python benchmarks/audit_scaling.py --table-from benchmarks/results/audit_scaling_2000.log --repeat benchmarks/results/audit_scaling_2000_repeat.log --out benchmarks/results/audit_scaling.md, then python scripts/update_readme.py"
    )
    assert "2000 Hub targets" in block and "| serial |" in block and "| ray, 4 CPUs |" in block


def test_audit_options_that_would_be_ignored_are_usage_errors(tmp_path):
    listing = tmp_path / "targets.txt"
    listing.write_text(f"{FIXTURES / 'tiny-llama'}\n")
    for extra, said in (
        (["--statistics"], "--statistics"),
        (["--resume", tmp_path / "a.jsonl", "--format", "jsonl", "-o", tmp_path / "b"], "no --output"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "hfcheck", "--targets-from", str(listing), *map(str, extra)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 2 and said in result.stderr and result.stdout == "", result.stderr
    assert not (tmp_path / "a.jsonl").exists() and not (tmp_path / "b").exists()
