"""The deployment parsers on files written in the shapes real setups use (GKE AI/ML
samples, vLLM and its production stack, KServe, KubeAI, KubeRay, dstack, SkyPilot,
Triton, Replicate, BentoML, SageMaker notebooks). Each file here is written for the test;
the comment names the shape it follows."""

from __future__ import annotations

import json

from hfcheck.formats.hardware import accelerator_spec, gpu_type, instance_type
from hfcheck.formats.helm import render
from hfcheck.formats.model_loads import scan_loads
from hfcheck.formats.notebook import parse_notebook
from hfcheck.formats.serving import Setting, engine_of_image, from_command, parse_deploy_yaml, parse_yaml_serving
from hfcheck.formats.shell import Command, parse_dockerfile, parse_shell
from hfcheck.formats.triton import parse_config_pbtxt


def only(servings):
    assert len(servings) == 1, servings
    return servings[0]


# --- values the deployment computes ---------------------------------------------------


def test_kubernetes_var_references_in_args_take_the_env_value():
    # GKE TGI sample shape: the model id in env, `--model-id=$(MODEL_ID)` in args
    manifest = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: tgi
        image: ghcr.io/huggingface/text-generation-inference:2.4.1
        args:
        - --model-id=$(MODEL_ID)
        - --num-shard=$(NUM_SHARD)
        env:
        - name: MODEL_ID
          value: google/gemma-2-9b-it
        - name: NUM_SHARD
          value: "2"
        - name: ESCAPED
          value: $$(NOT_A_REF)
"""
    serving = only(parse_yaml_serving(manifest, "tgi.yaml")[0])
    assert serving.engine == "tgi" and serving.get("model") == "google/gemma-2-9b-it" and serving.get("tp") == "2"
    assert serving.line_of("model") == 10


def test_compose_interpolation_from_the_env_file_beside_it():
    # vLLM / OPEA compose shape: ${LLM_MODEL_ID} with .env, ${PORT:-8000} defaults
    compose = """\
services:
  vllm:
    image: vllm/vllm-openai:${VLLM_TAG:-v0.6.3}
    command: --model ${LLM_MODEL_ID} --max-model-len ${MAX_LEN:-8192} --port $$PORT
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: 1
              capabilities: [gpu]
"""
    serving = only(parse_yaml_serving(compose, "docker-compose.yml", {"LLM_MODEL_ID": ("Qwen/Qwen2.5-7B-Instruct", 1)})[0])
    assert serving.get("model") == "Qwen/Qwen2.5-7B-Instruct" and serving.get("max_len") == "8192"
    assert serving.image.value == "vllm/vllm-openai:v0.6.3" and serving.gpus.value == 1


def test_shell_defaults_positionals_and_sudo_docker_run():
    # a launch script: MODEL=${1:-...}, VAR=${X:-default}, `sudo docker run --gpus ... image args`
    script = """\
#!/bin/bash
MODEL=${1:-meta-llama/Llama-3.1-8B-Instruct}
VOLUME=${VOLUME:-$PWD/data}
sudo docker run --gpus '"device=0,1"' --shm-size 1g -p 8080:80 -v $VOLUME:/data \\
    ghcr.io/huggingface/text-generation-inference:latest --model-id $MODEL --num-shard 2
"""
    doc = parse_shell(script)
    assert doc.env["VOLUME"][0].endswith("/data") and "$" not in doc.env["MODEL"][0]
    serving = only([s for s in (from_command(c, doc.env, "run.sh") for c in doc.commands) if s])
    assert serving.engine == "tgi" and serving.get("model") == "meta-llama/Llama-3.1-8B-Instruct" and serving.gpus.value == 2
    assert serving.image.value.endswith(":latest")


def test_sh_c_script_in_a_kubernetes_command():
    # production manifests: command: ["/bin/sh", "-c"], args: ["pip install ... && vllm serve ..."]
    manifest = """\
apiVersion: v1
kind: Pod
spec:
  containers:
  - name: server
    image: python:3.11
    command: ["/bin/sh", "-c"]
    args:
    - pip install vllm==0.6.3 && exec vllm serve mistralai/Mistral-7B-Instruct-v0.3 --max-model-len 16384 --tensor-parallel-size 2
