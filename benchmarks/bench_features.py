"""Benchmark: point-in-time features for 1,000,000 clients x 36 months (36 M client-months).

Writes a synthetic contract-shaped Parquet world once into a folder (default: a temp
folder; reuse it with --data), then builds every client-month's features with
``snr_models.features.write_features`` (DuckDB over the Parquet files) in a child process,
and reports wall time and the child's peak resident memory. Target: < 10 minutes, < 8 GB.

Baseline in the same run: a pandas group-by-rolling of *one* feature family (1/3/6/12-month
sums of margin calls and forced liquidations) on a 50,000-client sample, extrapolated
linearly to the full size.

Usage::

    .venv/bin/python benchmarks/bench_features.py                # 1,000,000 x 36
    .venv/bin/python benchmarks/bench_features.py --clients 100000 --months 24
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from snr_models.data.vocabulary import TICKET_CATEGORIES

CATEGORIES = list(TICKET_CATEGORIES)


def _month_starts(n_months: int) -> np.ndarray:
    return pd.date_range("2022-01-01", periods=n_months, freq="MS").to_numpy("datetime64[us]")


def generate(folder: Path, n_clients: int, n_months: int, seed: int = 0, chunk: int = 100_000):
    """Write the six tables as Parquet (client_months, tickets and surveys in chunks)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    months = _month_starts(n_months)
    end = months[-1] + np.timedelta64(31, "D")
    writers: dict[str, pq.ParquetWriter] = {}
    clients_parts = []
    for start in range(0, n_clients, chunk):
        n = min(chunk, n_clients - start)
        ids = np.array([f"C{start + i:08d}" for i in range(n)], dtype=object)
        open_m = np.where(
            rng.random(n) < 0.7, -rng.integers(1, 60, n), rng.integers(0, n_months, n)
        )
        open_date = months[0] + (open_m * 30).astype("timedelta64[D]")
        closes = rng.random(n) < 0.2
        close_m = np.where(closes, rng.integers(1, n_months, n), n_months)
        close_m = np.maximum(close_m, np.maximum(open_m, 0) + 1)
        close_date = np.where(
            close_m < n_months,
            months[np.minimum(close_m, n_months - 1)] + np.timedelta64(10, "D"),
            np.datetime64("NaT"),
        )
        clients_parts.append(
            pd.DataFrame(
                {
                    "client_id": ids,
                    "branch_id": rng.choice([f"B{i:03d}" for i in range(40)], n),
                    "segment": rng.choice(
                        ["retail", "high_net_worth", "institutional"], n, p=[0.8, 0.15, 0.05]
                    ),
                    "open_date": open_date,
                    "close_date": close_date,
                    "close_reason": np.where(close_m < n_months, "closed", None),
                    "birth_year": rng.integers(1950, 2000, n).astype(float),
                    "risk_level": rng.choice(["C1", "C2", "C3", "C4", "C5"], n),
                    "acquisition_channel": rng.choice(["online", "branch", "referral"], n),
                }
            )
        )
        first = np.maximum(open_m, 0)
        length = np.maximum(close_m - first, 0)
        ci = np.repeat(np.arange(n), length)
        mi = np.concatenate([np.arange(f, f + k) for f, k in zip(first, length, strict=True)])
        m = len(ci)
        bal = rng.lognormal(11, 1.5, m) * (rng.random(m) < 0.7)
        cm = pa.table(
            {
                "client_id": ids[ci],
                "month": months[mi],
                "financing_balance": bal,
                "short_balance": rng.lognormal(9, 2, m) * (rng.random(m) < 0.1),
                "collateral_value": bal * rng.uniform(1.5, 4, m) + 1e4,
                "maintenance_ratio_min": np.where(bal > 0, rng.uniform(1.2, 4, m), np.nan),
                "margin_calls": rng.poisson(0.05, m),
                "forced_liquidations": rng.poisson(0.01, m),
                "trades": rng.poisson(8, m),
                "logins": rng.poisson(12, m),
                "financing_rate": rng.choice([0.055, 0.06, 0.065, 0.07, 0.0835], m),
                "dormant": rng.random(m) < 0.05,
            }
        )
        n_t = int(m * 0.1)
        tix = rng.integers(0, m, n_t)
        created = months[mi[tix]] + rng.integers(0, 28 * 24 * 3600, n_t).astype("timedelta64[s]")
        res_h = rng.exponential(20, n_t)
        resolved = created + (res_h * 3600).astype("timedelta64[s]")
        resolved = np.where(
            (rng.random(n_t) < 0.03) | (resolved > end), np.datetime64("NaT"), resolved
        )
        tk = pa.table(
            {
                "ticket_id": np.array([f"T{start}-{i}" for i in range(n_t)], dtype=object),
                "client_id": ids[ci[tix]],
                "created_at": created,
                "first_response_at": created + np.timedelta64(600, "s"),
                "resolved_at": resolved.astype("datetime64[us]"),
                "category": rng.choice(CATEGORIES, n_t),
                "channel": rng.choice(["app", "phone"], n_t),
                "sla_hours": rng.choice([2.0, 24.0, 72.0], n_t),
                "escalated": rng.random(n_t) < 0.05,
                "reopened": rng.random(n_t) < 0.03,
            }
        )
        n_s = int(m * 0.04)
        six = rng.integers(0, m, n_s)
        sv = pa.table(
            {
                "response_id": np.array([f"R{start}-{i}" for i in range(n_s)], dtype=object),
                "client_id": ids[ci[six]],
                "responded_at": months[mi[six]]
                + rng.integers(0, 27 * 86400, n_s).astype("timedelta64[s]"),
                "trigger": rng.choice(["periodic", "post_ticket"], n_s),
                "nps": rng.integers(0, 11, n_s),
                "csat": rng.integers(1, 6, n_s),
                "ces": rng.integers(1, 8, n_s).astype(float),
            }
        )
        for name, table in (("client_months", cm), ("tickets", tk), ("surveys", sv)):
            if name not in writers:
                writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
            writers[name].write_table(table.cast(writers[name].schema))
    for w in writers.values():
        w.close()
    pd.concat(clients_parts).to_parquet(folder / "clients.parquet", index=False)
    pd.DataFrame(
        {
            "intervention_id": ["I1", "I2", "I3"],
            "intervention": ["staff_training", "ai_assistant", "process_reengineering"],
            "unit_type": ["branch", "firm", "branch"],
            "unit_id": ["B001", "*", "B002"],
            "start_date": months[[3, 10, 20]],
            "end_date": [months[8], pd.NaT, pd.NaT],
            "intensity": [0.8, 1.0, 0.9],
        }
    ).to_parquet(folder / "interventions.parquet", index=False)
    pd.DataFrame(
        {
            "month": months,
            "index_return": rng.normal(0, 0.05, n_months),
            "volatility": rng.uniform(0.1, 0.4, n_months),
            "turnover": rng.uniform(5e11, 1.5e12, n_months),
        }
    ).to_parquet(folder / "market.parquet", index=False)


