"""Benchmark: the vectorised client-level bootstrap of the net rate against a pandas loop.

Builds a synthetic book of 50,000 clients x 36 months (about 0.2 survey responses and 0.25
tickets per client-month, 1/3 of clients closing during the window), then times, in the same
run:

* the vectorised path: ``net_rate(..., n_boot=1000).to_frame()`` end to end, and the bootstrap alone
  (multinomial weights x the client x period statistics matrix, chunked);
* the baseline: a plain loop over replicates, each re-weighting the event tables by the
  replicate's client counts and aggregating S, R, E per month with pandas ``groupby``; run for
  a few replicates and extrapolated to the same number.

Usage::

    .venv/bin/python benchmarks/bench_bootstrap.py [--clients 50000] [--months 36]
        [--boot 1000] [--baseline-reps 3] [--seed 0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from snr_models.data import Tables
from snr_models.metrics import MetricSpec, net_rate
from snr_models.metrics.bootstrap import bootstrap_composite
from snr_models.metrics.components import client_period_stats
from snr_models.metrics.periods import Window


def synthetic_tables(n_clients: int, n_months: int, seed: int) -> Tables:
    """A random book with the contract's columns that ``net_rate`` reads (others omitted)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2022-01-01", "M")
    month_starts = (start + np.arange(n_months)).astype("datetime64[us]")
    span_us = (month_starts[-1] + np.timedelta64(28, "D") - month_starts[0]).astype(np.int64)
    ids = pd.Series([f"C{i:07d}" for i in range(n_clients)], dtype="str")

    opened = (
        np.where(
            rng.random(n_clients) < 0.9,
            np.datetime64("2019-06-01", "us"),
            month_starts[0] + rng.integers(0, span_us, n_clients).astype("timedelta64[us]"),
        )
        .astype("datetime64[D]")
        .astype("datetime64[us]")
    )
    closes = month_starts[0] + rng.integers(0, span_us * 3, n_clients).astype("timedelta64[us]")
    closes = closes.astype("datetime64[D]").astype("datetime64[us]")
    closes = np.where((closes > month_starts[-1]) | (closes < opened), np.datetime64("NaT"), closes)
    clients = pd.DataFrame(
        {
            "client_id": ids,
            "branch_id": pd.Series([f"B{i % 20:02d}" for i in range(n_clients)], dtype="str"),
            "segment": pd.Series(
                rng.choice(["retail", "high_net_worth", "institutional"], n_clients), dtype="str"
            ),
            "open_date": opened,
            "close_date": closes.astype("datetime64[us]"),
        }
    )

    def events(rate: float) -> tuple[np.ndarray, np.ndarray]:
        n = int(rate * n_clients * n_months)
        who = rng.integers(0, n_clients, n)
        when = month_starts[0] + rng.integers(0, span_us, n).astype("timedelta64[us]")
        return who, when

    who, when = events(0.2)
    surveys = pd.DataFrame(
        {
            "response_id": pd.Series(np.arange(len(who)).astype(str), dtype="str"),
            "client_id": ids.to_numpy()[who],
            "responded_at": when,
            "csat": rng.choice([1, 2, 3, 4, 5], len(who), p=[0.06, 0.09, 0.2, 0.4, 0.25]),
            "nps": rng.integers(0, 11, len(who)),
        }
    )
    who, when = events(0.25)
    took = (rng.exponential(30.0, len(who)) * 3.6e9).astype("timedelta64[us]")
    resolved = np.where(rng.random(len(who)) < 0.05, np.datetime64("NaT"), when + took)
    tickets = pd.DataFrame(
        {
            "ticket_id": pd.Series(np.arange(len(who)).astype(str), dtype="str"),
            "client_id": ids.to_numpy()[who],
            "created_at": when,
            "resolved_at": resolved.astype("datetime64[us]"),
            "category": pd.Series(["other"] * len(who), dtype="str"),
            "sla_hours": rng.choice([4.0, 24.0, 72.0], len(who)),
        }
    )
    months = pd.DataFrame(
        {
            "client_id": np.repeat(ids.to_numpy()[::10], n_months),
            "month": np.tile(month_starts, len(ids[::10])),
            "dormant": rng.random(len(ids[::10]) * n_months) < 0.1,
        }
    )
    empty = pd.DataFrame()
    return Tables(clients, months, tickets, surveys, empty, empty)


