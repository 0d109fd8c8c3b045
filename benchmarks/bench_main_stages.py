"""Benchmark: the main job's stage times, with the churn model chosen (``auto``) or fixed.

Runs ``snr run``'s job (:func:`snr_models.jobs.main.run_main`) on ``experiments/default.yaml``
once per churn model given (default: ``boost`` then ``auto``), one after the other in the
current folder (the simulated world in ``data/`` is reused by the second run), and prints
each stage's seconds with the load average when it ended, and the process's peak resident
memory: the churn stage of ``auto`` against the churn stage of ``boost`` from the same session
is the ratio to read.

To compare two versions of the code on the same world, run it from each version's checkout
(``PYTHONPATH=<checkout>/src``) with ``data/`` holding the world the first run simulated:
the later runs reuse it, as a team's data would be there already.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_main_stages.py
    .venv/bin/python benchmarks/bench_main_stages.py --models auto
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from snr_models import progress
from snr_models.jobs import main as job
from snr_models.jobs.config import RunConfig

DEFAULT = Path(__file__).parents[1] / "experiments" / "default.yaml"


class _Times(progress.Reporter):
    """Records the seconds of every stage and step (``churn > backtest``) as they end."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.times: dict[str, float] = {}

    def finished(self, path, done, total, elapsed) -> None:
        name = " > ".join(path)
        self.times[name] = self.times.get(name, 0.0) + round(elapsed, 1)
        if len(path) <= 2:
            load = os.getloadavg()[0]
            print(f"  {self.model}: {name} {elapsed:.1f} s (load {load:.1f})", flush=True)


def run(model: str, config: Path) -> dict[str, float]:
    """Stage (and step) seconds of one run of the main job with ``churn.overrides.model``."""
    cfg = RunConfig.from_yaml(config)
    overrides = cfg.churn.overrides | {"model": model}
    cfg = cfg.model_copy(update={"churn": cfg.churn.model_copy(update={"overrides": overrides})})
    reporter = _Times(model)
    with progress.use(reporter):
        t0 = time.perf_counter()
        job.run_main(cfg)
        reporter.times["total"] = round(time.perf_counter() - t0, 1)
    return reporter.times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT)
    parser.add_argument("--models", default="boost,auto", help="comma-separated churn models")
    args = parser.parse_args()
    results = {}
    for model in args.models.split(","):
        print(f"{model}: load average at start {os.getloadavg()[0]:.1f}", flush=True)
        results[model] = run(model, args.config)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(json.dumps(results, indent=1))
    print(f"peak resident memory {peak:.2f} GiB")
    if "boost" in results and "auto" in results:
        ratio = results["auto"]["churn"] / results["boost"]["churn"]
        print(f"churn stage, auto / boost: {ratio:.2f}x")


if __name__ == "__main__":
    main()
