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

With ``--plan-sizes 4,8,12``, it also asks ``snr plan``'s estimator
(:func:`snr_models.attribution.plan.plan_rollout`, ``--plan-reps`` replicates, the world's own
history as the team's) how a pilot of each size among the world's branches, at full intensity,
``--plan-months`` months with the pilot halfway, would measure an effect of ``--effect`` on the
net rate: power, minimum detectable effect at 80% power, interval width, bias, coverage, and the
power at half the effect (what a pilot at intensity 0.5 shows, if the effect is linear in
intensity). This chose the default world's pilot (issue 20; README).

Run: ``.venv/bin/python benchmarks/pilot_chance.py [--clients 50000] [--branches 40] [--seed 0]``
(the defaults are ``snr simulate``'s default world; ``--pilot-share 0.1 --pilot-intensity 0.5``
gives the default world before issue 20).
"""

from __future__ import annotations

import argparse

import numpy as np

from snr_models.metrics.panel import build_panel
from snr_models.plan.rollout import PlannedDesign, plan_rollout
from snr_models.simulate import SimulationConfig, simulate
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
    ai = defaults.interventions.ai_assistant
    parser.add_argument("--pilot-share", type=float, default=ai.pilot_share)
    parser.add_argument("--pilot-intensity", type=float, default=ai.pilot_intensity)
    parser.add_argument("--draws", type=int, default=20_000)
    parser.add_argument("--plan-sizes", default="", help="pilot sizes (branches), e.g. 4,8,12")
    parser.add_argument("--effect", type=float, default=0.0088)
    parser.add_argument("--plan-months", type=int, default=18)
    parser.add_argument("--plan-reps", type=int, default=200)
    args = parser.parse_args()

    ai = ai.model_copy(
        update={"pilot_share": args.pilot_share, "pilot_intensity": args.pilot_intensity}
    )
    cfg = SimulationConfig(
        n_clients=args.clients,
        n_branches=args.branches,
        n_months=args.months,
        seed=args.seed,
        interventions=defaults.interventions.model_copy(update={"ai_assistant": ai}),
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
    if args.plan_sizes:
        plan_sizes(cfg, [int(k) for k in args.plan_sizes.split(",")], args)


def plan_sizes(cfg: SimulationConfig, sizes: list[int], args: argparse.Namespace) -> None:
    """``snr plan``'s diagnosis of a full-intensity pilot of each size on the world's history."""
    panel = build_panel(simulate(cfg, truth=False).tables)
    n_b = cfg.n_branches
    print(
        f"\nplanned pilot, {args.plan_months} months (the pilot halfway), "
        f"effect {args.effect:+.4f} "
        f"on the net rate, {args.plan_reps} replicates each"
    )
    print("pilot  power   MDE(80%)  width   bias     coverage  power at half the effect")
    for k in sizes:
        design = PlannedDesign("pilot", branches=n_b, months=args.plan_months, pilot_share=k / n_b)
        plan = plan_rollout(
            panel, args.effect, design=design, n_reps=args.plan_reps, grid=False, random_state=0
        )
        s = plan.stated
        half = float(plan.power_at([args.effect / 2])[0])
        print(
            f"{k:>2}/{n_b}  {s['power']:.3f}   {s['mde']:.4f}    {s['width']:.4f}  "
            f"{s['bias']:+.4f}  {s['coverage']:.3f}     {half:.3f}"
        )


if __name__ == "__main__":
    main()
