"""Exact Shapley (LMG, general dominance) decomposition of R², and Johnson's relative weights.

Both work on a correlation matrix, never on rows, so their cost does not depend on n once the
correlation matrix is known.

LMG. The R² of the regression of ``y`` on a subset ``S`` of the drivers is
``r_S' R_SS^{-1} r_S``, where ``R_SS`` is the drivers' correlation matrix restricted to ``S``
and ``r_S`` their correlations with ``y``. :func:`subset_r2` evaluates it for all ``2^p``
subsets by grouping them by size and solving each group as one batched linear system (one
call to LAPACK per size), which for p = 15 is 32,768 small solves in a few hundredths of a
second. :func:`shapley_from_subsets` then averages each driver's increments over the orders in
which it can enter: ``phi_j = sum_{S not containing j} |S|! (p-|S|-1)! / p! [R²(S+j) - R²(S)]``.
The ``phi_j`` add up to the full model's R² exactly. Every function accepts a leading batch
axis, so a bootstrap evaluates many correlation matrices at once.

Relative weights (Johnson 2000). With ``R_xx = Q diag(l) Q'``, the orthogonal counterparts of
the drivers have loadings ``L = Q diag(sqrt l) Q'``; regressing ``y`` on them gives
``b = L^{-1} r``; driver j's weight is ``sum_k L_jk^2 b_k^2``. The weights also add up to R².
"""

from __future__ import annotations

from functools import cache
from itertools import combinations
from math import comb

import numpy as np

from snr_models.errors import SnrInputError

__all__ = [
    "MAX_EXACT_DRIVERS",
    "lmg",
    "relative_weights",
    "shapley_from_subsets",
    "split_corr",
    "subset_r2",
]

#: The exact decomposition visits 2^p subsets; beyond this many drivers it is refused.
MAX_EXACT_DRIVERS = 20


