"""The contract's tables from the factual scenario (``outreach`` when campaigns ran)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snr_models.data.tables import Tables
from snr_models.simulate.campaigns import outreach_table
from snr_models.simulate.config import ATTRIBUTES, CATEGORIES, CHANNELS, SEGMENTS
from snr_models.simulate.outcomes import PERIODIC, Outcome
from snr_models.simulate.rollout import FIRM, Rollout
from snr_models.simulate.world import ACQUISITION_CHANNELS, NEVER, RISK_LEVELS, World

__all__ = ["build_tables"]


def _text(values: np.ndarray, codes: np.ndarray | None = None) -> pd.Series:
    """A pandas ``str`` column, from labels (and codes into them)."""
    labels = np.asarray(values, dtype=object)
    return pd.Series(labels if codes is None else labels[codes], dtype="str")


def _time(us: np.ndarray, *, null_from: int | None = None) -> pd.Series:
    """A ``datetime64[us]`` column; values >= ``null_from`` (or NEVER) become NaT."""
    us = np.asarray(us, dtype=np.int64)
    out = us.view("datetime64[us]").copy()
    null = us == NEVER if null_from is None else us >= null_from
    out[null] = np.datetime64("NaT")
    return pd.Series(out, dtype="datetime64[us]")


def build_tables(world: World, rollout: Rollout, out: Outcome) -> Tables:
    """Assemble the factual tables (types as in :class:`~snr_models.data.tables.Tables`)."""
    cal = world.calendar
    end = cal.end_us
    client_ids = np.asarray(world.client_ids, dtype=object)

    closed = out.close_us != NEVER
    reason = np.where(out.transferred, "transferred", "closed").astype(object)
    reason[~closed] = None
    clients = pd.DataFrame(
        {
            "client_id": _text(client_ids),
            "branch_id": _text(world.branch_ids, world.branch),
            "segment": _text(np.array(SEGMENTS, dtype=object), world.segment),
            "open_date": _time(world.open_us),
            "close_date": _time(out.close_us),
            "close_reason": pd.Series(reason, dtype="str"),
            "birth_year": world.birth_year.astype(np.float64),
            "risk_level": _text(np.array(RISK_LEVELS, dtype=object), world.risk_level),
            "acquisition_channel": _text(
                np.array(ACQUISITION_CHANNELS, dtype=object), world.acquisition_channel
            ),
        }
    )

    # month-end snapshots of clients open at the month's end
    month_end = cal.bounds_us[1:]
    open_at_end = (world.open_us[:, None] < month_end[None, :]) & (
        out.close_us[:, None] >= month_end[None, :]
    )
    ci, mi = np.nonzero(open_at_end)
    client_months = pd.DataFrame(
        {
            "client_id": _text(client_ids, ci),
            "month": _time(cal.bounds_us[:-1][mi]),
            "financing_balance": world.financing_balance[ci, mi],
            "short_balance": world.short_balance[ci, mi],
            "collateral_value": world.collateral_value[ci, mi],
            "maintenance_ratio_min": world.maintenance_ratio_min[ci, mi],
            "margin_calls": world.margin_calls[ci, mi].astype(np.int64),
            "forced_liquidations": world.forced_liquidations[ci, mi].astype(np.int64),
            "trades": world.trades[ci, mi].astype(np.int64),
            "logins": world.logins[ci, mi].astype(np.int64),
            "financing_rate": world.financing_rate[ci, mi].astype(np.float64),
            "dormant": world.dormant[ci, mi].astype(bool),
        }
    )

    t = np.flatnonzero(out.ticket_exists)  # already in order of creation
    tickets = pd.DataFrame(
        {
            "ticket_id": pd.Series([f"T{i + 1:09d}" for i in range(len(t))], dtype="str"),
            "client_id": _text(client_ids, world.t_client[t]),
            "created_at": _time(world.t_created_us[t]),
            "first_response_at": _time(out.first_response_us[t], null_from=end),
            "resolved_at": _time(out.resolved_us[t], null_from=end),
            "category": _text(np.array(CATEGORIES, dtype=object), world.t_category[t]),
            "channel": _text(np.array(CHANNELS, dtype=object), out.channel[t]),
            "sla_hours": out.sla_hours[t].astype(np.float64),
            "escalated": out.escalated[t].astype(bool),
            "reopened": out.reopened[t].astype(bool),
        }
    )

    r = np.flatnonzero(out.r_exists)
    r = r[np.lexsort((out.r_client[r], out.r_responded_us[r]))]
    surveys = pd.DataFrame(
        {
            "response_id": pd.Series([f"R{i + 1:09d}" for i in range(len(r))], dtype="str"),
            "client_id": _text(client_ids, out.r_client[r]),
            "responded_at": _time(out.r_responded_us[r]),
            "trigger": pd.Series(
                np.where(out.r_trigger[r] == PERIODIC, "periodic", "post_ticket"), dtype="str"
            ),
            "nps": out.nps[r].astype(np.int64),
            "csat": out.csat[r].astype(np.int64),
            "ces": out.ces[r].astype(np.float64),
            **{a: out.ratings[r, j].astype(np.float64) for j, a in enumerate(ATTRIBUTES)},
        }
    )

    unit_id = np.where(
        rollout.unit == FIRM,
        "*",
        np.asarray(world.branch_ids, dtype=object)[np.maximum(rollout.unit, 0)],
    )
    interventions = pd.DataFrame(
        {
            "intervention_id": pd.Series(
                [f"I{i + 1:03d}" for i in range(len(rollout.unit))], dtype="str"
            ),
            "intervention": _text(rollout.intervention),
            "unit_type": pd.Series(np.where(rollout.unit == FIRM, "firm", "branch"), dtype="str"),
            "unit_id": pd.Series(unit_id, dtype="str"),
            "start_date": _time(rollout.start_us),
            "end_date": _time(rollout.end_us),
            "intensity": rollout.intensity.astype(np.float64),
        }
    )

    market = pd.DataFrame(
        {
            "month": _time(cal.bounds_us[:-1]),
            "index_return": world.index_return.astype(np.float64),
            "volatility": world.volatility.astype(np.float64),
            "turnover": world.turnover.astype(np.float64),
        }
    )
    return Tables(
        clients=clients,
        client_months=client_months,
        tickets=tickets,
        surveys=surveys,
        interventions=interventions,
        market=market,
        outreach=None if out.campaigns is None else outreach_table(world, out.campaigns),
    )
