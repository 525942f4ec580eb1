"""The declared serving envelope, run for real on CPU with the tiny Llama fixture and the
real all-MiniLM-L6-v2: batch x length from the settings, time to first token and tokens/s
at batch 1 and at the batch, greedy determinism, service levels, and the halving search
that names what fits after an out-of-memory. Peak memory is measured on CUDA only
(benchmarks/envelope_proof.py measured it on an H200; docs/smoke.md has the table)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conftest import codes  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hfcheck.api import check  # noqa: E402
from hfcheck.facts.memory import estimate  # noqa: E402
from hfcheck.repo import RepoView  # noqa: E402
from hfcheck.smoke import smoke_target  # noqa: E402
from hfcheck.smoke.runner import _determinism, largest_fit  # noqa: E402


def smoke(path, **options):
    target = check(path).targets[0]
    result = smoke_target(target, device="cpu", **options)
    return [f for f in target.findings if f.concern == "smoke"], result


def declare(repo: Path, text: str) -> None:
    (repo / ".hfcheck.yaml").write_text(text)


def test_declared_envelope_runs_at_batch_1_and_at_the_batch(tiny_llama):
    declare(tiny_llama, "deploy:\n  max_batch_size: 4\n  max_seq_len: 48\n")
    findings, result = smoke(tiny_llama)
    run = result.envelope
    assert (run.batch, run.seq_len, run.fits, run.error) == (4, 48, True, None)
    assert ".hfcheck.yaml" in run.source
    assert run.ttft_batch1_s > 0 and run.ttft_s > 0 and run.tokens_per_s > 0 and run.tokens_per_s_batch1 > 0
    assert run.peak_allocated is None and "peak memory is measured on CUDA only" in run.notes
    assert codes(findings) == ["SMK011"]
    assert "envelope 4 x 48 tokens" in findings[0].message and "batch 4 first token" in findings[0].message
    assert result.check("deterministic").ok


def test_encoder_envelope_is_one_forward_pass(minilm):
    declare(minilm, "deploy:\n  max_batch_size: 8\n  max_seq_len: 128\n")
    _, result = smoke(minilm)
    run = result.envelope
    assert run.fits and run.error is None and run.decode_steps == 0
    assert run.ttft_s > 0 and run.tokens_per_s is None


def test_envelope_longer_than_the_positions_runs_at_the_position_limit(tiny_llama):
    declare(tiny_llama, "deploy:\n  max_batch_size: 2\n  max_seq_len: 100000\n")
    _, result = smoke(tiny_llama)
    limit = result.envelope.seq_len
    assert limit < 100000 and any("above max_position_embeddings" in n for n in result.envelope.notes)


def test_no_declared_envelope_runs_none(tiny_llama):
    _, result = smoke(tiny_llama)
    assert result.envelope is None


def test_missed_service_levels_are_errors_naming_the_device(tiny_llama):
    declare(tiny_llama, "deploy:\n  max_batch_size: 2\n  max_seq_len: 32\n  slo:\n    ttft_ms: 0.001\n    tokens_per_s: 1000000000\n")
    findings, _ = smoke(tiny_llama)
    missed = [f for f in findings if f.code == "SMK014"]
    assert len(missed) == 2 and all(f.severity == "error" and "on cpu" in f.message for f in missed)
    declare(tiny_llama, "deploy:\n  max_batch_size: 2\n  max_seq_len: 32\n  slo:\n    ttft_ms: 600000\n    tokens_per_s: 0.001\n")
    findings, _ = smoke(tiny_llama)
    assert "SMK014" not in codes(findings)


def test_bad_service_level_settings_are_settings_errors(tiny_llama):
    declare(tiny_llama, "deploy:\n  slo:\n    ttft: 5\n    tokens_per_s: -1\n")
    found = check(tiny_llama).targets[0].findings
    messages = [f.message for f in found if f.code == "HFC002"]
    assert any("unknown deploy.slo setting 'ttft'" in m for m in messages)
    assert any("deploy.slo.tokens_per_s must be a positive number" in m for m in messages)


def test_halving_names_the_largest_envelope_that_fits():
    tried = []

    def fits(batch, length):
        tried.append((batch, length))
        return batch * length <= 3 * 4096

    assert largest_fit(32, 4096, fits) == [2, 4096]
    assert tried == [(16, 4096), (8, 4096), (4, 4096), (2, 4096)]
    assert largest_fit(8, 100_000, lambda b, n: b * n <= 20_000) == [1, 12_500]
    assert largest_fit(4, 16, lambda b, n: False) is None


def test_determinism_check_says_where_generations_part():
    assert _determinism([5, 6, 7], [5, 6, 7]).ok
    differ = _determinism([5, 6, 7, 8], [5, 6, 9, 8])
    assert not differ.ok and "from new token 2" in differ.message


def test_estimate_counts_kv_cache_and_prefill_activations(tiny_llama):
    repo = RepoView(tiny_llama)
    small = estimate(repo, batch=1, seq_len=64, new_tokens=0)
    large = estimate(repo, batch=8, seq_len=64, new_tokens=0)
    assert large.weights == small.weights > 0
    assert large.kv_cache == 8 * small.kv_cache > 0
    # activations grow with the tokens of the prefill (the last-token logits with the
    # batch); cuBLAS's workspace is the same for any envelope
    from hfcheck.facts.memory import CUBLAS_WORKSPACE_BYTES

    assert large.activations - CUBLAS_WORKSPACE_BYTES > 7 * (small.activations - CUBLAS_WORKSPACE_BYTES) > 0
    eager = estimate(repo, batch=8, seq_len=64, new_tokens=0, attn_implementation="eager")
    assert eager.activations > large.activations


def _rule_findings(repo_path, result, code):
    from hfcheck.api import run_rule
    from hfcheck.config import load_settings
    from hfcheck.registry import all_rules
    from hfcheck.smoke.result import attach

    settings = load_settings(repo_path)
    repo = RepoView(repo_path, settings=settings)
    attach(repo, result)
    [rule] = [r for r in all_rules() if r.code == code]
    return run_rule(rule, repo, settings)


def _result_with(envelope):
    from hfcheck.smoke.result import SmokeResult

    result = SmokeResult("ran", device="cuda", dtype="float16", kind="causal-lm", gpu_name="NVIDIA H200")
    result.envelope = envelope
    return result


def test_out_of_memory_envelope_names_what_fits_beside_the_estimate(tiny_llama):
    from hfcheck.smoke.result import EnvelopeRun

    run = EnvelopeRun(
        32, 4096, ".hfcheck.yaml: deploy.max_batch_size x deploy.max_seq_len", decode_steps=8, fits=False, largest_fit=[8, 4096]
    )
    [finding] = _rule_findings(tiny_llama, _result_with(run), "SMK012")
    assert finding.severity == "error"
    assert "32 x 4096 tokens" in finding.message and "out of memory on NVIDIA H200" in finding.message
    assert "the largest that ran is 8 x 4096" in finding.message and "static estimate weights" in finding.message


def test_measured_peak_above_the_declared_gpu_is_an_error(tiny_llama):
    from hfcheck.smoke.result import EnvelopeRun

    declare(tiny_llama, "deploy:\n  gpus: 1\n  gpu_memory_gib: 24\n  max_batch_size: 32\n  max_seq_len: 4096\n")
    over = EnvelopeRun(32, 4096, "settings", decode_steps=8, peak_allocated=24 << 30, peak_reserved=25 << 30)
    [finding] = _rule_findings(tiny_llama, _result_with(over), "SMK012")
    assert "25.00 GiB reserved" in finding.message and "24 GiB x 0.9" in finding.message
    under = EnvelopeRun(32, 4096, "settings", decode_steps=8, peak_allocated=10 << 30, peak_reserved=11 << 30)
    assert _rule_findings(tiny_llama, _result_with(under), "SMK012") == []


def test_progress_is_a_bar_on_a_terminal_lines_in_ci_and_silent_when_quiet():
    import io

    from hfcheck.smoke.progress import smoke_progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    log = io.StringIO()
    with smoke_progress("m", stream=log) as step:
        step("loading the model on cuda")
    assert log.getvalue() == "hfcheck smoke m: loading the model on cuda\n"
    quiet = io.StringIO()
    with smoke_progress("m", quiet=True, stream=quiet) as step:
        step("x")
    assert quiet.getvalue() == ""
    screen = Terminal()
    with smoke_progress("m", stream=screen) as step:
        step("greedy generation")
    assert "smoke m" in screen.getvalue() and "greedy generation" in screen.getvalue() and "\r" in screen.getvalue()


def test_docs_table_is_the_scripts_output():
    """docs/smoke.md's envelope table is generated from the measured results with the
    current estimate: a change of the formula that is not regenerated fails here."""
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "benchmarks"))
    import json

    import envelope_table

    text = envelope_table.table(json.loads((root / "benchmarks" / "results" / "envelope_h200.json").read_text()))
    assert envelope_table.in_doc(text) == (root / "docs" / "smoke.md").read_text(encoding="utf-8")
    assert "halving found 32 x 32768" in text


def test_placement_plan_fills_max_memory_budgets_in_forward_order(tiny_llama):
    from hfcheck.facts import memory

    repo = RepoView(tiny_llama)
    modules = [m for m, _ in memory.module_sizes(repo)]
    assert (
        modules[0] == "model.embed_tokens"
        and modules[-1] == "lm_head"
        and modules.index("model.layers.0") < modules.index("model.layers.1")
    )
    sizes = dict(memory.module_sizes(repo))
    embed, largest = sizes["model.embed_tokens"], max(sizes.values())
    # GPU 0 keeps the largest module's size free (as accelerate does), holds the
    # embeddings and nothing more; the rest goes to the next budget
    plan = memory.planned_placement(repo, "auto", {0: embed + largest, "cpu": "1GiB"})
    assert plan["model.embed_tokens"] == "cuda:0" and plan["model.layers.0"] == "cpu"
    assert memory.bytes_per_device(repo, plan)["cuda:0"] == embed
    assert memory.planned_placement(repo, "auto", {0: embed, "cpu": "1GiB"})["model.embed_tokens"] == "cpu"
    assert memory.planned_placement(repo, {"model.embed_tokens": 0, "model.layers": 1, "": "cpu"})["model.layers.1"] == "cuda:1"
    assert memory.planned_placement(repo, "auto") is None  # depends on the machine
    assert (
        memory._parse_memory("20GiB") == 20 << 30 and memory._parse_memory("500MB") == 500 * 10**6 and memory._parse_memory("lots") is None
    )


def _placed(tiny_llama, asked, max_memory, placement):
    result = _result_with(None)
    result.asked_device_map, result.asked_max_memory, result.placement = asked, max_memory, placement
    result.peak_by_device = {"cuda:0": 1 << 30}
    return _rule_findings(tiny_llama, result, "SMK015")


def test_modules_that_land_on_cpu_against_the_deployments_intent_are_errors(tiny_llama):
    # what accelerate's hf_device_map says after a load with max_memory={0: small, "cpu": big}
    offloaded = {"model.embed_tokens": "cuda:0", "model.layers.0": "cpu", "model.layers.1": "cpu", "model.norm": "cpu", "lm_head": "cpu"}
    [finding] = _placed(tiny_llama, "auto", {"0": "40KB", "cpu": "1GiB"}, offloaded)
    assert "4 module(s) meant for a GPU were placed on cpu" in finding.message and "model.layers.0" in finding.message
    assert "cuda:0 peak 1.00 GiB" in finding.message and "planned from the headers" in finding.message
    # everything on the GPU: no finding
    assert _placed(tiny_llama, "auto", {"0": "20GiB"}, {"": "cuda:0"}) == []
    # the dict itself sends the head to the CPU: intended, so DMP001's business, not this rule's
    assert _placed(tiny_llama, {"model": 0, "lm_head": "cpu"}, None, {"model": "cuda:0", "lm_head": "cpu"}) == []


def test_a_named_gpu_left_empty_is_an_error(tiny_llama):
    [finding] = _placed(tiny_llama, {"model.embed_tokens": 0, "model.layers": 1, "model.norm": 1, "lm_head": 1}, None, {"": "cuda:0"})
    assert finding.message.startswith("cuda:1 is named by the deployment but holds no module")


def test_the_smoke_pass_gives_the_callers_environment_back(tiny_llama, monkeypatch):
    """It runs offline, but a Hub check later in the same process must not be."""
    import os

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    _, result = smoke(tiny_llama)
    assert result.status == "ran"
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"
