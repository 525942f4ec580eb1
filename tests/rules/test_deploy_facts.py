"""hfcheck.facts.deploy.smoke_load: how the deployment loads the model, for the smoke
pass to load it the same way."""

from deploy_fixture import BROKEN, CLEAN, write

from hfcheck.facts.deploy import smoke_load
from hfcheck.repo import RepoView


def test_smoke_load_replays_the_literal_kwargs_of_the_first_model_load(tmp_path):
    write(tmp_path / "clean", CLEAN)
    assert smoke_load(RepoView(tmp_path / "clean")) == ({"torch_dtype": "torch.float16", "device_map": {"": 0}}, "serve.py:6")
    write(tmp_path / "broken", BROKEN)
    kwargs, source = smoke_load(RepoView(tmp_path / "broken"))
    assert source == "serve.py:4"  # offload_folder, trust_remote_code and use_auth_token are not replayed
    assert kwargs == {
        "device_map": {"model.embed_tokens": 0, "model.layer.0": 1, "model.layers.1": 3, "lm_head": "cpu"},
        "quantization_config": {"__class__": "BitsAndBytesConfig", "kwargs": {"load_in_4bit": True}},
    }
    # No code: the serving config's dtype; nothing declared: nothing replayed.
    write(tmp_path / "served", {"vllm-config.yaml": CLEAN["vllm-config.yaml"]})
    assert smoke_load(RepoView(tmp_path / "served")) == ({"dtype": "float16"}, "vllm-config.yaml:4")
    assert smoke_load(RepoView(tmp_path / "empty")) == ({}, None)


def test_smoke_load_leaves_out_what_is_not_literal(tmp_path):
    (tmp_path / "serve.py").write_text(
        "import os, torch\nfrom transformers import AutoModel, GPTQConfig\n"
        "m = AutoModel.from_pretrained('.', dtype=os.environ['DTYPE'], attn_implementation='sdpa',\n"
        "    quantization_config=GPTQConfig(bits=4, tokenizer=tok), max_memory={0: '20GiB', 'cpu': '64GiB'})\n"
    )
    kwargs, source = smoke_load(RepoView(tmp_path))
    assert (kwargs, source) == ({"attn_implementation": "sdpa", "max_memory": {0: "20GiB", "cpu": "64GiB"}}, "serve.py:3")
