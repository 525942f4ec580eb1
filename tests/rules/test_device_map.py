from conftest import codes
from deploy_fixture import BROKEN, CLEAN, write

OURS = ["PIN", "DMP", "SEC9"]


def test_clean_service_repo_gives_nothing(tiny_llama, run_rules):
    write(tiny_llama, CLEAN)
    assert run_rules(tiny_llama, select=OURS) == []


def test_bare_model_repo_gives_nothing(tiny_llama, minilm, run_rules):
    assert run_rules(tiny_llama, select=OURS) == []
    assert run_rules(minilm, select=OURS) == []


def _by_code(findings, code):
    return [f for f in findings if f.code == code]


def test_broken_service_repo(tiny_llama, run_rules):
    write(tiny_llama, BROKEN)
    found = run_rules(tiny_llama, select=["DMP"])
    got = set(codes(found))
    assert {"DMP001", "DMP002", "DMP003", "DMP005", "DMP006", "DMP007", "DMP008"} <= got
    offload = _by_code(found, "DMP001")
    assert any(f.severity == "error" and "disk" in f.message and f.path == "serve.py" and f.line == 9 for f in offload)
    assert any("CPU" in f.message and f.line == 6 for f in offload)
    assert any("cpu-offload-gb" in f.message and f.path == "vllm-config.yaml" and f.line == 5 for f in offload)
    modules = " ".join(f.message for f in _by_code(found, "DMP002"))
    assert "layer.0" in modules and "unplaced" in modules and "layers.0" in modules and "norm" in modules
    assert "GPU 3" in _by_code(found, "DMP003")[0].message
    fit = _by_code(found, "DMP005")
    assert any(f.path == "vllm-config.yaml" and "KV cache" in f.message and "100000" in f.message and "2 x 1 GiB" in f.message for f in fit)
    assert [(f.path, f.line) for f in _by_code(found, "DMP006")] == [("docker-compose.yml", 7), ("vllm-config.yaml", 4)]
    assert [(f.path, f.line) for f in _by_code(found, "DMP007")] == [("docker-compose.yml", 6)]
    quant = _by_code(found, "DMP008")
    assert quant[0].severity == "error" and "bitsandbytes" in quant[0].message and quant[0].line == 10


def test_auto_on_a_model_that_fits_one_gpu(tiny_llama, run_rules):
    write(tiny_llama, CLEAN)
    (tiny_llama / "serve.py").write_text(
        'from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained(".", device_map="auto")\n'
    )
    found = run_rules(tiny_llama, select=["DMP004"])
    assert [(f.code, f.path, f.line) for f in found] == [("DMP004", "serve.py", 2)]
    assert "fits one 24 GiB GPU" in found[0].message


def test_memory_fit_counts_dtype_and_quantization(tiny_llama, run_rules):
    # tiny-llama is float16 on disk; ~0.17 MB of weights. Declare a GPU that holds it
    # only with 4-bit weights and a KV cache sized by the numbers below.
    write(
        tiny_llama,
        {
            "serve.py": 'from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained(".", torch_dtype="float32")\n',
            ".hfcheck.yaml": "deploy:\n  gpus: 1\n  gpu_memory_gib: 1.2\n  max_batch_size: 1\n  max_seq_len: 256\n",
        },
    )
    assert run_rules(tiny_llama, select=["DMP005"]) == []
    # KV = 2 x 2 layers x 2 kv heads x 16 head_dim x seq x batch x 4 bytes
    (tiny_llama / ".hfcheck.yaml").write_text("deploy:\n  gpus: 1\n  gpu_memory_gib: 1.2\n  max_batch_size: 64\n  max_seq_len: 65536\n")
    found = run_rules(tiny_llama, select=["DMP005"])
    assert len(found) == 1 and "KV cache 2.00 GiB" in found[0].message and found[0].line == 2


def test_hardware_not_declared_is_one_info(tiny_llama, run_rules):
    files = dict(CLEAN)
    files.pop(".hfcheck.yaml")
    files["k8s/vllm.yaml"] = files["k8s/vllm.yaml"]
    write(tiny_llama, files)
    found = run_rules(tiny_llama, select=["DMP"])
    assert [f.code for f in found] == ["DMP009"]
    assert found[0].severity == "info" and "gpu_memory_gib" in found[0].message
