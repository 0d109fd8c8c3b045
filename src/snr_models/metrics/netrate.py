"""``net_rate()``: the net rate and its components, per period and group, with intervals."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.metrics.bootstrap import bootstrap_composite
from snr_models.metrics.components import (
    client_period_stats,
    component_estimates,
    composite,
    stat,
    z_value,
)
from snr_models.metrics.periods import Window, months_per_period, to_timestamp
from snr_models.metrics.result import VALUE_COLUMNS, NetRateResult
from snr_models.metrics.spec import MetricSpec, resolve_spec

logger = logging.getLogger(__name__)

_RESERVED = frozenset({"period", *VALUE_COLUMNS})


def normalise_by(by: str | list[str] | tuple[str, ...] | None, clients: pd.DataFrame) -> list[str]:
    """``by`` as a list of ``clients`` columns (empty when ungrouped), validated."""
    if by is None:
        return []
    cols = [by] if isinstance(by, str) else list(by)
    if len(set(cols)) != len(cols):
        raise SnrInputError(f"by: repeated column in {cols}")
    missing = [c for c in cols if c not in clients.columns]
    if missing:
        raise SnrInputError(
            f"by: {missing} not columns of clients (available: {list(clients.columns)})"
        )
    clash = [c for c in cols if c in _RESERVED or c == "client_id"]
    if clash:
        raise SnrInputError(f"by: cannot group by {clash}")
    return cols


def _extract_end(data: Tables) -> pd.Timestamp | None:
    """The last month of ``client_months``: no client is observed after it."""
    months = data.client_months["month"].dropna()
    return None if months.empty else pd.Timestamp(months.max())


def _data_window(data: Tables, k: int, start: Any, end: Any) -> Window:
    """The requested window; an open bound is the first / last period holding any data.

    An open end stops at the extract's last month (of ``client_months``): events dated later
    belong to no reported period (a warning says how many).
    """
    if start is None or end is None:
        stamps = pd.concat(
            [
                data.surveys["responded_at"],
                data.tickets["created_at"],
                data.client_months["month"],
            ],
            ignore_index=True,
        ).dropna()
        if stamps.empty:
            raise SnrInputError(
                "no surveys, tickets or client_months to define the periods; pass start and end"
            )
    first = to_timestamp(start) if start is not None else stamps.min()
    last = to_timestamp(end) if end is not None else stamps.max()
    extract_end = _extract_end(data)
    if end is None and extract_end is not None:
        after = int((stamps >= extract_end + pd.offsets.MonthBegin(1)).sum())
        if after:
            message = (
                f"net rate: {after} survey(s)/ticket(s) dated after the extract's last month "
                f"({extract_end:%Y-%m}) belong to no reported period"
            )
            logger.warning(message)
            warnings.warn(message, UserWarning, stacklevel=3)
        last = min(last, extract_end + pd.offsets.MonthEnd(0))
    return Window.between(first, last, k)


def _unobserved_retention(est: dict[str, np.ndarray], data: Tables, window: Window) -> None:
    """R is unknown (NaN, with a warning) in periods that start after the extract's last
    month: nobody was observed, so no exit could be, and R = 1 would be a false certainty."""
    extract_end = _extract_end(data)
    if extract_end is None:
        return
    beyond = window.starts[: window.n] > np.datetime64(extract_end, "us")
    if not beyond.any():
        return
    for name in ("R", "R_se", "R_lo", "R_hi"):
        est[name][..., beyond] = np.nan
    message = (
        f"net rate: {int(beyond.sum())} period(s) start after the extract's last month "
        f"({extract_end:%Y-%m}); their retention and net rate are unknown (NaN)"
    )
    logger.warning(message)
    warnings.warn(message, UserWarning, stacklevel=3)


def net_rate(
    data: Tables,
    spec: MetricSpec | str | Path | None = None,
    freq: str = "M",
    by: str | list[str] | None = None,
    *,
    alpha: float = 0.05,
    n_boot: int = 1000,
    random_state: int | np.random.Generator | None = 0,
    start: Any = None,
    end: Any = None,
) -> NetRateResult:
    """The net rate and its components S, R, E per period (and group), with ``1 - alpha`` intervals.

    Parameters
    ----------
    data
        The contract's tables.
    spec
        A :class:`MetricSpec`, the path of a YAML specification, or ``None`` for the default
        (DESIGN.md: S net satisfaction 0.4, R retention 0.3, E SLA efficiency 0.3).
    freq
        ``"M"``, ``"Q"`` or ``"Y"``: calendar month, quarter or year; a period is
        ``[first day, next period's first day)``.
    by
        ``None``, or one or more columns of ``clients`` (e.g. ``"branch_id"``, ``"segment"``).
        Responses and tickets belong to their client's group. Every group present in
        ``clients`` gets a row for every period; a null key is a group of its own.
    alpha
        Sets every interval: components ``estimate +/- z SE`` (NPS: Rocks' adjusted Wald),
        composite by the bootstrap percentile interval.
    n_boot
        Client-level bootstrap replicates for the composite (resampled within groups, jointly
        across periods; see :mod:`snr_models.metrics.bootstrap`). ``0``: no bootstrap; the
        composite SE is then the delta method assuming independent components,
        ``sqrt(sum(weight^2 SE^2))``, with a normal interval.
    random_state
        Seed (or Generator) of the bootstrap.
    start, end
        First and last period to report (labels such as ``"2024-03"``, ``"2024Q1"`` or
        Timestamps; the periods containing them). By default from the first to the last period
        holding a survey response, a ticket or a ``client_months`` row.

    Returns
    -------
    NetRateResult
        ``summary()``, ``plot()`` and ``to_frame()``; its ``table`` has one row per period
        (and group), sorted by period then group: ``period`` (the period's first day,
        ``datetime64[us]``), the group columns, then ``S, S_se, S_lo, S_hi``, the same for
        ``R`` and ``E``, ``net_rate, net_rate_se, net_rate_lo, net_rate_hi``,
        ``n_responses`` (responses used for S), ``n_open`` (clients at risk, R's denominator),
        ``n_tickets`` (tickets in E's denominator) and ``dormant_share`` (share of the period's
        ``client_months`` rows with ``dormant``). A component with an empty denominator is NaN,
        and so is the composite (unless that component's weight is 0).
        ``table.attrs`` holds the settings (read by the result's properties): ``spec``
        (``spec.model_dump()``), ``freq``, ``by``, ``alpha`` and ``n_boot``.

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> tables = simulate(n_clients=2_000, n_branches=4, n_months=6, seed=1, truth=False).tables
    >>> result = net_rate(tables, freq="Q", by="segment", n_boot=200)
    >>> frame = result.to_frame()
    >>> frame[["period", "segment", "net_rate", "net_rate_lo", "net_rate_hi"]].shape
    (6, 5)
    >>> bool((frame["net_rate_lo"] <= frame["net_rate_hi"]).all())
    True
    """
    spec = resolve_spec(spec)
    k = months_per_period(freq)
    if not (isinstance(alpha, float | int) and 0.0 < alpha < 1.0):
        raise SnrInputError(f"alpha must be in (0, 1), got {alpha!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 0:
        raise SnrInputError(f"n_boot must be an integer >= 0, got {n_boot!r}")
    by_cols = normalise_by(by, data.clients)
    window = _data_window(data, k, start, end)
    logger.info(
        "net rate: %d periods of %d month(s), by=%s, n_boot=%d", window.n, k, by_cols, n_boot
    )

    stats = client_period_stats(data, spec, window, by_cols)
    totals = stats.totals()
    est = component_estimates(totals, spec, k, alpha)
    _unobserved_retention(est, data, window)
    net = composite(est, spec)
    if n_boot > 0:
        net_se, net_lo, net_hi = bootstrap_composite(
            stats, spec, k, n_boot=int(n_boot), alpha=float(alpha), random_state=random_state
        )
    else:
        variance = sum(w**2 * est[f"{c}_se"] ** 2 for c, w in spec.weights.items() if w > 0)
        net_se = np.sqrt(np.asarray(variance, dtype=np.float64))
        z = z_value(alpha)
        net_lo, net_hi = net - z * net_se, net + z * net_se
    undefined = np.isnan(net)
    for arr in (net_se, net_lo, net_hi):
        arr[undefined] = np.nan

    with np.errstate(divide="ignore", invalid="ignore"):
        dormant = np.where(
            stats.dormant_rows > 0, stats.dormant_true / np.maximum(stats.dormant_rows, 1), np.nan
        )
    columns: dict[str, np.ndarray] = {name: est[name] for name in VALUE_COLUMNS[:12]}
    columns.update(
        net_rate=net,
        net_rate_se=net_se,
        net_rate_lo=net_lo,
        net_rate_hi=net_hi,
        n_responses=stat(totals, "n_resp"),
        n_open=stat(totals, "at_risk"),
        n_tickets=stat(totals, "n_counted"),
        dormant_share=dormant,
    )
    n_groups, n_periods = stats.n_groups, window.n
    frame = pd.DataFrame(
        {"period": np.repeat(window.starts[:n_periods], n_groups).astype("datetime64[us]")}
    )
    for col in by_cols:
        frame[col] = np.tile(stats.groups[col].to_numpy(), n_periods)
        frame[col] = frame[col].astype(data.clients[col].dtype)
    for name in VALUE_COLUMNS:
        values = np.asarray(columns[name]).T.reshape(-1)  # (groups, periods) -> period-major
        if name.startswith("n_"):
            values = np.rint(values).astype(np.int64)
        frame[name] = values
    frame.attrs.update(
        spec=spec.model_dump(), freq=freq, by=by_cols, alpha=float(alpha), n_boot=int(n_boot)
    )
    return NetRateResult(frame)