"""
    serving = only(parse_yaml_serving(manifest, "pod.yaml")[0])
    assert serving.engine == "vllm" and serving.get("model") == "mistralai/Mistral-7B-Instruct-v0.3" and serving.get("tp") == "2"


DOCKERFILE = """\
ARG BASE=vllm/vllm-openai
FROM python:3.11 AS builder
RUN pip install --no-cache-dir \\
    # the serving stack
    transformers==4.46.0 \\
    accelerate==1.0.1
RUN <<END
pip install safetensors==0.4.5
echo done
END
ENV MODEL_ID=builder/only

FROM ${BASE}:latest
ENV HF_HOME=/data
CMD ["--model", "acme/served", "--max-model-len", "4096"]
"""


def test_dockerfile_comment_inside_continuation_heredoc_and_stages():
    doc = parse_dockerfile(DOCKERFILE)
    installs = [c.words for c in doc.commands if c.words[:2] == ["pip", "install"]]
    assert any("accelerate==1.0.1" in w and "transformers==4.46.0" in w for w in installs)
    assert any("safetensors==0.4.5" in w for w in installs) and any(c.line == 8 for c in doc.commands)
    builder, final = doc.stages
    assert builder.name == "builder" and "MODEL_ID" in builder.env and "MODEL_ID" not in final.env
    assert final.image == "vllm/vllm-openai:latest" and final.runs.words[:2] == ["--model", "acme/served"]


# --- who serves what ------------------------------------------------------------------


def test_server_decided_from_image_and_command_not_from_model_id():
    # a Gradio client container with MODEL_ID (it calls the server) is not a server
    compose = """\
services:
  ui:
    image: acme/chat-ui:1.2
    command: ["python", "app.py"]
    environment:
      MODEL_ID: meta-llama/Llama-3.1-8B-Instruct
  tgi:
    image: ghcr.io/huggingface/text-generation-inference:2.4.1
    environment:
      MODEL_ID: meta-llama/Llama-3.1-8B-Instruct
"""
    assert [s.engine for s in parse_yaml_serving(compose, "compose.yaml")[0]] == ["tgi"]
    patch = "spec:\n  template:\n    spec:\n      containers:\n      - name: vllm\n        env:\n        - name: MODEL_ID\n          value: acme/m\n"
    assert parse_yaml_serving(patch, "kustomize/patch.yaml")[0] == []


def test_vllm_images_by_pattern():
    for image in (
        "vllm/vllm-openai:v0.6.3",
        "public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.8.5",
        "rocm/vllm:latest",
        "vllm/vllm-openai-rocm",
        "substratusai/vllm:v0.6",
    ):
        assert engine_of_image(image) == "vllm", image
    assert engine_of_image("ghcr.io/huggingface/text-generation-inference:3.0") == "tgi"
    assert engine_of_image("lmsysorg/sglang:latest") == "sglang" and engine_of_image("python:3.11") is None


def test_vllm_image_documented_usage_with_args():
    manifest = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: vllm
        image: public.ecr.aws/q9t5s3a7/vllm-cpu-release-repo:v0.8.5
        args: ["--model", "Qwen/Qwen2.5-1.5B-Instruct", "--dtype", "bfloat16"]
"""
    serving = only(parse_yaml_serving(manifest, "cpu.yaml")[0])
    assert serving.engine == "vllm" and serving.get("model") == "Qwen/Qwen2.5-1.5B-Instruct" and serving.line_of("model") == 9


