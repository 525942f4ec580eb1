"""The deployment rules on setups written in the shapes of real ones, beside the tiny
Llama (max_position_embeddings 256, 4 heads, 2 KV heads, untied lm_head): each test
has the broken form that must fire and the fixed form that must not."""

from __future__ import annotations

import json

from deploy_fixture import write


def at(findings, code):
    return [(f.path, f.line) for f in findings if f.code == code]


def messages(findings, code):
    return [f.message for f in findings if f.code == code]


def test_dmp003_every_way_of_naming_a_missing_gpu(tiny_llama, run_rules):
    serve = """\
import torch
from transformers import AutoModelForCausalLM
a = AutoModelForCausalLM.from_pretrained(".", device_map="cuda:3")
b = AutoModelForCausalLM.from_pretrained(".", device_map=3)
c = AutoModelForCausalLM.from_pretrained(".", device_map=torch.device("cuda", 3))
d = AutoModelForCausalLM.from_pretrained(".", device_map="auto", max_memory={0: "20GiB",
                                                                             3: "20GiB"})
e = AutoModelForCausalLM.from_pretrained(".", device_map={
    "model.embed_tokens": 0,
    "model.layers": 1,
    "model.norm": 2,
    "lm_head": "cuda:1",
})
ok = AutoModelForCausalLM.from_pretrained(".", device_map="cuda:1", max_memory={0: "20GiB", 1: "20GiB"})
"""
    write(tiny_llama, {"serve.py": serve, ".hfcheck.yaml": "deploy:\n  gpus: 2\n  gpu_memory_gib: 24\n"})
    found = run_rules(tiny_llama, select=["DMP003"])
    assert at(found, "DMP003") == [("serve.py", 3), ("serve.py", 4), ("serve.py", 5), ("serve.py", 7), ("serve.py", 11)]
    assert "max_memory[3]" in messages(found, "DMP003")[3] and "device_map['model.norm']" in messages(found, "DMP003")[4]


def test_dmp002_keeps_the_prefix_the_user_wrote_and_points_at_the_entry(tiny_llama, run_rules):
    serve = 'from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained(".", device_map={\n    "model.embed_tokens": 0,\n    "model.layer.0": 0,\n    "model.layers": 0,\n    "model.norm": 0,\n    "lm_head": 0,\n})\n'
    write(tiny_llama, {"serve.py": serve})
    found = run_rules(tiny_llama, select=["DMP002"])
    assert at(found, "DMP002") == [("serve.py", 4)] and "model.layer.0" in messages(found, "DMP002")[0]


def test_dmp006_rope_scaling_on_the_command_line(tiny_llama, run_rules):
    # Qwen's long-context recipe: vllm serve ... --rope-scaling '{...}' --max-model-len 131072
    line = "vllm serve acme/tiny --max-model-len 1024"
    write(tiny_llama, {"serve.sh": f"{line}\n"})
    assert at(run_rules(tiny_llama, select=["DMP006"]), "DMP006") == [("serve.sh", 1)]
    (tiny_llama / "serve.sh").write_text(
        line + ' --rope-scaling \'{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":256}\'\n'
    )
    assert run_rules(tiny_llama, select=["DMP006"]) == []
    (tiny_llama / "serve.sh").write_text(line + ' --hf-overrides \'{"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}\'\n')
    assert run_rules(tiny_llama, select=["DMP006"]) == []


def test_pin003_remote_code_pinned_at_the_release_that_saved_it(tiny_llama, run_rules):
    # Phi-3 shape before transformers had phi3: auto_map with AutoConfig, saved by 4.38.2
    config = json.loads((tiny_llama / "config.json").read_text())
    config.update({"model_type": "phi3", "transformers_version": "4.38.2"})
    (tiny_llama / "config.json").write_text(json.dumps(config))
    write(tiny_llama, {"requirements.txt": "transformers==4.38.2\n"})
    assert [f.severity for f in run_rules(tiny_llama, select=["PIN003"])] == ["error"]  # no remote code: 4.38.2 lacks phi3
    config["auto_map"] = {"AutoConfig": "configuration_phi3.Phi3Config", "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"}
    (tiny_llama / "config.json").write_text(json.dumps(config))
    assert run_rules(tiny_llama, select=["PIN003"]) == []
    (tiny_llama / "requirements.txt").write_text("transformers==4.37.0\n")  # older than the saving release: still a warning
    assert [f.severity for f in run_rules(tiny_llama, select=["PIN003"])] == ["warning"]


def test_dmp001_tooling_and_cpu_only_loads(tiny_llama, run_rules):
    export = 'from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained(".", device_map={"": "cpu"})\nm.save_pretrained("out")\n'
    merge = 'from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained(".", device_map={"model": 0, "lm_head": "cpu"})\n'
    serve = 'from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained(".", device_map={"model": 0, "lm_head": "cpu"})\n'
    write(tiny_llama, {"scripts/export_onnx.py": export, "merge_lora.py": merge, "serve.py": serve})
    assert at(run_rules(tiny_llama, select=["DMP001"]), "DMP001") == [("serve.py", 2)]


