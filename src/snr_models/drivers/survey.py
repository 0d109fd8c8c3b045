"""The analysis frame of a driver study: survey responses with the client's recent service.

:func:`survey_frame` joins each survey response to its client's segment and branch and to
the client's most recent ticket created within ``window_days`` before the response, and adds
service-experience indicators (0 when there was no such ticket):

- ``recent_ticket``: the client had a ticket in the window;
- ``sla_missed``: that ticket was not resolved within its ``sla_hours`` (resolved late, or
  still open past its SLA when the client answered);
- ``escalated``, ``reopened``: the ticket's flags.

The frame keeps ``response_id`` and ``client_id`` for joins; a driver analysis uses only
its numeric columns, and nothing of it is logged row by row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from snr_models.data.contract import RATING_COLUMNS
from snr_models.data.tables import Tables

__all__ = ["EXPERIENCE_COLUMNS", "RATING_COLUMNS", "survey_frame"]

#: Service-experience indicators added by :func:`survey_frame`.
EXPERIENCE_COLUMNS: tuple[str, ...] = ("recent_ticket", "sla_missed", "escalated", "reopened")


def survey_frame(tables: Tables, *, window_days: int = 30) -> pd.DataFrame:
    """Survey responses with segment, branch and the service-experience indicators.

    Parameters
    ----------
    tables : Tables
        Loaded data (``surveys``, ``clients``, ``tickets``).
    window_days : int
        How far back a ticket counts as the client's recent experience.

    Returns
    -------
    DataFrame
        The ``surveys`` columns, ``segment``, ``branch_id`` and :data:`EXPERIENCE_COLUMNS`,
        one row per response in the order of ``surveys``.

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> frame = survey_frame(simulate(n_clients=1_000, n_branches=4, n_months=6, seed=1).tables)
    >>> set(EXPERIENCE_COLUMNS) <= set(frame.columns)
    True
    """
    surveys = tables.surveys.reset_index(drop=True)
    clients = tables.clients[["client_id", "segment", "branch_id"]]
    frame = surveys.merge(clients, on="client_id", how="left", validate="many_to_one")
    tickets = tables.tickets[
        ["client_id", "created_at", "resolved_at", "sla_hours", "escalated", "reopened"]
    ].dropna(subset=["created_at"])
    left = frame[["client_id", "responded_at"]].assign(_row=np.arange(len(frame)))
    left = left.sort_values("responded_at", kind="stable")
    right = tickets.sort_values("created_at", kind="stable")
    joined = pd.merge_asof(
        left,
        right,
        left_on="responded_at",
        right_on="created_at",
        by="client_id",
        direction="backward",
        tolerance=pd.Timedelta(days=window_days),
    ).sort_values("_row")
    has = joined["created_at"].notna().to_numpy()
    deadline = joined["created_at"] + pd.to_timedelta(joined["sla_hours"], unit="h")
    late_resolved = joined["resolved_at"].notna() & (joined["resolved_at"] > deadline)
    open_past = joined["resolved_at"].isna() & (joined["responded_at"] > deadline)
    frame["recent_ticket"] = has.astype(np.int64)
    frame["sla_missed"] = (has & (late_resolved | open_past).to_numpy()).astype(np.int64)
    frame["escalated"] = (has & joined["escalated"].fillna(False).astype(bool).to_numpy()).astype(
        np.int64
    )
    frame["reopened"] = (has & joined["reopened"].fillna(False).astype(bool).to_numpy()).astype(
        np.int64
    )
    return frame
