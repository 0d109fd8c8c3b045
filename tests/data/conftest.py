"""A tiny valid dataset, written by hand, from which every bad case of the contract is derived.

Three clients (c1, c2 in branch b1; c3 in branch b2), three months (Jan-Mar 2024), four
tickets, four survey responses, two interventions (one on branch b1, one firm-wide) and three
market months. Every frame already has the contract's normalised dtypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

NAN = np.nan


def _dates(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values))).astype("datetime64[us]")


def _text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def valid_frames() -> dict[str, pd.DataFrame]:
    """The six tables of a small world that meets every rule of the contract."""
    clients = pd.DataFrame(
        {
            "client_id": _text("c1", "c2", "c3"),
            "branch_id": _text("b1", "b1", "b2"),
            "segment": _text("retail", "high_net_worth", "institutional"),
            "open_date": _dates("2022-03-15", "2021-07-01", "2023-01-10"),
            "close_date": _dates(None, "2024-02-20", None),
            "close_reason": _text(None, "transferred", None),
            "birth_year": [1980.0, NAN, NAN],
            "risk_level": _text("C3", "C4", "C2"),
            "acquisition_channel": _text("online", "branch", "referral"),
        }
    )
    months = ["2024-01-01", "2024-02-01", "2024-03-01"]
    cm_ids = ["c1", "c1", "c1", "c2", "c2", "c3", "c3", "c3"]
    cm_months = [*months, months[0], months[1], *months]
    client_months = pd.DataFrame(
        {
            "client_id": _text(*cm_ids),
            "month": _dates(*cm_months),
            "financing_balance": [1.0e5, 1.2e5, 0.0, 5.0e5, 0.0, 2.0e6, 2.1e6, 2.2e6],
            "short_balance": [0.0, 0.0, 0.0, 1.0e4, 0.0, 3.0e5, 3.0e5, 2.5e5],
            "collateral_value": [3.0e5, 3.1e5, 2.0e5, 1.5e6, 1.0e5, 6.0e6, 6.1e6, 6.2e6],
            "maintenance_ratio_min": [2.9, 2.5, NAN, 1.6, NAN, 2.7, 2.6, 2.8],
            "margin_calls": np.array([0, 0, 0, 1, 0, 0, 0, 0], dtype="int64"),
            "forced_liquidations": np.array([0, 0, 0, 0, 0, 0, 0, 0], dtype="int64"),
            "trades": np.array([12, 8, 0, 30, 2, 55, 60, 41], dtype="int64"),
            "logins": np.array([20, 15, 3, 25, 1, 40, 38, 35], dtype="int64"),
            "financing_rate": [0.055, 0.055, 0.055, 0.050, 0.050, 0.045, 0.045, 0.045],
            "dormant": [False, False, False, False, False, False, False, False],
        }
    )
    tickets = pd.DataFrame(
        {
            "ticket_id": _text("t1", "t2", "t3", "t4"),
            "client_id": _text("c1", "c2", "c3", "c1"),
            "created_at": _dates(
                "2024-01-05 09:30", "2024-01-20 14:00", "2024-02-03 10:15", "2024-03-28 16:45"
            ),
            "first_response_at": _dates(
                "2024-01-05 10:00", "2024-01-20 15:30", "2024-02-03 10:20", None
            ),
            "resolved_at": _dates("2024-01-05 18:00", "2024-01-23 11:00", "2024-02-03 12:00", None),
            "category": _text("fund_transfer", "complaint", "margin_call", "app_issue"),
            "channel": _text("app", "phone", "ai_assistant", "chat"),
            "sla_hours": [24.0, 48.0, 4.0, 24.0],
            "escalated": [False, True, False, False],
            "reopened": [False, False, False, False],
        }
    )
    surveys = pd.DataFrame(
        {
            "response_id": _text("s1", "s2", "s3", "s4"),
            "client_id": _text("c1", "c2", "c3", "c3"),
            "responded_at": _dates(
                "2024-01-06 20:00", "2024-01-31 12:00", "2024-02-04 09:00", "2024-03-15 11:11"
            ),
            "trigger": _text("post_ticket", "periodic", "post_ticket", "periodic"),
            "nps": np.array([9, 3, 10, 7], dtype="int64"),
            "csat": np.array([5, 2, 5, 4], dtype="int64"),
            "ces": [2.0, 6.0, NAN, 3.0],
            "speed": [5.0, 2.0, 5.0, NAN],
            "accuracy": [5.0, 3.0, NAN, 4.0],
            "staff_knowledge": [4.0, 2.0, 5.0, 4.0],
            "app_experience": [5.0, NAN, 4.0, 4.0],
            "fees_rates": [3.0, 1.0, 4.0, 3.0],
            "communication": [4.0, 2.0, 5.0, NAN],
            "problem_resolution": [5.0, 1.0, 5.0, 4.0],
        }
    )
    interventions = pd.DataFrame(
        {
            "intervention_id": _text("i1", "i2"),
            "intervention": _text("staff_training", "ai_assistant"),
            "unit_type": _text("branch", "firm"),
            "unit_id": _text("b1", "*"),
            "start_date": _dates("2024-02-01", "2024-03-01"),
            "end_date": _dates(None, "2024-06-30"),
            "intensity": [0.5, 1.0],
        }
    )
    market = pd.DataFrame(
        {
            "month": _dates(*months),
            "index_return": [-0.062, 0.085, 0.009],
            "volatility": [0.21, 0.18, 0.12],
            "turnover": [8.1e11, 9.4e11, 9.9e11],
        }
    )
    return {
        "clients": clients,
        "client_months": client_months,
        "tickets": tickets,
        "surveys": surveys,
        "interventions": interventions,
        "market": market,
    }


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """A fresh copy of the valid tiny dataset (tests may modify it)."""
    return valid_frames()
