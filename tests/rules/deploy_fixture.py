"""A realistic service repo beside the tiny Llama: requirements, Dockerfile, serve.py,
a TGI docker-compose file, a k8s manifest and a vLLM config; clean and broken."""

from __future__ import annotations

from pathlib import Path

CLEAN = {
    "requirements.txt": """\
# serving image
transformers==4.46.0
tokenizers==0.20.3
torch==2.4.1 ; sys_platform == "linux"
accelerate==1.0.1
safetensors==0.4.5
huggingface-hub==0.26.2
fastapi==0.115.0  # web
""",
    "Dockerfile": """\
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
CMD ["uvicorn", "serve:app", "--host", "0.0.0.0"]
""",
    "serve.py": """\
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_DIR = "."
tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, torch_dtype=torch.float16, device_map={"": 0})
""",
    "docker-compose.yml": """\
services:
  tgi:
    image: ghcr.io/huggingface/text-generation-inference:2.4.0
    command: --model-id /data --num-shard 2 --max-total-tokens 256
    environment:
      - DTYPE=float16
    volumes:
      - .:/data
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: 2
              capabilities: [gpu]
""",
    "k8s/vllm.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: llm
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm
spec:
  template:
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.6.3
          args:
            - --model
            - /models/tiny
            - --tensor-parallel-size
            - "2"
            - --max-model-len
            - "256"
          resources:
            limits:
              nvidia.com/gpu: 2
""",
    "vllm-config.yaml": "model: /models/tiny\ntensor-parallel-size: 2\nmax-model-len: 256\ndtype: float16\n",
    ".hfcheck.yaml": "deploy:\n  gpus: 2\n  gpu_memory_gib: 24\n  max_batch_size: 8\n  max_seq_len: 256\n",
}

BROKEN = {
    "requirements.txt": "transformers>=4.40\ntorch\naccelerate==1.0.1\n",
    "Dockerfile": """\
FROM python:3.11-slim
RUN pip install --no-cache-dir -r requirements.txt && \\
    pip install transformers==4.20.0
CMD ["python", "serve.py"]
""",
    "serve.py": """\
from transformers import AutoModelForCausalLM, BitsAndBytesConfig

DEVICE_MAP = {"model.embed_tokens": 0, "model.layer.0": 1, "model.layers.1": 3, "lm_head": "cpu"}
model = AutoModelForCausalLM.from_pretrained(
    "acme/tiny-llama",
    device_map=DEVICE_MAP,
    use_auth_token=True,
    trust_remote_code=True,
    offload_folder="offload",
    quantization_config=BitsAndBytesConfig(load_in_4bit=True),
)
fast = AutoModelForCausalLM.from_pretrained("acme/tiny-llama", revision="v1.0", device_map="auto")
""",
    "docker-compose.yml": """\
services:
  tgi:
    image: ghcr.io/huggingface/text-generation-inference:2.4.0
    environment:
      MODEL_ID: acme/tiny-llama
      NUM_SHARD: 3
      MAX_TOTAL_TOKENS: 4096
      TRUST_REMOTE_CODE: "true"
""",
    "vllm-config.yaml": "model: acme/tiny-llama\nrevision: main\ntensor-parallel-size: 2\nmax-model-len: 100000\ncpu-offload-gb: 4\n",
    ".hfcheck.yaml": "deploy:\n  gpus: 2\n  gpu_memory_gib: 1\n",
}


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root
