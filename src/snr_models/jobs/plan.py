"""The plan job behind ``snr plan``: will the next roll-out be measurable, where does it pay,
how to spend the budget.

Loads the data, builds the branch x month panel and:

1. diagnoses the planned roll-out (:func:`~snr_models.plan.rollout.plan_rollout`): power,
   minimum detectable effect, interval width, bias and coverage of the stated design and of the
   designs around it, with the smallest one reaching the target power;
2. estimates every intervention's effect per branch and per client segment with
   empirical-Bayes shrinkage (:mod:`snr_models.attribution.shrinkage`);
3. with a cost file and a budget, chooses the allocation of the budget that maximises the
   expected gain of the firm-wide net rate (:func:`~snr_models.plan.allocation.allocate`)
   against the forecast's baseline (passed in by the main job; for ``snr plan``, the firm-wide
   net rate of the last three months).

Writes, atomically into one output directory: ``power.csv`` (the grid of designs),
``replicates.csv`` (the stated design's replicates), ``branch_effects.csv``,
``segment_effects.csv``, ``allocation.csv`` and ``allocation_summary.csv`` (with costs),
``summary.txt`` and ``figures/`` (``power.png``, ``branch_effects.png``, ``allocation.png``).
With ``track=True`` the design, the diagnosis, the effects and the allocation are logged to
MLflow (aggregates by branch and segment only).

The cost file (YAML)::

    budget: 600000            # optional; --budget overrides it
    costs:                    # cost of rolling each intervention out to one branch
      staff_training: 80000
      process_reengineering: 250000
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snr_models import progress
from snr_models.attribution import JointEffects, build_panel, estimate_joint
from snr_models.attribution.shrinkage import BranchEffects, branch_effects, segment_effects
from snr_models.configfile import read_yaml_mapping
from snr_models.data.atomic import atomic_path
from snr_models.data.io import load
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.plan.allocation import (
    Allocation,
    allocate,
    candidate_effects,
    effect_draws,
)
from snr_models.plan.rollout import PlannedDesign, RolloutPlan, design_grid, plan_rollout

logger = logging.getLogger(__name__)

__all__ = ["PlanEstimates", "PlanJobResult", "estimate_plan", "read_costs", "run_plan"]


@dataclass(frozen=True)
class PlanEstimates:
    """A plan, the shrunken effects and the allocation, before any output."""

    plan: RolloutPlan
    effects: BranchEffects
    segments: pd.DataFrame
    allocation: Allocation | None
    figures: dict[str, Any]


@dataclass(frozen=True)
class PlanJobResult:
    """What :func:`run_plan` produced."""

    estimates: PlanEstimates
    output: Path
    run_id: str | None
    seconds: float


def read_costs(path: str | Path) -> tuple[dict[str, float], float | None]:
    """The costs per branch and the budget of a cost file (see the module doc)."""
    raw = read_yaml_mapping(path)
    unknown = sorted(set(raw) - {"costs", "budget"})
    if unknown:
        raise SnrInputError(f"cost file {path}: unknown key(s) {unknown}; expected costs, budget")
    costs = raw.get("costs")
    if not isinstance(costs, dict) or not costs:
        raise SnrInputError(f"cost file {path}: 'costs' must map interventions to a cost")
    out = {}
    for name, value in costs.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise SnrInputError(
                f"cost file {path}: costs.{name} must be a positive number, not {value!r}"
            )
        out[str(name)] = float(value)
    budget = raw.get("budget")
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int | float) or budget < 0
    ):
        raise SnrInputError(f"cost file {path}: budget must be a non-negative number")
    return out, None if budget is None else float(budget)


def _segment_mix(tables: Tables) -> pd.DataFrame:
    """Open clients per branch and segment at the last month (``branch_id, segment, clients``)."""
    cm = tables.client_months
    last = cm.loc[cm["month"] == cm["month"].max(), ["client_id"]]
    cl = tables.clients[["client_id", "branch_id", "segment"]].merge(last, on="client_id")
    return cl.groupby(["branch_id", "segment"]).size().rename("clients").reset_index()


def _treated(panel: Any) -> pd.DataFrame:
    """``intervention, branch_id`` pairs already reached."""
    frame = panel.frame
    rows = [
        {"intervention": name, "branch_id": b}
        for name in panel.interventions
        for b in frame.loc[frame[name] > 0, "branch_id"].unique()
    ]
    return pd.DataFrame(rows, columns=["intervention", "branch_id"])


def _last_firm_net_rate(panel: Any) -> float:
    """The firm-wide net rate of the last three months (the branch-months' mean)."""
    frame = panel.frame
    last = panel.periods[-3:]
    return float(frame.loc[frame["period"].isin(last), "net_rate"].mean())


def estimate_plan(
    tables: Tables,
    *,
    intervention: str,
    effect: float,
    component: str = "net_rate",
    design: PlannedDesign | None = None,
    alpha: float = 0.05,
    target: float = 0.8,
    n_reps: int = 200,
    n_reps_grid: int = 50,
    costs: dict[str, float] | None = None,
    budget: float | None = None,
    baseline: float | None = None,
    seed: int = 0,
    joint: JointEffects | None = None,
) -> PlanEstimates:
    """Plan, shrunken effects and (with ``costs`` and ``budget``) the allocation.

    ``joint`` is the firm's joint estimate on ``tables`` when it is at hand (the main job's
    attribution stage: branch-month weighting, ``component`` among its fits, the same
    ``alpha``): its panel and its fit are used, not built and fitted again (the same numbers).
    """
    reuse = joint is not None and joint.serves(component, alpha)
    panel = joint.panel if reuse else build_panel(tables)
    if design is not None and design.months > len(panel.periods) - 2:
        raise SnrInputError(
            f"--months {design.months}: the data hold {len(panel.periods)} months; the plan "
            f"simulates the roll-out in the history's last months (at most "
            f"{len(panel.periods) - 2})"
        )
    stated = design or PlannedDesign(
        branches=int(panel.frame["branch_id"].nunique()), months=min(12, len(panel.periods) - 2)
    )
    n_grid = (len(design_grid(stated, len(panel.periods) - 2)) - 1) * n_reps_grid
    with progress.stage("plan", total=n_reps + n_grid):
        plan = plan_rollout(
            panel,
            effect,
            design=stated,
            component=component,
            intervention=intervention,
            alpha=alpha,
            target=target,
            n_reps=n_reps,
            n_reps_grid=n_reps_grid,
            random_state=seed,
            progress=progress.advance,
        )
    with progress.stage("effects"):
        if not reuse:
            joint = estimate_joint(panel, components=(component,), alpha=alpha)
        effects = branch_effects(joint, component, alpha)
        segments = segment_effects(tables, component, alpha, overall=joint)
    allocation = None
    figures: dict[str, Any] = {"power.png": plan.plot(), "branch_effects.png": effects.plot()}
    if costs is not None and budget is not None:
        with progress.stage("allocation"):
            unknown = sorted(set(costs) - set(panel.interventions))
            if unknown:
                raise SnrInputError(
                    f"cost file: {unknown} not among the data's interventions "
                    f"{list(panel.interventions)}"
                )
            mix = _segment_mix(tables)
            candidates = candidate_effects(segments, mix, _treated(panel))
            rng = np.random.default_rng(seed)
            allocation = allocate(
                candidates,
                costs,
                budget,
                draws=effect_draws(candidates, segments, mix, 2000, rng),
                baseline=baseline if baseline is not None else _last_firm_net_rate(panel),
                alpha=alpha,
                random_state=seed,
            )
            figures["allocation.png"] = allocation.plot()
    return PlanEstimates(
        plan=plan, effects=effects, segments=segments, allocation=allocation, figures=figures
    )


def summary_text(est: PlanEstimates) -> str:
    """The plan's, the effects' and the allocation's summaries."""
    parts = [est.plan.summary(), "", est.effects.summary()]
    if len(est.segments):
        parts += ["", "By segment:", est.segments.to_string(index=False)]
    if est.allocation is not None:
        parts += ["", est.allocation.summary()]
    return "\n".join(parts)


def log_plan(run: Any, tables: Tables | None, est: PlanEstimates, seconds: float) -> None:
    """Log a plan's design, diagnosis, effects and allocation (aggregates only)."""
    plan = est.plan
    run.log_params(
        {
            "intervention": plan.intervention,
            "design": plan.design.design,
            "branches": plan.design.branches,
            "months": plan.design.months,
            "cohorts": plan.design.cohorts,
            "effect": plan.effect,
            "component": plan.component,
            "alpha": plan.alpha,
            "target_power": plan.target,
            "n_reps": len(plan.replicates),
        }
    )
    if tables is not None:
        run.log_data(tables)
    s = plan.stated
    metrics = {f"plan.{k}": float(s[k]) for k in ("power", "mde", "width", "bias", "coverage")}
    best = plan.smallest
    if best is not None:
        metrics["plan.smallest.branches"] = float(best["branches"])
        metrics["plan.smallest.months"] = float(best["months"])
    if est.allocation is not None:
        a = est.allocation
        metrics |= {
            "allocation.expected_gain": a.expected_gain,
            "allocation.gain_lo": a.gain_lo,
            "allocation.gain_hi": a.gain_hi,
            "allocation.p_beats_uniform": a.p_beats_uniform,
            "allocation.spent": a.spent,
        }
        run.log_frame(a.chosen, "plan/allocation.csv")
    metrics["seconds"] = seconds
    run.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})
    run.log_frame(plan.to_frame(), "plan/power.csv")
    run.log_frame(est.effects.to_frame(), "plan/branch_effects.csv")
    run.log_frame(est.segments, "plan/segment_effects.csv")
    run.log_text(summary_text(est), "plan/summary.txt")
    for name, fig in est.figures.items():
        run.log_figure(fig, f"plan/{name}")


