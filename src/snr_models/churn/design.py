"""From a feature frame to a numeric design matrix: column roles, imputation, one-hot encoding.

Shared by the churn estimators. Model inputs are every column of the frame except the
identifier and label columns (or the explicit ``features`` list); string columns are
categorical and one-hot encoded, the rest numeric. A NumPy array is accepted too (all columns
numeric, named ``x0``, ``x1``, ...), so that the estimators also pass scikit-learn's checks.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_array

from snr_models.features import ID_COLUMNS, LABEL_COLUMNS

__all__ = ["UnseenCategoryWarning", "as_frame", "check_unseen", "make_design", "split_roles"]

logger = logging.getLogger(__name__)

_NOT_INPUTS = frozenset(ID_COLUMNS) | frozenset(LABEL_COLUMNS)


class UnseenCategoryWarning(UserWarning):
    """A categorical value at prediction time that the model never saw in training."""


def as_frame(X: object, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """``X`` as a DataFrame: a frame is returned as is (not copied); an array is validated.

    Examples
    --------
    >>> list(as_frame(np.zeros((2, 2))).columns)
    ['x0', 'x1']
    """
    if isinstance(X, pd.DataFrame):
        return X
    arr = check_array(X, ensure_all_finite="allow-nan", dtype="numeric")
    names = (
        list(columns)
        if columns is not None and len(columns) == arr.shape[1]
        else [f"x{i}" for i in range(arr.shape[1])]
    )
    return pd.DataFrame(arr, columns=names)


def split_roles(
    frame: pd.DataFrame, features: Sequence[str] | None = None
) -> tuple[list[str], list[str]]:
    """Numeric and categorical input columns of ``frame``.

    Examples
    --------
    >>> f = pd.DataFrame({"client_id": ["a"], "segment": ["retail"], "tenure_months": [3.0]})
    >>> split_roles(f)
    (['tenure_months'], ['segment'])
    """
    cols = (
        list(features)
        if features is not None
        else [c for c in frame.columns if c not in _NOT_INPUTS and not str(c).startswith("_")]
    )
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"feature column(s) missing from the input: {', '.join(missing)}")
    numeric, categorical = [], []
    for c in cols:
        dtype = frame[c].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(c)
        else:
            categorical.append(c)
    return numeric, categorical


def make_design(
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    scale: bool,
    drop_first: bool,
) -> ColumnTransformer:
    """A ColumnTransformer producing the numeric design matrix.

    Parameters
    ----------
    numeric, categorical : sequence of str
        Column roles (see :func:`split_roles`).
    scale : bool
        Impute medians (with missing-value indicators) and standardise numeric columns (for
        linear models); otherwise pass them through with NaN kept (for boosting).
    drop_first : bool
        Drop each categorical's first level (identifiable linear models); an unseen level
        is then encoded as that reference level.
    """
    if scale:
        num = Pipeline(
            [
                (
                    "impute",
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                ),
                ("scale", StandardScaler()),
            ]
        )
    else:
        num = "passthrough"
    cat = OneHotEncoder(
        drop="first" if drop_first else None,
        handle_unknown="ignore",
        sparse_output=False,
    )
    transformers = []
    if numeric:
        transformers.append(("num", num, list(numeric)))
    if categorical:
        transformers.append(("cat", cat, list(categorical)))
    return ColumnTransformer(transformers, verbose_feature_names_out=False)


def check_unseen(frame: pd.DataFrame, known: dict[str, Sequence[str]]) -> dict[str, list[str]]:
    """Warn (once per column) about categorical values never seen in training.

    Returns the unseen values per column. Unseen values are encoded as all-zero one-hot
    columns: for the logistic model that is the reference level, for boosting "none of the
    known levels".

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     check_unseen(pd.DataFrame({"segment": ["vip"]}), {"segment": ["retail"]})
    {'segment': ['vip']}
    """
    unseen: dict[str, list[str]] = {}
    for col, levels in known.items():
        if col not in frame.columns:
            continue
        values = pd.unique(frame[col].dropna())
        new = sorted(str(v) for v in values if v not in set(levels))
        if new:
            unseen[col] = new
            shown = ", ".join(repr(v) for v in new[:5])
            n_rows = int((~frame[col].isin(list(levels)) & frame[col].notna()).sum())
            message = (
                f"{col}: {len(new)} categor{'y' if len(new) == 1 else 'ies'} unseen in training "
                f"({shown}) in {n_rows} row(s); encoded as no known level (all one-hot columns 0)"
            )
            logger.warning(message)
            warnings.warn(message, UnseenCategoryWarning, stacklevel=3)
    return unseen


def design_names(transformer: ColumnTransformer) -> list[str]:
    """Output column names of a fitted design transformer."""
    return [str(n) for n in transformer.get_feature_names_out()]


def source_of(
    design_columns: Sequence[str], numeric: Sequence[str], categorical: Sequence[str]
) -> list[str]:
    """Map each design column back to its input feature (one-hot and indicators included).

    Examples
    --------
    >>> source_of(["age", "missingindicator_age", "segment_retail"], ["age"], ["segment"])
    ['age', 'age', 'segment']
    """
    out = []
    for name in design_columns:
        if name in numeric:
            out.append(name)
        elif name.startswith("missingindicator_") and name[17:] in numeric:
            out.append(name[17:])
        else:
            match = [c for c in categorical if name.startswith(f"{c}_")]
            out.append(max(match, key=len) if match else name)
    return out


def to_float(matrix: object) -> np.ndarray:
    """A dense float64 array."""
    return np.asarray(matrix, dtype=np.float64)
