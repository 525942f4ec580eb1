"""The PIN001/PIN002 fix: each dependency file form of a service repo beside the tiny
Llama, fixed through the real `--fix --unsafe-fixes` CLI, then checked again. The
expected versions come from this environment (importlib.metadata), never hard-coded:
transformers is the installed one when it is at least config.json's transformers_version
(4.46.0 in the fixture) and inside the declared range, else that saved version; the
others are the installed ones, local label dropped (torch 2.x+cpu here). Only the
not-installed and development-build cases change what importlib.metadata answers."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from conftest import invoke
from deploy_fixture import BROKEN, write

SAVED = "4.46.0"  # config.json transformers_version of fixtures/repos/tiny-llama


def installed(package: str) -> str:
    """The public version installed here (torch 2.4.1+cpu is pinned as 2.4.1)."""
    return Version(importlib.metadata.version(package)).public


def transformers_for(declared: str = "") -> str:
    """What the fix should pin for a declaration of transformers with this range."""
    here = Version(importlib.metadata.version("transformers"))
    for candidate in ([here] if here >= Version(SAVED) and not here.is_devrelease else []) + [Version(SAVED)]:
        if SpecifierSet(declared).contains(candidate, prereleases=True):
            return candidate.public
    raise AssertionError("no candidate")


def run(*args):
    return invoke(*args)


def fix(repo: Path, *extra):
    return run(repo, "--fix", "--unsafe-fixes", "--select", "PIN001,PIN002", *extra)


def pin_findings(run_rules, repo):
    return sorted((f.code, f.path, f.line) for f in run_rules(repo, select=["PIN001", "PIN002"]))


def fixed_as(repo: Path, run_rules, rel: str, original: str, *replacements) -> None:
    """Write `rel`, fix, and check it reads `original` with each (old, new) replaced, byte
    for byte, and that PIN001/PIN002 are gone."""
    write(repo, {rel: original})
    result = fix(repo)
    assert result.exit_code == 0, result.output
    expected = original
    for old, new in replacements:
        assert old in expected
        expected = expected.replace(old, new, 1)
    assert (repo / rel).read_text() == expected
    assert pin_findings(run_rules, repo) == []


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def environment(monkeypatch, **versions) -> None:
    """importlib.metadata answers these versions (None: not installed), the rest as installed."""
    real = importlib.metadata.version

    def version(name):
        if name not in versions:
            return real(name)
        if versions[name] is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(importlib.metadata, "version", version)


def write_bytes(root: Path, files: dict) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


# -- requirement files ----------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_requirements_txt_pinned_in_place(tiny_llama, run_rules, newline):
    lines = [
        "# serving image",
        "--extra-index-url https://download.pytorch.org/whl/cpu",
        'transformers[torch] >= 4.40 ; python_version >= "3.9"  # tokenizer defaults changed in 4.41',
        "torch",
        "accelerate==1.0.1",
        "safetensors~=0.4 \\",
        "    --no-binary safetensors",
        "fastapi  # web",
        "Tokenizers  # spelled its own way",
    ]
    original = newline.join(lines)  # and no newline at the end
    write_bytes(tiny_llama, {"requirements.txt": original})
    assert len(pin_findings(run_rules, tiny_llama)) == 4

    preview = run(tiny_llama, "--diff", "--unsafe-fixes", "--select", "PIN")
    assert preview.exit_code == 1
    assert f"+torch=={installed('torch')}" in preview.output and "-torch" in preview.output
    assert (tiny_llama / "requirements.txt").read_bytes() == original.encode()

    result = fix(tiny_llama)
    assert result.exit_code == 0, result.output
    assert "fixed PIN001 (1 finding)" in result.output and "fixed PIN002 (3 findings)" in result.output
    expected = list(lines)
    expected[2] = f'transformers[torch]=={transformers_for(">=4.40")} ; python_version >= "3.9"  # tokenizer defaults changed in 4.41'
    expected[3] = f"torch=={installed('torch')}"
    expected[5] = f"safetensors=={installed('safetensors')} \\"
    expected[8] = f"Tokenizers=={installed('tokenizers')}  # spelled its own way"
    assert (tiny_llama / "requirements.txt").read_bytes() == newline.join(expected).encode()
    assert pin_findings(run_rules, tiny_llama) == []


def test_broken_service_repo(tiny_llama, run_rules):
    write(tiny_llama, BROKEN)
    before = {p.relative_to(tiny_llama): p.read_bytes() for p in tiny_llama.rglob("*") if p.is_file()}
    result = fix(tiny_llama)
    assert result.exit_code == 0, result.output
    assert (
        tiny_llama / "requirements.txt"
    ).read_text() == f"transformers=={transformers_for('>=4.40')}\ntorch=={installed('torch')}\naccelerate==1.0.1\n"
    after = {p.relative_to(tiny_llama): p.read_bytes() for p in tiny_llama.rglob("*") if p.is_file()}
    assert {rel for rel in after if after[rel] != before.get(rel)} == {Path("requirements.txt")}
    assert pin_findings(run_rules, tiny_llama) == []
    # what the fix does not touch is still reported (the Dockerfile's transformers==4.20.0)
    assert "PIN003" in {f.code for f in run_rules(tiny_llama, select=["PIN"])}


def test_included_and_constraint_files_are_pinned_where_declared(tiny_llama, run_rules):
    write(
        tiny_llama,
        {
            "requirements.txt": "-r requirements/base.txt\n-c constraints.txt\ntorch\n",
            "requirements/base.txt": "transformers>=4.40\n",
            "constraints.txt": "accelerate>=0.30\n",
        },
    )
    assert fix(tiny_llama).exit_code == 0
    assert (tiny_llama / "requirements/base.txt").read_text() == f"transformers=={transformers_for('>=4.40')}\n"
    assert (tiny_llama / "constraints.txt").read_text() == f"accelerate=={installed('accelerate')}\n"
    assert (tiny_llama / "requirements.txt").read_text() == f"-r requirements/base.txt\n-c constraints.txt\ntorch=={installed('torch')}\n"
    assert pin_findings(run_rules, tiny_llama) == []


# -- pyproject.toml, Pipfile, setup.cfg, environment.yml ----------------------------------


def test_pyproject_pep621_strings(tiny_llama, run_rules):
    original = """\
