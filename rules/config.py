"""config.json and the JSON files beside it: present, parseable, and shaped the way
transformers and the serving engines read them."""

from hfcheck.findings import Finding
from hfcheck.registry import rule

# Weight files transformers itself writes at the root of a model repo.
TRANSFORMERS_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "tf_model.h5",
    "flax_model.msgpack",
)
# Repos that are models without a transformers config.json.
OTHER_LAYOUTS = ("model_index.json", "adapter_config.json")


def _json_files(repo):
    return [rel for rel in repo.files if rel.endswith(".json")]


@rule("CFG001", concern="config", severity="error")
def config_missing(repo):
    """config.json is missing from a repository whose weights or card say it is a
    transformers model.

    Why: `from_pretrained` reads config.json first; without it every Auto class fails
    with "does not appear to have a file named config.json", and TGI and vLLM refuse to
    start.
    Fix: save the config beside the weights (`model.config.save_pretrained(path)`), or
    commit the config.json the weights were trained with.
    Example: a repo with model.safetensors and a card saying `library_name: transformers`
    but no config.json.
    """
    if repo.exists("config.json") or any(repo.exists(name) for name in OTHER_LAYOUTS):
        return
    weights = (
        [name for name in TRANSFORMERS_WEIGHTS if repo.exists(name)]
        + repo.glob("model-*-of-*.safetensors")
        + repo.glob("pytorch_model-*-of-*.bin")
    )
    card = repo.card.data if repo.card else None
    library = card.get("library_name") if card else None
    if weights and library in (None, "transformers"):
        yield Finding.at(weights[0], f"{weights[0]} is a transformers weight file but config.json is missing")
    elif library == "transformers":
        yield Finding.at(
            repo.card_path,
            "the card says library_name: transformers but config.json is missing",
            line=repo.card.metadata.line_of("library_name"),
        )


@rule("CFG002", concern="config", severity="error")
def invalid_json(repo):
    """A JSON file does not parse.

    Why: transformers, tokenizers and the serving engines parse these files at load
    time; one trailing comma stops the deployment. NaN and Infinity are accepted by
    Python but rejected by strict parsers (tokenizers' Rust loader, JavaScript), so they
    are a warning.
    Fix: correct the syntax at the line and column given; write JSON with `json.dump`,
    not by hand, and use null instead of NaN.
    """
    for rel in _json_files(repo):
        doc = repo.json(rel)
        if doc is None:
            continue
        if doc.error:
            where = f" at line {doc.error.line}, column {doc.error.column}" if doc.error.line else ""
            yield Finding.at(rel, f"{rel} is not valid JSON: {doc.error.message}{where}", line=doc.error.line)
        elif doc.nonstandard_constants:
            constants = ", ".join(sorted(set(doc.nonstandard_constants)))
            yield Finding.at(
                rel,
                f"{rel} uses {constants}, which is not JSON; strict parsers reject the file",
                severity="warning",
                fix="replace NaN/Infinity with null or a number",
            )


@rule("CFG003", concern="config", severity="error")
def model_type_missing(repo):
    """config.json lacks `model_type` or `architectures`, or they have the wrong shape.

    Why: AutoConfig picks the config class from `model_type` ("Unrecognized model"
    without it); pipelines, TGI and vLLM pick the model class from `architectures`
    (vLLM refuses a config without it).
    Fix: set `model_type` to the transformers model type (e.g. "llama") and
    `architectures` to a list with the class name (e.g. ["LlamaForCausalLM"]);
    `save_pretrained` writes both.
    """
    doc = repo.json("config.json")
    config = repo.config
    if config is None:
        if doc is not None and doc.error is None:
            yield Finding.at("config.json", f"config.json must be a JSON object, not {type(doc.data).__name__}", line=1)
        return
    model_type = config.get("model_type")
    if model_type is None:
        yield Finding.at("config.json", "config.json has no model_type: AutoConfig cannot tell which model this is", line=1)
    elif not isinstance(model_type, str) or not model_type.strip():
        yield Finding.at("config.json", f"model_type must be a non-empty string, not {model_type!r}", line=doc.line_of("model_type"))
    architectures = config.get("architectures")
    if architectures is None:
        if not repo.exists("adapter_config.json"):
            yield Finding.at(
                "config.json",
                "config.json has no architectures: pipelines, TGI and vLLM cannot pick the model class",
                line=1,
                severity="warning",
            )
    elif not isinstance(architectures, list) or not architectures or not all(isinstance(a, str) and a for a in architectures):
        yield Finding.at(
            "config.json",
            f"architectures must be a non-empty list of class names, not {architectures!r}",
            line=doc.line_of("architectures"),
        )


@rule("CFG004", concern="config", severity="warning")
def duplicate_json_keys(repo):
    """A JSON object has the same key twice.

    Why: Python keeps the last value and says nothing, other parsers keep the first or
    fail; the value you reviewed may not be the one that is loaded.
    Fix: delete the stale copy of the key.
    """
    for rel in _json_files(repo):
        doc = repo.json(rel)
        if doc is None or doc.error:
            continue
        for path, key in doc.duplicate_keys:
            where = ".".join(str(p) for p in path)
            yield Finding.at(
                rel,
                f"key {key!r} appears more than once{f' in {where}' if where else ''}; the last value wins",
                line=doc.line_of(*path, key),
            )


@rule("CFG005", concern="config", severity="warning")
def unknown_model_type(repo):
    """config.json's `model_type` is not one transformers knows, or one it has removed,
    and the repo ships no remote code for it.

    Why: AutoConfig, pipelines, TGI and vLLM look the model_type up in transformers'
    own table; an unknown one fails at load with "Unrecognized model" or "model type X
    not recognized" (usually a typo, or a config written by hand). A removed one loads
    only with an old transformers. Known types come from hfcheck's table of every
    transformers release (hfcheck/data/model_types.json), so a type newer than the
    table's latest release may be reported until the table is rebuilt.
    Fix: use the model_type of the architecture (the closest known one is suggested),
    or ship the model's code with `auto_map` in config.json; for a removed type, pin
    the last transformers release that has it.
    Example: `"model_type": "Llama"` (types are lower case: "llama").
    """
    from hfcheck.facts import config as facts
    from hfcheck.facts import remote_code

    model_type = facts.model_type(repo)
    table = facts.model_type_table()
    known = table.get("first_release") or {}
    card = repo.card.data if repo.card else None
    library = card.get("library_name") if card else None
    # Other libraries (timm, span-marker, ...) write config.json with their own types.
    if model_type is None or not known or library not in (None, "transformers", "sentence-transformers", "peft"):
        return
    if any(entry.auto_class == "AutoConfig" for entry in remote_code.auto_map_entries(repo)):
        return
    line = repo.json("config.json").line_of("model_type")
    latest = (table.get("releases_scanned") or {}).get("latest", "?")
    if model_type not in known:
        import difflib

        close = difflib.get_close_matches(model_type.lower(), known, n=1, cutoff=0.8)
        fix = f'did you mean "{close[0]}"? Use the model_type of the architecture, or ship the model code with auto_map' if close else None
        yield Finding.at(
            "config.json",
            f"model_type {model_type!r} is not known to transformers (up to {latest}): loading fails with 'Unrecognized model'",
            line=line,
            fix=fix,
        )
    elif model_type in (table.get("removed") or {}):
        last = table["removed"][model_type]
        yield Finding.at(
            "config.json",
            f"model_type {model_type!r} was removed from transformers after {last}: it loads only with transformers<={last}",
            line=line,
            fix=f"pin transformers=={last}, or convert the model to a maintained architecture",
        )
