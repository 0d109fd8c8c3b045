"""What the churn classifiers share: input handling for frames and arrays, binary targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from snr_models.churn.design import as_frame, check_unseen, split_roles

__all__ = ["FrameClassifier", "negative_subsample"]


def negative_subsample(
    y01: np.ndarray, fraction: float, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows to fit on and their weights: every positive, a random share of the negatives.

    Exits are rare, so most of a churn model's fitting time goes to stayers that add little
    information. Keeping every positive (``y01 == 1``) and ``round(fraction * n0)`` of the
    ``n0`` negatives drawn without replacement, each weighing ``n0 / kept``, fits the same
    population likelihood in expectation (case-control sampling with inverse-probability
    weights): the weighted fit's probabilities stay calibrated, at the price of some
    variance.

    Parameters
    ----------
    y01 : ndarray of 0.0/1.0
    fraction : float in (0, 1]
        Share of the negatives kept; 1 keeps every row (weights ``None``).
    random_state : int, optional

    Returns
    -------
    (ndarray, ndarray or None)
        Sorted row positions and their weights (``None`` when every row is kept).

    Examples
    --------
    >>> y = np.array([0.0] * 8 + [1.0, 1.0])
    >>> rows, w = negative_subsample(y, 0.25)
    >>> len(rows), float(w.sum())
    (4, 10.0)
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"negative_fraction must be in (0, 1]; got {fraction!r}")
    n = len(y01)
    negatives = np.flatnonzero(y01 == 0)
    kept = min(len(negatives), max(1, round(fraction * len(negatives))))
    if fraction == 1 or kept == len(negatives):
        return np.arange(n), None
    rng = np.random.default_rng(random_state)
    chosen = rng.choice(negatives, size=kept, replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(y01 != 0), chosen]))
    weights = np.where(y01[rows] == 0, len(negatives) / kept, 1.0)
    return rows, weights


class FrameClassifier(ClassifierMixin, BaseEstimator):
    """Base of the churn classifiers: takes a feature frame (or a numeric array), binary y.

    Subclasses implement ``_fit(frame, y01)`` and ``_decision(frame)`` (log-odds).
    """

    features: Sequence[str] | None = None

    def __sklearn_tags__(self):  # noqa: D105
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags

    # -- fitting -----------------------------------------------------------------------
    def _prepare_fit(self, X: object, y: object) -> tuple[pd.DataFrame, np.ndarray]:
        frame = as_frame(X)
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(list(map(str, X.columns)), dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        y_arr = column_or_1d(y, warn=True)
        if len(y_arr) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(y_arr)}")
        if pd.isna(pd.Series(y_arr)).any():
            raise ValueError("y holds missing labels; drop rows whose label is not observed")
        check_classification_targets(y_arr)
        y_type = type_of_target(y_arr)
        if y_type != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {y_type}."
            )
        classes = np.unique(y_arr)
        if len(classes) < 2:
            raise ValueError("y has 1 class only; a churn model needs both churners and stayers")
        self.classes_ = classes
        self.n_features_in_ = frame.shape[1]
        numeric, categorical = split_roles(frame, self.features)
        self.numeric_features_ = numeric
        self.categorical_features_ = categorical
        self.categories_ = {c: sorted(map(str, pd.unique(frame[c].dropna()))) for c in categorical}
        return frame, (y_arr == classes[1]).astype(np.float64)

    def _prepare_predict(self, X: object) -> pd.DataFrame:
        check_is_fitted(self, "classes_")
        frame = as_frame(X)
        if not isinstance(X, pd.DataFrame) and frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        missing = [
            c
            for c in (*self.numeric_features_, *self.categorical_features_)
            if c not in frame.columns
        ]
        if missing:
            raise ValueError(f"feature column(s) missing from the input: {', '.join(missing)}")
        check_unseen(frame, self.categories_)
        return frame

    # -- prediction --------------------------------------------------------------------
    def decision_function(self, X: object) -> np.ndarray:
        """Log-odds of the positive class (churn)."""
        return self._decision(self._prepare_predict(X))

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities, shape ``(n, 2)``; column 1 is the churn probability."""
        p = self._proba(self._prepare_predict(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: object) -> np.ndarray:
        """The more probable class."""
        p = self.predict_proba(X)[:, 1]
        return self.classes_[(p > 0.5).astype(int)]

    def _proba(self, frame: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self._decision(frame)))

    def _decision(self, frame: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError
