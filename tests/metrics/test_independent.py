"""net_rate().to_frame() equals a straightforward, independent pandas computation to 1e-12.

The reference below re-implements DESIGN.md's definitions literally (one period and group at
a time, with boolean filters on the event tables), sharing no code with the package: a
period is ``[pd.Period.start_time, (period + 1).start_time)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from snr_models.data import Tables
from snr_models.metrics import MetricSpec, net_rate


def reference(data: Tables, freq: str, by: list[str], spec: MetricSpec) -> pd.DataFrame:
    k = {"M": 1, "Q": 3, "Y": 12}[freq]
    stamps = pd.concat(
        [data.surveys["responded_at"], data.tickets["created_at"], data.client_months["month"]]
    )
    periods = pd.period_range(stamps.min(), stamps.max(), freq=freq)
    clients = data.clients
    keys = clients[by].drop_duplicates().sort_values(by) if by else pd.DataFrame(index=[0])
    w = spec.weights
    rows = []
    for period in periods:
        lo, hi = period.start_time, (period + 1).start_time
        for _, key in keys.iterrows():
            mask = np.ones(len(clients), dtype=bool)
            for col in by:
                mask &= (clients[col] == key[col]).to_numpy()
            members = clients.loc[mask]
            ids = set(members["client_id"])
            sv = data.surveys
            sv = sv[
                (sv["responded_at"] >= lo) & (sv["responded_at"] < hi) & sv["client_id"].isin(ids)
            ]
            n = len(sv)
            p = (sv["csat"] >= 4).sum() / n if n else np.nan
            d = (sv["csat"] <= 2).sum() / n if n else np.nan
            s = p - d
            s_se = np.sqrt((p + d - (p - d) ** 2) / n) if n else np.nan
            open_ = members[
                (members["open_date"] <= lo)
                & (members["close_date"].isna() | (members["close_date"] >= lo))
            ]
            exits = open_[(open_["close_date"] >= lo) & (open_["close_date"] < hi)]
            q = len(exits) / len(open_) if len(open_) else np.nan
            r = 1 - 12 / k * q
            r_se = 12 / k * np.sqrt(q * (1 - q) / len(open_)) if len(open_) else np.nan
            tk = data.tickets
            tk = tk[(tk["created_at"] >= lo) & (tk["created_at"] < hi) & tk["client_id"].isin(ids)]
            deadline = tk["created_at"] + pd.to_timedelta(tk["sla_hours"], unit="h")
            met = (
                tk["resolved_at"].notna()
                & (tk["resolved_at"] < hi)
                & (tk["resolved_at"] <= deadline)
            )
            counted = met | (deadline < hi)
            nt = int(counted.sum())
            e = met.sum() / nt if nt else np.nan
            e_se = np.sqrt(e * (1 - e) / nt) if nt else np.nan
            cm = data.client_months
            cm = cm[(cm["month"] >= lo) & (cm["month"] < hi) & cm["client_id"].isin(ids)]
            rows.append(
                {
                    "period": lo,
                    **{col: key[col] for col in by},
                    "S": s,
                    "S_se": s_se,
                    "R": r,
                    "R_se": r_se,
                    "E": e,
                    "E_se": e_se,
                    "net_rate": w["S"] * s + w["R"] * r + w["E"] * e,
                    "n_responses": n,
                    "n_open": len(open_),
                    "n_tickets": nt,
                    "dormant_share": cm["dormant"].mean() if len(cm) else np.nan,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("freq", "by"), [("M", []), ("Q", ["branch_id", "segment"]), ("Y", ["segment"])]
)
def test_equals_independent_pandas_computation(make_random_tables, freq: str, by: list) -> None:
    data = make_random_tables(n_clients=700, n_months=7, seed=21, responses_per_client=2)
    spec = MetricSpec.default()
    got = net_rate(data, spec, freq=freq, by=by or None, n_boot=0).to_frame()
    want = reference(data, freq, by, spec)
    assert len(got) == len(want) > 0
    assert (got["n_open"] > 0).all() and (got["n_tickets"] > 0).all()
    for col in by:
        assert got[col].tolist() == want[col].tolist()
    assert got["period"].tolist() == want["period"].tolist()
    for col in ("S", "S_se", "R", "R_se", "E", "E_se", "net_rate", "dormant_share"):
        assert_allclose(got[col], want[col], rtol=0, atol=1e-12, err_msg=col)
    for col in ("n_responses", "n_open", "n_tickets"):
        assert got[col].tolist() == want[col].tolist(), col


@pytest.fixture(scope="module")
def simulated():
    from snr_models.simulate import simulate

    return simulate(n_clients=3_000, n_branches=4, n_months=8, seed=3, truth=False)


def test_equals_simulator_truth(simulated) -> None:
    # The simulator computes S, R, E and the default net rate per month with its own code
    # (snr_models.simulate.components) into truth["components_firm"].
    truth = simulated.truth["components_firm"]
    got = net_rate(simulated.tables, n_boot=0).to_frame()
    assert [p.strftime("%Y-%m") for p in got["period"]] == sorted(truth)
    for _, row in got.iterrows():
        want = truth[row["period"].strftime("%Y-%m")]
        for c in ("S", "R", "E", "net_rate"):
            expected = np.nan if want[c] is None else want[c]
            assert_allclose(row[c], expected, rtol=0, atol=1e-12, err_msg=c)


def test_simulated_by_branch_quarterly_equals_independent(simulated) -> None:
    spec = MetricSpec.default()
    got = net_rate(simulated.tables, spec, freq="Q", by="branch_id", n_boot=0).to_frame()
    want = reference(simulated.tables, "Q", ["branch_id"], spec)
    assert got["branch_id"].tolist() == want["branch_id"].tolist()
    for col in ("S", "S_se", "R", "R_se", "E", "E_se", "net_rate", "dormant_share"):
        assert_allclose(got[col], want[col], rtol=0, atol=1e-12, err_msg=col)
    for col in ("n_responses", "n_open", "n_tickets"):
        assert got[col].tolist() == want[col].tolist(), col
