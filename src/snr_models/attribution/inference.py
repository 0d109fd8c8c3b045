"""Inference from influence functions: analytic standard errors, the multiplier bootstrap with
uniform (simultaneous) bands, and Wald tests.

An estimator that is asymptotically linear, ``theta_hat - theta = (1/n) sum_i psi_i + o_p(n^-1/2)``,
carries its influence function as an ``n x k`` matrix ``psi`` (one row per cluster, i.e. per
unit). Then ``V = psi' psi / n^2`` and the multiplier bootstrap draws
``theta* = theta_hat + (1/n) sum_i xi_i psi_i`` with i.i.d. mean-zero, unit-variance weights
``xi`` (Mammen's two-point distribution, as R's ``did``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

_SQRT5 = np.sqrt(5.0)
_MAMMEN_LO = (1 - _SQRT5) / 2
_MAMMEN_HI = (1 + _SQRT5) / 2
_MAMMEN_P = (_SQRT5 + 1) / (2 * _SQRT5)


def analytic_se(psi: np.ndarray) -> np.ndarray:
    """Standard errors ``sqrt(sum_i psi_i^2) / n`` of each column of an influence matrix.

    Examples
    --------
    >>> import numpy as np
    >>> analytic_se(np.array([[1.0], [-1.0]]))  # sqrt(2) / 2
    array([0.70710678])
    """
    n = psi.shape[0]
    return np.sqrt(np.sum(psi**2, axis=0)) / n


def cluster_psi(psi: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Sum the rows of an influence matrix within clusters (identity when ``cluster`` is None).

    The returned matrix is rescaled so that ``analytic_se`` of it is the cluster-robust
    standard error: rows are cluster sums times ``n_clusters / n``.
    """
    if cluster is None:
        return psi
    codes, uniques = _codes(cluster)
    n, g = psi.shape[0], len(uniques)
    summed = np.zeros((g, psi.shape[1]))
    np.add.at(summed, codes, psi)
    return summed * (g / n)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniques, codes = np.unique(values, return_inverse=True)
    return codes, uniques


@dataclass(frozen=True)
class BootstrapResult:
    """Multiplier-bootstrap standard errors and the critical value of the uniform band."""

    se: np.ndarray
    crit: float
    n_boot: int


def multiplier_bootstrap(
    psi: np.ndarray,
    *,
    n_boot: int = 999,
    alpha: float = 0.05,
    random_state: int | np.random.Generator | None = 0,
    chunk: int = 256,
) -> BootstrapResult:
    """Multiplier bootstrap of an influence matrix: robust SEs and a uniform-band critical value.

    Vectorised: the ``n_boot x n`` Mammen weights are drawn in chunks and multiplied into
    ``psi`` with one matrix product per chunk. The standard error is the bootstrap
    interquartile range divided by that of the standard normal (as R's ``did``); the critical
    value is the ``1 - alpha`` quantile of ``max_k |theta*_k - theta_k| / se_k``.

    Parameters
    ----------
    psi : ndarray, shape (n, k)
        Influence function, one row per cluster.
    n_boot : int
        Bootstrap replicates.
    alpha : float
        ``1 - alpha`` is the simultaneous coverage of the band.
    random_state : int, Generator or None
        Seed.
    chunk : int
        Replicates per matrix product (bounds memory at ``chunk * n`` floats).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> psi = rng.normal(size=(2000, 3))
    >>> res = multiplier_bootstrap(psi, n_boot=2000, random_state=1)
    >>> bool(np.allclose(res.se, analytic_se(psi), rtol=0.1)), bool(2.0 < res.crit < 2.7)
    (True, True)
    """
    rng = np.random.default_rng(random_state)
    n, k = psi.shape
    draws = np.empty((n_boot, k))
    for lo in range(0, n_boot, chunk):
        hi = min(n_boot, lo + chunk)
        xi = np.where(rng.random((hi - lo, n)) < _MAMMEN_P, _MAMMEN_LO, _MAMMEN_HI)
        draws[lo:hi] = xi @ psi / n
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    ok = se > np.sqrt(np.finfo(float).eps) * 10
    if not ok.any():
        return BootstrapResult(se=np.where(ok, se, np.nan), crit=np.nan, n_boot=n_boot)
    tmax = np.max(np.abs(draws[:, ok]) / se[ok], axis=1)
    crit = float(np.quantile(tmax, 1 - alpha))
    return BootstrapResult(se=np.where(ok, se, np.nan), crit=crit, n_boot=n_boot)


def wald_test(estimate: np.ndarray, vcov: np.ndarray) -> tuple[float, int, float]:
    """Joint Wald test that every element of ``estimate`` is zero: ``(statistic, df, p_value)``.

    Uses a pseudo-inverse, so a singular ``vcov`` tests the identified directions only (``df``
    is then its rank).

    Examples
    --------
    >>> import numpy as np
    >>> stat, df, p = wald_test(np.array([1.0, 1.0]), np.eye(2))
    >>> stat, df, round(p, 4)  # chi-square(2) at 2: exp(-1)
    (2.0, 2, 0.3679)
    """
    estimate = np.asarray(estimate, dtype=float)
    if estimate.size == 0:
        return float("nan"), 0, float("nan")
    vcov = np.atleast_2d(np.asarray(vcov, dtype=float))
    rank = int(np.linalg.matrix_rank(vcov))
    if rank == 0:
        return float("nan"), 0, float("nan")
    stat = float(estimate @ np.linalg.pinv(vcov) @ estimate)
    return stat, rank, float(stats.chi2.sf(stat, rank))


def z_value(alpha: float) -> float:
    """Two-sided normal critical value for ``1 - alpha`` pointwise intervals."""
    return float(stats.norm.ppf(1 - alpha / 2))
