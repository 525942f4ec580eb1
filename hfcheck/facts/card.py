"""Facts about the model card and the license, shared by the card and license rules:
the card's metadata, its section titles, the base models the repo's files name, the
Hub's license list (hfcheck/data/hub_licenses.json) and what a LICENSE file's text is.

huggingface_hub's ModelCard/ModelCardData would parse the same metadata, but they lose the
line of each key, refuse or silently coerce the malformed values we want to report, and
cost ~0.4 s to import; we read the repo view's CardDoc instead and use huggingface_hub
only to check `model-index` against the Hub's schema (rules/card.py)."""

from __future__ import annotations

import re
from typing import NamedTuple

# -- the card ----------------------------------------------------------------------


def card_metadata(repo) -> dict | None:
    """The front-matter mapping ({} for an empty block), or None when there is no card or
    its front matter is missing, unterminated or not a YAML mapping (CRD001/CRD002 say so)."""
    card = repo.card
    if card is None or not card.has_front_matter or not card.front_matter_closed or card.metadata is None or card.metadata.error:
        return None
    data = card.metadata.data
    if data is None:
        return {}
    return data if isinstance(data, dict) else None


def edited_card_metadata(text: str) -> dict:
    """The front-matter mapping of an edited card's text ({} when it has none), so a
    fixer can check that its edit reads back as intended."""
    from hfcheck.formats.card import parse_card

    data = parse_card(text).data
    return data if isinstance(data, dict) else {}


# Files that make a folder a model repo (rather than, say, a deployment folder that only
# holds a Dockerfile and requirements): only those need a model card.
MODEL_FILES = (
    "config.json",
    "adapter_config.json",
    "model_index.json",
    "modules.json",
    "config_sentence_transformers.json",
    "params.json",
    "tokenizer.json",
    "tokenizer_config.json",
)


def looks_like_model_repo(repo) -> bool:
    return bool(repo.weight_files) or any(repo.exists(name) for name in MODEL_FILES)


def key_line(repo, key: str) -> int | None:
    card = repo.card
    return card.metadata.line_of(key) if card is not None and card.metadata is not None else None


class Section(NamedTuple):
    title: str
    line: int


_SETEXT = re.compile(r"^(=+|-+)\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*:?\s*$")
_HTML_HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.I)


def section_titles(repo) -> list[Section]:
    """Titles of the card's sections: markdown headings (ATX and setext), HTML <hN>, and
    lines that are only bold text (many cards use `**Limitations**` as a heading)."""

    def compute():
        card = repo.card
        if card is None:
            return []
        found = [Section(h.text, h.line) for h in card.headings()]
        previous = ""
        in_fence = False
        for number, line in enumerate(card.body.splitlines(), start=card.body_line):
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence
            elif not in_fence:
                if _SETEXT.match(line) and previous.strip() and not previous.lstrip().startswith(("|", "#", "-", "*")):
                    found.append(Section(previous.strip(), number - 1))
                elif match := _BOLD_LINE.match(line):
                    found.append(Section(match.group(1), number))
                for match in _HTML_HEADING.finditer(line):
                    found.append(Section(re.sub(r"<[^>]+>", "", match.group(1)), number))
            previous = line
        return sorted(found, key=lambda s: s.line)

    return repo.memo(("card", "sections"), compute)


