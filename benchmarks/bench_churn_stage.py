"""Benchmark: the main job's churn stage alone, on a world already in a data folder.

Runs the churn stage of ``snr run`` (``snr_models.jobs.main._churn_stage``: features, the
candidates' backtests, the choice, the final fit, logging and registration, the call list
with its reasons) on the tables of ``--data`` (the world a first run of
``bench_main_stages.py`` simulated into ``data/``), in a run of the tracking store of the
current folder, and prints each step's seconds with the load average, then what the stage
chose and how well: the model, the nested and pooled backtest AUCs, the calibration, and the
call list (pseudonymised with a fixed key, so that two runs' lists compare). ``--profile
FILE`` writes a cProfile of the stage (read it with ``pstats``).

To compare two versions of the code, run it from each version's checkout
(``PYTHONPATH=<checkout>/src``) in the same session: the ratio of the churn seconds counts.

Usage::

    .venv/bin/python benchmarks/bench_churn_stage.py --data data
    .venv/bin/python benchmarks/bench_churn_stage.py --data data --profile churn.prof
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import time
from pathlib import Path
from unittest import mock

from snr_models import progress, threads, tracking
from snr_models.data.io import load
from snr_models.jobs import main as job
from snr_models.jobs.config import RunConfig

DEFAULT = Path(__file__).parents[1] / "experiments" / "default.yaml"


def _cpu() -> float:
    """CPU seconds of this process (every thread): less swayed than wall time by other load."""
    t = os.times()
    return t.user + t.system


class _Times(progress.Reporter):
    """Records the wall and CPU seconds of every step as it ends."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._started: dict[tuple, float] = {}

    def started(self, path, total) -> None:
        self._started[tuple(path)] = _cpu()

    def finished(self, path, done, total, elapsed) -> None:
        name = " > ".join(path)
        cpu = _cpu() - self._started.pop(tuple(path), _cpu())
        self.times[name] = round(self.times.get(name, 0.0) + elapsed, 1)
        self.cpu[name] = round(self.cpu.get(name, 0.0) + cpu, 1)
        load = os.getloadavg()[0]
        print(f"  {name} {elapsed:.1f} s, CPU {cpu:.1f} s (load {load:.1f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile here")
    parser.add_argument("--out", type=Path, default=None, help="write the results (JSON) here")
    args = parser.parse_args()
    config = RunConfig.from_yaml(args.config)
    tables = load(args.data)
    tables.content_hash()  # hashed once per job, by the data stage in the main job
    reporter = _Times()
    fit, fits = job.fit_churn, []  # the stage's fit, kept for the candidates' scores
    profiler = cProfile.Profile() if args.profile else None
    print(f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    with (
        threads.limit(config.threads),
        progress.use(reporter),
        tracking.start_run(config.experiment, run_name="bench churn stage") as run,
        # a fixed pseudonymisation key: the call lists of two runs compare
        mock.patch.object(job.secrets, "token_hex", return_value="bench"),
    ):
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        with (
            progress.stage("churn"),
            mock.patch.object(
                job, "fit_churn", side_effect=lambda *a: fits.append(fit(*a)) or fits[-1]
            ),
        ):
            result = job._churn_stage(config, tables, run)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - t0
    if profiler:
        profiler.dump_stats(args.profile)
    metrics = result.metrics.set_index("metric")
    out = {
        "seconds": round(seconds, 1),
        "steps": reporter.times,
        "cpu_seconds": reporter.cpu,
        "load_average": round(os.getloadavg()[0], 1),
        "model": result.model,
        "candidates": fits[0].choice.scores[["score", "roc_auc", "pr_auc", "brier"]].to_dict(),
        "nested_auc": result.nested_auc,
        "backtest_auc": result.backtest_auc,
        "calibration_intercept": float(metrics.loc["calibration_intercept", "value"]),
        "calibration_slope": float(metrics.loc["calibration_slope", "value"]),
        "brier": float(metrics.loc["brier", "value"]),
        "call_list": list(result.call_list["client (pseudonym)"]),
        "call_list_reasons": list(result.call_list["reason_1"]),
    }
    text = json.dumps(out, indent=1, default=str)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
