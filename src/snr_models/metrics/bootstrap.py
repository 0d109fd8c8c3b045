"""The vectorised client-level bootstrap of the net rate.

Clients are resampled with replacement, within each group when the result is grouped (a
stratified bootstrap), each drawn client bringing all of its responses, at-risk periods, exits
and tickets, in every period at once: replicate values of different periods stay as correlated
as the periods truly are.

Weights are **multinomial** (the classical Efron bootstrap: each replicate draws exactly
``n_g`` clients from a group of ``n_g``), generated as uniform draws counted with
``np.bincount``. We prefer them to Poisson(1) weights because they keep each group's size
fixed, as it is in the data, and because they are also the faster of the two here (uniform
integers cost less than Poisson variates). With a ``B x n_g`` weight block ``W`` and the
``n_g x (7 * periods)`` sufficient-statistics matrix ``X`` of the group, one product ``W @ X``
gives the summed statistics of every replicate and period, from which the components and the
composite follow. ``B`` is processed in chunks to bound memory.

The product is computed exactly: in float32 when every possible sum is an integer below
``2**24`` (so float32 represents every partial sum exactly), in float64 otherwise.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import numpy as np
from scipy import sparse

from snr_models import progress
from snr_models.metrics.components import ClientPeriodStats, component_values, composite
from snr_models.metrics.spec import MetricSpec

logger = logging.getLogger(__name__)

#: Bound on ``chunk x n_clients`` weight entries drawn at once (~100 MB of temporaries).
MAX_CHUNK_ENTRIES = 4_000_000
#: Above this many bytes, a group's statistics stay sparse (slower, bounded memory).
MAX_DENSE_BYTES = 512 * 2**20
_FLOAT32_EXACT = 2**24


def _group_matrices(stats: ClientPeriodStats) -> Iterator[sparse.csr_array]:
    """Each group's rows of the statistics matrix, in group order."""
    order = np.argsort(stats.group_codes, kind="stable")
    bounds = np.searchsorted(stats.group_codes[order], np.arange(stats.n_groups + 1))
    matrix = stats.matrix[order]
    for g in range(stats.n_groups):
        yield matrix[bounds[g] : bounds[g + 1]]


def _multinomial_weights(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """``(size, n)`` bootstrap counts: each row is Multinomial(n, uniform over n clients)."""
    draws = rng.integers(0, n, size=(size, n))
    draws += (np.arange(size, dtype=np.int64) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)


def group_replicates(
    matrix: sparse.csr_array,
    spec: MetricSpec,
    k: int,
    n_periods: int,
    n_boot: int,
    rng: np.random.Generator,
    *,
    max_chunk_entries: int = MAX_CHUNK_ENTRIES,
    max_dense_bytes: int = MAX_DENSE_BYTES,
) -> np.ndarray:
    """``(n_boot, n_periods)`` bootstrap replicates of the composite for one group of clients.

    ``matrix`` is the group's ``(n_clients, 7 * n_periods)`` block of
    :attr:`ClientPeriodStats.matrix`. Advances the open progress step by the replicates drawn
    (:mod:`snr_models.progress`).
    """
    n, n_cols = matrix.shape
    replicates = np.full((n_boot, n_periods), np.nan)
    if n == 0 or n_boot == 0:
        return replicates
    used = np.flatnonzero(np.bincount(matrix.indices, minlength=n_cols))
    largest = float(matrix.data.max()) if matrix.nnz else 0.0
    dtype = np.float32 if n * largest < _FLOAT32_EXACT else np.float64
    dense = n * len(used) * np.dtype(dtype).itemsize <= max_dense_bytes
    block = matrix[:, used]
    x = block.toarray().astype(dtype) if dense else block.astype(np.float64).T.tocsr()
    chunk = max(1, min(n_boot, max_chunk_entries // n))
    totals = np.zeros((chunk, n_cols))
    for begin in range(0, n_boot, chunk):
        size = min(chunk, n_boot - begin)
        weights = _multinomial_weights(rng, n, size)
        if dense:
            totals[:size, used] = weights.astype(dtype) @ x
        else:
            totals[:size, used] = (x @ weights.T.astype(np.float64)).T
        values = component_values(totals[:size].reshape(size, -1, n_periods), spec, k)
        replicates[begin : begin + size] = composite(values, spec)
        progress.advance(size)
    return replicates


def bootstrap_replicates(
    stats: ClientPeriodStats,
    spec: MetricSpec,
    k: int,
    n_boot: int,
    random_state: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """``(n_boot, n_groups, n_periods)`` client-level bootstrap replicates of the composite.

    Examples
    --------
    >>> import pandas as pd
    >>> from snr_models.simulate import simulate
    >>> from snr_models.metrics.components import client_period_stats
    >>> from snr_models.metrics.periods import Window
    >>> tables = simulate(n_clients=1_000, n_branches=2, n_months=3, seed=1, truth=False).tables
    >>> spec = MetricSpec.default()
    >>> first = tables.client_months["month"].min()
    >>> window = Window.between(first, first + pd.DateOffset(months=2), k=1)
    >>> stats = client_period_stats(tables, spec, window, ["branch_id"])
    >>> bootstrap_replicates(stats, spec, k=1, n_boot=200).shape
    (200, 2, 3)
    """
    rng = np.random.default_rng(random_state)
    out = np.empty((n_boot, stats.n_groups, stats.window.n))
    with progress.stage("bootstrap", total=n_boot * stats.n_groups):
        for g, matrix in enumerate(_group_matrices(stats)):
            out[:, g, :] = group_replicates(matrix, spec, k, stats.window.n, n_boot, rng)
    return out


def summarise_replicates(
    replicates: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap SD (``ddof=1``) and percentile interval over axis 0, ignoring NaN replicates.

    A replicate is NaN in a cell when it drew no observation of a component's denominator
    there (e.g. no survey response); such replicates are left out of that cell.

    Examples
    --------
    >>> reps = np.arange(1.0, 101.0)[:, None]
    >>> se, lo, hi = summarise_replicates(reps, 0.1)
    >>> float(lo[0]), float(hi[0])
    (5.95, 95.05)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        se = np.nanstd(replicates, axis=0, ddof=1)
        lo, hi = np.nanquantile(replicates, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return se, lo, hi


def bootstrap_composite(
    stats: ClientPeriodStats,
    spec: MetricSpec,
    k: int,
    *,
    n_boot: int,
    alpha: float,
    random_state: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap SE and percentile interval of the composite, each ``(n_groups, n_periods)``.

    Groups are processed one at a time, so memory holds one group's ``(n_boot, n_periods)``
    replicates and one chunk of weights at a time. A progress step ``bootstrap`` counts the
    replicates of every group.
    """
    rng = np.random.default_rng(random_state)
    shape = (stats.n_groups, stats.window.n)
    se, lo, hi = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    n_dropped = 0
    with progress.stage("bootstrap", total=n_boot * stats.n_groups):
        for g, matrix in enumerate(_group_matrices(stats)):
            reps = group_replicates(matrix, spec, k, stats.window.n, n_boot, rng)
            n_dropped += int(np.isnan(reps).sum())
            se[g], lo[g], hi[g] = summarise_replicates(reps, alpha)
    logger.debug(
        "bootstrap: %d replicates x %d groups x %d periods, %d undefined replicate cells",
        n_boot,
        stats.n_groups,
        stats.window.n,
        n_dropped,
    )
    return se, lo, hi