def _build(folder: str, out: str, memory_limit: str, queue) -> None:
    from snr_models.features import write_features

    t = time.perf_counter()
    write_features(folder, out, memory_limit=memory_limit)
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"feature build: {seconds:.0f} s, peak RSS {peak:.2f} GB", flush=True)
    queue.put(seconds)


def pandas_baseline(folder: Path, n_sample: int) -> float:
    """Seconds for a pandas group-by-rolling of 8 window sums on ``n_sample`` clients."""
    cm = pd.read_parquet(
        folder / "client_months.parquet",
        columns=["client_id", "month", "margin_calls", "forced_liquidations"],
    )
    keep = cm["client_id"].drop_duplicates().head(n_sample)
    cm = cm[cm["client_id"].isin(keep)].sort_values(["client_id", "month"])
    t = time.perf_counter()
    g = cm.groupby("client_id")[["margin_calls", "forced_liquidations"]]
    for w in (1, 3, 6, 12):
        g.rolling(w, min_periods=w).sum()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--data", type=Path, default=None, help="reuse/keep the world here")
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--baseline-clients", type=int, default=50_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="snr-bench-features-"))
    folder = args.data or tmp / "world"
    try:
        if not (folder / "clients.parquet").exists():
            t = time.perf_counter()
            generate(folder, args.clients, args.months)
            print(
                f"generated {args.clients:,} clients x {args.months} months in "
                f"{time.perf_counter() - t:.0f} s -> {folder}"
            )
        n_rows = pq.ParquetFile(folder / "client_months.parquet").metadata.num_rows
        out = tmp / "features.parquet"
        queue = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(
            target=_build, args=(str(folder), str(out), args.memory_limit, queue)
        )
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"feature build failed (exit {proc.exitcode})")
        seconds = queue.get()
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
        built = pads.dataset(out, format="parquet")
        print(
            f"features: {built.count_rows():,} client-months x {len(built.schema)} columns "
            f"(client_months has {n_rows:,} rows) in {seconds:.0f} s, "
            f"peak RSS {peak_gb:.2f} GB (DuckDB memory_limit {args.memory_limit})"
        )
        base = pandas_baseline(folder, args.baseline_clients)
        share = args.baseline_clients / args.clients
        print(
            f"baseline: pandas group-by-rolling of 8 window sums (1 of ~15 feature families) "
            f"on {args.baseline_clients:,} clients: {base:.1f} s -> {base / share:.0f} s "
            "extrapolated to the full size"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
