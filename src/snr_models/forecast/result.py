"""The result of :func:`snr_models.forecast.forecast`: tables, a summary and fan charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ForecastResult"]


@dataclass(frozen=True)
class ForecastResult:
    """Forecasts of the net rate and its components, per series and scenario.

    Attributes
    ----------
    table : DataFrame
        ``period, series, component, scenario, forecast, lo, hi`` (``lo``/``hi``: the ``1 -
        alpha`` interval, ``params["alpha"]``); ``series``
        is ``"firm"`` or a branch id, ``component`` one of S, R, E, net_rate.
    history : DataFrame
        ``period, series, component, value``: the observed months.
    choice : DataFrame
        ``series, component, model, sd_inflation``: the model chosen for each series and the
        factor its predictive standard deviation was widened by (the calibration, see
        :mod:`snr_models.forecast.calibration`).
    backtest : DataFrame
        ``series, component, model, mase, rel_mae, coverage, pinball, crps, n_points,
        n_origins``: every candidate's rolling-origin scores (``coverage``: of the ``1 - alpha``
        interval, the level of ``table``).
    effects : DataFrame or None
        ``intervention, component, estimate, se``: the effects the scenarios used.
    scenarios : tuple
        The scenarios (besides ``"baseline"``).
    params : dict
        Settings and timings (logged to MLflow); ``params["calibration"]`` records the interval
        calibration applied (factors per firm-wide component and for the net rate, degrees of
        freedom of the Student *t* paths, the components' error correlation).
    """

    table: pd.DataFrame
    history: pd.DataFrame
    choice: pd.DataFrame
    backtest: pd.DataFrame
    effects: pd.DataFrame | None
    scenarios: tuple = ()
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def scenario_names(self) -> list[str]:
        """``"baseline"`` then the scenarios, in order."""
        return list(dict.fromkeys(self.table["scenario"]))

    def to_frame(self) -> pd.DataFrame:
        """The forecast table (a copy)."""
        return self.table.copy()

    @property
    def _level(self) -> str:
        """The intervals' level in words (``"95%"`` for ``alpha`` 0.05)."""
        return f"{100 * (1 - self.params.get('alpha', 0.05)):g}%"

    def firm_backtest(self) -> pd.DataFrame:
        """Backtest scores of the firm-wide series, one row per component and model."""
        if self.backtest.empty:
            return self.backtest.copy()
        return self.backtest[self.backtest["series"] == "firm"].reset_index(drop=True)

    def compare(self, component: str = "net_rate", series: str = "firm") -> pd.DataFrame:
        """Scenarios side by side: per period, each scenario's forecast and interval
        (``<scenario>_lo``, ``<scenario>_hi``), and its difference from the baseline."""
        sub = self.table[(self.table["component"] == component) & (self.table["series"] == series)]
        if sub.empty:
            raise KeyError(f"no forecast of {component!r} for series {series!r}")
        wide = sub.pivot(index="period", columns="scenario", values=["forecast", "lo", "hi"])
        out = pd.DataFrame(index=wide.index)
        base = wide[("forecast", "baseline")]
        for name in self.scenario_names:
            out[f"{name}"] = wide[("forecast", name)]
            out[f"{name}_lo"] = wide[("lo", name)]
            out[f"{name}_hi"] = wide[("hi", name)]
            if name != "baseline":
                out[f"{name}_minus_baseline"] = wide[("forecast", name)] - base
        return out.reset_index()

    def summary(self) -> str:
        """Model choice, firm-wide backtest scores and the scenarios at the horizon's end."""
        lines = [
            f"Net-rate forecast: history {self.params.get('history_start')} to "
            f"{self.params.get('history_end')}, horizon {self.params.get('horizon')} months, "
            f"{self.params.get('n_branches')} branches "
            f"({'reconciled' if self.params.get('branches') else 'firm only'})",
            "",
            "Model chosen (count of series):",
        ]
        counts = self.choice.groupby(["component", "model"]).size().unstack(fill_value=0)
        lines.append(counts.to_string())
        fb = self.firm_backtest()
        if len(fb):
            lines += [
                "",
                "Firm-wide rolling-origin backtest (MASE vs in-sample seasonal naive; coverage "
                f"of the {self._level} interval):",
            ]
            cols = ["component", "model", "mase", "rel_mae", "coverage", "crps"]
            lines.append(fb[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        cal = self.params.get("calibration")
        if cal:
            factors = ", ".join(f"{c} x{f:.2f}" for c, f in cal["factors"].items())
            lines += [
                "",
                f"Interval calibration (backtest errors): sd {factors}, net rate "
                f"x{cal['net_rate_factor']:.2f}; Student t paths, {cal['dof']} degrees of freedom",
            ]
        last = self.table[
            (self.table["series"] == "firm")
            & (self.table["component"] == "net_rate")
            & (self.table["period"] == self.table["period"].max())
        ]
        lines += [
            "",
            f"Firm-wide net rate in {last['period'].iloc[0]:%Y-%m} ({self._level} interval):",
        ]
        lines.append(
            last[["scenario", "forecast", "lo", "hi"]].to_string(
                index=False, float_format=lambda v: f"{v:.4f}"
            )
        )
        notes = self.params.get("scenario_notes")
        if notes:
            lines += ["", "Roll-outs outside the forecast window (no effect):", *notes]
        if self.effects is not None and len(self.effects):
            lines += ["", f"Effects used ({self.params.get('effects_source')}):"]
            lines.append(self.effects.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        return "\n".join(lines)

    def plot(self, component: str = "net_rate", series: str = "firm", history: int = 24) -> Figure:
        """A fan chart per scenario (the ``1 - alpha`` band) on one figure, with the last
        ``history`` months observed."""
        from snr_models.figures import new_figure

        names = self.scenario_names
        fig = new_figure(figsize=(4.2 * len(names), 3.6))
        axes = fig.subplots(1, len(names), sharey=True, squeeze=False)[0]
        hist = self.history[
            (self.history["series"] == series) & (self.history["component"] == component)
        ].tail(history)
        for ax, name in zip(axes, names, strict=True):
            sub = self.table[
                (self.table["scenario"] == name)
                & (self.table["series"] == series)
                & (self.table["component"] == component)
            ]
            ax.plot(hist["period"], hist["value"], color="black", lw=1.2, label="observed")
            band = f"{self._level} interval"
            ax.fill_between(sub["period"], sub["lo"], sub["hi"], alpha=0.25, color="C0", label=band)
            ax.plot(sub["period"], sub["forecast"], color="C0", lw=1.6, label="forecast")
            ax.set_title(name)
            ax.tick_params(axis="x", labelrotation=45)
        axes[0].set_ylabel(f"{component} ({series})")
        axes[0].legend(loc="lower left", fontsize=8)
        fig.tight_layout()
        return fig

    def plot_backtest(self) -> Figure:
        """Firm-wide backtest: MASE and the ``1 - alpha`` intervals' coverage by component and
        model."""
        from snr_models.figures import new_figure

        fb = self.firm_backtest()
        fig = new_figure(figsize=(8, 3.4))
        ax1, ax2 = fig.subplots(1, 2)
        if len(fb):
            comps = list(dict.fromkeys(fb["component"]))
            models = list(dict.fromkeys(fb["model"]))
            width = 0.8 / len(models)
            for i, m in enumerate(models):
                sub = fb[fb["model"] == m].set_index("component").reindex(comps)
                x = np.arange(len(comps)) + i * width
                ax1.bar(x, sub["mase"], width, label=m)
                ax2.bar(x, sub["coverage"], width, label=m)
            for ax in (ax1, ax2):
                ax.set_xticks(np.arange(len(comps)) + 0.4 - width / 2, comps)
            ax1.axhline(1.0, color="grey", lw=0.8)
            ax2.axhline(1 - self.params.get("alpha", 0.05), color="grey", lw=0.8)
            ax1.legend(fontsize=8)
        ax1.set_title("MASE (firm)")
        ax2.set_title(f"{self._level} interval coverage (firm)")
        fig.tight_layout()
        return fig
