"""The Ray executor on a local Ray cluster started here (2 CPUs: the CI machine's size) over
the Hub test server: the same findings as the serial CLI, and a worker killed mid-task
loses no target and duplicates none. Skipped without Ray (the extra hfcheck[ray])."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the Ray executor's tests need the extra hfcheck[ray] (pip install ray)")

sys.path.insert(0, str(Path(__file__).resolve().parent / "hub"))
from hubserver import FakeHub  # noqa: E402
from test_audit import REPORT_FORMATS, comparable, finding_keys, serial_findings, serial_outputs, serve_registry, validate_sarif  # noqa: E402

from hfcheck.audit import AuditSettings, AuditTarget, RayExecutor, audit, report_from_records  # noqa: E402

TARGETS = 60


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    hub = FakeHub().start()
    names = serve_registry(hub, tmp, TARGETS)
    # TRANSFORMERS_OFFLINE counts as HF_HUB_OFFLINE, and the smoke tests leave both set in this
    # process; Ray's workers inherit its environment, so both are overridden for them
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "HFCHECK_", "TRANSFORMERS_"))}
    hub_vars = {
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp / "hf-home"),
        "HF_HUB_CACHE": str(tmp / "hf-hub"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    hub_vars.update(HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0")
    env.update({k: v for k, v in hub_vars.items() if not k.endswith("OFFLINE")}, NO_COLOR="1")
    ray.init(num_cpus=2, runtime_env={"env_vars": hub_vars}, include_dashboard=False, log_to_driver=False)
    yield hub, names, env
    ray.shutdown()
    hub.stop()


def test_ray_audit_finds_what_the_serial_run_finds(registry):
    hub, names, env = registry
    records = list(audit([AuditTarget(n, i + 1) for i, n in enumerate(names)], AuditSettings(), executor=RayExecutor(max_in_flight=4)))
    assert sorted(r["target"] for r in records) == sorted(names)
    assert all(r["error"] is None for r in records)
    assert {r["target"]: finding_keys(r["findings"]) for r in records} == serial_findings(env, names)


def test_a_ray_audit_merges_into_one_report_in_every_format_as_the_serial_run(registry):
    """The records Ray returns in the order they finish, merged into one report: every
    format equal to the serial CLI's output for the same list (JSONL: the records, without
    their timing); the SARIF validates against the 2.1.0 schema."""
    import json

    from hfcheck.api import fingerprint
    from hfcheck.registry import all_rules
    from hfcheck.report import render

    hub, names, env = registry
    listed = names[:15]
    records = list(audit([AuditTarget(n, i + 1) for i, n in enumerate(listed)], AuditSettings(), executor=RayExecutor(max_in_flight=4)))
    order = {name: index for index, name in enumerate(listed)}
    records.sort(key=lambda r: order[r["target"]])
    serial = serial_outputs(env, listed)
    for fmt in REPORT_FORMATS:
        if fmt == "jsonl":
            merged = "".join(json.dumps(r) + "\n" for r in records)
        else:
            merged = render(report_from_records(records), fmt, rules=all_rules(), fingerprint=fingerprint)
        assert comparable(fmt, merged) == serial[fmt], fmt
    validate_sarif(render(report_from_records(records), "sarif", rules=all_rules(), fingerprint=fingerprint))


def test_a_smoke_audit_on_ray_runs_the_smoke_pass_where_ray_placed_it(registry, tmp_path):
    """--smoke on Ray: the static task, then a smoke task (on this GPU-less cluster with
    --device cpu it asks for no GPU, so it is placed at all) in a fresh worker each (no
    model's memory left over from the last); the record says the smoke pass ran, on which
    device, with which GPUs Ray gave it, and holds the serial CLI's findings."""
    import shutil

    from conftest import FIXTURES
    from hubserver import run_hfcheck

    hub, names, env = registry
    model = FIXTURES / "tiny-llama"
    twin = shutil.copytree(model, tmp_path / "twin")
    settings = AuditSettings(smoke=True, smoke_options={"device": "cpu", "trust_remote_code": False})
    records = list(audit([AuditTarget(str(model), 1), AuditTarget(str(twin), 2)], settings, executor=RayExecutor(max_in_flight=1)))
    assert [r["error"] for r in records] == [None, None]
    assert all(r["smoke"]["status"] == "ran" and r["smoke"]["device"] == "cpu" for r in records)
    assert all(r["smoke"]["ray"]["gpu_ids"] == [] and r["smoke"]["ray"]["node_id"] for r in records)
    assert records[0]["smoke"]["ray"]["worker_pid"] != records[1]["smoke"]["ray"]["worker_pid"]
    record = next(r for r in records if r["target"] == str(model))
    serial = run_hfcheck(env, model, "--smoke", "--device", "cpu", "--format", "json")
    expected = [t["findings"] for t in __import__("json").loads(serial.stdout)["targets"]][0]

    def keys(findings):  # the measurement finding's message holds timings
        return sorted((f["code"], f["path"], f["line"], f["message"] if f["code"] != "SMK011" else None) for f in findings)

    assert any(f["concern"] == "smoke" for f in expected), serial.stderr[-2000:]
    assert keys(record["findings"]) == keys(expected)


def ray_workers_running(task: str) -> list[int]:
    """Pids of Ray workers executing `task` now (Ray titles a busy worker `ray::<task>`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            if title.startswith(f"ray::{task}"):
                pids.append(int(entry.name))
    return pids


def test_a_worker_killed_mid_task_loses_no_target_and_duplicates_none(registry, tmp_path):
    hub, names, env = registry
    slow = "slow/model"
    hub.add(slow, Path(__file__).resolve().parents[1] / "fixtures" / "repos" / "tiny-llama")
    asked, release, killed = threading.Event(), threading.Event(), []
    real_resolve = hub.resolve

    def resolve(repo_id, revision):
        # the first request for the slow repo holds its worker until the test has killed it
        if repo_id == slow and not release.is_set():
            asked.set()
            release.wait(60)
        return real_resolve(repo_id, revision)

    def killer():
        assert asked.wait(120)
        for pid in ray_workers_running("_static_task"):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        release.set()

    hub.resolve = resolve
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    listed = names[:10] + [slow] + names[10:20]
    try:
        # the executor itself, not audit(): audit() drops duplicates, and this must see any
        settings = AuditSettings()
        records = list(
            RayExecutor(max_in_flight=4).run([AuditTarget(n, i + 1) for i, n in enumerate(listed)], settings, settings.fingerprint())
        )
    finally:
        release.set()
        hub.resolve = real_resolve
    thread.join(5)
    assert killed, "no Ray worker was running the slow target"
    assert sorted(r["target"] for r in records) == sorted(listed)  # each exactly once
    assert all(r["error"] is None for r in records), [r["error"] for r in records if r["error"]]
    asked_slow = [path for _, path, _ in hub.requests if path.startswith(f"/api/models/{slow}")]
    assert asked_slow.count(asked_slow[0]) >= 2  # the request its killed worker made, made again by the retry
    slow_record = next(r for r in records if r["target"] == slow)
    serial = serial_findings(env, [names[0], slow])
    assert finding_keys(slow_record["findings"]) == serial[slow]
