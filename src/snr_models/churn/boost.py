"""Gradient boosting (HistGradientBoostingClassifier) calibrated on a later time slice."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from snr_models.churn.base import FrameClassifier, negative_subsample
from snr_models.churn.design import design_names, make_design, source_of, to_float
from snr_models.churn.treeshap import TreeExplainer

__all__ = ["AdditivityError", "ChurnBoost"]

logger = logging.getLogger(__name__)


class AdditivityError(RuntimeError):
    """SHAP values do not add up to the model's output: the explanation would be wrong."""


def _shrunk_isotonic(raw: np.ndarray, y: np.ndarray) -> IsotonicRegression:
    """Isotonic calibration whose blocks are shrunk to ``(k + 1) / (n + 2)``, never 0 or 1.

    ``k`` churners among the ``n`` rows of each block of the plain isotonic fit; the shrunk
    values are made monotone again by a second (weighted-mean) isotonic fit, which keeps them
    within ``[1 / (m + 2), (m + 1) / (m + 2)]`` for ``m`` rows.
    """
    plain = IsotonicRegression(out_of_bounds="clip").fit(raw, y)
    _, block = np.unique(plain.predict(raw), return_inverse=True)
    n = np.bincount(block)
    k = np.bincount(block, weights=y)
    shrunk = ((k + 1) / (n + 2))[block]
    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, shrunk)


