"""Synthetic control (Abadie, Diamond & Hainmueller 2010) for a roll-out to one unit, with
in-space placebo inference (RMSPE ratios, permutation p-value) and in-time placebos.

The synthetic unit is the convex combination of donor units (weights ``w >= 0`` summing to
one) that best reproduces the treated unit's pre-treatment outcomes (all pre-period lags are
the predictors, with equal importance). The weights are found by non-negative least squares
with the adding-up constraint enforced by a heavily weighted extra row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from snr_models.errors import SnrInputError


def synth_weights(treated_pre: np.ndarray, donors_pre: np.ndarray) -> np.ndarray:
    """Convex weights of the donors (columns of ``donors_pre``) fitting ``treated_pre``.

    Examples
    --------
    >>> import numpy as np
    >>> donors = np.array([[1.0, 3.0], [2.0, 4.0], [3.0, 5.0]])
    >>> synth_weights(np.array([2.0, 3.0, 4.0]), donors).round(3)
    array([0.5, 0.5])
    """
    scale = max(float(np.abs(donors_pre).max()), 1e-12)
    lam = 1e3 * np.sqrt(len(treated_pre))
    a = np.vstack([donors_pre / scale, lam * np.ones((1, donors_pre.shape[1]))])
    b = np.r_[treated_pre / scale, lam]
    w, _ = nnls(a, b, maxiter=50 * a.shape[1])
    return w / w.sum()


def _rmspe(gap: np.ndarray) -> float:
    return float(np.sqrt(np.mean(gap**2)))


@dataclass(frozen=True)
class SyntheticControlResult:
    """A synthetic-control fit and its placebo inference.

    Attributes
    ----------
    weights : Series
        Donor weights (index: donor units).
    path : DataFrame
        ``time, actual, synthetic, gap`` for the treated unit.
    att : float
        Mean post-treatment gap.
    placebos : DataFrame
        Per unit (treated first): ``unit, pre_rmspe, post_rmspe, ratio, post_gap``.
    p_value : float
        Share of units whose post/pre RMSPE ratio is at least the treated unit's.
    """

    treated: Any
    treatment_time: Any
    weights: pd.Series
    path: pd.DataFrame
    att: float
    placebos: pd.DataFrame
    p_value: float
    placebo_gaps: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The treated unit's path (actual, synthetic, gap)."""
        return self.path.copy()

    @property
    def rank(self) -> int:
        """Rank of the treated unit's RMSPE ratio among all units (1 = largest)."""
        r = self.placebos["ratio"].rank(ascending=False, method="min")
        return int(r.iloc[0])

    def summary(self) -> str:
        """Text: ATT, weights, placebo inference."""
        top = self.weights[self.weights > 1e-3].sort_values(ascending=False)
        return (
            f"Synthetic control for {self.treated}, treated from {self.treatment_time}\n"
            f"average post-treatment gap: {self.att:.3f}\n"
            f"donor weights: " + ", ".join(f"{k} {v:.3f}" for k, v in top.items()) + "\n"
            f"post/pre RMSPE ratio rank {self.rank} of {len(self.placebos)}, "
            f"permutation p = {self.p_value:.3f}"
        )

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """Actual vs synthetic and the gap, with placebo gaps in grey (a Figure)."""
        from snr_models.attribution.plots import plot_gap

        fig = plot_gap(
            self.path["time"],
            self.path["actual"].to_numpy(),
            self.path["synthetic"].to_numpy(),
            treated_at=self.treatment_time,
            title=f"Synthetic control: {self.treated}",
        )
        ax = fig.axes[1]
        for col in self.placebo_gaps.columns:
            ax.plot(self.path["time"], self.placebo_gaps[col], color="grey", lw=0.5, alpha=0.5)
        return fig

    def in_time_placebo(
        self, fake_time: Any, data: pd.DataFrame, **cols: str
    ) -> SyntheticControlResult:
        """Refit with a fake treatment time using pre-treatment data only."""
        t = cols["time"]
        pre = data[data[t] < self.treatment_time]
        return synthetic_control(
            pre, treated=self.treated, treatment_time=fake_time, placebos=False, **cols
        )


