"""Backtest of the whole forecast: the firm-wide net rate, forecast from each origin.

Each origin reruns :func:`~snr_models.forecast.forecast` on the history up to it (model choice
included, so nothing is learnt from the held-out months) and compares the firm-wide net rate's
forecast and intervals with what the data then showed. The seasonal naive forecast of the
firm-wide net rate itself is scored on the same points, in the same run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.forecast.core import forecast
from snr_models.forecast.models import SeasonalNaive
from snr_models.forecast.scores import mase_scale, z_of
from snr_models.metrics import net_rate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["NetRateBacktest", "backtest_net_rate"]


@dataclass(frozen=True)
class NetRateBacktest:
    """Held-out firm-wide net rate against its forecasts.

    Attributes
    ----------
    points : DataFrame
        ``origin, period, step, actual, forecast, lo, hi, snaive, snaive_lo, snaive_hi, scale``
        (``lo``/``hi`` the forecast's ``1 - alpha`` interval, ``snaive_lo``/``snaive_hi`` the
        seasonal naive's; ``scale``: the in-sample seasonal-naive MAE at the origin).
    components : DataFrame
        The firm-wide S, R, E and net rate at the same points: ``origin, period, step,
        component, actual, forecast, lo, hi``.
    alpha : float
        The intervals' ``alpha``.
    """

    points: pd.DataFrame
    components: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    alpha: float = 0.05

    def coverage(self, by: str = "component") -> pd.DataFrame:
        """Coverage of the ``1 - alpha`` intervals and the number of points, per ``by``
        (``"component"``, ``"step"`` or both as a list)."""
        c = self.components
        inside = (c["actual"] >= c["lo"]) & (c["actual"] <= c["hi"])
        return (
            c.assign(coverage=inside)
            .groupby(by)
            .agg(coverage=("coverage", "mean"), n_points=("actual", "size"))
        )

    def scores(self) -> dict[str, float]:
        """MASE of the forecast and of the seasonal naive, their ratio, and the coverage of
        their ``1 - alpha`` intervals."""
        p = self.points
        err = (p["actual"] - p["forecast"]).abs()
        n_err = (p["actual"] - p["snaive"]).abs()
        return {
            "mase": float((err / p["scale"]).mean()),
            "mase_snaive": float((n_err / p["scale"]).mean()),
            "rel_mae": float(err.mean() / n_err.mean()),
            "coverage": float(((p["actual"] >= p["lo"]) & (p["actual"] <= p["hi"])).mean()),
            "coverage_snaive": float(
                ((p["actual"] >= p["snaive_lo"]) & (p["actual"] <= p["snaive_hi"])).mean()
            ),
            "n_points": len(p),
            "n_origins": int(p["origin"].nunique()),
        }

    def summary(self) -> str:
        """The scores as text."""
        return "Firm-wide net rate, rolling origins\n" + "\n".join(
            f"  {k:>18}: {v:.3f}" if isinstance(v, float) else f"  {k:>18}: {v}"
            for k, v in self.scores().items()
        )

    def to_frame(self) -> pd.DataFrame:
        """The point table."""
        return self.points.copy()

    def plot(self) -> Figure:
        """Actual against forecast with its intervals, one line per origin."""
        from snr_models.figures import new_figure

        fig = new_figure(figsize=(7, 3.6))
        ax = fig.subplots()
        for _, g in self.points.groupby("origin"):
            ax.fill_between(g["period"], g["lo"], g["hi"], alpha=0.08, color="C0")
            ax.plot(g["period"], g["forecast"], color="C0", lw=0.8)
        act = self.points.drop_duplicates("period").sort_values("period")
        ax.plot(act["period"], act["actual"], "k.-", lw=1, label="actual")
        ax.set_ylabel("firm-wide net rate")
        ax.legend()
        fig.tight_layout()
        return fig


def backtest_net_rate(
    data: Tables,
    horizon: int = 6,
    n_origins: int = 6,
    *,
    origins: Sequence[Any] | None = None,
    forecast_kwargs: dict[str, Any] | None = None,
) -> NetRateBacktest:
    """Forecast the firm-wide net rate from several origins and score it (see module doc).

    Parameters
    ----------
    data : Tables
        The contract's tables (the whole period; each origin sees only its past).
    horizon : int
        Months ahead.
    n_origins : int
        The latest origins leaving a full horizon (ignored when ``origins`` is given).
    origins : sequence, optional
        Last history months (``"2025-03"`` ...).
    forecast_kwargs : dict, optional
        Passed to :func:`~snr_models.forecast.forecast` (default ``branches=False``), e.g.
        ``{"n_origins": 4, "models": ("snaive", "ets")}`` for the model choice at each origin;
        its ``alpha`` (default 0.05) sets the intervals scored.
    """
    observed = net_rate(data, freq="M", n_boot=0).table.set_index("period")
    actual = observed["net_rate"]
    periods = pd.DatetimeIndex(actual.index)
    if origins is None:
        last = len(periods) - horizon - 1
        idx = list(range(max(11, last - n_origins + 1), last + 1))
    else:
        idx = [int(periods.get_loc(pd.Timestamp(pd.Period(o, "M").start_time))) for o in origins]
    if not idx:
        raise SnrInputError("backtest_net_rate: the data are too short for any origin")
    forecast_kwargs = {"branches": False, **(forecast_kwargs or {})}
    alpha = float(forecast_kwargs.get("alpha", 0.05))
    z = z_of(1 - alpha)
    rows, comp_rows = [], []
    for i in idx:
        res = forecast(data, horizon=horizon, end=periods[i], **forecast_kwargs)
        firm = res.table[(res.table["series"] == "firm") & (res.table["scenario"] == "baseline")]
        for comp, g in firm.groupby("component", sort=False):
            g = g[g["period"].isin(observed.index)]
            comp_rows.append(
                pd.DataFrame(
                    {
                        "origin": periods[i],
                        "period": g["period"].to_numpy(),
                        "step": g["period"].map(periods.get_loc).to_numpy() - i,
                        "component": comp,
                        "actual": observed.loc[g["period"], comp].to_numpy(dtype=float),
                        **{k: g[k].to_numpy() for k in ("forecast", "lo", "hi")},
                    }
                )
            )
        tab = firm[firm["component"] == "net_rate"]
        hist = actual.iloc[: i + 1].to_numpy()
        naive = SeasonalNaive(12).fit(hist)
        n_mean, n_sd = naive.predict(horizon)
        scale = mase_scale(hist, 12)
        for s, row in enumerate(tab.itertuples()):
            period = pd.Timestamp(row.period)
            if period not in actual.index:
                continue
            rows.append(
                {
                    "origin": periods[i],
                    "period": period,
                    "step": s + 1,
                    "actual": float(actual.loc[period]),
                    "forecast": row.forecast,
                    "lo": row.lo,
                    "hi": row.hi,
                    "snaive": n_mean[s],
                    "snaive_lo": n_mean[s] - z * n_sd[s],
                    "snaive_hi": n_mean[s] + z * n_sd[s],
                    "scale": scale,
                }
            )
    points = pd.DataFrame(rows)
    points = points[np.isfinite(points["actual"])].reset_index(drop=True)
    comps = pd.concat(comp_rows, ignore_index=True)
    comps = comps[np.isfinite(comps["actual"])].reset_index(drop=True)
    return NetRateBacktest(points=points, components=comps, alpha=alpha)
