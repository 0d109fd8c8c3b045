"""Rolling-origin backtest by as-of month: train on months up to t, test at t + H.

Never a random split of client-months: at origin ``t`` the model is fitted on the rows whose
as-of month is ``t`` or earlier (their labels look at most ``H`` months ahead, i.e. up to
``t + H``) and scored on the clients open at ``t + H``, whose outcomes lie after every
training label.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from snr_models import progress
from snr_models.churn.evaluation import brier, evaluate, pr_auc, roc_auc
from snr_models.churn.reasons import permutation_importance_frame, summarise_importance
from snr_models.errors import SnrInputError

__all__ = [
    "BacktestResult",
    "backtest_importance",
    "backtest_origins",
    "rolling_origin_backtest",
]

logger = logging.getLogger(__name__)


@dataclass
class BacktestResult:
    """What :func:`rolling_origin_backtest` produced.

    ``predictions`` holds one row per test client-month (with ``client_id``: keep it out of
    logs); ``per_origin`` the metrics of each origin; ``metrics`` the pooled metrics with
    bootstrap intervals; ``importance`` the permutation importances pooled over origins;
    ``models`` the estimator fitted at each origin (see :func:`backtest_importance`).
    """

    predictions: pd.DataFrame
    per_origin: pd.DataFrame
    metrics: pd.DataFrame
    importance: pd.DataFrame | None = None
    horizon: int = 3
    importance_raw: pd.DataFrame | None = field(default=None, repr=False)
    alpha: float = 0.05
    models: dict[pd.Timestamp, BaseEstimator] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        """Pooled metrics and the per-origin table as text."""
        return (
            f"Rolling-origin backtest, horizon {self.horizon} months, "
            f"{len(self.per_origin)} origins, {len(self.predictions)} test client-months\n"
            + self.metrics.to_string(float_format=lambda v: f"{v:.4f}")
            + "\n\n"
            + self.per_origin.to_string(float_format=lambda v: f"{v:.4f}")
        )

    def to_frame(self) -> pd.DataFrame:
        """The per-origin metrics."""
        return self.per_origin.copy()

    def plot(self):
        """ROC-AUC and PR-AUC by test month (a matplotlib Figure)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        x = self.per_origin["test_month"]
        ax.plot(x, self.per_origin["roc_auc"], marker="o", label="ROC-AUC")
        ax.plot(x, self.per_origin["pr_auc"], marker="s", label="PR-AUC")
        ax.set_ylim(0, 1)
        ax.set_xlabel("test as-of month")
        ax.set_title("Rolling-origin backtest")
        ax.legend()
        fig.autofmt_xdate()
        return fig


def backtest_origins(
    frame: pd.DataFrame,
    *,
    horizon: int,
    label: str = "churn",
    min_train_months: int = 6,
    n_origins: int | None = None,
) -> list[pd.Timestamp]:
    """Origins ``t`` with ``min_train_months`` labelled months up to ``t`` and labels at ``t+H``.

    Examples
    --------
    >>> f = pd.DataFrame({"as_of": pd.date_range("2024-01-01", periods=10, freq="MS"),
    ...                   "churn": [0.0] * 7 + [np.nan] * 3})
    >>> [t.strftime("%Y-%m") for t in backtest_origins(f, horizon=2, min_train_months=3)]
    ['2024-03', '2024-04', '2024-05']
    """
    labelled = np.sort(pd.unique(frame.loc[frame[label].notna(), "as_of"]))
    months = [pd.Timestamp(m) for m in labelled]
    have = set(months)
    out = []
    for i, t in enumerate(months):
        test = t + pd.DateOffset(months=horizon)
        if i + 1 >= min_train_months and test in have:
            out.append(t)
    if n_origins is not None:
        out = out[-n_origins:]
    return out


