"""The model card (README.md): present, with valid metadata the Hub can index, the
sections a reviewer signs off on, and the base model a fine-tune or adapter came from.

A repo without a card is reported once (CRD001); the other card rules need a card and
stay silent without one, and rules that need its metadata stay silent when CRD002 says
the front matter is broken."""

from hfcheck.config import declare_options
from hfcheck.edits import Edit
from hfcheck.facts.card import (
    base_model_claims,
    card_base_models,
    card_metadata,
    has_section,
    key_line,
    looks_like_hub_id,
    looks_like_model_repo,
    same_model,
    section_titles,
)
from hfcheck.findings import Finding
from hfcheck.registry import fixer, rule

declare_options("card", required_sections=["intended uses", "limitations", "training data", "evaluation"])

# Hub metadata keys and the YAML shapes the Hub accepts (hub-docs modelcard.md).
# huggingface_hub's ModelCardData accepts anything here without complaint, so the
# shapes are checked by hand; `model-index` is checked with its own parser below.
_SHAPES = {
    "tags": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v)),
    "datasets": ("a list of dataset ids", lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v)),
    "metrics": ("a list of metric ids", lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v)),
    "language": (
        "a language code or a list of them",
        lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(t, str) for t in v)),
    ),
    "base_model": (
        "a model id or a list of them",
        lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(t, str) for t in v)),
    ),
    "pipeline_tag": ("a string (a Hub task such as text-generation)", lambda v: isinstance(v, str)),
    "library_name": ("a string (e.g. transformers)", lambda v: isinstance(v, str)),
    "license_name": ("a string", lambda v: isinstance(v, str)),
    "license_link": ("a string (a URL or a path in the repo)", lambda v: isinstance(v, str)),
    "base_model_relation": ("one of adapter, merge, quantized, finetune", lambda v: v in ("adapter", "merge", "quantized", "finetune")),
}


@rule("CRD001", concern="card", severity="error")
def card_missing(repo):
    """The model repository (weights, config.json, adapter_config.json or tokenizer
    files) has no README.md, so it has no model card.

    Why: the card is where the license, intended use, limitations and training data are
    declared; the Hub shows an empty page, indexes no metadata (no license, task or
    library filters) and compliance reviews reject the model.
    Fix: add a README.md with YAML metadata and the sections of the Hub's model card
    template (huggingface_hub.ModelCard.from_template writes one).
    Fixes: writes a card skeleton: metadata hfcheck can derive (library_name,
    pipeline_tag from the architecture, base_model of an adapter or fine-tune; never a
    license, which only the owner can choose) and the required sections, each with
    "[More Information Needed]" to fill in.
    """
    if repo.card_path is None and looks_like_model_repo(repo):
        yield Finding.at(
            "README.md", "README.md is missing: the repo has no model card (license, intended use, limitations, training data)"
        )


@rule("CRD002", concern="card", severity="error")
def card_metadata_invalid(repo):
    """The card's YAML front matter (the block between `---` lines at the top of
    README.md) is missing, never closed, not valid YAML, or not a mapping.

    Why: the Hub reads license, pipeline_tag, library_name, datasets and base_model from
    that block only; when it is missing or broken the model has no license on the Hub and
    is left out of every filter and widget.
    Fix: start README.md with `---`, the metadata as `key: value` lines, and a closing
    `---`; check the YAML at the line given.
    Example: a card whose first line is `# My model`, or a `---` block never closed.
    Fixes: when the block is missing, adds one with the metadata hfcheck can derive
    (as CRD001's skeleton); a broken block is left to a person.
    """
    card = repo.card
    if card is None:
        return  # unreadable (HFC001) or absent (CRD001)
    path = repo.card_path
    if not card.has_front_matter:
        yield Finding.at(path, "the card has no YAML metadata block: README.md must start with a line '---'", line=1)
    elif not card.front_matter_closed:
        yield Finding.at(path, "the card's metadata block opened by '---' on line 1 is never closed by a second '---'", line=1)
    elif card.metadata.error:
        where = f" at line {card.metadata.error.line}" if card.metadata.error.line else ""
        yield Finding.at(
            path, f"the card's metadata is not valid YAML{where}: {card.metadata.error.message}", line=card.metadata.error.line or 1
        )
    elif card.metadata.data is not None and not isinstance(card.metadata.data, dict):
        yield Finding.at(path, f"the card's metadata must be a mapping of keys, not {type(card.metadata.data).__name__}", line=2)


