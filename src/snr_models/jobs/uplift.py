"""Retention uplift for the jobs: fit on past campaigns, rank the call list, compare rankings.

:func:`fit_uplift` reads the data's ``outreach`` table, joins each targeted client to its
features on the eve of its campaign (:func:`snr_models.churn.uplift.join_outreach`) and fits
the configured learner on the campaigns whose churn label is observed by the as-of month.
:func:`with_uplift` adds ``uplift`` (exits prevented per call) and ``call_value`` (``uplift x
client value - call cost``, RMB) to scored chunks, for ``snr score --rank uplift|value``.
:func:`compare_rankings` judges an uplift learner against the risk ranking on the latest
campaigns (out of time): the figures the report's churn section and the retrain gate use.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snr_models.churn.scoring import model_columns
from snr_models.churn.uplift import (
    DRUplift,
    TwoModelUplift,
    UpliftEvaluation,
    XLearnerUplift,
    assignment_propensity,
    attach_true_uplift,
    evaluate_uplift,
    join_outreach,
    out_of_time_split,
)
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.features import build_features, feature_columns
from snr_models.jobs.config import UpliftSettings

__all__ = [
    "LEARNERS",
    "RANKINGS",
    "FittedUplift",
    "RankingComparison",
    "call_ranks",
    "campaign_rows",
    "compare_rankings",
    "fit_uplift",
    "with_uplift",
]

logger = logging.getLogger(__name__)

#: The learners ``uplift.learner`` names.
LEARNERS = {"two_model": TwoModelUplift, "x_learner": XLearnerUplift, "dr_learner": DRUplift}
#: What ``snr score --rank`` orders the call list by, and the column holding it.
RANKINGS = {"risk": "churn_probability", "uplift": "uplift", "value": "call_value"}


@dataclass(frozen=True)
class FittedUplift:
    """An uplift learner fitted on past campaigns, and what it was fitted on (counts only)."""

    model: Any
    columns: list[str]
    settings: UpliftSettings
    n_rows: int
    n_campaigns: int
    n_set_aside: int

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """``uplift`` and ``call_value`` of each client of a feature frame."""
        uplift = self.model.predict(features[self.columns])
        balance = features["financing_balance"].fillna(0.0).to_numpy()
        value = self.settings.client_value + self.settings.value_per_balance * balance
        return pd.DataFrame(
            {"uplift": uplift, "call_value": uplift * value - self.settings.call_cost},
            index=features.index,
        )


def _tables(data: str | Path | Tables) -> Tables:
    if isinstance(data, Tables):
        return data
    from snr_models.data.io import load

    return load(data)


def campaign_rows(tables: Tables, horizon: int, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Each targeted client's eve-of-campaign features and label, for campaigns up to ``as_of``.

    Raises
    ------
    SnrInputError
        If the data hold no ``outreach`` table, or no campaign before ``as_of``.
    """
    outreach = tables.outreach
    if outreach is None or outreach.empty:
        raise SnrInputError(
            "outreach: the data hold no retention campaigns (the optional outreach table); "
            "uplift needs a campaign with a random holdout"
        )
    contacted = outreach["contacted_at"].dt.to_period("M").dt.to_timestamp()
    if as_of is not None:
        outreach = outreach[contacted <= as_of]
        contacted = contacted[contacted <= as_of]
    eves = sorted({m - pd.offsets.MonthBegin(1) for m in contacted})
    if not eves:
        raise SnrInputError(f"outreach: no campaign on or before {as_of:%Y-%m}")
    months = [f"{m:%Y-%m}" for m in eves]
    first = tables.client_months["month"].min()
    months = [m for m in months if pd.Timestamp(m) >= first]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gaps are reported by the churn stage itself
        features = build_features(tables, as_of=months, horizon=horizon)
    rows, aside = join_outreach(features, outreach)
    rows.attrs["n_set_aside"] = len(aside)
    return rows


def _fit_learner(settings: UpliftSettings, rows: pd.DataFrame) -> tuple[Any, list[str]]:
    """``settings.learner`` fitted on labelled campaign rows, and its input columns."""
    columns = feature_columns(rows.drop(columns="uplift", errors="ignore"))
    e = assignment_propensity(rows["_treatment"], rows["_campaign_id"])
    try:
        model = LEARNERS[settings.learner]().fit(
            rows[columns], rows["churn"], rows["_treatment"], propensity=e
        )
    except ValueError as exc:
        raise SnrInputError(f"outreach: {exc}") from None
    return model, columns