def rolling_origin_backtest(
    frame: pd.DataFrame,
    estimator: BaseEstimator,
    *,
    horizon: int = 3,
    label: str = "churn",
    train_label: str | None = None,
    origins: Sequence[pd.Timestamp | str] | None = None,
    min_train_months: int = 6,
    n_origins: int | None = None,
    importance: bool = False,
    n_repeats: int = 3,
    max_importance_rows: int = 5000,
    n_boot: int = 200,
    alpha: float = 0.05,
    random_state: int | None = 0,
) -> BacktestResult:
    """Rolling-origin backtest of ``estimator`` on a labelled feature frame.

    Parameters
    ----------
    frame : DataFrame
        ``build_features(..., horizon=H)`` output: ``client_id``, ``as_of``, features, labels.
    estimator : estimator
        Cloned and fitted at every origin on ``frame``'s feature columns.
    horizon : int, default 3
        ``H``: the test month is ``t + H``; must equal the horizon of ``label``.
    label : str, default "churn"
        The label the test rows are judged on.
    train_label : str, optional
        The label the estimator is fitted on (default ``label``; the hazard model uses
        ``"exit_next_month"``).
    origins : sequence, optional
        Origins ``t``; default :func:`backtest_origins` (the last ``n_origins``).
    importance : bool, default False
        Also compute permutation importance (ROC-AUC drop) on each origin's test rows.
    alpha : float, default 0.05
        The pooled metrics' bootstrap intervals are ``1 - alpha`` intervals.

    Returns
    -------
    BacktestResult

    Raises
    ------
    SnrInputError
        If no origin has both training months and a labelled test month.
    """
    from snr_models.features import feature_columns

    train_label = train_label or label
    if origins is None:
        chosen = backtest_origins(
            frame,
            horizon=horizon,
            label=label,
            min_train_months=min_train_months,
            n_origins=n_origins,
        )
    else:
        chosen = [pd.Timestamp(o) for o in origins]
    if not chosen:
        raise SnrInputError(
            f"backtest: no origin with {min_train_months} labelled training months and a "
            f"labelled test month {horizon} months later; use more months of data"
        )
    columns = [*(c for c in feature_columns(frame) if c != "as_of"), "as_of"]
    as_of = frame["as_of"].to_numpy()
    preds, rows, models = [], [], {}
    for t in progress.track(chosen, "backtest", describe=lambda t: f"origin {t:%Y-%m}"):
        test_month = t + pd.DateOffset(months=horizon)
        # rows and columns selected in one copy: the frame is wide (identifiers, labels)
        in_train = (as_of <= t) & frame[train_label].notna().to_numpy()
        in_test = (as_of == test_month) & frame[label].notna().to_numpy()
        y_train = frame[train_label].to_numpy()[in_train]
        y = frame[label].to_numpy()[in_test]
        if len(np.unique(y_train)) < 2 or len(np.unique(y)) < 2:
            logger.warning("backtest origin %s skipped: a single class", t.strftime("%Y-%m"))
            continue
        model = clone(estimator).fit(frame.loc[in_train, columns], y_train)
        p = model.predict_proba(frame.loc[in_test, columns])[:, 1]
        preds.append(
            pd.DataFrame(
                {
                    "origin": t,
                    "as_of": as_of[in_test],
                    "client_id": frame["client_id"].to_numpy()[in_test],
                    "y": y,
                    "p": p,
                }
            )
        )
        rows.append(
            {
                "origin": t,
                "test_month": test_month,
                "n_train": len(y_train),
                "n_test": len(y),
                "base_rate": float(y.mean()),
                "roc_auc": roc_auc(y, p),
                "pr_auc": pr_auc(y, p),
                "brier": brier(y, p),
            }
        )
        models[t] = model
    if not rows:
        raise SnrInputError("backtest: every origin had a single class in train or test")
    predictions = pd.concat(preds, ignore_index=True)
    metrics = evaluate(
        predictions["y"], predictions["p"], n_boot=n_boot, alpha=alpha, random_state=random_state
    )
    result = BacktestResult(
        predictions=predictions,
        per_origin=pd.DataFrame(rows),
        metrics=metrics,
        horizon=horizon,
        alpha=alpha,
        models=models,
    )
    if importance:
        result = backtest_importance(
            result,
            frame,
            label=label,
            n_repeats=n_repeats,
            max_rows=max_importance_rows,
            random_state=random_state,
        )
    return result


def backtest_importance(
    result: BacktestResult,
    frame: pd.DataFrame,
    *,
    label: str = "churn",
    n_repeats: int = 3,
    max_rows: int = 5000,
    random_state: int | None = 0,
) -> BacktestResult:
    """``result`` with permutation importances (ROC-AUC drop) on each origin's test rows.

    The models fitted at each origin (``result.models``) are scored again with one feature
    permuted at a time, on at most ``max_rows`` test rows per origin; nothing is refitted.

    Parameters
    ----------
    result : BacktestResult
        From :func:`rolling_origin_backtest` on ``frame``.
    frame : DataFrame
        The feature frame the backtest ran on.
    label : str, default "churn"
        The label the test rows are judged on.

    Returns
    -------
    BacktestResult
        A copy with ``importance`` (pooled over origins, with ``1 - alpha`` intervals) and
        ``importance_raw``.
    """
    from snr_models.features import feature_columns

    inputs = [c for c in feature_columns(frame) if c != "as_of"]
    imps = []
    for t, model in result.models.items():
        test_month = t + pd.DateOffset(months=result.horizon)
        sample = frame[(frame["as_of"] == test_month) & frame[label].notna()]
        if len(sample) > max_rows:
            sample = sample.sample(max_rows, random_state=random_state)
        raw = permutation_importance_frame(
            model,
            sample[[*inputs, "as_of"]],
            sample[label].to_numpy(),
            features=inputs,
            n_repeats=n_repeats,
            random_state=random_state,
            raw=True,
        )
        imps.append(raw.assign(origin=t))
    if not imps:
        return result
    raw_imp = pd.concat(imps, ignore_index=True)
    return replace(
        result,
        importance=summarise_importance(raw_imp, result.alpha),
        importance_raw=raw_imp,
    )
