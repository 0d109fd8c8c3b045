"""Feature frames against a model's signature: dtypes, missing and mistyped columns.

Shared by scoring (``snr score``, local and Spark), evaluation and retraining: features are
checked before any row is scored, and an ``exposure_<intervention>`` column the model knows
but the data lack (an intervention not rolled out in these data) is scored as 0, with a
warning.
"""

from __future__ import annotations

import logging
import warnings

import pandas as pd

from snr_models.errors import SnrInputError
from snr_models.features.sql import CATEGORICAL_FEATURES

__all__ = ["align_columns", "check_signature", "normalise", "signature_fill"]

logger = logging.getLogger(__name__)

_NUMERIC_TYPES = {"double", "float", "long", "integer", "boolean"}


def align_columns(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A model's input ``columns`` from a feature frame.

    An ``exposure_<intervention>`` column the model knows but the data lack (an
    intervention absent from these data) is filled with 0, with a warning; any other
    missing column is an error.

    Raises
    ------
    SnrInputError
        If a non-exposure feature the model needs is missing.
    """
    missing = [c for c in columns if c not in frame.columns]
    fill = [c for c in missing if c.startswith("exposure_")]
    hard = [c for c in missing if c not in fill]
    if hard:
        raise SnrInputError(
            f"the data lack feature(s) the model was trained on: {', '.join(hard[:10])}"
        )
    if fill:
        message = (
            f"intervention exposure(s) {', '.join(fill)} absent from the data; scored as 0 "
            "(not rolled out)"
        )
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=2)
        frame = frame.assign(**{c: 0.0 for c in fill})
    return frame[columns]


def _kind_ok(expected: str, series: pd.Series) -> bool:
    if expected in _NUMERIC_TYPES:
        return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    if expected == "string":
        return pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)
    if expected == "datetime":
        return pd.api.types.is_datetime64_any_dtype(series)
    return True


def check_signature(frame: pd.DataFrame, inputs: list[tuple[str, str]]) -> list[str]:
    """Check a feature frame against a model signature's inputs; return exposure fills.

    Parameters
    ----------
    frame : DataFrame
        Features (a chunk is enough: the schema is the same for every chunk).
    inputs : list of (name, type)
        The signature's input columns and MLflow types.

    Returns
    -------
    list of str
        ``exposure_*`` columns the model knows but the data lack (scored as 0: the
        intervention was not rolled out in these data).

    Raises
    ------
    SnrInputError
        Naming every missing column and every column of the wrong type.

    Examples
    --------
    >>> check_signature(pd.DataFrame({"a": [1.0]}), [("a", "double"), ("exposure_x", "double")])
    ['exposure_x']
    """
    missing = [n for n, _ in inputs if n not in frame.columns and not n.startswith("exposure_")]
    fill = [n for n, _ in inputs if n not in frame.columns and n.startswith("exposure_")]
    wrong = [
        f"{n} (expected {t}, got {frame[n].dtype})"
        for n, t in inputs
        if n in frame.columns and not _kind_ok(t, frame[n])
    ]
    if missing or wrong:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing[:10])}")
        if wrong:
            parts.append(f"wrong type(s) {', '.join(wrong[:10])}")
        raise SnrInputError(
            "the data do not match the model's signature: " + "; ".join(parts) + " (were the "
            "features built with the same version of snr_models as the model?)"
        )
    return fill


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """The dtypes :func:`~snr_models.features.build_features` returns (str ids, us dates)."""
    updates = {
        c: frame[c].astype("str")
        for c in ("client_id", "branch_id", *CATEGORICAL_FEATURES)
        if c in frame.columns and not pd.api.types.is_string_dtype(frame[c])
    }
    if "as_of" in frame.columns and frame["as_of"].dtype != "datetime64[us]":
        updates["as_of"] = frame["as_of"].astype("datetime64[us]")
    return frame.assign(**updates) if updates else frame


def signature_fill(
    inputs: list[tuple[str, str]], chunk: pd.DataFrame, stacklevel: int = 2
) -> list[str]:
    """Check the first chunk of features against a model's signature; warn of fills.

    Returns
    -------
    list of str
        The ``exposure_*`` columns to score as 0 (see :func:`check_signature`).

    Raises
    ------
    SnrInputError
        If the chunk does not match the signature.
    """
    fill = check_signature(chunk, inputs) if inputs else []
    if fill:
        message = (
            f"intervention exposure(s) {', '.join(fill)} absent from the data; "
            "scored as 0 (not rolled out)"
        )
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
    return fill
