import json
from importlib import resources

import pytest
from card_repos import tiny_card, write_card
from conftest import codes
from hfcheck.facts.card import closest_license, identify_license_text

# The opening lines of the real license texts (verbatim), enough for the fingerprints.
APACHE = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION
"""
MIT = """MIT License

Copyright (c) 2024 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
"""
BSD3 = """Copyright (c) 2024, Someone

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
"""
GPL3 = """                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007

 Copyright (C) 2007 Free Software Foundation, Inc. <https://fsf.org/>

  13. Use with the GNU Affero General Public License.
"""
LGPL21 = """                  GNU LESSER GENERAL PUBLIC LICENSE
                       Version 2.1, February 1999
"""
CC_BY_NC_4 = """Attribution-NonCommercial 4.0 International

=======================================================================

Creative Commons Corporation ("Creative Commons") is not a law firm and
"""
LLAMA31 = """LLAMA 3.1 COMMUNITY LICENSE AGREEMENT
Llama 3.1 Version Release Date: July 23, 2024
"""
LLAMA2 = """LLAMA 2 COMMUNITY LICENSE AGREEMENT
Llama 2 Version Release Date: July 18, 2023
"""
GEMMA = """Gemma Terms of Use

Last modified: April 1, 2024
"""
OPENRAIL = """CreativeML Open RAIL-M
dated August 22, 2022
"""


def test_license_list_is_shipped_with_its_source():
    data = json.loads(resources.files("hfcheck").joinpath("data/hub_licenses.json").read_text(encoding="utf-8"))
    assert "hub-docs" in data["source"] and "repositories-licenses.md" in data["source"]
    assert data["licenses"]["apache-2.0"] == "Apache license 2.0"
    assert {"mit", "llama3.1", "gemma", "other", "unknown", "cc-by-nc-4.0"} <= set(data["licenses"])
    assert set(data["non_commercial"]) <= set(data["licenses"]) and "cc-by-nc-4.0" in data["non_commercial"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("apache2", "apache-2.0"),
        ("Apache License, Version 2.0", "apache-2.0"),
        ("MIT License", "mit"),
        ("GPL-3.0-only", "gpl-3.0"),
        ("Llama 3.1", "llama3.1"),
        ("CC BY-NC 4.0", "cc-by-nc-4.0"),
        ("BSD-3-Clause", "bsd-3-clause"),
        ("apach-2.0", "apache-2.0"),
        ("proprietary", None),
        ("my-company-terms", None),
    ],
)
def test_closest_license(value, expected):
    assert closest_license(value) == expected


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        (APACHE, {"apache-2.0"}),
        (MIT, {"mit"}),
        (BSD3, {"bsd-3-clause", "bsd"}),
        (GPL3, {"gpl-3.0", "gpl"}),  # its body names the Affero GPL: only the title counts
        (LGPL21, {"lgpl-2.1", "lgpl"}),
        (CC_BY_NC_4, {"cc-by-nc-4.0", "cc"}),
        (LLAMA2, {"llama2"}),
        (GEMMA, {"gemma"}),
        ("Copyright 2024 Someone. All rights reserved.", None),
        (MIT + BSD3, None),  # two licenses in one file: not clear
    ],
)
def test_identify_license_text(text, ids):
    known = identify_license_text(text)
    assert (known.ids if known else None) == (frozenset(ids) if ids else None)


# -- LIC001 ----------------------------------------------------------------------------


def test_license_missing(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(license=None))
    findings = run_rules(tiny_llama, select=["LIC"])
    assert codes(findings) == ["LIC001"] and findings[0].severity == "error" and findings[0].path == "README.md"
    assert findings[0].message == "the card's metadata has no license"
    (tiny_llama / "LICENSE").write_text(MIT)
    findings = run_rules(tiny_llama, select=["LIC"])
    assert codes(findings) == ["LIC001"] and "LICENSE exists, but the Hub and license scanners read the card" in findings[0].message
    assert findings[0].fix == "LICENSE is the MIT text: add `license: mit` to the card's metadata"


def test_empty_metadata_block_has_no_license(tiny_llama, run_rules):
    (tiny_llama / "README.md").write_text("---\n---\n# model\n")
    assert codes(run_rules(tiny_llama, select=["LIC"])) == ["LIC001"]
    write_card(tiny_llama, tiny_card(license="'  '"))
    assert codes(run_rules(tiny_llama, select=["LIC"])) == ["LIC001"]


# -- LIC002 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        ("apache2", "license: apache-2.0"),
        ("MIT License", "license: mit"),
        ("Apache-2.0", "license: apache-2.0"),
        ("my-company-terms", None),
    ],
)
def test_unknown_license_identifier(tiny_llama, run_rules, value, fix):
    write_card(tiny_llama, tiny_card(license=value))
    findings = run_rules(tiny_llama, select=["LIC"])
    assert codes(findings) == ["LIC002"] and findings[0].severity == "error" and findings[0].line == 2
    assert f"license {value!r} is not a Hub license identifier" in findings[0].message
    if fix:
        assert findings[0].fix == fix and "did you mean" in findings[0].message
    else:
        assert "did you mean" not in findings[0].message and "license: other" in findings[0].fix


def test_license_of_the_wrong_type(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(license="{name: mit}"))
    findings = run_rules(tiny_llama, select=["LIC"])
    assert codes(findings) == ["LIC002"] and "must be an identifier string, not dict" in findings[0].message


def test_list_of_licenses(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(license="[mit, apache2]"))
    findings = run_rules(tiny_llama, select=["LIC"])
    assert codes(findings) == ["LIC002"] and "'apache2'" in findings[0].message


# -- LIC003 ----------------------------------------------------------------------------


def test_other_license_without_name_and_link(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(license="other"))
    findings = run_rules(tiny_llama, select=["LIC"])
    assert codes(findings) == ["LIC003"] and "without license_name and license_link" in findings[0].message
    write_card(tiny_llama, tiny_card(license="other", license_name="acme-model-license"))
    assert "without license_link" in run_rules(tiny_llama, select=["LIC"])[0].message


def test_other_license_linked_to_absent_file(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(license="other", license_name="acme", license_link="LICENSE.md"))
    (tiny_llama / "LICENSE").write_text("ACME model license: you may run it, nothing else.\n")
    findings = run_rules(tiny_llama, select=["LIC"])
    assert (
        codes(findings) == ["LIC003"]
        and findings[0].message == "license_link points to LICENSE.md, which is not in the repo (the repo has LICENSE)"
    )
    assert findings[0].line == 6
    write_card(tiny_llama, tiny_card(license="other", license_name="acme", license_link="./LICENSE"))
    assert run_rules(tiny_llama, select=["LIC"]) == []


@pytest.mark.parametrize(
    ("link", "flagged"),
    [
        ("https://huggingface.co/someone/tiny-llama/blob/main/LICENSE", True),  # this repo (by its folder name)
        ("https://huggingface.co/acme/other-model/blob/main/LICENSE", False),  # another repo: not checked offline
        ("https://acme.example/license", False),
    ],
)
def test_license_link_urls(tiny_llama, run_rules, link, flagged):
    write_card(tiny_llama, tiny_card(license="other", license_name="acme", license_link=link))
    assert codes(run_rules(tiny_llama, select=["LIC"])) == (["LIC003"] if flagged else [])


# -- LIC004 / LIC005 -------------------------------------------------------------------


def test_non_commercial_license_is_info_and_can_gate(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(license="cc-by-nc-4.0"))
    findings = run_rules(tiny_llama, select=["LIC"])
    assert [(f.code, f.severity) for f in findings] == [("LIC004", "info")]
    assert "does not allow commercial use" in findings[0].message
    gated = run_rules(tiny_llama, select=["LIC"], severity={"LIC004": "error"})
    assert [(f.code, f.severity) for f in gated] == [("LIC004", "error")]


def test_unknown_license_is_info(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(license="unknown"))
    findings = run_rules(tiny_llama, select=["LIC"])
    assert codes(findings) == ["LIC004"] and "terms are not known" in findings[0].message


def test_gated_model(tiny_llama, run_rules):
    write_card(
        tiny_llama, tiny_card(extra_gated_prompt="'You agree to share your contact information'", extra_gated_fields="{Company: text}")
    )
    findings = run_rules(tiny_llama, select=["LIC"])
    assert [(f.code, f.severity) for f in findings] == [("LIC005", "info")]
    assert "extra_gated_prompt, extra_gated_fields" in findings[0].message and findings[0].line == 5


# -- LIC006 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "text", "warned"),
    [
        ("apache-2.0", MIT, "LICENSE is the MIT text but the card declares license: apache-2.0"),
        ("apache-2.0", APACHE, None),
        ("mit", MIT, None),
        ("bsd", BSD3, None),
        ("gpl-3.0", GPL3, None),
        ("gpl-2.0", GPL3, "GNU GPL v3"),
        ("llama3", LLAMA31, None),  # Llama 3.x texts under the llama3 id: not a clear mismatch
        ("llama3.1", LLAMA2, "Llama 2 Community License"),
        ("cc-by-4.0", CC_BY_NC_4, "CC-BY-NC-4.0"),
        ("gemma", GEMMA, None),
        ("creativeml-openrail-m", OPENRAIL, None),
        ("mit", OPENRAIL, "an OpenRAIL license"),
        ("afl-3.0", MIT, None),  # a license whose text we do not know: no claim
        ("apache-2.0", "Copyright 2024 ACME. All rights reserved.\n", None),
    ],
)
def test_license_file_mismatch(tiny_llama, run_rules, declared, text, warned):
    write_card(tiny_llama, tiny_card(license=declared))
    (tiny_llama / "LICENSE").write_text(text)
    findings = [f for f in run_rules(tiny_llama, select=["LIC"]) if f.code == "LIC006"]
    if warned:
        assert len(findings) == 1 and findings[0].severity == "warning" and warned in findings[0].message and findings[0].path == "LICENSE"
    else:
        assert findings == []


def test_other_license_with_a_standard_text(tiny_llama, run_rules):
    write_card(tiny_llama, tiny_card(license="other", license_name="mit-ish", license_link="LICENSE"))
    (tiny_llama / "LICENSE").write_text(MIT)
    findings = run_rules(tiny_llama, select=["LIC"])
    assert codes(findings) == ["LIC006"] and findings[0].fix == "declare `license: mit` in the card"
    write_card(tiny_llama, tiny_card(license="other", license_name="llama3", license_link="LICENSE"))
    (tiny_llama / "LICENSE").write_text(LLAMA31)
    assert run_rules(tiny_llama, select=["LIC"]) == []
