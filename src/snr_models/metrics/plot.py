"""Figures of the net rate: the trend with its band over the components, and the waterfall.

Built with :func:`snr_models.figures.new_figure` (pyplot-managed only in a notebook), so
they work in notebooks, scripts and headless jobs alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from snr_models.errors import SnrInputError
from snr_models.metrics.netrate import VALUE_COLUMNS
from snr_models.metrics.spec import COMPONENTS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from snr_models.metrics.decompose import Decomposition

_TITLES = {
    "net_rate": "net rate",
    "S": "S: satisfaction",
    "R": "R: retention",
    "E": "E: service efficiency",
}
_NON_GROUP = frozenset({"period", *VALUE_COLUMNS})


def _series(result: pd.DataFrame, group: str | None) -> list[tuple[str | None, pd.DataFrame]]:
    """The lines to draw: ``(label, rows sorted by period)``."""
    group_cols = [c for c in result.columns if c not in _NON_GROUP]
    if group is not None and group not in group_cols:
        raise SnrInputError(f"group={group!r} is not a group column of the result {group_cols}")
    if not group_cols:
        return [(None, result.sort_values("period"))]
    keys = [group] if group is not None else group_cols
    others = [c for c in group_cols if c not in keys]
    lines = []
    for key, rows in result.groupby(keys, dropna=False, sort=True):
        if others and (rows[others].nunique(dropna=False) > 1).any():
            raise SnrInputError(
                f"the result is also grouped by {others}: filter it to one value of those "
                f"columns, or leave group=None to draw every combination"
            )
        label = " / ".join(map(str, key if isinstance(key, tuple) else (key,)))
        lines.append((label, rows.sort_values("period")))
    return lines


def plot_net_rate(result: pd.DataFrame, *, group: str | None = None) -> Figure:
    """The net rate's trend with its confidence band, and S, R, E beneath it.

    Four axes sharing the x axis (small multiples): the net rate, then S, R and E, each line
    with its ``_lo``/``_hi`` band.

    Parameters
    ----------
    result
        A frame returned by :func:`~snr_models.metrics.net_rate`.
    group
        For a grouped result, the group column whose values get one line each (the result
        must then hold a single value of any other group column). ``None``: one line per
        combination of all group columns (or the single line of an ungrouped result).

    Examples
    --------
    >>> import pandas as pd
    >>> from snr_models.metrics.netrate import VALUE_COLUMNS
    >>> frame = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=3, freq="MS")})
    >>> for col in VALUE_COLUMNS:
    ...     frame[col] = 0.8
    >>> len(plot_net_rate(frame).axes)
    4
    """
    from snr_models.figures import new_figure

    fig = new_figure(figsize=(9.0, 9.0), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": [1.6, 1, 1, 1]})
    lines = _series(result, group)
    for ax, name in zip(axes, ("net_rate", *COMPONENTS), strict=True):
        for label, rows in lines:
            x = rows["period"].to_numpy()
            (line,) = ax.plot(x, rows[name].to_numpy(dtype=float), marker="o", ms=3, label=label)
            lo = rows[f"{name}_lo"].to_numpy(dtype=float)
            hi = rows[f"{name}_hi"].to_numpy(dtype=float)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_ylabel(_TITLES[name])
        ax.grid(True, alpha=0.3)
    level = 1.0 - float(result.attrs.get("alpha", 0.05))
    axes[0].set_title(f"Net rate with {level:.0%} intervals")
    if any(label is not None for label, _ in lines):
        axes[0].legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("period")
    return fig


def plot_decomposition(decomposition: Decomposition) -> Figure:
    """Waterfall of a :class:`~snr_models.metrics.Decomposition` (see its ``plot``)."""
    grouped = decomposition.by_group is not None
    from snr_models.figures import new_figure

    fig = new_figure(figsize=(10.0 if grouped else 6.0, 4.5), layout="constrained")
    axes = fig.subplots(1, 2 if grouped else 1, squeeze=False)[0]
    ax = axes[0]
    contrib = decomposition.by_component["contribution"].to_numpy(dtype=float)
    levels = decomposition.start_value + np.concatenate([[0.0], np.cumsum(contrib)])
    labels = ["start", *decomposition.by_component["component"], "end"]
    span = max(levels.max() - levels.min(), abs(decomposition.total), 1e-3)
    floor = levels.min() - 0.6 * span
    heights = [decomposition.start_value - floor, *contrib, decomposition.end_value - floor]
    bottoms = [floor, *levels[:-1], floor]
    colours = ["0.55"] + ["tab:green" if v >= 0 else "tab:red" for v in contrib] + ["0.35"]
    bars = ax.bar(labels, heights, bottom=bottoms, color=colours)
    texts = [
        f"{decomposition.start_value:.3f}",
        *(f"{v:+.3f}" for v in contrib),
        f"{decomposition.end_value:.3f}",
    ]
    ax.bar_label(bars, labels=texts, fontsize="small")
    ax.set_ylim(floor, levels.max() + 0.4 * span)
    ax.set_ylabel("net rate")
    ax.set_title(
        f"{decomposition.start:%Y-%m-%d} to {decomposition.end:%Y-%m-%d}: "
        f"{decomposition.total:+.4f}"
    )
    if grouped:
        parts = decomposition.by_group.groupby(
            list(decomposition.group_columns), dropna=False, sort=True
        )[["rate", "mix"]].sum()
        names = [" / ".join(map(str, k if isinstance(k, tuple) else (k,))) for k in parts.index]
        y = np.arange(len(names))
        axes[1].barh(y - 0.2, parts["rate"], height=0.4, label="rate (within group)")
        axes[1].barh(y + 0.2, parts["mix"], height=0.4, label="mix (between groups)")
        axes[1].set_yticks(y, names)
        axes[1].axvline(0.0, color="0.3", linewidth=0.8)
        axes[1].set_xlabel("net-rate points")
        axes[1].set_title("by group")
        axes[1].legend(fontsize="small")
    return fig