def test_sec900_generation_config_runs_no_code(tiny_llama, run_rules):
    code = 'from transformers import GenerationConfig\ng = GenerationConfig.from_pretrained(".", trust_remote_code=True)\n'
    write(tiny_llama, {"serve.py": code})
    assert run_rules(tiny_llama, select=["SEC900"]) == []
    (tiny_llama / "serve.py").write_text(code.replace("GenerationConfig", "AutoTokenizer"))
    assert at(run_rules(tiny_llama, select=["SEC900"]), "SEC900") == [("serve.py", 2)]


def test_pin004_org_less_ids_adapters_and_notebooks(tiny_llama, run_rules):
    serve = (
        "from transformers import pipeline\nfrom peft import PeftModel\np = pipeline('text-generation', model='gpt2')\nq = PeftModel.from_pretrained(base, 'acme/lora', revision='"
        + "a" * 40
        + "')\nr = pipeline('text-generation', model='out')\n"
    )
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "source": [
                    "!pip install transformers\n",
                    "from transformers import AutoModel\n",
                    "m = AutoModel.from_pretrained('bert-base-uncased')",
                ],
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    write(tiny_llama, {"serve.py": serve, "notebooks/try.ipynb": json.dumps(notebook, indent=1)})
    found = run_rules(tiny_llama, select=["PIN004", "PIN001"])
    assert at(found, "PIN004") == [("notebooks/try.ipynb", 8), ("serve.py", 3)]
    assert at(found, "PIN001") == [("notebooks/try.ipynb", 6)]


def test_dep001_yaml_syntax_error_is_a_finding(tiny_llama, run_rules):
    write(
        tiny_llama,
        {
            "docker-compose.yml": "services:\n  tgi:\n    image: ghcr.io/huggingface/text-generation-inference:2.4.1\n    environment:\n      - MODEL_ID=acme/m\n     bad: [\n"
        },
    )
    found = run_rules(tiny_llama, select=["DEP001"])
    assert at(found, "DEP001")[0][0] == "docker-compose.yml" and "invalid YAML" in found[0].message
    (tiny_llama / "docker-compose.yml").write_text("services:\n  tgi:\n    image: ghcr.io/huggingface/text-generation-inference:2.4.1\n")
    assert run_rules(tiny_llama, select=["DEP001"]) == []


def test_pin006_and_pin004_from_a_vllm_image_dockerfile(tiny_llama, run_rules):
    write(tiny_llama, {"Dockerfile": 'FROM vllm/vllm-openai:latest\nCMD ["--model", "acme/served", "--max-model-len", "4096"]\n'})
    found = run_rules(tiny_llama, select=["PIN004", "PIN006", "DMP006"])
    assert (
        at(found, "PIN006") == [("Dockerfile", 1)]
        and at(found, "PIN004") == [("Dockerfile", 2)]
        and at(found, "DMP006") == [("Dockerfile", 2)]
    )
    (tiny_llama / "Dockerfile").write_text(
        'FROM vllm/vllm-openai:v0.6.3\nCMD ["--model", "acme/served", "--revision", "' + "b" * 40 + '"]\n'
    )
    assert run_rules(tiny_llama, select=["PIN004", "PIN006"]) == []


def test_compose_with_env_file_and_client_container(tiny_llama, run_rules):
    compose = "services:\n  ui:\n    image: acme/gradio-ui:1.0\n    environment:\n      - MODEL_ID=${LLM_MODEL_ID}\n  llm:\n    image: ghcr.io/huggingface/text-generation-inference:2.4.1\n    command: --model-id ${LLM_MODEL_ID} --max-total-tokens ${MAX_TOTAL:-512}\n"
    write(tiny_llama, {"docker-compose.yml": compose, ".env": "LLM_MODEL_ID=acme/chat\n"})
    found = run_rules(tiny_llama, select=["PIN004", "DMP006"])
    assert at(found, "PIN004") == [("docker-compose.yml", 8)] and "acme/chat" in messages(found, "PIN004")[0]
    assert at(found, "DMP006") == [("docker-compose.yml", 8)]


def test_dmp005_memory_from_the_declared_hardware(tiny_llama, run_rules):
    # GKE shape: nodeSelector names the GPU type; no hfcheck settings at all
    manifest = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      nodeSelector:
        cloud.google.com/gke-accelerator: nvidia-tesla-t4
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.6.3
        args: ["--model", "/models/tiny", "--max-model-len", "{length}", "--max-num-seqs", "1"]
        resources:
          limits:
            nvidia.com/gpu: 1
