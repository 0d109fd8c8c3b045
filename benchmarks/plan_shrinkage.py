"""Per-branch effects with empirical-Bayes shrinkage against the simulator's truth.

For each of ``--worlds`` simulated worlds (with ``truth.json``): every intervention's effect on
the net rate per branch, raw (the joint regression's cells plus the branch's own deviation) and
shrunken (:func:`snr_models.attribution.shrinkage.branch_effects`), against ``truth.json``'s
``interventions[name]["per_branch"][branch]["net_rate"]`` (the same world re-run with the
intervention switched off, averaged over the branch's treated months). Prints, per
intervention and overall, the RMSE of the raw and the shrunken estimates and the coverage of
the shrunken 95% intervals (goal: RMSE lower than raw; coverage 90-99%), and the same for the
one-level pooling the package used before (``_1l``: cell + deviation shrunk together towards the
joint estimate as if the branches' errors were independent, the cells' errors clustered
without the placebo scaling), in the same run.

Usage::

    .venv/bin/python benchmarks/plan_shrinkage.py [--worlds 50] [--clients 6000]
        [--branches 20] [--months 24]
"""

from __future__ import annotations

import argparse
import os
import time
from unittest import mock

import numpy as np
import pandas as pd

from snr_models.attribution import build_panel, estimate_joint, shrinkage
from snr_models.attribution.shrinkage import branch_effects, shrink
from snr_models.simulate import simulate


def one_world(seed: int, args: argparse.Namespace) -> pd.DataFrame:
    world = simulate(
        n_clients=args.clients, n_branches=args.branches, n_months=args.months, seed=seed
    )
    joint = estimate_joint(build_panel(world.tables), components=("net_rate",))
    tab = branch_effects(joint).to_frame()
    # the one-level pooling it replaced, for comparison: raw = cell + deviation shrunk as a
    # whole towards the joint estimate, as if the branches' errors were independent
    with mock.patch.object(shrinkage, "_placebo_scaled", lambda e, n, c, v: (None, v)):
        raw = shrinkage.raw_branch_effects(joint)  # its errors as they were: clustered only
    overall = joint.table.set_index(["intervention", "component"])
    for name, sub in raw.groupby("intervention", sort=False):
        if len(sub) < 2:
            continue
        one, _ = shrink(
            sub["raw"].to_numpy(),
            sub["raw_se"].to_numpy(),
            mu=float(overall.loc[(name, "net_rate"), "estimate"]),
            mu_se=float(overall.loc[(name, "net_rate"), "se"]),
        )
        at = (tab["intervention"] == name).to_numpy()
        assert (tab.loc[at, "branch_id"].to_numpy() == sub["branch_id"].to_numpy()).all()
        for col in ("estimate", "lo", "hi"):
            tab.loc[at, f"{col}_1l"] = one[col].to_numpy()
    truth = world.truth["interventions"]
    tab["truth"] = [
        (truth[r.intervention]["per_branch"].get(r.branch_id) or {}).get("net_rate", np.nan)
        for r in tab.itertuples()
    ]
    tab["seed"] = seed
    return tab


def scores(g: pd.DataFrame) -> pd.Series:
    return pd.Series(
        {
            "n": len(g),
            "rmse_raw": float(np.sqrt(((g["raw"] - g["truth"]) ** 2).mean())),
            "rmse_eb": float(np.sqrt(((g["estimate"] - g["truth"]) ** 2).mean())),
            "coverage_eb": float(((g["lo"] <= g["truth"]) & (g["truth"] <= g["hi"])).mean()),
            "rmse_1l": float(np.sqrt(((g["estimate_1l"] - g["truth"]) ** 2).mean())),
            "coverage_1l": float(((g["lo_1l"] <= g["truth"]) & (g["truth"] <= g["hi_1l"])).mean()),
            "coverage_raw": float(
                (
                    (g["raw"] - 1.96 * g["raw_se"] <= g["truth"])
                    & (g["truth"] <= g["raw"] + 1.96 * g["raw_se"])
                ).mean()
            ),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=50)
    ap.add_argument("--clients", type=int, default=6000)
    ap.add_argument("--branches", type=int, default=20)
    ap.add_argument("--months", type=int, default=24)
    args = ap.parse_args()
    t0 = time.perf_counter()
    res = pd.concat([one_world(s, args) for s in range(args.worlds)], ignore_index=True)
    res = res[res["truth"].notna()]
    seconds = time.perf_counter() - t0
    table = res.groupby("intervention").apply(scores, include_groups=False)
    table.loc["all"] = scores(res)
    # coverage per world, to see its spread
    per_world = res.groupby("seed").apply(
        lambda g: ((g["lo"] <= g["truth"]) & (g["truth"] <= g["hi"])).mean(), include_groups=False
    )
    print(f"load average {os.getloadavg()[0]:.1f}; {seconds:.0f} s for {args.worlds} worlds")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    print(
        f"coverage per world: median {per_world.median():.2f}, 10th-90th percentile "
        f"{per_world.quantile(0.1):.2f}-{per_world.quantile(0.9):.2f}"
    )


if __name__ == "__main__":
    main()