@rule("CRD003", concern="card", severity="warning")
def card_metadata_shape(repo):
    """A card metadata key has the wrong shape: `tags`, `datasets` or `metrics` not a
    list, `language` or `base_model` not a string or list of strings, `model-index` not
    matching the Hub's evaluation-results schema, and the like.

    Why: the Hub rejects pushes of cards whose metadata does not validate, and silently
    drops malformed keys from search, filters and the evaluation-results table.
    Fix: write the key in the shape the Hub's model card spec gives (e.g. `tags:` followed
    by `- tag` lines); for model-index, let `huggingface_hub.ModelCardData(eval_results=...)`
    write it.
    """
    metadata = card_metadata(repo)
    if not metadata:
        return
    for key, (wanted, valid) in _SHAPES.items():
        if key in metadata and metadata[key] is not None and not valid(metadata[key]):
            yield Finding.at(
                repo.card_path, f"card metadata {key!r} must be {wanted}, not {_describe(metadata[key])}", line=key_line(repo, key)
            )
    if "model-index" in metadata:
        problem = _model_index_problem(metadata["model-index"])
        if problem:
            yield Finding.at(
                repo.card_path,
                f"card metadata 'model-index' does not match the Hub's schema: {problem}",
                line=key_line(repo, "model-index"),
            )


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _model_index_problem(model_index) -> str | None:
    if not isinstance(model_index, list) or not model_index:
        return f"it must be a non-empty list of models, not {_describe(model_index)}"
    # huggingface_hub's own parser: the schema the Hub reads eval results with. Imported
    # only here, when a card has a model-index (0.4 s).
    from huggingface_hub.repocard_data import model_index_to_eval_results

    try:
        model_index_to_eval_results(model_index)
    except KeyError as error:
        return f"an entry lacks the required key {error.args[0]!r} (each model needs name and results; each result task.type, dataset.type, dataset.name and metrics with type and value)"
    except (TypeError, AttributeError):
        return "an entry is not a mapping where one is expected (model -> results -> task/dataset/metrics)"
    except Exception as error:  # noqa: BLE001 - the library validates values with ValueError, and may change
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return None


@rule("CRD004", concern="card", severity="info")
def card_task_or_library_missing(repo):
    """The card's metadata lacks `pipeline_tag` or `library_name`.

    Why: the Hub picks the inference widget, the "Use this model" code snippet and the
    task filter from them; without them it guesses from config.json, or shows nothing.
    Fix: add `pipeline_tag:` (e.g. text-generation) and `library_name:` (e.g.
    transformers) to the card's metadata.
    Fixes: adds `library_name: transformers` (sentence-transformers for those repos)
    and the pipeline_tag the architecture implies, when it implies one.
    """
    metadata = card_metadata(repo)
    if metadata is None:
        return
    for key, example in (("pipeline_tag", "text-generation"), ("library_name", "transformers")):
        if key not in metadata:
            yield Finding.at(
                repo.card_path,
                f"the card's metadata has no {key} (e.g. {key}: {example}): the Hub's widget and code snippet depend on it",
                line=1,
            )


# The Hub's model card template names (huggingface_hub templates/modelcard_template.md).
_TEMPLATE_HEADINGS = {
    "intended uses": "## Uses",
    "limitations": "## Bias, Risks, and Limitations",
    "training data": "### Training Data",
    "evaluation": "## Evaluation",
}


