"""Uplift estimators: how many exits a retention call prevents, per client.

Three meta-learners with the scikit-learn API over the churn feature frame. Each is fitted on
the clients of past campaigns, ``fit(X, y, treatment)``, where ``y`` is the churn label (an exit
within the horizon) and ``treatment`` is 1 for a client assigned to be called, 0 for the random
holdout; ``predict(X)`` returns the estimated *uplift*: the exit probability without a call
minus the exit probability with one, i.e. exits prevented per call (positive: the call helps,
negative: a "sleeping dog" the call pushes out).

- :class:`TwoModelUplift` (T-learner): one churn classifier per arm, uplift = ``mu0 - mu1``.
- :class:`XLearnerUplift` (Künzel et al. 2019): imputed effects ``mu0(x) - y`` on the treated
  and ``y - mu1(x)`` on the holdout, each regressed on the features, combined with the
  propensity as weight: ``e(x) tau0(x) + (1 - e(x)) tau1(x)``.
- :class:`DRUplift` (DR-learner, Kennedy 2023): cross-fitted arm models, the doubly robust
  pseudo-outcome ``mu0 - mu1 + (1 - T)(y - mu0) / (1 - e) - T (y - mu1) / e`` regressed on the
  features.

The propensity ``e`` is the recorded assignment's: a holdout is drawn at random within a
campaign, so ``e`` is the campaign's share of treated clients (:func:`assignment_propensity`),
passed as ``propensity=``; without it, the share of treated rows in the fit.

The default arm model is :class:`~snr_models.churn.logit.ChurnLogit` (``C=0.1``); the default
final regressor is a ridge regression on the same design (median imputation, standardised
numeric columns, one-hot categories).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, column_or_1d

from snr_models.churn.design import as_frame, make_design, split_roles
from snr_models.churn.logit import ChurnLogit

__all__ = ["DRUplift", "TwoModelUplift", "XLearnerUplift", "assignment_propensity"]


def assignment_propensity(treatment: object, campaign: object) -> np.ndarray:
    """Each row's probability of assignment to a call: its campaign's treated share.

    Examples
    --------
    >>> assignment_propensity([1, 0, 1, 1], ["a", "a", "b", "b"]).tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    t = pd.Series(np.asarray(treatment, dtype=float))
    return t.groupby(np.asarray(campaign)).transform("mean").to_numpy()


