"""Churn jobs: train (features, backtest, final fit, tracking, registry) and evaluate.

Configuration: ``experiments/churn.yaml`` (:class:`ChurnConfig`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd

from snr_models import progress, threads
from snr_models.churn import (
    BacktestResult,
    ModelChoice,
    evaluate,
    plot_importance,
    plot_lift,
    plot_partial_dependence,
    plot_reliability,
    plot_roc,
)
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.features import build_features, feature_columns, parse_month
from snr_models.jobs.churn_models import (
    choose_model,
    feature_months,
    fit_chosen,
    labelled_rows,
    log_choice,
    model_inputs,
)
from snr_models.jobs.config import ChurnConfig

if TYPE_CHECKING:
    from snr_models.tracking import TrackedRun
    from snr_models.tracking.models import LoggedChurnModel

__all__ = [
    "ChurnConfig",
    "ChurnFit",
    "ChurnEvaluateResult",
    "ChurnTrainResult",
    "evaluate_churn",
    "fit_churn",
    "log_churn",
    "train_churn",
]

logger = logging.getLogger(__name__)


def _tables(data: str | Path | Tables) -> Tables:
    if isinstance(data, Tables):
        return data
    from snr_models.data.io import load

    return load(data)


@dataclass(frozen=True)
class ChurnTrainResult:
    """What :func:`train_churn` produced (no client rows).

    ``model`` is the chosen model's name, ``candidates`` each candidate's backtest scores
    (:attr:`~snr_models.churn.ModelChoice.scores`), ``nested`` and ``nested_metrics`` the
    accuracy of the choice on origins not used to make it.
    """

    run_id: str
    model_uri: str
    registered_uri: str | None
    version: str | None
    metrics: pd.DataFrame
    per_origin: pd.DataFrame
    importance: pd.DataFrame | None
    model: str = ""
    candidates: pd.DataFrame | None = None
    nested: pd.DataFrame | None = None
    nested_metrics: pd.DataFrame | None = None


def _log_figures(run, y, p, prefix: str) -> None:
    for name, fig in (
        ("roc", plot_roc(y, p)),
        ("calibration", plot_reliability(y, p)),
        ("lift", plot_lift(y, p)),
    ):
        run.log_figure(fig, f"{prefix}/{name}.png")
        plt.close(fig)


@dataclass(frozen=True)
class ChurnFit:
    """A churn model chosen and fitted by :func:`fit_churn`, with its backtest.

    Holds client rows (``features``, ``labelled``, the backtest's predictions): log it with
    :func:`log_churn`, which records aggregates only.
    """

    config: ChurnConfig
    features: pd.DataFrame
    labelled: pd.DataFrame
    inputs: list[str]
    choice: ModelChoice
    estimator: Any

    @property
    def backtest(self) -> BacktestResult:
        """The chosen model's rolling-origin backtest."""
        return self.choice.backtest


def fit_churn(tables: Tables, config: ChurnConfig | None = None) -> ChurnFit:
    """Build features, backtest the candidate models, choose one and fit it.

    Parameters
    ----------
    tables : Tables
        Validated tables of the data contract.
    config : ChurnConfig, optional
        Default: ``ChurnConfig()``.
    """
    config = config or ChurnConfig()
    with progress.stage("features"):
        months = feature_months(tables, config)
        frame = build_features(tables, as_of=months, horizon=config.horizon)
        labelled = labelled_rows(frame, config)
    choice = choose_model(labelled, config, importance=config.backtest.importance)
    with progress.stage("fit"):
        estimator = fit_chosen(labelled, choice)
    return ChurnFit(
        config=config,
        features=frame,
        labelled=labelled,
        inputs=model_inputs(labelled),
        choice=choice,
        estimator=estimator,
    )


def log_churn(run: TrackedRun, tables: Tables, fit: ChurnFit) -> LoggedChurnModel:
    """Log a :func:`fit_churn` result in ``run`` and register the model (if configured).

    Logged: the configuration, the data's schema and hash, the model choice (each
    candidate's backtest score, the nested estimate), the chosen model's backtest metrics per
    origin and pooled with intervals, ROC, calibration and lift figures, importances, partial
    dependence, the logit's inference table, and the model (skops) with its training
    profile. No client row or identifier.
    """
    from snr_models.features.drift import training_profile
    from snr_models.tracking.models import log_churn_model

    config, bt, final, labelled, inputs = (
        fit.config,
        fit.backtest,
        fit.estimator,
        fit.labelled,
        fit.inputs,
    )
    run.log_params(
        {
            "config": config.model_dump(),
            "estimator": type(final).__name__,
            "n_features": len(inputs) - 1,
            "n_train_rows": len(labelled),
        }
    )
    log_choice(run, fit.choice)
    run.log_data(tables)
    run.log_metrics(
        {f"backtest.{m}": v for m, v in bt.metrics["value"].items()}
        | {f"backtest.{m}_lo": v for m, v in bt.metrics["lo"].items()}
        | {f"backtest.{m}_hi": v for m, v in bt.metrics["hi"].items()}
    )
    for i, row in bt.per_origin.iterrows():
        run.log_metrics(
            {f"origin.{k}": row[k] for k in ("roc_auc", "pr_auc", "brier", "base_rate")},
            step=int(i),
        )
    run.log_frame(bt.metrics.reset_index(), "backtest/metrics.csv")
    run.log_frame(bt.per_origin, "backtest/per_origin.csv")
    _log_figures(run, bt.predictions["y"], bt.predictions["p"], "backtest")
    fig = bt.plot()
    run.log_figure(fig, "backtest/by_origin.png")
    plt.close(fig)
    if bt.importance is not None:
        run.log_frame(bt.importance, "backtest/importance.csv")
        fig = plot_importance(bt.importance)
        run.log_figure(fig, "backtest/importance.png")
        plt.close(fig)
        top = [f for f in bt.importance["feature"].head(3)]
        sample = labelled[labelled["as_of"] == labelled["as_of"].max()]
        fig = plot_partial_dependence(final, sample[inputs], top, grid_size=10, max_rows=1000)
        run.log_figure(fig, "model/partial_dependence.png")
        plt.close(fig)
    inner = getattr(final, "hazard_model_", final)
    if hasattr(inner, "inference_table"):
        run.log_frame(inner.inference_table().reset_index(), "model/inference_table.csv")
        run.log_text(inner.summary(), "model/summary.txt")
    return log_churn_model(
        run,
        final,
        labelled[inputs],
        registered_model_name="snr-churn" if config.register_model else None,
        profile=training_profile(
            labelled, feature_columns(labelled), n_bins=config.retrain.drift.n_bins
        ),
        version_tags={"horizon": config.horizon, "lifecycle": "trained"},
    )


def _train_description(config: ChurnConfig) -> str:
    """The training run's description in the MLflow UI."""
    return (
        f"snr churn train: a {config.model} model of each client's probability of leaving "
        f"within {config.horizon} months, from point-in-time features; rolling-origin backtest "
        f"({config.backtest.n_origins} origins, {config.n_boot} bootstrap replicates), the "
        f"final fit logged and {'registered' if config.register_model else 'not registered'}."
    )


@progress.job("churn train", ("data", "features", "backtest", "fit", "log"))
def train_churn(data: str | Path | Tables, config: ChurnConfig | None = None) -> ChurnTrainResult:
    """Build features, backtest, fit the final model, log everything and register it.

    :func:`fit_churn` then :func:`log_churn`, in a run of its own in ``config.experiment``,
    with ``config.threads`` threads (:func:`snr_models.threads.limit`). Progress is reported
    through :mod:`snr_models.progress`: data, features, backtest, fit, log.

    Parameters
    ----------
    data : str, Path or Tables
        A Parquet folder or DuckDB file (loaded and validated), or tables.
    config : ChurnConfig, optional
        Default: ``ChurnConfig()``.

    Returns
    -------
    ChurnTrainResult
    """
    from snr_models import tracking

    config = config or ChurnConfig()
    with threads.limit(config.threads):
        with progress.stage("data"):
            tables = _tables(data)
        fit = fit_churn(tables, config)
        settings = config.model_dump(mode="json", exclude={"threads"})
        with (
            progress.stage("log"),
            tracking.start_run(
                config.experiment,
                run_name=tracking.run_name("churn train", tables, config=settings),
                tags={"job": "churn train"},
                description=_train_description(config),
            ) as run,
        ):
            logged = log_churn(run, tables, fit)
    return ChurnTrainResult(
        run_id=logged.run_id,
        model_uri=logged.model_uri,
        registered_uri=logged.registered_uri,
        version=logged.version,
        metrics=fit.backtest.metrics,
        per_origin=fit.backtest.per_origin,
        importance=fit.backtest.importance,
        model=fit.choice.chosen,
        candidates=fit.choice.scores,
        nested=fit.choice.nested,
        nested_metrics=fit.choice.nested_metrics,
    )


@dataclass(frozen=True)
class ChurnEvaluateResult:
    """What :func:`evaluate_churn` produced (no client rows)."""

    run_id: str | None
    as_of: pd.Timestamp
    metrics: pd.DataFrame


@progress.job("churn evaluate", ("data", "features", "evaluate", "log"))
def evaluate_churn(
    data: str | Path | Tables,
    model_uri: str,
    *,
    as_of: str | None = None,
    horizon: int = 3,
    n_boot: int = 200,
    experiment: str = "snr-churn",
    track: bool = True,
) -> ChurnEvaluateResult:
    """Evaluate a registered churn model on the labelled clients of one as-of month.

    Parameters
    ----------
    data : str, Path or Tables
    model_uri : str
        E.g. ``models:/snr-churn@champion``.
    as_of : str, optional
        ``YYYY-MM``; default: the latest month whose ``horizon``-month labels are observed.
    """
    from snr_models.tracking.models import load_churn_model

    with progress.stage("data"):
        tables = _tables(data)
        model = load_churn_model(model_uri)
    with progress.stage("features"):
        frame = build_features(tables, as_of=as_of, horizon=horizon)
    labelled = frame[frame["churn"].notna()]
    if as_of is None:
        if labelled.empty:
            raise SnrInputError(f"evaluate: no as-of month has {horizon}-month labels yet")
        month = labelled["as_of"].max()
        labelled = labelled[labelled["as_of"] == month]
    else:
        month = parse_month(as_of)
        if labelled.empty:
            raise SnrInputError(
                f"evaluate: the {horizon}-month outcome of {month:%Y-%m} is not observed yet"
            )
    from snr_models.churn.scoring import model_columns
    from snr_models.features.signature import align_columns

    with progress.stage("evaluate"):
        X = align_columns(labelled, model_columns(model))
        p = model.predict_proba(X)[:, 1]
        metrics = evaluate(labelled["churn"], p, n_boot=n_boot)
    run_id = None
    if track:
        from snr_models import tracking

        with (
            progress.stage("log"),
            tracking.start_run(
                experiment,
                run_name=f"churn evaluate {month:%Y-%m} {tables.content_hash()[:6]}",
                tags={"job": "churn evaluate"},
                description=(
                    f"snr churn evaluate: {model_uri} on the {len(labelled):,} clients open at the "
                    f"end of {month:%Y-%m} whose {horizon}-month outcome is known "
                    f"({n_boot} bootstrap replicates)."
                ),
            ) as run,
        ):
            run.log_params(
                {
                    "model_uri": model_uri,
                    "as_of": f"{month:%Y-%m}",
                    "horizon": horizon,
                    "n_boot": n_boot,
                }
            )
            run.log_data(tables)
            run.log_metrics({f"eval.{m}": v for m, v in metrics["value"].items()})
            run.log_frame(metrics.reset_index(), "evaluation/metrics.csv")
            _log_figures(run, labelled["churn"], p, "evaluation")
            run_id = run.run_id
    return ChurnEvaluateResult(run_id=run_id, as_of=month, metrics=metrics)
