"""Benchmark: the churn stage's model fit alone and beside busy processes, threads default vs all.

The main job's churn stage fits ``ChurnBoost`` (scikit-learn's HistGradientBoosting, OpenMP)
on the labelled client-months of a simulated world, with the settings of
``experiments/default.yaml`` (its boosting candidate, whatever ``model`` chooses). That fit
is timed four ways in one run:

- quiet, ``threads`` default (:func:`snr_models.threads.default_threads`: the CPUs this process
  may use, less those the 1-minute load average shows busy);
- quiet, all cores (the old behaviour: OpenMP starts a thread per core);
- beside ``--burners`` CPU-burning processes (started here, stopped at the end), after
  ``--settle`` seconds so that the load average has seen them, with the default;
- beside them, all cores.

Printed: each time (median of ``--repeats``), the threads used, the load average, and the
ratios the README quotes: busy/quiet with the default (goal <= 2.5) and with all cores (the
old slowdown), and quiet default/quiet all cores (goal: not slower). On a machine other work
already loads, "quiet" is not quiet: read the load average printed beside it.

Usage::

    .venv/bin/python benchmarks/bench_contention.py [--clients 20000] [--months 24]
        [--burners 2] [--settle 60] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from snr_models import threads
from snr_models.features import build_features
from snr_models.jobs.churn_models import fit_estimator, labelled_rows
from snr_models.jobs.config import RunConfig
from snr_models.simulate import simulate

DEFAULT_CONFIG = Path(__file__).parents[1] / "experiments" / "default.yaml"


def _fit_seconds(labelled, config, n_threads: int, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        with threadpool_limits(limits=n_threads):
            start = time.perf_counter()
            fit_estimator(labelled, config, model="boost")  # the candidate with OpenMP threads
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20_000)
    ap.add_argument("--branches", type=int, default=10)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--burners", type=int, default=2)
    ap.add_argument("--settle", type=float, default=60.0, help="seconds before the busy runs")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.pop("SNR_THREADS", None)

    config = RunConfig.from_yaml(DEFAULT_CONFIG).churn.churn_config()
    tables = simulate(
        n_clients=args.clients, n_branches=args.branches, n_months=args.months, seed=0, truth=False
    ).tables
    labelled = labelled_rows(build_features(tables, horizon=config.horizon), config)
    all_cores = threads.usable_cpus()
    print(
        f"{len(labelled):,} labelled client-months; boost model; "
        f"{all_cores} usable CPUs; {args.repeats} repeats (median)",
        flush=True,
    )

    def measure(label: str) -> dict[str, float]:
        load = os.getloadavg()[0]
        default = threads.default_threads()
        row = {
            "default": _fit_seconds(labelled, config, default, args.repeats),
            "all": _fit_seconds(labelled, config, all_cores, args.repeats),
        }
        print(
            f"{label:>6}: load {load:.2f}; default {default} thread(s) {row['default']:.2f} s; "
            f"all cores ({all_cores}) {row['all']:.2f} s",
            flush=True,
        )
        return row

    quiet = measure("quiet")
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burners)
    ]
    try:
        time.sleep(args.settle)
        busy = measure("busy")
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
    print(
        f"slowdown beside {args.burners} busy processes: default "
        f"{busy['default'] / quiet['default']:.2f}x (goal <= 2.5), all cores "
        f"{busy['all'] / quiet['all']:.2f}x; quiet default / quiet all cores "
        f"{quiet['default'] / quiet['all']:.2f}x (goal <= 1)",
        flush=True,
    )


if __name__ == "__main__":
    main()
