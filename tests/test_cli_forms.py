"""The click CLI's forms: concise output, statistics, show-fixes, --fix --diff preview,
rule lookup by name, `rules` filters with safe/unsafe fix marks, CheckOptions validation,
sectioned help and shell completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import FIXTURES, invoke
from hfcheck.options import CheckOptions, OptionsError
from hfcheck.report import display_path

BROKEN = FIXTURES / "tiny-llama-broken-config"


def test_concise_is_one_line_per_finding(tiny_llama):
    (tiny_llama / "extra.json").write_text('{"a": 1, "a": 2}')
    (tiny_llama / "requirements.txt").write_text("transformers\n")
    result = invoke(tiny_llama, "--format", "concise", "--no-cache")
    lines = result.stdout.splitlines()
    root = display_path(tiny_llama, None)
    assert [line.split(" ", 2)[:2] for line in lines] == [
        [f"{root}/extra.json:1:1:", "CFG004"],
        [f"{root}/requirements.txt:1:1:", "PIN001"],
    ]
    assert result.exit_code == 1


def test_concise_matches_the_json_report():
    concise = invoke(BROKEN, "--format", "concise").stdout.splitlines()
    [finding] = json.loads(invoke(BROKEN, "--format", "json").stdout)["targets"][0]["findings"]
    assert concise == [f"{display_path(BROKEN, 'config.json')}:23:1: CFG002 {finding['message']}"]


def test_statistics_counts_per_code_and_marks_fixes(tiny_llama):
    (tiny_llama / "extra.json").write_text('{"a": 1, "a": 2}')
    (tiny_llama / "other.json").write_text('{"b": 1, "b": 2}')
    (tiny_llama / "requirements.txt").write_text("transformers\n")
    text = invoke(tiny_llama, "--statistics", "--no-cache").stdout.splitlines()
    assert text == ["2\tCFG004\t    duplicate-json-keys", "1\tPIN001\t[-] transformers-unpinned"]
    rows = json.loads(invoke(tiny_llama, "--statistics", "--format", "json", "--no-cache").stdout)
    assert rows[0] == {"code": "CFG004", "name": "duplicate-json-keys", "count": 2, "fix": None}
    assert rows[1]["fix"] == "unsafe"


def test_show_fixes_lists_safe_and_unsafe(tiny_llama):
    (tiny_llama / "README.md").unlink()  # CRD001: a safe fix
    (tiny_llama / "requirements.txt").write_text("transformers\n")  # PIN001: unsafe
    out = invoke(tiny_llama, "--show-fixes", "--no-cache", "--select", "CRD001,PIN001").stdout
    assert "CRD001 [*]" in out and "PIN001 [*]" in out
    assert "[*] 1 fixable with --fix: CRD001 (1)" in out
    assert "[*] 1 fixable only with --fix --unsafe-fixes: PIN001 (1)" in out
    assert out.rstrip().splitlines()[-1].startswith("Found ")


def test_fix_with_diff_previews_and_writes_nothing(tiny_llama):
    (tiny_llama / "README.md").unlink()
    before = sorted(p.name for p in tiny_llama.iterdir())
    preview = invoke(tiny_llama, "--fix", "--diff", "--select", "CRD001")
    assert "+++ b/README.md" in preview.stdout and "would fix CRD001" in preview.stderr
    assert preview.exit_code == 1
    assert sorted(p.name for p in tiny_llama.iterdir()) == before


def test_explain_by_name_and_code():
    by_name = invoke("explain", "no-pad-token")
    assert by_name.exit_code == 0 and by_name.stdout.startswith("SPT001 no-pad-token")
    assert invoke("explain", "no_pad_token").stdout == by_name.stdout == invoke("explain", "spt001").stdout
    unknown = invoke("explain", "no-pad-tokn")
    assert unknown.exit_code == 2 and "did you mean no-pad-token" in unknown.stderr
    assert "fixable with --unsafe-fixes" in invoke("explain", "PIN001").stdout


def test_rules_filters_and_marks_unsafe_fixes():
    listing = invoke("rules", "SEC").stdout.splitlines()
    assert listing and all(line.startswith("SEC") for line in listing)
    assert {line[:3] for line in invoke("rules", "tokenizer,CFG").stdout.splitlines()} == {"TOK", "CFG"}
    rows = {row["code"]: row for row in json.loads(invoke("rules", "--format", "json").stdout)}
    assert rows["PIN001"]["fix"] == "unsafe" and rows["CRD001"]["fix"] == "safe" and rows["CFG002"]["fix"] is None
    assert " unsafe " in next(line for line in invoke("rules", "PIN001").stdout.splitlines())
    bad = invoke("rules", "XYZ")
    assert bad.exit_code == 2 and "no rule matches 'XYZ'" in bad.stderr


def test_no_explanation_refers_to_an_incident_the_reader_cannot_know():
    from hfcheck.registry import all_rules

    for rule in all_rules():
        assert "incident" not in rule.doc.lower(), rule.code


def test_check_options_are_validated_once():
    assert CheckOptions.from_mapping({"targets": ["."], "select": ["SEC,TOK", "CFG"]}).select == ["SEC", "TOK", "CFG"]
    with pytest.raises(OptionsError, match="unknown option: selcet"):
        CheckOptions.from_mapping({"selcet": ["SEC"]})
    with pytest.raises(OptionsError, match="need --fix"):
        CheckOptions(unsafe_fixes=True).validate()
    with pytest.raises(OptionsError, match="--format"):
        CheckOptions(format="xml").validate()
    assert CheckOptions(fix=True, diff=True).validate().preview


def test_usage_errors_exit_2(tiny_llama):
    result = invoke(tiny_llama, "--unsafe-fixes")
    assert result.exit_code == 2 and "need --fix" in result.stderr
    assert invoke(tiny_llama, "--statistics", "--format", "sarif").exit_code == 2
    assert invoke(tiny_llama, "--jobs", "-1").exit_code == 2


def test_check_is_the_default_command():
    assert invoke("check", BROKEN, "--format", "json").stdout == invoke(BROKEN, "--format", "json").stdout
    assert invoke(BROKEN, "--format", "json", "--fail-on", "never").exit_code == 0


def test_help_reads_in_sections():
    top = invoke("--help").stdout
    assert "Commands:" in top and "check" in top and "explain" in top and "rules" in top
    sections = [line for line in invoke("check", "--help").stdout.splitlines() if line.endswith(":") and not line.startswith(" ")]
    assert sections == [
        "Options:",
        "Rule selection:",
        "Output:",
        "Fixes:",
        "Targets:",
        "Smoke pass:",
        "Cache:",
        "Auditing a registry:",
        "Miscellaneous:",
    ]


def test_shell_completion_of_codes_and_names():
    def complete(words: str) -> list[str]:
        env = {**os.environ, "_HFCHECK_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        out = subprocess.run([sys.executable, "-c", "from hfcheck.cli import main; main()"], env=env, capture_output=True, text=True).stdout
        return [line.split(",", 1)[1] for line in out.splitlines()]

    assert "SEC001" in complete("hfcheck check --select SEC0")
    assert complete("hfcheck explain no-pad") == ["no-pad-token"]
    assert "--show-fixes" in complete("hfcheck check --show")


def test_plugin_from_a_zip_install_is_found(tmp_path):
    # importlib.metadata reads distributions inside zips on sys.path; a hand-written
    # entry_points.txt reader that lists folders did not.
    import zipfile

    from test_plugins import PLUGIN

    archive = tmp_path / "acme.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("acme_rules.py", PLUGIN)
        bundle.writestr("acme_rules-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: acme-rules\nVersion: 1.0\n")
        bundle.writestr("acme_rules-1.0.dist-info/entry_points.txt", "[hfcheck.rules]\nacme = acme_rules\n")
    env = {**os.environ, "PYTHONPATH": str(archive)}
    listing = subprocess.run([sys.executable, "-m", "hfcheck", "rules", "ACM"], capture_output=True, text=True, env=env)
    assert listing.returncode == 0 and listing.stdout.startswith("ACM001"), listing.stderr
    result = subprocess.run(
        [sys.executable, "-m", "hfcheck", str(FIXTURES / "tiny-llama"), "--format", "json", "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert [f["code"] for f in json.loads(result.stdout)["targets"][0]["findings"]] == ["ACM001"]
