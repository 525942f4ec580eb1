"""The license: declared in the card's metadata with an identifier the Hub knows, custom
licenses named and linked, non-commercial terms and gates made visible to a CI gate, and
a LICENSE file that agrees with the card.

A repo with no card is reported once by CRD001, and a card whose metadata is broken by
CRD002; LIC001 adds an error for those only when the repo has no LICENSE file either: then
nothing in the repo grants a license at all, which a `select = ["license"]` gate must not
pass."""

from __future__ import annotations

import re

from hfcheck.edits import Edit
from hfcheck.facts.card import (
    RECOGNISABLE,
    card_metadata,
    closest_license,
    edited_card_metadata,
    looks_like_model_repo,
    hub_licenses,
    identify_license_text,
    key_line,
    license_files,
    license_ids,
)
from hfcheck.findings import Finding
from hfcheck.registry import fixer, rule

GATED_KEYS = (
    "gated",
    "extra_gated_prompt",
    "extra_gated_fields",
    "extra_gated_heading",
    "extra_gated_description",
    "extra_gated_button_content",
    "extra_gated_eu_disallowed",
)


def _absent(value) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _declared(metadata: dict) -> list[str]:
    value = metadata.get("license")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


@rule("LIC001", concern="license", severity="error")
def license_missing(repo):
    """No license is declared: the card's metadata has no `license`, or the repo has
    neither readable card metadata nor a LICENSE file.

    Why: without a license nobody may legally use, modify or redistribute the weights;
    legal reviews block the model, and the Hub lists it under no license.
    Fix: add `license: <identifier>` (e.g. apache-2.0) to the card's metadata, or
    `license: other` with `license_name` and `license_link` for a custom license.
    """
    metadata = card_metadata(repo)
    files = license_files(repo)
    if metadata is None:
        if files:
            return
        if repo.card_path is None:
            if looks_like_model_repo(repo):  # as CRD001: a deployment folder needs no card
                yield Finding.at("README.md", "no license anywhere: there is no model card (README.md) and no LICENSE file")
        else:
            yield Finding.at(
                repo.card_path, "no license anywhere: the card's metadata cannot be read (see CRD002) and there is no LICENSE file", line=1
            )
        return
    if _absent(metadata.get("license")):
        fix = None
        if files:
            text = _license_text(repo, files[0])
            known = identify_license_text(text) if text else None
            if known is not None and len(known.ids) <= 2:
                fix = f"{files[0]} is the {known.name} text: add `license: {sorted(known.ids - {'cc', 'bsd', 'gpl', 'lgpl'})[0]}` to the card's metadata"
        where = f" ({', '.join(files)} exists, but the Hub and license scanners read the card)" if files else ""
        yield Finding.at(repo.card_path, f"the card's metadata has no license{where}", line=1, fix=fix)


@rule("LIC002", concern="license", severity="error", fixable=False)
def license_unknown(repo):
    """The card's `license` is not an identifier from the Hub's license list.

    Why: the Hub shows an unknown value as no license and rejects it in the metadata
    editor; license scanners that map identifiers to obligations skip the model.
    Fix: use the identifier from the Hub's list (hub-docs repositories-licenses.md,
    shipped as hfcheck/data/hub_licenses.json), e.g. apache-2.0, mit, llama3.1; for a
    license that is not listed use `license: other` with `license_name` and `license_link`.
    Example: `license: apache2` (should be apache-2.0), `license: MIT License` (mit).
    Fixes: an unsafe fix (it picks a license identifier: needs --unsafe-fixes) that
    replaces each unknown value with the identifier the finding suggests, in the card's
    metadata only; values with no close identifier are left alone.
    """
    metadata = card_metadata(repo)
    if not metadata or _absent(metadata.get("license")):
        return
    value = metadata["license"]
    line = key_line(repo, "license")
    if not isinstance(value, (str, list)) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
        yield Finding.at(repo.card_path, f"license must be an identifier string, not {type(value).__name__} {value!r}"[:200], line=line)
        return
    ids = license_ids()
    for declared in _declared(metadata):
        if declared in ids:
            continue
        suggestion = closest_license(declared)
        if suggestion:
            yield Finding.at(
                repo.card_path,
                f"license {declared!r} is not a Hub license identifier; did you mean {suggestion!r}?",
                line=line,
                fix=f"license: {suggestion}",
            )
        else:
            yield Finding.at(repo.card_path, f"license {declared!r} is not a Hub license identifier", line=line)


