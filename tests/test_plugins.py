"""Third-party rules arrive through the `hfcheck.rules` entry point group."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import FIXTURES

PLUGIN = '''
from hfcheck.findings import Finding
from hfcheck.registry import rule


@rule("ACM001", concern="config", severity="error")
def no_float16(repo):
    """Acme serves bfloat16 only.

    Why: our kernels are bf16.
    Fix: save the weights in bfloat16.
    """
    if repo.config and repo.config.get("torch_dtype") == "float16":
        yield Finding.at("config.json", "float16 model", line=repo.json("config.json").line_of("torch_dtype"))
'''


def install_plugin(site):
    (site / "acme_rules.py").write_text(PLUGIN)
    dist = site / "acme_rules-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-rules\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[hfcheck.rules]\nacme = acme_rules\n")


def hfcheck(site, *args):
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "hfcheck", *map(str, args)], capture_output=True, text=True, env=env)


def test_plugin_rules_run_and_are_listed(tmp_path):
    install_plugin(tmp_path)
    assert "ACM001" in hfcheck(tmp_path, "rules").stdout
    result = hfcheck(tmp_path, FIXTURES / "tiny-llama", "--format", "json")
    findings = json.loads(result.stdout)["targets"][0]["findings"]
    assert [(f["code"], f["line"]) for f in findings] == [("ACM001", 21)]
    assert result.returncode == 1


def test_a_broken_plugin_is_a_clear_error(tmp_path):
    install_plugin(tmp_path)
    (tmp_path / "acme_rules.py").write_text("raise ImportError('acme is broken')\n")
    result = hfcheck(tmp_path, FIXTURES / "tiny-llama")
    assert result.returncode == 2
    assert "cannot load rule plugin 'acme'" in result.stderr and "Traceback" not in result.stderr


def test_the_plugin_index_follows_installs_and_edits(tmp_path):
    # The index of plugins spares a run importlib.metadata while nothing it reads has
    # changed: a plugin installed after a run, and an entry point edited in place in an
    # existing dist-info folder, are both found by the next run.
    site, cache, elsewhere = tmp_path / "site", tmp_path / "cache", tmp_path / "cwd"
    site.mkdir()
    elsewhere.mkdir()  # `python -c` puts the current folder on sys.path: one the index does not live in
    env = {**os.environ, "PYTHONPATH": str(site), "HFCHECK_CACHE_DIR": str(cache)}

    def listed_and_metadata_imported():
        probe = "import sys; from hfcheck.registry import all_rules; print([r.code for r in all_rules() if r.code.startswith('ACM')], 'importlib.metadata' in sys.modules)"
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=elsewhere)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert listed_and_metadata_imported() == "[] True"  # first run: looked up, indexed
    assert listed_and_metadata_imported() == "[] False"  # nothing changed: the index answers
    install_plugin(site)
    assert listed_and_metadata_imported() == "['ACM001'] True"
    assert listed_and_metadata_imported() == "['ACM001'] True"  # plugins are always loaded through importlib.metadata
    (site / "acme_rules.py").write_text(PLUGIN.replace("ACM001", "ACM002"))
    (site / "acme_rules-1.0.dist-info" / "entry_points.txt").write_text("[console_scripts]\nacme = acme_rules:main\n")
    assert listed_and_metadata_imported() == "[] True"  # the entry point was removed in place
    (site / "acme_rules-1.0.dist-info" / "entry_points.txt").write_text("[hfcheck.rules]\nacme = acme_rules\n")
    assert listed_and_metadata_imported() == "['ACM002'] True"
