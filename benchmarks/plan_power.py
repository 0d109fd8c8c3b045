"""Power validation of ``snr plan``: does the planned power come true?

For each simulated world (``--worlds`` seeds from ``--first-seed``; ``--history + --months``
months): the plan
(:func:`snr_models.plan.rollout.plan_rollout`, ``--reps`` replicates) is computed on the
world's first ``--history`` months, the team's history, for a staggered roll-out of a new
intervention to every branch in ``--cohorts`` waves over ``--months`` months with a true effect
``--effect`` on the net rate. Then the roll-out happens in the world's last ``--months`` months:
``--assignments`` random assignments of the same design (``with_placebo_rollout``), the effect
added to the treated branch-months' net rate, and ``estimate_joint`` (``snr attribute``'s
estimator, every existing intervention estimated jointly on the whole panel) applied. The share
of intervals excluding 0 over all worlds is the realised power, to compare with the mean
planned power; the same estimates minus the injected effect give the realised rejection rate
of a placebo roll-out (effect 0: with the saturated cells the estimate shifts by exactly the
injected effect and the standard error does not change; ``tests/plan/test_rollout.py``
checks it), to compare with the plan's size and the nominal level.

Prints the planned and realised power and placebo rejection with the realised share's standard
error (worlds as the units), and writes the figure ``--figure`` (mean planned power curve with
the realised points).

Usage::

    .venv/bin/python benchmarks/plan_power.py [--worlds 30] [--first-seed 1] [--assignments 4]
        [--reps 60] [--effect 0.03] [--clients 4000] [--branches 20] [--history 18] [--months 9]
        [--figure benchmarks/plan_power.png]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from snr_models.attribution import build_panel, estimate_joint, with_placebo_rollout
from snr_models.attribution.inference import t_value
from snr_models.plan.rollout import PlannedDesign, plan_rollout
from snr_models.simulate import simulate


def one_world(seed: int, args: argparse.Namespace, grid: np.ndarray) -> tuple[list[dict], dict]:
    """Plan on the world's history, then ``--assignments`` realised roll-outs in its future."""
    design = PlannedDesign(
        "staggered", branches=args.branches, months=args.months, cohorts=args.cohorts
    )
    sim = {"n_clients": args.clients, "n_branches": args.branches}
    tables = simulate(seed=seed, truth=False, n_months=args.history + args.months, **sim).tables
    months = pd.date_range(tables.market["month"].min(), tables.market["month"].max(), freq="MS")
    history = build_panel(tables, end=months[args.history - 1])
    plan = plan_rollout(
        history,
        args.effect,
        design=design,
        n_reps=args.reps,
        grid=False,
        alpha=args.alpha,
        random_state=seed,
    )
    planned = {"seed": seed, "power": plan.stated["power"], "size": float(plan.power_at([0])[0])}
    planned["curve"] = plan.power_at(grid)
    window = months[-args.months :]
    branches = np.sort(tables.clients["branch_id"].unique())
    rng = np.random.default_rng(50_000 + seed)
    out = []
    for _ in range(args.assignments):
        dose, _firm = design.assignment(rng)
        treated = dose.any(axis=1)
        starts = window[dose[treated].argmax(axis=1)]
        panel = build_panel(with_placebo_rollout(tables, branches[treated], starts, name="planned"))
        frame = panel.frame
        frame["net_rate"] = frame["net_rate"] + args.effect * frame["planned"]
        row = estimate_joint(
            panel, components=("net_rate",), alpha=args.alpha, report=("planned",)
        ).table.iloc[0]
        half = t_value(args.alpha, row["df"]) * row["se"]
        out.append(
            {
                "seed": seed,
                "estimate": row["estimate"],
                "se": row["se"],
                "width": 2 * half,
                "significant": abs(row["estimate"]) > half,
                "placebo_rejects": abs(row["estimate"] - args.effect) > half,
            }
        )
    return out, planned


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--assignments", type=int, default=4)
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--effect", type=float, default=0.03)
    ap.add_argument("--clients", type=int, default=4000)
    ap.add_argument("--branches", type=int, default=20)
    ap.add_argument("--history", type=int, default=18)
    ap.add_argument("--months", type=int, default=9)
    ap.add_argument("--cohorts", type=int, default=2)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--figure", default="benchmarks/plan_power.png")
    args = ap.parse_args()
    grid = np.linspace(0, 3 * args.effect, 61)
    t0 = time.perf_counter()
    rows, plans = [], []
    for seed in range(args.first_seed, args.first_seed + args.worlds):
        r, p = one_world(seed, args, grid)
        rows += r
        plans.append(p)
        realised = np.mean([x["significant"] for x in r])
        print(f"world {seed}: planned {p['power']:.2f}, realised {realised:.2f}", flush=True)
    seconds = time.perf_counter() - t0
    res = pd.DataFrame(rows)
    plan = pd.DataFrame(plans)
    # worlds are the independent units: the share's standard error from the per-world means
    per_world = res.groupby("seed")[["significant", "placebo_rejects"]].mean()
    se_power = per_world["significant"].std(ddof=1) / np.sqrt(len(per_world))
    se_size = per_world["placebo_rejects"].std(ddof=1) / np.sqrt(len(per_world))
    power_real, size_real = res["significant"].mean(), res["placebo_rejects"].mean()
    power_plan, size_plan = plan["power"].mean(), plan["size"].mean()
    print(f"load average {os.getloadavg()[0]:.1f}; {seconds:.0f} s for {args.worlds} worlds")
    print(
        f"design: staggered {args.branches} branches x {args.months} months, {args.cohorts} "
        f"cohorts, after {args.history} months of history; effect {args.effect:+.3f} on the "
        "net rate"
    )
    print(
        f"planned power {power_plan:.3f} (mean over worlds); realised {power_real:.3f} (s.e. "
        f"{se_power:.3f}) over {len(res)} roll-outs in {len(per_world)} worlds; difference "
        f"{power_real - power_plan:+.3f}"
    )
    print(
        f"placebo (effect 0): planned rejection {size_plan:.3f}, realised {size_real:.3f} "
        f"(s.e. {se_size:.3f}); nominal {args.alpha:.3f}"
    )
    print(f"realised interval width {res['width'].mean():.4f}, spread {res['estimate'].std():.4f}")
    if args.figure:
        from snr_models.figures import new_figure

        fig = new_figure(figsize=(5.5, 3.6))
        ax = fig.subplots()
        curve = np.mean(np.vstack(plan["curve"].to_numpy()), axis=0)
        ax.plot(grid, curve, label="planned on each world's history (mean)")
        shifts = {0.0: "placebo_rejects", args.effect: "significant"}
        for eff, col in shifts.items():
            m = per_world[col]
            ax.errorbar(
                [eff],
                [m.mean()],
                yerr=[1.96 * m.std(ddof=1) / np.sqrt(len(m))],
                fmt="o",
                color="black",
                capsize=4,
                label="realised in the worlds' futures (95% CI)" if eff == 0 else None,
            )
        ax.axhline(args.alpha, color="grey", ls=":", lw=0.8)
        ax.axhline(0.8, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("true effect on the net rate")
        ax.set_ylabel("power")
        ax.set_title(
            f"staggered, {args.branches} branches x {args.months} months, {args.cohorts} cohorts",
            fontsize=9,
        )
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.figure, dpi=110)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