"""
    write(tiny_llama, {"k8s/vllm.yaml": manifest.replace("{length}", "256")})
    found = run_rules(tiny_llama, select=["DMP005", "DMP009"])
    assert found == []  # fits a T4; DMP009 silent because the deployment declares its hardware
    (tiny_llama / "k8s/vllm.yaml").write_text(manifest.replace("{length}", "100000000"))
    (message,) = messages(run_rules(tiny_llama, select=["DMP005"]), "DMP005")
    assert (
        "1 x 16 GiB" in message
        and "t4 16 GiB from nodeSelector cloud.google.com/gke-accelerator: nvidia-tesla-t4 (k8s/vllm.yaml:7)" in message
    )


def test_sagemaker_notebook_model_and_instance(tiny_llama, run_rules):
    cell = [
        "from sagemaker.huggingface import HuggingFaceModel\n",
        "hub = {'HF_MODEL_ID': 'mistralai/Mistral-7B-Instruct-v0.3', 'SM_NUM_GPUS': '3'}\n",
        "model = HuggingFaceModel(env=hub, role=role, image_uri='763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:latest')\n",
        "predictor = model.deploy(initial_instance_count=1, instance_type='ml.g5.12xlarge')",
    ]
    notebook = {"cells": [{"cell_type": "code", "source": cell}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    write(tiny_llama, {"deploy.ipynb": json.dumps(notebook, indent=1)})
    found = run_rules(tiny_llama, select=["PIN004", "PIN006", "DMP007"])
    assert at(found, "PIN004") == [("deploy.ipynb", 7)] and at(found, "PIN006") == [("deploy.ipynb", 8)]
    assert at(found, "DMP007") == [("deploy.ipynb", 7)]  # 3 shards do not divide 4 heads


def test_compose_variables_from_the_set_env_script_beside_it(tiny_llama, run_rules):
    # OPEA shape: `source set_env.sh && docker compose up`, no .env
    compose = "services:\n  tgi-service:\n    image: ghcr.io/huggingface/text-generation-inference:2.4.1\n    command: --model-id ${LLM_MODEL_ID}\n"
    write(
        tiny_llama,
        {"deploy/compose.yaml": compose, "deploy/set_env.sh": 'export host_ip=$(hostname -I)\nexport LLM_MODEL_ID="acme/chat"\n'},
    )
    found = run_rules(tiny_llama, select=["PIN004"])
    assert at(found, "PIN004") == [("deploy/compose.yaml", 4)] and "acme/chat" in found[0].message


def test_placeholder_manifest_is_a_template_not_a_yaml_error(tiny_llama, run_rules):
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: hf-secret\nstringData:\n  hf_api_token: {{HF_TOKEN}}\n"
    write(tiny_llama, {"k8s/secret.yaml": secret})
    assert run_rules(tiny_llama, select=["DEP001"]) == []


def test_bash_flag_bundle_with_c_runs_the_script(tiny_llama, run_rules):
    manifest = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ubuntu:22.04\n    command:\n    - /bin/bash\n    - -exc\n    - |\n      python -m vllm.entrypoints.openai.api_server --model acme/m\n"
    write(tiny_llama, {"k8s/pod.yaml": manifest})
    assert at(run_rules(tiny_llama, select=["PIN004"]), "PIN004") == [("k8s/pod.yaml", 5)]


def test_env_defaults_bentoml_models_hf_uris_and_ray_model_variables(tiny_llama, run_rules):
    train = 'import os\nfrom transformers import AutoModelForCausalLM\nname = os.getenv("MODEL_NAME", "google/gemma-2b")\nm = AutoModelForCausalLM.from_pretrained(name)\n'
    bento = (
        'import bentoml\nhf = bentoml.models.HuggingFaceModel("Qwen/Qwen3-8B", exclude=["*.pth"])\nok = bentoml.models.HuggingFaceModel("Qwen/Qwen3-8B", revision="'
        + "c" * 40
        + '")\n'
    )
    job = "apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers:\n      - image: kserve/kserve-storage-initializer:v0.17.0\n        args:\n        - hf://RedHatAI/gpt-oss-20b\n        - /mnt/models\n"
    ray = 'apiVersion: ray.io/v1\nkind: RayService\nspec:\n  serveConfigV2: |\n    applications:\n    - name: llm\n      runtime_env:\n        env_vars:\n          MODEL_1_ID: "google/gemma-7b-it"\n          MODEL_1_TENSOR_PARALLELISM: "2"\n          MODEL_2_ID: "meta-llama/Meta-Llama-3-8B-Instruct"\n'
    write(tiny_llama, {"train.py": train, "service.py": bento, "k8s/job.yaml": job, "k8s/ray.yaml": ray})
    assert at(run_rules(tiny_llama, select=["PIN004"]), "PIN004") == [
        ("k8s/job.yaml", 9),
        ("k8s/ray.yaml", 9),
        ("k8s/ray.yaml", 11),
        ("service.py", 2),
        ("train.py", 4),
    ]
