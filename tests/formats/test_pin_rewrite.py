"""The targeted edits behind the PIN001/PIN002 fix: only the specifier text changes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hfcheck.formats.pin_rewrite import (
    PinError,
    pin_in_environment_yml,
    pin_in_pep621,
    pin_in_requirements,
    pin_in_shell,
    pin_in_toml_table,
)
from hfcheck.formats.requirements import parse_requirements

SPECS = st.sampled_from(["", ">=4.40", " >= 4.40, < 5", "~=4.40", "==4.*", "!=4.41.0", " (>=4.40)"])
EXTRAS = st.sampled_from(["", "[torch]", "[torch,sentencepiece]", " [torch]"])
MARKERS = st.sampled_from(["", ' ; python_version >= "3.9"', ";sys_platform=='linux'", "; extra == 'gpu' and python_version < '3.13'"])
TAILS = st.sampled_from(["", "  # pinned by hand later", " --no-binary transformers", " \\", "\t# tab"])
NEWLINES = st.sampled_from(["\n", "\r\n", ""])
NAMES = st.sampled_from(["transformers", "Transformers", "TRANSFORMERS"])


@given(NAMES, EXTRAS, SPECS, MARKERS, TAILS, NEWLINES, st.sampled_from(["", "    "]))
def test_requirement_line_keeps_everything_but_the_specifier(name, extras, spec, marker, tail, newline, indent):
    if tail == " \\":
        newline = "\n"
    line = f"{indent}{name}{extras}{spec}{marker}{tail}"
    text = f"# header\n{line}{newline}torch==2.4.1\n"
    if not parse_requirements(text).dependencies or parse_requirements(text).dependencies[0].name != "transformers":
        return  # not a requirement line pip reads
    out = pin_in_requirements(text, 2, "transformers", "4.46.0")
    kept_space = spec[len(spec.rstrip()) :]
    assert out == f"# header\n{indent}{name}{extras}==4.46.0{kept_space}{marker}{tail}{newline}torch==2.4.1\n"
    assert parse_requirements(out).dependencies[0].pinned_version == "4.46.0"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("transformers @ git+https://github.com/huggingface/transformers@main\n", "direct reference"),
        ("-e git+https://github.com/huggingface/transformers#egg=transformers\n", "editable"),
        ("transformers \\\n    >=4.40\n", "continues on the next line"),
        ("tokenizers>=0.19\n", "does not start with transformers"),
    ],
)
def test_requirement_refusals(text, reason):
    with pytest.raises(PinError, match=reason):
        pin_in_requirements(text, 1, "transformers", "4.46.0")


def test_toml_forms():
    assert (
        pin_in_pep621("deps = ['transformers>=4.40', \"torch\"]  # x\n", 1, "transformers>=4.40", "transformers", "4.46.0")
        == "deps = ['transformers==4.46.0', \"torch\"]  # x\n"
    )
    assert (
        pin_in_toml_table('"transformers" = {extras = ["torch"], version = "*"}  # c\r\n', 1, "transformers", "4.46.0")
        == '"transformers" = {extras = ["torch"], version = "4.46.0"}  # c\r\n'
    )
    assert pin_in_toml_table("transformers='>=4.40'\n", 1, "transformers", "==4.46.0") == "transformers='==4.46.0'\n"
    with pytest.raises(PinError, match="list of constraints"):
        pin_in_toml_table('transformers = [{version = "^4.40", python = "<3.12"}, {version = "^4.30"}]\n', 1, "transformers", "4.46.0")
    with pytest.raises(PinError, match="no single"):
        pin_in_toml_table('transformers = {git = "https://github.com/huggingface/transformers"}\n', 1, "transformers", "4.46.0")
    with pytest.raises(PinError, match="exactly once"):
        pin_in_pep621('deps = ["transformers>=4.40", "transformers>=4.40"]\n', 1, "transformers>=4.40", "transformers", "4.46.0")


def test_environment_items():
    for item, pinned in [
        ("transformers=4.40.*", "transformers==4.46.0"),
        ("'transformers >=4.40,<5'", "'transformers==4.46.0'"),
        ("conda-forge::transformers", "conda-forge::transformers==4.46.0"),
        ("transformers[torch]>=4.40  # pip", "transformers[torch]==4.46.0  # pip"),
    ]:
        assert pin_in_environment_yml(f"dependencies:\n  - {item}\n", 2, "transformers", "4.46.0") == f"dependencies:\n  - {pinned}\n"
    with pytest.raises(PinError, match="build string"):
        pin_in_environment_yml("  - transformers 4.40.* py_0\n", 1, "transformers", "4.46.0")


def test_shell_words():
    assert (
        pin_in_shell(
            "RUN pip install -U \\\n  'transformers[torch]>=4.40' torch\n", 1, "transformers[torch]>=4.40", "transformers", "4.46.0"
        )
        == "RUN pip install -U \\\n  'transformers[torch]==4.46.0' torch\n"
    )
    assert (
        pin_in_shell('pip install transformers && python -c "import transformers"\n', 1, "transformers", "transformers", "4.46.0")
        == 'pip install transformers==4.46.0 && python -c "import transformers"\n'
    )
    with pytest.raises(PinError, match="shell variable"):
        pin_in_shell('pip install "transformers$SPEC"\n', 1, "transformers>=4.40", "transformers", "4.46.0")
    with pytest.raises(PinError, match="2 times"):
        pin_in_shell("pip install transformers; echo transformers\n", 1, "transformers", "transformers", "4.46.0")
    with pytest.raises(PinError, match="exec"):
        pin_in_shell('RUN ["pip", "install", "transformers"]\n', 1, "transformers", "transformers", "4.46.0")
    with pytest.raises(PinError, match="quoted or escaped"):
        pin_in_shell("pip install trans'formers'\n", 1, "transformers", "transformers", "4.46.0")
