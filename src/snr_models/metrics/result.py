"""The result of :func:`~snr_models.metrics.net_rate`: its table, a summary and the trend figure.

The waterfall of a change is :meth:`snr_models.metrics.Decomposition.plot`. Figures are built
with :func:`snr_models.figures.new_figure` (pyplot-managed only in a notebook), so they work
in notebooks, scripts and headless jobs alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from snr_models.errors import SnrInputError
from snr_models.metrics.spec import COMPONENTS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The value columns of a net-rate table, after ``period`` and the group columns.
VALUE_COLUMNS: tuple[str, ...] = (
    *(f"{c}{suffix}" for c in COMPONENTS for suffix in ("", "_se", "_lo", "_hi")),
    "net_rate",
    "net_rate_se",
    "net_rate_lo",
    "net_rate_hi",
    "n_responses",
    "n_open",
    "n_tickets",
    "dormant_share",
)

_TITLES = {
    "net_rate": "net rate",
    "S": "S: satisfaction",
    "R": "R: retention",
    "E": "E: service efficiency",
}
_NON_GROUP = frozenset({"period", *VALUE_COLUMNS})


@dataclass(frozen=True, repr=False)
class NetRateResult:
    """The net rate and its components per period (and group), with intervals.

    Returned by :func:`~snr_models.metrics.net_rate`.

    Attributes
    ----------
    table : DataFrame
        One row per period (and group): ``period``, the group columns, then
        :data:`VALUE_COLUMNS` (each component and the composite with ``_se``, ``_lo``,
        ``_hi``; the ``n_`` denominators; ``dormant_share``). ``table.attrs`` holds the
        settings, read back by the properties ``spec`` (``MetricSpec.model_dump()``),
        ``freq`` (``"M"``, ``"Q"`` or ``"Y"``), ``by`` (the group columns), ``alpha`` (the
        intervals are ``1 - alpha`` intervals) and ``n_boot`` (bootstrap replicates of the
        composite's interval; 0: delta method).
    """

    table: pd.DataFrame

    @property
    def spec(self) -> dict[str, Any]:
        return self.table.attrs["spec"]

    @property
    def freq(self) -> str:
        return self.table.attrs["freq"]

    @property
    def by(self) -> tuple[str, ...]:
        return tuple(self.table.attrs["by"])

    @property
    def alpha(self) -> float:
        return self.table.attrs["alpha"]

    @property
    def n_boot(self) -> int:
        return self.table.attrs["n_boot"]

    @property
    def periods(self) -> pd.DatetimeIndex:
        """The reported periods (their first days), in order."""
        return pd.DatetimeIndex(self.table["period"].drop_duplicates().sort_values())

    def to_frame(self) -> pd.DataFrame:
        """The table (a copy, with the settings in ``attrs``)."""
        return self.table.copy()

    def summary(self) -> str:
        """A plain-text summary: settings, then the first and last period's values."""
        weights = " + ".join(
            f"{c['weight']:g} x {name}" for name, c in self.spec["components"].items()
        )
        level = f"{1.0 - self.alpha:.0%}"
        how = f"bootstrap, {self.n_boot} replicates" if self.n_boot else "delta method"
        periods = self.periods
        lines = [
            "Net rate",
            "=" * 72,
            f"definition   net rate = {weights}",
            f"periods      {len(periods)} ({self.freq}) from {periods[0]:%Y-%m-%d} "
            f"to {periods[-1]:%Y-%m-%d}",
            f"groups       {', '.join(self.by) if self.by else 'none (firm-wide)'}",
            f"intervals    {level} ({how})",
            "",
        ]
        shown = self.table[self.table["period"].isin([periods[0], periods[-1]])]
        columns = ["period", *self.by, "net_rate", "net_rate_lo", "net_rate_hi", *COMPONENTS]
        lines.append(
            shown[columns].to_string(
                index=False,
                float_format="{:.4f}".format,
                formatters={"period": "{:%Y-%m-%d}".format},
            )
        )
        return "\n".join(lines)

    def plot(self, *, group: str | None = None) -> Figure:
        """The trend with its band over S, R and E: see :func:`plot_net_rate`."""
        return plot_net_rate(self, group=group)

    def __repr__(self) -> str:
        groups = f", by {list(self.by)}" if self.by else ""
        return (
            f"NetRateResult({len(self.periods)} periods of freq {self.freq!r}{groups}, "
            f"{len(self.table)} rows, alpha={self.alpha:g})"
        )

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, float_format="{:.4f}".format, max_rows=60)


def net_rate_table(result: NetRateResult | pd.DataFrame) -> pd.DataFrame:
    """The table of a :class:`NetRateResult`, or the frame itself (a frame with the same
    columns, e.g. read back from ``netrate_firm.csv``)."""
    return result.table if isinstance(result, NetRateResult) else result


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


def plot_net_rate(result: NetRateResult | pd.DataFrame, *, group: str | None = None) -> Figure:
    """The net rate's trend with its confidence band, and S, R, E beneath it.

    Four axes sharing the x axis (small multiples): the net rate, then S, R and E, each line
    with its ``_lo``/``_hi`` band.

    Parameters
    ----------
    result
        A :class:`NetRateResult`, or a frame with its table's columns.
    group
        For a grouped result, the group column whose values get one line each (the result
        must then hold a single value of any other group column). ``None``: one line per
        combination of all group columns (or the single line of an ungrouped result).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=3, freq="MS")})
    >>> for col in VALUE_COLUMNS:
    ...     frame[col] = 0.8
    >>> len(plot_net_rate(frame).axes)
    4
    """
    from snr_models.figures import new_figure

    table = net_rate_table(result)
    fig = new_figure(figsize=(9.0, 9.0), layout="constrained")
    axes = fig.subplots(4, 1, sharex=True, gridspec_kw={"height_ratios": [1.6, 1, 1, 1]})
    lines = _series(table, group)
    for ax, name in zip(axes, ("net_rate", *COMPONENTS), strict=True):
        for label, rows in lines:
            x = rows["period"].to_numpy()
            (line,) = ax.plot(x, rows[name].to_numpy(dtype=float), marker="o", ms=3, label=label)
            lo = rows[f"{name}_lo"].to_numpy(dtype=float)
            hi = rows[f"{name}_hi"].to_numpy(dtype=float)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_ylabel(_TITLES[name])
        ax.grid(True, alpha=0.3)
    level = 1.0 - float(table.attrs.get("alpha", 0.05))
    axes[0].set_title(f"Net rate with {level:.0%} intervals")
    if any(label is not None for label, _ in lines):
        axes[0].legend(loc="best", fontsize="small")
    axes[-1].set_xlabel("period")
    _freeze_ticks(axes[-1].xaxis)
    return fig


def _freeze_ticks(axis: Any) -> None:
    """Fix ``axis``'s ticks and labels to those its locator and formatter give now.

    The date locator re-runs its recurrence rule for every tick update, tens of times per
    drawing of four shared axes (and again whenever the figure is saved or copied into the
    report): the same ticks, fixed once, draw the same figure twice as fast.
    """
    from matplotlib.ticker import FixedFormatter, FixedLocator

    axis.axes.get_xlim()  # the data limits, with their margins, as drawing will use them
    ticks = axis.get_major_locator()()
    labels = axis.get_major_formatter().format_ticks(ticks)
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FixedFormatter(labels))