def test_sglang_lmdeploy_fastchat_workers():
    cases = {
        "python3 -m sglang.launch_server --model-path Qwen/Qwen2.5-7B --tp 2 --context-length 32768": ("sglang", "Qwen/Qwen2.5-7B", "2"),
        "lmdeploy serve api_server internlm/internlm2_5-7b-chat --tp 2 --session-len 8192": (
            "lmdeploy",
            "internlm/internlm2_5-7b-chat",
            "2",
        ),
        "python3 -m fastchat.serve.model_worker --model-path lmsys/vicuna-7b-v1.5 --num-gpus 2": ("fastchat", "lmsys/vicuna-7b-v1.5", "2"),
        "python3 -m fastchat.serve.vllm_worker --model-path lmsys/vicuna-7b-v1.5": ("fastchat", "lmsys/vicuna-7b-v1.5", None),
    }
    for line, (engine, model, tp) in cases.items():
        serving = from_command(parse_shell(line).commands[0], {}, "run.sh")
        assert (serving.engine, serving.get("model"), serving.get("tp")) == (engine, model, tp), line


def test_peft_adapter_id_and_self_pipeline():
    scan = scan_loads(
        "from peft import PeftModel\nfrom transformers import AutoModelForCausalLM\nimport transformers\n"
        "base = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-7b-hf')\n"
        "model = PeftModel.from_pretrained(base, 'acme/llama2-lora')\n"
        "class Svc:\n    def run(self):\n        return self.pipeline('text-generation', model='not/a-load')\n"
        "p = transformers.pipeline('text-generation', model='gpt2')\n"
    )
    assert [(load.callee, load.model) for load in scan.loads] == [
        ("AutoModelForCausalLM.from_pretrained", "meta-llama/Llama-2-7b-hf"),
        ("PeftModel.from_pretrained", "acme/llama2-lora"),
        ("pipeline", "gpt2"),
    ]


# --- file kinds -----------------------------------------------------------------------


def test_helm_template_rendered_with_values():
    template = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
      - name: {{ .Chart.Name }}
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default "latest" }}"
        args: ["--model", {{ .Values.model.id | quote }}, "--max-model-len", "{{ .Values.model.maxLen }}"]
        resources:
          {{- toYaml .Values.resources | nindent 10 }}
"""
    values = {
        "image": {"repository": "vllm/vllm-openai"},
        "model": {"id": "acme/m", "maxLen": 8192},
        "resources": {"limits": {"nvidia.com/gpu": 2}},
    }
    serving = only(parse_yaml_serving(render(template, values), "chart/templates/deployment.yaml")[0])
    assert (
        serving.get("model") == "acme/m"
        and serving.get("max_len") == "8192"
        and serving.gpus.value == 2
        and serving.image.value.endswith(":latest")
    )


def test_kserve_inferenceservice_and_llminferenceservice():
    isvc = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: huggingface-llama3
spec:
  predictor:
    model:
      modelFormat:
        name: huggingface
      args:
        - --model_name=llama3
        - --model_id=meta-llama/meta-llama-3-8b-instruct
        - --max-model-len=8192
      resources:
        limits:
          nvidia.com/gpu: "1"
"""
    serving = only(parse_yaml_serving(isvc, "isvc.yaml")[0])
    assert serving.get("model") == "meta-llama/meta-llama-3-8b-instruct" and serving.line_of("model") == 12 and serving.gpus.value == 1
    llmisvc = "apiVersion: serving.kserve.io/v1alpha1\nkind: LLMInferenceService\nspec:\n  model:\n    uri: hf://Qwen/Qwen2.5-7B-Instruct\n    name: qwen\n  parallelism:\n    tensor: 2\n"
    serving = only(parse_yaml_serving(llmisvc, "llm.yaml")[0])
    assert serving.get("model") == "Qwen/Qwen2.5-7B-Instruct" and serving.get("tp") == 2 and serving.line_of("model") == 5


def test_kubeai_model_with_resource_profile():
    model = (
        "apiVersion: kubeai.org/v1\nkind: Model\nmetadata:\n  name: llama\nspec:\n  features: [TextGeneration]\n"
        "  url: hf://meta-llama/Llama-3.1-8B-Instruct\n  engine: VLLM\n  args:\n    - --max-model-len=8192\n  resourceProfile: nvidia-gpu-l4:1\n"
    )
    serving = only(parse_yaml_serving(model, "kubeai.yaml")[0])
    assert serving.get("model") == "meta-llama/Llama-3.1-8B-Instruct" and serving.get("max_len") == "8192"
    assert (serving.hardware.gpus, serving.hardware.gpu_type, serving.hardware.memory_gib) == (
        1,
        "l4",
        24.0,
    ) and "resourceProfile" in serving.hardware.source


