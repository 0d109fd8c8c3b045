"""Benchmark: exact Shapley (LMG) from the correlation matrix against refitting every subset.

Draws n responses on p correlated drivers and times, in the same run:

* the exact path: :func:`snr_models.drivers.key_drivers` (``n_boot=0``) from rows to result:
  one correlation matrix, then the R² of all 2^p subsets by batched solves;
* the baseline: one least-squares regression per subset on the rows (``numpy.linalg.lstsq``
  with an intercept), 2^p - 1 fits, then the same Shapley average;
* the bootstrap: ``key_drivers(..., n_boot=500)`` (weighted moments, no refit).

It checks that both paths give the same importances (to 1e-8) and prints the figures the
README quotes.

Usage::

    .venv/bin/python benchmarks/bench_drivers.py [--n 50000] [--p 12] [--p-exact 15]
        [--boot 500] [--repeat 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from snr_models.drivers import key_drivers
from snr_models.drivers.shapley import shapley_from_subsets


def synthetic(n: int, p: int, seed: int) -> pd.DataFrame:
    """n responses on p correlated drivers and an outcome linear in them plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * 0.4 + rng.normal(size=(n, p))
    y = X @ rng.normal(size=p) + 2.0 * rng.normal(size=n)
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(p)]).assign(y=y)


def refit_every_subset(frame: pd.DataFrame, drivers: list[str]) -> np.ndarray:
    """The baseline: Shapley values from 2^p - 1 least-squares fits on the rows."""
    y = frame["y"].to_numpy()
    X = frame[drivers].to_numpy()
    ones = np.ones((len(y), 1))
    tss = (y - y.mean()) @ (y - y.mean())
    p = len(drivers)
    values = np.zeros(2**p)
    for mask in range(1, 2**p):
        cols = [j for j in range(p) if mask >> j & 1]
        design = np.hstack([ones, X[:, cols]])
        beta, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ beta
        values[mask] = 1.0 - resid @ resid / tss
    return shapley_from_subsets(values)


def best_of(repeat: int, fn):  # noqa: ANN001, ANN201
    """Smallest wall time of ``repeat`` calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--p", type=int, default=12, help="drivers for the exact-vs-refit race")
    parser.add_argument("--p-exact", type=int, default=15, help="drivers for the exact path alone")
    parser.add_argument("--boot", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    frame = synthetic(args.n, args.p, args.seed)
    drivers = [f"x{j}" for j in range(args.p)]
    key_drivers(frame, "y", drivers, n_boot=0)  # warm caches of subset indices
    t_exact, exact = best_of(args.repeat, lambda: key_drivers(frame, "y", drivers, n_boot=0))
    t_refit, refit = best_of(1, lambda: refit_every_subset(frame, drivers))
    gap = float(np.max(np.abs(exact.table["importance"].to_numpy() - refit)))
    assert gap < 1e-8, gap

    big = synthetic(args.n, args.p_exact, args.seed + 1)
    big_drivers = [f"x{j}" for j in range(args.p_exact)]
    key_drivers(big, "y", big_drivers, n_boot=0)
    t_big, _ = best_of(args.repeat, lambda: key_drivers(big, "y", big_drivers, n_boot=0))
    t_boot, _ = best_of(1, lambda: key_drivers(frame, "y", drivers, n_boot=args.boot))

    print(f"n = {args.n:,} responses")
    print(
        f"p = {args.p}: exact Shapley from the correlation matrix {t_exact:.3f} s; "
        f"refitting {2**args.p - 1:,} regressions {t_refit:.1f} s; "
        f"ratio {t_refit / t_exact:,.0f}x; max |difference| {gap:.1e}"
    )
    print(f"p = {args.p_exact}: exact Shapley ({2**args.p_exact:,} subsets) {t_big:.3f} s")
    print(f"p = {args.p}: {args.boot} bootstrap replicates with intervals {t_boot:.1f} s")


if __name__ == "__main__":
    main()