def baseline_replicate(
    data: Tables, at_risk: pd.DataFrame, weights: np.ndarray, spec: MetricSpec
) -> pd.Series:
    """One replicate the straightforward way: re-weight events by client counts, groupby month."""
    w = pd.Series(weights, index=data.clients["client_id"])
    sv = data.surveys.assign(
        month=data.surveys["responded_at"].dt.to_period("M"),
        w=data.surveys["client_id"].map(w),
    )
    sv = sv.assign(pos=sv["w"] * (sv["csat"] >= 4), neg=sv["w"] * (sv["csat"] <= 2))
    s_tot = sv.groupby("month")[["w", "pos", "neg"]].sum()
    s = (s_tot["pos"] - s_tot["neg"]) / s_tot["w"]
    ar = at_risk.assign(w=at_risk["client_id"].map(w))
    ar = ar.assign(x=ar["w"] * ar["exit"])
    r_tot = ar.groupby("month")[["w", "x"]].sum()
    r = 1 - 12 * r_tot["x"] / r_tot["w"]
    tk = data.tickets
    end = (tk["created_at"].dt.to_period("M") + 1).dt.start_time
    deadline = tk["created_at"] + pd.to_timedelta(tk["sla_hours"], unit="h")
    met = tk["resolved_at"].notna() & (tk["resolved_at"] < end) & (tk["resolved_at"] <= deadline)
    counted = met | (deadline < end)
    tw = tk["client_id"].map(w)
    e_tot = (
        pd.DataFrame(
            {"month": tk["created_at"].dt.to_period("M"), "c": tw * counted, "m": tw * met}
        )
        .groupby("month")[["c", "m"]]
        .sum()
    )
    e = e_tot["m"] / e_tot["c"]
    ws = spec.weights
    return ws["S"] * s + ws["R"] * r + ws["E"] * e


def at_risk_table(data: Tables, months: pd.PeriodIndex) -> pd.DataFrame:
    """Long (client, month) table of clients open on the month's first day, with exits."""
    parts = []
    c = data.clients
    for m in months:
        lo, hi = m.start_time, (m + 1).start_time
        mask = (c["open_date"] <= lo) & (c["close_date"].isna() | (c["close_date"] >= lo))
        part = c.loc[mask, ["client_id"]].assign(
            month=m, exit=(c.loc[mask, "close_date"] < hi).to_numpy()
        )
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--boot", type=int, default=1_000)
    parser.add_argument("--baseline-reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timings of the fast path")
    args = parser.parse_args()

    t0 = time.perf_counter()
    data = synthetic_tables(args.clients, args.months, args.seed)
    print(
        f"data: {args.clients:,} clients x {args.months} months, "
        f"{len(data.surveys):,} responses, {len(data.tickets):,} tickets "
        f"({time.perf_counter() - t0:.1f} s to generate)"
    )
    spec = MetricSpec.default()

    # the machine is shared: time each vectorised step --repeat times and keep the median
    totals, stat_times, boot_times = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        frame = net_rate(data, spec, n_boot=args.boot, random_state=args.seed).to_frame()
        totals.append(time.perf_counter() - t0)
        window = Window.between(frame["period"].iloc[0], frame["period"].iloc[-1], 1)
        t0 = time.perf_counter()
        stats = client_period_stats(data, spec, window, [])
        stat_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bootstrap_composite(stats, spec, 1, n_boot=args.boot, alpha=0.05, random_state=args.seed)
        boot_times.append(time.perf_counter() - t0)
    t_total, t_stats, t_boot = (float(np.median(t)) for t in (totals, stat_times, boot_times))

    t0 = time.perf_counter()
    periods = pd.period_range(frame["period"].iloc[0], frame["period"].iloc[-1], freq="M")
    at_risk = at_risk_table(data, periods)
    t_prep = time.perf_counter() - t0
    rng = np.random.default_rng(args.seed)
    n = len(data.clients)
    t0 = time.perf_counter()
    reps = []
    for _ in range(args.baseline_reps):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)
        reps.append(baseline_replicate(data, at_risk, weights, spec))
    t_base_each = (time.perf_counter() - t0) / args.baseline_reps
    t_base = t_prep + t_base_each * args.boot

    print(f"(median of {args.repeat} runs; slowest end to end {max(totals):.2f} s)")
    print(f"net_rate(n_boot={args.boot}).to_frame() end to end:          {t_total:7.2f} s")
    print(f"  of which sufficient statistics:               {t_stats:7.2f} s")
    print(f"  of which vectorised bootstrap ({args.boot} reps):   {t_boot:7.2f} s")
    print(
        f"baseline pandas loop: {t_base_each:.3f} s / replicate (mean of {args.baseline_reps})"
        f" + {t_prep:.2f} s setup -> {t_base:7.1f} s for {args.boot} (extrapolated)"
    )
    print(
        f"RESULT bootstrap {args.boot} replicates, {args.clients:,} clients x {args.months} "
        f"months: {t_total:.2f} s end to end ({t_boot:.2f} s bootstrap) vs "
        f"{t_base:.0f} s baseline -> {t_base / t_boot:.0f}x faster"
    )


if __name__ == "__main__":
    main()
