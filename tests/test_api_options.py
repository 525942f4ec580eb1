"""hfcheck.check() rejects options it does not know, as the settings file does."""

import pytest

import hfcheck
from conftest import FIXTURES


def test_misspelt_option_is_rejected_with_a_suggestion():
    with pytest.raises(TypeError, match=r"unknown option 'selct'; did you mean 'select'\?"):
        hfcheck.check(FIXTURES / "tiny-llama", selct=["SPT"])
    with pytest.raises(TypeError, match="unknown option 'source'"):
        hfcheck.check(FIXTURES / "tiny-llama", source="x")


def test_known_options_still_apply():
    report = hfcheck.check(FIXTURES / "tiny-llama-broken-config", select=["CFG"], fail_on="never")
    assert report.findings and {f.code[:3] for f in report.findings} == {"CFG"} and report.exit_code() == 0
