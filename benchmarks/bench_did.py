"""Benchmark: Callaway-Sant'Anna group-time ATTs, analytic standard errors and all four
aggregations on 500 units x 60 periods with 4 treatment cohorts, against moderndid's
``att_gt`` + ``aggte`` (the anchor, measured in the same run), plus the vectorised multiplier
bootstrap.

Usage::

    .venv/bin/python benchmarks/bench_did.py [--units 500] [--periods 60] [--repeat 5]
        [--boot 999]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from snr_models.attribution import att_gt


def make_panel(n_units: int, n_periods: int, seed: int = 0) -> pd.DataFrame:
    """Balanced panel; cohorts first treated at 1/5, 2/5, 3/5, 4/5 of the window, 1/5 never."""
    rng = np.random.default_rng(seed)
    cohorts = np.array([0] + [1 + k * n_periods // 5 for k in range(1, 5)])
    g = rng.choice(cohorts, size=n_units)
    unit = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(1, n_periods + 1), n_units)
    gg = g[unit]
    effect = np.where((gg > 0) & (t >= gg), 0.5 + 0.02 * (t - gg), 0.0)
    y = rng.normal(size=n_units)[unit] + 0.01 * t + effect + rng.normal(size=len(t))
    return pd.DataFrame({"id": unit, "t": t, "g": gg, "y": y})


def ours(df: pd.DataFrame, n_boot: int = 0) -> None:
    res = att_gt(df, outcome="y", unit="id", time="t", group="g", n_boot=n_boot)
    for kind in ("simple", "group", "calendar", "event"):
        res.aggregate(kind)


def anchor_moderndid(df: pd.DataFrame) -> None:
    import moderndid as md
    import polars as pl

    data = pl.from_pandas(df)
    res = md.att_gt(data=data, yname="y", tname="t", idname="id", gname="g", boot=False)
    for kind in ("simple", "group", "calendar", "dynamic"):
        md.aggte(res, type=kind, boot=False)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--periods", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--boot", type=int, default=999)
    args = parser.parse_args()
    df = make_panel(args.units, args.periods)
    n_att = len(att_gt(df, outcome="y", unit="id", time="t", group="g").table)
    print(f"panel {args.units} units x {args.periods} periods, 4 cohorts, {n_att} ATT(g,t)")
    t_ours = best_of(lambda: ours(df), args.repeat)
    print(f"snr_models att_gt + 4 aggregations, analytic s.e.: {t_ours:.3f} s")
    t_boot = best_of(lambda: ours(df, n_boot=args.boot), max(1, args.repeat // 2))
    print(f"snr_models with multiplier bootstrap ({args.boot} draws, all tables): {t_boot:.3f} s")
    try:
        t_md = best_of(lambda: anchor_moderndid(df), max(1, args.repeat // 2))
        print(f"anchor moderndid att_gt + aggte (analytic): {t_md:.3f} s")
        print(f"ratio ours / moderndid: {t_ours / t_md:.2f}")
    except ImportError:
        print("moderndid not installed: no anchor")


if __name__ == "__main__":
    main()