[project]
name = "svc"
dependencies = [
  "transformers[torch]>=4.40; python_version >= '3.9'",  # the model's library
  'torch',
  "fastapi>=0.100",
]

[project.optional-dependencies]
dev = ["pytest", "accelerate"]
"""
    fixed_as(
        tiny_llama, run_rules, "pyproject.toml", original,
        ("transformers[torch]>=4.40;", f"transformers[torch]=={transformers_for('>=4.40')};"),
        ("'torch'", f"'torch=={installed('torch')}'"),
    )  # fmt: skip


def test_poetry_table_keeps_poetry_syntax_and_its_range(tiny_llama, run_rules):
    original = """\
[tool.poetry]
name = "svc"

[tool.poetry.group.dev.dependencies]
accelerate = "*"

[tool.poetry.dependencies]
python = "^3.11"
transformers = "^4.40"   # ^4.40 means >=4.40,<5.0
accelerate = { version = ">=0.30", extras = ["testing"] }
torch = {version="*", source="pytorch"}
"""
    write(tiny_llama, {"pyproject.toml": original})
    assert [line for _code, _path, line in pin_findings(run_rules, tiny_llama)] == [9, 10, 11]
    fixed_as(
        tiny_llama, run_rules, "pyproject.toml", original,
        ('transformers = "^4.40"', f'transformers = "{transformers_for(">=4.40,<5.0")}"'),
        ('version = ">=0.30"', f'version = "{installed("accelerate")}"'),
        ('version="*"', f'version="{installed("torch")}"'),
    )  # fmt: skip


def test_pipfile_packages_not_dev_packages(tiny_llama, run_rules):
    original = """\
[[source]]
url = "https://pypi.org/simple"
name = "pypi"

[dev-packages]
transformers = "*"

[packages]
transformers = {version = ">=4.40", extras = ["torch"]}
"torch" = "*"
"""
    write(tiny_llama, {"Pipfile": original})
    assert [line for _code, _path, line in pin_findings(run_rules, tiny_llama)] == [9, 10]
    fixed_as(
        tiny_llama, run_rules, "Pipfile", original,
        ('version = ">=4.40"', f'version = "=={transformers_for(">=4.40")}"'),
        ('"torch" = "*"', f'"torch" = "=={installed("torch")}"'),
    )  # fmt: skip


def test_setup_cfg_install_requires(tiny_llama, run_rules):
    original = '[metadata]\nname = svc\n\n[options]\ninstall_requires =\n    transformers>=4.40,<6\n    torch ; sys_platform == "linux"\n    numpy\n'
    fixed_as(
        tiny_llama, run_rules, "setup.cfg", original,
        ("transformers>=4.40,<6", f"transformers=={transformers_for('>=4.40,<6')}"),
        ("torch ;", f"torch=={installed('torch')} ;"),
    )  # fmt: skip


def test_environment_yml_conda_and_pip_items(tiny_llama, run_rules):
    original = """\
