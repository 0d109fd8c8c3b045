"""Cost of the plan stage on a world of the default size (40 branches x 36 months).

The plan's cost grows with branches x months (each replicate is one joint regression on the
branch-month panel), not with clients: the world here has fewer clients than the default
(``--clients``) to keep the simulation short. Times, in the same run: the attribution stage
(:func:`snr_models.jobs.attribution.estimate_attribution`, the baseline), ``--reps``
replicates of the stated design (per replicate; first a new design per replicate, as before,
then ``--per-design`` replicates sharing each design, solved at once), the effects
(per-branch and per-segment, shrunken) and the allocation; then extrapolates the main job's
settings (100 replicates and 8 x 25 for the grid). ``--stage`` times the whole stage, with the
grid's replicates 10 per design (as before) and at the default (5 per design), alternated twice.

Usage::

    .venv/bin/python benchmarks/bench_plan.py [--clients 12000] [--reps 20] [--per-design 10]
"""

from __future__ import annotations

import argparse
import functools
import inspect
import os
import time
from unittest import mock

import numpy as np

from snr_models.attribution import build_panel, estimate_joint
from snr_models.attribution.shrinkage import branch_effects, segment_effects
from snr_models.jobs.attribution import estimate_attribution
from snr_models.jobs.plan import _segment_mix, _treated
from snr_models.plan.allocation import allocate, candidate_effects, effect_draws
from snr_models.plan.rollout import PlannedDesign, simulate_design
from snr_models.simulate import simulate

N_MAIN = 300  # the main job's replicates: 100 of the stated design, 8 x 25 for the grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=12_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--per-design", type=int, default=10)
    ap.add_argument(
        "--stage",
        action="store_true",
        help="also time the whole plan stage as the main job runs it (experiments/default.yaml's "
        "settings and cost file)",
    )
    args = ap.parse_args()
    tables = simulate(
        n_clients=args.clients, n_branches=40, n_months=36, seed=0, truth=False
    ).tables
    t = time.perf_counter()
    estimate_attribution(tables)
    t_attr = time.perf_counter() - t
    panel = build_panel(tables)
    per_rep = {}
    for k in (1, args.per_design):  # a design per replicate (before), then shared designs
        t = time.perf_counter()
        simulate_design(
            panel,
            PlannedDesign(branches=40, months=12),
            0.02,
            n_reps=args.reps,
            outcomes_per_design=k,
        )
        per_rep[k] = (time.perf_counter() - t) / args.reps
    t = time.perf_counter()
    be = branch_effects(estimate_joint(panel, components=("net_rate",)))
    seg = segment_effects(tables)
    mix = _segment_mix(tables)
    cand = candidate_effects(seg, mix, _treated(panel))
    costs = {n: 1.0 for n in panel.interventions}
    allocate(cand, costs, 10.0, draws=effect_draws(cand, seg, mix, 2000, np.random.default_rng(0)))
    t_eff = time.perf_counter() - t
    print(f"load average {os.getloadavg()[0]:.1f}; {len(be.table)} branch effects")
    print(f"attribution stage (baseline): {t_attr:.1f} s; effects and allocation {t_eff:.1f} s")
    for k, sec in per_rep.items():
        main_job = N_MAIN * sec + t_eff
        print(
            f"plan, {k} replicate(s) per design: {sec:.3f} s per replicate; main job's settings "
            f"({N_MAIN} replicates + effects) {main_job:.0f} s, {main_job / t_attr:.1f}x the "
            "attribution stage"
        )
    if args.stage:
        from pathlib import Path

        from snr_models.jobs.config import RunConfig
        from snr_models.jobs.plan import estimate_plan, read_costs
        from snr_models.plan import plan_rollout

        stage = RunConfig.from_yaml(Path(__file__).parents[1] / "experiments/default.yaml").plan
        costs, budget = read_costs(stage.costs)
        # the grid's replicates per design: 10 as before (3 designs per grid point) and the
        # default (5 designs), alternated twice in the same run (the shared machine's load drifts)
        new_k = inspect.signature(plan_rollout).parameters["grid_outcomes_per_design"].default
        for grid_k in (10, new_k, 10, new_k):
            with mock.patch(
                "snr_models.jobs.plan.plan_rollout",
                functools.partial(plan_rollout, grid_outcomes_per_design=grid_k),
            ):
                t = time.perf_counter()
                est = estimate_plan(
                    tables,
                    intervention=stage.intervention,
                    effect=stage.effect,
                    design=PlannedDesign(branches=40, months=12),
                    n_reps=stage.n_reps,
                    n_reps_grid=stage.n_reps_grid,
                    costs=costs,
                    budget=budget,
                )
                t_stage = time.perf_counter() - t
            designs = est.plan.grid.loc[~est.plan.grid["stated"], "n_designs"].unique()
            print(
                f"plan stage as the main job runs it (grid included, allocation), {grid_k} "
                f"replicates per design in the grid ({designs} designs per grid point): "
                f"{t_stage:.0f} s, {t_stage / t_attr:.1f}x the attribution stage; load average "
                f"{os.getloadavg()[0]:.1f}"
            )


if __name__ == "__main__":
    main()
