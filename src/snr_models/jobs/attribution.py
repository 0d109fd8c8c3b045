"""The attribution job behind ``snr attribute``: what each intervention did to the net rate.

Loads the data, builds the branch x month panel, estimates every intervention's effect on S, R,
E and the net rate jointly, splits the change of the firm-wide net rate into a waterfall,
computes the diagnostics an analyst should read first (per intervention: the Callaway-Sant'Anna
event study on the net rate with its pre-trend test where a never-treated group exists, and the
TWFE negative-weight share), and writes, atomically into one output directory:

- ``effects.csv``: ``intervention, component, estimate, se, lo, hi, method``
- ``waterfall.csv``: ``step, component, value, se, lo, hi, df, kind, range_lo, range_hi,
  note``: start, each programme's Shapley share (``range_lo, range_hi`` its range where an
  interaction is not identified, ``lo, hi`` the interval around it), market and trend (the
  change of the world without any programme, imputed, net of the mix), mix, end
  (:func:`~snr_models.attribution.attribute_change` with ``overlap="shapley"``)
- ``programmes_total.csv``: what the programmes did together and the change without any
- ``combinations.csv``: the effect of each combination of programmes active together
- ``overlap_terms.csv``: which interactions of programmes were estimated, which pooled
  (assumed additive) and why
- ``diagnostics.csv``: per intervention, pre-trend test and TWFE weights
- ``figures/``: ``waterfall.png``, ``effects.png``, ``event_<intervention>.png``

With ``track=True`` the design, estimates, diagnostics and figures are logged to MLflow
(aggregates only: no client rows or identifiers).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snr_models import progress
from snr_models.attribution import (
    JointEffects,
    attribute_change,
    build_panel,
    diagnose,
    estimate_joint,
    estimate_overlap,
)
from snr_models.data.atomic import atomic_path
from snr_models.data.io import load
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError

logger = logging.getLogger(__name__)

EFFECT_COLUMNS = ["intervention", "component", "estimate", "se", "lo", "hi", "method"]


@dataclass(frozen=True)
class AttributionJobResult:
    """What :func:`run_attribution` produced."""

    effects: pd.DataFrame
    waterfall: pd.DataFrame
    diagnostics: pd.DataFrame
    totals: pd.DataFrame
    output: Path
    run_id: str | None
    seconds: float
    figures: dict[str, Any]


@dataclass(frozen=True)
class AttributionEstimates:
    """Effects, waterfall, diagnostics and figures of one attribution, before any output."""

    effects: pd.DataFrame
    waterfall: pd.DataFrame
    diagnostics: pd.DataFrame
    figures: dict[str, Any]
    design: dict[str, Any]
    totals: pd.DataFrame
    combinations: pd.DataFrame
    overlap_terms: pd.DataFrame
    #: the joint estimate itself (its panel and fits), for the plan stage to reuse
    joint: JointEffects | None = field(default=None, repr=False, compare=False)


def estimate_attribution(
    tables: Tables,
    *,
    start: str | None = None,
    end: str | None = None,
    window: int = 3,
    alpha: float = 0.05,
    weighting: str = "branch_month",
) -> AttributionEstimates:
    """Estimate every intervention's effects jointly, the waterfall and the diagnostics.

    ``weighting`` is passed to :func:`~snr_models.attribution.estimate_joint`:
    ``"branch_month"`` (each branch-month counts once, the simulator truth's average) or
    ``"client"`` (client-level estimation: every response, client-month and ticket counts once).
    """
    with progress.stage("effects"):
        panel = build_panel(tables)
        effects = estimate_joint(panel, alpha=alpha, weighting=weighting)
        overlap = estimate_overlap(panel, alpha=alpha, weighting=weighting, joint=effects)
    with progress.stage("waterfall"):
        wf = attribute_change(
            panel, start, end, window=window, effects=overlap, alpha=alpha, overlap="shapley"
        )
    with progress.stage("diagnostics"):
        diagnostics, figures = diagnose(panel, alpha=alpha)
    figures = {
        "waterfall.png": wf.plot(),
        "effects.png": effects.plot(),
        "no_programme.png": overlap.plot(),
        **figures,
    }
    design = {
        "estimator": "joint saturated DiD (cohort x event-time cells), "
        "branch and month fixed effects",
        "waterfall": "imputation (Borusyak-Jaravel-Spiess) of the world without any programme, "
        "with programme interactions; Shapley shares",
        "overlap_estimated": [t for t in overlap.terms.query("status == 'estimated'")["term"]],
        "overlap_pooled": [t for t in overlap.terms.query("status == 'pooled'")["term"]],
        "controls": "not-yet- and never-treated branch-months",
        "cluster": "branch_id",
        "standard_errors": "branch-clustered CR2 (Bell-McCaffrey), t intervals with "
        "Bell-McCaffrey degrees of freedom; placebo s.d. when < 8 branches treated",
        "weighting": weighting,
        "interventions": list(panel.interventions),
        "start_window": [f"{m:%Y-%m}" for m in wf.start_window],
        "end_window": [f"{m:%Y-%m}" for m in wf.end_window],
        "alpha": alpha,
        "n_branches": int(panel.frame["branch_id"].nunique()),
        "n_months": len(panel.periods),
    }
    return AttributionEstimates(
        effects=effects.to_frame()[EFFECT_COLUMNS],
        waterfall=wf.to_frame(),
        diagnostics=diagnostics,
        figures=figures,
        design=design,
        totals=wf.totals,
        combinations=overlap.combinations(),
        overlap_terms=overlap.terms,
        joint=effects,
    )


def log_attribution(run: Any, tables: Tables, est: AttributionEstimates, seconds: float) -> None:
    """Log an attribution's design, estimates, diagnostics and figures (aggregates only)."""
    run.log_params(est.design)
    run.log_data(tables)
    run.log_frame(est.effects, "attribution/effects.csv")
    run.log_frame(est.waterfall, "attribution/waterfall.csv")
    run.log_frame(est.diagnostics, "attribution/diagnostics.csv")
    run.log_frame(est.totals, "attribution/programmes_total.csv")
    run.log_frame(est.combinations, "attribution/combinations.csv")
    run.log_frame(est.overlap_terms, "attribution/overlap_terms.csv")
    metrics = {
        f"effect.{r.intervention}.{r.component}": r.estimate
        for r in est.effects.itertuples()
        if np.isfinite(r.estimate)
    }
    nr = est.waterfall[est.waterfall["component"] == "net_rate"]
    metrics.update(
        {f"waterfall.{r.step}": r.value for r in nr.itertuples() if np.isfinite(r.value)}
    )
    for r in est.totals[est.totals["component"] == "net_rate"].itertuples():
        for col in ("value", "lo", "hi"):
            if np.isfinite(getattr(r, col)):
                metrics[f"{r.quantity}.{col}"] = getattr(r, col)
    metrics["seconds"] = seconds
    run.log_metrics(metrics)
    for name, fig in est.figures.items():
        run.log_figure(fig, f"attribution/{name}")


def run_attribution(
    data: str | Path | Tables,
    output: str | Path,
    *,
    start: str | None = None,
    end: str | None = None,
    window: int = 3,
    alpha: float = 0.05,
    track: bool = False,
    weighting: str = "branch_month",
) -> AttributionJobResult:
    """Attribute the change of the net rate between ``start`` and ``end`` and write the results.

    Parameters
    ----------
    data : path or Tables
        Parquet folder / DuckDB file, or loaded tables.
    output : path
        Output directory (replaced atomically when it exists).
    start, end : str, optional
        Months ``YYYY-MM`` opening the start window and closing the end window (default: the
        data's first and last months).
    window : int
        Months per window.
    alpha : float
        ``1 - alpha`` intervals.
    track : bool
        Log design, estimates, diagnostics and figures to MLflow.
    weighting : {"branch_month", "client"}
        Weighting of the joint regressions (see :func:`estimate_attribution`).
    """
    if weighting not in ("branch_month", "client"):
        raise SnrInputError(f"weighting must be 'branch_month' or 'client', not {weighting!r}")
    t0 = time.perf_counter()
    stages = ("data", "effects", "waterfall", "diagnostics", "write", *(("log",) if track else ()))
    with progress.job("attribute", stages):
        with progress.stage("data"):
            tables = data if isinstance(data, Tables) else load(data)
        est = estimate_attribution(
            tables, start=start, end=end, window=window, alpha=alpha, weighting=weighting
        )
        return _write_attribution(
            est, tables, Path(output), start, end, window, alpha, track, weighting, t0
        )


def _write_attribution(
    est: AttributionEstimates,
    tables: Tables,
    output: Path,
    start: str | None,
    end: str | None,
    window: int,
    alpha: float,
    track: bool,
    weighting: str,
    t0: float,
) -> AttributionJobResult:
    with progress.stage("write"), atomic_path(output, directory=True) as tmp:
        est.effects.to_csv(tmp / "effects.csv", index=False)
        est.waterfall.to_csv(tmp / "waterfall.csv", index=False)
        est.diagnostics.to_csv(tmp / "diagnostics.csv", index=False)
        est.totals.to_csv(tmp / "programmes_total.csv", index=False)
        est.combinations.to_csv(tmp / "combinations.csv", index=False)
        est.overlap_terms.to_csv(tmp / "overlap_terms.csv", index=False)
        (tmp / "figures").mkdir()
        for name, fig in est.figures.items():
            fig.savefig(tmp / "figures" / name, dpi=110)
    seconds = time.perf_counter() - t0
    run_id = None
    if track:
        from snr_models import tracking

        settings = {"start": start, "end": end, "window": window, "alpha": alpha}
        with (
            progress.stage("log"),
            tracking.start_run(
                "snr-attribution",
                run_name=tracking.run_name("attribute", tables, config=settings | {"w": weighting}),
                tags={"job": "attribute"},
                description=(
                    f"snr attribute: each intervention's effect on S, R, E and the net rate, "
                    f"estimated jointly ({weighting} weighting, {1 - alpha:.0%} intervals), and "
                    f"the waterfall of the change of the firm-wide net rate from "
                    f"{start or 'the first'} to {end or 'the last'} months ({window}-month "
                    "windows)."
                ),
            ) as run,
        ):
            log_attribution(run, tables, est, seconds)
            run_id = run.run_id
    return AttributionJobResult(
        effects=est.effects,
        waterfall=est.waterfall,
        diagnostics=est.diagnostics,
        totals=est.totals,
        output=output,
        run_id=run_id,
        seconds=seconds,
        figures=est.figures,
    )