def test_rayservice_serve_config_and_runtime_env_pip():
    ray = """\
apiVersion: ray.io/v1
kind: RayService
spec:
  serveConfigV2: |
    applications:
    - name: llm
      import_path: ray.serve.llm:build_openai_app
      runtime_env:
        pip: ["transformers>=4.40", "vllm==0.6.3"]
      args:
        llm_configs:
        - model_loading_config:
            model_id: qwen
            model_source: Qwen/Qwen2.5-7B-Instruct
          engine_kwargs:
            tensor_parallel_size: 2
            max_model_len: 32768
"""
    parsed = parse_deploy_yaml(ray, "ray-service.yaml")
    serving = only(parsed.servings)
    assert serving.get("model") == "Qwen/Qwen2.5-7B-Instruct" and serving.get("tp") == 2 and serving.line_of("max_len") == 17
    assert [p for p, _ in parsed.packages] == ["transformers>=4.40", "vllm==0.6.3"]


def test_dstack_and_skypilot_tasks():
    dstack = (
        "type: service\nname: llama\nimage: vllm/vllm-openai:latest\nenv:\n  - HF_TOKEN\n  - MODEL_ID=meta-llama/Llama-3.1-8B-Instruct\n"
        "commands:\n  - vllm serve $MODEL_ID --max-model-len 4096\nport: 8000\nresources:\n  gpu: 24GB\n"
    )
    serving = only(parse_yaml_serving(dstack, "service.dstack.yml")[0])
    assert (
        serving.get("model") == "meta-llama/Llama-3.1-8B-Instruct" and serving.line_of("model") == 8 and serving.hardware.memory_gib == 24.0
    )
    sky = (
        "envs:\n  MODEL_NAME: mistralai/Mixtral-8x7B-Instruct-v0.1\nresources:\n  accelerators: {A100-80GB: 2, H100: 2}\n  ports: 8000\n"
        "setup: |\n  pip install vllm==0.6.3\nrun: |\n  python -m vllm.entrypoints.openai.api_server \\\n    --model $MODEL_NAME --tensor-parallel-size $SKYPILOT_NUM_GPUS_PER_NODE\n"
    )
    parsed = parse_deploy_yaml(sky, "serve.yaml")
    serving = only(parsed.servings)
    assert (
        serving.get("model") == "mistralai/Mixtral-8x7B-Instruct-v0.1"
        and serving.hardware.memory_gib == 80.0
        and serving.hardware.gpus == 2
    )
    assert any(c.words[:2] == ["pip", "install"] and c.line == 7 for c in parsed.commands)


def test_cog_and_bentofile_packages():
    cog = 'build:\n  gpu: true\n  python_version: "3.11"\n  python_packages:\n    - "transformers>=4.40"\n    - "torch==2.4.1"\npredict: "predict.py:Predictor"\n'
    assert parse_deploy_yaml(cog, "cog.yaml").packages == [("transformers>=4.40", 5), ("torch==2.4.1", 6)]
    bento = 'service: "service:VLLM"\npython:\n  packages:\n    - vllm\n    - transformers\n'
    assert [p for p, _ in parse_deploy_yaml(bento, "bentofile.yaml").packages] == ["vllm", "transformers"]


def test_triton_config_pbtxt():
    config = parse_config_pbtxt(
        'backend: "vllm"\ninstance_group [\n  {\n    count: 1\n    kind: KIND_MODEL\n  }\n]\nparameters: { key: "REPORT_METRICS" value: { string_value: "true" } }\n'
    )
    assert config.backend == "vllm" and config.parameters["REPORT_METRICS"] == ("true", 8)


