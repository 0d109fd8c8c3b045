"""The churn model chosen on the rolling-origin backtest, and the choice's own accuracy.

Every candidate is backtested on the same origins (:func:`rolling_origin_backtest`); the one
with the best mean per-origin score is chosen. How well does "choose on the backtest, then
predict" do? A nested rolling estimate answers it: at each origin after the first
``min_select_origins``, the candidate that scored best on the *earlier* origins only is
chosen, and its score at that origin (never used for that choice) is recorded. The pooled
figure over those origins is the accuracy to expect from the procedure, free of the optimism
of picking the best of several scores on the same data.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from snr_models.churn.backtest import (
    BacktestResult,
    backtest_importance,
    backtest_origins,
    rolling_origin_backtest,
)
from snr_models.churn.evaluation import evaluate
from snr_models.errors import SnrInputError

__all__ = ["Candidate", "ModelChoice", "select_model"]

logger = logging.getLogger(__name__)

#: Metrics a choice can be made on, and whether higher is better.
_HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "brier": False}


@dataclass(frozen=True)
class Candidate:
    """A model :func:`select_model` may choose: a name, an unfitted estimator, its label.

    ``train_label`` is the label the estimator is fitted on (``"exit_next_month"`` for the
    hazard model); every candidate is judged on the same label and test rows.
    """

    name: str
    estimator: BaseEstimator
    train_label: str = "churn"


@dataclass
class ModelChoice:
    """What :func:`select_model` found.

    Attributes
    ----------
    chosen : str
        The name of the candidate with the best mean per-origin ``metric`` over every origin.
    metric : str
        The score the choice is made on (mean over origins of the per-origin value).
    scores : DataFrame
        One row per candidate (index ``candidate``, in the order given): ``score`` (the mean
        per-origin ``metric``), ``roc_auc``, ``pr_auc``, ``brier`` (pooled over origins),
        ``n_origins`` and ``chosen``.
    per_origin : DataFrame
        The per-origin metrics of every candidate (a ``candidate`` column).
    nested : DataFrame
        One row per origin evaluated in the nested estimate: ``origin``, ``test_month``,
        ``chosen`` (on the earlier origins only), ``selected_on`` (those origins,
        ``YYYY-MM`` joined by ``;``) and the chosen model's ``roc_auc``, ``pr_auc``,
        ``brier`` at that origin. Empty with fewer than ``min_select_origins + 1`` origins.
    nested_metrics : DataFrame or None
        :func:`~snr_models.churn.evaluate` of the nested predictions pooled (with bootstrap
        intervals); ``None`` when ``nested`` is empty.
    backtests : dict of str to BacktestResult
        Each candidate's backtest (the chosen one's with bootstrap intervals and, if asked,
        permutation importances; the others' pooled metrics without intervals).
    candidates : list of Candidate
    """

    chosen: str
    metric: str
    scores: pd.DataFrame
    per_origin: pd.DataFrame
    nested: pd.DataFrame
    nested_metrics: pd.DataFrame | None
    backtests: dict[str, BacktestResult] = field(repr=False)
    candidates: list[Candidate] = field(repr=False)

    @property
    def candidate(self) -> Candidate:
        """The chosen :class:`Candidate` (its estimator unfitted)."""
        return next(c for c in self.candidates if c.name == self.chosen)

    @property
    def backtest(self) -> BacktestResult:
        """The chosen candidate's backtest."""
        return self.backtests[self.chosen]

    @property
    def nested_score(self) -> float:
        """Mean per-origin ``metric`` of the nested choices (NaN without nested origins)."""
        if self.nested.empty:
            return float("nan")
        return float(self.nested[self.metric].mean())

    def summary(self) -> str:
        """The candidates' scores, the choice and its nested estimate as text."""
        lines = [
            f"Model chosen on the rolling-origin backtest: {self.chosen} "
            f"(best mean per-origin {self.metric} over "
            f"{int(self.scores['n_origins'].max())} origins)",
            self.scores.to_string(float_format=lambda v: f"{v:.4f}"),
            "",
        ]
        if self.nested.empty:
            lines.append("Nested estimate: none (needs an origin after the first choice)")
        else:
            lines.append(
                f"Nested estimate (each origin judged by the model chosen on the earlier "
                f"origins only): mean {self.metric} {self.nested_score:.4f} over "
                f"{len(self.nested)} origin(s)"
            )
            lines.append(self.nested.to_string(float_format=lambda v: f"{v:.4f}"))
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The candidates' scores (one row per candidate)."""
        return self.scores.copy()

    def plot(self):
        """Each candidate's per-origin ``metric``, the nested choices marked (a Figure)."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name, rows in self.per_origin.groupby("candidate", sort=False):
            ax.plot(rows["test_month"], rows[self.metric], marker="o", label=name)
        if not self.nested.empty:
            ax.scatter(
                self.nested["test_month"],
                self.nested[self.metric],
                s=160,
                facecolors="none",
                edgecolors="black",
                label="nested choice",
                zorder=3,
            )
        ax.set_xlabel("test as-of month")
        ax.set_ylabel(self.metric)
        ax.set_title(f"Model choice: {self.chosen}")
        ax.legend()
        fig.autofmt_xdate()
        return fig


def _best(scores: pd.Series, metric: str) -> str:
    """The best candidate; ties go to the earlier one in ``scores``' order."""
    values = scores.to_numpy(dtype=float)
    best = np.nanmax(values) if _HIGHER_IS_BETTER[metric] else np.nanmin(values)
    return str(scores.index[int(np.flatnonzero(values == best)[0])])


