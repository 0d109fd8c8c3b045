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
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_array

from snr_models.features import ID_COLUMNS, LABEL_COLUMNS

__all__ = [
    "MedianImputer",
    "UnseenCategoryWarning",
    "as_frame",
    "check_unseen",
    "make_design",
    "split_roles",
]

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


def _float_columns(X: object) -> list[np.ndarray]:
    """The columns of a frame or 2-D array as contiguous float64 arrays."""
    if isinstance(X, pd.DataFrame):
        return [X.iloc[:, j].to_numpy(dtype=np.float64, na_value=np.nan) for j in range(X.shape[1])]
    values = np.asarray(X, dtype=np.float64)
    return [np.ascontiguousarray(values[:, j]) for j in range(values.shape[1])]


class MedianImputer(TransformerMixin, BaseEstimator):
    """Median imputation with missing-value indicators, for numeric columns.

    The same output as scikit-learn's ``SimpleImputer(strategy="median", add_indicator=True,
    keep_empty_features=True)``: each column's missing values are replaced by the median of
    its observed training values (0 for a column with none), followed by one indicator
    column (named ``missingindicator_<column>``) per column that had a missing value in
    training. The medians come from :func:`numpy.nanmedian` (a partial sort per column),
    not from masked arrays, one column at a time.

    Examples
    --------
    >>> X = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [1.0, 2.0, 3.0, 5.0]})
    >>> imputer = MedianImputer().fit(X)
    >>> imputer.transform(X)[:, [0, 2]].tolist()
    [[1.0, 0.0], [3.0, 1.0], [3.0, 0.0], [4.0, 0.0]]
    >>> imputer.get_feature_names_out().tolist()
    ['a', 'b', 'missingindicator_a']
    """

    def fit(self, X: object, y: object = None) -> MedianImputer:
        """Learn the medians and which columns had missing values."""
        columns = _float_columns(X)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(columns)
        self.statistics_ = np.zeros(len(columns))
        has_missing = np.zeros(len(columns), dtype=bool)
        for j, values in enumerate(columns):
            missing = np.isnan(values)
            has_missing[j] = missing.any()
            observed = values[~missing] if has_missing[j] else values
            if observed.size:
                self.statistics_[j] = np.median(observed)
        self.indicator_features_ = np.flatnonzero(has_missing)
        return self

    def transform(self, X: object) -> np.ndarray:
        """Missing values replaced by the training medians, then the indicator columns."""
        columns = _float_columns(X)
        k = len(columns)
        n = len(columns[0]) if k else len(X)
        out = np.empty((n, k + len(self.indicator_features_)))
        slot = {j: k + i for i, j in enumerate(self.indicator_features_)}
        for j, values in enumerate(columns):
            missing = np.isnan(values)
            out[:, j] = values
            out[missing, j] = self.statistics_[j]
            if j in slot:
                out[:, slot[j]] = missing
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """The input names, then ``missingindicator_<name>`` per indicator column."""
        if input_features is None:
            input_features = getattr(
                self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)]
            )
        names = [str(n) for n in input_features]
        extra = [f"missingindicator_{names[i]}" for i in self.indicator_features_]
        return np.asarray(names + extra, dtype=object)


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
                ("impute", MedianImputer()),
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
