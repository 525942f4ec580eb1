"""The smoke pass on Ray with a GPU: a local Ray cluster (8 CPUs, 1 GPU), three tiny real
models built on the fly, `hfcheck --targets-from ... --executor ray --smoke --device cuda`
as hfcheck.audit runs it; records where each smoke task ran (the GPU ids Ray gave it,
CUDA_VISIBLE_DEVICES, the device and GPU the smoke pass used) and its findings.

    python benchmarks/ray_gpu_smoke.py WORKDIR OUT_DIR [--device cuda] [--num-cpus 8] [--num-gpus 1]

Writes OUT_DIR/ray_gpu_smoke.json and exits 1 when a check fails: every target reported
once, no error record, every smoke task given exactly the GPUs asked for (one each; none
with --device cpu), the smoke pass ran on that device, the padding-side model flagged and
a CPU-only task given no GPU. No network: the models are built here (random weights,
tokenizers trained on the fly, as benchmarks/envelope_proof.py builds them) and
HF_HUB_OFFLINE is set. `--device cpu --num-gpus 0` runs the same on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from envelope_proof import build  # noqa: E402  (tiny real models, as the envelope proof builds them)

# label: (envelope_proof model, settings file); one declares its GPU count
MODELS = {
    "llama-tiny": ("llama-gqa-0.85b", "deploy:\n  gpus: 1\n"),
    "gpt2-tiny": ("gpt2-mha-0.35b", None),
}


def build_models(workdir: Path) -> list[Path]:
    folders = []
    for label, (name, settings) in MODELS.items():
        folder = workdir / label
        if not (folder / "config.json").exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(name, folder, tiny=True, device="cpu")  # on the CPU: the driver never holds the GPU
        if settings:
            (folder / ".hfcheck.yaml").write_text(settings)
        folders.append(folder)
    # a broken twin: right padding on a decoder, which the smoke pass's batched generation flags
    broken = workdir / "llama-tiny-right-pad"
    shutil.rmtree(broken, ignore_errors=True)
    shutil.copytree(folders[0], broken)
    config = json.loads((broken / "tokenizer_config.json").read_text())
    config["padding_side"] = "right"
    (broken / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return folders + [broken]


def cpu_task_placement(ray) -> dict:
    """What a task asking for CPU only (as the static tasks do) is given."""

    @ray.remote(num_cpus=1)
    def probe():
        return {"gpu_ids": [str(g) for g in ray.get_gpu_ids()], "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}

    return ray.get(probe.remote())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--num-cpus", type=int, default=8)
    parser.add_argument("--num-gpus", type=int, default=1)
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    os.environ.update(offline)  # the driver's and, through ray.init, the workers'
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network there: nothing to report to

    started = time.perf_counter()
    folders = build_models(args.workdir)
    built = time.perf_counter()

    import ray

    from hfcheck.audit import AuditSettings, AuditTarget, RayExecutor, audit, text_progress

    # a bounded object store: the records are small, and /dev/shm may be too
    ray.init(
        num_cpus=args.num_cpus,
        num_gpus=args.num_gpus,
        object_store_memory=1 << 30,
        runtime_env={"env_vars": offline},
        include_dashboard=False,
        log_to_driver=True,
    )
    cluster = ray.cluster_resources()
    settings = AuditSettings(smoke=True, smoke_options={"device": args.device, "trust_remote_code": False})
    targets = [AuditTarget(str(folder), line) for line, folder in enumerate(folders, start=1)]
    records = list(audit(targets, settings, executor=RayExecutor(), progress=text_progress(every=0)))
    audited = time.perf_counter()
    cpu_probe = cpu_task_placement(ray)
    ray.shutdown()

    expected_gpus = 0 if args.device == "cpu" else 1
    by_label = {Path(r["target"]).name: r for r in records}
    smoke = {label: r.get("smoke") or {} for label, r in by_label.items()}
    checks = {
        "every_target_reported_once": sorted(r["target"] for r in records) == sorted(t.name for t in targets),
        "no_error_record": all(r["error"] is None for r in records),
        f"every_smoke_task_given_{expected_gpus}_gpus": all(
            len(s.get("ray", {}).get("gpu_ids", [None] * 9)) == expected_gpus for s in smoke.values()
        ),
        f"smoke_pass_ran_on_{args.device}": all(
            s.get("status") == "ran" and str(s.get("device", "")).startswith(args.device) for s in smoke.values()
        ),
        "right_padding_flagged": any(f["concern"] == "smoke" for f in by_label.get("llama-tiny-right-pad", {}).get("findings", [])),
        "cpu_task_given_no_gpu": cpu_probe["gpu_ids"] == [],
    }
    versions = {}
    for module in ("ray", "torch", "transformers", "huggingface_hub"):
        try:
            versions[module] = __import__(module).__version__
        except ImportError:
            versions[module] = None
    result = {
        "command": sys.argv,
        "versions": versions,
        "cluster_resources": cluster,
        "build_s": round(built - started, 2),
        "audit_s": round(audited - built, 2),
        "checks": checks,
        "cpu_task": cpu_probe,
        "targets": {
            label: {
                "exit_code": r["exit_code"],
                "error": r["error"],
                "smoke": smoke[label],
                "findings": [f"{f['severity']} {f['code']} {f['path']}:{f['line']} {f['message']}" for f in r["findings"]],
            }
            for label, r in sorted(by_label.items())
        },
    }
    (args.out / "ray_gpu_smoke.json").write_text(json.dumps(result, indent=1, default=str))
    print(json.dumps({"checks": checks, "audit_s": result["audit_s"], "smoke": smoke}, indent=1, default=str), flush=True)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