def write_plan(est: PlanEstimates, tmp: Path) -> None:
    """Write the plan's files into the (temporary) directory ``tmp``."""
    est.plan.to_frame().to_csv(tmp / "power.csv", index=False)
    est.plan.replicates.to_csv(tmp / "replicates.csv", index=False)
    est.effects.to_frame().to_csv(tmp / "branch_effects.csv", index=False)
    est.segments.to_csv(tmp / "segment_effects.csv", index=False)
    if est.allocation is not None:
        est.allocation.to_frame().to_csv(tmp / "allocation.csv", index=False)
        est.allocation.by_intervention.to_csv(tmp / "allocation_summary.csv", index=False)
    (tmp / "summary.txt").write_text(summary_text(est) + "\n", encoding="utf-8")
    (tmp / "figures").mkdir()
    for name, fig in est.figures.items():
        fig.savefig(tmp / "figures" / name, dpi=110)


@progress.job("plan", ("data", "plan", "effects", "allocation", "write"))
def run_plan(
    data: str | Path | Tables,
    output: str | Path,
    *,
    intervention: str,
    effect: float,
    component: str = "net_rate",
    design: str = "staggered",
    branches: int | None = None,
    cohorts: int = 2,
    months: int = 12,
    alpha: float = 0.05,
    target: float = 0.8,
    n_reps: int = 200,
    n_reps_grid: int = 50,
    costs: str | Path | None = None,
    budget: float | None = None,
    seed: int = 0,
    track: bool = False,
) -> PlanJobResult:
    """Diagnose a planned roll-out, estimate effects per branch and segment, allocate a budget.

    Parameters
    ----------
    data : path or Tables
        Parquet folder / DuckDB file, or loaded tables.
    output : path
        Output directory (replaced atomically when it exists).
    intervention : str
        The planned intervention (a name for the reports).
    effect : float
        Its stated true effect on ``component``.
    design, branches, cohorts, months
        The planned design (:class:`~snr_models.plan.rollout.PlannedDesign`; ``branches``
        defaults to the data's number).
    costs : path, optional
        Cost file (module doc); with a budget (``budget`` or the file's) the allocation is made.
    track : bool
        Log to MLflow (experiment ``snr-plan``).
    """
    t0 = time.perf_counter()
    cost_map, file_budget = read_costs(costs) if costs is not None else (None, None)
    budget = budget if budget is not None else file_budget
    if budget is not None and cost_map is None:
        raise SnrInputError("--budget needs --costs (the cost of each intervention per branch)")
    with progress.stage("data"):
        tables = data if isinstance(data, Tables) else load(data)
    n_branches = int(tables.clients["branch_id"].nunique())
    planned = PlannedDesign(
        design=design, branches=branches or n_branches, months=months, cohorts=cohorts
    )
    est = estimate_plan(
        tables,
        intervention=intervention,
        effect=effect,
        component=component,
        design=planned,
        alpha=alpha,
        target=target,
        n_reps=n_reps,
        n_reps_grid=n_reps_grid,
        costs=cost_map,
        budget=budget,
        seed=seed,
    )
    output = Path(output)
    with progress.stage("write"), atomic_path(output, directory=True) as tmp:
        write_plan(est, tmp)
    seconds = time.perf_counter() - t0
    run_id = None
    if track:
        from snr_models import tracking

        settings = {"intervention": intervention, "effect": effect, "design": design}
        with tracking.start_run(
            "snr-plan",
            run_name=tracking.run_name("plan", tables, config=settings),
            tags={"job": "plan"},
            description=(
                f"snr plan: power of a {design} roll-out of {intervention} "
                f"({planned.branches} branches, {months} months) with a true effect of "
                f"{effect:+.4f} on {component}, the designs around it, per-branch and "
                "per-segment effects (empirical Bayes), and the allocation of the budget."
            ),
        ) as run:
            log_plan(run, tables, est, seconds)
            run_id = run.run_id
    return PlanJobResult(estimates=est, output=output, run_id=run_id, seconds=seconds)
