"""Discovery on real layouts built the way teams build them: a service repo with its
model in model/, a monorepo, compose + vLLM, a Dockerfile COPY mapping, a diffusers
pipeline, the real all-MiniLM-L6-v2, symlinked models, an empty folder and unknown
selectors. Each clean layout has no error; each broken one is caught at the right unit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import FIXTURES, codes, copy_repo, invoke
from hfcheck.api import check, fingerprint


def git_init(repo):
    subprocess.run(["git", "init", "-q", str(repo)], check=True, capture_output=True)
    return repo


def errors(findings):
    return [(f.code, f.unit, f.path) for f in findings if f.severity == "error"]


def units(report):
    [target] = report.targets
    return {u.path: (u.kind, u.links) for u in target.units}


@pytest.fixture
def service(tmp_path):
    return git_init(copy_repo(FIXTURES / "service-repo", tmp_path / "chat-service"))


@pytest.fixture
def monorepo(tmp_path):
    return git_init(copy_repo(FIXTURES / "monorepo", tmp_path / "platform"))


def edit_json(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data, indent=2))


# -- service repo ------------------------------------------------------------------------


def test_service_repo_is_clean_and_linked(service):
    report = check(service)
    assert report.findings == []
    assert units(report) == {"model": ("transformers", ["."]), ".": ("deployment", ["model"])}
    [target] = report.targets
    deployment = next(u for u in target.units if u.kind == "deployment")
    assert deployment.summary == "serve.py + Dockerfile -> model"
    assert set(deployment.files) == {"Dockerfile", "requirements.txt", "serve.py"}
    assert all(u.settings_file == ".hfcheck.yaml" for u in target.units)


def test_service_readme_gets_no_card_rules_but_the_model_does(service):
    (service / "model" / "README.md").unlink()
    findings = check(service).findings
    card_findings = [(f.code, f.unit) for f in findings if f.concern in ("card", "license")]
    assert ("CRD001", "model") in card_findings and {unit for _, unit in card_findings} == {"model"}
    assert not [f for f in findings if f.path == "README.md"]


def test_service_model_error_is_caught_at_the_model(service):
    edit_json(service / "model" / "config.json", vocab_size=64)  # the tokenizer emits ids up to 319
    found = errors(check(service).findings)
    assert found and all(unit == "model" for _, unit, _ in found)
    assert all(path is None or path.startswith("model/") for _, _, path in found)


def test_service_device_map_is_checked_against_the_linked_model(service):
    serve = service / "serve.py"
    serve.write_text(serve.read_text().replace('device_map={"": 0}', 'device_map={"": 3}'))
    assert errors(check(service).findings) == [("DMP003", "model", "serve.py")]


def test_model_folder_of_a_service_gets_the_root_settings(service, monkeypatch):
    monkeypatch.chdir(service)
    report = check("model")
    [unit] = report.targets[0].units
    assert unit.settings_file == os.path.join("..", ".hfcheck.yaml")
    (service / ".hfcheck.yaml").write_text("select: [PNI]\n")
    with pytest.raises(ValueError, match="did you mean 'PIN'"):
        check("model")


def test_requirements_change_checks_the_deployment_and_its_model_once(service, monkeypatch):
    monkeypatch.chdir(service)
    edit_json(service / "model" / "config.json", vocab_size=64)
    result = invoke("requirements.txt", "README.md", "--format", "json")
    data = json.loads(result.stdout)
    [target] = data["targets"]
    assert target["path"] == "."
    found = [(f["code"], f["unit"], f["path"], f["line"], f["message"]) for f in target["findings"] if f["severity"] == "error"]
    assert found and {item[1] for item in found} == {"model"}
    assert len(found) == len(set(found))  # the model was checked once
    assert not [f for f in target["findings"] if f["path"] == "README.md"]


# -- monorepo ------------------------------------------------------------------------------


def test_monorepo_is_clean_with_every_unit(monorepo):
    report = check(monorepo)
    assert errors(report.findings) == []
    assert units(report) == {
        "models/draft": ("transformers", ["."]),
        "models/llama": ("transformers", ["services/chat"]),
        ".": ("deployment", ["models/draft"]),
        "services/chat": ("deployment", ["models/llama"]),
    }


def test_models_folder_target_is_no_model_itself(monorepo):
    report = check(monorepo / "models")
    assert report.findings == [] or all(f.unit in ("llama", "draft") for f in report.findings)
    assert not [f for f in report.findings if f.concern in ("card", "license")]
    assert sorted(units(report)) == ["draft", "llama"]


def test_monorepo_error_is_caught_in_its_model_only(monorepo):
    (monorepo / "models" / "draft" / "config.json").write_text('{"model_type": "llama",}')
    assert errors(check(monorepo).findings) == [("CFG002", "models/draft", "models/draft/config.json")]


def test_models_table_gives_one_model_its_own_envelope(monorepo):
    settings = monorepo / ".hfcheck.yaml"
    settings.write_text(settings.read_text().replace("gpu_memory_gib: 24", "gpu_memory_gib: 0.0001"))
    assert errors(check(monorepo).findings) == [("DMP005", "models/llama", "services/chat/docker-compose.yml")]


@pytest.mark.parametrize(("option", "value", "code"), [("--max-model-len", "4096", "DMP006"), ("--tensor-parallel-size", "3", "DMP007")])
def test_compose_vllm_checks_the_mounted_model(monorepo, option, value, code):
    compose = monorepo / "services" / "chat" / "docker-compose.yml"
    text = compose.read_text()
    old = '"--max-model-len", "256"' if option == "--max-model-len" else '"--tensor-parallel-size", "1"'
    compose.write_text(text.replace(old, f'"{option}", "{value}"'))
    found = errors(check(monorepo).findings)
    assert (code, "models/llama", "services/chat/docker-compose.yml") in found
    assert {unit for _, unit, _ in found} == {"models/llama"}


def test_baseline_of_one_model_does_not_hide_another(monorepo):
    for name in ("llama", "draft"):
        (monorepo / "models" / name / "README.md").unlink()
    findings = check(monorepo).findings
    by_unit = {}
    for finding in findings:
        if finding.code == "CRD001":
            by_unit[finding.unit] = fingerprint(finding)
    assert set(by_unit) == {"models/llama", "models/draft"}
    assert by_unit["models/llama"] != by_unit["models/draft"]


# -- Dockerfile COPY ------------------------------------------------------------------------


def test_dockerfile_copy_maps_a_checkpoint_folder(tmp_path):
    repo = git_init(tmp_path / "trainer")
    copy_repo(FIXTURES / "tiny-llama", repo / "checkpoints" / "final")
    (repo / "Dockerfile").write_text("FROM python:3.11\nCOPY checkpoints/final /opt/model\nCOPY app.py /app/\n")
    (repo / "app.py").write_text(
        'from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained("/opt/model", device_map={"model.layers.9": 0, "": 0})\n'
    )
    (repo / ".hfcheck.yaml").write_text("deploy: {gpus: 1, gpu_memory_gib: 24}\n")
    report = check(repo)
    assert units(report) == {"checkpoints/final": ("transformers", ["."]), ".": ("deployment", ["checkpoints/final"])}
    assert errors(report.findings) == [("DMP002", "checkpoints/final", "app.py")]


# -- diffusers -------------------------------------------------------------------------------


def build_pipeline(root):
    """A Stable-Diffusion-shaped pipeline: real CLIPTextModel weights from transformers,
    the tiny-llama tokenizer files, hand-written UNet/VAE configs with real safetensors."""
    import numpy as np
    from safetensors.numpy import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    root.mkdir(parents=True)
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.31.0", "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
             "tokenizer": ["transformers", "PreTrainedTokenizerFast"], "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}  # fmt: skip
    (root / "model_index.json").write_text(json.dumps(index))
    card = (
        (FIXTURES / "tiny-llama" / "README.md")
        .read_text()
        .replace("library_name: transformers", "library_name: diffusers")
        .replace("pipeline_tag: text-generation", "pipeline_tag: text-to-image")
    )
    (root / "README.md").write_text(card)
    config = CLIPTextConfig(
        vocab_size=320,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
    )
    CLIPTextModel(config).save_pretrained(root / "text_encoder")
    (root / "tokenizer").mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(FIXTURES / "tiny-llama" / name, root / "tokenizer" / name)
    for part, cls in (("unet", "UNet2DConditionModel"), ("vae", "AutoencoderKL")):
        (root / part).mkdir()
        (root / part / "config.json").write_text(
            json.dumps({"_class_name": cls, "_diffusers_version": "0.31.0", "in_channels": 4, "sample_size": 8})
        )
        save_file({"conv_in.weight": np.zeros((8, 4, 3, 3), dtype=np.float16)}, str(root / part / "diffusion_pytorch_model.safetensors"))
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps({"_class_name": "PNDMScheduler", "num_train_timesteps": 1000}))
    return root


def test_diffusers_pipeline_components_are_checked_by_the_rules_that_fit(tmp_path):
    pipe = build_pipeline(tmp_path / "repo" / "sd-tiny")
    report = check(tmp_path / "repo")
    found = units(report)
    assert found["sd-tiny"][0] == "diffusers"
    assert found["sd-tiny/text_encoder"][0] == "transformers" and found["sd-tiny/tokenizer"][0] == "tokenizer"
    assert "sd-tiny/unet" not in found and "sd-tiny/vae" not in found
    assert errors(report.findings) == []
    assert not [f for f in report.findings if f.path and f.path.endswith(("unet/config.json", "vae/config.json"))]
    assert not [f for f in report.findings if f.concern in ("card", "license")]
    # the text encoder's embedding has 320 rows; a tokenizer that emits more is caught there
    tokenizer = json.loads((pipe / "tokenizer" / "tokenizer.json").read_text())
    tokenizer["added_tokens"].append(
        {"id": 400, "content": "<extra>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
    )
    (pipe / "tokenizer" / "tokenizer.json").write_text(json.dumps(tokenizer))
    broken = errors(check(tmp_path / "repo").findings)
    assert broken and {unit for _, unit, _ in broken} == {"sd-tiny/text_encoder"}
    assert {path for _, _, path in broken} <= {
        "sd-tiny/tokenizer/tokenizer.json",
        "sd-tiny/text_encoder/config.json",
        "sd-tiny/text_encoder/model.safetensors",
    }


# -- sentence-transformers -----------------------------------------------------------------


def test_sentence_transformers_module_file_maps_to_its_model(minilm, tmp_path, monkeypatch):
    report = check(minilm / "1_Pooling" / "config.json")
    [target] = report.targets
    assert [(u.path, u.kind) for u in target.units] == [(".", "sentence-transformers")]
    assert errors(report.findings) == []
    assert not {"CRD001", "LIC001", "CFG003"} & set(codes(report.findings))


# -- symlinks, empty folders, lone files ------------------------------------------------------


def test_model_symlinked_to_a_store_outside_the_repository_fails(tmp_path):
    store = copy_repo(FIXTURES / "tiny-llama", tmp_path / "store" / "llama")
    repo = git_init(tmp_path / "repo")
    (repo / "model").mkdir()
    for file in store.iterdir():
        (repo / "model" / file.name).symlink_to(file)
    result = invoke(str(repo), "--format", "json")
    assert result.exit_code == 1
    found = json.loads(result.stdout)["targets"][0]["findings"]
    assert {f["path"] for f in found if f["code"] == "HFC001" and f["severity"] == "error"} >= {
        "model/model.safetensors",
        "model/config.json",
    }
    assert all("outside" in f["message"] for f in found if f["code"] == "HFC001")


def test_model_symlinked_inside_the_repository_is_followed(tmp_path):
    repo = git_init(tmp_path / "repo")
    copy_repo(FIXTURES / "tiny-llama", repo / "store" / "llama-v2")
    (repo / "models").mkdir()
    (repo / "models" / "llama").symlink_to(repo / "store" / "llama-v2", target_is_directory=True)
    report = check(repo / "models")
    assert errors(report.findings) == []
    assert units(report) == {"llama": ("transformers", [])}


def test_empty_folder_fails_and_says_what_was_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke(str(tmp_path / "empty"))
    assert result.exit_code == 1
    assert "HFC004" in result.stdout and "looked for a model (config.json" in result.stdout


def test_a_file_outside_any_unit_is_checked_alone(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    for index in range(30):
        (folder / f"other{index}.json").write_text("{ not json")
    (folder / "hosts").write_text("127.0.0.1 localhost\n")
    report = check(folder / "hosts")
    [target] = report.targets
    assert codes(report.findings) == ["HFC004"] and "1 file," in report.findings[0].message


def test_tool_caches_and_virtualenvs_are_skipped_unless_they_hold_a_model(tmp_path):
    repo = git_init(tmp_path / "repo")
    (repo / "node_modules" / "left-pad").mkdir(parents=True)
    (repo / "node_modules" / "left-pad" / "config.json").write_text("{ broken")
    (repo / ".venv").mkdir()
    (repo / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (repo / ".venv" / "junk.json").write_text("{ broken")
    copy_repo(FIXTURES / "tiny-llama", repo / "venv")  # named like a virtualenv, holds a model
    report = check(repo)
    assert units(report) == {"venv": ("transformers", [])}
    assert errors(report.findings) == []
    assert set(report.targets[0].skipped_dirs) == {".venv (virtualenv)", "node_modules (tool cache)"}


# -- selectors and options ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "hint"), [("FOO123", "unknown rule code"), ("CGF", "did you mean 'CFG'"), ("tokeniser", "did you mean 'tokenizer'")]
)
def test_unknown_selector_is_a_usage_error(selector, hint):
    for flag in ("--select", "--ignore"):
        result = invoke(str(FIXTURES / "tiny-llama"), flag, selector)
        assert result.exit_code == 2 and hint in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(ValueError, match=hint):
        check(FIXTURES / "tiny-llama", select=[selector])


def test_unknown_api_option_is_rejected():
    with pytest.raises(TypeError, match="did you mean 'select'"):
        check(FIXTURES / "tiny-llama", selct=["CFG"])


# -- skipped checks say so ---------------------------------------------------------------------


@pytest.mark.parametrize("zip_format", [True, False])
def test_memory_fit_of_pickle_weights_reads_zip_members_or_says_it_was_skipped(service, zip_format):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file

    model = service / "model"
    torch.save(load_file(model / "model.safetensors"), model / "pytorch_model.bin", _use_new_zipfile_serialization=zip_format)
    (model / "model.safetensors").unlink()
    settings = service / ".hfcheck.yaml"
    settings.write_text(settings.read_text().replace("gpu_memory_gib: 24", "gpu_memory_gib: 0.001"))
    findings = [f for f in check(service, select=["DMP005"]).findings]
    assert [(f.code, f.unit, f.path, f.severity) for f in findings] == [
        ("DMP005", "model", "serve.py", "error" if zip_format else "warning")
    ]
    if not zip_format:
        assert "memory fit not checked" in findings[0].message


# -- HF cache targets ----------------------------------------------------------------------------


def cache_with(cache, fixture, repo_id="org/broken"):
    """A model laid out as huggingface_hub caches it: snapshot files link into blobs/."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for index, file in enumerate(sorted(fixture.iterdir())):
        blob = repo / "blobs" / f"{index:064x}"
        shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(os.path.join("..", "..", "blobs", blob.name))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def hf_cache_run(cache, *args):
    # huggingface_hub reads HF_HUB_CACHE when imported: a child process sees the variable
    # run from a folder beside the cache: the report names files by absolute paths
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    elsewhere = cache.parent / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "hfcheck", "--hf-cache", *args], capture_output=True, text=True, env=env, cwd=elsewhere, timeout=120
    )


@pytest.mark.parametrize("fmt", ["text", "github", "sarif"])
def test_hf_cache_output_names_snapshot_files_not_blobs(tmp_path, fmt):
    cache_with(tmp_path / "hub", FIXTURES / "tiny-llama-broken-config")
    result = hf_cache_run(tmp_path / "hub", "--format", fmt)
    assert result.returncode == 1, result.stderr
    assert "snapshots/" + "0" * 40 + "/config.json" in result.stdout
    assert "blobs" not in result.stdout


def test_hf_cache_that_is_empty_is_a_usage_error(tmp_path):
    (tmp_path / "hub").mkdir()
    result = hf_cache_run(tmp_path / "hub")
    assert result.returncode == 2 and "no model snapshots" in result.stderr
