"""Decomposing a change in the net rate between two periods: by component, and by group.

By component: the net rate is linear in S, R, E, so its change is exactly
``sum(weight * change in component)``.

By group (symmetric shift-share): a firm-level component is the denominator-weighted mean of
its groups' values, ``C = sum_g w_g r_g`` with ``w_g`` the group's share of the component's
denominator (``n_responses`` for S, ``n_open`` for R, ``n_tickets`` for E) and ``r_g`` the
group's value. Then, exactly,

``w1 r1 - w0 r0 = (r1 - r0) (w0 + w1) / 2  +  (w1 - w0) (r0 + r1) / 2``
(within-group *rate* part + between-group *mix* part),

and a group absent in one period (``w = 0``) contributes pure mix (its missing rate is taken
equal to its other period's, so the rate part is 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from snr_models.errors import SnrInputError
from snr_models.metrics.periods import months_per_period, period_numbers, to_timestamp
from snr_models.metrics.result import VALUE_COLUMNS, NetRateResult, net_rate_table
from snr_models.metrics.spec import COMPONENTS, MetricSpec

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Each component's denominator column in a net-rate frame.
DENOMINATORS: dict[str, str] = {"S": "n_responses", "R": "n_open", "E": "n_tickets"}
_NON_GROUP = frozenset({"period", *VALUE_COLUMNS})


@dataclass(frozen=True)
class Decomposition:
    """The change in the firm-level net rate between two periods, taken apart.

    Attributes
    ----------
    start, end
        The two periods (their first days).
    start_value, end_value
        The firm-level net rate in each (from the groups when the result is grouped).
    by_component
        One row per component: ``component, weight, start, end, change, contribution``
        (``contribution = weight * change``), plus ``rate`` and ``mix`` when grouped.
    by_group
        ``None`` when ungrouped; else one row per group and component: the group columns,
        ``component, weight, share_start, share_end, value_start, value_end`` (share of the
        component's denominator and the group's value) and ``rate, mix, total`` in net-rate
        units (already multiplied by the component's weight).
    group_columns
        The grouping columns (empty when ungrouped).
    start_window, end_window
        The periods pooled at each end (``(start,)`` and ``(end,)`` when ``window=1``).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    start_value: float
    end_value: float
    by_component: pd.DataFrame
    by_group: pd.DataFrame | None
    group_columns: tuple[str, ...] = ()
    start_window: tuple[pd.Timestamp, ...] = ()
    end_window: tuple[pd.Timestamp, ...] = ()

    @property
    def total(self) -> float:
        """The change in the net rate, ``end_value - start_value``."""
        return self.end_value - self.start_value

    def _group_labels(self) -> pd.Series:
        assert self.by_group is not None
        parts = self.by_group[list(self.group_columns)].astype(str)
        return parts.agg(" / ".join, axis=1)

    def to_frame(self) -> pd.DataFrame:
        """A tidy frame: ``level, component, group, part, value``.

        ``level`` is ``total`` (parts ``start``, ``end``, ``change``), ``component`` (part
        ``contribution``, and ``rate`` / ``mix`` when grouped) or ``group`` (parts ``rate`` and
        ``mix``; ``group`` is the group's values joined by " / ").
        """
        rows: list[dict[str, Any]] = [
            {"level": "total", "component": "net_rate", "group": None, "part": p, "value": v}
            for p, v in (
                ("start", self.start_value),
                ("end", self.end_value),
                ("change", self.total),
            )
        ]
        parts = ["contribution"] + (["rate", "mix"] if self.by_group is not None else [])
        for rec in self.by_component.to_dict("records"):
            rows += [
                {
                    "level": "component",
                    "component": rec["component"],
                    "group": None,
                    "part": p,
                    "value": rec[p],
                }
                for p in parts
            ]
        if self.by_group is not None:
            labels = self._group_labels()
            for label, rec in zip(labels, self.by_group.to_dict("records"), strict=True):
                rows += [
                    {
                        "level": "group",
                        "component": rec["component"],
                        "group": label,
                        "part": p,
                        "value": rec[p],
                    }
                    for p in ("rate", "mix")
                ]
        frame = pd.DataFrame(rows, columns=["level", "component", "group", "part", "value"])
        return frame.astype({"value": "float64"})

    def summary(self) -> str:
        """A plain-text table of the decomposition."""
        fmt = "{:+.4f}".format
        lines = [
            "Net-rate change decomposition",
            "=" * 60,
            f"periods      {self.start:%Y-%m-%d} -> {self.end:%Y-%m-%d}",
            f"net rate     {self.start_value:.4f} -> {self.end_value:.4f}"
            f"   change {fmt(self.total)}",
        ]
        if self.by_group is not None:
            n_groups = len(self.by_group) // len(COMPONENTS)
            lines.append(f"groups       {', '.join(self.group_columns)} ({n_groups})")
        lines += ["", "By component", "-" * 60]
        lines.append(self.by_component.to_string(index=False, float_format="{:.4f}".format))
        if self.by_group is not None:
            per_group = (
                self.by_group.groupby(list(self.group_columns), dropna=False, sort=True)[
                    ["rate", "mix", "total"]
                ]
                .sum()
                .reset_index()
            )
            lines += [
                "",
                "By group (contribution to the change of the net rate, summed over components)",
                "-" * 60,
            ]
            lines.append(per_group.to_string(index=False, float_format="{:+.4f}".format))
            lines.append(
                f"rate {fmt(self.by_group['rate'].sum())} + mix {fmt(self.by_group['mix'].sum())}"
                f" = {fmt(self.by_group['total'].sum())}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Decomposition({self.start:%Y-%m-%d} -> {self.end:%Y-%m-%d}: "
            f"{self.start_value:.4f} -> {self.end_value:.4f}, change {self.total:+.4f})"
        )

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """A waterfall from the start value, through each component's contribution, to the end.

        Returns a :class:`matplotlib.figure.Figure` with one axes (two when grouped: the second
        shows each group's rate and mix parts summed over components).
        """
        return _plot_waterfall(self)


def _spec_of(result: pd.DataFrame, spec: MetricSpec | None) -> MetricSpec:
    if spec is not None:
        return spec
    raw = result.attrs.get("spec")
    if raw is None:
        raise SnrInputError(
            "the result carries no specification (frame.attrs['spec']); pass spec=..."
        )
    return MetricSpec.model_validate(raw)


def _resolve_period(result: pd.DataFrame, label: Any) -> pd.Timestamp:
    """The period of ``result`` that ``label`` names or falls in."""
    ts = to_timestamp(label)
    periods = pd.DatetimeIndex(result["period"].unique()).sort_values()
    if ts in periods:
        return pd.Timestamp(ts)
    freq = result.attrs.get("freq")
    if freq is not None:
        k = months_per_period(freq)
        nums = period_numbers(periods.to_numpy(dtype="datetime64[us]"), k)
        target = period_numbers(np.array([ts], dtype="datetime64[us]"), k)[0]
        hit = np.flatnonzero(nums == target)
        if hit.size:
            return pd.Timestamp(periods[hit[0]])
    span = f"{periods.min():%Y-%m-%d} .. {periods.max():%Y-%m-%d}" if len(periods) else "none"
    raise SnrInputError(f"period {label!r} is not in the result (periods: {span})")


def _windows(
    result: pd.DataFrame, t0: pd.Timestamp, t1: pd.Timestamp, window: int
) -> tuple[tuple[pd.Timestamp, ...], tuple[pd.Timestamp, ...]]:
    """The ``window`` periods from ``t0`` on and the ``window`` periods up to ``t1``."""
    if window < 1:
        raise SnrInputError(f"window must be at least 1 period, not {window}")
    periods = list(pd.DatetimeIndex(result["period"].unique()).sort_values())
    i0, i1 = periods.index(t0), periods.index(t1)
    if i0 + window > len(periods) or i1 - window + 1 < 0:
        raise SnrInputError(
            f"a {window}-period window at {t0:%Y-%m} or {t1:%Y-%m} leaves the result "
            f"({periods[0]:%Y-%m} .. {periods[-1]:%Y-%m})"
        )
    return tuple(periods[i0 : i0 + window]), tuple(periods[i1 - window + 1 : i1 + 1])


def _pool(rows: pd.DataFrame, group_cols: list[str], window: int) -> pd.DataFrame:
    """The rows of a window pooled per group: summed denominators, denominator-weighted values
    (one period: the rows themselves)."""
    if window == 1:
        return rows
    pooled = _aggregate(rows.assign(_window=0), [*group_cols, "_window"])
    names = {f"n_{c}": DENOMINATORS[c] for c in COMPONENTS}
    return pooled.drop(columns="_window").rename(columns=names)


def _check_firm(values: dict[str, float], weights: dict[str, float], when: pd.Timestamp) -> None:
    bad = [c for c in COMPONENTS if weights[c] > 0 and not np.isfinite(values[c])]
    if bad:
        raise SnrInputError(
            f"component(s) {bad} undefined (no observations) in period {when:%Y-%m-%d}; "
            "the change in the net rate cannot be decomposed"
        )


def _firm_value(values: dict[str, float], weights: dict[str, float]) -> float:
    return float(sum(weights[c] * values[c] for c in COMPONENTS if weights[c] > 0))


def _component_table(
    start: dict[str, float], end: dict[str, float], weights: dict[str, float]
) -> pd.DataFrame:
    rows = []
    for c in COMPONENTS:
        w = weights[c]
        change = end[c] - start[c]
        rows.append(
            {
                "component": c,
                "weight": w,
                "start": start[c],
                "end": end[c],
                "change": change,
                "contribution": w * change if w > 0 else 0.0,
            }
        )
    return pd.DataFrame(rows)


def _aggregate(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of ``by``: each component's denominator and denominator-weighted value."""
    parts = {}
    for c in COMPONENTS:
        n = rows[DENOMINATORS[c]].to_numpy(dtype=np.float64)
        parts[f"n_{c}"] = n
        parts[f"nr_{c}"] = np.where(n > 0, n * rows[c].to_numpy(dtype=np.float64), 0.0)
    frame = pd.concat([rows[by].reset_index(drop=True), pd.DataFrame(parts)], axis=1)
    summed = frame.groupby(by, dropna=False, sort=True).sum().reset_index()
    for c in COMPONENTS:
        n = summed[f"n_{c}"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            summed[c] = np.where(
                n > 0, summed[f"nr_{c}"].to_numpy() / np.where(n > 0, n, 1), np.nan
            )
    return summed[[*by, *(f"n_{c}" for c in COMPONENTS), *COMPONENTS]]


def decompose(
    result: NetRateResult | pd.DataFrame,
    start: Any,
    end: Any,
    *,
    by: str | list[str] | None = None,
    spec: MetricSpec | None = None,
    window: int = 1,
) -> Decomposition:
    """Decompose the change in the firm-level net rate between periods ``start`` and ``end``.

    Parameters
    ----------
    result
        A :class:`~snr_models.metrics.NetRateResult`, or a frame with its table's columns.
    start, end
        Period labels: ``"2024-03"``, ``"2024Q1"``, a Timestamp, a Period, or any date inside a
        period of ``result``.
    by
        Group columns of ``result`` to decompose over (default: all of them; none for an
        ungrouped result). A subset aggregates the groups first, exactly, since every
        component is a ratio of sums.
    spec
        The weights to use; by default ``result.attrs["spec"]``.
    window
        Periods pooled at each end: the ``window`` periods from ``start`` on, and the
        ``window`` periods up to ``end``. Each component is pooled as a ratio of sums (its
        denominator-weighted mean over the window's periods), the same firm-wide level as
        :func:`~snr_models.attribution.attribute_change` gives its windows.

    Returns
    -------
    Decomposition
        ``total`` equals the sum of ``by_component.contribution`` and, when grouped, the sum of
        ``by_group.rate + by_group.mix`` (to rounding, ~1e-15). When grouped, the firm-level
        values are computed from the groups (they equal the ungrouped ``net_rate`` when the
        groups partition the clients).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "period": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...     "S": [0.70, 0.80], "R": [0.90, 0.95], "E": [0.65, 0.95],
    ...     "n_responses": [10, 10], "n_open": [10, 10], "n_tickets": [10, 10]})
    >>> d = decompose(frame, "2024-01", "2024-02", spec=MetricSpec.default())
    >>> round(d.start_value, 4), round(d.end_value, 4), round(d.total, 4)
    (0.745, 0.89, 0.145)
    >>> d.by_component["contribution"].round(4).tolist()
    [0.04, 0.015, 0.09]
    """
    result = net_rate_table(result)
    spec = _spec_of(result, spec)
    weights = spec.weights
    group_cols = [c for c in result.columns if c not in _NON_GROUP]
    if by is None:
        by_cols = group_cols
    else:
        by_cols = [by] if isinstance(by, str) else list(by)
        missing = [c for c in by_cols if c not in group_cols]
        if missing:
            raise SnrInputError(f"by: {missing} are not group columns of the result {group_cols}")
    t0, t1 = _resolve_period(result, start), _resolve_period(result, end)
    win0, win1 = _windows(result, t0, t1, window)
    rows0 = _pool(result.loc[result["period"].isin(win0)], group_cols, window)
    rows1 = _pool(result.loc[result["period"].isin(win1)], group_cols, window)

    if not by_cols:
        if len(rows0) != 1 or len(rows1) != 1:
            raise SnrInputError(
                "an ungrouped decomposition needs one row per period; "
                f"got {len(rows0)} and {len(rows1)} (group the result, or pass by=)"
            )
        v0 = {c: float(rows0[c].iloc[0]) for c in COMPONENTS}
        v1 = {c: float(rows1[c].iloc[0]) for c in COMPONENTS}
        _check_firm(v0, weights, t0)
        _check_firm(v1, weights, t1)
        return Decomposition(
            start=t0,
            end=t1,
            start_value=_firm_value(v0, weights),
            end_value=_firm_value(v1, weights),
            by_component=_component_table(v0, v1, weights),
            by_group=None,
            start_window=win0,
            end_window=win1,
        )

    g0 = _aggregate(rows0, by_cols)
    g1 = _aggregate(rows1, by_cols)
    both = g0.merge(g1, on=by_cols, how="outer", suffixes=("_0", "_1"), sort=True)
    firm0: dict[str, float] = {}
    firm1: dict[str, float] = {}
    records = []
    for c in COMPONENTS:
        n0 = both[f"n_{c}_0"].fillna(0.0).to_numpy()
        n1 = both[f"n_{c}_1"].fillna(0.0).to_numpy()
        r0 = both[f"{c}_0"].to_numpy(dtype=np.float64)
        r1 = both[f"{c}_1"].to_numpy(dtype=np.float64)
        w0 = n0 / n0.sum() if n0.sum() > 0 else np.zeros_like(n0)
        w1 = n1 / n1.sum() if n1.sum() > 0 else np.zeros_like(n1)
        # a group absent in one period takes its other period's value: pure mix
        f0 = np.where(w0 > 0, r0, np.where(w1 > 0, r1, 0.0))
        f1 = np.where(w1 > 0, r1, np.where(w0 > 0, r0, 0.0))
        firm0[c] = float(np.sum(w0 * f0)) if n0.sum() > 0 else np.nan
        firm1[c] = float(np.sum(w1 * f1)) if n1.sum() > 0 else np.nan
        weight = weights[c]
        rate = weight * (f1 - f0) * (w0 + w1) / 2.0
        mix = weight * (w1 - w0) * (f0 + f1) / 2.0
        part = both[by_cols].copy()
        part["component"] = c
        part["weight"] = weight
        part["share_start"], part["share_end"] = w0, w1
        part["value_start"], part["value_end"] = r0, r1
        part["rate"], part["mix"], part["total"] = rate, mix, rate + mix
        records.append(part)
    _check_firm(firm0, weights, t0)
    _check_firm(firm1, weights, t1)
    by_group = pd.concat(records, ignore_index=True)
    by_component = _component_table(firm0, firm1, weights)
    sums = by_group.groupby("component", sort=False)[["rate", "mix"]].sum()
    by_component["rate"] = sums.loc[list(COMPONENTS), "rate"].to_numpy()
    by_component["mix"] = sums.loc[list(COMPONENTS), "mix"].to_numpy()
    return Decomposition(
        start=t0,
        end=t1,
        start_value=_firm_value(firm0, weights),
        end_value=_firm_value(firm1, weights),
        by_component=by_component,
        by_group=by_group,
        group_columns=tuple(by_cols),
        start_window=win0,
        end_window=win1,
    )


def _span(window: tuple[pd.Timestamp, ...], period: pd.Timestamp) -> str:
    """``2023-01`` or ``2023-01..2023-03`` (``period`` when no window is known)."""
    window = tuple(window) if len(window) else (period,)
    first, last = f"{window[0]:%Y-%m}", f"{window[-1]:%Y-%m}"
    return first if first == last else f"{first}..{last}"


def _plot_waterfall(decomposition: Decomposition) -> Figure:
    """Waterfall of a :class:`Decomposition` (see its ``plot``)."""
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
        f"{_span(decomposition.start_window, decomposition.start)} → "
        f"{_span(decomposition.end_window, decomposition.end)}: "
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
        axes[1].set_xlabel("contribution to the change")
        axes[1].set_title("by group")
        axes[1].legend(fontsize="small")
    return fig
