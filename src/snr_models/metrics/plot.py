"""Figures of the net rate: the trend with its band over the components.

The waterfall of a change is :meth:`snr_models.metrics.Decomposition.plot`.

Built with :func:`snr_models.figures.new_figure` (pyplot-managed only in a notebook), so
they work in notebooks, scripts and headless jobs alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from snr_models.errors import SnrInputError
from snr_models.metrics.netrate import VALUE_COLUMNS
from snr_models.metrics.spec import COMPONENTS

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
