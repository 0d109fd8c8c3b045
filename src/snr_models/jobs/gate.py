"""The champion/challenger gate of ``snr retrain``: holdout metrics and the reasons to refuse."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from snr_models.churn import empc
from snr_models.churn.evaluation import brier, calibration_intercept_slope, roc_auc
from snr_models.churn.uplift import out_of_time_split, qini_coefficient
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.jobs.config import ChurnConfig
from snr_models.jobs.uplift import campaign_rows

__all__ = ["campaign_qini", "gate_reasons", "holdout_metrics"]

logger = logging.getLogger(__name__)


def campaign_qini(
    tables: Tables,
    config: ChurnConfig,
    predict: dict[str, Callable[[pd.DataFrame], np.ndarray]],
) -> dict[str, float]:
    """The Qini coefficient of each model's risk ranking on the latest campaigns.

    Ranking the targeted clients of the latest ``uplift.n_test_campaigns`` labelled campaigns
    by each model's churn probability, the Qini coefficient measures the exits the calls
    prevented among those ranked first (the campaigns' random holdout is the comparison).
    Empty without outreach data, or with too few labelled campaigns (logged).
    """
    if tables.outreach is None:
        return {}
    try:
        rows = campaign_rows(tables, config.horizon)
        _, test = out_of_time_split(rows, config.uplift.n_test_campaigns)
    except SnrInputError as exc:
        logger.warning("retrain: no Qini on campaigns: %s", exc)
        return {}
    y, t = test["churn"].to_numpy(), test["_treatment"].to_numpy()
    return {who: qini_coefficient(y, f(test), t) for who, f in predict.items()}


def holdout_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ROC-AUC, calibration intercept and slope, EMPC, Brier score, base rate and size.

    Examples
    --------
    >>> rng = np.random.default_rng(0); p = rng.uniform(0, .5, 3000); y = rng.random(3000) < p
    >>> m = holdout_metrics(y, p)
    >>> 0.6 < m["roc_auc"] < 0.8 and 0.8 < m["calibration_slope"] < 1.2
    True
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    intercept, slope = calibration_intercept_slope(y, p)
    return {
        "roc_auc": roc_auc(y, p),
        "calibration_intercept": intercept,
        "calibration_slope": slope,
        "empc": empc(y, p).value,
        "brier": brier(y, p),
        "base_rate": float(y.mean()),
        "n": float(len(y)),
    }


def gate_reasons(
    challenger: dict[str, float], champion: dict[str, float] | None, config: ChurnConfig
) -> list[str]:
    """Why the challenger may not become champion (empty: it may).

    With a champion, the configuration's gate applies; without one, its absolute floors.

    Examples
    --------
    >>> c = {"roc_auc": 0.70, "calibration_slope": 1.0, "empc": 1.0, "n": 500.0}
    >>> gate_reasons(c, {"roc_auc": 0.71, "calibration_slope": 1.0, "empc": 1.0}, ChurnConfig())
    ["ROC-AUC 0.7000 is lower than the champion's 0.7100 by more than 0.005"]
    >>> gate_reasons(c, None, ChurnConfig())
    []
    """
    reasons = []
    slope = challenger["calibration_slope"]
    if champion is not None:
        g = config.retrain.gate
        if challenger["roc_auc"] < champion["roc_auc"] - g.max_auc_drop:
            reasons.append(
                f"ROC-AUC {challenger['roc_auc']:.4f} is lower than the champion's "
                f"{champion['roc_auc']:.4f} by more than {g.max_auc_drop:g}"
            )
        lo, hi = g.calibration_slope
        if not lo <= slope <= hi:
            reasons.append(f"calibration slope {slope:.3f} outside {lo:g}-{hi:g}")
        if challenger["empc"] < champion["empc"] - g.max_empc_drop:
            reasons.append(
                f"EMPC {challenger['empc']:.4f} is lower than the champion's "
                f"{champion['empc']:.4f} by more than {g.max_empc_drop:g}"
            )
        drop = config.uplift.max_qini_drop
        qini = challenger.get("qini"), champion.get("qini")
        if None not in qini and qini[0] < qini[1] - drop:
            reasons.append(
                f"Qini on the latest campaigns {qini[0]:.4f} is lower than the "
                f"champion's {qini[1]:.4f} by more than {drop:g}"
            )
        return reasons
    f = config.retrain.floors
    if challenger["n"] < f.min_holdout_rows:
        reasons.append(f"holdout of {challenger['n']:.0f} rows, fewer than {f.min_holdout_rows}")
    if challenger["roc_auc"] < f.min_auc:
        reasons.append(f"ROC-AUC {challenger['roc_auc']:.4f} below the floor {f.min_auc:g}")
    lo, hi = f.calibration_slope
    if not lo <= slope <= hi:
        reasons.append(f"calibration slope {slope:.3f} outside the floor range {lo:g}-{hi:g}")
    if challenger["empc"] < f.min_empc:
        reasons.append(f"EMPC {challenger['empc']:.4f} below the floor {f.min_empc:g}")
    return reasons
