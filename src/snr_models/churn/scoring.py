"""Scoring clients with a fitted churn model: probability, risk decile, months to exit, reasons.

What ``snr score`` writes per client, and the call list of the main job's report, both come
from here (the job only reads, streams and writes):

- ``churn_probability``: exactly the model's ``predict_proba`` (what a notebook gets);
- ``risk_decile``: 1 (lowest) to 10 (highest), cut at the deciles of the scored clients
  (:func:`risk_deciles`);
- ``expected_months_to_exit``: :func:`expected_months_to_exit`;
- ``reason_1..3``: the three features that raise the client's risk most, in words
  (:func:`~snr_models.churn.top_reasons`, on exact per-client contributions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from snr_models.churn.reasons import explain, top_reasons

__all__ = [
    "MAX_MONTHS",
    "call_list",
    "expected_months_to_exit",
    "make_explainer",
    "model_columns",
    "risk_deciles",
    "score_clients",
]

#: The restricted mean of :func:`expected_months_to_exit` stops at this many months.
MAX_MONTHS = 120
#: Identifier columns a call list carries over from the features.
ID_COLUMNS: tuple[str, ...] = ("client_id", "branch_id", "as_of")
REASONS: tuple[str, ...] = ("reason_1", "reason_2", "reason_3")


def model_columns(model: Any) -> list[str]:
    """The input columns of a fitted churn model (its ``feature_names_in_`` but the ids)."""
    ids = ("client_id", "branch_id")
    return [c for c in map(str, getattr(model, "feature_names_in_", [])) if c not in ids]


def risk_deciles(p: np.ndarray) -> np.ndarray:
    """Risk decile 1 (lowest) to 10 (highest) of each probability within ``p``.

    Cut at the 10th..90th percentiles of ``p``; ties go to the higher decile, so the result
    depends only on the values, not on their order.

    Examples
    --------
    >>> risk_deciles(np.arange(20) / 20).tolist()[:4]
    [1, 1, 2, 2]
    """
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return np.zeros(0, dtype=np.int8)
    edges = np.quantile(p, np.linspace(0.1, 0.9, 9))
    return (np.searchsorted(edges, p, side="right") + 1).astype(np.int8)


def expected_months_to_exit(model: Any, X: pd.DataFrame, p: np.ndarray, horizon: int) -> np.ndarray:
    """Restricted mean months to exit (at most :data:`MAX_MONTHS`).

    The hazard model's own :meth:`~snr_models.churn.HazardModel.expected_months_to_exit`;
    for a classifier, ``sum_{k=0}^{119} (1 - h) ** k`` with the constant monthly hazard
    ``h = 1 - (1 - p) ** (1 / horizon)`` implied by its ``horizon``-month probability ``p``.

    Examples
    --------
    >>> expected_months_to_exit(None, pd.DataFrame(index=[0, 1]), np.array([0.0, 1.0]), 3)
    array([120.,   1.])
    """
    if hasattr(model, "expected_months_to_exit"):
        return np.asarray(model.expected_months_to_exit(X), dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    h = 1.0 - (1.0 - p) ** (1.0 / horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (1.0 - (1.0 - h) ** MAX_MONTHS) / h
    return np.where(h > 0, mean, float(MAX_MONTHS))


def make_explainer(model: Any) -> Callable[[pd.DataFrame], tuple[np.ndarray, pd.DataFrame]]:
    """``X -> (churn probability, contributions)`` for ``model``, reused between chunks.

    The boosting model's cached :meth:`~snr_models.churn.ChurnBoost.explainer` (one pass for
    both, additivity checked); otherwise ``predict_proba`` and
    :func:`~snr_models.churn.explain` (exact and cheap for the linear models).
    """
    if hasattr(model, "explainer"):
        return model.explainer()
    return lambda X: (model.predict_proba(X)[:, 1], explain(model, X)[0])


def score_clients(
    model: Any,
    X: pd.DataFrame,
    *,
    horizon: int,
    reasons: bool = True,
    explainer: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    language: str = "en",
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Probability, expected months to exit and (optionally) three reasons per row of ``X``.

    Parameters
    ----------
    model : fitted churn estimator
    X : DataFrame
        The model's input columns.
    horizon : int
        Months ahead the model's probability covers.
    reasons : bool, default True
        Compute ``reason_1..3`` (else they are empty).
    explainer : callable, optional
        From :func:`make_explainer`, to share its cache between calls.
    language : {"en", "zh-CN"}, default "en"
        The language of the reasons.
    names : mapping, optional
        Words for the codes in the reasons (interventions, channels, segments), e.g. the
        report's labels; see :func:`~snr_models.churn.reasons.describe`.

    Returns
    -------
    DataFrame
        Index of ``X``; ``churn_probability, expected_months_to_exit, reason_1..3``.
    """
    if reasons and len(X):
        p, contributions = (explainer or make_explainer(model))(X)
    else:
        p = model.predict_proba(X)[:, 1]
    out = pd.DataFrame(
        {
            "churn_probability": p,
            "expected_months_to_exit": expected_months_to_exit(model, X, p, horizon),
        },
        index=X.index,
    )
    if reasons and len(X):
        text = top_reasons(
            model,
            X,
            n=len(REASONS),
            contributions=(contributions, 0.0),
            language=language,
            names=names,
        )
        text = text[list(REASONS)].astype(object)
    else:
        text = pd.DataFrame({r: [None] * len(X) for r in REASONS}, index=X.index, dtype=object)
    return pd.concat([out, text], axis=1)


def call_list(
    model: Any,
    features: pd.DataFrame,
    n: int = 20,
    *,
    horizon: int,
    language: str = "en",
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The top of the call list: the ``n`` clients most at risk.

    Every client of ``features`` is scored (probabilities and risk deciles over all of them);
    the three reasons are computed for the top ``n`` only.

    Parameters
    ----------
    model : fitted churn estimator
        Its ``feature_names_in_`` name the input columns.
    features : DataFrame
        One as-of month of :func:`~snr_models.features.build_features`.
    n : int, default 20
        Clients returned, highest probability first.
    horizon : int
        Months ahead the model's probability covers.
    language : {"en", "zh-CN"}, default "en"
        The language of the reasons.
    names : mapping, optional
        Words for the codes in the reasons (interventions, channels, segments), e.g. the
        report's labels; see :func:`~snr_models.churn.reasons.describe`.

    Returns
    -------
    DataFrame
        ``client_id, branch_id, as_of, churn_probability, risk_decile,
        expected_months_to_exit, reason_1..3`` (with identifiers: pseudonymise before
        showing them).
    """
    features = features.reset_index(drop=True)
    X = features[model_columns(model)]
    scored = score_clients(model, X, horizon=horizon, reasons=False)
    deciles = risk_deciles(scored["churn_probability"].to_numpy())
    top = scored.nlargest(n, "churn_probability", keep="first").index
    explained = score_clients(model, X.loc[top], horizon=horizon, language=language, names=names)
    ids = features.loc[top, [c for c in ID_COLUMNS if c in features.columns]]
    out = pd.concat([ids, explained], axis=1)
    out.insert(len(ids.columns) + 1, "risk_decile", deciles[top])
    return out.reset_index(drop=True)
