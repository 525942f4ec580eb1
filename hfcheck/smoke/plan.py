"""Before anything heavy is imported: what the smoke pass would load and whether it may.

Reads the repo through the same repo view the static pass uses (no torch), so a refusal
costs nothing: remote code without --trust-remote-code, no safetensors and no pickle
weights transformers would load, no config.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hfcheck.repo import RepoView

CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
# from_pretrained kwargs hfcheck decides itself: a deployment's kwargs never override them.
GUARDED_KWARGS = ("trust_remote_code", "use_safetensors", "weights_only", "local_files_only")

# Bytes per element of the dtypes a load may ask for, for the expected weight memory.
TORCH_DTYPE_BYTES = {"float32": 4, "float": 4, "float16": 2, "half": 2, "bfloat16": 2, "float64": 8}
FLOAT_HEADER_DTYPES = ("F16", "BF16", "F32", "F64")


@dataclass
class LoadPlan:
    root: Path
    kind: str = "other"  # causal-lm, encoder, other
    use_safetensors: bool = True
    weight_files: list[str] = field(default_factory=list)
    weight_bytes_static: int | None = None
    float_numel: int = 0  # elements of floating tensors (what a dtype change rescales)
    other_bytes: int = 0
    header_dtypes: dict[str, int] = field(default_factory=dict)  # dtype -> bytes
    config_dtype: str | None = None
    remote_code: list[str] = field(default_factory=list)  # where auto_map was found
    refusal: str | None = None
    pooling: str = "mean"  # encoders: sentence-transformers pooling mode

    def expected_bytes(self, dtype: str | None) -> int | None:
        """Weight bytes once loaded as `dtype` (None or "auto": as the headers say)."""
        if self.weight_bytes_static is None:
            return None
        size = TORCH_DTYPE_BYTES.get(str(dtype).replace("torch.", "")) if dtype not in (None, "auto") else None
        if size is None:
            return self.weight_bytes_static
        return self.float_numel * size + self.other_bytes


def plan_load(root: Path, *, trust_remote_code: bool = False) -> LoadPlan:
    repo = RepoView(Path(root))
    plan = LoadPlan(root=Path(root))
    config = repo.config
    if config is None:
        plan.refusal = "no readable config.json: there is no transformers model to load"
        return plan
    architectures = config.get("architectures") or []
    if any(isinstance(a, str) and a.endswith(CAUSAL_SUFFIXES) for a in architectures):
        plan.kind = "causal-lm"
    elif any(isinstance(a, str) and a.endswith(("Model", "ForMaskedLM")) for a in architectures) or config.get("model_type") in (
        "bert",
        "roberta",
        "xlm-roberta",
        "mpnet",
        "distilbert",
        "nomic_bert",
        "modernbert",
    ):
        plan.kind = "encoder"
    dtype = config.get("dtype") or config.get("torch_dtype")
    plan.config_dtype = dtype if isinstance(dtype, str) else None

    for rel in ("config.json", "tokenizer_config.json"):
        data = repo.json_data(rel)
        if isinstance(data, dict) and data.get("auto_map"):
            plan.remote_code.append(rel)
    if plan.remote_code and not trust_remote_code:
        plan.refusal = f"the model needs remote code (auto_map in {', '.join(plan.remote_code)}); it is not run without --trust-remote-code"
        return plan

    plan.weight_files = _safetensors_files(repo)
    if plan.weight_files:
        plan.use_safetensors = True
        _static_bytes(repo, plan)
    elif repo.exists("pytorch_model.bin") or repo.exists("pytorch_model.bin.index.json"):
        plan.use_safetensors = False  # loaded with torch.load(weights_only=True) only
        plan.weight_files = ["pytorch_model.bin"] if repo.exists("pytorch_model.bin") else sorted(repo.glob("pytorch_model-*.bin"))
    else:
        plan.refusal = "no model.safetensors (or pytorch_model.bin) that transformers would load"
        return plan

    pooling = repo.json_data("1_Pooling/config.json")
    if isinstance(pooling, dict):
        if pooling.get("pooling_mode_cls_token"):
            plan.pooling = "cls"
        elif pooling.get("pooling_mode_max_tokens"):
            plan.pooling = "max"
    return plan


def _safetensors_files(repo) -> list[str]:
    index = repo.json_data("model.safetensors.index.json")
    if isinstance(index, dict) and isinstance(index.get("weight_map"), dict):
        return sorted({f for f in index["weight_map"].values() if isinstance(f, str) and repo.exists(f)})
    return ["model.safetensors"] if repo.exists("model.safetensors") else []


def _static_bytes(repo, plan: LoadPlan) -> None:
    total = 0
    for rel in plan.weight_files:
        header = repo.safetensors(rel)
        if header is None or header.error:
            plan.weight_bytes_static = None
            return
        for info in header.tensors.values():
            size = info.end - info.begin
            total += size
            plan.header_dtypes[info.dtype] = plan.header_dtypes.get(info.dtype, 0) + size
            if info.dtype in FLOAT_HEADER_DTYPES:
                plan.float_numel += info.numel
            else:
                plan.other_bytes += size
    plan.weight_bytes_static = total
