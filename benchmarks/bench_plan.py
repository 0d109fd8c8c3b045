"""Cost of the plan stage on a world of the default size (40 branches x 36 months).

The plan's cost grows with branches x months (each replicate is one joint regression on the
branch-month panel), not with clients: the world here has fewer clients than the default
(``--clients``) to keep the simulation short. Times, in the same run: the attribution stage
(:func:`snr_models.jobs.attribution.estimate_attribution`, the baseline), ``--reps``
replicates of the stated design (per replicate), the effects (per-branch and per-segment,
shrunken) and the allocation; then extrapolates the main job's settings (100 replicates and
8 x 25 for the grid).

Usage::

    .venv/bin/python benchmarks/bench_plan.py [--clients 12000] [--reps 10]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from snr_models.attribution import build_panel, estimate_joint
from snr_models.attribution.allocation import allocate, candidate_effects, effect_draws
from snr_models.attribution.plan import PlannedDesign, simulate_design
from snr_models.attribution.shrinkage import branch_effects, segment_effects
from snr_models.jobs.attribution import estimate_attribution
from snr_models.jobs.plan import _segment_mix, _treated
from snr_models.simulate import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=12_000)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    tables = simulate(
        n_clients=args.clients, n_branches=40, n_months=36, seed=0, truth=False
    ).tables
    t = time.perf_counter()
    estimate_attribution(tables)
    t_attr = time.perf_counter() - t
    panel = build_panel(tables)
    t = time.perf_counter()
    simulate_design(panel, PlannedDesign(branches=40, months=12), 0.02, n_reps=args.reps)
    per_rep = (time.perf_counter() - t) / args.reps
    t = time.perf_counter()
    be = branch_effects(estimate_joint(panel, components=("net_rate",)))
    seg = segment_effects(tables)
    mix = _segment_mix(tables)
    cand = candidate_effects(seg, mix, _treated(panel))
    costs = {n: 1.0 for n in panel.interventions}
    allocate(cand, costs, 10.0, draws=effect_draws(cand, seg, mix, 2000, np.random.default_rng(0)))
    t_eff = time.perf_counter() - t
    main_job = 300 * per_rep + t_eff
    print(f"load average {os.getloadavg()[0]:.1f}; {len(be.table)} branch effects")
    print(f"attribution stage (baseline): {t_attr:.1f} s")
    print(f"plan: {per_rep:.2f} s per replicate; effects and allocation {t_eff:.1f} s")
    print(
        f"main job's settings (300 replicates + effects): {main_job:.0f} s, "
        f"{main_job / t_attr:.1f}x the attribution stage"
    )


if __name__ == "__main__":
    main()
