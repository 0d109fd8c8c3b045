"""The point-in-time feature query: one DuckDB statement, window functions over a client-month grid.

For every client open at the end of an as-of month ``t`` (``open_date`` in or before ``t``,
``close_date`` null or after ``t``) the query computes features from data dated on or before
the end of ``t`` only:

- ``tickets_<w>m`` and ``tickets_<category>_<w>m``: tickets created in the last ``w`` months
  (``w`` in 1, 3, 6, 12); ``sla_misses_<w>m``: of those, the ones known by the end of ``t``
  to have missed ``sla_hours`` (resolved late, or still open past the SLA);
  ``failed_tickets_<w>m``: escalated or reopened; ``median_resolution_hours_<w>m`` over the
  ones resolved by the end of ``t``; ``open_tickets``: created in the last 12 months and not
  resolved by the end of ``t``;
- ``margin_calls_<w>m``, ``forced_liquidations_<w>m``, ``months_since_forced_liquidation``;
- ``financing_balance``, ``log_financing_balance``, ``financing_balance_trend`` (log ratio of
  the last 3 months' mean to the 3 before), ``collateral_value``, ``short_balance``,
  ``maintenance_ratio_min`` (the month's) and ``maintenance_ratio_min_3m`` (lowest over 3
  months), ``dormant``;
- ``financing_rate``, ``rate_gap_branch_pts`` and ``rate_gap_market_pts``: the client's rate
  minus the mean rate of its branch / of the whole firm (the market reference, since the
  contract carries no market rate) in the month, in percentage points;
- ``logins_3m``, ``trades_3m`` (monthly means) and ``logins_trend``, ``trades_trend`` (last 3
  months' mean minus the 3 before);
- ``latest_csat``, ``latest_nps``, ``months_since_survey``, ``surveys_3m``;
- ``tenure_months``, ``age``, ``segment``, ``risk_level``, ``acquisition_channel``;
- ``exposure_<intervention>``: the highest intensity of a roll-out of that intervention active
  in the client's branch (or firm-wide) in month ``t``, 0 if none;
- ``index_return``, ``market_return_3m``, ``volatility``.

A window feature is missing (NULL) unless every month of its window is observed: a client too
new for the window, or with a gap in its monthly snapshots inside the window, gets an explicit
missing value rather than an undercount.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from snr_models.data.contract import TICKET_CATEGORIES
from snr_models.features.labels import label_sql

__all__ = [
    "CATEGORICAL_FEATURES",
    "ID_COLUMNS",
    "TICKET_CATEGORIES",
    "WINDOWS",
    "feature_sql",
    "month_index",
    "month_start",
]

#: Window lengths in months.
WINDOWS: tuple[int, ...] = (1, 3, 6, 12)
#: Identifier columns of a feature frame (never model inputs).
ID_COLUMNS: tuple[str, ...] = ("client_id", "branch_id", "as_of")
#: Categorical feature columns (strings); every other feature is numeric (float).
CATEGORICAL_FEATURES: tuple[str, ...] = ("segment", "risk_level", "acquisition_channel")


def month_index(expr: str) -> str:
    """SQL for the month index ``year * 12 + month - 1`` of a date or timestamp expression."""
    return f"(year({expr}) * 12 + month({expr}) - 1)"


def month_start(expr: str) -> str:
    """SQL for the first instant (a TIMESTAMP) of the month whose index is ``expr``."""
    return (
        f"CAST(make_date(CAST(({expr}) // 12 AS BIGINT), CAST(({expr}) % 12 + 1 AS BIGINT), 1)"
        " AS TIMESTAMP)"
    )


def _safe(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z_]+", "_", name).strip("_").lower() or "unnamed"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _window_frames() -> str:
    parts = [
        f"w{k} AS (PARTITION BY client_id ORDER BY mi "
        f"ROWS BETWEEN {k - 1} PRECEDING AND CURRENT ROW)"
        for k in WINDOWS
    ]
    parts.append(
        "wprev3 AS (PARTITION BY client_id ORDER BY mi ROWS BETWEEN 5 PRECEDING AND 3 PRECEDING)"
    )
    parts.append("wall AS (PARTITION BY client_id ORDER BY mi ROWS UNBOUNDED PRECEDING)")
    return "WINDOW " + ", ".join(parts)


def rates_sql(lo: int, hi: int) -> str:
    """Mean financing rate per (month, branch) and for the firm, over every client's snapshot.

    Columns ``mi``, ``branch_id``, ``branch_rate``, ``market_rate`` (the firm's mean: the
    market reference, since the contract carries no market rate).
    """
    return f"""
  SELECT mi, branch_id, avg(financing_rate) AS branch_rate,
    any_value(market_rate) AS market_rate
  FROM (
    SELECT {month_index("m.month")} AS mi, CAST(c.branch_id AS VARCHAR) AS branch_id,
      CAST(m.financing_rate AS DOUBLE) AS financing_rate,
      avg(CAST(m.financing_rate AS DOUBLE)) OVER (PARTITION BY {month_index("m.month")})
        AS market_rate
    FROM client_months m
    JOIN clients c ON CAST(c.client_id AS VARCHAR) = CAST(m.client_id AS VARCHAR)
    WHERE {month_index("m.month")} BETWEEN {lo} AND {hi}
  )
  GROUP BY 1, 2
