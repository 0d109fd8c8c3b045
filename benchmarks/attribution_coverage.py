"""Coverage study: do the attribution intervals cover the simulator's truth at the nominal rate?

For each seed: simulate a world (truth from counterfactual re-runs), estimate every
intervention's effect on S, R, E and the net rate jointly, the waterfall of the first-three to
last-three months change, and the effect of a placebo roll-out (random branches, random dates,
no true effect). Prints the share of seeds whose 95% interval covers the truth, per
intervention and component, for the waterfall contributions, and for the placebo (covering 0).

The overlap waterfall (``attribute_change(..., overlap="shapley")``, the imputation estimator
with programme interactions) adds the rows ``shapley`` (each programme's Shapley share of the
change; truth ``change.shapley``, the placebo's 0), ``programmes_total`` (truth
``change.joint_contribution``) and ``no_programme_change`` (truth
``change.without_interventions``). The rows ``shapley_vs_marginal`` hold the same Shapley
shares against each programme's marginal contribution with the others on (truth
``change.contributions``): where a programme's interactions are pooled (additivity assumed),
its estimated share is centred on that instead (README, the overlap coverage). Each row
also records ``df`` and the identified set ``range_lo, range_hi`` (a point unless a pooled
interaction reaches the quantity; ``lo, hi`` is then Imbens and Manski's interval around it).

Usage::

    .venv/bin/python benchmarks/attribution_coverage.py [--seeds 50] [--clients 12000]
        [--branches 30] [--months 36] [--se CR2] [--cells auto] [--out results.csv]
        [--cache worlds/] [--simulate-only] [--pilot default]

``--pilot small`` simulates the old-pilot worlds: the AI assistant piloted in a tenth of the
branches at half intensity (``pilot_share`` 0.1, ``pilot_intensity`` 0.5, as
``tests/attribution/pilot_worlds.py:small_pilot``; the roll-out draws are otherwise the
default's). The pilot is part of the cached world's folder name, so the two kinds never mix.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from snr_models.attribution import (
    attribute_change,
    build_panel,
    estimate_joint,
    estimate_overlap,
    with_placebo_rollout,
)
from snr_models.data import Tables
from snr_models.data.io import load
from snr_models.simulate import SimulationConfig, simulate, write_simulation

PILOTS = ("default", "small")


def pilot_config(pilot: str) -> SimulationConfig:
    """The simulator's default configuration, or with the AI assistant's pilot at 10% of the
    branches and intensity 0.5 (``pilot="small"``, the old pilot; as
    ``tests/attribution/pilot_worlds.py:small_pilot``)."""
    cfg = SimulationConfig()
    if pilot == "default":
        return cfg
    if pilot != "small":
        raise ValueError(f"pilot must be one of {PILOTS}, not {pilot!r}")
    ai = cfg.interventions.ai_assistant.model_copy(
        update={"pilot_share": 0.1, "pilot_intensity": 0.5}
    )
    return cfg.model_copy(
        update={"interventions": cfg.interventions.model_copy(update={"ai_assistant": ai})}
    )


def placebo_tables(tables, seed: int, n_branches: int):
    """The tables plus a fake roll-out to half the branches at random half-year starts."""
    rng = np.random.default_rng(10_000 + seed)
    branches = np.sort(tables.clients["branch_id"].unique())
    chosen = rng.choice(branches, size=max(2, n_branches // 2), replace=False)
    months = pd.date_range(
        tables.market["month"].min() + pd.DateOffset(months=6), periods=4, freq="6MS"
    )
    return with_placebo_rollout(tables, chosen, rng.choice(months, size=len(chosen)))


def result_row(seed: int, kind: str, name: str, component: str, r, target: float) -> dict:
    """One estimate (``r`` has ``estimate, se, lo, hi``) against its truth."""
    return {
        "seed": seed,
        "kind": kind,
        "intervention": name,
        "component": component,
        "estimate": r.estimate,
        "se": r.se,
        "lo": r.lo,
        "hi": r.hi,
        "df": getattr(r, "df", np.nan),
        "range_lo": getattr(r, "range_lo", r.estimate),
        "range_hi": getattr(r, "range_hi", r.estimate),
        "truth": target,
        "covered": r.lo <= target <= r.hi,
    }


def world_of(seed: int, args: argparse.Namespace) -> tuple[Tables, dict]:
    """The seed's tables and truth: simulated, or read from (and written to) ``--cache``."""

    def run():
        return simulate(
            pilot_config(args.pilot),
            n_clients=args.clients,
            n_branches=args.branches,
            n_months=args.months,
            seed=seed,
        )

    if args.cache is None:
        world = run()
        return world.tables, world.truth
    name = f"pilot-{args.pilot}_c{args.clients}_b{args.branches}_m{args.months}_s{seed}"
    where = Path(args.cache) / name
    if not (where / "truth.json").exists():
        write_simulation(run(), where)
    return load(where), json.loads((where / "truth.json").read_text(encoding="utf-8"))


