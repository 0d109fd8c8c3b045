"""Benchmark: a negative-subsampled ChurnBoost fit, its bins found fast or by scikit-learn.

On the training rows of the main job's first backtest origin (the world in ``--data``, the
churn settings of ``experiments/default.yaml``: every exit and a fifth of the stayers,
weighted up), fits ChurnBoost alternately with its one-sort-per-column binning and with
scikit-learn's own weighted binning (one sort per bin and column), ``--repeats`` times each,
and prints the wall and CPU seconds of each fit, the ratio of the medians, and whether the
two models' probabilities on the origin's test rows are equal.

Usage::

    .venv/bin/python benchmarks/bench_boost_binning.py --data data --repeats 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

import snr_models.churn.boost as boost
from snr_models import threads
from snr_models.churn.backtest import backtest_origins
from snr_models.data.io import load
from snr_models.features import build_features
from snr_models.jobs.churn_models import (
    feature_months,
    labelled_rows,
    make_estimator,
    model_inputs,
)
from snr_models.jobs.config import RunConfig

DEFAULT = Path(__file__).parents[1] / "experiments" / "default.yaml"


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    run_config = RunConfig.from_yaml(args.config)
    config = run_config.churn.churn_config()
    with threads.limit(run_config.threads):  # the job's threads (OpenMP), as in the main job
        _compare(config, args)


def _compare(config, args) -> None:
    tables = load(args.data)
    frame = build_features(tables, as_of=feature_months(tables, config), horizon=config.horizon)
    labelled = labelled_rows(frame, config)
    bt = config.backtest
    origin = backtest_origins(
        labelled,
        horizon=config.horizon,
        min_train_months=bt.min_train_months,
        n_origins=bt.n_origins,
    )[0]
    inputs = model_inputs(labelled)
    train = labelled[labelled["as_of"] <= origin]
    test = labelled[labelled["as_of"] == origin + pd.DateOffset(months=config.horizon)]
    print(f"{len(train):,} training rows, {len(test):,} test rows, origin {origin:%Y-%m}")
    limit = boost._BINNING_SUBSAMPLE
    wall: dict[str, list[float]] = {"fast": [], "scikit-learn": []}
    cpu: dict[str, list[float]] = {"fast": [], "scikit-learn": []}
    proba = {}
    for _ in range(args.repeats):
        for name, subsample in (("fast", limit), ("scikit-learn", 0)):
            boost._BINNING_SUBSAMPLE = subsample
            t0, c0 = time.perf_counter(), _cpu()
            model = make_estimator(config, "boost").fit(train[inputs], train["churn"].to_numpy())
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(_cpu() - c0)
            proba[name] = model.predict_proba(test[inputs])[:, 1]
            print(
                f"  {name}: {wall[name][-1]:.1f} s, CPU {cpu[name][-1]:.1f} s "
                f"(load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    boost._BINNING_SUBSAMPLE = limit
    for label, seconds in (("wall", wall), ("CPU", cpu)):
        fast, ref = statistics.median(seconds["fast"]), statistics.median(seconds["scikit-learn"])
        print(f"median {label}: fast {fast:.1f} s, scikit-learn {ref:.1f} s: {ref / fast:.2f}x")
    print("probabilities equal:", bool(np.array_equal(proba["fast"], proba["scikit-learn"])))


if __name__ == "__main__":
    main()