class ChurnBoost(FrameClassifier):
    """HistGradientBoosting churn model whose probabilities are calibrated on later months.

    The rows of the latest ``calibration_fraction`` of as-of months (``time_column``) are held
    out: the boosting model is fitted on the earlier months and the calibrator (Platt's
    sigmoid on the log-odds, or isotonic) on the held-out later slice, so calibration sees
    the drift a deployed model meets. Without a time column (e.g. an array), a random
    stratified ``calibration_fraction`` of the rows is held out (seeded by ``random_state``;
    the same share of churners as the whole), so that data sorted by target or id cannot
    bias it. Categorical features are one-hot encoded (never native categorical splits), so
    that :meth:`shap_values` is exact.

    Isotonic calibration never returns exactly 0 or 1: each block of the isotonic fit with
    ``k`` churners among ``n`` calibration rows gets ``(k + 1) / (n + 2)`` (Laplace's rule of
    succession) before the fit is made monotone again, so every probability lies within
    ``[1 / (m + 2), (m + 1) / (m + 2)]`` for ``m`` calibration rows.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (no early
        stopping, so that the trees' node counts are the training set's).
    calibration : {"sigmoid", "isotonic", None}, default "sigmoid"
        The calibrator; ``None`` fits the boosting model on all rows, uncalibrated.
    calibration_fraction : float, default 0.25
        Share of the (latest) as-of months held out for calibration (without a time column:
        share of the rows, drawn at random within each class).
    time_column : str, default "as_of"
        Column ordering the rows in time; not a model input.
    features : sequence of str, optional
        Input columns (default: all but identifiers and labels).
    negative_fraction : float, default 1.0
        Share of the stayers (``y == 0``) of the training slice the trees are fitted on,
        every churner kept and the kept stayers weighted up
        (:func:`~snr_models.churn.base.negative_subsample`); the calibration slice is kept
        whole. 1 fits every row.
    random_state : int, default 0

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=600), "seg": rng.choice(["a", "b"], 600)})
    >>> y = (rng.random(600) < 1 / (1 + np.exp(-2 * X["x"]))).astype(int)
    >>> model = ChurnBoost(max_iter=20).fit(X, y)
    >>> model.predict_proba(X).shape
    (600, 2)
    """

    def __init__(
        self,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        calibration: str | None = "sigmoid",
        calibration_fraction: float = 0.25,
        time_column: str = "as_of",
        features: Sequence[str] | None = None,
        negative_fraction: float = 1.0,
        random_state: int | None = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.time_column = time_column
        self.features = features
        self.negative_fraction = negative_fraction
        self.random_state = random_state

    def _calibration_mask(self, frame: pd.DataFrame, y01: np.ndarray) -> np.ndarray:
        n = len(frame)
        if self.calibration is None:
            return np.zeros(n, dtype=bool)
        if not 0 < self.calibration_fraction < 1:
            raise ValueError("calibration_fraction must be in (0, 1)")
        if self.time_column in frame.columns:
            times = np.sort(pd.unique(frame[self.time_column]))
            if len(times) < 2:
                raise ValueError(
                    f"calibration on a later time slice needs at least two distinct "
                    f"{self.time_column!r} values; got {len(times)}"
                )
            k = min(len(times) - 1, max(1, math.ceil(self.calibration_fraction * len(times))))
            return frame[self.time_column].to_numpy() >= times[-k]
        # no time order: a random slice with the churners' share of the whole
        rng = np.random.default_rng(self.random_state)
        mask = np.zeros(n, dtype=bool)
        for cls in (0.0, 1.0):
            rows = np.flatnonzero(y01 == cls)
            k = max(1, int(round(self.calibration_fraction * len(rows))))
            mask[rng.choice(rows, size=min(k, len(rows) - 1), replace=False)] = True
        return mask

    def fit(self, X: object, y: object) -> ChurnBoost:
        """Fit boosting on the earlier rows and the calibrator on the later slice."""
        frame, y01 = self._prepare_fit(X, y)
        if self.time_column in self.numeric_features_:
            self.numeric_features_.remove(self.time_column)
        if self.time_column in self.categorical_features_:
            self.categorical_features_.remove(self.time_column)
            self.categories_.pop(self.time_column, None)
        mask = self._calibration_mask(frame, y01)
        if self.calibration is not None and len(np.unique(y01[~mask])) < 2:
            raise ValueError("the training slice (before calibration) holds a single class")
        train = np.flatnonzero(~mask)
        rows, weights = negative_subsample(y01[train], self.negative_fraction, self.random_state)
        train = train[rows]
        calibration = np.flatnonzero(mask)
        design = make_design(
            self.numeric_features_, self.categorical_features_, scale=False, drop_first=False
        )
        # the design is learnt on the rows used (all of them unless stayers are subsampled)
        used = np.concatenate([train, calibration])
        Z = to_float(design.fit_transform(frame.iloc[used] if weights is not None else frame))
        if weights is not None:
            train, calibration = np.arange(len(train)), np.arange(len(train), len(used))
        self.design_ = design
        # columns with no observed value in the training slice carry no information (and
        # HistGradientBoosting cannot bin them): they are left out of the trees
        self.active_ = np.flatnonzero(~np.isnan(Z[train]).all(axis=0))
        Z = Z[:, self.active_]
        names = design_names(design)
        self.design_columns_ = [names[i] for i in self.active_]
        self.design_sources_ = source_of(
            self.design_columns_, self.numeric_features_, self.categorical_features_
        )
        model = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
        )
        y_used = y01[used] if weights is not None else y01
        model.fit(Z[train], y_used[train], sample_weight=weights)
        self.model_ = model
        self.n_iter_ = model.n_iter_
        self.calibrator_ = None
        self.n_train_ = len(train)
        self.n_calibration_ = len(calibration)
        if self.calibration is not None:
            raw = model.decision_function(Z[calibration])
            yc = y_used[calibration]
            if len(np.unique(yc)) < 2:
                warnings.warn(
                    "the calibration slice holds a single class; probabilities left uncalibrated",
                    UserWarning,
                    stacklevel=2,
                )
            elif self.calibration == "sigmoid":
                self.calibrator_ = LogisticRegression(C=1e6).fit(raw[:, None], yc)
            elif self.calibration == "isotonic":
                self.calibrator_ = _shrunk_isotonic(raw, yc)
            else:
                raise ValueError(
                    f"calibration must be 'sigmoid', 'isotonic' or None, got {self.calibration!r}"
                )
        return self

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        return to_float(self.design_.transform(frame))[:, self.active_]

    def raw_log_odds(self, X: object) -> np.ndarray:
        """Uncalibrated log-odds of the boosting model (what SHAP values explain)."""
        return self.model_.decision_function(self._design(self._prepare_predict(X)))

    def _proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self._calibrated(self.model_.decision_function(self._design(frame)))

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        """The churn probability of the raw log-odds."""
        if self.calibrator_ is None:
            return 1.0 / (1.0 + np.exp(-raw))
        if isinstance(self.calibrator_, IsotonicRegression):
            return np.clip(self.calibrator_.predict(raw), 0.0, 1.0)
        return self.calibrator_.predict_proba(raw[:, None])[:, 1]

    def _decision(self, frame: pd.DataFrame) -> np.ndarray:
        p = np.clip(self._proba(frame), 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    def shap_values(self, X: object, *, atol: float = 1e-6) -> tuple[pd.DataFrame, float]:
        """Exact TreeSHAP values of the raw log-odds, summed per input feature.

        Computed on the numeric/one-hot design columns (the trees' inputs) and added up per
        input feature. Additivity is checked row by row: ``base + values.sum(axis=1)`` must
        equal :meth:`raw_log_odds` within ``atol``.

        Returns
        -------
        (DataFrame, float)
            SHAP values (rows of ``X``, one column per input feature) and the base value.

        Raises
        ------
        AdditivityError
            If the values do not add up to the model's output.
        """
        frame = self._prepare_predict(X)
        Z = self._design(frame)
        trees = self._tree_explainer(max_cache=0)
        base = float(self.model_._baseline_prediction.ravel()[0]) + trees.expected_value()
        phi = trees(Z)
        _check_additivity(base, phi, self.model_.decision_function(Z), atol)
        return self._per_feature(phi, frame.index), base

    def explainer(
        self, max_cache: int = 50_000, *, atol: float = 1e-6
    ) -> Callable[[object], tuple[np.ndarray, pd.DataFrame]]:
        """A reusable exact explainer for scoring: ``explainer(X)`` is ``(p, values)``.

        ``p`` is ``predict_proba(X)[:, 1]`` and ``values`` is ``shap_values(X, atol=atol)[0]``
        (additivity checked the same way), from one pass over the design rows. Per-tree SHAP
        values are computed once per decision pattern and cached across calls (at most
        ``max_cache`` patterns per tree), which pays off when many rows are explained in
        chunks, as in scoring.

        Raises
        ------
        AdditivityError
            If the values do not add up to the model's output.
        """
        trees = self._tree_explainer(max_cache)
        base = float(self.model_._baseline_prediction.ravel()[0]) + trees.expected_value()

        def explained(X: object) -> tuple[np.ndarray, pd.DataFrame]:
            frame = self._prepare_predict(X)
            Z = self._design(frame)
            raw = self.model_.decision_function(Z)
            phi = trees(Z)
            _check_additivity(base, phi, raw, atol)
            return self._calibrated(raw), self._per_feature(phi, frame.index)

        return explained

    def _tree_explainer(self, max_cache: int) -> TreeExplainer:
        return TreeExplainer([p[0].nodes for p in self.model_._predictors], max_cache)

    def _per_feature(self, phi: np.ndarray, index: pd.Index) -> pd.DataFrame:
        """Design-column values summed per input feature (one-hot columns to their source)."""
        features = [*self.numeric_features_, *self.categorical_features_]
        position = {f: i for i, f in enumerate(features)}
        group = np.zeros((len(self.design_sources_), len(features)))
        for j, source in enumerate(self.design_sources_):
            if source in position:
                group[j, position[source]] = 1.0
        return pd.DataFrame(phi @ group, columns=features, index=index)


def _check_additivity(base: float, phi: np.ndarray, raw: np.ndarray, atol: float) -> None:
    """Raise :class:`AdditivityError` unless ``base + phi.sum(axis=1)`` is ``raw`` (``atol``)."""
    gap = np.abs(base + phi.sum(axis=1) - raw)
    if len(gap) and gap.max() > atol:
        raise AdditivityError(
            f"SHAP values miss the model output by up to {gap.max():.3g} (> {atol}); "
            "the explanation is not exact"
        )
