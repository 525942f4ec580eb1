"""The out-of-sample benign corpus: checkpoint files written by real libraries' own save paths.

    python benchmarks/benign_corpus.py      # rewrites benchmarks/corpus/benign_oos/

Each file is made by the library's public save call on a tiny model (transformers Trainer,
peft, diffusers, sentence-transformers, accelerate, Lightning, scikit-learn/joblib, omegaconf
configs inside a checkpoint, TorchScript, torch.export, numpy object arrays, Keras on the torch
backend), then loaded by its real loader under the loader oracle (tests/loader_oracle.py): a
file is kept only if that load completes with no side effect. MANIFEST.json says, per file,
the library, its version, how the file was made and which loader verified it.

This corpus is NEVER used to derive or tune the pickle allowlist: it measures false positives
out of sample (tests/test_benign_oos_corpus.py, benchmarks/security_figures.py). Adding a file
here because hfcheck flags it, then changing the allowlist to match, would void the figure.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "corpus" / "benign_oos"
sys.path.insert(0, str(ROOT / "tests"))

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")


def _tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=32,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        num_labels=2,
    )
    return BertForSequenceClassification(config)


def make_transformers_trainer(work: Path) -> dict[str, tuple[Path, str]]:
    import torch
    from transformers import Trainer, TrainingArguments

    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return {"input_ids": torch.tensor([1, 2, 3, index % 5]), "labels": torch.tensor(index % 2)}

    args = TrainingArguments(
        output_dir=str(work / "trainer"),
        max_steps=2,
        save_steps=2,
        per_device_train_batch_size=2,
        report_to=[],
        use_cpu=True,
        logging_strategy="no",
    )
    Trainer(model=_tiny_bert(), args=args, train_dataset=Rows()).train()
    checkpoint = work / "trainer" / "checkpoint-2"
    names = ("training_args.bin", "optimizer.pt", "scheduler.pt", "rng_state.pth")
    return {f"transformers-trainer/{name}": (checkpoint / name, "torch") for name in names if (checkpoint / name).exists()}


def make_peft(work: Path) -> dict[str, tuple[Path, str]]:
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(_tiny_bert(), LoraConfig(r=2, target_modules=["query", "value"]))
    model.save_pretrained(work / "peft", safe_serialization=False)
    return {"peft/adapter_model.bin": (work / "peft" / "adapter_model.bin", "torch")}


def make_diffusers(work: Path) -> dict[str, tuple[Path, str]]:
    from diffusers import UNet2DModel

    unet = UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        layers_per_block=1,
        block_out_channels=(8, 8),
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
    )
    unet.save_pretrained(work / "diffusers", safe_serialization=False)
    return {"diffusers/diffusion_pytorch_model.bin": (work / "diffusers" / "diffusion_pytorch_model.bin", "torch")}


def make_sentence_transformers(work: Path) -> dict[str, tuple[Path, str]]:
    from sentence_transformers.models import Dense

    (work / "st_dense").mkdir()
    Dense(8, 4).save(str(work / "st_dense"), safe_serialization=False)
    return {"sentence-transformers/2_Dense/pytorch_model.bin": (work / "st_dense" / "pytorch_model.bin", "torch")}


def make_accelerate(work: Path) -> dict[str, tuple[Path, str]]:
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    accelerator.save_state(str(work / "accelerate"), safe_serialization=False)
    return {f"accelerate/{p.name}": (p, "torch") for p in sorted((work / "accelerate").iterdir()) if p.suffix in (".bin", ".pkl", ".pt")}


def make_lightning(work: Path) -> dict[str, tuple[Path, str]]:
    import lightning
    import torch
    from omegaconf import OmegaConf

    class Tiny(lightning.LightningModule):
        def __init__(self, config):
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, _):
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 4)), batch_size=2)
    trainer = lightning.Trainer(
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=str(work),
    )
    config = OmegaConf.create({"model": {"hidden": 4}, "optim": {"lr": 1e-3}})
    trainer.fit(Tiny(config), data)
    trainer.save_checkpoint(work / "lightning.ckpt")
    return {"lightning/last.ckpt": (work / "lightning.ckpt", "torch")}


def make_omegaconf_checkpoint(work: Path) -> dict[str, tuple[Path, str]]:
    import torch
    from omegaconf import OmegaConf

    # fairseq's checkpoint layout: the run's omegaconf config beside the weights.
    config = OmegaConf.create({"model": {"_name": "transformer_lm", "dropout": 0.1}, "task": {"data": "data-bin"}, "common": {"seed": 1}})
    torch.save(
        {"cfg": config, "model": torch.nn.Linear(2, 2).state_dict(), "optimizer_history": [{"num_updates": 1}]}, work / "checkpoint_last.pt"
    )
    return {"omegaconf/checkpoint_last.pt": (work / "checkpoint_last.pt", "torch")}


def make_sklearn(work: Path) -> dict[str, tuple[Path, str]]:
    import joblib
    import numpy
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = numpy.arange(20, dtype=float).reshape(10, 2)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, [0, 1] * 5)
    joblib.dump(model, work / "model.joblib")
    joblib.dump(model, work / "model_compressed.joblib", compress=3)
    return {
        "sklearn/model.joblib": (work / "model.joblib", "joblib"),
        "sklearn/model_compressed.joblib": (work / "model_compressed.joblib", "joblib"),
    }


def make_torchscript(work: Path) -> dict[str, tuple[Path, str]]:
    import torch

    torch.jit.save(torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU())), work / "model_scripted.pt")
    return {"torchscript/model_scripted.pt": (work / "model_scripted.pt", "torch_jit")}


def make_torch_export(work: Path) -> dict[str, tuple[Path, str]]:
    import torch

    program = torch.export.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),))
    torch.export.save(program, work / "model.pt2")
    return {"torch-export/model.pt2": (work / "model.pt2", "torch_export")}


# torch.export.load rebuilds the GraphModule and compiles the forward code it generates from
# the serialized graph: a 'compile' of generated source, which is how the format works, not
# code carried by the file. The oracle stops there, so the load cannot complete under it.
INHERENT_SIDE_EFFECTS = {"torch_export": {"compile"}}


def make_numpy(work: Path) -> dict[str, tuple[Path, str]]:
    import numpy

    numpy.save(work / "objects.npy", numpy.array([{"label": "cat"}, ["a", "b"], None], dtype=object), allow_pickle=True)
    numpy.savez(work / "arrays.npz", ids=numpy.arange(4), names=numpy.array(["x", {"y": 1}], dtype=object))
    return {"numpy/objects.npy": (work / "objects.npy", "numpy"), "numpy/arrays.npz": (work / "arrays.npz", "numpy")}


def make_keras(work: Path) -> dict[str, tuple[Path, str]]:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.save(work / "model.keras")
    return {"keras/model.keras": (work / "model.keras", "keras")}


MAKERS = {
    "transformers": make_transformers_trainer,
    "peft": make_peft,
    "diffusers": make_diffusers,
    "sentence-transformers": make_sentence_transformers,
    "accelerate": make_accelerate,
    "lightning": make_lightning,
    "omegaconf": make_omegaconf_checkpoint,
    "scikit-learn": make_sklearn,
    "torch": make_torchscript,
    "torch-export": make_torch_export,
    "numpy": make_numpy,
    "keras": make_keras,
}
HOW = {
    "transformers": "Trainer(max_steps=2, save_steps=2) on a 1-layer BertForSequenceClassification: checkpoint-2/",
    "peft": "get_peft_model(LoRA r=2).save_pretrained(safe_serialization=False)",
    "diffusers": "UNet2DModel(tiny).save_pretrained(safe_serialization=False)",
    "sentence-transformers": "models.Dense(8, 4).save(safe_serialization=False)",
    "accelerate": "Accelerator(cpu=True).save_state(safe_serialization=False) after prepare(model, SGD, StepLR)",
    "lightning": "Trainer(max_steps=1).fit then save_checkpoint; hparams hold an omegaconf DictConfig",
    "omegaconf": "torch.save({'cfg': OmegaConf.create(...), 'model': state_dict, ...}) (fairseq's layout)",
    "scikit-learn": "joblib.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(...)) plain and compress=3",
    "torch": "torch.jit.save(torch.jit.script(Sequential(Linear, ReLU)))",
    "torch-export": "torch.export.save(torch.export.export(Linear(4, 2), ...))",
    "numpy": "numpy.save/savez of object arrays (allow_pickle)",
    "keras": "keras.Sequential([Input, Dense]).save('model.keras') with KERAS_BACKEND=torch",
}
PACKAGE = {"torch-export": "torch", "omegaconf": "omegaconf", "scikit-learn": "scikit-learn"}


def main() -> int:
    from loader_oracle import observe

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    manifest, rejected = [], []
    for library, make in MAKERS.items():
        with tempfile.TemporaryDirectory() as scratch:
            try:
                made = make(Path(scratch))
            except Exception as exc:
                rejected.append(f"{library}: could not make: {type(exc).__name__}: {exc}")
                continue
            for relative, (source, loader) in made.items():
                seen = observe(source, loader, timeout=300)
                inherent = set(seen.side_effects) <= INHERENT_SIDE_EFFECTS.get(loader, set()) and seen.fired
                if not inherent and (not seen.completed or seen.fired):
                    rejected.append(f"{relative}: {loader} load {'fired ' + str(seen.side_effects) if seen.fired else seen.error}")
                    continue
                target = OUT / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                manifest.append(
                    {
                        "file": relative,
                        "library": PACKAGE.get(library, library),
                        "version": version(PACKAGE.get(library, library)),
                        "made_by": HOW[library],
                        "verified_by": f"loader oracle: {loader} "
                        + (f"stopped at {seen.side_effects} (inherent to the format)" if inherent else "completed, no side effect"),
                        "globals": len(set(seen.globals)),
                    }
                )
                print(f"{relative}: {target.stat().st_size} bytes, {loader} ok")
    (OUT / "MANIFEST.json").write_text(json.dumps({"files": manifest, "rejected": rejected}, indent=1) + "\n")
    for line in rejected:
        print("REJECTED", line)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(manifest)} files from {len({m['library'] for m in manifest})} libraries, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
