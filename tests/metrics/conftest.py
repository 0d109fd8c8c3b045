"""Builders of small hand-made and random ``Tables`` for the metrics tests.

``hand_tables()`` is the worked example whose numbers ``test_netrate.py`` computes by hand
(the arithmetic is written in the tests). ``random_tables()`` is a larger random world for
the bootstrap tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from snr_models.data import Tables
from snr_models.data.vocabulary import RATING_ATTRIBUTES

_ATTRIBUTES = RATING_ATTRIBUTES


def _ts(values: Any) -> pd.Series:
    return pd.Series(
        pd.to_datetime(pd.Series(values, dtype="object"), format="mixed"), dtype="datetime64[us]"
    )


def build_tables(
    clients: Sequence[tuple],
    surveys: Sequence[tuple] = (),
    tickets: Sequence[tuple] = (),
    client_months: Sequence[tuple] = (),
) -> Tables:
    """Tables with the contract's normalised dtypes from compact tuples.

    clients: ``(client_id, branch_id, segment, open_date, close_date or None)``
    surveys: ``(client_id, responded_at, csat, nps)``
    tickets: ``(client_id, created_at, sla_hours, resolved_at or None[, category])``
    client_months: ``(client_id, month, dormant)``
    """
    c = pd.DataFrame(list(clients), columns=["client_id", "branch_id", "segment", "open", "close"])
    clients_df = pd.DataFrame(
        {
            "client_id": c["client_id"].astype("str"),
            "branch_id": c["branch_id"].astype("str"),
            "segment": c["segment"].astype("str"),
            "open_date": _ts(c["open"]),
            "close_date": _ts(c["close"]),
            "close_reason": pd.Series(np.where(c["close"].notna(), "closed", None), dtype="str"),
            "birth_year": np.full(len(c), 1980.0),
            "risk_level": pd.Series(["C3"] * len(c), dtype="str"),
            "acquisition_channel": pd.Series(["branch"] * len(c), dtype="str"),
        }
    )
    s = pd.DataFrame(list(surveys), columns=["client_id", "responded_at", "csat", "nps"])
    surveys_df = pd.DataFrame(
        {
            "response_id": pd.Series([f"r{i}" for i in range(len(s))], dtype="str"),
            "client_id": s["client_id"].astype("str"),
            "responded_at": _ts(s["responded_at"]),
            "trigger": pd.Series(["periodic"] * len(s), dtype="str"),
            "nps": s["nps"].astype("int64"),
            "csat": s["csat"].astype("int64"),
            "ces": np.full(len(s), np.nan),
            **{a: np.full(len(s), np.nan) for a in _ATTRIBUTES},
        }
    )
    rows = [tuple(t) + ("other",) * (5 - len(t)) for t in tickets]
    t = pd.DataFrame(rows, columns=["client_id", "created_at", "sla_hours", "resolved", "category"])
    tickets_df = pd.DataFrame(
        {
            "ticket_id": pd.Series([f"t{i}" for i in range(len(t))], dtype="str"),
            "client_id": t["client_id"].astype("str"),
            "created_at": _ts(t["created_at"]),
            "first_response_at": _ts(t["created_at"]),
            "resolved_at": _ts(t["resolved"]),
            "category": t["category"].astype("str"),
            "channel": pd.Series(["app"] * len(t), dtype="str"),
            "sla_hours": t["sla_hours"].astype("float64"),
            "escalated": np.zeros(len(t), dtype=bool),
            "reopened": np.zeros(len(t), dtype=bool),
        }
    )
    m = pd.DataFrame(list(client_months), columns=["client_id", "month", "dormant"])
    months_df = pd.DataFrame(
        {
            "client_id": m["client_id"].astype("str"),
            "month": _ts(m["month"]),
            **{
                col: np.zeros(len(m))
                for col in ("financing_balance", "short_balance", "collateral_value")
            },
            "maintenance_ratio_min": np.full(len(m), np.nan),
            **{
                col: np.zeros(len(m), dtype=np.int64)
                for col in ("margin_calls", "forced_liquidations", "trades", "logins")
            },
            "financing_rate": np.full(len(m), 0.06),
            "dormant": m["dormant"].astype(bool),
        }
    )
    interventions = pd.DataFrame(
        {
            "intervention_id": pd.Series([], dtype="str"),
            "intervention": pd.Series([], dtype="str"),
            "unit_type": pd.Series([], dtype="str"),
            "unit_id": pd.Series([], dtype="str"),
            "start_date": pd.Series([], dtype="datetime64[us]"),
            "end_date": pd.Series([], dtype="datetime64[us]"),
            "intensity": pd.Series([], dtype="float64"),
        }
    )
    market = pd.DataFrame(
        {
            "month": pd.Series([], dtype="datetime64[us]"),
            "index_return": pd.Series([], dtype="float64"),
            "volatility": pd.Series([], dtype="float64"),
            "turnover": pd.Series([], dtype="float64"),
        }
    )
    return Tables(
        clients=clients_df,
        client_months=months_df,
        tickets=tickets_df,
        surveys=surveys_df,
        interventions=interventions,
        market=market,
    )


def hand_tables() -> Tables:
    """The hand example: 12 clients in 2 branches, Jan-Mar 2024.

    Clients (branch B1 retail / B2 hnw):
      c1 B1 open 2020-01-01, never closed
      c2 B1 open 2023-06-15, closed 2024-01-20          -> at risk Jan, exits Jan
      c3 B2 open 2024-01-01, closed 2024-02-01          -> at risk Jan and Feb, exits Feb
      c4 B2 open 2024-01-10, never closed               -> at risk from Feb
      c5 B1 open 2022-01-01, closed 2023-12-31          -> never at risk in 2024
      q1..q4 B1, q5..q7 B2 open 2019-01-01, never closed (quiet clients)
    """
    quiet = [
        (
            f"q{i}",
            "B1" if i <= 4 else "B2",
            "retail" if i <= 4 else "high_net_worth",
            "2019-01-01",
            None,
        )
        for i in range(1, 8)
    ]
    clients = [
        ("c1", "B1", "retail", "2020-01-01", None),
        ("c2", "B1", "retail", "2023-06-15", "2024-01-20"),
        ("c3", "B2", "high_net_worth", "2024-01-01", "2024-02-01"),
        ("c4", "B2", "high_net_worth", "2024-01-10", None),
        ("c5", "B1", "retail", "2022-01-01", "2023-12-31"),
        *quiet,
    ]
    surveys = [  # (client, responded_at, csat, nps)
        ("c1", "2024-01-03 10:00", 5, 10),
        ("c1", "2024-01-25 11:00", 4, 9),
        ("c2", "2024-01-12 09:30", 2, 3),
        ("c3", "2024-01-31 23:59", 3, 7),
        ("c4", "2024-01-05 08:00", 1, 0),
        ("q1", "2024-01-18 15:00", 5, 8),
        ("c1", "2024-02-02 10:00", 4, 6),
        ("c4", "2024-02-14 10:00", 5, 10),
        ("q2", "2024-02-20 10:00", 3, 7),
        ("q3", "2024-02-29 23:00", 4, 9),
        ("c1", "2024-03-02 10:00", 1, 2),
    ]
    tickets = [  # (client, created_at, sla_hours, resolved_at[, category])
        ("c1", "2024-01-05 10:00", 24.0, "2024-01-05 20:00"),  # t1 met
        ("c1", "2024-01-10 09:00", 24.0, "2024-01-12 09:00"),  # t2 resolved late
        ("c2", "2024-01-15 00:00", 48.0, None),  # t3 open past SLA at period end
        ("c3", "2024-01-31 12:00", 24.0, None),  # t4 open within SLA at period end
        ("c3", "2024-01-31 20:00", 8.0, "2024-02-01 02:00"),  # t5 resolved after period end
        ("q1", "2024-01-20 08:00", 4.0, "2024-01-20 12:00"),  # t6 resolved exactly at deadline
        ("q2", "2024-01-30 00:00", 24.0, "2024-02-03 00:00"),  # t7 late, after period end
        ("c4", "2024-02-10 00:00", 24.0, "2024-02-10 05:00"),  # t8 met
        ("c1", "2024-02-20 00:00", 72.0, "2024-02-21 00:00", "complaint"),  # t9 met (24h)
        ("q3", "2024-02-28 00:00", 12.0, None),  # t10 open past SLA at period end
    ]
    months = []
    for cid in ["c1", "c2", "c3", *(f"q{i}" for i in range(1, 8))]:
        months.append((cid, "2024-01-01", cid in {"q5", "q6"}))
    for cid in ["c1", "c3", "c4", *(f"q{i}" for i in range(1, 8))]:
        months.append((cid, "2024-02-01", cid == "q5"))
    for cid in ["c1", "c4", *(f"q{i}" for i in range(1, 8))]:  # the extract ends in March
        months.append((cid, "2024-03-01", False))
    return build_tables(clients, surveys, tickets, months)


def random_tables(
    n_clients: int = 4000, n_months: int = 6, seed: int = 0, responses_per_client: int = 1
) -> Tables:
    """A random world: each client answers ``responses_per_client`` surveys and files about one
    ticket per month; 15% open during the window, about 1/8 close in it (some on a month's
    first day, the edge case of the at-risk rule). Branches B0..B3, two segments."""
    rng = np.random.default_rng(seed)
    first = np.datetime64("2024-01-01", "M")
    months = first + np.arange(n_months)
    ids = np.array([f"k{i:06d}" for i in range(n_clients)])
    month_starts = months.astype("datetime64[us]")
    close_month = rng.integers(0, n_months * 8, size=n_clients)
    close_day = np.where(rng.random(n_clients) < 0.2, 0, rng.integers(1, 28, size=n_clients))
    closes = np.where(
        close_month < n_months,
        (months[np.minimum(close_month, n_months - 1)].astype("datetime64[D]") + close_day).astype(
            "datetime64[us]"
        ),
        np.datetime64("NaT", "us"),
    )
    # 85% opened long ago; the others during the window, a third of them on a month's 1st
    late = rng.random(n_clients) < 0.15
    opens = np.where(
        late,
        (
            months[rng.integers(0, n_months, size=n_clients)].astype("datetime64[D]")
            + np.where(rng.random(n_clients) < 0.33, 0, rng.integers(1, 28, size=n_clients))
        ),
        np.datetime64("2020-01-01", "D"),
    ).astype("datetime64[us]")
    closes = np.where(closes < opens, np.datetime64("NaT", "us"), closes)
    clients = [
        (
            cid,
            f"B{i % 4}",
            "retail" if i % 3 else "high_net_worth",
            pd.Timestamp(o),
            None if np.isnat(c) else pd.Timestamp(c),
        )
        for i, (cid, o, c) in enumerate(zip(ids, opens, closes, strict=True))
    ]
    n_resp = n_clients * responses_per_client
    who = np.repeat(np.arange(n_clients), responses_per_client)
    when = month_starts[rng.integers(0, n_months, size=n_resp)] + rng.integers(
        0, 27 * 86_400, size=n_resp
    ).astype("timedelta64[s]")
    csat = rng.choice([1, 2, 3, 4, 5], p=[0.08, 0.1, 0.17, 0.35, 0.3], size=n_resp)
    nps = rng.integers(0, 11, size=n_resp)
    surveys = list(zip(ids[who], pd.to_datetime(when), csat, nps, strict=True))
    n_tickets = n_clients * n_months
    tw = rng.integers(0, n_clients, size=n_tickets)
    created = month_starts[rng.integers(0, n_months, size=n_tickets)] + rng.integers(
        0, 28 * 86_400, size=n_tickets
    ).astype("timedelta64[s]")
    took = rng.exponential(20.0, size=n_tickets) * 3_600
    resolved = created + took.astype("timedelta64[s]")
    resolved = np.where(rng.random(n_tickets) < 0.1, np.datetime64("NaT"), resolved)
    tickets = [
        (ids[w], pd.Timestamp(c), 24.0, None if np.isnat(r) else pd.Timestamp(r))
        for w, c, r in zip(tw, created, resolved, strict=True)
    ]
    client_months = [
        (ids[i], pd.Timestamp(m), bool(rng.random() < 0.1))
        for m in month_starts
        for i in range(0, n_clients, 50)
    ]
    return build_tables(clients, surveys, tickets, client_months)


@pytest.fixture
def hand() -> Tables:
    """The hand-computed example (see :func:`hand_tables`)."""
    return hand_tables()


@pytest.fixture
def make_tables() -> Callable[..., Tables]:
    """The :func:`build_tables` builder, for tests that write their own small example."""
    return build_tables


@pytest.fixture
def make_random_tables() -> Callable[..., Tables]:
    """The :func:`random_tables` builder."""
    return random_tables
