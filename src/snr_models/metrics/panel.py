"""Branch x month panels of S, R, E and the net rate, with each intervention's timing.

:func:`build_panel` computes the components per branch and month with
:func:`snr_models.metrics.net_rate` and joins the ``interventions`` table: for every
intervention a column ``<name>`` holding its intensity in the branch-month (0 before it
reaches the branch; a firm-wide row, ``unit_id == "*"``, reaches every branch) and
``<name>__first``, the first month it reached the branch (NaT if never). An intervention is
absorbing from its ``start_date``'s month on: a course with an ``end_date`` keeps acting after
it ends (the effect may fade; the event-time coefficients show how).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.metrics.netrate import net_rate
from snr_models.metrics.spec import MetricSpec

COMPONENTS: tuple[str, ...] = ("S", "R", "E", "net_rate")
DENOMINATORS: dict[str, str] = {"S": "n_responses", "R": "n_open", "E": "n_tickets"}


@dataclass(frozen=True)
class BranchPanel:
    """A branch x month panel and what was rolled out where.

    Attributes
    ----------
    frame : DataFrame
        ``branch_id, period`` (month start), ``S, R, E, net_rate`` (NaN where a component has
        no denominator), ``n_responses, n_open, n_tickets``, then per intervention ``<name>``
        (intensity, 0 when absent) and ``<name>__first`` (first month, NaT when never).
    interventions : tuple of str
        Intervention names, in order of first roll-out.
    firm_start : dict
        For an intervention with a firm-wide row, the month it reached every branch.
    weights : dict
        The metric's component weights ``{"S": .4, "R": .3, "E": .3}``.
    """

    frame: pd.DataFrame
    interventions: tuple[str, ...]
    firm_start: dict[str, pd.Timestamp]
    weights: dict[str, float]

    @property
    def periods(self) -> pd.DatetimeIndex:
        """The months of the panel."""
        return pd.DatetimeIndex(np.sort(self.frame["period"].unique()))

    def cohort_table(self) -> pd.DataFrame:
        """Branches per intervention and first month (the roll-out's cohorts)."""
        rows = []
        one = self.frame.drop_duplicates("branch_id")
        for name in self.interventions:
            counts = one[f"{name}__first"].value_counts(dropna=False).sort_index()
            for first, n in counts.items():
                rows.append({"intervention": name, "first_month": first, "n_branches": int(n)})
        return pd.DataFrame(rows)


def intervention_timing(
    interventions: pd.DataFrame, branches: np.ndarray, periods: pd.DatetimeIndex
) -> tuple[dict[str, np.ndarray], dict[str, pd.Timestamp]]:
    """Intensity arrays ``branches x periods`` per intervention, and firm-wide start months.

    Examples
    --------
    >>> import pandas as pd, numpy as np
    >>> iv = pd.DataFrame({"intervention": ["x", "x"], "unit_type": ["branch", "firm"],
    ...     "unit_id": ["B1", "*"], "start_date": pd.to_datetime(["2024-02-10", "2024-03-01"]),
    ...     "intensity": [0.5, 1.0]})
    >>> months = pd.date_range("2024-01-01", periods=3, freq="MS")
    >>> dose, firm = intervention_timing(iv, np.array(["B1", "B2"]), months)
    >>> dose["x"].tolist(), firm["x"].strftime("%Y-%m")
    ([[0.0, 0.5, 1.0], [0.0, 0.0, 1.0]], '2024-03')
    """
    pos = {b: i for i, b in enumerate(branches)}
    month = interventions["start_date"].to_numpy().astype("datetime64[M]")
    pmonths = periods.to_numpy().astype("datetime64[M]")
    dose: dict[str, np.ndarray] = {}
    firm: dict[str, pd.Timestamp] = {}
    order = np.argsort(month, kind="stable")
    for idx in order:
        row = interventions.iloc[idx]
        name = str(row["intervention"])
        arr = dose.setdefault(name, np.zeros((len(branches), len(periods))))
        on = pmonths >= month[idx]
        if row["unit_id"] == "*" or row["unit_type"] == "firm":
            rows = slice(None)
            firm.setdefault(name, pd.Timestamp(month[idx]))
        elif row["unit_id"] in pos:
            rows = pos[row["unit_id"]]
        else:
            continue
        arr[rows, on] = np.maximum(arr[rows, on], 0) * 0 + float(row["intensity"])
    return dose, firm


def build_panel(
    data: Tables,
    *,
    spec: MetricSpec | None = None,
    start: Any = None,
    end: Any = None,
) -> BranchPanel:
    """The branch x month panel of components with intervention timing (see module doc).

    Parameters
    ----------
    data : Tables
        The contract's tables.
    spec : MetricSpec, optional
        Metric specification (default: DESIGN.md's).
    start, end : optional
        First and last month (default: all months with data).

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> tables = simulate(n_clients=1_000, n_branches=4, n_months=6, seed=1, truth=False).tables
    >>> panel = build_panel(tables)
    >>> panel.frame.shape[0] == 4 * 6, "process_reengineering" in panel.interventions
    (True, True)
    """
    nr = net_rate(data, spec, freq="M", by="branch_id", n_boot=0, start=start, end=end).table
    if nr.empty:
        raise SnrInputError("attribution: no branch-months with data")
    raw = nr.attrs.get("spec") or {}
    weights = {k: float(v["weight"]) for k, v in raw.get("components", {}).items()}
    if set(weights) != set(DENOMINATORS):
        weights = {"S": 0.4, "R": 0.3, "E": 0.3}
    cols = ["branch_id", "period", *COMPONENTS, *DENOMINATORS.values()]
    frame = nr[cols].copy()
    frame = frame.loc[frame["branch_id"].notna()].sort_values(["branch_id", "period"])
    branches = np.sort(frame["branch_id"].unique())
    periods = pd.DatetimeIndex(np.sort(frame["period"].unique()))
    full = pd.MultiIndex.from_product([branches, periods], names=["branch_id", "period"])
    frame = frame.set_index(["branch_id", "period"]).reindex(full).reset_index()
    for d in DENOMINATORS.values():
        frame[d] = frame[d].fillna(0).astype("int64")
    dose, firm = intervention_timing(data.interventions, branches, periods)
    names = sorted(dose, key=lambda n: (np.argmax(dose[n].any(axis=0)), n))
    bpos = np.searchsorted(branches, frame["branch_id"].to_numpy())
    tpos = periods.get_indexer(pd.DatetimeIndex(frame["period"]))
    for name in names:
        arr = dose[name]
        frame[name] = arr[bpos, tpos]
        treated = arr > 0
        first_idx = np.where(treated.any(axis=1), treated.argmax(axis=1), -1)
        first = np.where(
            first_idx >= 0, periods.to_numpy()[np.maximum(first_idx, 0)], np.datetime64("NaT")
        ).astype("datetime64[us]")
        frame[f"{name}__first"] = first[bpos]
    return BranchPanel(
        frame=frame, interventions=tuple(names), firm_start=firm, weights=dict(weights)
    )


def with_placebo_rollout(
    tables: Tables, branches: Any, starts: Any, *, name: str = "placebo"
) -> Tables:
    """The tables plus a fake roll-out ``name`` (no true effect) for a placebo check.

    Parameters
    ----------
    tables : Tables
        The contract's tables (not modified).
    branches : sequence of str
        The branches the fake intervention reaches.
    starts : sequence of dates
        Its start date in each of those branches (same length as ``branches``).
    name : str
        The fake intervention's name; its estimated effects should cover zero.
    """
    branches = list(branches)
    fake = pd.DataFrame(
        {
            "intervention_id": [f"{name.upper()}{i:03d}" for i in range(len(branches))],
            "intervention": name,
            "unit_type": "branch",
            "unit_id": branches,
            "start_date": pd.to_datetime(np.asarray(starts)).astype("datetime64[us]"),
            "end_date": pd.NaT,
            "intensity": 1.0,
        }
    )
    interventions = pd.concat([tables.interventions, fake], ignore_index=True)
    return dataclasses.replace(tables, interventions=interventions)
