"""Diagnostics an analyst should read first: per intervention, the Callaway-Sant'Anna event
study on the net rate with its pre-trend test, and the TWFE negative-weight share."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from snr_models import progress
from snr_models.attribution.staggered import att_gt, pretrend_permutation_test
from snr_models.attribution.twfe import twfe
from snr_models.errors import SnrInputError

logger = logging.getLogger(__name__)


def diagnose(
    panel: Any, alpha: float = 0.05, n_perm: int = 99
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per intervention: the CS event study's pre-trend test and the TWFE weights diagnostic.

    The pre-trend p-value is the permutation one of
    :func:`~snr_models.attribution.staggered.pretrend_permutation_test` (``n_perm``
    re-assignments of the roll-out dates across branches); ``pretrend_p_value_chi2`` is the
    chi-square reference, kept for comparison (too small with few branches per cohort).

    Returns the diagnostics table and the event-study figures by intervention.
    """
    frame = panel.frame
    rows = []
    figures: dict[str, Any] = {}
    for name in progress.track(panel.interventions, "interventions", describe=str):
        row: dict[str, Any] = {"intervention": name}
        data = frame[["branch_id", "period", "net_rate", name, f"{name}__first"]].copy()
        data["treated"] = (data[name] > 0).astype(float)
        firm = panel.firm_start.get(name)
        if firm is not None:
            data = data[data["period"] < firm]
            data.loc[data[f"{name}__first"] >= firm, f"{name}__first"] = pd.NaT
        complete = data.groupby("branch_id")["net_rate"].transform(lambda s: s.notna().all())
        data = data[complete.astype(bool)]
        design = dict(
            outcome="net_rate",
            unit="branch_id",
            time="period",
            group=f"{name}__first",
            control_group="notyet",
        )
        try:
            res = att_gt(data, **design, alpha=alpha, n_boot=499)
            ev = res.aggregate("event")
            # the chi-square reference is far too liberal with few branches per cohort (see
            # pretrend_permutation_test): its p-value comes from re-assigned roll-out dates
            test = pretrend_permutation_test(data, **design, n_perm=n_perm)
            row.update(
                {
                    "cs_simple_att": res.aggregate("simple").overall,
                    "cs_simple_se": res.aggregate("simple").overall_se,
                    "pretrend_statistic": test["statistic"],
                    "pretrend_df": test["df"],
                    "pretrend_p_value": test["p_value"],
                    "pretrend_p_value_chi2": test["p_value_chi2"],
                }
            )
            figures[f"event_{name}.png"] = ev.plot()
        except SnrInputError as exc:
            logger.info("no event study for %s: %s", name, exc)
            row["pretrend_p_value"] = np.nan
        try:
            tw = twfe(
                data, outcome="net_rate", unit="branch_id", time="period", treatment="treated"
            )
            row.update(
                {
                    "twfe_estimate": tw.estimate,
                    "twfe_se": tw.se,
                    "twfe_negative_share": tw.negative_share,
                    "twfe_negative_weight_sum": tw.negative_weight_sum,
                }
            )
        except (SnrInputError, ZeroDivisionError, FloatingPointError) as exc:
            logger.info("no TWFE diagnostic for %s: %s", name, exc)
        rows.append(row)
    return pd.DataFrame(rows), figures
