"""Where does the overlap model's joint effect err? Month by month and cell by cell.

Simulates a world and re-runs it with every intervention switched off, and with the AI
assistant alone switched off (common random numbers, as :mod:`snr_models.simulate.truth`),
so that every branch-month has its true joint effect (factual minus the world without any
intervention) and the assistant's true marginal effect (factual minus the world without it).
Then fits :func:`~snr_models.attribution.estimate_overlap` on the world's panel and prints,
for the net rate (``--component``):

- per month, the mean over branches of the estimated minus the true joint effect (equal
  branch-month weights, as the truth's effects), and the estimated minus the true firm-wide
  world without any programme (``no_programme_path``, denominator-weighted);
- over the last three months (those of the change's end), per combination of active
  programmes: branch-months, mean true and estimated joint effect;
- the AI assistant's marginal effect (with the others on) per month, estimated and true.

Usage::

    .venv/bin/python benchmarks/overlap_diagnosis.py [--clients 50000] [--branches 40]
        [--months 36] [--seed 0] [--out diag.csv]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from snr_models.attribution import build_panel, estimate_overlap
from snr_models.simulate.assemble import build_tables
from snr_models.simulate.config import INTERVENTIONS, SimulationConfig
from snr_models.simulate.outcomes import baseline, run_scenario
from snr_models.simulate.rollout import build_rollout, exposure
from snr_models.simulate.truth import summarise
from snr_models.simulate.world import build_world


def branch_months(world, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """``(branches, months)`` arrays per component as a long frame keyed like the panel."""
    periods = pd.to_datetime([f"{m}-01" for m in world.calendar.labels()])
    b, m = np.meshgrid(np.arange(len(world.branch_ids)), np.arange(len(periods)), indexing="ij")
    out = pd.DataFrame({"branch_id": world.branch_ids[b.ravel()], "period": periods[m.ravel()]})
    for comp, arr in arrays.items():
        out[comp] = arr.ravel()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--component", default="net_rate")
    parser.add_argument("--out", default=None, help="CSV of the per-branch-month comparison")
    args = parser.parse_args()
    t0 = time.perf_counter()
    cfg = SimulationConfig.model_validate(
        {
            **SimulationConfig().model_dump(),
            "n_clients": args.clients,
            "n_branches": args.branches,
            "n_months": args.months,
            "seed": args.seed,
        }
    )
    world = build_world(cfg)
    cal = world.calendar
    rollout = build_rollout(cfg, cal, world.streams["rollout"])
    base = baseline(world, exposure(rollout.without(INTERVENTIONS), cfg, cal))
    factual = run_scenario(world, exposure(rollout, cfg, cal), base)
    present = [n for n in INTERVENTIONS if n in set(rollout.intervention)]
    none = summarise(
        world, run_scenario(world, exposure(rollout.without(present), cfg, cal), base, full=False)
    )
    no_ai = summarise(
        world,
        run_scenario(
            world, exposure(rollout.without(["ai_assistant"]), cfg, cal), base, full=False
        ),
    )
    fact = summarise(world, factual)
    tables = build_tables(world, rollout, factual)
    print(f"simulated in {time.perf_counter() - t0:.0f} s", flush=True)
    comp = args.component
    panel = build_panel(tables)
    ov = estimate_overlap(panel, components=("S", "R", "E", "net_rate"))
    print(ov.terms.to_string(index=False))
    est = ov.branch_month_effects(comp)
    true = branch_months(world, {"true_joint": fact.branch[comp] - none.branch[comp]})
    true["true_marginal_ai"] = (fact.branch[comp] - no_ai.branch[comp]).ravel()
    both = est.merge(true, on=["branch_id", "period"], how="left")
    both["err"] = both["joint"] - both["true_joint"]
    if args.out:
        both.to_csv(args.out, index=False)

    path = ov.no_programme_path(comp)
    path["truth"] = none.firm[comp][0]
    firm_true = fact.firm[comp][0] - none.firm[comp][0]
    ai_on = both["ai_assistant"].ne(0) if "ai_assistant" in both else both["joint"].eq(np.nan)
    per_month = both.groupby("period").agg(
        n_treated=("combination", lambda c: int((c != "").sum())),
        joint_est=("joint", "mean"),
        joint_true=("true_joint", "mean"),
        err=("err", "mean"),
    )
    per_month["no_prog_err"] = (path["estimate"] - path["truth"]).to_numpy()
    per_month["firm_joint_true"] = firm_true
    if "marginal:ai_assistant" in both:
        sub = both[ai_on]
        ai = sub.groupby("period").agg(
            ai_n=("branch_id", "size"),
            ai_marg_est=("marginal:ai_assistant", "mean"),
            ai_marg_true=("true_marginal_ai", "mean"),
        )
        per_month = per_month.join(ai)
    pd.set_option("display.width", 200)
    print("\nper month (equal branch-month weights; no_prog_err denominator-weighted):")
    print(per_month.to_string(float_format=lambda v: f"{v:+.4f}"))

    last = both[both["period"].isin(panel.periods[-3:])]
    by_combo = (
        last.groupby("combination")
        .agg(
            n=("err", "size"),
            est=("joint", "mean"),
            true=("true_joint", "mean"),
            err=("err", "mean"),
        )
        .sort_values("n", ascending=False)
    )
    print("\nlast three months, per combination of programmes:")
    print(by_combo.to_string(float_format=lambda v: f"{v:+.4f}"))
    print(
        f"\nlast three months: mean error of the joint {last['err'].mean():+.4f}; "
        f"firm-wide no-programme path error {per_month['no_prog_err'].iloc[-3:].mean():+.4f}"
        f"; {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
