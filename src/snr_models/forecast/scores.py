"""Forecast scores: MASE scale, interval coverage, pinball loss and the Gaussian CRPS.

Free functions on arrays, kept apart from the forecasters (Hyndman & Koehler 2006 for MASE;
Gneiting & Raftery 2007 for the CRPS of a normal predictive distribution).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["QUANTILES", "crps_normal", "mase_scale", "pinball", "z_of"]

#: Quantile levels of the 80% and 95% central intervals and the median.
QUANTILES: tuple[float, ...] = (0.025, 0.1, 0.5, 0.9, 0.975)


def z_of(level: float) -> float:
    """The normal quantile of a central ``level`` interval (1.96 for 0.95)."""
    return float(stats.norm.ppf(0.5 + level / 2))


def mase_scale(y: np.ndarray, season_length: int = 12) -> float:
    """Mean absolute in-sample seasonal-naive error (naive when shorter than two seasons' worth).

    Examples
    --------
    >>> mase_scale(np.array([1.0, 2.0, 4.0]), season_length=12)
    1.5
    """
    y = np.asarray(y, dtype=float)
    m = season_length if len(y) > season_length else 1
    d = np.abs(y[m:] - y[:-m])
    d = d[np.isfinite(d)]
    return float(d.mean()) if d.size and d.mean() > 0 else np.nan


def pinball(y: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...] = QUANTILES) -> float:
    """Mean pinball (quantile) loss of ``quantiles`` (``(..., len(levels))``) for outcomes ``y``.

    Examples
    --------
    >>> pinball(np.array([1.0]), np.array([[1.0, 1.0, 1.0, 1.0, 1.0]]))
    0.0
    """
    y = np.asarray(y, dtype=float)[..., None]
    q = np.asarray(quantiles, dtype=float)
    tau = np.asarray(levels)
    diff = y - q
    return float(np.mean(np.maximum(tau * diff, (tau - 1) * diff)))


def crps_normal(y: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """CRPS of ``N(mean, sd^2)`` at ``y`` (closed form; Gneiting & Raftery 2007, eq. 21).

    Examples
    --------
    >>> round(float(crps_normal(np.array(0.0), np.array(0.0), np.array(1.0))), 4)
    0.2337
    """
    sd = np.maximum(np.asarray(sd, dtype=float), 1e-12)
    z = (np.asarray(y, dtype=float) - mean) / sd
    return sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