@cache
def _subsets_of_size(p: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """All k-subsets of range(p): their members (C, k) and their bit masks (C,)."""
    members = np.array(list(combinations(range(p), k)), dtype=np.intp).reshape(-1, k)
    masks = (np.left_shift(1, members)).sum(axis=1) if k else np.zeros(1, dtype=np.intp)
    return members, masks.astype(np.intp)


@cache
def _shapley_weights(p: int) -> np.ndarray:
    """``w[k] = k! (p-k-1)! / p!``, the weight of a size-k coalition, for k = 0..p-1."""
    return np.array([1.0 / (p * comb(p - 1, k)) for k in range(p)])


@cache
def _popcount(p: int) -> np.ndarray:
    masks = np.arange(2**p, dtype=np.int64)
    counts = np.zeros(2**p, dtype=np.intp)
    for j in range(p):
        counts += (masks >> j) & 1
    return counts


def split_corr(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a correlation matrix of ``[y, X]`` (target first) into ``(R_xx, r_xy)``.

    Accepts a leading batch axis: ``(..., q, q)`` gives ``(..., p, p)`` and ``(..., p)``.
    """
    corr = np.asarray(corr, dtype=np.float64)
    return corr[..., 1:, 1:], corr[..., 1:, 0]


def subset_r2(corr_xx: np.ndarray, r_xy: np.ndarray, *, chunk: int = 200_000) -> np.ndarray:
    """R² of the regression of y on every subset of the drivers, from correlations alone.

    Parameters
    ----------
    corr_xx : ndarray, shape (..., p, p)
        Correlation matrix of the drivers (a leading batch axis is allowed).
    r_xy : ndarray, shape (..., p)
        Correlation of each driver with the outcome.
    chunk : int
        Largest number of linear systems solved in one batched call (bounds memory).

    Returns
    -------
    ndarray, shape (..., 2**p)
        ``out[..., m]`` is the R² of the subset whose members are the set bits of ``m``
        (bit j = driver j); ``out[..., 0] = 0``.

    Examples
    --------
    Two uncorrelated drivers: R² adds up.

    >>> subset_r2(np.eye(2), np.array([0.3, 0.4])).round(4)
    array([0.  , 0.09, 0.16, 0.25])
    """
    corr_xx = np.asarray(corr_xx, dtype=np.float64)
    r_xy = np.asarray(r_xy, dtype=np.float64)
    p = corr_xx.shape[-1]
    if p > MAX_EXACT_DRIVERS:
        raise SnrInputError(
            f"{p} drivers: the exact decomposition visits 2^{p} subsets; use at most "
            f"{MAX_EXACT_DRIVERS} drivers, or relative weights"
        )
    batch = corr_xx.shape[:-2]
    out = np.zeros((*batch, 2**p))
    nb = int(np.prod(batch)) if batch else 1
    cxx = corr_xx.reshape(nb, p, p)
    rxy = r_xy.reshape(nb, p)
    flat = out.reshape(nb, 2**p)
    for k in range(1, p + 1):
        members, masks = _subsets_of_size(p, k)
        if k == 1:
            flat[:, masks] = rxy**2
            continue
        step = max(1, chunk // max(1, nb))
        for lo in range(0, len(members), step):
            m = members[lo : lo + step]
            a = cxx[:, m[:, :, None], m[:, None, :]]  # (nb, C, k, k)
            b = rxy[:, m]  # (nb, C, k)
            sol = np.linalg.solve(a, b[..., None])[..., 0]
            flat[:, masks[lo : lo + step]] = np.einsum("...i,...i->...", b, sol)
    return out


def shapley_from_subsets(values: np.ndarray) -> np.ndarray:
    """Shapley values of a set function given on all ``2^p`` subsets (bit-mask indexed).

    Parameters
    ----------
    values : ndarray, shape (..., 2**p)
        The value of every coalition, ``values[..., 0]`` the empty one.

    Returns
    -------
    ndarray, shape (..., p)
        Each player's Shapley value; they add up to ``values[..., -1] - values[..., 0]``.

    Examples
    --------
    >>> shapley_from_subsets(np.array([0.0, 0.1, 0.2, 0.5]))
    array([0.2, 0.3])
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[-1]
    p = n.bit_length() - 1
    if 2**p != n:
        raise ValueError(f"expected 2**p values, got {n}")
    masks = np.arange(n, dtype=np.int64)
    size_weight = _shapley_weights(p) if p else np.zeros(0)
    out = np.empty((*values.shape[:-1], p))
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        size = _popcount(p)[without]
        increments = values[..., without | (1 << j)] - values[..., without]
        out[..., j] = increments @ size_weight[size]
    return out


def lmg(corr_xx: np.ndarray, r_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LMG / Shapley / general-dominance shares of R² (exact, from correlations).

    Parameters
    ----------
    corr_xx : ndarray, shape (..., p, p)
    r_xy : ndarray, shape (..., p)

    Returns
    -------
    phi : ndarray, shape (..., p)
        Each driver's share of R² (they add up to ``r2``).
    r2 : ndarray, shape (...)
        R² of the full model.

    Examples
    --------
    >>> phi, r2 = lmg(np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([0.6, 0.4]))
    >>> bool(np.isclose(phi.sum(), r2))
    True
    """
    values = subset_r2(corr_xx, r_xy)
    return shapley_from_subsets(values), values[..., -1]


def relative_weights(corr_xx: np.ndarray, r_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Johnson's (2000) relative weights, from correlations; a leading batch axis is allowed.

    Returns
    -------
    weights : ndarray, shape (..., p)
        Raw relative weights (they add up to ``r2``).
    r2 : ndarray, shape (...)

    Examples
    --------
    >>> w, r2 = relative_weights(np.eye(2), np.array([0.3, 0.4]))
    >>> w.round(4), float(r2.round(4))
    (array([0.09, 0.16]), 0.25)
    """
    corr_xx = np.asarray(corr_xx, dtype=np.float64)
    r_xy = np.asarray(r_xy, dtype=np.float64)
    evals, evecs = np.linalg.eigh(corr_xx)
    evals = np.clip(evals, 0.0, None)
    lam = evecs * np.sqrt(evals)[..., None, :] @ np.swapaxes(evecs, -1, -2)
    inv_sqrt = np.where(evals > 0, 1.0 / np.sqrt(np.where(evals > 0, evals, 1.0)), 0.0)
    lam_inv = evecs * inv_sqrt[..., None, :] @ np.swapaxes(evecs, -1, -2)
    beta = np.einsum("...ij,...j->...i", lam_inv, r_xy)
    weights = np.einsum("...jk,...k->...j", lam**2, beta**2)
    return weights, weights.sum(axis=-1)
