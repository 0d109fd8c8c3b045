"""Discrete-time hazard model: monthly exit hazard, survival curves, expected months to exit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from snr_models.churn.base import FrameClassifier
from snr_models.churn.logit import ChurnLogit

__all__ = ["HazardModel"]


class HazardModel(FrameClassifier):
    """Discrete-time proportional-odds hazard model on client-months.

    Each training row is a client open at the end of an as-of month; ``y`` says whether the
    client exits in the next month (``exit_next_month``). The monthly hazard is a logistic
    regression ``h(x) = P(exit next month | open now, x)`` (a :class:`ChurnLogit`), and the
    survival curve of a client extrapolates its current features with tenure advancing one
    month per step:

    ``S(k) = prod_{j=1..k} (1 - h(x with tenure_months + c + j - 1))``

    where ``c`` is ``conditional_after``, the extra months the client is assumed to have
    survived already. ``predict_proba`` is the probability of exit within ``horizon`` months,
    ``1 - S(horizon)``, so the model ranks clients like the churn classifiers.

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularisation strength of the hazard logit.
    horizon : int, default 3
        Months ahead for :meth:`predict_proba`.
    duration_column : str, default "tenure_months"
        The feature that advances with time (ignored if absent).
    max_months : int, default 120
        Truncation of :meth:`expected_months_to_exit` (a restricted mean).
    alpha : float, default 0.05
    features : sequence of str, optional
    negative_fraction : float, default 1.0
        Share of the client-months without an exit the hazard logit is fitted on (every
        exit kept, the others weighted up; see :class:`ChurnLogit`).
    random_state : int, optional
        Seeds those client-months.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=4000), "tenure_months": rng.integers(1, 60, 4000)})
    >>> y = (rng.random(4000) < 0.02 * np.exp(0.8 * X["x"])).astype(int)
    >>> model = HazardModel().fit(X, y)
    >>> model.survival_function(X.iloc[:2], months=12).shape
    (2, 12)
    """

    def __init__(
        self,
        C: float = 1.0,
        horizon: int = 3,
        duration_column: str = "tenure_months",
        max_months: int = 120,
        alpha: float = 0.05,
        features: Sequence[str] | None = None,
        negative_fraction: float = 1.0,
        random_state: int | None = 0,
    ) -> None:
        self.C = C
        self.horizon = horizon
        self.duration_column = duration_column
        self.max_months = max_months
        self.alpha = alpha
        self.features = features
        self.negative_fraction = negative_fraction
        self.random_state = random_state

    def fit(self, X: object, y: object) -> HazardModel:
        """Fit the monthly hazard; ``y`` = exit in the month after the as-of month."""
        frame, y01 = self._prepare_fit(X, y)
        self.hazard_model_ = ChurnLogit(
            C=self.C,
            alpha=self.alpha,
            features=[*self.numeric_features_, *self.categorical_features_],
            negative_fraction=self.negative_fraction,
            random_state=self.random_state,
        ).fit(frame, y01)
        return self

    def inference_table(self, alpha: float | None = None) -> pd.DataFrame:
        """The hazard logit's inference table (coefficients per standard deviation)."""
        return self.hazard_model_.inference_table(alpha)

    def summary(self) -> str:
        """The hazard logit's summary."""
        return self.hazard_model_.summary()

    def hazard(self, X: object, months_ahead: int = 1) -> np.ndarray:
        """Monthly hazard ``months_ahead`` months after the as-of month (1 = next month)."""
        frame = self._prepare_predict(X)
        return self._hazard(frame, months_ahead - 1)

    def _hazard(self, frame: pd.DataFrame, shift: float) -> np.ndarray:
        if shift and self.duration_column in frame.columns:
            frame = frame.assign(**{self.duration_column: frame[self.duration_column] + shift})
        return self.hazard_model_._proba(frame)

    def survival_function(
        self, X: object, months: int = 36, conditional_after: float | np.ndarray = 0
    ) -> pd.DataFrame:
        """Survival curves ``S(k)``, ``k = 1..months``, one row per client.

        Parameters
        ----------
        X : DataFrame
            Features at the as-of month.
        months : int, default 36
        conditional_after : float or array, default 0
            Months already survived beyond the as-of month: the curve is then
            ``S(c + k) / S(c)``, i.e. the hazards from month ``c + 1`` on.
        """
        frame = self._prepare_predict(X)
        c = np.broadcast_to(np.asarray(conditional_after, dtype=float), (len(frame),))
        surv = np.ones(len(frame))
        out = np.empty((len(frame), months))
        if self.duration_column in frame.columns:
            base = frame[self.duration_column].to_numpy(dtype=float)
            for k in range(months):
                shifted = frame.assign(**{self.duration_column: base + c + k})
                surv = surv * (1 - self.hazard_model_._proba(shifted))
                out[:, k] = surv
        else:
            h = self.hazard_model_._proba(frame)
            out[:] = np.cumprod(np.repeat((1 - h)[:, None], months, axis=1), axis=1)
        return pd.DataFrame(out, index=frame.index, columns=pd.RangeIndex(1, months + 1))

    def expected_months_to_exit(
        self, X: object, conditional_after: float | np.ndarray = 0
    ) -> np.ndarray:
        """Restricted mean months to exit, ``sum_{k=0}^{K-1} S(k)`` with ``K = max_months``.

        Conditional on the client having survived ``conditional_after`` months past the
        as-of month (besides its tenure, which the features already hold).
        """
        surv = self.survival_function(X, self.max_months, conditional_after).to_numpy()
        return 1.0 + surv[:, :-1].sum(axis=1)

    def _proba(self, frame: pd.DataFrame) -> np.ndarray:
        surv = np.ones(len(frame))
        for k in range(self.horizon):
            surv = surv * (1 - self._hazard(frame, k))
        return 1 - surv

    def _decision(self, frame: pd.DataFrame) -> np.ndarray:
        p = np.clip(self._proba(frame), 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))