@rule("CRD005", concern="card", severity="warning")
def card_section_missing(repo):
    """The card lacks a section a reviewer needs: intended uses (or out-of-scope use),
    limitations (or bias and risks), training data, evaluation.

    Why: these are what a compliance review and the EU AI Act's documentation duties ask
    of a model; a card without them is sent back before the model can ship.
    Fix: add a heading for each missing section (the Hub's template names: "Uses",
    "Bias, Risks, and Limitations", "Training Data", "Evaluation"), even to say what is
    not known.
    Options: `[tool.hfcheck.options.card] required_sections = [...]`: the sections to
    require. "intended uses", "limitations", "training data" and "evaluation" are matched
    with synonyms ("Out-of-scope use", "Bias and risks", "Dataset", "Results", ...); any
    other name is matched by its own words in a heading.
    Fixes: appends a heading for each missing section with "[More Information
    Needed]" under it.
    """
    if repo.card is None or (repo.card.has_front_matter and not repo.card.front_matter_closed):
        return  # an unclosed block swallows the whole file: CRD002 says so
    required = repo.settings.option("card", "required_sections") if repo.settings else None
    if not isinstance(required, list):
        required = ["intended uses", "limitations", "training data", "evaluation"]
    sections = section_titles(repo)
    line = repo.card.body_line
    for wanted in required:
        if isinstance(wanted, str) and wanted.strip() and not has_section(sections, wanted):
            heading = _TEMPLATE_HEADINGS.get(wanted.strip().lower(), f"## {wanted.strip().capitalize()}")
            yield Finding.at(
                repo.card_path,
                f"the card has no {wanted!r} section (no heading mentions it)",
                line=line,
                fix=f"add a section `{heading}`, even to say what is not known",
            )


@rule("CRD006", concern="card", severity="warning")
def card_base_model_missing(repo):
    """The repo is an adapter (adapter_config.json) or a fine-tune (config.json's
    `_name_or_path` names another Hub model), but the card has no `base_model`.

    Why: the base model's license and usage policy carry over to derivatives; the Hub
    builds the model tree, and licence reviews trace obligations, from `base_model`.
    Fix: add `base_model: org/name` to the card's metadata (and `base_model_relation:
    adapter|finetune|quantized|merge` where the Hub cannot infer it).
    Example: a LoRA with base_model_name_or_path meta-llama/Llama-3.1-8B whose card does
    not say so.
    Fixes: adds `base_model:` with the Hub id the repo names (not a local path).
    """
    metadata = card_metadata(repo)
    if metadata is None or metadata.get("base_model"):
        return
    claims = base_model_claims(repo)
    if claims:
        claim = claims[0]
        named = f"names {claim.value!r}" if looks_like_hub_id(claim.value) else f"names the local path {claim.value!r}"
        kind = "an adapter" if claim.adapter else "a fine-tune"
        yield Finding.at(
            repo.card_path,
            f"this looks like {kind} ({claim.path} {claim.key} {named}) but the card has no base_model",
            line=1,
            fix=f"add `base_model: {claim.value}` to the card's metadata" if looks_like_hub_id(claim.value) else None,
        )
    elif repo.exists("adapter_config.json"):
        yield Finding.at(repo.card_path, "this is an adapter (adapter_config.json) but the card has no base_model", line=1)


@rule("CRD007", concern="card", severity="error")
def card_base_model_mismatch(repo):
    """The card's `base_model` is not the model adapter_config.json loads as its base.

    Why: PEFT loads `base_model_name_or_path`, whatever the card says: the Hub's model
    tree, the license review and users all see one base model while another is served.
    Fix: make the card's `base_model` and adapter_config.json's
    `base_model_name_or_path` name the same model.
    """
    metadata = card_metadata(repo)
    bases = card_base_models(metadata) if metadata else None
    if not bases:
        return
    for claim in base_model_claims(repo):
        if claim.adapter and looks_like_hub_id(claim.value) and not any(same_model(claim.value, base) for base in bases):
            yield Finding.at(
                repo.card_path,
                f"the card's base_model is {', '.join(bases)} but {claim.path} loads {claim.value!r} as the base",
                line=key_line(repo, "base_model"),
            )


# -- fixes: a card skeleton ------------------------------------------------------------

PLACEHOLDER = "[More Information Needed]"
_TASKS = (
    ("ForCausalLM", "text-generation"), ("LMHeadModel", "text-generation"), ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"), ("ForQuestionAnswering", "question-answering"), ("ForMaskedLM", "fill-mask"),
)  # fmt: skip