def fit_uplift(
    data: str | Path | Tables,
    as_of: pd.Timestamp,
    settings: UpliftSettings,
    *,
    horizon: int = 3,
) -> FittedUplift:
    """Fit ``settings.learner`` on every campaign whose label is observed by ``as_of``.

    Raises
    ------
    SnrInputError
        Without outreach data, or when no labelled campaign has exits in both arms.
    """
    rows = campaign_rows(_tables(data), horizon, as_of)
    # labels known by the as-of month: exits in the horizon after the eve, up to as_of
    known = rows["as_of"] + pd.offsets.MonthBegin(horizon) <= as_of
    labelled = rows[rows["churn"].notna() & known]
    if labelled.empty:
        raise SnrInputError(
            f"outreach: no campaign before {as_of:%Y-%m} is {horizon} months old yet "
            "(its exits are not known)"
        )
    model, columns = _fit_learner(settings, labelled)
    n_campaigns = labelled["_campaign_id"].nunique()
    logger.info(
        "uplift (%s) fitted on %d targeted clients of %d campaign(s)",
        settings.learner,
        len(labelled),
        n_campaigns,
    )
    return FittedUplift(
        model, columns, settings, len(labelled), n_campaigns, rows.attrs.get("n_set_aside", 0)
    )


def with_uplift(
    scored: Iterator[pd.DataFrame], features: Iterator[pd.DataFrame], fitted: FittedUplift
) -> Iterator[pd.DataFrame]:
    """Add ``uplift`` and ``call_value`` to scored chunks (``features``: the same chunks)."""
    for part, frame in zip(scored, features, strict=True):
        if (
            not part["client_id"]
            .reset_index(drop=True)
            .equals(frame["client_id"].reset_index(drop=True))
        ):
            raise RuntimeError("scored chunk and feature chunk are not aligned")
        extra = fitted.predict(frame.reset_index(drop=True))
        yield pd.concat([part.reset_index(drop=True), extra.reset_index(drop=True)], axis=1)


@dataclass(frozen=True)
class RankingComparison:
    """Calls by risk versus by uplift on the latest campaigns (out of time)."""

    evaluation: UpliftEvaluation
    learner: str
    test_campaigns: list[str]
    n_train: int
    n_test: int

    @property
    def qini(self) -> float:
        """The uplift ranking's Qini coefficient on the test campaigns."""
        return float(self.evaluation.metrics.loc["qini", "estimate"])


def compare_rankings(
    tables: Tables,
    settings: UpliftSettings,
    *,
    horizon: int = 3,
    risk_model: Any = None,
    n_test: int | None = None,
    true_uplift: pd.DataFrame | None = None,
    n_boot: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> RankingComparison:
    """Fit the uplift learner on earlier campaigns and judge it on the latest ``n_test``.

    Parameters
    ----------
    risk_model : classifier, optional
        Scores risk for the comparison (``predict_proba``); default: a ``ChurnLogit`` fitted
        on the clients of the training campaigns.
    true_uplift : DataFrame, optional
        ``campaign_id``, ``client_id``, ``uplift`` (a simulation's truth) for ``truth`` columns.
    """
    from snr_models.churn import ChurnLogit

    rows = campaign_rows(tables, horizon)
    if true_uplift is not None:
        rows = attach_true_uplift(rows, true_uplift)
    train, test = out_of_time_split(rows, n_test or settings.n_test_campaigns)
    model, columns = _fit_learner(settings, train)
    if risk_model is None:
        risk_model = ChurnLogit(C=0.1).fit(train[columns], train["churn"])
    risk_columns = model_columns(risk_model) or columns
    risk = risk_model.predict_proba(test[risk_columns])[:, 1]
    evaluation = evaluate_uplift(
        test["churn"],
        model.predict(test[columns]),
        test["_treatment"],
        risk=risk,
        true_uplift=None if true_uplift is None else test["uplift"].to_numpy(),
        n_boot=n_boot,
        alpha=alpha,
        random_state=seed,
    )
    return RankingComparison(
        evaluation=evaluation,
        learner=settings.learner,
        test_campaigns=sorted(set(test["_campaign_id"])),
        n_train=len(train),
        n_test=len(test),
    )


def call_ranks(values: np.ndarray) -> np.ndarray:
    """1 for the client to call first (highest value), ties in file order."""
    order = np.argsort(-np.asarray(values, dtype=float), kind="stable")
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return ranks
