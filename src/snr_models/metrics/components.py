"""Per-client sufficient statistics of S, R and E, and the component estimates with analytic SEs.

Every component is a ratio of sums over clients, so a client x period matrix of seven counts
(:data:`STATS`) is all that both the point estimates and the client-level bootstrap need:

======== ===================================================================================
stat     meaning (client ``i``, period ``t`` = ``[first day, next first day)``)
======== ===================================================================================
n_resp   survey responses with ``responded_at`` in ``t``
n_pos    ... of which positive (csat 4-5; nps 9-10 for the ``nps`` definition)
n_neg    ... of which negative (csat 1-2; nps 0-6 for ``nps``; 0 for ``csat_top2``)
at_risk  1 if open on ``t``'s first day: ``open_date <= first day`` and ``close_date`` null or
         ``>= first day``
exit     1 if at risk and ``close_date`` falls in ``t``
n_counted tickets created in ``t`` that are met or overdue at ``t``'s exclusive end ``T``
n_met    tickets created in ``t`` resolved before ``T`` and within ``sla_hours`` of creation
======== ===================================================================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy import sparse

from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.metrics.periods import Window, period_numbers, period_start
from snr_models.metrics.spec import COMPONENTS, MetricSpec

logger = logging.getLogger(__name__)

#: The sufficient statistics, in matrix column-block order.
STATS: tuple[str, ...] = ("n_resp", "n_pos", "n_neg", "at_risk", "exit", "n_counted", "n_met")
_I = {name: i for i, name in enumerate(STATS)}


@dataclass(frozen=True)
class ClientPeriodStats:
    """The client x period sufficient statistics of one computation.

    Attributes
    ----------
    matrix
        ``(n_clients, len(STATS) * n_periods)`` sparse CSR counts; column
        ``s * n_periods + t`` holds statistic ``STATS[s]`` in period ``t``. Rows follow the
        ``clients`` table.
    group_codes
        ``(n_clients,)`` index of each client's group (0 when ungrouped).
    groups
        One row per group code with the group columns (no columns when ungrouped).
    window
        The periods covered.
    dormant_rows, dormant_true
        ``(n_groups, n_periods)`` counts of ``client_months`` rows, and of those dormant.
    """

    matrix: sparse.csr_array
    group_codes: np.ndarray
    groups: pd.DataFrame
    window: Window
    dormant_rows: np.ndarray
    dormant_true: np.ndarray

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.groups)

    def totals(self) -> np.ndarray:
        """Sum over each group's clients: ``(n_groups, len(STATS), n_periods)`` float64."""
        n = self.matrix.shape[0]
        indicator = sparse.csr_array(
            (np.ones(n), (self.group_codes, np.arange(n))), shape=(self.n_groups, n)
        )
        summed = np.asarray((indicator @ self.matrix).todense(), dtype=np.float64)
        return summed.reshape(self.n_groups, len(STATS), self.window.n)


# --------------------------------------------------------------------------------------------
# building the statistics from the tables
# --------------------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, table: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SnrInputError(f"{table}: missing required column(s) {missing}")


def _client_positions(client_index: pd.Index, ids: pd.Series, table: str) -> np.ndarray:
    pos = client_index.get_indexer(ids)
    unknown = int((pos < 0).sum())
    if unknown:
        raise SnrInputError(
            f"{table}.client_id: {unknown} row(s) refer to clients absent from the clients table"
        )
    return pos


def _no_nulls(values: pd.Series, table: str, column: str) -> None:
    n_null = int(values.isna().sum())
    if n_null:
        raise SnrInputError(f"{table}.{column}: {n_null} null value(s); the contract requires one")


