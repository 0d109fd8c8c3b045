"""How unusual is a world's AI-assistant pilot in the world without any intervention?

The AI assistant's firm-wide effect is identified by its pilot alone (every branch has the
assistant after the firm-wide roll-out), so whatever sets the pilot branches apart during the
pilot months, *without any intervention*, is read as the assistant's effect and extrapolated to
the firm-wide months. This script simulates a world's no-intervention scenario (the one behind
``truth.json``'s ``without_interventions``), and for each component computes the pilot's
difference-in-differences in it: the pilot branches' mean minus the other branches' mean,
during the pilot months minus before the pilot. Since no intervention is active, its truth is
0; its rank among ``--draws`` random sets of as many branches (the pilot is drawn at random by
the simulator, independently of the world) says how unusual the actual pilot is.

Run: ``.venv/bin/python benchmarks/pilot_chance.py [--clients 50000] [--branches 40] [--seed 0]``
(the defaults are ``snr simulate``'s default world).
"""

from __future__ import annotations

import argparse

import numpy as np

from snr_models.simulate import SimulationConfig
from snr_models.simulate.config import INTERVENTIONS
from snr_models.simulate.outcomes import baseline, run_scenario
from snr_models.simulate.rollout import FIRM, build_rollout, exposure
from snr_models.simulate.truth import summarise
from snr_models.simulate.world import build_world


def pilot_gap(x: np.ndarray, group: np.ndarray, before: slice, during: slice) -> float:
    """(group - others) during minus before, from a (branches x months) array."""
    diff = np.nanmean(x[group], axis=0) - np.nanmean(x[~group], axis=0)
    return float(np.mean(diff[during]) - np.mean(diff[before]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = SimulationConfig()
    parser.add_argument("--clients", type=int, default=defaults.n_clients)
    parser.add_argument("--branches", type=int, default=defaults.n_branches)
    parser.add_argument("--months", type=int, default=defaults.n_months)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--draws", type=int, default=20_000)
    args = parser.parse_args()

    cfg = SimulationConfig(
        n_clients=args.clients, n_branches=args.branches, n_months=args.months, seed=args.seed
    )
    world = build_world(cfg)
    cal = world.calendar
    rollout = build_rollout(cfg, cal, world.streams["rollout"])
    null = exposure(rollout.without(INTERVENTIONS), cfg, cal)
    none = summarise(world, run_scenario(world, null, baseline(world, null), full=False))

    is_ai = rollout.intervention == "ai_assistant"
    pilot = np.unique(rollout.unit[is_ai & (rollout.unit != FIRM)])
    if not len(pilot):
        raise SystemExit("this world's AI assistant has no pilot")
    start = int(rollout.start_month[is_ai & (rollout.unit != FIRM)].min())
    firm = int(rollout.start_month[is_ai & (rollout.unit == FIRM)].min())
    before, during = slice(0, start), slice(start, firm)
    n_b = world.n_branches
    rng = np.random.default_rng(0)
    draws = [rng.choice(n_b, size=len(pilot), replace=False) for _ in range(args.draws)]
    print(
        f"world: {cfg.n_clients} clients x {n_b} branches x {cal.n} months, seed {cfg.seed}; "
        f"pilot branches {', '.join(world.branch_ids[pilot])} (months {start}-{firm - 1}, "
        f"firm-wide from {firm}); {args.draws} random sets of {len(pilot)} branches"
    )
    print("component  pilot gap  s.d. over random sets  share of sets at least as far from 0")
    for comp, x in none.branch.items():
        group = np.isin(np.arange(n_b), pilot)
        obs = pilot_gap(x, group, before, during)
        sims = np.empty(len(draws))
        for i, d in enumerate(draws):
            g = np.zeros(n_b, dtype=bool)
            g[d] = True
            sims[i] = pilot_gap(x, g, before, during)
        share = float(np.mean(np.abs(sims) >= abs(obs)))
        print(f"{comp:<10} {obs:+9.4f}  {sims.std():21.4f}  {share:.4f}")


if __name__ == "__main__":
    main()
