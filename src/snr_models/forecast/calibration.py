"""Interval calibration from the rolling-origin backtest's own out-of-sample errors.

The models' own predictive standard deviations are too small out of sample: they ignore
parameter uncertainty and misspecification (regime shocks), the model was *chosen* for its small
errors on the very points that would reveal them, and the components' errors move together more
than their in-sample residuals say. Measured on the simulator (6 seeds x 8 origins, 288 held-out
months), the uncalibrated firm-wide net rate's 95% intervals covered 90% of the held-out months.
:func:`snr_models.forecast.forecast` therefore calibrates, per series, with the backtest it
already runs for the model choice:

1. *Honest errors* (:func:`selection_points`): at each backtest origin, the errors of the model
   the choice rule picks from the *other* origins (leave-one-origin-out), so that the errors
   are those of "choose, then forecast", without the optimism of scoring the winner on the
   points it won on.
2. *Scale factor* (:func:`scale_factor`): with ``z = error / model sd`` on those points, the
   root mean square of ``z`` -- at least 1 (the model-based interval is the floor) and at most
   3; 1 when fewer than ``min_points`` points.
3. *Correlation* of the components' honest ``z``, aligned by origin and step
   (:func:`error_correlation`).
4. *Composite factor* (:func:`composite_factor`): the net rate's honest backtest errors (the
   weighted sum of the components') against the standard deviation the calibrated components
   and their correlation imply at the same points; the same root-mean-square rule. It widens
   the net rate's spread around its forecast when the components' errors are more alike than
   their correlation captured.
5. *Uncertain scale* (:func:`effective_dof`): a scale estimated from few, overlapping windows is
   itself uncertain, and plugging it in makes intervals too narrow. The paths are drawn from a
   multivariate Student *t* (each path's Gaussian draw divided by ``sqrt(chi2_nu / nu)``, the
   Bayesian predictive distribution under an unknown variance factor with ``nu`` degrees of
   freedom), ``nu`` the number of distinct months the backtest held out (``n_origins +
   horizon - 1``): overlapping windows share their months' innovations, so that is the
   number of independent innovations the errors saw.

Everything applied is recorded (:class:`Calibration`, ``ForecastResult.params["calibration"]``
and the ``sd_inflation`` column of ``ForecastResult.choice``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "Calibration",
    "composite_factor",
    "effective_dof",
    "error_correlation",
    "scale_factor",
    "selection_points",
    "standardised_errors",
]

#: Fewest backtest points a factor is estimated from (fewer: no calibration, factor 1).
MIN_POINTS = 6
#: Largest factor applied (a guard against a degenerate model standard deviation).
MAX_FACTOR = 3.0
_ORDER = {"snaive": 0, "ets": 1, "sarimax": 2, "uc": 3}


@dataclass(frozen=True)
class Calibration:
    """What was applied to the firm-wide intervals (see module doc).

    Attributes
    ----------
    factors : dict
        Scale factor per firm-wide component.
    n_points : dict
        Honest backtest points each factor was estimated from.
    net_rate_factor : float
        The composite (net rate) factor.
    dof : float
        Degrees of freedom of the Student *t* paths (``inf``: Gaussian, no backtest).
    correlation : ndarray
        Correlation of the components' errors used in the simulation (S, R, E).
    correlation_source : str
        ``"backtest"`` or ``"residuals"`` (too few aligned backtest points).
    """

    factors: dict[str, float] = field(default_factory=dict)
    n_points: dict[str, int] = field(default_factory=dict)
    net_rate_factor: float = 1.0
    dof: float = float("inf")
    correlation: np.ndarray = field(default_factory=lambda: np.eye(3), repr=False)
    correlation_source: str = "residuals"

    def as_dict(self) -> dict:
        """A JSON-friendly summary (for ``ForecastResult.params`` and MLflow)."""
        names = list(self.factors)
        corr = {
            f"{a}-{b}": round(float(self.correlation[i, j]), 4)
            for i, a in enumerate(names)
            for j, b in enumerate(names)
            if i < j and self.correlation.shape[0] == len(names)
        }
        return {
            "method": "backtest rms of honest standardised errors (leave-one-origin-out model "
            "choice), floor 1; composite factor; Student-t paths",
            "min_points": MIN_POINTS,
            "factors": {k: round(v, 4) for k, v in self.factors.items()},
            "n_points": dict(self.n_points),
            "net_rate_factor": round(self.net_rate_factor, 4),
            "dof": self.dof if np.isfinite(self.dof) else "inf",
            "correlation": corr,
            "correlation_source": self.correlation_source,
        }


def _choose(mase: pd.Series) -> str:
    """The backtest's rule: lowest MASE, ties to the simpler model."""
    return sorted(mase.index, key=lambda m: (mase[m], _ORDER.get(m, 99)))[0]


