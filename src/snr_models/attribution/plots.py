"""Figures shared by the attribution results: coefficient plots, gaps and waterfalls.

matplotlib is imported inside each function (no backend is chosen at import).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def plot_coefficients(
    table: pd.DataFrame,
    *,
    title: str = "",
    xlabel: str = "",
    vline: float | None = None,
    alpha: float = 0.05,
) -> Any:
    """Estimates with pointwise intervals (``lo``/``hi``) and, when present, uniform bands
    (``uniform_lo``/``uniform_hi``) against ``label``; returns a matplotlib Figure. The legend
    gives the intervals' level, ``1 - alpha``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"label": [-1, 0], "estimate": [0.0, 1.0], "lo": [-1, 0], "hi": [1, 2]})
    >>> fig = plot_coefficients(t, title="demo")
    >>> len(fig.axes)
    1
    """
    from snr_models.figures import new_figure

    level = f"{100 * (1 - alpha):g}%"
    fig = new_figure(figsize=(7, 4))
    ax = fig.add_subplot()
    x = table["label"].to_numpy()
    try:
        xs = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        xs = pd.to_datetime(x)
    est = table["estimate"].to_numpy(dtype=float)
    if {"uniform_lo", "uniform_hi"} <= set(table.columns):
        ax.fill_between(
            xs,
            table["uniform_lo"],
            table["uniform_hi"],
            alpha=0.15,
            color="C0",
            label=f"{level} uniform band",
        )
    ax.errorbar(
        xs,
        est,
        yerr=[est - table["lo"].to_numpy(dtype=float), table["hi"].to_numpy(dtype=float) - est],
        fmt="o",
        color="C0",
        capsize=3,
        label=f"estimate, {level} pointwise interval",
    )
    ax.axhline(0, color="grey", lw=0.8)
    if vline is not None:
        ax.axvline(vline, color="grey", lw=0.8, ls="--")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("effect")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def plot_gap(
    index: Any,
    actual: np.ndarray,
    counterfactual: np.ndarray,
    *,
    lo: np.ndarray | None = None,
    hi: np.ndarray | None = None,
    treated_at: Any = None,
    title: str = "",
) -> Any:
    """Actual versus counterfactual series (top) and their gap (bottom); returns a Figure."""
    from snr_models.figures import new_figure

    fig = new_figure(figsize=(7, 5))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(index, actual, color="k", label="actual")
    ax1.plot(index, counterfactual, color="C1", ls="--", label="counterfactual")
    gap = np.asarray(actual, dtype=float) - np.asarray(counterfactual, dtype=float)
    ax2.plot(index, gap, color="C0")
    if lo is not None and hi is not None:
        ax1.fill_between(index, lo, hi, color="C1", alpha=0.2)
        ax2.fill_between(index, actual - hi, actual - lo, color="C0", alpha=0.2)
    for ax in (ax1, ax2):
        if treated_at is not None:
            ax.axvline(treated_at, color="grey", ls="--", lw=0.8)
    ax2.axhline(0, color="grey", lw=0.8)
    ax1.legend(loc="best", fontsize=8)
    ax1.set_title(title)
    ax2.set_ylabel("gap")
    fig.tight_layout()
    return fig


def plot_waterfall(table: pd.DataFrame, *, title: str = "") -> Any:
    """A waterfall: ``start`` bar, one floating bar per step with its interval, ``end`` bar.

    ``table`` has ``step, value, lo, hi`` with the first row the start level and the last the
    end level; the rows between are changes.
    """
    from snr_models.figures import new_figure

    fig = new_figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    level = float(table["value"].iloc[0])
    names = table["step"].astype(str).tolist()
    ax.bar(0, level, color="grey")
    for i in range(1, len(table) - 1):
        v = float(table["value"].iloc[i])
        color = "C2" if v >= 0 else "C3"
        ax.bar(i, v, bottom=level, color=color)
        lo, hi = table["lo"].iloc[i], table["hi"].iloc[i]
        if np.isfinite(lo) and np.isfinite(hi):
            ax.errorbar(i, level + v, yerr=[[v - lo], [hi - v]], color="k", capsize=3)
        level += v
    ax.bar(len(table) - 1, float(table["value"].iloc[-1]), color="grey")
    ax.set_xticks(range(len(table)), names, rotation=30, ha="right")
    lows = float(np.nanmin(np.r_[table["value"].iloc[[0, -1]].to_numpy(), level]))
    bottom = lows - 0.1 * abs(lows) if lows > 0.3 else None
    ax.set_ylim(bottom)
    # room above the highest bar or interval (fixing the bottom stops autoscaling the top)
    y0, y1 = ax.get_ylim()
    tops = [y1, *(p.get_y() + p.get_height() for p in ax.patches)]
    tops += [line.get_ydata().max() for line in ax.lines if len(line.get_ydata())]
    top = float(np.nanmax(tops))
    ax.set_ylim(y0, top + 0.05 * (top - y0))
    ax.set_title(title)
    ax.set_ylabel("net rate")
    fig.tight_layout()
    return fig
