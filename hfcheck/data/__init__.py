"""hfcheck's packaged data tables, read through one loader.

Every table is a JSON object shipped inside the package (found with importlib.resources,
so zip and custom-finder installs work too). A table that is missing, unreadable, not
JSON or lacks the keys its readers need raises PackagedDataError: the rule that asked
for it fails, and the run reports that as HFC003 instead of silently checking nothing."""

from __future__ import annotations

import functools
import json


class PackagedDataError(RuntimeError):
    """A packaged data file could not be loaded."""


# The keys each table's readers rely on: checked once at load, so a truncated or
# hand-damaged table fails here with its name, not later as a KeyError deep in a rule.
REQUIRED_KEYS = {
    "model_types.json": ("first_release", "removed", "releases_scanned"),
    "tokenizer_classes.json": ("families", "compatible_with_all"),
    "tokenizer_defaults.json": ("padding_side", "model_type_tokenizer", "transformers"),
    "hub_licenses.json": ("licenses", "non_commercial"),
    "gpu_memory.json": ("gpus", "instance_families"),
    "canonical_models.json": ("models",),
}


@functools.cache
def load(name: str) -> dict:
    """The table `name` (e.g. "model_types.json") as a dict; raises PackagedDataError."""
    from importlib.resources import files  # on first use: the import costs a few ms

    try:
        text = files(__name__).joinpath(name).read_text(encoding="utf-8")
        table = json.loads(text)
    except (OSError, ValueError) as error:
        raise PackagedDataError(f"packaged data hfcheck/data/{name} could not be loaded ({type(error).__name__}: {error})") from error
    if not isinstance(table, dict):
        raise PackagedDataError(f"packaged data hfcheck/data/{name} is not a JSON object")
    missing = [key for key in REQUIRED_KEYS.get(name, ()) if key not in table]
    if missing:
        raise PackagedDataError(f"packaged data hfcheck/data/{name} lacks {', '.join(missing)}")
    return table
