"""Benchmark: ``snr ingest`` of a broker's exports, against plain ``pandas.read_csv`` + merge.

Simulates a world (``simulate(..., truth=False)``), writes it as a broker's exports with every
table as files (``write_exports(database="csv", surveys="csv")``: accounts, and positions,
tickets and surveys as GBK CSV files by month, the interventions workbook, the market CSV),
then, each in a fresh child process that reports its own wall time and peak resident memory:

- **ingest**: ``snr_models.jobs.ingest.ingest`` of every month into a DuckDB file: read (by
  month, streamed), convert codes, units and dates, quarantine, validate against the
  contract, write atomically, manifest and data-quality page;
- **baseline**: ``pandas.read_csv`` of the same CSV files (GBK) concatenated per table, and
  the positions merged with the accounts on the client number: no conversion, no validation.

Target (issue #14): 1,000,000 clients x 36 months in < 10 minutes and < 8 GB. Writing the
exports of that size takes long on a shared machine; ``--clients`` runs a smaller world, and
the figures printed at the end extrapolate linearly to 1,000,000 clients (time; and memory
above the start-up's), to be quoted as extrapolations. The memory extrapolation is an upper
bound for the ingest: it holds one source file at a time and DuckDB spills beyond 2 GB. Wall
and CPU time (every thread) are printed, with the load average: on a shared machine the CPU
ratio is the steadier one.

Usage::

    .venv/bin/python benchmarks/bench_ingest.py                      # 1,000,000 x 36
    .venv/bin/python benchmarks/bench_ingest.py --clients 100000     # extrapolated x10
    .venv/bin/python benchmarks/bench_ingest.py --clients 100000 --memory-limit 512MB
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
    return usage.ru_utime + usage.ru_stime


def _put(queue, seconds: float, cpu: float, base_gb: float, rows: int) -> None:
    cpu = _cpu() - cpu
    queue.put(
        {"seconds": seconds, "cpu": cpu, "peak_gb": _peak_gb(), "base_gb": base_gb, "rows": rows}
    )


def _ingest(exports: str, out: str, memory_limit: str, queue) -> None:
    from snr_models.jobs.ingest import ingest

    base_gb = _peak_gb()  # the interpreter and the imports, before any data
    start, cpu = time.perf_counter(), _cpu()
    result = ingest(Path(exports) / "sources.yaml", Path(out), memory_limit=memory_limit)
    rows = sum(c["rows_written"] for c in result.tables.values())
    seconds = time.perf_counter() - start
    _put(queue, seconds, cpu, base_gb, rows)


def _baseline(exports: str, queue) -> None:
    import pandas as pd

    base_gb = _peak_gb()
    start, cpu = time.perf_counter(), _cpu()
    folder = Path(exports)
    frames = {}
    for name, pattern in (
        ("positions", "positions/*.csv"),
        ("tickets", "tickets/*.csv"),
        ("surveys", "surveys/*.csv"),
    ):
        parts = [pd.read_csv(p, encoding="gbk") for p in sorted(folder.glob(pattern))]
        frames[name] = pd.concat(parts, ignore_index=True)
    accounts = pd.read_csv(folder / "accounts.csv", encoding="gbk")
    market = pd.read_csv(folder / "market.csv", encoding="utf-8-sig")
    merged = frames["positions"].merge(accounts, on="客户号", how="left")
    rows = len(merged) + len(frames["tickets"]) + len(frames["surveys"]) + len(market)
    seconds = time.perf_counter() - start
    _put(queue, seconds, cpu, base_gb, rows)


def _child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--exports", type=Path, help="reuse (or keep) the exports folder here")
    parser.add_argument(
        "--memory-limit", default="2GB", help="DuckDB's memory for the ingest (default 2GB)"
    )
    args = parser.parse_args()

    from snr_models.simulate import simulate
    from snr_models.simulate.exports import write_exports

    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    exports = args.exports or root / "exports"
    try:
        if not (exports / "sources.yaml").exists():
            start = time.perf_counter()
            world = simulate(
                n_clients=args.clients,
                n_branches=args.branches,
                n_months=args.months,
                seed=1,
                truth=False,
            )
            simulated = time.perf_counter() - start
            write_exports(world.tables, exports, database="csv", surveys="csv")
            counts = world.tables.row_counts()
            del world
            print(
                f"simulated in {simulated:.0f} s, exports written in "
                f"{time.perf_counter() - start - simulated:.0f} s: {counts}"
            )
        size = sum(p.stat().st_size for p in exports.rglob("*") if p.is_file()) / 1024**3
        print(f"exports: {size:.2f} GiB in {exports}")
        print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores)")
        base = _child(_baseline, str(exports))
        mine = _child(_ingest, str(exports), str(root / "world.duckdb"), args.memory_limit)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        scale = 1_000_000 / args.clients
        for label, r in (("pandas read_csv + merge", base), ("snr ingest", mine)):
            line = (
                f"{label}: {r['seconds']:.1f} s (CPU {r['cpu']:.1f} s), peak RSS "
                f"{r['peak_gb']:.2f} GiB, {r['rows']:,} rows"
            )
            if scale != 1:
                memory = r["base_gb"] + (r["peak_gb"] - r["base_gb"]) * scale
                line += (
                    f"; linear extrapolation to 1,000,000 clients: {r['seconds'] * scale:.0f} s,"
                    f" {memory:.1f} GiB (start-up {r['base_gb']:.2f} GiB + data x {scale:g})"
                )
            print(line)
        print(
            f"snr ingest / baseline: time {mine['seconds'] / base['seconds']:.2f}, "
            f"CPU {mine['cpu'] / base['cpu']:.2f}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
