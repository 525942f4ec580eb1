"""hfcheck/data/: one loader, tables checked against the installed transformers (so a
transformers upgrade in CI fails here until the tables are refreshed), and a table that
cannot be loaded is an HFC003 finding, the same for every file.

Refresh after upgrading transformers:
    python scripts/build_model_type_table.py      (needs PyPI: every release's mapping)
    python scripts/build_tokenizer_defaults.py    (from the installed transformers)"""

import importlib.util
import json
import shutil
from importlib.metadata import version as installed_version

import pytest
from packaging.version import Version

from conftest import FIXTURES, ROOT, copy_repo
from hfcheck.data import PackagedDataError, load

DATA = ROOT / "hfcheck" / "data"
TABLES = sorted(p.name for p in DATA.glob("*.json"))


def test_every_table_loads_through_the_one_loader():
    assert TABLES == [
        "canonical_models.json",
        "gpu_memory.json",
        "hub_licenses.json",
        "model_types.json",
        "tokenizer_classes.json",
        "tokenizer_defaults.json",
    ]
    for name in TABLES:
        assert isinstance(load(name), dict)
    with pytest.raises(PackagedDataError, match="no_such_table.json"):
        load("no_such_table.json")


def test_model_type_table_knows_what_the_installed_transformers_knows():
    pytest.importorskip("transformers", exc_type=ImportError)
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    table = load("model_types.json")
    here = Version(installed_version("transformers"))
    assert Version(table["releases_scanned"]["latest"]) >= Version(here.public), "refresh: python scripts/build_model_type_table.py"
    first, removed = table["first_release"], table["removed"]
    unknown = sorted(t for t in CONFIG_MAPPING_NAMES if t not in first or Version(first[t]) > here)
    assert unknown == [], f"model types of transformers {here} missing from the table: refresh it"
    # what the table says this release knows, it knows (no invented or stale entries)
    claimed = {t for t, v in first.items() if Version(v) <= here and not (t in removed and Version(removed[t]) < here)}
    assert sorted(claimed - set(CONFIG_MAPPING_NAMES)) == []
    # every model type AutoTokenizer maps that is a config model type is in the table too
    assert sorted(t for t in TOKENIZER_MAPPING_NAMES if t in CONFIG_MAPPING_NAMES and t not in first) == []


def test_tokenizer_defaults_match_the_installed_transformers():
    pytest.importorskip("transformers", exc_type=ImportError)
    spec = importlib.util.spec_from_file_location("build_tokenizer_defaults", ROOT / "scripts" / "build_tokenizer_defaults.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = module.build()
    table = load("tokenizer_defaults.json")
    assert table["model_type_tokenizer"] == fresh["model_type_tokenizer"], "refresh: python scripts/build_tokenizer_defaults.py"
    assert table["hub_class_overridden"] == fresh["hub_class_overridden"]
    # classes whose backend is missing here are compared where both sides could read them
    common = set(table["padding_side"]) & set(fresh["padding_side"])
    assert len(common) > 60 and {c: table["padding_side"][c] for c in common} == {c: fresh["padding_side"][c] for c in common}
    assert table["padding_side"]["LlamaTokenizer"] == "left" and table["padding_side"]["Qwen2Tokenizer"] == "right"


def test_tokenizer_class_families_name_real_classes_and_model_types():
    pytest.importorskip("transformers", exc_type=ImportError)
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES, tokenizer_class_from_name

    table = load("tokenizer_classes.json")
    model_types = set(load("model_types.json")["first_release"])
    legacy = {"RetriBertTokenizer"}  # 4.x class names still written in published tokenizer_config.json files
    for family in table["families"].values():
        assert sorted(c for c in family["classes"] if c not in legacy and tokenizer_class_from_name(c) is None) == [], (
            "a class transformers does not have"
        )
        assert sorted(set(family["incompatible_model_types"]) - model_types) == [], "a model type transformers never had"
    for name in table["compatible_with_all"]:
        assert name == "AutoTokenizer" or tokenizer_class_from_name(name) is not None
    # the families' classes are the classes transformers maps those model types to
    assert TOKENIZER_MAPPING_NAMES["bert"].removesuffix("Fast") in table["families"]["bert-wordpiece"]["classes"]


@pytest.mark.parametrize(
    "name", ["model_types.json", "tokenizer_classes.json", "tokenizer_defaults.json", "hub_licenses.json", "canonical_models.json"]
)
@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_a_table_that_fails_to_load_is_hfc003(tmp_path, monkeypatch, run_rules, name, damage):
    import importlib.resources

    data = shutil.copytree(DATA, tmp_path / "data")
    if damage == "missing":
        (data / name).unlink()
    else:
        (data / name).write_text((DATA / name).read_text()[:100])
    monkeypatch.setattr(importlib.resources, "files", lambda package: data)
    load.cache_clear()
    try:
        repo = copy_repo(FIXTURES / "tiny-llama", tmp_path / "repo")
        config = json.loads((repo / "tokenizer_config.json").read_text())
        del config["padding_side"]  # the side then comes from the class defaults table
        (repo / "tokenizer_config.json").write_text(json.dumps(config))
        # an org-less Hub id: the canonical-models table decides whether it is one
        (repo / "embed.py").write_text("from transformers import AutoModel\nAutoModel.from_pretrained('gpt2')\n")
        findings = [f for f in run_rules(repo) if f.code == "HFC003"]
    finally:
        monkeypatch.undo()
        load.cache_clear()
    assert findings and all(f.severity == "error" for f in findings)
    assert all(f"hfcheck/data/{name}" in f.message for f in findings), [f.message for f in findings]