"""


def feature_sql(
    lo: int,
    hi: int,
    first_mi: int,
    interventions: Sequence[str],
    *,
    horizon: int | None = None,
    last_mi: int | None = None,
    bucket: tuple[int, int] | None = None,
    rates_table: str | None = None,
) -> str:
    """The feature query for as-of months with indices ``lo .. hi``.

    Parameters
    ----------
    lo, hi : int
        First and last as-of month index (``year * 12 + month - 1``).
    first_mi : int
        Month index of the first month of the data (history starts there).
    interventions : sequence of str
        Intervention names that get an ``exposure_<name>`` column.
    horizon : int, optional
        Add the label columns (:mod:`snr_models.features.labels`) for this horizon.
    last_mi : int, optional
        Last month index of the data; required with ``horizon``.
    bucket : (int, int), optional
        ``(k, n)``: only the clients whose id hashes to ``k`` modulo ``n`` (a build in
        chunks; branch and firm reference rates still use every client).
    rates_table : str, optional
        A relation holding :func:`rates_sql`'s result (computed once for all chunks).

    Returns
    -------
    str
        A DuckDB ``SELECT`` over the relations ``clients``, ``client_months``, ``tickets``,
        ``surveys``, ``interventions`` and ``market``.

    Examples
    --------
    >>> sql = feature_sql(24290, 24290, 24280, ["staff_training"])
    >>> "exposure_staff_training" in sql
    True
    """
    if rates_table:
        rates_cte = (
            f"rates AS (SELECT mi, branch_id, branch_rate FROM {rates_table}),\n"
            f"firm AS (SELECT DISTINCT mi, market_rate FROM {rates_table}),"
        )
    else:
        rates_cte = f"rates_all AS ({rates_sql(lo, hi)}),\n" + (
            "rates AS (SELECT mi, branch_id, branch_rate FROM rates_all),\n"
            "firm AS (SELECT DISTINCT mi, market_rate FROM rates_all),"
        )
    where_client = (
        f"hash(CAST(client_id AS VARCHAR)) % {bucket[1]} = {bucket[0]}" if bucket else "true"
    )
    win = []
    for k in WINDOWS:
        full_snap = f"sum(has_snap) OVER w{k} = {k}"
        full_grid = f"count(*) OVER w{k} = {k}"
        win.append(f"CASE WHEN {full_grid} THEN 1 ELSE 0 END AS _hist_{k}")
        for col in ("margin_calls", "forced_liquidations"):
            win.append(f"CASE WHEN {full_snap} THEN sum({col}) OVER w{k} END AS {col}_{k}m")
    win += [
        "mi - max(CASE WHEN forced_liquidations > 0 THEN mi END) OVER wall "
        "AS months_since_forced_liquidation",
        "CASE WHEN sum(has_snap) OVER w3 = 3 THEN min(maintenance_ratio_min) OVER w3 END "
        "AS maintenance_ratio_min_3m",
        "CASE WHEN sum(has_snap) OVER w6 = 6 THEN ln(1 + avg(financing_balance) OVER w3) "
        "- ln(1 + avg(financing_balance) OVER wprev3) END AS financing_balance_trend",
        "CASE WHEN sum(has_snap) OVER w3 = 3 THEN avg(logins) OVER w3 END AS logins_3m",
        "CASE WHEN sum(has_snap) OVER w3 = 3 THEN avg(trades) OVER w3 END AS trades_3m",
        "CASE WHEN sum(has_snap) OVER w6 = 6 THEN avg(logins) OVER w3 - avg(logins) OVER wprev3 "
        "END AS logins_trend",
        "CASE WHEN sum(has_snap) OVER w6 = 6 THEN avg(trades) OVER w3 - avg(trades) OVER wprev3 "
        "END AS trades_trend",
        "last_value(csat_m IGNORE NULLS) OVER wall AS latest_csat",
        "last_value(nps_m IGNORE NULLS) OVER wall AS latest_nps",
        "mi - max(CASE WHEN n_surveys > 0 THEN mi END) OVER wall AS months_since_survey",
        "CASE WHEN count(*) OVER w3 = 3 THEN sum(coalesce(n_surveys, 0)) OVER w3 END AS surveys_3m",
    ]
    ticket_aggs = [
        "count(*) FILTER (WHERE resolved_at IS NULL OR resolved_at >= asof_end) AS open_tickets"
    ]
    ticket_cols = ["CAST(coalesce(tf.open_tickets, 0) AS DOUBLE) AS open_tickets"]
    for k in WINDOWS:
        names = {
            f"tickets_{k}m": f"k < {k}",
            f"sla_misses_{k}m": f"k < {k} AND miss_at < asof_end",
            f"failed_tickets_{k}m": f"k < {k} AND failed",
            **{
                f"tickets_{c}_{k}m": f"k < {k} AND category = {_quote(c)}"
                for c in TICKET_CATEGORIES
            },
        }
        for name, cond in names.items():
            ticket_aggs.append(f"count(*) FILTER (WHERE {cond}) AS {name}")
            ticket_cols.append(
                f"CASE WHEN w._hist_{k} = 1 THEN CAST(coalesce(tf.{name}, 0) AS DOUBLE) "
                f"END AS {name}"
            )
        ticket_aggs.append(
            f"median(resolution_hours) FILTER (WHERE k < {k} AND resolved_at < asof_end) "
            f"AS median_resolution_hours_{k}m"
        )
        ticket_cols.append(
            f"CASE WHEN w._hist_{k} = 1 THEN tf.median_resolution_hours_{k}m END "
            f"AS median_resolution_hours_{k}m"
        )
    expo_aggs = [
        f"max(CASE WHEN iv.intervention = {_quote(n)} THEN iv.intensity END) AS exposure_{_safe(n)}"
        for n in interventions
    ]
    expo_cols = [
        f"CAST(coalesce(ex.exposure_{_safe(n)}, 0) AS DOUBLE) AS exposure_{_safe(n)}"
        for n in interventions
    ]
    window_cols = [
        f"CAST(w.{c}_{k}m AS DOUBLE) AS {c}_{k}m"
        for k in WINDOWS
        for c in ("margin_calls", "forced_liquidations")
    ]
    label_part = ""
    if horizon is not None:
        if last_mi is None:
            raise ValueError("last_mi is required with horizon")
        label_part = ", " + label_sql(horizon, last_mi, close_mi="w.close_mi", mi="w.mi")
    ex_cte = (
        f"""ex AS (
  SELECT b.branch_id, m.mi, {", ".join(expo_aggs)}
  FROM (SELECT DISTINCT branch_id FROM cl) b
  CROSS JOIN (SELECT UNNEST(range({lo}, {hi} + 1)) AS mi) m
  JOIN iv ON (iv.unit_type = 'firm' OR iv.unit_id = b.branch_id)
    AND iv.start_ts < {month_start("m.mi + 1")}
    AND (iv.end_ts IS NULL OR iv.end_ts >= {month_start("m.mi")})
  GROUP BY b.branch_id, m.mi
),"""
        if interventions
        else "ex AS (SELECT NULL::VARCHAR AS branch_id, NULL::BIGINT AS mi WHERE false),"
    )
    return f"""
