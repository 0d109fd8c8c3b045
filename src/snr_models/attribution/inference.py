"""Inference from influence functions: analytic standard errors, the multiplier bootstrap with
uniform (simultaneous) bands, and Wald tests.

An estimator that is asymptotically linear, ``theta_hat - theta = (1/n) sum_i psi_i + o_p(n^-1/2)``,
carries its influence function as an ``n x k`` matrix ``psi`` (one row per cluster, i.e. per
unit). Then ``V = psi' psi / n^2`` and the multiplier bootstrap draws
``theta* = theta_hat + (1/n) sum_i xi_i psi_i`` with i.i.d. mean-zero, unit-variance weights
``xi`` (Mammen's two-point distribution, as R's ``did``).

Least-squares fits with few clusters (the branch x month regressions of
:mod:`~snr_models.attribution.joint`) take their small-sample cluster-robust covariance from
:func:`cluster_rows`, the one place where it is computed: Bell-McCaffrey CR2 (the default of
:func:`~snr_models.attribution.joint.estimate_joint`) or the cluster jackknife CR3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def cluster_rows(
    z: np.ndarray, y: np.ndarray, cluster: np.ndarray, n_clusters: int, kind: str = "CR2"
) -> np.ndarray:
    """Per-cluster rows ``d_g`` (clusters x columns of ``z``) whose cross-product
    ``sum_g d_g d_g'`` is the CR2 or CR3 covariance of the least-squares coefficients of ``y`` on
    ``z``; the influence of a linear combination ``c'b`` is ``d_g'c``, and influences of fits on
    the same clusters add.

    With ``M = Z'Z``, ``e`` the residuals and ``H_gg = Z_g M^-1 Z_g'`` the cluster's block of the
    hat matrix:

    - ``"CR2"`` (Bell & McCaffrey 2002; Imbens & Kolesar 2016; Pustejovsky & Tipton 2018, eq. 5):
      ``d_g = M^-1 Z_g' (I - H_gg)^(-1/2) e_g``. The adjustment undoes the shrinkage of each
      cluster's residuals by its own fit, so the covariance is unbiased when the errors are
      homoskedastic and independent across clusters. In the saturated event-study regressions
      each cohort's cells are fitted by its few branches (leverages ``H_gg`` far from 0): CR1
      is then too small and the jackknife too large.
    - ``"CR3"``, the cluster jackknife (CV3 of MacKinnon, Nielsen & Webb 2023): the exact
      leave-one-cluster-out estimates ``b_(g) = b - (M - Z_g'Z_g)^-1 Z_g'e_g``; ``d_g`` is their
      deviation from their mean times ``sqrt((G - 1) / G)``. It is ``(I - H_gg)^-1`` where CR2
      has its square root, and over-corrects: on the simulator's 30-branch worlds its standard
      errors were 1.1-1.6 times the spread of the estimates (``benchmarks/attribution_coverage.py
      --se CR3``, README), CR2's close to 1.

    Parameters
    ----------
    z : ndarray, shape (n, p)
        The design, rows scaled by the root weights; fixed effects nested in the clusters swept
        out within cluster (the within residuals are orthogonal to each cluster's constant, so
        this equals CR2 with their dummies in the design: Pustejovsky & Tipton 2018, section 3.2;
        the leave-one-out fits of CR3 drop the cluster's own levels).
    y : ndarray, shape (n,)
        The outcome, transformed as ``z``.
    cluster : int ndarray, shape (n,)
        Cluster codes ``0 .. n_clusters - 1``.
    n_clusters : int
    kind : {"CR2", "CR3"}

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = np.column_stack([np.ones(40), rng.normal(size=40)]); y = rng.normal(size=40)
    >>> cl = np.repeat(np.arange(10), 4)
    >>> cr2, cr3 = (cluster_rows(z, y, cl, 10, k) for k in ("CR2", "CR3"))
    >>> cr2.shape, bool(np.all(np.diag(cr2.T @ cr2) < np.diag(cr3.T @ cr3)))
    ((10, 2), True)
    """
    if kind not in ("CR2", "CR3"):
        raise ValueError(f"kind must be 'CR2' or 'CR3', not {kind!r}")
    if kind == "CR2":
        return ClusterCR2.from_design(z, cluster, n_clusters).rows(y)
    m = z.T @ z
    m_inv = pinv_normal(m)
    e = y - z @ (m_inv @ (z.T @ y))
    rows = np.zeros((n_clusters, z.shape[1]))
    for g, idx in enumerate(_cluster_indices(cluster, n_clusters)):
        zg = z[idx]
        rows[g] = solve_normal(m - zg.T @ zg, zg.T @ e[idx])  # b - b_(g)
    return np.sqrt((n_clusters - 1) / n_clusters) * (rows.mean(axis=0) - rows)


def _cluster_indices(cluster: np.ndarray, n_clusters: int) -> list[np.ndarray]:
    order = np.argsort(cluster, kind="stable")
    bounds = np.searchsorted(cluster[order], np.arange(n_clusters + 1))
    return [order[bounds[g] : bounds[g + 1]] for g in range(n_clusters)]


@dataclass(frozen=True)
class ClusterCR2:
    """The Bell-McCaffrey CR2 covariance of a least-squares design, and the degrees of freedom
    of its t intervals.

    ``basis`` holds, on cluster ``g``'s rows, ``(I - H_gg)^(-1/2) Z_g M^-1`` (``M = Z'Z``), so
    that CR2's per-cluster rows are ``d_g = B_g' e_g`` (:meth:`rows`, see :func:`cluster_rows`).

    :meth:`dof` is Bell & McCaffrey's (2002) degrees-of-freedom correction, as recommended by
    Imbens & Kolesar (2016, section 4): under the working model of independent homoskedastic
    errors the CR2 variance of ``c'b`` is ``e'GG'e`` with ``G = (I - H) Q``, ``Q``'s column
    ``g`` holding ``B_g c`` on cluster ``g``'s rows; with ``lambda`` the eigenvalues of ``G'G``
    it is approximately a scaled chi-square with ``(sum lambda)^2 / sum lambda^2`` degrees of
    freedom. The number is small when the combination rests on few clusters, e.g. a roll-out
    whose late cohorts are compared with three never-treated branches, where ``t(G - 1)``
    intervals under-cover (Conley & Taber 2011; MacKinnon & Webb 2017).

    Examples
    --------
    >>> import numpy as np
    >>> cl = np.repeat(np.arange(20), 5)
    >>> treated = (cl < 2).astype(float)  # 2 of 20 clusters treated
    >>> cr2 = ClusterCR2.from_design(np.column_stack([np.ones(100), treated]), cl, 20)
    >>> bool(cr2.dof(np.array([0.0, 1.0])) < 3), bool(cr2.dof(np.array([1.0, 0.0])) > 15)
    (True, True)
    """

    z: np.ndarray = field(repr=False)
    m_inv: np.ndarray = field(repr=False)
    basis: np.ndarray = field(repr=False)
    cluster: np.ndarray = field(repr=False)
    n_clusters: int

    @classmethod
    def from_design(cls, z: np.ndarray, cluster: np.ndarray, n_clusters: int) -> ClusterCR2:
        """Prepare the CR2 basis of design ``z`` (cluster codes ``0 .. n_clusters - 1``)."""
        m_inv = pinv_normal(z.T @ z)
        basis = np.zeros_like(z)
        for idx in _cluster_indices(cluster, n_clusters):
            zg = z[idx]
            # (I - H_gg)^(-1/2) by eigen-decomposition; zero eigenvalues (directions the cluster
            # fits exactly, e.g. its own fixed effect) get 0: the pseudo-inverse square root
            vals, vecs = np.linalg.eigh(np.eye(len(idx)) - zg @ m_inv @ zg.T)
            inv_root = np.where(vals > 1e-12, 1 / np.sqrt(np.maximum(vals, 1e-12)), 0.0)
            basis[idx] = vecs @ (inv_root[:, None] * (vecs.T @ (zg @ m_inv)))
        return cls(z=z, m_inv=m_inv, basis=basis, cluster=cluster, n_clusters=n_clusters)

    def rows(self, y: np.ndarray) -> np.ndarray:
        """Per-cluster rows ``d_g`` (clusters x columns) of the CR2 covariance for outcome ``y``."""
        e = y - self.z @ (self.m_inv @ (self.z.T @ y))
        rows = np.zeros((self.n_clusters, self.z.shape[1]))
        np.add.at(rows, self.cluster, self.basis * e[:, None])
        return rows

    def influence(self, y: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Per-cluster influence ``rows(y) @ c`` of ``c'b`` for each column of ``y`` (rows x
        outcomes): clusters x outcomes."""
        e = y - self.z @ (self.m_inv @ (self.z.T @ y))
        out = np.zeros((self.n_clusters, y.shape[1]))
        np.add.at(out, self.cluster, (self.basis @ c)[:, None] * e)
        return out

    def dof(self, c: np.ndarray) -> float:
        """Bell-McCaffrey degrees of freedom of ``c'b`` (``c`` over the columns of ``z``)."""
        c = np.asarray(c, dtype=float)
        if not np.any(c):
            return float("nan")
        from scipy import sparse

        bc = self.basis @ c
        # z'Q with Q the (rows x clusters) matrix holding bc in each row's cluster column: the
        # clusters' sums of z * bc (a sparse sum; the dense product cost 40x more)
        n = len(bc)
        member = sparse.csr_matrix(
            (np.ones(n), (self.cluster, np.arange(n))), shape=(self.n_clusters, n)
        )
        zq = np.asarray((member @ (self.z * bc[:, None])).T)
        # G'G = Q'(I - H)Q, with Q'Q diagonal (the clusters' rows are disjoint)
        gg = np.diag(np.bincount(self.cluster, bc**2, self.n_clusters)) - zq.T @ self.m_inv @ zq
        lam = np.linalg.eigvalsh(gg)
        if not np.sum(lam**2) > 0:
            return float("nan")
        return float(np.sum(lam) ** 2 / np.sum(lam**2))


def t_value(alpha: float, df: float) -> float:
    """Two-sided Student t critical value for ``1 - alpha`` intervals (normal when ``df`` is
    infinite, NaN when it is not a number)."""
    if not np.isfinite(df):
        return float(stats.norm.ppf(1 - alpha / 2)) if df == np.inf else float("nan")
    return float(stats.t.ppf(1 - alpha / 2, df))


def imbens_manski_value(alpha: float, df: float, width: float, se: float) -> float:
    """Critical value ``c`` of Imbens and Manski's (2004) interval for a partially identified
    quantity: its identified set ``[lower, upper]`` (``width = upper - lower``) is estimated
    with standard error ``se``, and ``[lower - c se, upper + c se]`` covers the true value with
    probability ``1 - alpha`` whatever it is in the set: ``F(c + width / se) - F(-c) = 1 -
    alpha``, ``F`` Student t with ``df`` degrees of freedom (normal when infinite). With
    ``width`` 0 it is :func:`t_value`; as the set widens it falls to the one-sided value.

    Examples
    --------
    >>> round(imbens_manski_value(0.05, np.inf, 0.0, 1.0), 4)
    1.96
    >>> round(imbens_manski_value(0.05, np.inf, 100.0, 1.0), 4)  # one-sided 95%
    1.6449
    """
    point = t_value(alpha, df)
    if not np.isfinite(point) or not (np.isfinite(se) and se > 0) or width <= 0:
        return point
    dist = stats.t(df) if np.isfinite(df) else stats.norm()
    delta = width / se
    from scipy.optimize import brentq

    one_sided = float(dist.ppf(1 - alpha))

    def excess(c: float) -> float:
        return float(dist.cdf(c + delta) - dist.cdf(-c) - (1 - alpha))

    if excess(one_sided) >= 0:  # a set so wide (delta in the tens) that c is the one-sided value
        return one_sided
    if excess(point) <= 0:  # a set so narrow (a rounding error of se) that c is the two-sided one
        return point
    return float(brentq(excess, one_sided, point))


# A direction of the normal equations whose eigenvalue is below this fraction of the largest
# is taken as exactly collinear. Rounding leaves an exactly singular design's smallest
# eigenvalues near 1e-16 of the largest, and how near depends on the BLAS kernels of the
# machine; a cut at machine precision (numpy's and scipy's defaults) then decides the rank
# differently on different processors, and with it a placebo draw's estimate (measured: the
# golden world's placebo standard errors moved by 3% between OpenBLAS's Haswell and Zen
# kernels). 1e-10 is far from both rounding and any design the package fits (a condition
# number of 1e5 on the regressors).
RANK_RTOL = 1e-10


def pinv_normal(a: np.ndarray) -> np.ndarray:
    """The pseudo-inverse of a symmetric positive semi-definite matrix (normal equations),
    directions below :data:`RANK_RTOL` of the largest eigenvalue dropped."""
    return np.linalg.pinv(a, rtol=RANK_RTOL, hermitian=True)


def solve_normal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cholesky solve of normal equations; the minimum-norm solution (:func:`pinv_normal`) when
    their reciprocal condition number is below :data:`RANK_RTOL` (collinear regressors)."""
    from scipy.linalg import cho_solve, lapack

    if a.shape[0] == 0:
        return np.zeros(a.shape[:1] + np.shape(b)[1:])
    chol, info = lapack.dpotrf(np.asarray(a, dtype=float), lower=False, clean=True)
    if info == 0:
        rcond, info = lapack.dpocon(chol, np.linalg.norm(a, 1))
        if info == 0 and rcond > RANK_RTOL:
            return cho_solve((chol, False), b)
    return pinv_normal(a) @ b


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
