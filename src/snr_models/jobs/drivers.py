"""The driver job behind ``snr drivers``: what moves CSAT or NPS, and where to act first.

Loads the data, builds the survey frame (:func:`snr_models.drivers.survey_frame`), and runs,
on the seven attribute ratings:

- the exact Shapley (LMG) decomposition of R² with bootstrap intervals (relative weights
  beside it): ``importance.csv``, ``figures/importance.png``;
- the importance-performance map and ranked actions: ``actions.csv``, ``figures/ipa.png``;
- the asymmetric drivers (detractors vs promoters; for CSAT 1-2 vs 4-5):
  ``asymmetric.csv``, ``figures/asymmetric.png``;
- for CSAT, the ordinal logit on the ratings and the service-experience indicators:
  ``ordinal.csv``, ``figures/ordinal.png``;
- with ``by``, the drivers in each group with the differences tested: ``by_group.csv``,
  ``group_tests.csv``, ``figures/by_group.png``.

Everything is written atomically into one output directory. With ``track=True`` one MLflow
run in experiment ``snr-drivers`` holds the data profile, every table and figure, and a child
run per analysis (tag ``analysis``) holds its method, metrics (importances with their
intervals, odds ratios with theirs, test p-values) and its own tables and figures. Aggregates
only: no client rows or identifiers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from snr_models import progress
from snr_models.data.atomic import atomic_path
from snr_models.data.io import load
from snr_models.data.tables import Tables
from snr_models.drivers import (
    asymmetric_drivers,
    drivers_by_group,
    importance_performance,
    key_drivers,
    ordinal_logit,
    survey_frame,
)
from snr_models.drivers.survey import EXPERIENCE_COLUMNS, RATING_COLUMNS
from snr_models.errors import SnrInputError

logger = logging.getLogger(__name__)

#: Detractor and promoter ranges per target.
RANGES: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "nps": ((0, 6), (9, 10)),
    "csat": ((1, 2), (4, 5)),
}


@dataclass(frozen=True)
class DriversJobResult:
    """What :func:`run_drivers` produced."""

    tables: dict[str, pd.DataFrame]
    output: Path
    run_id: str | None
    seconds: float
    figures: dict[str, Any]
    summary: str


@dataclass(frozen=True)
class DriverAnalyses:
    """The driver analyses of one target, before any output is written."""

    tables: dict[str, pd.DataFrame]
    figures: dict[str, Any]
    summaries: list[str]
    analyses: dict[str, tuple[Any, list[str], list[str]]]


def analyse_drivers(
    tables: Tables,
    *,
    target: Literal["csat", "nps"] = "csat",
    by: str | None = None,
    n_boot: int = 500,
    alpha: float = 0.05,
    random_state: int = 0,
) -> DriverAnalyses:
    """Run the driver analyses of ``target`` (see the module docstring) on loaded tables."""
    if target not in RANGES:
        raise SnrInputError(f"target must be one of {sorted(RANGES)}, got {target!r}")
    frame = survey_frame(tables)
    if by is not None and by not in frame.columns:
        raise SnrInputError(
            f"--by {by!r} is not a column of the survey frame; try segment or branch_id"
        )
    drivers = list(RATING_COLUMNS)
    with progress.stage("importance"):
        importance = key_drivers(
            frame, target, drivers, n_boot=n_boot, alpha=alpha, random_state=random_state
        )
        ipa = importance_performance(importance)
    low, high = RANGES[target]
    with progress.stage("asymmetric"):
        asym = asymmetric_drivers(frame, target, drivers, low=low, high=high)
    out_tables = {
        "importance.csv": importance.to_frame(),
        "actions.csv": ipa.actions(),
        "asymmetric.csv": asym.to_frame(),
    }
    figures = {
        "importance.png": importance.plot(),
        "ipa.png": ipa.plot(),
        "asymmetric.png": asym.plot(),
    }
    summaries = [importance.summary(), ipa.summary(), asym.summary()]
    ordinal = None
    if target == "csat":
        experience = [c for c in EXPERIENCE_COLUMNS if frame[c].std() > 0]
        with progress.stage("ordinal"):
            ordinal = ordinal_logit(frame, target, drivers + experience, alpha=alpha)
        out_tables["ordinal.csv"] = ordinal.to_frame()
        figures["ordinal.png"] = ordinal.plot()
        summaries.append(ordinal.summary())
    groups = None
    if by is not None:
        with progress.stage("groups"):
            groups = drivers_by_group(
                frame,
                target,
                drivers,
                by,
                n_boot=min(n_boot, 200) if n_boot >= 2 else 200,
                alpha=alpha,
                random_state=random_state,
            )
        out_tables["by_group.csv"] = groups.to_frame()
        out_tables["group_tests.csv"] = groups.tests
        figures["by_group.png"] = groups.plot()
        summaries.append(groups.summary())
    return DriverAnalyses(
        tables=out_tables,
        figures=figures,
        summaries=summaries,
        analyses={
            "importance": (importance, ["importance.csv"], ["importance.png"]),
            "ipa": (ipa, ["actions.csv"], ["ipa.png"]),
            "asymmetric": (asym, ["asymmetric.csv"], ["asymmetric.png"]),
            "ordinal": (ordinal, ["ordinal.csv"], ["ordinal.png"]),
            "by_group": (groups, ["by_group.csv", "group_tests.csv"], ["by_group.png"]),
        },
    )


def run_drivers(
    data: str | Path | Tables,
    output: str | Path,
    *,
    target: Literal["csat", "nps"] = "csat",
    by: str | None = None,
    n_boot: int = 500,
    alpha: float = 0.05,
    random_state: int = 0,
    track: bool = False,
) -> DriversJobResult:
    """Run the driver analyses of ``target`` and write their tables and figures.

    Parameters
    ----------
    data : path or Tables
        Parquet folder / DuckDB file, or loaded tables.
    output : path
        Output directory (replaced atomically when it exists).
    target : {"csat", "nps"}
        The outcome.
    by : str, optional
        A column of the survey frame to compare groups by (``segment``, ``branch_id``).
    n_boot : int
        Bootstrap replicates of the importances.
    alpha : float
        ``1 - alpha`` intervals.
    random_state : int
        Seed of the bootstraps.
    track : bool
        Log parameters, importances, tables and figures to MLflow.
    """
    t0 = time.perf_counter()
    stages = (
        "data",
        "importance",
        "asymmetric",
        *(("ordinal",) if target == "csat" else ()),
        *(("groups",) if by is not None else ()),
        "write",
        *(("log",) if track else ()),
    )
    with progress.job("drivers", stages):
        with progress.stage("data"):
            tables = data if isinstance(data, Tables) else load(data)
        result = analyse_drivers(
            tables, target=target, by=by, n_boot=n_boot, alpha=alpha, random_state=random_state
        )
        return _write_drivers(result, tables, Path(output), target, by, n_boot, alpha, track, t0)


def _write_drivers(
    result: DriverAnalyses,
    tables: Tables,
    output: Path,
    target: Literal["csat", "nps"],
    by: str | None,
    n_boot: int,
    alpha: float,
    track: bool,
    t0: float,
) -> DriversJobResult:
    out_tables, figures, summaries = result.tables, result.figures, result.summaries
    with progress.stage("write"), atomic_path(output, directory=True) as tmp:
        for name, table in out_tables.items():
            table.to_csv(tmp / name, index=False)
        (tmp / "summary.txt").write_text("\n\n".join(summaries) + "\n")
        (tmp / "figures").mkdir()
        for name, fig in figures.items():
            fig.savefig(tmp / "figures" / name, dpi=110)
    seconds = time.perf_counter() - t0
    run_id = None
    if track:
        with progress.stage("log"):
            run_id = _track(
                tables=tables,
                target=target,
                drivers=list(RATING_COLUMNS),
                by=by,
                n_boot=n_boot,
                alpha=alpha,
                ranges=RANGES[target],
                analyses=result.analyses,
                out_tables=out_tables,
                figures=figures,
                summary="\n\n".join(summaries),
                seconds=seconds,
            )
    return DriversJobResult(
        tables=out_tables,
        output=output,
        run_id=run_id,
        seconds=seconds,
        figures=figures,
        summary="\n\n".join(summaries),
    )


def analysis_metrics(name: str, result: Any) -> dict[str, float]:
    """The headline numbers of one analysis, as MLflow metrics (aggregates only)."""
    metrics: dict[str, float] = {}
    if name == "importance":
        metrics.update(
            {
                "r2": result.r2,
                "r2_lo": result.r2_lo,
                "r2_hi": result.r2_hi,
                "n_used": result.n_used,
                "n_dropped": result.n_dropped,
            }
        )
        for driver, row in result.table.iterrows():
            for col in ("importance", "share"):
                metrics[f"{col}.{driver}"] = row[col]
                metrics[f"{col}.{driver}.lo"] = row[f"{col}_lo"]
                metrics[f"{col}.{driver}.hi"] = row[f"{col}_hi"]
            metrics[f"vif.{driver}"] = row["vif"]
    elif name == "ipa":
        metrics["importance_cut"] = result.importance_cut
        metrics["performance_cut"] = result.performance_cut
        for row in result.actions().itertuples():
            metrics[f"action_rank.{row.driver}"] = row.rank
            metrics[f"opportunity.{row.driver}"] = row.opportunity
    elif name == "asymmetric":
        metrics["pseudo_r2_detractor"] = result.detractor.r2
        metrics["pseudo_r2_promoter"] = result.promoter.r2
        for driver, row in result.table.iterrows():
            metrics[f"share_detractor.{driver}"] = row["share_detractor"]
            metrics[f"share_promoter.{driver}"] = row["share_promoter"]
            metrics[f"asymmetry.{driver}"] = row["asymmetry"]
    elif name == "ordinal":
        metrics["pseudo_r2"] = result.pseudo_r2
        metrics["n_used"] = result.n_used
        for term, row in result.coef.iterrows():
            metrics[f"odds_ratio.{term}"] = row["odds_ratio"]
            metrics[f"odds_ratio.{term}.lo"] = row["odds_ratio_lo"]
            metrics[f"odds_ratio.{term}.hi"] = row["odds_ratio_hi"]
        for cut, row in result.thresholds.iterrows():
            metrics[f"threshold.{cut}"] = row["threshold"]
    elif name == "by_group":
        metrics["chow_p_value"] = result.chow["p_value"]
        for row in result.tests.itertuples():
            metrics[f"importance_p_holm.{row.driver}"] = row.importance_p_holm
            metrics[f"slope_p_holm.{row.driver}"] = row.slope_p_holm
    return metrics


def _track(
    *,
    tables: Tables,
    target: str,
    drivers: list[str],
    by: str | None,
    n_boot: int,
    alpha: float,
    ranges: tuple[tuple[int, int], tuple[int, int]],
    analyses: dict[str, tuple[Any, list[str], list[str]]],
    out_tables: dict[str, pd.DataFrame],
    figures: dict[str, Any],
    summary: str,
    seconds: float,
) -> str:
    """One parent run (data profile, shared parameters, every table) with a child run per
    analysis (its parameters, metrics with intervals, tables and figures)."""
    from snr_models import tracking

    low, high = ranges
    settings = {"target": target, "by": by, "n_boot": n_boot, "alpha": alpha}
    with tracking.start_run(
        "snr-drivers",
        run_name=tracking.run_name(f"drivers {target}", tables, config=settings),
        tags={"job": "drivers"},
        description=(
            f"snr drivers: what moves {target.upper()} among {len(drivers)} service attributes "
            f"(Shapley importance with {n_boot} bootstrap replicates, {1 - alpha:.0%} "
            f"intervals){f', by {by}' if by else ''}; a child run per analysis."
        ),
    ) as parent:
        parent.log_params(
            {
                "target": target,
                "drivers": drivers,
                "n_boot": n_boot,
                "alpha": alpha,
                "missing": "listwise",
                "by": by or "",
            }
        )
        parent.log_data(tables)
        parent.log_metrics(
            {"seconds": seconds, **analysis_metrics("importance", analyses["importance"][0])}
        )
        for name, table in out_tables.items():
            parent.log_frame(table, f"drivers/{name}")
        parent.log_text(summary, "drivers/summary.txt")
        for name, fig in figures.items():
            parent.log_figure(fig, f"drivers/{name}")
        methods = {
            "importance": "exact Shapley (LMG) of R² from the correlation matrix, all 2^p "
            "subsets; relative weights beside it; percentile bootstrap of correlation matrices",
            "ipa": "importance = Shapley share of R², performance = mean rating, cuts at means",
            "asymmetric": f"logits of detractors {list(low)} and promoters {list(high)} vs "
            "passives; Shapley split of McFadden pseudo-R² by refitting",
            "ordinal": "proportional-odds logit (statsmodels OrderedModel)",
            "by_group": f"Shapley of R² within each {by}; Wald test of equal importance "
            "(bootstrap variances) and F test of a common slope, Holm-adjusted",
        }
        for name, (result, table_names, figure_names) in analyses.items():
            if result is None:
                continue
            with tracking.start_run(
                "snr-drivers", run_name=name, nested=True, tags={"analysis": name}
            ) as child:
                child.log_params({"analysis": name, "target": target, "method": methods[name]})
                child.log_metrics(analysis_metrics(name, result))
                for table_name in table_names:
                    child.log_frame(out_tables[table_name], f"drivers/{table_name}")
                for figure_name in figure_names:
                    child.log_figure(figures[figure_name], f"drivers/{figure_name}")
        return parent.run_id
