"""Reading a YAML configuration file: one place for the checks every configuration needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from snr_models.errors import SnrInputError


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Return the mapping a YAML configuration file holds (``{}`` for an empty file).

    Raises
    ------
    SnrInputError
        When the file is missing, is not valid YAML, or does not hold a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise SnrInputError(f"configuration file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SnrInputError(f"configuration {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SnrInputError(f"configuration {path} must be a mapping of settings")
    return raw


def merge_mappings(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` laid over it, nested mappings merged key by key.

    Examples
    --------
    >>> merge_mappings({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"d": 4}})
    {'a': 1, 'b': {'c': 2, 'd': 4}}
    """
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_mappings(merged[key], value)
        else:
            merged[key] = value
    return merged
