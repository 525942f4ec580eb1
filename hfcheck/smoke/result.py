"""What one smoke run found, as plain data (no torch objects), and where rules read it.

The runner (hfcheck/smoke/runner.py) fills a SmokeResult; the engine hands it to the SMK
rules (rules/smoke.py) as the check context's `smoke` (hfcheck/context.py), and they turn
it into findings. In the static pass the context holds none, so every SMK rule yields
nothing and nothing heavy is imported. Data flows one way: run -> result -> context ->
rules -> findings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from hfcheck.context import SMOKE_RESULT_KEY


@dataclass
class Measure:
    """A figure the pass measured (None when not measured)."""

    load_s: float | None = None
    first_token_s: float | None = None
    tokens_per_s: float | None = None
    new_tokens: int | None = None
    peak_gpu_bytes: int | None = None
    weight_bytes_measured: int | None = None  # GPU memory taken by the load, or parameter bytes on CPU
    weight_bytes_static: int | None = None  # sum of tensor sizes in the safetensors headers
    weight_bytes_expected: int | None = None  # the static figure scaled to the dtype asked for


@dataclass
class EnvelopeRun:
    """The declared serving envelope run for real: a prefill of batch x seq_len tokens
    and a few greedy decode steps, at batch 1 and at the declared batch."""

    batch: int
    seq_len: int
    source: str  # where the envelope is declared
    decode_steps: int = 0
    fits: bool = True  # False: out of memory at the declared envelope
    largest_fit: list[int] | None = None  # [batch, seq_len] that ran, found by halving
    peak_allocated: int | None = None  # torch.cuda.max_memory_allocated at the declared envelope
    peak_reserved: int | None = None
    ttft_s: float | None = None  # prefill + first token at the declared batch
    tokens_per_s: float | None = None  # decode tokens/s, all sequences of the batch together
    ttft_batch1_s: float | None = None
    tokens_per_s_batch1: float | None = None
    error: str | None = None  # a failure that is not out-of-memory
    notes: list[str] = field(default_factory=list)


@dataclass
class Check:
    """The outcome of one check: ok, or a problem in words with details for the report."""

    name: str
    ok: bool
    message: str = ""
    details: dict = field(default_factory=dict)


@dataclass
class SmokeResult:
    # "ran": checks ran; "skipped": not run for a benign reason (no GPU with --device
    # auto); "refused": not run for a reason the user must act on.
    status: str
    reason: str = ""
    device: str | None = None
    dtype: str | None = None
    kind: str | None = None  # "causal-lm" or "encoder"
    load_kwargs: dict = field(default_factory=dict)
    load_source: str | None = None  # where the deployment's load was found ("serve.py:12")
    load_notes: list[str] = field(default_factory=list)  # deployment kwargs not replayed, and why
    load_error: str | None = None
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)
    mismatched_keys: list[str] = field(default_factory=list)
    checks: dict[str, Check] = field(default_factory=dict)
    measure: Measure = field(default_factory=Measure)
    gpu_name: str | None = None  # the GPU the figures were measured on
    envelope: EnvelopeRun | None = None
    # Where the deployment asked for the modules (its device_map / max_memory as replayed
    # here) and where accelerate put them (model.hf_device_map), as plain data.
    asked_device_map: object = None
    asked_max_memory: dict | None = None
    placement: dict[str, str] = field(default_factory=dict)
    peak_by_device: dict[str, int] = field(default_factory=dict)  # torch.cuda.max_memory_allocated per GPU

    def check(self, name: str) -> Check | None:
        return self.checks.get(name)

    def to_dict(self) -> dict:
        return asdict(self)


def attach(repo, result: SmokeResult) -> None:
    """Leave the run's result on a repo view checked outside smoke_target (a single SMK
    rule run through hfcheck.api.run_rule): the engine puts it in the view's context."""
    repo.memo(SMOKE_RESULT_KEY, lambda: result)