@fixer("LIC002", safe=False)
def license_typo(repo, findings):
    """license identifiers corrected to the closest Hub identifier"""
    metadata = card_metadata(repo)
    text = repo.text(repo.card_path) if repo.card_path else None
    if not metadata or text is None or not repo.card.front_matter_closed:
        return []
    ids = license_ids()
    wanted = {declared: closest_license(declared) for declared in _declared(metadata) if declared not in ids}
    wanted = {old: new for old, new in wanted.items() if new}
    if not wanted:
        return []
    lines = text.splitlines(keepends=True)
    key = None
    for number in range(1, repo.card.body_line - 2):
        line = lines[number]
        top = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if top:
            key = top.group(1)
        if key != "license":
            continue
        for old, new in wanted.items():
            pattern = re.compile(r"^(\s*(?:license\s*:|-)\s*)(['\"]?)" + re.escape(old) + r"\2(\s*(?:#.*)?)$", re.DOTALL)
            match = pattern.match(line.rstrip("\r\n"))
            if match:
                lines[number] = f"{match.group(1)}{new}{match.group(3)}" + line[len(line.rstrip(chr(13) + chr(10))) :]
                break
    fixed = "".join(lines)
    after = edited_card_metadata(fixed)
    if [wanted.get(v, v) for v in _declared(metadata)] != _declared(after):
        return []  # a layout this edit does not understand: leave the card to a person
    return [Edit(repo.card_path, fixed.encode("utf-8"))]


@rule("LIC003", concern="license", severity="error")
def custom_license_unnamed(repo):
    """`license: other` without both `license_name` and `license_link`, or a
    `license_link` to a file of the repo that does not exist.

    Why: "other" tells a reviewer nothing; the Hub shows `license_name` as the license
    and links `license_link`, and a link to an absent LICENSE leaves the terms unknown.
    Fix: add `license_name: <short-id>` and `license_link: LICENSE` (or a URL), and commit
    the LICENSE file the link points to.
    """
    metadata = card_metadata(repo)
    if not metadata:
        return
    if "other" in _declared(metadata):
        missing = [key for key in ("license_name", "license_link") if not (isinstance(metadata.get(key), str) and metadata[key].strip())]
        if missing:
            yield Finding.at(
                repo.card_path,
                f"license: other without {' and '.join(missing)}: the license has no name or text a reviewer can read",
                line=key_line(repo, "license"),
            )
    link = metadata.get("license_link")
    target = _own_file(repo, link) if isinstance(link, str) else None
    if target is not None and not repo.exists(target):
        present = license_files(repo)
        hint = f" (the repo has {', '.join(present)})" if present else ""
        yield Finding.at(
            repo.card_path, f"license_link points to {target}, which is not in the repo{hint}", line=key_line(repo, "license_link")
        )


_HUB_FILE_URL = re.compile(r"^https?://(?:www\.)?huggingface\.co/([^/]+/[^/]+)/(?:blob|resolve|raw)/[^/]+/(.+)$")


def _own_file(repo, link: str) -> str | None:
    """The repo file a license_link points to: a relative path, or a huggingface.co URL
    of this repo (for a local folder: a repo of the folder's name). None for other URLs."""
    link = link.strip().split("#")[0].split("?")[0]
    if not link:
        return None
    match = _HUB_FILE_URL.match(link)
    if match:
        repo_id, path = match.groups()
        hub = getattr(repo, "hub", None)
        own = (
            hub.repo_id.lower() == repo_id.lower() if hub is not None else repo_id.split("/")[1].lower() == repo.root.resolve().name.lower()
        )
        return path if own else None
    if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I) or link.startswith(("/", "//")):
        return None
    path = link[2:] if link.startswith("./") else link
    return path if path and ".." not in path.split("/") else None


