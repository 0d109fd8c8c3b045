"""The churn configuration's models: estimators, labels, the candidates and the choice.

Shared by the churn jobs (:mod:`snr_models.jobs.churn`) and retraining
(:mod:`snr_models.jobs.retrain`): from a :class:`ChurnConfig` to fitted estimators, on the
labelled rows it selects, and the holdout split of retraining.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from sklearn.base import clone

from snr_models.churn import (
    Candidate,
    ChurnBoost,
    ChurnLogit,
    HazardModel,
    ModelChoice,
    select_model,
)
from snr_models.errors import SnrInputError
from snr_models.features import feature_columns
from snr_models.jobs.config import ChurnConfig

if TYPE_CHECKING:
    from snr_models.data.tables import Tables
    from snr_models.tracking import TrackedRun

__all__ = [
    "candidates",
    "choose_model",
    "feature_months",
    "fit_chosen",
    "fit_estimator",
    "holdout_split",
    "label_column",
    "labelled_rows",
    "log_choice",
    "make_estimator",
    "model_inputs",
    "model_names",
]


def model_names(config: ChurnConfig) -> list[str]:
    """The models the configuration lets the job fit: ``auto.candidates`` or ``[model]``."""
    return list(config.auto.candidates) if config.model == "auto" else [config.model]


def make_estimator(config: ChurnConfig, model: str | None = None):
    """The (unfitted) estimator ``model`` names (default ``config.model``, not ``auto``).

    Fitted on ``config.negative_fraction`` of the stayers (every exit kept, the stayers
    weighted up), seeded by ``config.seed``.
    """
    model = model or config.model
    if model == "auto":
        raise ValueError("model 'auto' is a choice among estimators: see choose_model")
    sampling = {"negative_fraction": config.negative_fraction, "random_state": config.seed}
    if model == "logit":
        return ChurnLogit(C=config.logit.C, **sampling)
    if model == "hazard":
        return HazardModel(C=config.hazard.C, horizon=config.horizon, **sampling)
    return ChurnBoost(**config.boost.model_dump(), **sampling)


def label_column(config: ChurnConfig, model: str | None = None) -> str:
    """The training label of ``model`` (default ``config.model``).

    ``exit_next_month`` for the hazard model, else ``churn`` (also for ``auto``).
    """
    return "exit_next_month" if (model or config.model) == "hazard" else "churn"


def candidates(config: ChurnConfig) -> list[Candidate]:
    """The :class:`~snr_models.churn.Candidate` models of :func:`model_names`."""
    return [
        Candidate(name, make_estimator(config, name), label_column(config, name))
        for name in model_names(config)
    ]


def feature_months(tables: Tables, config: ChurnConfig) -> list[pd.Timestamp] | None:
    """The as-of months whose features the job needs, or ``None`` for every month.

    With ``train_months`` = ``K`` and horizon ``H``, the labelled rows :func:`labelled_rows`
    keeps are those of the ``K`` latest months with observed ``H``-month labels, i.e. up to
    ``H`` months before the data's last month; the latest months after them (unlabelled, the
    last one scored for the call list) complete the window. Features are point-in-time, so a
    month's rows are the same whichever months are built with it.
    """
    if not config.train_months:
        return None
    months = tables.client_months["month"]
    first, last = months.min(), months.max()
    if pd.isna(last):
        return None
    start = last - pd.DateOffset(months=config.horizon + config.train_months - 1)
    return list(pd.date_range(max(first, start), last, freq="MS"))


def labelled_rows(frame: pd.DataFrame, config: ChurnConfig) -> pd.DataFrame:
    """Rows whose training labels (and ``churn``) are observed, limited to ``train_months``.

    With ``model: auto`` the labels of every candidate: all are fitted on the same rows.
    """
    labels = {"churn", *(label_column(config, m) for m in model_names(config))}
    labelled = frame[frame[sorted(labels)].notna().all(axis=1)]
    if config.train_months:
        months = sorted(labelled["as_of"].unique())[-config.train_months :]
        labelled = labelled[labelled["as_of"].isin(months)]
    if labelled.empty or any(labelled[label].nunique() < 2 for label in labels):
        raise SnrInputError(
            f"churn train: no labelled client-months with both churners and stayers "
            f"(horizon {config.horizon} months); use more months of data"
        )
    return labelled


def model_inputs(frame: pd.DataFrame) -> list[str]:
    """The columns an estimator is fitted on: the features and ``as_of`` (time order)."""
    return [*feature_columns(frame), "as_of"]


def fit_estimator(labelled: pd.DataFrame, config: ChurnConfig, model: str | None = None):
    """Fit ``model`` (default ``config.model``, not ``auto``) on labelled rows."""
    inputs = model_inputs(labelled)
    return make_estimator(config, model).fit(
        labelled[inputs], labelled[label_column(config, model)].to_numpy()
    )


def choose_model(
    labelled: pd.DataFrame, config: ChurnConfig, *, importance: bool = False
) -> ModelChoice:
    """The rolling-origin backtest of every model of the configuration, and the choice.

    With ``model: auto`` the candidates are ``auto.candidates`` and the one with the best
    mean per-origin ``auto.metric`` is chosen (:func:`~snr_models.churn.select_model`, which
    also gives the choice's nested estimate); with a named model it is the only candidate.
    """
    return select_model(
        labelled,
        candidates(config),
        horizon=config.horizon,
        label="churn",
        metric=config.auto.metric,
        min_train_months=config.backtest.min_train_months,
        n_origins=config.backtest.n_origins,
        importance=importance,
        n_repeats=config.backtest.n_repeats,
        n_boot=config.n_boot,
        alpha=config.alpha,
        random_state=config.seed,
    )


def fit_chosen(labelled: pd.DataFrame, choice: ModelChoice):
    """Fit the chosen candidate on every labelled row (with its own training label)."""
    candidate = choice.candidate
    return clone(candidate.estimator).fit(
        labelled[model_inputs(labelled)], labelled[candidate.train_label].to_numpy()
    )


def log_choice(run: TrackedRun, choice: ModelChoice) -> None:
    """Log the model choice: parameters, each candidate's backtest score, the nested estimate.

    Aggregates only: candidate names, origins as months, metrics; no client row.
    """
    run.log_params(
        {
            "model.chosen": choice.chosen,
            "model.candidates": ",".join(choice.scores.index),
            "model.metric": choice.metric,
            "model.n_origins": int(choice.scores["n_origins"].max()),
            "model.nested_origins": ",".join(f"{o:%Y-%m}" for o in choice.nested["origin"]),
        }
    )
    scores = choice.scores
    run.log_metrics(
        {
            f"choice.{name}.{m}": float(scores.loc[name, m])
            for name in scores.index
            for m in ("score", "roc_auc", "pr_auc", "brier")
        }
    )
    run.log_frame(scores.reset_index(), "backtest/candidates.csv")
    run.log_frame(choice.per_origin, "backtest/candidates_per_origin.csv")
    if choice.nested_metrics is not None:
        m = choice.nested_metrics
        run.log_metrics(
            {f"nested.{choice.metric}_mean": choice.nested_score}
            | {f"nested.{k}": m.loc[k, "value"] for k in ("roc_auc", "pr_auc", "brier", "empc")}
            | {f"nested.{k}_lo": m.loc[k, "lo"] for k in ("roc_auc", "pr_auc")}
            | {f"nested.{k}_hi": m.loc[k, "hi"] for k in ("roc_auc", "pr_auc")}
        )
        run.log_frame(choice.nested, "backtest/nested.csv")
    import matplotlib.pyplot as plt

    fig = choice.plot()
    run.log_figure(fig, "backtest/model_choice.png")
    plt.close(fig)


def holdout_split(frame: pd.DataFrame, config: ChurnConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows (before the holdout, with a gap of ``horizon`` months) and the holdout."""
    observed = frame[frame["churn"].notna()]
    months = sorted(observed["as_of"].unique())
    k = config.retrain.holdout_months
    if len(months) < k + config.horizon + 2:
        raise SnrInputError(
            f"retrain: {len(months)} as-of month(s) with observed {config.horizon}-month "
            f"labels; a holdout of {k} month(s), a gap of {config.horizon} and two training "
            f"months need at least {k + config.horizon + 2}"
        )
    holdout_start = pd.Timestamp(months[-k])
    cutoff = holdout_start - pd.DateOffset(months=config.horizon)
    holdout = observed[observed["as_of"] >= holdout_start]
    train = labelled_rows(frame[frame["as_of"] <= cutoff], config)
    return train, holdout
