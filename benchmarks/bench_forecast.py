"""Benchmark: forecasting branches x components with backtests, against the naive baseline.

Two parts, both on the simulator:

``scale`` (default): one world of ``--branches`` branches; :func:`snr_models.forecast.forecast`
forecasts every branch's S, R and E and the firm-wide ones, choosing each series' model by a
rolling-origin backtest over ``--origins`` origins, reconciles and simulates intervals. In the
same run the naive baseline (seasonal naive for every series, no backtest) is timed, and the
chosen models' backtest MASE is compared with the seasonal naive's on the same points.

``coverage``: over ``--seeds`` worlds, the firm-wide net rate is forecast from ``--origins``
rolling origins (model choice redone at each origin) and scored against the held-out months:
MASE (against the in-sample seasonal naive) and the share of held-out months inside the 95%
intervals (``coverage``; issue 6: they should cover 90% to 99%), also for S, R, E and by
step.

Usage::

    .venv/bin/python benchmarks/bench_forecast.py scale [--branches 100] [--clients 30000]
        [--months 36] [--origins 6]
    .venv/bin/python benchmarks/bench_forecast.py coverage [--seeds 1 2 3 4 5 6] [--origins 8]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import pandas as pd

from snr_models.forecast import NetRateBacktest, SeasonalNaive, backtest_net_rate, forecast
from snr_models.forecast.core import COMPONENTS
from snr_models.report import level
from snr_models.simulate import simulate


def naive_baseline(result, horizon: int) -> float:
    """Time a seasonal-naive forecast of every series the forecast modelled (its history)."""
    t0 = time.perf_counter()
    hist = result.history
    for (_, comp), g in hist.groupby(["series", "component"]):
        if comp in COMPONENTS:
            y = g["value"].interpolate(limit_direction="both").to_numpy()
            if np.isfinite(y).all():
                SeasonalNaive(12).fit(y).predict(horizon)
    return time.perf_counter() - t0


def scale(args: argparse.Namespace) -> None:
    res = simulate(
        n_clients=args.clients, n_branches=args.branches, n_months=args.months, seed=0, truth=False
    )
    t0 = time.perf_counter()
    out = forecast(res.tables, horizon=args.horizon, n_origins=args.origins, n_paths=args.paths)
    seconds = time.perf_counter() - t0
    naive_seconds = naive_baseline(out, args.horizon)
    n_series = len(out.choice)
    bt = out.backtest
    chosen = out.choice.merge(bt, on=["series", "component", "model"])
    naive = bt[bt["model"] == "snaive"].set_index(["series", "component"])
    chosen = chosen.join(naive[["mase", "coverage"]], on=["series", "component"], rsuffix="_snaive")
    print(f"world: {args.branches} branches, {args.clients} clients, {args.months} months")
    print(f"series forecast: {n_series} ({args.branches} branches x 3 components + 3 firm-wide)")
    print(
        f"forecast with backtests ({args.origins} origins x 4 models): {seconds:.1f} s "
        f"({seconds / 60:.1f} min; models {out.params['seconds_models']:.1f} s)"
    )
    print(f"naive baseline (seasonal naive, every series, no backtest): {naive_seconds:.2f} s")
    print("model chosen:", out.choice["model"].value_counts().to_dict())
    branch = chosen[chosen["series"] != "firm"]
    firm = chosen[chosen["series"] == "firm"]
    for label, part in (("branches", branch), ("firm", firm)):
        print(
            f"{label:>8}: backtest MASE chosen {part['mase'].mean():.3f} vs seasonal naive "
            f"{part['mase_snaive'].mean():.3f}; relative MAE {part['rel_mae'].mean():.3f}; "
            f"{level(out.params['alpha'])} coverage chosen {part['coverage'].mean():.3f} "
            f"(snaive {part['coverage_snaive'].mean():.3f})"
        )


def coverage(args: argparse.Namespace) -> None:
    rows, comps = [], []
    for seed in args.seeds:
        tables = simulate(
            n_clients=args.clients, n_branches=args.branches, n_months=args.months, seed=seed,
            truth=False,
        ).tables  # fmt: skip
        t0 = time.perf_counter()
        bt = backtest_net_rate(
            tables,
            horizon=args.horizon,
            n_origins=args.origins,
            forecast_kwargs={"n_origins": args.inner_origins},
        )
        scores = bt.scores() | {"seed": seed, "seconds": time.perf_counter() - t0}
        rows.append(scores)
        comps.append(bt.components.assign(seed=seed))
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in scores.items()},
              flush=True)  # fmt: skip
    frame = pd.DataFrame(rows)
    n = frame["n_points"].sum()
    pooled = {
        c: float((frame[c] * frame["n_points"]).sum() / n)
        for c in ("mase", "mase_snaive", "coverage", "coverage_snaive")
    }
    print(f"pooled over {len(frame)} seeds, {n} held-out months:")
    for k, v in pooled.items():
        print(f"  {k:>18}: {v:.3f}")
    print(f"  seeds with MASE < 1: {(frame['mase'] < 1).sum()} of {len(frame)}")
    pooled_bt = NetRateBacktest(points=pd.DataFrame(), components=pd.concat(comps))
    print("interval coverage of the firm-wide series, pooled:")
    print(pooled_bt.coverage("component").round(3).to_string())
    print("by step (net rate):")
    net = NetRateBacktest(
        points=pd.DataFrame(), components=pooled_bt.components.query("component == 'net_rate'")
    )
    print(net.coverage("step").round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=("scale", "coverage"), default="scale")
    parser.add_argument("--branches", type=int, default=None)
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--horizon", type=int, default=6)
    parser.add_argument("--origins", type=int, default=None)
    parser.add_argument("--inner-origins", type=int, default=4)
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING)
    if args.part == "scale":
        args.branches = args.branches or 100
        args.clients = args.clients or 30_000
        args.origins = 6 if args.origins is None else args.origins
        scale(args)
    else:
        args.branches = args.branches or 6
        args.clients = args.clients or 3_000
        args.origins = args.origins or 8
        coverage(args)


if __name__ == "__main__":
    main()