def synthetic_control(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated: Any,
    treatment_time: Any,
    donors: list[Any] | None = None,
    predictor_times: list[Any] | None = None,
    placebos: bool = True,
) -> SyntheticControlResult:
    """Synthetic control of ``treated`` from ``treatment_time`` on, with in-space placebos.

    Parameters
    ----------
    data : DataFrame
        Long panel (unit, time, outcome), balanced.
    treated : Any
        The treated unit.
    treatment_time : Any
        First treated period.
    donors : list, optional
        Donor pool (default: every other unit).
    predictor_times : list, optional
        The pre-treatment periods whose outcomes the weights match (default: all of them).
        Matching a few lags (ADH use 1975, 1980 and 1988 for Proposition 99) overfits less;
        the pre-treatment RMSPE is always measured on every pre-treatment period.
    placebos : bool
        Run the in-space placebo for every donor (each donor treated, the others as donors).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = np.arange(10); rows = []
    >>> for u, base in {"A": 1.0, "B": 3.0, "C": 2.0}.items():
    ...     for ti in t:
    ...         rows.append((u, ti, base + 0.1 * ti + (1.0 if u == "C" and ti >= 7 else 0.0)))
    >>> df = pd.DataFrame(rows, columns=["u", "t", "y"])
    >>> res = synthetic_control(df, outcome="y", unit="u", time="t", treated="C", treatment_time=7)
    >>> round(res.att, 3)
    1.0
    """
    wide = data.pivot(index=time, columns=unit, values=outcome).sort_index()
    if treated not in wide.columns:
        raise SnrInputError(f"synthetic control: unit {treated!r} not in the data")
    if wide.isna().any().any():
        raise SnrInputError("synthetic control: the panel must be balanced without missing values")
    pool = [u for u in (donors if donors is not None else wide.columns) if u != treated]
    pre = wide.index < treatment_time
    if pre.sum() < 2 or (~pre).sum() < 1:
        raise SnrInputError("synthetic control: need at least 2 pre- and 1 post-treatment periods")

    match = pre if predictor_times is None else wide.index.isin(predictor_times)
    if predictor_times is not None and (not match.any() or (match & ~pre).any()):
        raise SnrInputError("synthetic control: predictor_times must be pre-treatment periods")

    def fit(target: Any, pool_: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        y = wide[target].to_numpy()
        x = wide[pool_].to_numpy()
        w = synth_weights(y[match], x[match])
        return w, y - x @ w

    w, gap = fit(treated, pool)
    synth = wide[treated].to_numpy() - gap
    units = [treated, *pool] if placebos else [treated]
    rows = []
    gaps = {}
    for u in units:
        g = (
            gap
            if u == treated
            else fit(u, [d for d in [treated, *pool] if d not in (u, treated)])[1]
        )
        if u != treated:
            gaps[u] = g
        pre_r, post_r = _rmspe(g[pre]), _rmspe(g[~pre])
        rows.append(
            {
                "unit": u,
                "pre_rmspe": pre_r,
                "post_rmspe": post_r,
                "ratio": post_r / pre_r if pre_r > 0 else np.inf,
                "post_gap": float(g[~pre].mean()),
            }
        )
    plac = pd.DataFrame(rows)
    p = float(np.mean(plac["ratio"] >= plac["ratio"].iloc[0])) if placebos else float("nan")
    path = pd.DataFrame(
        {"time": wide.index, "actual": wide[treated].to_numpy(), "synthetic": synth, "gap": gap}
    )
    return SyntheticControlResult(
        treated=treated,
        treatment_time=treatment_time,
        weights=pd.Series(w, index=pool),
        path=path,
        att=float(gap[~pre].mean()),
        placebos=plac,
        p_value=p,
        placebo_gaps=pd.DataFrame(gaps, index=wide.index),
    )
