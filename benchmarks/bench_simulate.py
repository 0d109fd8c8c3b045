"""Benchmark: the default simulated world (50,000 clients x 40 branches x 36 months).

Compares, in the same run,

- baseline: ``simulate(truth=False)``, the same world and tables without the counterfactual
  runs (every subset of the interventions switched off: 2^k - 1 = 15) that the ground
  truth needs;
- full: ``simulate()``, tables plus ``truth`` (what ``snr simulate`` does);

and prints the wall time of each (best of ``--repeat``), the cost of the truth, and the peak
Python-heap allocation of each (tracemalloc, measured in a separate, untimed run) plus the
process's peak resident memory. The last line is the figure quoted in the README.

Run: ``.venv/bin/python benchmarks/bench_simulate.py [--repeat 3] [--clients 50000]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

from snr_models.simulate import SimulationConfig, simulate


def _best_of(repeat: int, **kwargs) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        simulate(**kwargs)
        best = min(best, time.perf_counter() - t0)
    return best


def _peak_mib(**kwargs) -> float:
    tracemalloc.start()
    simulate(**kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=SimulationConfig().n_clients)
    args = parser.parse_args(argv)
    cfg = SimulationConfig(n_clients=args.clients)
    size = f"{cfg.n_clients:,} clients x {cfg.n_branches} branches x {cfg.n_months} months"

    simulate(cfg, truth=False, n_clients=2_000)  # warm-up: imports, first-call overheads
    baseline = _best_of(args.repeat, config=cfg, truth=False)
    full = _best_of(args.repeat, config=cfg)
    peak_base = _peak_mib(config=cfg, truth=False)
    peak_full = _peak_mib(config=cfg)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    rows = simulate(cfg, truth=False).tables.row_counts()

    print(f"world: {size}; rows {rows}")
    print(f"baseline (tables, no truth):     {baseline:6.1f} s   peak heap {peak_base:7.0f} MiB")
    print(f"full (tables + truth, 15 scenarios): {full:6.1f} s   peak heap {peak_full:7.0f} MiB")
    print(f"truth costs {full - baseline:.1f} s ({full / baseline:.2f}x the baseline)")
    print(
        f"simulate(): {size} with ground truth in {full:.1f} s "
        f"(baseline without truth {baseline:.1f} s, {full / baseline:.2f}x); "
        f"peak RSS {rss:.0f} MiB"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
