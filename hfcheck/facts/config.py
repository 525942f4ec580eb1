"""Validated reads of config.json values that several rules share.

config.json is user data: `architectures` may be `true`, `model_type` a dict, a size a
string. CFG003 reports the wrong shapes; every other rule reads these values through
the accessors here, which treat a value of the wrong type as absent, so a rule about
something else neither crashes nor draws conclusions from it."""

from __future__ import annotations

import math


def architectures(repo) -> list[str]:
    """config.json's `architectures` when it is a list of class names, else []."""
    value = (repo.config or {}).get("architectures")
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return value
    return []


def model_type(repo) -> str | None:
    """config.json's `model_type` when it is a non-empty string, else None."""
    value = (repo.config or {}).get("model_type")
    return value if isinstance(value, str) and value else None


def int_value(config: dict | None, *keys: str) -> int | None:
    """The first of `keys` whose value is an integer (not a bool, not a float), else None."""
    for key in keys:
        value = (config or {}).get(key)
        if type(value) is int:
            return value
    return None


def positive_int(config: dict | None, *keys: str) -> int | None:
    """The first of `keys` whose value is an integer above 0, else None."""
    for key in keys:
        value = int_value(config, key)
        if value is not None and value > 0:
            return value
    return None


def number(config: dict | None, key: str) -> int | float | None:
    """The value of `key` when it is a finite number (not a bool, not NaN or infinity), else None."""
    value = (config or {}).get(key)
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    return None


def model_type_table() -> dict:
    """hfcheck/data/model_types.json, built from transformers' releases by
    scripts/build_model_type_table.py: `first_release` (model_type -> first release that
    knows it), `removed` (model_type -> last release that knew it) and `releases_scanned`.
    Raises hfcheck.data.PackagedDataError when the table cannot be read (reported as HFC003)."""
    from hfcheck.data import load

    return load("model_types.json")