def normalise_title(title: str) -> str:
    """Lower case, without markdown links/emphasis, numbering, emoji and punctuation."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)
    text = text.lower().replace("&", " and ").replace("-", " ").replace("_", " ")
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    text = re.sub(r"^\s*(\d+\s*)+", " ", text)  # "2.1 Training data"
    return " ".join(text.split())


# What a reviewer looks for, and the heading words that provide it. A configured section
# that is not a key here is found by its own words.
SECTION_SYNONYMS: dict[str, tuple[str, ...]] = {
    "intended uses": (
        "intended use",
        "uses",
        "use cases",
        "use case",
        "out of scope",
        "direct use",
        "downstream use",
        "misuse",
        "applications",
    ),
    "limitations": ("limitation", "bias", "risk", "ethic", "safety", "caveat", "known issues", "harm", "fairness"),
    "training data": (
        "training data",
        "train data",
        "training dataset",
        "training corpus",
        "pretraining data",
        "pre training data",
        "fine tuning data",
        "finetuning data",
        "datasets",
        "dataset",
        "data",
    ),
    "evaluation": ("evaluation", "eval", "results", "benchmark", "performance", "metrics", "testing", "accuracy"),
}


def has_section(sections: list[Section], wanted: str) -> bool:
    """A title that contains one of the synonyms of `wanted` at a word start ("limitation"
    matches "Limitations", "eval" matches "Evaluation results")."""
    words = SECTION_SYNONYMS.get(normalise_title(wanted), (normalise_title(wanted),))
    patterns = [re.compile(r"\b" + re.escape(word)) for word in words if word]
    return any(pattern.search(normalise_title(section.title)) for section in sections for pattern in patterns)


# -- base models ---------------------------------------------------------------------

# A Hub id: one owner, one name; names are letters, digits, '-', '_', '.'.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
# First components that are folders of a training run, not Hub owners.
_LOCAL_DIRS = {
    "output",
    "outputs",
    "out",
    "models",
    "model",
    "checkpoints",
    "checkpoint",
    "ckpt",
    "ckpts",
    "runs",
    "tmp",
    "temp",
    "data",
    "results",
    "saved_models",
    "save",
    "home",
    "content",
    "workspace",
    "mnt",
    "root",
    "kaggle",
    "drive",
    "exp",
    "experiments",
}


def looks_like_hub_id(value) -> bool:
    """True for `org/name` that is not recognisably a local path (`/abs`, `./rel`,
    `output/checkpoint-500`)."""
    if not isinstance(value, str) or not _HUB_ID.match(value) or ".." in value or "--" in value:
        return False
    owner, name = value.split("/")
    return owner.lower() not in _LOCAL_DIRS and not re.match(r"^(checkpoint|ckpt|epoch|step)[-_]?\d+$", name, re.I)


def same_model(a: str, b: str) -> bool:
    return a.strip().strip("/").lower() == b.strip().strip("/").lower()


def cache_repo_id(root) -> str | None:
    """org/name of a snapshot in the Hugging Face cache layout
    (`models--org--name/snapshots/<commit>`), else None."""
    from pathlib import PurePath

    parts = PurePath(root).parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        owner_and_name = parts[-3].removeprefix("models--").split("--")
        if len(owner_and_name) == 2 and all(owner_and_name):
            return "/".join(owner_and_name)
    return None


def own_repo_ids(repo) -> list[str]:
    """What this repo is called on the Hub, where hfcheck knows it: the id of a Hub
    target, or of a snapshot in the HF cache layout; for another local folder only its
    name is known (compared with the name part of an id)."""
    hub = getattr(repo, "hub", None)
    if hub is not None:
        return [hub.repo_id]
    cached = cache_repo_id(repo.root) or cache_repo_id(repo.root.resolve())
    return [cached] if cached else []


def is_own_repo(repo, value: str) -> bool:
    if any(same_model(value, own) for own in own_repo_ids(repo)):
        return True
    return (
        getattr(repo, "hub", None) is None and not own_repo_ids(repo) and value.split("/")[-1].lower() == repo.root.resolve().name.lower()
    )


class BaseClaim(NamedTuple):
    """A file that names the model this one was derived from."""

    path: str
    key: str
    value: str
    line: int | None
    adapter: bool  # adapter_config.json: the base is loaded at run time


def base_model_claims(repo) -> list[BaseClaim]:
    claims = []
    adapter = repo.json("adapter_config.json")
    if adapter is not None and adapter.error is None and isinstance(adapter.data, dict):
        value = adapter.data.get("base_model_name_or_path")
        if isinstance(value, str) and value.strip():
            claims.append(
                BaseClaim("adapter_config.json", "base_model_name_or_path", value.strip(), adapter.line_of("base_model_name_or_path"), True)
            )
    config = repo.config
    value = config.get("_name_or_path") if config else None
    if looks_like_hub_id(value) and not is_own_repo(repo, value):
        claims.append(BaseClaim("config.json", "_name_or_path", value, repo.json("config.json").line_of("_name_or_path"), False))
    return claims


def card_base_models(metadata: dict) -> list[str] | None:
    """The card's `base_model` as a list of ids; None when absent or not strings."""
    value = metadata.get("base_model")
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return [v.strip() for v in value]
    return None


