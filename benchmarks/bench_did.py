"""Benchmark: Callaway-Sant'Anna group-time ATTs, analytic standard errors and all four
aggregations on 500, 2,000 and 10,000 units x 60 periods with 4 treatment cohorts, against
diff-diff's ``CallawaySantAnna(...).fit(aggregate="all")`` (the ``bench`` extra) and
moderndid's ``att_gt`` + ``aggte``, measured in the same run, plus the vectorised multiplier
bootstrap. At each size the ATT(g,t) and their standard errors are checked against both peers
(largest absolute difference printed).

Usage::

    .venv/bin/python benchmarks/bench_did.py [--units 500 2000 10000] [--periods 60]
        [--repeat 5] [--boot 999] [--blas-threads 1]
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


def anchor_moderndid(df: pd.DataFrame) -> pd.DataFrame:
    """moderndid att_gt + its four aggregations; the ATT(g,t) table (group, time, att, se)."""
    import moderndid as md
    import polars as pl

    data = pl.from_pandas(df)
    res = md.att_gt(data=data, yname="y", tname="t", idname="id", gname="g", boot=False)
    for kind in ("simple", "group", "calendar", "dynamic"):
        md.aggte(res, type=kind, boot=False)
    return pd.DataFrame(
        {"group": res.groups, "time": res.times, "att": res.att_gt, "se": res.se_gt}
    )


def diff_diff_peer(df: pd.DataFrame) -> pd.DataFrame:
    """diff-diff's CallawaySantAnna with every aggregation; the ATT(g,t) table."""
    import warnings

    from diff_diff import CallawaySantAnna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CallawaySantAnna().fit(
            df, outcome="y", unit="id", time="t", first_treat="g", aggregate="all"
        )
    rows = [
        {"group": g, "time": t, "att": v["effect"], "se": v["se"]}
        for (g, t), v in res.group_time_effects.items()
    ]
    return pd.DataFrame(rows)


def gap(ours_table: pd.DataFrame, peer: pd.DataFrame) -> tuple[float, float]:
    """Largest absolute differences of the ATT(g,t) and of their standard errors."""
    a = ours_table.set_index(["group", "time"])[["estimate", "se"]]
    b = peer.astype({"group": int, "time": int}).set_index(["group", "time"])
    joined = a.join(b.rename(columns={"se": "se_peer"}), how="inner")
    assert len(joined) == len(a), (len(joined), len(a))
    return (
        float((joined["estimate"] - joined["att"]).abs().max()),
        float((joined["se"] - joined["se_peer"]).abs().max()),
    )


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, nargs="+", default=[500, 2000, 10000])
    parser.add_argument("--periods", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--boot", type=int, default=999)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="cap BLAS/OpenMP threads for every contender (threadpoolctl); on a shared machine "
        "idle-spinning BLAS threads dominate the matrix products",
    )
    args = parser.parse_args()
    if args.blas_threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.blas_threads)
    for n_units in args.units:
        df = make_panel(n_units, args.periods)
        table = att_gt(df, outcome="y", unit="id", time="t", group="g").table
        print(f"\npanel {n_units} units x {args.periods} periods, 4 cohorts, {len(table)} ATT(g,t)")
        t_ours = best_of(lambda df=df: ours(df), args.repeat)
        print(f"snr_models att_gt + 4 aggregations, analytic s.e.: {t_ours:.3f} s")
        t_boot = best_of(lambda df=df: ours(df, n_boot=args.boot), max(1, args.repeat // 2))
        print(
            f"snr_models with multiplier bootstrap ({args.boot} draws, all tables): {t_boot:.3f} s"
        )
        for label, peer in (("diff-diff", diff_diff_peer), ("moderndid", anchor_moderndid)):
            try:
                d_att, d_se = gap(table, peer(df))  # also the peer's first-call warm-up
            except ImportError:
                print(f"{label} not installed (uv sync --extra bench / --extra test)")
                continue
            t_peer = best_of(lambda df=df, peer=peer: peer(df), max(1, args.repeat // 2))
            print(
                f"{label} (analytic): {t_peer:.3f} s; ratio {label} / ours {t_peer / t_ours:.2f}; "
                f"max |ATT(g,t) difference| {d_att:.1e}, max |s.e. difference| {d_se:.1e}"
            )


if __name__ == "__main__":
    main()