def _derived_metadata(repo, present: dict) -> dict:
    """Metadata hfcheck can state from the files (never a license)."""
    found = {}
    sentence_transformers = repo.exists("modules.json") or repo.exists("config_sentence_transformers.json")
    if "library_name" not in present and (repo.config is not None or sentence_transformers):
        found["library_name"] = "sentence-transformers" if sentence_transformers else "transformers"
    if "pipeline_tag" not in present:
        task = "sentence-similarity" if sentence_transformers else None
        config = repo.config or {}
        for architecture in config.get("architectures") or [] if isinstance(config.get("architectures"), list) else []:
            for suffix, name in _TASKS:
                if task is None and isinstance(architecture, str) and architecture.endswith(suffix):
                    task = name
        if (
            task is None
            and config.get("is_encoder_decoder")
            and any(isinstance(a, str) and a.endswith("ForConditionalGeneration") for a in config.get("architectures") or [])
        ):
            task = "text2text-generation"
        if task:
            found["pipeline_tag"] = task
    if not present.get("base_model"):
        claims = [c for c in base_model_claims(repo) if looks_like_hub_id(c.value)]
        if claims:
            found["base_model"] = claims[0].value
    return found


def _yaml_line(key: str, value: str) -> str:
    import json
    import re

    return f"{key}: {value if re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9._/-]*', value) else json.dumps(value)}\n"


def _missing_sections(repo, sections) -> list[str]:
    required = repo.settings.option("card", "required_sections") if repo.settings else None
    if not isinstance(required, list):
        required = ["intended uses", "limitations", "training data", "evaluation"]
    headings = []
    for wanted in required:
        if isinstance(wanted, str) and wanted.strip() and not has_section(sections, wanted):
            headings.append(_TEMPLATE_HEADINGS.get(wanted.strip().lower(), f"## {wanted.strip().capitalize()}"))
    return headings


def _sections_text(headings: list[str]) -> str:
    return "".join(f"\n{heading}\n\n{PLACEHOLDER}\n" for heading in headings)


def _card_fix(repo, *, keys: tuple[str, ...] = ("library_name", "pipeline_tag", "base_model"), sections: bool = False) -> list[Edit]:
    """The card with the derivable metadata `keys` added (a block is created when the
    card has none) and, with `sections`, the missing sections appended; a new skeleton
    card when there is none."""
    path = repo.card_path
    if path is None:
        if not looks_like_model_repo(repo):
            return []
        metadata = "".join(_yaml_line(k, v) for k, v in _derived_metadata(repo, {}).items())
        title = repo.root.resolve().name
        body = f"# {title}\n\n<!-- Card skeleton written by hfcheck --fix: fill in every section, and add a license to the metadata. -->\n"
        text = f"---\n{metadata}---\n\n{body}{_sections_text(_missing_sections(repo, []))}"
        return [Edit("README.md", text.encode("utf-8"))]
    card = repo.card
    text = repo.text(path)
    if card is None or text is None:
        return []
    if not card.has_front_matter:
        block = "".join(_yaml_line(k, v) for k, v in _derived_metadata(repo, {}).items() if k in keys)
        text = f"---\n{block}---\n\n{text}"
    elif card.front_matter_closed and card.data is not None:
        added = "".join(_yaml_line(k, v) for k, v in _derived_metadata(repo, card.data).items() if k in keys)
        if added:
            lines = text.splitlines(keepends=True)
            close = card.body_line - 2
            text = "".join(lines[:close]) + added + "".join(lines[close:])
    else:
        return []  # broken metadata (CRD002): a person must repair it first
    missing = _missing_sections(repo, section_titles(repo)) if sections else []
    if missing:
        text = text + ("" if text.endswith("\n") else "\n") + _sections_text(missing)
    return [Edit(path, text.encode("utf-8"))]


@fixer("CRD001", safe=True)
def card_skeleton(repo, findings):
    """card skeleton written: derivable metadata and the required sections"""
    return _card_fix(repo, sections=True)


@fixer("CRD002", safe=True)
def card_metadata_block(repo, findings):
    """metadata block added with what hfcheck can derive"""
    card = repo.card
    return _card_fix(repo) if card is not None and not card.has_front_matter else []


@fixer("CRD004", safe=True)
def card_task_and_library(repo, findings):
    """library_name and pipeline_tag added to the card's metadata"""
    return _card_fix(repo, keys=("library_name", "pipeline_tag"))


@fixer("CRD005", safe=True)
def card_sections(repo, findings):
    """missing card sections added as headings to fill in"""
    return _card_fix(repo, keys=(), sections=True)


@fixer("CRD006", safe=True)
def card_base_model(repo, findings):
    """base_model added to the card's metadata"""
    return _card_fix(repo, keys=("base_model",))