WITH
cl AS (
  SELECT CAST(client_id AS VARCHAR) AS client_id, CAST(branch_id AS VARCHAR) AS branch_id,
    CAST(segment AS VARCHAR) AS segment, CAST(risk_level AS VARCHAR) AS risk_level,
    CAST(acquisition_channel AS VARCHAR) AS acquisition_channel,
    CAST(birth_year AS DOUBLE) AS birth_year,
    {month_index("open_date")} AS open_mi,
    CASE WHEN close_date IS NOT NULL THEN {month_index("close_date")} END AS close_mi
  FROM clients
  WHERE {where_client}
),
grid AS (
  SELECT client_id, branch_id, segment, risk_level, acquisition_channel, birth_year, open_mi,
    close_mi,
    UNNEST(range(greatest(open_mi, {first_mi}),
                 least(coalesce(close_mi, {hi} + 1), {hi} + 1))) AS mi
  FROM cl
),
cm AS (
  SELECT CAST(client_id AS VARCHAR) AS client_id, {month_index("month")} AS mi, 1 AS has_snap,
    CAST(financing_balance AS DOUBLE) AS financing_balance,
    CAST(short_balance AS DOUBLE) AS short_balance,
    CAST(collateral_value AS DOUBLE) AS collateral_value,
    CAST(maintenance_ratio_min AS DOUBLE) AS maintenance_ratio_min,
    CAST(margin_calls AS DOUBLE) AS margin_calls,
    CAST(forced_liquidations AS DOUBLE) AS forced_liquidations,
    CAST(trades AS DOUBLE) AS trades, CAST(logins AS DOUBLE) AS logins,
    CAST(financing_rate AS DOUBLE) AS financing_rate,
    CAST(dormant AS DOUBLE) AS dormant
  FROM client_months
  WHERE {month_index("month")} BETWEEN {first_mi} AND {hi} AND {where_client}
),
sv AS (
  SELECT CAST(client_id AS VARCHAR) AS client_id, {month_index("responded_at")} AS mi,
    arg_max(CAST(csat AS DOUBLE), responded_at) AS csat_m,
    arg_max(CAST(nps AS DOUBLE), responded_at) AS nps_m,
    count(*) AS n_surveys
  FROM surveys
  WHERE {month_index("responded_at")} <= {hi} AND {where_client}
  GROUP BY 1, 2
),
g AS (
  SELECT grid.*, coalesce(cm.has_snap, 0) AS has_snap,
    cm.financing_balance, cm.short_balance, cm.collateral_value, cm.maintenance_ratio_min,
    cm.margin_calls, cm.forced_liquidations, cm.trades, cm.logins, cm.financing_rate, cm.dormant,
    sv.csat_m, sv.nps_m, sv.n_surveys
  FROM grid
  LEFT JOIN cm ON cm.client_id = grid.client_id AND cm.mi = grid.mi
  LEFT JOIN sv ON sv.client_id = grid.client_id AND sv.mi = grid.mi
),
w AS (
  SELECT client_id, branch_id, segment, risk_level, acquisition_channel, birth_year, open_mi,
    close_mi, mi, has_snap, financing_balance, short_balance, collateral_value,
    maintenance_ratio_min, financing_rate, dormant,
    count(*) OVER w12 - sum(has_snap) OVER w12 AS _missing_12m,
    {", ".join(win)}
  FROM g
  {_window_frames()}
),
tk AS (
  SELECT CAST(client_id AS VARCHAR) AS client_id, {month_index("created_at")} AS cmi,
    CAST(category AS VARCHAR) AS category,
    CAST(resolved_at AS TIMESTAMP) AS resolved_at,
    CASE WHEN resolved_at IS NULL
      OR resolved_at > created_at + to_microseconds(CAST(sla_hours * 3600000000 AS BIGINT))
      THEN CAST(created_at AS TIMESTAMP)
        + to_microseconds(CAST(sla_hours * 3600000000 AS BIGINT)) END AS miss_at,
    date_diff('second', CAST(created_at AS TIMESTAMP), CAST(resolved_at AS TIMESTAMP))
      / 3600.0 AS resolution_hours,
    (escalated OR reopened) AS failed
  FROM tickets
  WHERE {month_index("created_at")} BETWEEN {lo} - 11 AND {hi} AND {where_client}
),
tf AS (
  SELECT client_id, mi, {", ".join(ticket_aggs)}
  FROM (
    SELECT tk.*, tk.cmi + r.k AS mi, r.k AS k, {month_start("tk.cmi + r.k + 1")} AS asof_end
    FROM tk CROSS JOIN (SELECT UNNEST(range(0, 12)) AS k) r
    WHERE tk.cmi + r.k BETWEEN {lo} AND {hi}
  )
  GROUP BY client_id, mi
),
iv AS (
  SELECT CAST(intervention AS VARCHAR) AS intervention, CAST(unit_type AS VARCHAR) AS unit_type,
    CAST(unit_id AS VARCHAR) AS unit_id, CAST(start_date AS TIMESTAMP) AS start_ts,
    CAST(end_date AS TIMESTAMP) AS end_ts, CAST(intensity AS DOUBLE) AS intensity
  FROM interventions
),
{ex_cte}
{rates_cte}
mk AS (
  SELECT {month_index("month")} AS mi, CAST(index_return AS DOUBLE) AS index_return,
    CAST(volatility AS DOUBLE) AS volatility,
    CASE WHEN count(*) OVER (ORDER BY {month_index("month")} RANGE BETWEEN 2 PRECEDING
      AND CURRENT ROW) = 3 THEN sum(CAST(index_return AS DOUBLE)) OVER (ORDER BY
      {month_index("month")} RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) END AS market_return_3m
  FROM market
)
SELECT w.client_id, w.branch_id, CAST({month_start("w.mi")} AS TIMESTAMP) AS as_of,
  w.segment, w.risk_level, w.acquisition_channel,
  CAST(w.mi - w.open_mi + 1 AS DOUBLE) AS tenure_months,
  CAST(w.mi // 12 AS DOUBLE) - w.birth_year AS age,
  {", ".join(ticket_cols)},
  {", ".join(window_cols)},
  CAST(w.months_since_forced_liquidation AS DOUBLE) AS months_since_forced_liquidation,
  w.financing_balance, ln(1 + w.financing_balance) AS log_financing_balance,
  w.financing_balance_trend, w.collateral_value, w.short_balance,
  w.maintenance_ratio_min, w.maintenance_ratio_min_3m, w.dormant,
  w.financing_rate,
  (w.financing_rate - rates.branch_rate) * 100 AS rate_gap_branch_pts,
  (w.financing_rate - firm.market_rate) * 100 AS rate_gap_market_pts,
  w.logins_3m, w.trades_3m, w.logins_trend, w.trades_trend,
  w.latest_csat, w.latest_nps, CAST(w.months_since_survey AS DOUBLE) AS months_since_survey,
  CAST(w.surveys_3m AS DOUBLE) AS surveys_3m,
  {", ".join(expo_cols) + "," if expo_cols else ""}
  mk.index_return, mk.market_return_3m, mk.volatility,
  CAST(w.has_snap AS INTEGER) AS _has_snapshot, CAST(w._missing_12m AS INTEGER) AS _missing_12m
  {label_part}
FROM w
LEFT JOIN tf ON tf.client_id = w.client_id AND tf.mi = w.mi
LEFT JOIN ex ON ex.branch_id = w.branch_id AND ex.mi = w.mi
LEFT JOIN rates ON rates.branch_id = w.branch_id AND rates.mi = w.mi
LEFT JOIN firm ON firm.mi = w.mi
LEFT JOIN mk ON mk.mi = w.mi
WHERE w.mi BETWEEN {lo} AND {hi}
"""