def group_codes(clients: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Each client's group index and the table of groups (sorted; a null key is its own group)."""
    if not by:
        return np.zeros(len(clients), dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(1))
    grouped = clients.groupby(by, dropna=False, sort=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    keys = grouped.size().reset_index()[by].reset_index(drop=True)
    return codes, keys


def _survey_stats(
    surveys: pd.DataFrame, pos: np.ndarray, window: Window, definition: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    score_col = "nps" if definition == "nps" else "csat"
    period = window.index(surveys["responded_at"])
    keep = period >= 0
    score = surveys[score_col].to_numpy(dtype=np.float64)[keep]
    if definition == "nps":
        positive, negative = score >= 9, score <= 6
    elif definition == "net_satisfaction":
        positive, negative = score >= 4, score <= 2
    else:  # csat_top2
        positive, negative = score >= 4, np.zeros_like(score, dtype=bool)
    return pos[keep], period[keep], np.ones(keep.sum()), positive, negative


def _retention_stats(
    clients: pd.DataFrame, window: Window
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(client, period) pairs at risk, and (client, period) pairs of exits."""
    k = window.k
    opened = clients["open_date"].to_numpy(dtype="datetime64[us]")
    closed = clients["close_date"].to_numpy(dtype="datetime64[us]")
    # first period whose first day is on or after open_date
    open_num = period_numbers(opened, k)
    first_at_risk = open_num + (opened > period_start(open_num, k)).astype(np.int64)
    # last period whose first day is on or before close_date (the period containing it)
    has_close = ~np.isnat(closed)
    last_num = np.where(has_close, period_numbers(closed, k), window.first + window.n - 1)
    lo = np.maximum(first_at_risk - window.first, 0)
    hi = np.minimum(last_num - window.first, window.n - 1)
    length = np.maximum(hi - lo + 1, 0)
    clients_at_risk = np.repeat(np.arange(len(clients)), length)
    offsets = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    periods_at_risk = np.repeat(lo, length) + offsets
    exit_period = last_num - window.first
    exits = has_close & (last_num >= first_at_risk) & (exit_period >= 0) & (exit_period < window.n)
    return clients_at_risk, periods_at_risk, np.flatnonzero(exits), exit_period[exits]


def _ticket_stats(
    tickets: pd.DataFrame, pos: np.ndarray, window: Window, targets: dict[str, float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    period = window.index(tickets["created_at"])
    keep = period >= 0
    sub = tickets.loc[keep]
    sla = sub["sla_hours"].astype("float64")
    if targets:
        sla = sub["category"].map(targets).astype("float64").fillna(sla)
    _no_nulls(sla, "tickets", "sla_hours")
    end = pd.Series(window.starts[period[keep] + 1], index=sub.index)
    created = sub["created_at"]
    resolved = sub["resolved_at"]
    deadline = created + pd.to_timedelta(sla, unit="h")
    met = (resolved.notna() & (resolved < end) & (resolved <= deadline)).to_numpy()
    counted = met | (deadline < end).to_numpy()
    return pos[keep], period[keep], counted, met


def client_period_stats(
    data: Tables, spec: MetricSpec, window: Window, by: list[str]
) -> ClientPeriodStats:
    """Build the client x period sufficient statistics of ``data`` over ``window``.

    Events (responses, tickets) outside the window are not part of any of its periods. Every
    survey, ticket and ``client_months`` row must belong to a client of ``clients``; a
    missing required column, a null where the contract forbids one, or an unknown client
    raises :class:`~snr_models.errors.SnrInputError`.
    """
    clients = data.clients
    _require(clients, "clients", ["client_id", "open_date", "close_date", *by])
    _require(data.surveys, "surveys", ["client_id", "responded_at", "csat", "nps"])
    _require(
        data.tickets,
        "tickets",
        ["client_id", "created_at", "resolved_at", "sla_hours", "category"],
    )
    _require(data.client_months, "client_months", ["client_id", "month", "dormant"])
    if clients["client_id"].duplicated().any():
        raise SnrInputError("clients.client_id: duplicate client identifiers")
    _no_nulls(clients["open_date"], "clients", "open_date")
    _no_nulls(data.surveys["responded_at"], "surveys", "responded_at")
    _no_nulls(data.tickets["created_at"], "tickets", "created_at")
    s_definition = spec.components.S.definition
    _no_nulls(data.surveys["nps" if s_definition == "nps" else "csat"], "surveys", "score")

    index = pd.Index(clients["client_id"])
    codes, groups = group_codes(clients, by)
    n_clients, n_periods = len(clients), window.n
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []

    def add(stat: str, who: np.ndarray, when: np.ndarray, value: np.ndarray) -> None:
        rows.append(np.asarray(who, dtype=np.int64))
        cols.append(_I[stat] * n_periods + np.asarray(when, dtype=np.int64))
        vals.append(np.asarray(value, dtype=np.float64))

    who, when, ones, positive, negative = _survey_stats(
        data.surveys,
        _client_positions(index, data.surveys["client_id"], "surveys"),
        window,
        s_definition,
    )
    add("n_resp", who, when, ones)
    add("n_pos", who[positive], when[positive], ones[positive])
    add("n_neg", who[negative], when[negative], ones[negative])

    risk_who, risk_when, exit_who, exit_when = _retention_stats(clients, window)
    add("at_risk", risk_who, risk_when, np.ones(len(risk_who)))
    add("exit", exit_who, exit_when, np.ones(len(exit_who)))

    who, when, counted, met = _ticket_stats(
        data.tickets,
        _client_positions(index, data.tickets["client_id"], "tickets"),
        window,
        spec.components.E.sla_hours_by_category,
    )
    add("n_counted", who[counted], when[counted], np.ones(int(counted.sum())))
    add("n_met", who[met], when[met], np.ones(int(met.sum())))

    matrix = sparse.coo_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_clients, len(STATS) * n_periods),
    ).tocsr()  # sums the duplicate (client, column) entries

    months = data.client_months
    month_pos = _client_positions(index, months["client_id"], "client_months")
    month_period = window.index(months["month"])
    keep = month_period >= 0
    cell = codes[month_pos[keep]] * n_periods + month_period[keep]
    size = len(groups) * n_periods
    dormant_rows = np.bincount(cell, minlength=size).reshape(len(groups), n_periods)
    dormant = months["dormant"].to_numpy(dtype=bool)[keep]
    dormant_true = np.bincount(cell, weights=dormant, minlength=size).reshape(
        len(groups), n_periods
    )
    logger.debug(
        "sufficient statistics: %d clients x %d periods, %d non-zero cells, %d groups",
        n_clients,
        n_periods,
        matrix.nnz,
        len(groups),
    )
    return ClientPeriodStats(
        matrix=matrix,
        group_codes=codes,
        groups=groups,
        window=window,
        dormant_rows=dormant_rows,
        dormant_true=dormant_true,
    )


# --------------------------------------------------------------------------------------------
# estimates
# --------------------------------------------------------------------------------------------


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def component_values(totals: np.ndarray, spec: MetricSpec, k: int) -> dict[str, np.ndarray]:
    """S, R and E from summed statistics ``totals`` of shape ``(..., len(STATS), n_periods)``.

    A component whose denominator is 0 is NaN.

    Examples
    --------
    >>> t = np.zeros((len(STATS), 1))
    >>> t[:, 0] = [10, 7, 1, 100, 1, 4, 3]   # n_resp, n_pos, n_neg, at_risk, exit, counted, met
    >>> {c: round(float(v[0]), 4) for c, v in component_values(t, MetricSpec.default(), 1).items()}
    {'S': 0.6, 'R': 0.88, 'E': 0.75}
    """
    n_resp = totals[..., _I["n_resp"], :]
    pos = _ratio(totals[..., _I["n_pos"], :], n_resp)
    if spec.components.S.definition == "csat_top2":
        s_value = pos
    else:
        s_value = pos - _ratio(totals[..., _I["n_neg"], :], n_resp)
    q = _ratio(totals[..., _I["exit"], :], totals[..., _I["at_risk"], :])
    return {
        "S": s_value,
        "R": 1.0 - (12.0 / k) * q,
        "E": _ratio(totals[..., _I["n_met"], :], totals[..., _I["n_counted"], :]),
    }


def composite(values: dict[str, np.ndarray], spec: MetricSpec) -> np.ndarray:
    """``sum(weight * component)`` over the components with a positive weight.

    A component of weight 0 does not make the composite NaN when it is undefined.
    """
    total: np.ndarray | float = 0.0
    for c, w in spec.weights.items():
        if w > 0:
            total = total + w * values[c]
    return np.asarray(total, dtype=np.float64)


def z_value(alpha: float) -> float:
    """The two-sided normal quantile ``z_{1 - alpha/2}``."""
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def _net_score_se(p: np.ndarray, d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """SE of a net score ``p - d``: ``sqrt([p + d - (p - d)^2] / n)``."""
    var = np.clip(p + d - (p - d) ** 2, 0.0, None)
    return np.sqrt(_ratio(var, n))


def _binomial_se(p: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.sqrt(_ratio(np.clip(p * (1.0 - p), 0.0, None), n))


def nps_adjusted_wald(
    n_pos: np.ndarray, n_neg: np.ndarray, n: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """The adjusted-Wald interval of Rocks (2016) for a net score.

    Add 3/4 of a promoter and 3/4 of a detractor (so 3/2 of a passive, ``n + 3`` in all),
    then take the Wald interval of the adjusted score with the net-score variance.

    Rocks, B. (2016). Interval estimation for the "net promoter score". *The American
    Statistician* 70(4), 365-372.

    Examples
    --------
    >>> lo, hi = nps_adjusted_wald(np.array([5.0]), np.array([2.0]), np.array([10.0]), 0.05)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (-0.1905, 0.652)
    """
    n_adj = n + 3.0
    p = (n_pos + 0.75) / n_adj
    d = (n_neg + 0.75) / n_adj
    se = _net_score_se(p, d, n_adj)
    centre = p - d
    z = z_value(alpha)
    undefined = n <= 0
    lo = np.where(undefined, np.nan, centre - z * se)
    hi = np.where(undefined, np.nan, centre + z * se)
    return lo, hi


def component_estimates(
    totals: np.ndarray, spec: MetricSpec, k: int, alpha: float
) -> dict[str, np.ndarray]:
    """Each component with its analytic SE and ``1 - alpha`` interval.

    Returns arrays ``C, C_se, C_lo, C_hi`` for ``C`` in S, R, E. Intervals are
    ``estimate +/- z * SE`` (not clipped), except S under ``nps``: Rocks' adjusted-Wald
    interval, centred on the adjusted score.

    SEs: S net score ``sqrt([p + d - (p - d)^2] / n)``; S top-two box and E binomial
    ``sqrt(p (1 - p) / n)``; R ``(12 / k) sqrt(q (1 - q) / n)`` with ``q`` = exits / at risk.
    """
    values = component_values(totals, spec, k)
    z = z_value(alpha)
    n_resp = totals[..., _I["n_resp"], :]
    n_pos, n_neg = totals[..., _I["n_pos"], :], totals[..., _I["n_neg"], :]
    p = _ratio(n_pos, n_resp)
    if spec.components.S.definition == "csat_top2":
        s_se = _binomial_se(p, n_resp)
    else:
        s_se = _net_score_se(p, _ratio(n_neg, n_resp), n_resp)
    at_risk = totals[..., _I["at_risk"], :]
    q = _ratio(totals[..., _I["exit"], :], at_risk)
    counted = totals[..., _I["n_counted"], :]
    ses = {
        "S": s_se,
        "R": (12.0 / k) * _binomial_se(q, at_risk),
        "E": _binomial_se(values["E"], counted),
    }
    out: dict[str, np.ndarray] = {}
    for c in COMPONENTS:
        out[c] = values[c]
        out[f"{c}_se"] = ses[c]
        out[f"{c}_lo"] = values[c] - z * ses[c]
        out[f"{c}_hi"] = values[c] + z * ses[c]
    if spec.components.S.definition == "nps":
        out["S_lo"], out["S_hi"] = nps_adjusted_wald(n_pos, n_neg, n_resp, alpha)
    return out


def stat(totals: np.ndarray, name: str) -> np.ndarray:
    """One statistic's slice ``(..., n_periods)`` of ``totals``."""
    return totals[..., _I[name], :]
