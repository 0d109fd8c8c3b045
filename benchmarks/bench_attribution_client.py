"""Benchmark: client-level attribution on 1,000,000 clients x 36 months (issue 5, section 5).

Target: under 15 minutes and 16 GB for the estimation.

Two child processes, each reporting its own wall time and peak resident memory:

1. ``simulate``: the simulator's world at that size without the ground truth
   (``simulate(truth=False)``), written as Parquet; skipped with ``--data`` (an existing
   contract-shaped folder, e.g. from ``snr simulate --clients 1000000 --out DIR``).
2. ``estimate``: what the figure measures: load the folder, build the branch x month panel of
   S, R, E and the net rate from every survey response, client-month and ticket
   (:func:`~snr_models.attribution.build_panel`), estimate every intervention's effect on
   every component with client-level weights (``estimate_joint(weighting="client")``: each
   response, client-month and ticket counts once, branch-clustered inference, placebo
   standard errors for the pilot) and the waterfall of the change.

Baseline in the same run (inside the ``estimate`` child, on the same panel): the joint
estimation with branch-months weighted equally (``weighting="branch_month"``), the default.

Usage::

    .venv/bin/python benchmarks/bench_attribution_client.py              # 1,000,000 x 36
    .venv/bin/python benchmarks/bench_attribution_client.py --clients 100000
    .venv/bin/python benchmarks/bench_attribution_client.py --data DIR   # reuse a world
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_simulate(args: argparse.Namespace) -> dict:
    from snr_models.simulate import simulate, write_simulation

    t0 = time.perf_counter()
    world = simulate(
        n_clients=args.clients,
        n_branches=args.branches,
        n_months=args.months,
        seed=args.seed,
        truth=False,
    )
    t_sim = time.perf_counter() - t0
    rows = world.tables.row_counts()
    write_simulation(world, args.data)
    return {
        "seconds": time.perf_counter() - t0,
        "simulate_seconds": t_sim,
        "rows": rows,
        "peak_rss_mib": _peak_rss_mib(),
    }


def child_estimate(args: argparse.Namespace) -> dict:
    from snr_models.attribution import attribute_change, build_panel, estimate_joint
    from snr_models.data.io import load

    t0 = time.perf_counter()
    tables = load(args.data)
    t_load = time.perf_counter() - t0
    panel = build_panel(tables)
    t_panel = time.perf_counter() - t0 - t_load
    t1 = time.perf_counter()
    eff = estimate_joint(panel, weighting="client")
    wf = attribute_change(panel, effects=eff)
    t_est = time.perf_counter() - t1
    seconds = time.perf_counter() - t0
    t2 = time.perf_counter()
    base = estimate_joint(panel, weighting="branch_month")
    attribute_change(panel, effects=base)
    t_base = time.perf_counter() - t2
    nr = eff.to_frame().query("component == 'net_rate'")
    return {
        "seconds": seconds,
        "load_seconds": t_load,
        "panel_seconds": t_panel,
        "estimate_seconds": t_est,
        "baseline_branch_month_seconds": t_base,
        "peak_rss_mib": _peak_rss_mib(),
        "rows": tables.row_counts(),
        "net_rate_effects": dict(zip(nr["intervention"], nr["estimate"].round(4), strict=True)),
        "net_rate_change": float(
            wf.table.query("component == 'net_rate' and step == 'end'")["value"].iloc[0]
            - wf.table.query("component == 'net_rate' and step == 'start'")["value"].iloc[0]
        ),
    }


def _run_child(phase: str, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--data",
        str(args.data),
        "--clients",
        str(args.clients),
        "--branches",
        str(args.branches),
        "--months",
        str(args.months),
        "--seed",
        str(args.seed),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--branches", type=int, default=40)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None, help="reuse this world's folder")
    parser.add_argument("--phase", choices=["simulate", "estimate"], default=None)
    args = parser.parse_args()
    if args.phase is not None:  # inside a child: print one JSON line
        fn = child_simulate if args.phase == "simulate" else child_estimate
        print(json.dumps(fn(args)), flush=True)
        return
    tmp = None
    if args.data is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench_attr_client_"))
        args.data = tmp / "world"
        sim = _run_child("simulate", args)
        print(
            f"simulate(truth=False), {args.clients:,} clients x {args.branches} branches x "
            f"{args.months} months: {sim['seconds']:.0f} s (of which written to Parquet "
            f"{sim['seconds'] - sim['simulate_seconds']:.0f} s); peak RSS "
            f"{sim['peak_rss_mib'] / 1024:.1f} GiB; rows {sim['rows']}",
            flush=True,
        )
    try:
        est = _run_child("estimate", args)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"rows {est['rows']}")
    print(
        f"load {est['load_seconds']:.0f} s, branch x month panel from client rows "
        f"{est['panel_seconds']:.0f} s, client-weighted joint estimation + waterfall "
        f"{est['estimate_seconds']:.1f} s"
    )
    print(
        "baseline in the same run, branch-month weighting: "
        f"{est['baseline_branch_month_seconds']:.1f} s"
    )
    print(f"net-rate effects (client weighting): {est['net_rate_effects']}")
    print(
        f"client-level attribution, {est['rows']['clients']:,} clients x {args.months} months: "
        f"{est['seconds']:.0f} s, peak RSS {est['peak_rss_mib'] / 1024:.1f} GiB "
        f"(target < 900 s, < 16 GiB)"
    )


if __name__ == "__main__":
    main()
