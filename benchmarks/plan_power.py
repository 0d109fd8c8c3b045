"""Power validation of ``snr plan``: does the planned power come true?

The plan (:func:`snr_models.attribution.plan.plan_rollout`) is computed once, on one simulated
history (seed 0): a staggered roll-out of a new intervention to every branch in ``--cohorts``
waves over the last ``--months`` months, with a true effect ``--effect`` on the net rate.

The realised power is measured on fresh worlds (seeds 1..``--worlds``, the same configuration,
new branches, clients and market): in each, ``--assignments`` random assignments of the same
design are made in the world's last ``--months`` months (``with_placebo_rollout``), the effect
is added to the treated branch-months' net rate, and ``estimate_joint`` (``snr attribute``'s
estimator, every existing intervention estimated jointly, on the whole panel) is applied. The share
of intervals excluding 0 is the realised power; the same estimates minus the injected effect
give the realised rejection rate of a placebo roll-out (effect 0: with the saturated cells the
estimate shifts by exactly the injected effect and the standard error does not change;
``tests/attribution/test_plan.py`` checks it), to compare with the plan's size.

Prints the planned and realised power and placebo rejection with the realised share's standard
error, and writes the figure ``--figure`` (planned power curve with the realised points).

Usage::

    .venv/bin/python benchmarks/plan_power.py [--worlds 60] [--assignments 4] [--reps 300]
        [--effect 0.03] [--clients 4000] [--branches 20] [--history 24] [--months 12]
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
from snr_models.attribution.plan import PlannedDesign, plan_rollout
from snr_models.simulate import simulate


def realised(
    seed: int, design: PlannedDesign, effect: float, n_assign: int, sim: dict, alpha: float
) -> list[dict]:
    """``n_assign`` planned roll-outs in the fresh world ``seed``, estimated as snr attribute."""
    tables = simulate(seed=seed, truth=False, **sim).tables
    months = pd.date_range(tables.market["month"].min(), tables.market["month"].max(), freq="MS")
    window = months[-design.months :]
    branches = np.sort(tables.clients["branch_id"].unique())
    rng = np.random.default_rng(50_000 + seed)
    out = []
    for _ in range(n_assign):
        dose, _firm = design.assignment(rng)
        treated = dose.any(axis=1)
        starts = window[dose[treated].argmax(axis=1)]
        panel = build_panel(with_placebo_rollout(tables, branches[treated], starts, name="planned"))
        frame = panel.frame
        frame["net_rate"] = frame["net_rate"] + effect * frame["planned"]
        row = estimate_joint(
            panel, components=("net_rate",), alpha=alpha, report=("planned",)
        ).table.iloc[0]
        half = t_value(alpha, row["df"]) * row["se"]
        out.append(
            {
                "seed": seed,
                "estimate": row["estimate"],
                "se": row["se"],
                "significant": abs(row["estimate"]) > half,
                "placebo_rejects": abs(row["estimate"] - effect) > half,
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=60)
    ap.add_argument("--assignments", type=int, default=4)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--effect", type=float, default=0.03)
    ap.add_argument("--clients", type=int, default=4000)
    ap.add_argument("--branches", type=int, default=20)
    ap.add_argument("--history", type=int, default=24)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--cohorts", type=int, default=2)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--figure", default="benchmarks/plan_power.png")
    args = ap.parse_args()
    sim = {"n_clients": args.clients, "n_branches": args.branches, "n_months": args.history}
    design = PlannedDesign(
        "staggered", branches=args.branches, months=args.months, cohorts=args.cohorts
    )
    t0 = time.perf_counter()
    history = build_panel(simulate(seed=0, truth=False, **sim).tables)
    plan = plan_rollout(
        history, args.effect, design=design, n_reps=args.reps, grid=False, alpha=args.alpha
    )
    t_plan = time.perf_counter() - t0
    placebo_plan = float(plan.power_at([0.0])[0])
    rows = []
    t1 = time.perf_counter()
    for seed in range(1, args.worlds + 1):
        rows += realised(seed, design, args.effect, args.assignments, sim, args.alpha)
    t_real = time.perf_counter() - t1
    res = pd.DataFrame(rows)
    # worlds are the independent units: the share's standard error from the per-world means
    per_world = res.groupby("seed")[["significant", "placebo_rejects"]].mean()
    se_power = per_world["significant"].std(ddof=1) / np.sqrt(len(per_world))
    se_size = per_world["placebo_rejects"].std(ddof=1) / np.sqrt(len(per_world))
    power_real, size_real = res["significant"].mean(), res["placebo_rejects"].mean()
    print(f"load average {os.getloadavg()[0]:.1f}; plan {t_plan:.0f} s, worlds {t_real:.0f} s")
    print(f"design: {design.label()}, effect {args.effect:+.3f} on the net rate")
    print(
        f"planned power {plan.stated['power']:.3f} (MDE {plan.stated['mde']:.4f}); realised "
        f"{power_real:.3f} (s.e. {se_power:.3f}) over {len(res)} roll-outs in {len(per_world)} "
        f"worlds; difference {power_real - plan.stated['power']:+.3f}"
    )
    print(
        f"placebo (effect 0): planned rejection {placebo_plan:.3f}, realised {size_real:.3f} "
        f"(s.e. {se_size:.3f}); nominal {args.alpha:.3f}"
    )
    print(
        f"planned interval width {plan.stated['width']:.4f}, realised mean "
        f"{(2 * res['se']).mean() * t_value(args.alpha, 15):.4f} (approx.); spread of realised "
        f"estimates {res['estimate'].std():.4f} vs planned {plan.replicates['estimate'].std():.4f}"
    )
    if args.figure:
        from snr_models.figures import new_figure

        grid = np.linspace(0, 3 * args.effect, 61)
        fig = new_figure(figsize=(5.5, 3.6))
        ax = fig.subplots()
        ax.plot(grid, plan.power_at(grid), label="planned (bootstrap of the history)")
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
                label="realised in fresh worlds (95% CI)" if eff == 0 else None,
            )
        ax.axhline(args.alpha, color="grey", ls=":", lw=0.8)
        ax.axhline(0.8, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("true effect on the net rate")
        ax.set_ylabel("power")
        ax.set_title(design.label(), fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.figure, dpi=110)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