def _check_inputs(
    X: object, y: object, treatment: object
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    frame = as_frame(X)
    y_arr = column_or_1d(np.asarray(y, dtype=float))
    t_arr = column_or_1d(np.asarray(treatment, dtype=float))
    if not len(frame) == len(y_arr) == len(t_arr):
        raise ValueError(
            f"X, y and treatment differ in length ({len(frame)}, {len(y_arr)}, {len(t_arr)})"
        )
    if np.isnan(y_arr).any():
        raise ValueError("y holds missing labels; drop rows whose label is not observed")
    if not np.isin(t_arr, (0, 1)).all():
        raise ValueError("treatment must be 0 (holdout) or 1 (called)")
    if not np.isin(y_arr, (0, 1)).all():
        raise ValueError("y must be 0 (stayed) or 1 (exited)")
    for arm, name in ((1, "treated"), (0, "holdout")):
        labels = y_arr[t_arr == arm]
        if labels.size == 0 or labels.min() == labels.max():
            raise ValueError(f"the {name} rows need both exits and stayers to fit an uplift model")
    return frame, y_arr, t_arr


def _propensity(propensity: object, t: np.ndarray) -> np.ndarray:
    e = np.full(len(t), t.mean()) if propensity is None else np.asarray(propensity, dtype=float)
    if e.shape != t.shape or not ((e > 0) & (e < 1)).all():
        raise ValueError("propensity must hold one probability in (0, 1) per row")
    return e


class _Uplift(BaseEstimator):
    """What the uplift learners share: arm models, the final regressor, prediction checks."""

    estimator: object = None
    final_estimator: object = None
    features: Sequence[str] | None = None

    def _arm_model(self) -> object:
        return clone(self.estimator) if self.estimator is not None else ChurnLogit(C=0.1)

    def _regressor(self, frame: pd.DataFrame) -> object:
        if self.final_estimator is not None:
            return clone(self.final_estimator)
        numeric, categorical = split_roles(frame, self.features)
        design = make_design(numeric, categorical, scale=True, drop_first=True)
        return Pipeline([("design", design), ("ridge", Ridge(alpha=10.0))])

    def _inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.features is None:
            return frame
        return frame.loc[:, list(self.features)]

    def _prepare(self, X: object) -> pd.DataFrame:
        check_is_fitted(self, "n_features_in_")
        return self._inputs(as_frame(X))

    @staticmethod
    def _p(model: object, frame: pd.DataFrame) -> np.ndarray:
        return model.predict_proba(frame)[:, 1]

    def _set_inputs(self, frame: pd.DataFrame, t: np.ndarray, e: np.ndarray) -> None:
        self.n_features_in_ = frame.shape[1]
        self.treated_share_ = float(t.mean())
        self.propensity_ = float(e.mean())


class TwoModelUplift(_Uplift):
    """T-learner: a churn classifier per arm; uplift = P(exit | holdout) - P(exit | called).

    Parameters
    ----------
    estimator : classifier, optional
        The arm model, cloned per arm (default ``ChurnLogit(C=0.1)``).
    features : sequence of str, optional
        Input columns (default: the frame's columns but identifiers and labels).

    Attributes
    ----------
    model_holdout_, model_treated_ : classifier
        The fitted arm models.

    Examples
    --------
    >>> rng = np.random.default_rng(0); n = 4_000
    >>> X = pd.DataFrame({"x": rng.normal(size=n)})
    >>> t = rng.random(n) < 0.8
    >>> p = 1 / (1 + np.exp(-(-1 + X["x"] - t * X["x"].clip(0))))
    >>> y = (rng.random(n) < p).astype(int)
    >>> u = TwoModelUplift().fit(X, y, t).predict(pd.DataFrame({"x": [-1.0, 2.0]}))
    >>> bool(u[1] > u[0])
    True
    """

    def __init__(self, estimator: object = None, features: Sequence[str] | None = None) -> None:
        self.estimator = estimator
        self.features = features

    def fit(self, X: object, y: object, treatment: object, *, propensity: object = None):
        """Fit one churn model on the called clients and one on the holdout."""
        frame, y_arr, t = _check_inputs(X, y, treatment)
        frame = self._inputs(frame)
        self._set_inputs(frame, t, _propensity(propensity, t))
        self.model_treated_ = self._arm_model().fit(frame[t == 1], y_arr[t == 1])
        self.model_holdout_ = self._arm_model().fit(frame[t == 0], y_arr[t == 0])
        return self

    def predict_arms(self, X: object) -> pd.DataFrame:
        """Exit probabilities without a call (``holdout``) and with one (``treated``)."""
        frame = self._prepare(X)
        return pd.DataFrame(
            {
                "holdout": self._p(self.model_holdout_, frame),
                "treated": self._p(self.model_treated_, frame),
            },
            index=frame.index,
        )

    def predict(self, X: object) -> np.ndarray:
        """Exits prevented per call: ``P(exit | holdout) - P(exit | called)``."""
        arms = self.predict_arms(X)
        return (arms["holdout"] - arms["treated"]).to_numpy()


class XLearnerUplift(_Uplift):
    """X-learner: imputed individual effects regressed on the features, per arm.

    Parameters
    ----------
    estimator : classifier, optional
        The arm model (default ``ChurnLogit(C=0.1)``).
    final_estimator : regressor, optional
        Regresses the imputed effects (default: ridge on the churn design).
    features : sequence of str, optional

    Attributes
    ----------
    effect_treated_, effect_holdout_ : regressor
        ``tau1`` fitted on the called clients, ``tau0`` on the holdout.

    Examples
    --------
    >>> rng = np.random.default_rng(1); n = 3_000
    >>> X = pd.DataFrame({"x": rng.uniform(-2, 2, n)})
    >>> t = (rng.random(n) < 0.85).astype(int)
    >>> y = (rng.random(n) < 0.3 - 0.2 * t * (X["x"] > 0)).astype(int)  # calls help if x > 0
    >>> XLearnerUplift().fit(X, y, t).predict(pd.DataFrame({"x": [-1.5, 1.5]})).round(1).tolist()
    [0.0, 0.2]
    """

    def __init__(
        self,
        estimator: object = None,
        final_estimator: object = None,
        features: Sequence[str] | None = None,
    ) -> None:
        self.estimator = estimator
        self.final_estimator = final_estimator
        self.features = features

    def fit(self, X: object, y: object, treatment: object, *, propensity: object = None):
        """Fit the arm models, then the effect models on the imputed effects."""
        frame, y_arr, t = _check_inputs(X, y, treatment)
        frame = self._inputs(frame)
        e = _propensity(propensity, t)
        self._set_inputs(frame, t, e)
        treated, holdout = frame[t == 1], frame[t == 0]
        mu1 = self._arm_model().fit(treated, y_arr[t == 1])
        mu0 = self._arm_model().fit(holdout, y_arr[t == 0])
        d1 = self._p(mu0, treated) - y_arr[t == 1]  # prevented exits imputed on the called
        d0 = y_arr[t == 0] - self._p(mu1, holdout)  # ... and on the holdout
        self.effect_treated_ = self._regressor(frame).fit(treated, d1)
        self.effect_holdout_ = self._regressor(frame).fit(holdout, d0)
        return self

    def predict(self, X: object) -> np.ndarray:
        """Exits prevented per call: ``e tau0(x) + (1 - e) tau1(x)`` (``e``: the propensity)."""
        frame = self._prepare(X)
        e = self.propensity_
        return e * self.effect_holdout_.predict(frame) + (1 - e) * self.effect_treated_.predict(
            frame
        )


class DRUplift(_Uplift):
    """DR-learner: the doubly robust pseudo-outcome, cross-fitted, regressed on the features.

    Parameters
    ----------
    estimator : classifier, optional
        The arm model (default ``ChurnLogit(C=0.1)``), fitted out of fold.
    final_estimator : regressor, optional
        Regresses the pseudo-outcome (default: ridge on the churn design).
    n_folds : int, default 5
        Folds of the cross-fitting (stratified by arm and label).
    random_state : int, default 0
    features : sequence of str, optional

    Attributes
    ----------
    pseudo_outcome_ : ndarray
        The out-of-fold doubly robust scores (their mean estimates the average effect).
    effect_ : regressor

    Examples
    --------
    >>> rng = np.random.default_rng(2); n = 3_000
    >>> X = pd.DataFrame({"x": rng.uniform(-2, 2, n)})
    >>> t = (rng.random(n) < 0.85).astype(int)
    >>> y = (rng.random(n) < 0.3 - 0.2 * t * (X["x"] > 0)).astype(int)  # calls help if x > 0
    >>> model = DRUplift(n_folds=3).fit(X, y, t)
    >>> round(float(model.pseudo_outcome_.mean()), 1)  # the average effect, 0.2 x half
    0.1
    """

    def __init__(
        self,
        estimator: object = None,
        final_estimator: object = None,
        n_folds: int = 5,
        random_state: int = 0,
        features: Sequence[str] | None = None,
    ) -> None:
        self.estimator = estimator
        self.final_estimator = final_estimator
        self.n_folds = n_folds
        self.random_state = random_state
        self.features = features

    def fit(self, X: object, y: object, treatment: object, *, propensity: object = None):
        """Cross-fit the arm models, form the pseudo-outcome and regress it on the features."""
        frame, y_arr, t = _check_inputs(X, y, treatment)
        frame = self._inputs(frame)
        e = _propensity(propensity, t)
        self._set_inputs(frame, t, e)
        mu0 = np.empty(len(frame))
        mu1 = np.empty(len(frame))
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(frame, (2 * t + y_arr).astype(int)):
            tr_t, tr_y = t[train], y_arr[train]
            part = frame.iloc[train]
            m1 = self._arm_model().fit(part[tr_t == 1], tr_y[tr_t == 1])
            m0 = self._arm_model().fit(part[tr_t == 0], tr_y[tr_t == 0])
            mu1[test] = self._p(m1, frame.iloc[test])
            mu0[test] = self._p(m0, frame.iloc[test])
        self.pseudo_outcome_ = mu0 - mu1 + (1 - t) * (y_arr - mu0) / (1 - e) - t * (y_arr - mu1) / e
        self.effect_ = self._regressor(frame).fit(frame, self.pseudo_outcome_)
        return self

    def predict(self, X: object) -> np.ndarray:
        """Exits prevented per call, from the regression of the pseudo-outcome."""
        return np.asarray(self.effect_.predict(self._prepare(X)), dtype=float)