@rule("LIC004", concern="license", severity="info")
def license_restricts_use(repo):
    """The license forbids commercial use or is research-only (cc-by-nc-*, FAIR
    noncommercial, research licenses), or is `unknown`.

    Why: these are fine to publish but not to ship in a product; companies gate commercial
    deploys on it. It is an info so that a CI gate can opt in: `severity = { LIC004 =
    "error" }` or `select = ["LIC004"]` with `fail_on = "info"`.
    Fix: nothing to fix for research use; for a commercial deploy pick a model under a
    commercial license, or get one from the licensor.
    """
    metadata = card_metadata(repo)
    if not metadata:
        return
    restricted = set(hub_licenses().get("non_commercial", ()))
    names = license_ids()
    for declared in _declared(metadata):
        if declared in restricted:
            yield Finding.at(
                repo.card_path,
                f"license {declared} ({names.get(declared, declared)}) does not allow commercial use",
                line=key_line(repo, "license"),
            )
        elif declared == "unknown":
            yield Finding.at(
                repo.card_path,
                "license: unknown: the terms are not known, so commercial use is not cleared",
                line=key_line(repo, "license"),
            )


@rule("LIC005", concern="license", severity="info")
def gated_model(repo):
    """The card has gated-access fields (`extra_gated_prompt`, `extra_gated_fields`,
    ...): users must accept terms on the Hub before downloading.

    Why: a gate usually carries terms (an acceptable-use policy, contact sharing) that a
    deployment inherits; and CI or serving machines need a token of an account that
    accepted them, or the download fails with 401/403.
    Fix: nothing to fix; read and record the terms, and give deploy machines an
    HF_TOKEN of an account that accepted them. Promote to an error with `severity`.
    """
    metadata = card_metadata(repo)
    if not metadata:
        return
    present = [key for key in GATED_KEYS if metadata.get(key) not in (None, False, "", [], {})]
    if present:
        yield Finding.at(
            repo.card_path,
            f"gated model ({', '.join(present)}): downloading requires accepting terms on the Hub",
            line=key_line(repo, present[0]),
        )


@rule("LIC006", concern="license", severity="warning")
def license_file_mismatch(repo):
    """A LICENSE file's text is clearly another license than the card declares.

    Why: the card is what the Hub, scanners and reviewers read, the LICENSE file is what
    lawyers read; when they disagree, which terms apply is unclear and reviews stop.
    Only clear cases are reported: the file is recognised from distinctive phrases of a
    common license (Apache 2.0, MIT, BSD, GPL/LGPL/AGPL, MPL 2.0, Creative Commons,
    Llama, Gemma, OpenRAIL) and the card declares a recognisable license it is not.
    Fix: make the card's `license` match the LICENSE text, or replace the file with the
    text of the declared license.
    """
    metadata = card_metadata(repo)
    if not metadata:
        return
    declared = _declared(metadata)
    if not declared:
        return
    custom_name = metadata.get("license_name") if isinstance(metadata.get("license_name"), str) else None
    for rel in license_files(repo):
        text = _license_text(repo, rel)
        known = identify_license_text(text) if text else None
        if known is None or any(d in known.ids for d in declared) or (custom_name and custom_name in known.ids):
            continue
        if any(d in RECOGNISABLE for d in declared):
            yield Finding.at(rel, f"{rel} is the {known.name} text but the card declares license: {', '.join(declared)}", line=1)
        elif "other" in declared and len(known.ids) <= 2:
            ident = sorted(known.ids - {"cc", "bsd", "gpl", "lgpl"})[0]
            yield Finding.at(
                rel,
                f"{rel} is the {known.name} text but the card declares license: other",
                line=1,
                fix=f"declare `license: {ident}` in the card",
            )


def _license_text(repo, rel: str) -> str | None:
    head = repo.head(rel, 64 * 1024)  # every fingerprint is in the first pages
    return head.decode("utf-8", errors="replace") if head else None
