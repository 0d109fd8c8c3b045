"""Benchmark: the hazard model's expected months to exit, one design against one per month.

``HazardModel.expected_months_to_exit`` needs the monthly hazard at 120 advanced tenures.
It builds the design once and recomputes the tenure column per month; the baseline, in the
same run, is the definition: the hazard logit on the frame with tenure advanced, month by
month (one design transform per month). Prints both times, the ratio and whether the
results are equal (they are bit-equal).

Usage::

    .venv/bin/python benchmarks/bench_hazard_months.py --rows 20000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from snr_models.churn import HazardModel


def _frame_by_frame(model: HazardModel, X: pd.DataFrame) -> np.ndarray:
    """``1 + sum_{k<K-1} S(k+1)``, each month's hazard on the frame with tenure advanced."""
    logit, surv, total = model.hazard_model_, np.ones(len(X)), np.ones(len(X))
    tenure = X[model.duration_column].to_numpy(dtype=float)
    for k in range(model.max_months - 1):
        surv = surv * (1 - logit._proba(X.assign(**{model.duration_column: tenure + 0.0 + k})))
        total = total + surv
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.rows
    X = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(30)})
    X["tenure_months"] = rng.integers(1, 120, n).astype(float)
    X["segment"] = pd.Series(rng.choice(["retail", "vip", "staff"], n), dtype="str")
    y = (rng.random(n) < 0.03 * np.exp(0.5 * X["x0"])).astype(int)
    model = HazardModel().fit(X, y)
    print(f"{n:,} clients, 30 numeric features and a segment (load {os.getloadavg()[0]:.1f})")
    t0 = time.perf_counter()
    fast = model.expected_months_to_exit(X)
    t_fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = _frame_by_frame(model, X)
    t_slow = time.perf_counter() - t0
    print(f"one design: {t_fast:.2f} s; one design per month: {t_slow:.2f} s")
    print(f"ratio {t_slow / t_fast:.1f}x; max difference {np.abs(fast - slow).max():.2e}")


if __name__ == "__main__":
    main()
