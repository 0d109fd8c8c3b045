"""The main job's typed results: one per stage, and the whole run (:class:`MainResult`).

The report (:mod:`snr_models.report`), the files written and the MLflow logging all read
these; nothing downstream parses a string-keyed summary again. :meth:`MainResult.summary` is
only the JSON written as ``summary.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from snr_models.data import Tables
from snr_models.forecast import ForecastResult
from snr_models.jobs.attribution import AttributionEstimates
from snr_models.jobs.config import RunConfig
from snr_models.jobs.drivers import DriverAnalyses
from snr_models.jobs.netrate import NetRateStageResult
from snr_models.jobs.plan import PlanEstimates
from snr_models.jobs.uplift import RankingComparison

__all__ = ["ChurnStageResult", "DataStageResult", "MainResult"]


@dataclass(frozen=True)
class DataStageResult:
    """The tables the run analysed and where they came from (``"given"`` or ``"simulated"``)."""

    tables: Tables
    source: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ChurnStageResult:
    """What the churn stage shows: backtest metrics, figures and the top of the call list.

    ``call_list`` holds pseudonyms, not client identifiers (keyed by a secret that is not
    kept), so the report and its artifacts name no client.
    """

    metrics: pd.DataFrame
    figures: dict[str, Any]
    horizon: int
    alpha: float
    model_uri: str
    model_version: str | None
    backtest_auc: float
    call_list: pd.DataFrame | None = None
    call_list_as_of: pd.Timestamp | None = None
    # the call list's reasons (``reason_1..3``, same rows) in each language of the report
    reasons: dict[str, pd.DataFrame] = field(default_factory=dict)
    # calls by risk against calls by uplift on the latest campaigns (when outreach exists)
    uplift: RankingComparison | None = None
    # the model ``model: auto`` chose, the candidates, and the choice's nested ROC-AUC
    # (pooled over origins not used for the choice; NaN without such origins)
    model: str = ""
    candidates: list[str] = field(default_factory=list)
    nested_auc: float = float("nan")


@dataclass(frozen=True)
class MainResult:
    """Every stage's result of one run of the main job (a disabled stage is ``None``)."""

    config: RunConfig
    run_id: str
    package_version: str
    data: DataStageResult
    netrate: NetRateStageResult
    drivers: DriverAnalyses | None = None
    churn: ChurnStageResult | None = None
    attribution: AttributionEstimates | None = None
    forecast: ForecastResult | None = None
    plan: PlanEstimates | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables written beside the report, by file name."""
        out = dict(self.netrate.tables())
        if self.drivers is not None:
            out.update({f"drivers_{k}": v for k, v in self.drivers.tables.items()})
        if self.churn is not None:
            out["churn_backtest.csv"] = self.churn.metrics
        if self.attribution is not None:
            out["attribution_effects.csv"] = self.attribution.effects
            out["attribution_waterfall.csv"] = self.attribution.waterfall
            out["attribution_diagnostics.csv"] = self.attribution.diagnostics
            out["attribution_programmes_total.csv"] = self.attribution.totals
            out["attribution_combinations.csv"] = self.attribution.combinations
        if self.forecast is not None:
            out["forecast.csv"] = self.forecast.to_frame()
        if self.plan is not None:
            out["plan_power.csv"] = self.plan.plan.to_frame()
            out["plan_branch_effects.csv"] = self.plan.effects.to_frame()
            if self.plan.allocation is not None:
                out["plan_allocation.csv"] = self.plan.allocation.to_frame()
        return out

    def figures(self) -> dict[str, Any]:
        """The figures written beside the report, by file name."""
        out = dict(self.netrate.figures)
        if self.churn is not None:
            out.update(self.churn.figures)
        return out

    def summary(self) -> dict[str, Any]:
        """The run in a few numbers and names (``summary.json``)."""
        nr = self.netrate
        out: dict[str, Any] = {
            **nr.metrics(),
            "latest_period": f"{nr.change.end:%Y-%m}",
            "compare": [f"{nr.change.start:%Y-%m}", f"{nr.change.end:%Y-%m}"],
            "change_by_component": nr.change_by_component(),
        }
        if self.churn is not None:
            out["churn_model"] = self.churn.model_uri
            out["churn_model_version"] = self.churn.model_version
            out["churn_model_chosen"] = self.churn.model
            out["churn_candidates"] = list(self.churn.candidates)
            out["churn_nested_auc"] = (
                self.churn.nested_auc if math.isfinite(self.churn.nested_auc) else None
            )
            out["churn_backtest_auc"] = self.churn.backtest_auc
            if self.churn.call_list_as_of is not None:
                out["call_list_as_of"] = f"{self.churn.call_list_as_of:%Y-%m}"
        out.update(
            run_id=self.run_id,
            experiment=self.config.experiment,
            package_version=self.package_version,
            data_source=self.data.source,
            data_hash=self.data.tables.content_hash(),
        )
        return out