# -- the Hub's license list ------------------------------------------------------------


def hub_licenses() -> dict:
    """hfcheck/data/hub_licenses.json: {"source", "licenses": {id: name}, "non_commercial": [ids]}."""
    from hfcheck.data import load

    return load("hub_licenses.json")


def license_ids() -> dict[str, str]:
    return hub_licenses()["licenses"]


_ALIASES = {
    "apache": "apache-2.0",
    "asl": "apache-2.0",
    "asl-2.0": "apache-2.0",
    "expat": "mit",
    "bsd-3": "bsd-3-clause",
    "bsd-2": "bsd-2-clause",
    "new-bsd": "bsd-3-clause",
    "simplified-bsd": "bsd-2-clause",
    "cc0": "cc0-1.0",
    "public-domain": "cc0-1.0",
    "llama-2-community": "llama2",
    "llama-3-community": "llama3",
    "gemma-terms-of-use": "gemma",
    "openrail-m": "openrail",
}


def _variants(value: str) -> list[str]:
    """Spellings to try, most literal first: "Apache License, Version 2.0" -> apache-2.0,
    "apache2" -> apache-2.0, "GPL-3.0-only" -> gpl-3.0, "Llama 3.1" -> llama3.1."""
    text = re.sub(r"[^a-z0-9.+]+", "-", value.strip().lower())
    text = re.sub(r"\b(the|license|licence|agreement|version)\b", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-.")
    text = re.sub(r"(-only|-or-later|\+)$", "", text)  # SPDX GPL-3.0-only / -or-later
    out = [text, _ALIASES.get(text, "")]
    match = re.match(r"^([a-z][a-z-]*?)-?v?(\d+)(?:\.(\d+))?$", text)
    if match:
        name, major, minor = match.group(1), match.group(2), match.group(3) or "0"
        dotted = [f"{name}{major}.{minor}", f"{name}{major}"] if match.group(3) else [f"{name}{major}", f"{name}{major}.{minor}"]
        out += [f"{name}-{major}.{minor}", *dotted, _ALIASES.get(f"{name}-{major}", "")]
    return [v for v in out if v]


def closest_license(value: str) -> str | None:
    """The Hub identifier `value` most likely means, or None when nothing is close."""
    ids = license_ids()
    variants = _variants(value)
    for variant in variants:
        if variant in ids:
            return variant
    import difflib

    match = difflib.get_close_matches(variants[0] if variants else value.lower(), list(ids), n=1, cutoff=0.85)
    return match[0] if match else None


# -- LICENSE files ------------------------------------------------------------------------


def license_files(repo) -> list[str]:
    return sorted(rel for rel in repo.files if "/" not in rel and rel.upper().startswith(("LICENSE", "LICENCE")))


class LicenseText(NamedTuple):
    name: str  # e.g. "Apache License 2.0"
    ids: frozenset  # Hub identifiers this text is consistent with


_CC_TITLE = re.compile(r"attribution(-noncommercial)?(-sharealike|-noderivatives|-noderivs)?(?:-noncommercial)? (\d\.\d)")
_LLAMA_TITLE = re.compile(r"llama (\d(?:\.\d)?) community license")
_OPENRAIL = frozenset(
    {"openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "openrail++"}
)
_LLAMA3 = frozenset({"llama3", "llama3.1", "llama3.2", "llama3.3"})


# One ordered run of phrase tests: the order decides ties between licenses that quote
# each other, so it stays in one place.
def identify_license_text(text: str) -> LicenseText | None:  # noqa: C901 - older than the bound; split it when it next changes
    """The license a LICENSE file's text is, from distinctive phrases; None when unsure.
    Titles are looked for in the first lines only, and of the GNU licenses the first one
    named is the title: GPL-3.0's body names the Affero and Lesser GPL, and a notice may
    quote another license further down."""
    flat = " ".join(text.lower().split())
    head = flat[:800]
    gnu = {
        name: head.find(name)
        for name in (
            "gnu affero general public license",
            "gnu lesser general public license",
            "gnu library general public license",
            "gnu general public license",
        )
    }
    gnu = {name: at for name, at in gnu.items() if at >= 0}
    title = min(gnu, key=gnu.get) if gnu else None  # the first one named is the title
    if title == "gnu affero general public license":
        return LicenseText("GNU AGPL v3", frozenset({"agpl-3.0"}))
    if title in ("gnu lesser general public license", "gnu library general public license"):
        if "version 3" in head:
            return LicenseText("GNU LGPL v3", frozenset({"lgpl-3.0", "lgpl"}))
        if "version 2.1" in head or "version 2," in head:
            return LicenseText("GNU LGPL v2.1", frozenset({"lgpl-2.1", "lgpl"}))
        return LicenseText("GNU LGPL", frozenset({"lgpl", "lgpl-2.1", "lgpl-3.0"}))
    if title == "gnu general public license":
        if "version 3, 29 june 2007" in head:
            return LicenseText("GNU GPL v3", frozenset({"gpl-3.0", "gpl"}))
        if "version 2, june 1991" in head:
            return LicenseText("GNU GPL v2", frozenset({"gpl-2.0", "gpl"}))
        return None
    if re.search(r"apache license,? version 2\.0|apache license version 2\.0, january 2004", head):
        return LicenseText("Apache License 2.0", frozenset({"apache-2.0"}))
    if "mozilla public license" in head and re.search(r"(version|v\.) ?2\.0", head):
        return LicenseText("Mozilla Public License 2.0", frozenset({"mpl-2.0"}))
    if "cc0 1.0 universal" in head:
        return LicenseText("CC0 1.0", frozenset({"cc0-1.0", "cc"}))
    match = _CC_TITLE.search(head)
    if match and "creative commons" in flat:
        nc, variant, version = match.groups()
        variant = {"-sharealike": "-sa", "-noderivatives": "-nd", "-noderivs": "-nd"}.get(variant or "", "")
        ident = f"cc-by{'-nc' if nc else ''}{variant}-{version}"
        return LicenseText(f"Creative Commons {ident.upper()}", frozenset({ident, "cc"}))
    match = _LLAMA_TITLE.search(head)
    if match:
        version = match.group(1)
        ids = _LLAMA3 if version.startswith("3") else frozenset({f"llama{version}"})
        return LicenseText(f"Llama {version} Community License", ids)
    if "gemma terms of use" in head:
        return LicenseText("Gemma Terms of Use", frozenset({"gemma"}))
    if re.search(r"open ?rail|responsible ai license", head):
        return LicenseText("an OpenRAIL license", _OPENRAIL)
    # Short permissive licenses: their title is often just a copyright line.
    mit = "permission is hereby granted, free of charge, to any person obtaining a copy" in flat
    bsd = "redistribution and use in source and binary forms, with or without modification, are permitted" in flat
    if mit and not bsd:
        return LicenseText("MIT", frozenset({"mit"}))
    if bsd and not mit:
        if "no express or implied licenses to any party's patent rights" in flat:
            return LicenseText("BSD 3-Clause Clear", frozenset({"bsd-3-clause-clear", "bsd"}))
        if "neither the name of" in flat or "may be used to endorse or promote products" in flat:
            return LicenseText("BSD 3-Clause", frozenset({"bsd-3-clause", "bsd"}))
        return LicenseText("BSD 2-Clause", frozenset({"bsd-2-clause", "bsd"}))
    return None


# Identifiers whose text we can recognise: only for these is a different text a mismatch.
RECOGNISABLE = frozenset(
    {
        "agpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "apache-2.0",
        "mpl-2.0",
        "cc",
        "cc0-1.0",
        "mit",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "gemma",
        "llama2",
        "llama4",
    }
    | _LLAMA3
    | _OPENRAIL
    | {f"cc-by{nc}{v}-{ver}" for nc in ("", "-nc") for v in ("", "-sa", "-nd") for ver in ("2.0", "2.5", "3.0", "4.0")}
)
