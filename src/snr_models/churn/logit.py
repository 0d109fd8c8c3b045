"""Regularised logistic regression with a statsmodels-style inference table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression

from snr_models.churn.base import FrameClassifier, negative_subsample
from snr_models.churn.design import design_names, make_design, source_of, to_float

__all__ = ["ChurnLogit"]


class ChurnLogit(FrameClassifier):
    """L2-regularised logistic churn model on a feature frame, with an inference table.

    Numeric features are median-imputed (with a missing-value indicator) and standardised;
    categorical features are one-hot encoded with the first level as reference. The penalty
    is scikit-learn's: ``C * sum(log-loss) + ||w||^2 / 2`` (the intercept is not penalised).
    Standard errors come from the inverse of the penalised Hessian
    ``X' W X + I / C`` (the Laplace approximation); as ``C -> inf`` they are statsmodels'
    ``Logit`` standard errors.

    With ``negative_fraction < 1`` the model is fitted on every churner and that share of
    the stayers, the kept stayers weighted up (:func:`~snr_models.churn.base.negative_subsample`):
    much faster on rare exits, the probabilities still calibrated. Its covariance is then
    the sandwich ``H^-1 (sum_i w_i^2 (y_i - p_i)^2 z_i z_i') H^-1`` of the weighted fit.

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularisation strength (``np.inf``: none).
    alpha : float, default 0.05
        ``1 - confidence level`` of the intervals in :meth:`inference_table`.
    max_iter : int, default 1000
        Solver iterations.
    features : sequence of str, optional
        Input columns to use (default: all but identifiers and labels).
    negative_fraction : float, default 1.0
        Share of the stayers (``y == 0``) the model is fitted on; 1 fits every row.
    random_state : int, optional
        Seeds the stayers kept when ``negative_fraction < 1``.

    Attributes
    ----------
    coef_ : ndarray
        Coefficients on the design columns (``design_columns_``).
    intercept_ : float
    covariance_ : ndarray
        Covariance of ``(intercept, coef)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=500), "segment": rng.choice(["a", "b"], 500)})
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-X["x"]))).astype(int)
    >>> model = ChurnLogit().fit(X, y)
    >>> model.inference_table().loc["x", "coef"] > 0
    np.True_
    """

    def __init__(
        self,
        C: float = 1.0,
        alpha: float = 0.05,
        max_iter: int = 1000,
        features: Sequence[str] | None = None,
        negative_fraction: float = 1.0,
        random_state: int | None = 0,
    ) -> None:
        self.C = C
        self.alpha = alpha
        self.max_iter = max_iter
        self.features = features
        self.negative_fraction = negative_fraction
        self.random_state = random_state

    def fit(self, X: object, y: object) -> ChurnLogit:
        """Fit the model; ``X`` a feature frame (or numeric array), ``y`` binary."""
        frame, y01 = self._prepare_fit(X, y)
        rows, w = negative_subsample(y01, self.negative_fraction, self.random_state)
        if w is not None:
            frame, y01 = frame.iloc[rows], y01[rows]
        design = make_design(
            self.numeric_features_, self.categorical_features_, scale=True, drop_first=True
        )
        Z = to_float(design.fit_transform(frame))
        self.design_ = design
        self.design_columns_ = design_names(design)
        self.design_sources_ = source_of(
            self.design_columns_, self.numeric_features_, self.categorical_features_
        )
        self.design_mean_ = np.average(Z, axis=0, weights=w)
        model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        model.fit(Z, y01, sample_weight=w)
        self.coef_ = model.coef_.ravel().astype(np.float64)
        self.intercept_ = float(model.intercept_[0])
        self.n_iter_ = int(np.max(model.n_iter_))
        Zc = np.column_stack([np.ones(len(Z)), Z])
        p = 1.0 / (1.0 + np.exp(-(Zc[:, 1:] @ self.coef_ + self.intercept_)))
        curvature = p * (1 - p) if w is None else w * p * (1 - p)
        hessian = (Zc * curvature[:, None]).T @ Zc
        if np.isfinite(self.C):
            hessian[1:, 1:] += np.eye(Z.shape[1]) / self.C
        self.covariance_ = np.linalg.pinv(hessian)
        if w is not None:  # the sandwich of the weighted fit
            score = Zc * (w * (y01 - p))[:, None]
            self.covariance_ = self.covariance_ @ (score.T @ score) @ self.covariance_
        self.n_obs_ = len(Z)
        return self

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        return to_float(self.design_.transform(frame))

    def _decision(self, frame: pd.DataFrame) -> np.ndarray:
        return self._design(frame) @ self.coef_ + self.intercept_

    def inference_table(self, alpha: float | None = None) -> pd.DataFrame:
        """Coefficients, standard errors, z, p-values, intervals and odds ratios.

        Numeric features are standardised: a coefficient is the change in log-odds per
        standard deviation of the feature (``scale`` gives that standard deviation).

        Returns
        -------
        DataFrame
            Index: ``const`` then the design columns. Columns: ``coef``, ``se``, ``z``,
            ``p_value``, ``coef_lo``, ``coef_hi``, ``odds_ratio``, ``odds_ratio_lo``,
            ``odds_ratio_hi``, ``feature`` (the input column), ``scale``.
        """
        a = self.alpha if alpha is None else alpha
        coef = np.concatenate([[self.intercept_], self.coef_])
        se = np.sqrt(np.clip(np.diag(self.covariance_), 0, None))
        z = coef / np.where(se > 0, se, np.nan)
        q = stats.norm.ppf(1 - a / 2)
        table = pd.DataFrame(
            {
                "coef": coef,
                "se": se,
                "z": z,
                "p_value": 2 * stats.norm.sf(np.abs(z)),
                "coef_lo": coef - q * se,
                "coef_hi": coef + q * se,
            },
            index=pd.Index(["const", *self.design_columns_], name="term"),
        )
        table["odds_ratio"] = np.exp(table["coef"])
        table["odds_ratio_lo"] = np.exp(table["coef_lo"])
        table["odds_ratio_hi"] = np.exp(table["coef_hi"])
        table["feature"] = ["const", *self.design_sources_]
        table["scale"] = np.concatenate([[np.nan], self._scales()])
        return table

    def _scales(self) -> np.ndarray:
        out = np.full(len(self.design_columns_), np.nan)
        if "num" in self.design_.named_transformers_:
            scaler = self.design_.named_transformers_["num"].named_steps["scale"]
            out[: len(scaler.scale_)] = scaler.scale_
        return out

    def summary(self) -> str:
        """The inference table as text, in the statsmodels manner."""
        t = self.inference_table()
        head = (
            f"ChurnLogit  n={self.n_obs_}  C={self.C}  features={len(self.numeric_features_)}"
            f" numeric + {len(self.categorical_features_)} categorical\n"
        )
        cols = ["coef", "se", "z", "p_value", "coef_lo", "coef_hi", "odds_ratio"]
        return head + t[cols].to_string(float_format=lambda v: f"{v:.4f}")

    def contributions(self, X: object) -> tuple[pd.DataFrame, float]:
        """Exact additive log-odds contributions of each input feature, per row.

        ``contribution_j = sum over design columns d of feature j: coef_d * (z_d - mean_d)``,
        so that ``base + contributions.sum(axis=1) == decision_function(X)`` exactly, where
        ``base = intercept + coef . mean`` is the log-odds of the average training row.

        Returns
        -------
        (DataFrame, float)
            Contributions (rows of ``X``, one column per input feature) and ``base``.
        """
        frame = self._prepare_predict(X)
        Z = self._design(frame)
        parts = (Z - self.design_mean_) * self.coef_
        by_design = pd.DataFrame(parts, columns=self.design_columns_, index=frame.index)
        grouped = by_design.T.groupby(pd.Index(self.design_sources_)).sum().T
        order = [c for c in (*self.numeric_features_, *self.categorical_features_)]
        base = float(self.intercept_ + self.coef_ @ self.design_mean_)
        return grouped[order], base