def select_model(
    frame: pd.DataFrame,
    candidates: Sequence[Candidate],
    *,
    horizon: int = 3,
    label: str = "churn",
    metric: str = "roc_auc",
    origins: Sequence[pd.Timestamp | str] | None = None,
    min_train_months: int = 6,
    n_origins: int | None = None,
    min_select_origins: int = 1,
    importance: bool = False,
    n_repeats: int = 3,
    n_boot: int = 200,
    alpha: float = 0.05,
    random_state: int | None = 0,
) -> ModelChoice:
    """Choose a churn model on the rolling-origin backtest; estimate the choice's accuracy.

    Parameters
    ----------
    frame : DataFrame
        Labelled ``build_features(..., horizon=H)`` rows (every candidate's training label
        observed).
    candidates : sequence of Candidate
        The models to choose among, with distinct names; ties go to the earlier one.
    horizon : int, default 3
    label : str, default "churn"
        The label every candidate is judged on.
    metric : {"roc_auc", "pr_auc", "brier"}, default "roc_auc"
        The per-origin score whose mean over origins decides.
    origins, min_train_months, n_origins
        The backtest's origins (see :func:`rolling_origin_backtest`).
    min_select_origins : int, default 1
        Earlier origins the first nested choice is made on: the nested estimate covers the
        origins after the first ``min_select_origins``.
    importance : bool, default False
        Permutation importances of the chosen candidate's backtest (its fitted models
        re-used, nothing refitted).
    n_boot : int, default 200
        Bootstrap replicates of the chosen candidate's pooled metrics and of the nested
        metrics (the other candidates get none).
    alpha : float, default 0.05
    random_state : int, optional

    Returns
    -------
    ModelChoice

    Raises
    ------
    SnrInputError
        If the backtest has no origin (too few labelled months).
    ValueError
        On an unknown metric, no candidate, or repeated names.

    Examples
    --------
    >>> from snr_models.churn import ChurnLogit
    >>> rng = np.random.default_rng(0)
    >>> months = pd.date_range("2024-01-01", periods=10, freq="MS")
    >>> f = pd.DataFrame({"client_id": np.arange(4000), "as_of": np.repeat(months, 400),
    ...                   "x": rng.normal(size=4000), "noise": rng.normal(size=4000)})
    >>> f["churn"] = (rng.random(4000) < 1 / (1 + np.exp(2 - f["x"]))).astype(float)
    >>> choice = select_model(f, [Candidate("noise", ChurnLogit(features=["noise"])),
    ...                           Candidate("x", ChurnLogit(features=["x"]))],
    ...                       horizon=2, min_train_months=4, n_boot=0)
    >>> choice.chosen, len(choice.nested)
    ('x', 4)
    """
    if metric not in _HIGHER_IS_BETTER:
        raise ValueError(f"metric must be one of {sorted(_HIGHER_IS_BETTER)}; got {metric!r}")
    names = [c.name for c in candidates]
    if not names:
        raise ValueError("select_model needs at least one candidate")
    if len(set(names)) != len(names):
        raise ValueError(f"candidate names repeat: {names}")
    if origins is None:
        origins = backtest_origins(
            frame,
            horizon=horizon,
            label=label,
            min_train_months=min_train_months,
            n_origins=n_origins,
        )
    backtests = {
        c.name: rolling_origin_backtest(
            frame,
            c.estimator,
            horizon=horizon,
            label=label,
            train_label=c.train_label,
            origins=origins,
            min_train_months=min_train_months,
            n_boot=0,
            alpha=alpha,
            random_state=random_state,
        )
        for c in candidates
    }
    per_origin = pd.concat(
        [bt.per_origin.assign(candidate=name) for name, bt in backtests.items()],
        ignore_index=True,
    )
    # origins every candidate was judged at (an origin whose training label has one class
    # for one candidate is left out for all, so that the scores compare like with like)
    table = per_origin.pivot(index="origin", columns="candidate", values=metric)[names]
    table = table.dropna().sort_index()
    common = list(table.index)
    if not common:
        raise SnrInputError("model choice: no backtest origin at which every candidate was judged")
    per_origin = per_origin[per_origin["origin"].isin(common)].reset_index(drop=True)
    chosen = _best(table.mean(), metric)

    scores = pd.DataFrame(
        {
            "score": table.mean(),
            **{
                m: [
                    float(backtests[n].metrics.loc[m, "value"])
                    for n in names  # pooled over the candidate's own origins
                ]
                for m in ("roc_auc", "pr_auc", "brier")
            },
            "n_origins": len(common),
            "chosen": [n == chosen for n in names],
        },
        index=pd.Index(names, name="candidate"),
    )

    nested_rows, nested_preds = [], []
    for k in range(min_select_origins, len(common)):
        earlier, t = common[:k], common[k]
        pick = _best(table.loc[earlier].mean(), metric)
        row = per_origin[(per_origin["candidate"] == pick) & (per_origin["origin"] == t)].iloc[0]
        nested_rows.append(
            {
                "origin": t,
                "test_month": row["test_month"],
                "chosen": pick,
                "selected_on": ";".join(f"{o:%Y-%m}" for o in earlier),
                "roc_auc": row["roc_auc"],
                "pr_auc": row["pr_auc"],
                "brier": row["brier"],
            }
        )
        preds = backtests[pick].predictions
        nested_preds.append(preds[preds["origin"] == t])
    nested = pd.DataFrame(
        nested_rows,
        columns=["origin", "test_month", "chosen", "selected_on", "roc_auc", "pr_auc", "brier"],
    )
    nested_metrics = None
    if nested_preds:
        pooled = pd.concat(nested_preds, ignore_index=True)
        nested_metrics = evaluate(
            pooled["y"], pooled["p"], n_boot=n_boot, alpha=alpha, random_state=random_state
        )
    else:
        logger.warning(
            "model choice: %d common origin(s), no nested estimate (needs more than %d)",
            len(common),
            min_select_origins,
        )

    best = backtests[chosen]
    best = replace(
        best,
        metrics=evaluate(
            best.predictions["y"],
            best.predictions["p"],
            n_boot=n_boot,
            alpha=alpha,
            random_state=random_state,
        ),
    )
    if importance:
        best = backtest_importance(
            best, frame, label=label, n_repeats=n_repeats, random_state=random_state
        )
    backtests[chosen] = best
    return ModelChoice(
        chosen=chosen,
        metric=metric,
        scores=scores,
        per_origin=per_origin,
        nested=nested,
        nested_metrics=nested_metrics,
        backtests=backtests,
        candidates=list(candidates),
    )
