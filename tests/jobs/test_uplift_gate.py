"""The retrain gate's Qini on the latest campaigns: computed like scikit-uplift, gated.

Expected values: scikit-uplift's ``qini_auc_score`` on the same test rows (an independent
implementation), and the gate's rule (challenger Qini below the champion's by more than
``uplift.max_qini_drop`` is refused).
"""

from __future__ import annotations

import numpy as np
import pytest

from snr_models.churn.uplift import out_of_time_split
from snr_models.jobs.config import ChurnConfig
from snr_models.jobs.gate import campaign_qini, gate_reasons
from snr_models.jobs.uplift import campaign_rows
from snr_models.simulate import simulate

sklift_metrics = pytest.importorskip("sklift.metrics")


@pytest.fixture(scope="module")
def tables():
    return simulate(
        n_clients=2_000,
        n_branches=3,
        n_months=14,
        seed=3,
        truth=False,
        campaigns={"enabled": True, "first_month": 3, "share": 0.3},
    ).tables


def test_campaign_qini_equals_sklift_on_the_latest_campaigns(tables):
    config = ChurnConfig()
    score = {"a": lambda f: f["tenure_months"].to_numpy(), "b": lambda f: -f["dormant"].to_numpy()}
    got = campaign_qini(tables, config, score)
    _, test = out_of_time_split(campaign_rows(tables, config.horizon), 2)
    kept, t = 1 - test["churn"].to_numpy(), test["_treatment"].to_numpy()
    for who, f in score.items():
        assert got[who] == pytest.approx(sklift_metrics.qini_auc_score(kept, f(test), t))


def test_no_campaigns_no_qini(tables):
    without = type(tables)(**{n: f for n, f in tables.items() if n != "outreach"})
    assert campaign_qini(without, ChurnConfig(), {"a": lambda f: np.zeros(len(f))}) == {}


def test_gate_refuses_a_lower_qini():
    config = ChurnConfig()
    base = {"roc_auc": 0.7, "calibration_slope": 1.0, "empc": 1.0, "n": 500.0}
    champion = base | {"qini": 0.02}
    assert gate_reasons(base | {"qini": 0.03}, champion, config) == []
    reasons = gate_reasons(base | {"qini": 0.01}, champion, config)
    assert len(reasons) == 1 and reasons[0].startswith("Qini on the latest campaigns 0.0100")
    # without campaigns (no qini on either side) the gate is as before
    assert gate_reasons(base, base, config) == []
    loose = ChurnConfig.model_validate({"uplift": {"max_qini_drop": 0.05}})
    assert gate_reasons(base | {"qini": 0.01}, champion, loose) == []