def test_notebook_code_cells_and_pip_lines():
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Deploy\n"]},
            {"cell_type": "code", "source": ["%pip install -q transformers accelerate\n", "!pip install sagemaker==2.232.0"]},
            {"cell_type": "code", "source": ["from transformers import pipeline\n", "pipe = pipeline('text-generation', model='gpt2')"]},
        ],
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
    }
    text = json.dumps(notebook, indent=1)
    book = parse_notebook(text)
    assert [c for c, _ in book.shell] == ["pip install -q transformers accelerate", "pip install sagemaker==2.232.0"]
    (load,) = scan_loads(book.source).loads
    assert load.model == "gpt2" and text.splitlines()[book.file_line(load.line) - 1].strip().startswith('"pipe = pipeline')
    assert parse_notebook("{not json").error


def test_sagemaker_huggingface_model_in_python():
    scan = scan_loads(
        "from sagemaker.huggingface import HuggingFaceModel, get_huggingface_llm_image_uri\n"
        "hub = {\n    'HF_MODEL_ID': 'mistralai/Mistral-7B-Instruct-v0.3',\n    'SM_NUM_GPUS': json.dumps(4),\n}\n"
        "model = HuggingFaceModel(env=hub, role=role, image_uri=get_huggingface_llm_image_uri('huggingface', version='2.2.0'))\n"
        "predictor = model.deploy(initial_instance_count=1, instance_type='ml.g5.12xlarge')\n"
    )
    (engine,) = scan.engines
    assert (
        engine.kind == "sagemaker" and engine.kwargs["env"].entries["HF_MODEL_ID"] == 3 and engine.instance_type.value == "ml.g5.12xlarge"
    )


def test_gpu_table():
    assert (
        gpu_type("nvidia-l4") == ("l4", 24.0) and gpu_type("NVIDIA-A100-SXM4-80GB")[1] == 80.0 and gpu_type("nvidia-tesla-a100")[1] == 40.0
    )
    assert gpu_type("tpu-v5-lite-podslice") is None
    assert instance_type("ml.g5.12xlarge") == ("a10g", 24.0, 4) and instance_type("ml.c5.xlarge") is None
    assert accelerator_spec("A100:8") == ("a100", 40.0, 8) and accelerator_spec({"L4": 1, "A10G": 1})[1] == 24.0
    assert accelerator_spec("24GB..80GB:1..2") == (None, 24.0, 1) and accelerator_spec("TPU-v4") is None


def test_setting_lines_survive():
    serving = from_command(Command(["vllm", "serve", "acme/m"], 3), {}, "x.sh")
    assert serving.settings["model"] == Setting("acme/m", 3)


def test_ray_hardware_from_the_gpu_worker_pods_and_accelerator_type():
    # GKE RayService shape: the app in serveConfigV2, L4 workers in rayClusterConfig
    ray = """\
apiVersion: ray.io/v1
kind: RayService
spec:
  serveConfigV2: |
    applications:
    - name: llm
      runtime_env:
        env_vars:
          MODEL_ID: "mistralai/Mistral-7B-Instruct-v0.3"
  rayClusterConfig:
    headGroupSpec:
      template:
        spec:
          containers:
          - name: ray-head
            image: rayproject/ray-ml:2.9.0
    workerGroupSpecs:
    - template:
        spec:
          containers:
          - name: llm
            image: rayproject/ray-ml:2.9.0
            resources:
              limits:
                nvidia.com/gpu: "2"
          nodeSelector:
            cloud.google.com/gke-accelerator: nvidia-l4
"""
    serving = only(parse_yaml_serving(ray, "ray-service.yaml")[0])
    assert serving.get("model") == "mistralai/Mistral-7B-Instruct-v0.3" and (serving.hardware.gpu_type, serving.hardware.line) == ("l4", 27)
    llm = "model_loading_config:\n  model_id: q\n  model_source: Qwen/Qwen2.5-7B-Instruct\naccelerator_type: A10G\nengine_kwargs:\n  tensor_parallel_size: 2\n"
    serving = only(parse_yaml_serving(llm, "llm-config.yaml")[0])
    assert (serving.hardware.gpu_type, serving.hardware.memory_gib, serving.hardware.gpus) == ("a10g", 24.0, 2)