name: svc
channels: [conda-forge]
dependencies:
  - python=3.11
  - transformers>=4.40  # from conda-forge
  - conda-forge::tokenizers
  - pip
  - pip:
    - "torch>=2.1"
    - accelerate
"""
    write(tiny_llama, {"environment.yml": original})
    assert len(pin_findings(run_rules, tiny_llama)) == 4
    fixed_as(
        tiny_llama, run_rules, "environment.yml", original,
        ("transformers>=4.40", f"transformers=={transformers_for('>=4.40')}"),
        ("conda-forge::tokenizers", f"conda-forge::tokenizers=={installed('tokenizers')}"),
        ('"torch>=2.1"', f'"torch=={installed("torch")}"'),
        ("- accelerate", f"- accelerate=={installed('accelerate')}"),
    )  # fmt: skip


# -- Dockerfiles and shell scripts ----------------------------------------------------


def test_pip_install_words_in_dockerfile_and_script(tiny_llama, run_rules):
    dockerfile = """\
FROM python:3.11-slim
ARG SPEC=">=4.40"
RUN pip install --no-cache-dir "transformers${SPEC}" && \\
    pip install 'accelerate>=0.30' safetensors && python -c "import safetensors"
"""
    script = "#!/bin/sh\nset -e\npython -m pip install -U torch tokenizers==0.20.3  # the runtime\n"
    write(tiny_llama, {"Dockerfile": dockerfile, "scripts/setup.sh": script})
    assert len(pin_findings(run_rules, tiny_llama)) == 4
    result = fix(tiny_llama)
    assert result.exit_code == 1, result.output  # transformers stays unpinned
    assert "not fixed PIN001: Dockerfile:3: transformers: the requirement is built from a shell variable" in result.output
    assert (tiny_llama / "Dockerfile").read_text() == dockerfile.replace(
        "'accelerate>=0.30' safetensors", f"'accelerate=={installed('accelerate')}' safetensors=={installed('safetensors')}"
    )
    assert (tiny_llama / "scripts/setup.sh").read_text() == script.replace("-U torch", f"-U torch=={installed('torch')}")
    assert pin_findings(run_rules, tiny_llama) == [("PIN001", "Dockerfile", 3)]


def test_a_word_twice_in_one_command_is_refused(tiny_llama):
    original = "FROM python:3.11-slim\nRUN pip install torch && echo torch\n"
    write(tiny_llama, {"Dockerfile": original})
    result = fix(tiny_llama)
    assert "'torch' appears 2 times in the command" in result.output
    assert (tiny_llama / "Dockerfile").read_text() == original


# -- refusals: the declaration is left as it was, the reason printed ---------------------


def test_range_excluding_installed_pins_the_saved_version(tiny_llama, run_rules):
    if Version(installed("transformers")) <= Version(SAVED):
        pytest.skip("needs a transformers newer than the fixture's 4.46.0 installed")
    write(tiny_llama, {"requirements.txt": "transformers>=4.40,<=4.46.0\n"})
    assert fix(tiny_llama).exit_code == 0
    assert (tiny_llama / "requirements.txt").read_text() == "transformers==4.46.0\n"


def test_range_excluding_every_candidate_is_refused(tiny_llama, run_rules):
    write(tiny_llama, {"requirements.txt": "transformers>=4.40,<4.46\ntorch\n"})
    result = fix(tiny_llama)
    assert "not fixed PIN001: requirements.txt:1: transformers:" in result.output
    assert f"{SAVED} (saved the model) is outside the declared range '<4.46,>=4.40'" in result.output
    assert "pin it by hand" in result.output
    assert (tiny_llama / "requirements.txt").read_text() == f"transformers>=4.40,<4.46\ntorch=={installed('torch')}\n"
    assert pin_findings(run_rules, tiny_llama) == [("PIN001", "requirements.txt", 1)]


def test_package_not_installed_is_refused(tiny_llama, run_rules, monkeypatch):
    environment(monkeypatch, accelerate=None)
    write(tiny_llama, {"requirements.txt": "accelerate>=0.30\ntorch\n"})
    result = fix(tiny_llama)
    assert "not fixed PIN002: requirements.txt:1: accelerate: not installed here; pin it by hand" in result.output
    assert (tiny_llama / "requirements.txt").read_text() == f"accelerate>=0.30\ntorch=={installed('torch')}\n"
    # nothing else to fix: the whole fix is refused and the file stays as it was
    write(tiny_llama, {"requirements.txt": "accelerate>=0.30\n"})
    before = tree_hash(tiny_llama)
    result = fix(tiny_llama)
    assert "not fixed PIN002: requirements.txt:1: accelerate: not installed here; pin it by hand" in result.output
    assert tree_hash(tiny_llama) == before


def test_dev_versions_are_never_pinned(tiny_llama, run_rules, monkeypatch):
    config = json.loads((tiny_llama / "config.json").read_text())
    config["transformers_version"] = "99.0.0.dev0"
    (tiny_llama / "config.json").write_text(json.dumps(config))
    write(tiny_llama, {"requirements.txt": "transformers\n"})
    before = tree_hash(tiny_llama)
    result = fix(tiny_llama)
    assert "not fixed PIN001: requirements.txt:1: transformers:" in result.output
    assert "is older than 99.0.0.dev0, which saved the model" in result.output
    assert "transformers_version 99.0.0.dev0 is a development build" in result.output
    assert tree_hash(tiny_llama) == before

    # an installed development build is skipped for the version that saved the model
    config["transformers_version"] = SAVED
    (tiny_llama / "config.json").write_text(json.dumps(config))
    environment(monkeypatch, transformers="99.1.0.dev0")
    assert fix(tiny_llama).exit_code == 0
    assert (tiny_llama / "requirements.txt").read_text() == f"transformers=={SAVED}\n"


def test_a_release_without_the_model_type_is_skipped(tiny_llama):
    config = json.loads((tiny_llama / "config.json").read_text())
    config.update(model_type="transfo-xl", transformers_version="4.30.0")  # removed after 4.57.6
    (tiny_llama / "config.json").write_text(json.dumps(config))
    write(tiny_llama, {"requirements.txt": "transformers\n"})
    fix(tiny_llama)
    here = Version(installed("transformers"))
    assert (tiny_llama / "requirements.txt").read_text() == f"transformers=={here if here <= Version('4.57.6') else '4.30.0'}\n"


def test_unsafe_fix_needs_the_flag(tiny_llama):
    write(tiny_llama, {"requirements.txt": "transformers\n"})
    before = tree_hash(tiny_llama)
    result = run(tiny_llama, "--fix", "--select", "PIN")
    assert "PIN001 (1 finding) has an unsafe fix" in result.output
    assert tree_hash(tiny_llama) == before


def test_python_api_reports_each_declined_declaration(tiny_llama, monkeypatch):
    from hfcheck.fix import fix_targets, render_diff

    environment(monkeypatch, tokenizers=None)
    write(tiny_llama, {"requirements.txt": "tokenizers\ntorch>=2\n"})
    before = tree_hash(tiny_llama)
    [(_label, plan)] = fix_targets([str(tiny_llama)], overrides={"select": ["PIN002"]}, unsafe=True, apply=False)
    [outcome] = plan.outcomes
    assert outcome.status == "fixed" and outcome.findings == 2
    assert outcome.refused == ["requirements.txt:1: tokenizers: not installed here; pin it by hand"]
    assert f"+torch=={installed('torch')}" in render_diff(plan) and tree_hash(tiny_llama) == before


def test_the_fix_imports_neither_torch_nor_transformers(tiny_llama):
    from test_imports import loaded_modules

    write(tiny_llama, {"requirements.txt": "transformers\ntorch\n"})
    heavy = loaded_modules(tiny_llama, "--diff", "--unsafe-fixes", "--select", "PIN")
    assert "torch" not in heavy and "transformers" not in heavy


@pytest.mark.parametrize(
    ("saved", "declared"),
    [("5.3.0", ">=4.40"), ("4.57.1", ">=4.40,<5"), ("4.46.0", "")],
)
def test_fix_text_names_what_the_fixer_writes_and_following_it_is_clean(tiny_llama, run_rules, saved, declared):
    # the fix text of PIN001 and the --unsafe-fixes fixer come from one choice: following
    # the text gives exactly the fixer's file, and neither PIN001 nor PIN003 remains
    config = json.loads((tiny_llama / "config.json").read_text())
    (tiny_llama / "config.json").write_text(json.dumps({**config, "transformers_version": saved}))
    write(tiny_llama, {"requirements.txt": f"transformers{declared}\n"})
    [finding] = run_rules(tiny_llama, select=["PIN001"])
    here = Version(importlib.metadata.version("transformers"))
    expected = here.public if here >= Version(saved) and SpecifierSet(declared).contains(here) else saved
    assert f"transformers=={expected}" in finding.fix and "4.46.0" not in finding.fix.replace(saved, "")
    assert fix(tiny_llama).exit_code == 0
    assert (tiny_llama / "requirements.txt").read_text() == f"transformers=={expected}\n"
    assert run_rules(tiny_llama, select=["PIN001", "PIN003"]) == []
