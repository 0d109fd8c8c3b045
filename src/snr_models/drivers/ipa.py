"""Importance-performance map: where to act first.

Each driver is placed by its derived importance (its share of R² from a key driver analysis)
and its performance (the mean rating). The lines through the drivers' mean importance and
mean performance (or the medians, or given values) cut the map into four quadrants:

================  =================  ==============================================
importance        performance        quadrant
================  =================  ==============================================
high              low                **fix first**: it matters and it is rated poorly
high              high               **keep up**: a strength that matters
low               high               **possible overkill**: rated well, moves little
low               low                **low priority**
================  =================  ==============================================

The ranked table of actions orders the drivers by quadrant (fix first, keep up, low priority,
possible overkill) and, within a quadrant, by ``opportunity = importance share x (best rating -
mean rating) / (best - worst)``: the share of the explained variation times the room left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from snr_models.drivers.importance import DriverImportance
from snr_models.errors import SnrInputError
from snr_models.figures import new_figure

__all__ = ["ACTION_COLUMNS", "QUADRANTS", "ImportancePerformance", "importance_performance"]

#: Quadrants in the order of action.
QUADRANTS = ("fix first", "keep up", "low priority", "possible overkill")

_ACTIONS = {
    "fix first": "improve now: it moves the outcome and is rated below par",
    "keep up": "maintain: a strength that matters",
    "low priority": "monitor: rated below par but moves the outcome little",
    "possible overkill": "review the effort spent: rated well but moves the outcome little",
}
_COLOURS = {
    "fix first": "tab:red",
    "keep up": "tab:green",
    "low priority": "tab:grey",
    "possible overkill": "tab:orange",
}

#: Columns of :meth:`ImportancePerformance.actions`.
ACTION_COLUMNS = [
    "rank",
    "driver",
    "quadrant",
    "importance",
    "importance_lo",
    "importance_hi",
    "performance",
    "opportunity",
    "action",
]


@dataclass
class ImportancePerformance:
    """Drivers placed by importance and performance, with quadrants and ranked actions.

    Attributes
    ----------
    table : DataFrame
        Per driver: ``importance`` (share) with ``importance_lo``/``importance_hi``,
        ``performance``, ``quadrant``, ``opportunity``.
    importance_cut, performance_cut : float
        The lines that split the quadrants.
    scale : (float, float)
        Worst and best rating.
    """

    target: str
    table: pd.DataFrame
    importance_cut: float
    performance_cut: float
    scale: tuple[float, float]

    def actions(self) -> pd.DataFrame:
        """The ranked table of actions (:data:`ACTION_COLUMNS`), first action first."""
        t = self.table.reset_index(names="driver")
        t["_q"] = t["quadrant"].map({q: i for i, q in enumerate(QUADRANTS)})
        t = t.sort_values(["_q", "opportunity"], ascending=[True, False]).drop(columns="_q")
        t["rank"] = np.arange(1, len(t) + 1)
        t["action"] = t["quadrant"].map(_ACTIONS)
        return t[ACTION_COLUMNS].reset_index(drop=True)

    def to_frame(self) -> pd.DataFrame:
        """Same as :meth:`actions`."""
        return self.actions()

    def summary(self) -> str:
        """A printable report: the cuts and the ranked actions."""
        return "\n".join(
            [
                f"Importance-performance map of {self.target!r}: importance cut "
                f"{self.importance_cut:.3f} (share of R²), performance cut "
                f"{self.performance_cut:.2f} (mean rating, scale {self.scale[0]:g}-"
                f"{self.scale[1]:g})",
                "",
                self.actions().drop(columns="action").round(4).to_string(index=False),
            ]
        )

    def plot(self) -> Figure:
        """The map: importance (y) against performance (x), quadrant lines and labels."""
        fig = new_figure(figsize=(7.5, 6.0), layout="constrained")
        ax = fig.subplots()
        t = self.table
        for quadrant, rows in t.groupby("quadrant"):
            ax.errorbar(
                rows["performance"],
                rows["importance"],
                yerr=None
                if rows["importance_lo"].isna().any()
                else [
                    (rows["importance"] - rows["importance_lo"]).clip(lower=0),
                    (rows["importance_hi"] - rows["importance"]).clip(lower=0),
                ],
                fmt="o",
                color=_COLOURS[quadrant],
                label=quadrant,
                capsize=3,
            )
        for name, (x, y, dy) in _label_offsets(t).items():
            ax.annotate(
                name,
                (x, y),
                xytext=(4, dy),
                textcoords="offset points",
                fontsize=8,
                arrowprops=None if dy == 4 else {"arrowstyle": "-", "lw": 0.5, "color": "grey"},
            )
        ax.axhline(self.importance_cut, color="grey", lw=1, ls="--")
        ax.axvline(self.performance_cut, color="grey", lw=1, ls="--")
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        style = {"fontsize": 9, "color": "dimgrey", "alpha": 0.9}
        ax.text(x0, y1, " fix first", va="top", ha="left", **style)
        ax.text(x1, y1, "keep up ", va="top", ha="right", **style)
        ax.text(x0, y0, " low priority", va="bottom", ha="left", **style)
        ax.text(x1, y0, "possible overkill ", va="bottom", ha="right", **style)
        ax.set_xlabel("performance: mean rating")
        ax.set_ylabel("importance: share of R²")
        ax.set_title(f"Importance-performance map of {self.target}")
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
        return fig


def _label_offsets(
    table: pd.DataFrame, height_pt: float = 330.0, width: float = 0.16, line: float = 0.04
) -> dict[object, tuple[float, float, float]]:
    """Vertical offsets (points) of the map's labels so that no two overlap: a label that
    would sit on one already placed (within ``width`` across and ``line`` up, in shares of
    the data's span) moves up one line at a time."""
    x, y = table["performance"], table["importance"]
    span_x = float(x.max() - x.min()) or 1.0
    span_y = float(y.max() - y.min()) or 1.0
    placed: list[tuple[float, float]] = []
    out = {}
    for name in y.sort_values().index:
        px, py = (x[name] - x.min()) / span_x, (y[name] - y.min()) / span_y
        dy = 4.0
        while any(
            abs(px - qx) < width and abs(py + dy / height_pt - qy) < line for qx, qy in placed
        ):
            dy += 10.0
        placed.append((px, py + dy / height_pt))
        out[name] = (float(x[name]), float(y[name]), dy)
    return out


def importance_performance(
    importance: DriverImportance,
    *,
    performance: pd.Series | None = None,
    scale: tuple[float, float] = (1.0, 5.0),
    cut: Literal["mean", "median"] | tuple[float, float] = "mean",
) -> ImportancePerformance:
    """Place each driver on the importance-performance map and rank the actions.

    Parameters
    ----------
    importance : DriverImportance
        A key driver analysis (:func:`~snr_models.drivers.key_drivers`); its ``share`` (with
        interval) is the importance.
    performance : Series, optional
        Performance by driver (default: the mean rating over the analysis's rows).
    scale : (float, float)
        Worst and best possible rating (for the room left to improve).
    cut : {"mean", "median"} or (importance, performance)
        Where the quadrant lines go: the drivers' mean or median, or given values.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame(rng.integers(1, 6, size=(500, 3)), columns=["a", "b", "c"])
    >>> frame["a"] = np.minimum(frame["a"], 3)  # rated poorly
    >>> frame["y"] = 2 * frame["a"] + frame["b"] + rng.normal(size=500)
    >>> from snr_models.drivers.importance import key_drivers
    >>> ipa = importance_performance(key_drivers(frame, "y", ["a", "b", "c"], n_boot=0))
    >>> ipa.actions()["driver"].iloc[0], ipa.table.loc["a", "quadrant"]
    ('a', 'fix first')
    """
    t = importance.table
    perf = t["mean"] if performance is None else performance.reindex(t.index)
    if perf.isna().any():
        raise SnrInputError(f"no performance for {list(perf[perf.isna()].index)}")
    table = pd.DataFrame(
        {
            "importance": t["share"],
            "importance_lo": t["share_lo"],
            "importance_hi": t["share_hi"],
            "performance": perf.astype(float),
        }
    )
    if isinstance(cut, str):
        if cut not in ("mean", "median"):
            raise SnrInputError(f"cut must be 'mean', 'median' or two numbers, got {cut!r}")
        icut = float(getattr(table["importance"], cut)())
        pcut = float(getattr(table["performance"], cut)())
    else:
        icut, pcut = map(float, cut)
    high_imp = table["importance"] >= icut
    high_perf = table["performance"] >= pcut
    table["quadrant"] = np.select(
        [high_imp & ~high_perf, high_imp & high_perf, ~high_imp & high_perf],
        ["fix first", "keep up", "possible overkill"],
        default="low priority",
    )
    worst, best = scale
    room = ((best - table["performance"]) / (best - worst)).clip(lower=0)
    table["opportunity"] = table["importance"] * room
    return ImportancePerformance(
        target=importance.target,
        table=table,
        importance_cut=icut,
        performance_cut=pcut,
        scale=(float(worst), float(best)),
    )