def selection_points(points: pd.DataFrame) -> pd.DataFrame:
    """Leave-one-origin-out: per origin, the points of the model chosen on the other origins.

    Parameters
    ----------
    points : DataFrame
        A backtest's points for every candidate (``model, origin, step, actual, mean, sd,
        scale``; :attr:`snr_models.forecast.backtest.SeriesBacktest.points`).

    Returns
    -------
    DataFrame
        The same columns, one model per origin (empty with fewer than two origins).

    Examples
    --------
    >>> p = pd.DataFrame({"model": ["snaive", "ets"] * 2, "origin": [1, 1, 2, 2],
    ...     "step": 1, "actual": [0.0, 0.0, 0.0, 0.0], "mean": [1.0, 2.0, 3.0, 0.5],
    ...     "sd": 1.0, "scale": 1.0})
    >>> selection_points(p)[["origin", "model"]].values.tolist()
    [[1, 'ets'], [2, 'snaive']]
    """
    p = points.dropna(subset=["actual", "mean", "sd", "scale"])
    p = p[p["sd"] > 0]
    if p.empty or p["origin"].nunique() < 2:
        return p.iloc[:0].copy()
    ae = (p["actual"] - p["mean"]).abs() / p["scale"]
    out = []
    for origin in p["origin"].unique():
        rest = p["origin"] != origin
        best = _choose(ae[rest].groupby(p.loc[rest, "model"]).mean())
        out.append(p[(p["origin"] == origin) & (p["model"] == best)])
    return pd.concat(out).reset_index(drop=True)


def standardised_errors(points: pd.DataFrame) -> pd.Series:
    """``(actual - mean) / sd`` indexed by ``(origin, step)``."""
    z = (points["actual"] - points["mean"]) / points["sd"]
    index = pd.MultiIndex.from_arrays([points["origin"], points["step"]], names=["origin", "step"])
    return pd.Series(z.to_numpy(dtype=float), index=index)


def scale_factor(z: np.ndarray | pd.Series, min_points: int = MIN_POINTS) -> float:
    """Root mean square of standardised errors, within ``[1, MAX_FACTOR]``.

    1 when fewer than ``min_points`` finite values (too few to calibrate on).

    Examples
    --------
    >>> scale_factor(np.array([2.0, -2.0, 2.0, -2.0, 2.0, -2.0]))
    2.0
    >>> scale_factor(np.array([0.1] * 6)), scale_factor(np.array([5.0] * 3))
    (1.0, 1.0)
    """
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    if z.size < min_points:
        return 1.0
    return float(np.clip(np.sqrt(np.mean(z**2)), 1.0, MAX_FACTOR))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < MIN_POINTS or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    return float(np.clip(np.corrcoef(a[ok], b[ok])[0, 1], -0.99, 0.99))


def error_correlation(
    z: Mapping[str, pd.Series],
    resid: Mapping[str, np.ndarray],
    names: Sequence[str],
    min_points: int = 12,
) -> tuple[np.ndarray, str]:
    """Correlation of the components' forecast errors, and where it came from.

    From the standardised backtest errors aligned by origin and step when at least
    ``min_points`` align (they hold what moves the components together over the horizon, which
    one-step in-sample residuals understate); otherwise from the in-sample residuals.
    """
    k = len(names)
    r = np.eye(k)
    frame = pd.concat({n: z[n] for n in names if n in z}, axis=1) if z else pd.DataFrame()
    source = "backtest"
    for a in range(k):
        for b in range(a + 1, k):
            na, nb = names[a], names[b]
            pair = frame[[na, nb]].dropna() if na in frame and nb in frame else pd.DataFrame()
            if len(pair) >= min_points:
                r[a, b] = r[b, a] = _corr(pair[na].to_numpy(), pair[nb].to_numpy())
            else:
                r[a, b] = r[b, a] = _corr(resid[na], resid[nb])
                source = "residuals"
    return r, source


def composite_factor(
    points: Mapping[str, pd.DataFrame],
    factors: Mapping[str, float],
    correlation: np.ndarray,
    weights: Mapping[str, float],
    min_points: int = MIN_POINTS,
) -> tuple[float, int]:
    """Scale factor of the composite from its own honest backtest errors.

    At the ``(origin, step)`` points every component has, the composite's error
    ``sum_c w_c e_c`` is divided by the standard deviation the calibrated components imply,
    ``sqrt(sum_ab w_a w_b f_a sd_a f_b sd_b r_ab)``; the factor is their root mean square
    (:func:`scale_factor`). Returns the factor and the number of points.
    """
    names = list(weights)
    if any(n not in points or points[n].empty for n in names):
        return 1.0, 0
    frames = {n: points[n].set_index(["origin", "step"]) for n in names}
    idx = frames[names[0]].index
    for n in names[1:]:
        idx = idx.intersection(frames[n].index)
    if len(idx) < min_points:
        return 1.0, len(idx)
    w = np.array([weights[n] for n in names])
    err = np.column_stack(
        [(frames[n].loc[idx, "actual"] - frames[n].loc[idx, "mean"]).to_numpy() for n in names]
    )
    sd = np.column_stack([frames[n].loc[idx, "sd"].to_numpy() * factors[n] for n in names])
    sd_net = np.sqrt(np.einsum("ni,ij,nj->n", sd * w, correlation, sd * w))
    return scale_factor((err @ w) / sd_net, min_points), len(idx)


def effective_dof(points: Mapping[str, pd.DataFrame], min_points: int = MIN_POINTS) -> float:
    """Degrees of freedom of the calibrated scale: distinct held-out months of the backtest.

    The fewest over the series given; ``inf`` (Gaussian) when a series has fewer than
    ``min_points`` points (no calibration was estimated).

    Examples
    --------
    >>> p = pd.DataFrame({"origin": [20, 20, 21, 21], "step": [1, 2, 1, 2]})
    >>> effective_dof({"S": p}, min_points=4)
    3.0
    """
    months = []
    for p in points.values():
        if len(p) < min_points:
            return float("inf")
        months.append((p["origin"] + p["step"]).nunique())
    return float(min(months)) if months else float("inf")