def one_seed(seed: int, args: argparse.Namespace) -> list[dict]:
    tables, truth = world_of(seed, args)
    if args.simulate_only:
        return []
    rows = []
    panel = build_panel(placebo_tables(tables, seed, args.branches))
    eff = estimate_joint(panel, se=args.se)
    for r in eff.to_frame().itertuples():
        target = (
            0.0
            if r.intervention == "placebo"
            else truth["interventions"][r.intervention]["effect"][r.component]
        )
        rows.append(result_row(seed, "effect", r.intervention, r.component, r, target))
    ov = estimate_overlap(panel, se=args.se, joint=eff, cells=args.cells)
    owf = attribute_change(panel, effects=ov, overlap="shapley")
    change = truth["change"]
    shapley = owf.to_frame()
    shapley = shapley[(shapley["component"] == "net_rate") & (shapley["kind"] == "intervention")]
    targets = []
    for r in shapley.rename(columns={"value": "estimate"}).itertuples():
        targets.append(
            ("shapley", r.step, r, 0.0 if r.step == "placebo" else change["shapley"][r.step])
        )
        if r.step != "placebo":  # the same share against the programme's marginal contribution
            targets.append(("shapley_vs_marginal", r.step, r, change["contributions"][r.step]))
    together = owf.together().rename(columns={"value": "estimate"})
    for quantity, key in (
        ("programmes_total", "joint_contribution"),
        ("no_programme_change", "without_interventions"),
    ):
        targets.append((quantity, "all", next(together.loc[[quantity]].itertuples()), change[key]))
    for kind, name, r, target in targets:
        rows.append(result_row(seed, kind, name, "net_rate", r, target))
    wf = attribute_change(panel, effects=eff).to_frame()
    nr = wf[(wf["component"] == "net_rate") & (wf["kind"] == "intervention")]
    nr = nr.rename(columns={"value": "estimate"})
    for r in nr.itertuples():
        target = 0.0 if r.step == "placebo" else truth["change"]["contributions"][r.step]
        rows.append(result_row(seed, "contribution", r.step, "net_rate", r, target))
    return rows


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    """Per kind, intervention and component: coverage, bias, the spread of the errors over
    seeds (``sd_err``) against the mean standard error (``mean_se``; equal when the standard
    errors are right, ``se_sd`` their ratio), and the number of seeds."""
    res = res.assign(err=res["estimate"] - res["truth"])
    return (
        res.groupby(["kind", "intervention", "component"], sort=False)
        .agg(
            coverage=("covered", "mean"),
            bias=("err", "mean"),
            sd_err=("err", "std"),
            mean_se=("se", "mean"),
            n=("covered", "size"),
        )
        .reset_index()
        .assign(se_sd=lambda t: t["mean_se"] / t["sd_err"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--clients", type=int, default=12_000)
    parser.add_argument("--branches", type=int, default=30)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--se", default="CR2", choices=["CR2", "CR3", "CR1"])
    parser.add_argument(
        "--cells",
        default="auto",
        choices=["auto", "event_time", "cohort"],
        help="the overlap model's effect cells (estimate_overlap's cells)",
    )
    parser.add_argument(
        "--pilot",
        default="default",
        choices=PILOTS,
        help="the AI assistant's pilot: the simulator's default, or 'small' (10%% of the "
        "branches at half intensity, the old pilot); part of the cached world's folder name",
    )
    parser.add_argument("--out", default=None, help="CSV of the per-seed results")
    parser.add_argument(
        "--cache",
        default=None,
        help="folder of simulated worlds: each seed's world is read from it, or simulated "
        "and written to it (the truth's 2^k re-runs dominate the time; re-estimating on "
        "cached worlds is several times faster)",
    )
    parser.add_argument(
        "--simulate-only", action="store_true", help="only fill --cache with the worlds"
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows += one_seed(seed, args)
        if args.out:  # after every seed, so a long run can be read while it goes on
            pd.DataFrame(rows).to_csv(args.out, index=False)
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.simulate_only:
        return
    res = pd.DataFrame(rows)
    table = summarise(res)
    print(
        f"\n{args.seeds} seeds, {args.clients} clients, {args.branches} branches, "
        f"{args.months} months, {args.pilot} pilot; {args.se} standard errors; "
        f"nominal 95%; {time.perf_counter() - t0:.0f} s"
    )
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
