"""The optional smoke pass: load the model the way a deployment does and run it.

    hfcheck --smoke [--device cuda|cpu|auto] [--trust-remote-code] TARGET

How it fits the engine: the static pass runs first and builds its report. For each
target, `smoke_target` then (1) refuses to load anything when the static pass found a
security error, (2) otherwise calls `run_smoke` (runner.py, the only module that imports
torch/transformers) which returns a SmokeResult of plain data, (3) runs the `smoke` rules
(rules/smoke.py, SMK...) on a check context of a fresh repo view of the target that
carries that result (hfcheck/context.py), through the engine's own `run_rule` and
findings filter (`visible`), so select/ignore/per-path/baseline/severity settings,
reports and exit codes treat smoke findings like any other. In the static pass the
context carries no result and every SMK rule yields nothing.

Importing this package imports nothing heavy."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

__all__ = ["run_smoke", "smoke_target", "security_errors"]


def run_smoke(
    repo_root: str | Path,
    *,
    device: str = "auto",
    load_kwargs: dict | None = None,
    trust_remote_code: bool = False,
    progress: Callable[[str], None] | None = None,
    new_tokens: int | None = None,
    envelope: tuple[int, int, str] | None = None,
):
    """Load and exercise one model folder; returns a SmokeResult (see result.py).

    `load_kwargs`: the deployment's from_pretrained kwargs (device_map, dtype,
    quantization_config, ...) as plain data, the shape hfcheck.facts.deploy.smoke_load
    returns."""
    from hfcheck.smoke.runner import run_smoke as run

    return run(
        repo_root,
        device=device,
        load_kwargs=load_kwargs,
        trust_remote_code=trust_remote_code,
        progress=progress,
        new_tokens=new_tokens,
        envelope=envelope,
    )


def security_errors(findings) -> list:
    return [f for f in findings if f.concern == "security" and f.severity == "error"]


def _will_load(device: str) -> bool:
    """Whether run_smoke gets as far as loading here (the extra installed, a GPU unless
    --device cpu), so a Hub model is downloaded only when it will be used."""
    try:
        import torch
    except ImportError:
        return False
    return device == "cpu" or torch.cuda.is_available()


def smoke_target(
    target_report,
    *,
    device: str = "auto",
    trust_remote_code: bool = False,
    load_kwargs: dict | None = None,
    progress: Callable[[str], None] | None = None,
    baseline: set[str] | None = None,
    rules=None,
):
    """Run the smoke pass on one target of a static report and add its findings to it.

    `load_kwargs` None: load the model the way the target's deployment does (the kwargs
    of its from_pretrained call, or its serving dtype: hfcheck.facts.deploy.smoke_load);
    pass {} to load with hfcheck's defaults only."""
    from hfcheck import catalogue
    from hfcheck.api import context_of, run_rule, selected_rules, visible
    from hfcheck.findings import Finding
    from hfcheck.repo import RepoView
    from hfcheck.smoke.result import SmokeResult

    settings = target_report.settings
    root, result = target_report.root, None
    blocking = security_errors(target_report.findings)
    if blocking:
        codes = ", ".join(sorted({f.code for f in blocking}))
        result = SmokeResult("refused", f"the static pass found security errors ({codes}); the model is not loaded")
    elif target_report.hub is not None and _will_load(device):
        # The static view of a Hub repo holds headers, not tensors: load the real files.
        from hfcheck.hub import HubError, download_for_smoke

        if progress:
            progress("downloading the model from the Hub")
        try:
            root = download_for_smoke(target_report.hub)
        except HubError as error:
            result = SmokeResult("refused", str(error))
    repo = RepoView(root, target_report.path, exclude=tuple(settings.exclude), settings=settings)
    if result is None:
        source = None
        if load_kwargs is None:
            from hfcheck.facts.deploy import smoke_load

            load_kwargs, source = smoke_load(repo)
        from hfcheck.facts.memory import serving_envelope

        declared = serving_envelope(repo)
        envelope = (declared.batch, declared.seq_len, declared.source) if declared else None
        result = run_smoke(
            root, device=device, load_kwargs=load_kwargs, trust_remote_code=trust_remote_code, progress=progress, envelope=envelope
        )
        result.load_source = source
    context = context_of(repo, settings, smoke=result)
    smoke_rules = [r for r in selected_rules(rules or catalogue.rules(), settings) if r.concern == "smoke"]
    found = visible([f for r in smoke_rules for f in run_rule(r, context, settings)], settings, baseline)
    target_report.findings = sorted(set(target_report.findings) | set(found), key=Finding.sort_key)
    return result
