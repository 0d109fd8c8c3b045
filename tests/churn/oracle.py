"""The oracle churn risk of a simulated world, computed from truth.json's hazard coefficients.

Independent of snr_models.features: plain pandas over the contract's tables, following the
formula in ``truth["exit_hazard"]["description"]``. The hazard of exiting in month m + 1 for a
client open at the end of the as-of month m uses: its segment's intercept; the rate gap in
points against the market financing rate of truth.json (at month m, the last one observed
for every client, since a client leaving in m + 1 has no snapshot then); a forced
liquidation, a slow ticket (not resolved within sla_hours), a failed ticket (escalated or
reopened) and a survey response in months m-2..m; dormancy at m; and opening less than 365
days before month m + 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _mi(s: pd.Series) -> pd.Series:
    return s.dt.year * 12 + s.dt.month - 1


def oracle_log_hazard(tables, truth: dict, rows: pd.DataFrame) -> np.ndarray:
    """True log-hazard of exit in the month after each row's ``as_of`` (rows: client_id, as_of)."""
    coef = truth["exit_hazard"]["coefficients"]
    market = {k: v for k, v in truth["exit_hazard"]["market_financing_rate"].items()}
    r = rows[["client_id", "as_of"]].copy()
    r["mi"] = _mi(r["as_of"])
    cm = tables.client_months.assign(mi=_mi(tables.client_months["month"]))
    cm["market_rate"] = cm["month"].dt.strftime("%Y-%m").map(market)
    cm["gap"] = (cm["financing_rate"] - cm["market_rate"]) * 100
    r = r.merge(cm[["client_id", "mi", "gap", "dormant"]], on=["client_id", "mi"], how="left")

    def recent(events: pd.DataFrame) -> pd.Series:
        # any event in months mi-2..mi for each row
        e = events[["client_id", "emi"]].drop_duplicates()
        hits = np.zeros(len(r), dtype=bool)
        for lag in range(3):
            key = r[["client_id"]].assign(emi=r["mi"] - lag)
            hits |= (
                key.merge(e.assign(hit=True), on=["client_id", "emi"], how="left")["hit"]
                .fillna(False)
                .to_numpy(dtype=bool)
            )
        return pd.Series(hits, index=r.index)

    tk = tables.tickets
    tk = tk.assign(emi=_mi(tk["created_at"]))
    hours = (tk["resolved_at"] - tk["created_at"]).dt.total_seconds() / 3600
    slow = tk[hours.isna() | (hours > tk["sla_hours"])]
    failed = tk[tk["escalated"] | tk["reopened"]]
    sv = tables.surveys.assign(emi=_mi(tables.surveys["responded_at"]))
    fl = cm[cm["forced_liquidations"] > 0].assign(emi=lambda d: d["mi"])
    cl = tables.clients.set_index("client_id")
    seg = r["client_id"].map(cl["segment"])
    opened = r["client_id"].map(cl["open_date"])
    next_start = (r["as_of"] + pd.DateOffset(months=1)).astype("datetime64[us]")
    new12 = opened > next_start - pd.Timedelta(days=365)
    eta = (
        seg.map(lambda s: coef[f"intercept_{s}"]).astype(float)
        + coef["rate_gap_pp"] * r["gap"].fillna(0.0)
        + coef["forced_liquidation_3m"] * recent(fl)
        + coef["slow_ticket_3m"] * recent(slow)
        + coef["failed_ticket_3m"] * recent(failed)
        + coef["surveyed_3m"] * recent(sv)
        + coef["dormant"] * r["dormant"].fillna(False).astype(float)
        + coef["new_client_12m"] * new12.astype(float)
    )
    return eta.to_numpy(dtype=float)
