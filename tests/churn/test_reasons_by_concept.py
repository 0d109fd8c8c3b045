"""A client's three reasons: distinct concepts, each raising that client's risk.

The contributions are given (``top_reasons(..., contributions=...)``), so the expected reasons
follow from the numbers below by hand: the SLA features sum to the largest concept.
"""

from __future__ import annotations

import pandas as pd
import pytest

from snr_models.churn import top_reasons
from snr_models.churn.reasons import describe, reason_concept


def test_reasons_are_distinct_concepts_that_raise_the_risk() -> None:
    X = pd.DataFrame(
        {
            "sla_misses_1m": [1.0, 0.0],
            "sla_misses_3m": [2.0, 0.0],
            "median_resolution_hours_3m": [30.0, 5.0],
            "months_since_forced_liquidation": [0.0, 4.0],
            "tenure_months": [5.0, 40.0],
            "rate_gap_market_pts": [1.2, -0.5],
        }
    )
    contrib = pd.DataFrame(
        {
            "sla_misses_1m": [0.30, -0.1],
            "sla_misses_3m": [0.25, -0.1],
            "median_resolution_hours_3m": [0.20, -0.2],
            "months_since_forced_liquidation": [0.40, 0.05],
            "tenure_months": [0.10, -0.3],
            "rate_gap_market_pts": [-0.05, -0.1],
        }
    )
    out = top_reasons(None, X, n=3, contributions=(contrib, 0.0))
    first = out.iloc[0]
    # SLA: 0.30 + 0.25 + 0.20 = 0.75, described by its largest feature; then 0.40; then 0.10
    assert [first["feature_1"], first["feature_2"], first["feature_3"]] == [
        "sla_misses_1m",
        "months_since_forced_liquidation",
        "tenure_months",
    ]
    assert first["contribution_1"] == pytest.approx(0.75)
    assert first["reason_2"] == "forced liquidation this month"
    # the second client: one concept raises the risk; nothing else is offered as a reason
    second = out.iloc[1]
    assert second["reason_1"] == "forced liquidation 4 months ago"
    assert pd.isna(second["reason_2"]) and pd.isna(second["reason_3"])


def test_concepts() -> None:
    assert {reason_concept(f) for f in ("sla_misses_6m", "median_resolution_hours_1m")} == {"sla"}
    assert reason_concept("rate_gap_branch_pts") == reason_concept("financing_rate")
    assert describe("months_since_survey", 0.0) == "last survey response this month"


def test_reasons_in_chinese() -> None:
    # the same contributions, described in the team's Chinese words
    X = pd.DataFrame({"sla_misses_3m": [2.0], "months_since_forced_liquidation": [0.0]})
    contrib = pd.DataFrame({"sla_misses_3m": [0.5], "months_since_forced_liquidation": [0.3]})
    out = top_reasons(None, X, n=2, contributions=(contrib, 0.0), language="zh-CN")
    reasons = out[["reason_1", "reason_2"]].iloc[0].tolist()
    assert reasons == ["近3个月有2张工单超时", "本月被强制平仓"]


def test_chinese_reasons_take_the_words_given_for_codes() -> None:
    """Codes inside a reason (an intervention, a channel) are written in the words passed in
    (the report passes its labels), never as code names."""
    from snr_models.churn.reasons import describe

    names = {"ai_assistant": "智能客服", "online": "线上开户"}
    assert describe("exposure_ai_assistant", 1.0, "zh-CN", names) == "营业部已实施智能客服"
    assert describe("acquisition_channel", "online", "zh-CN", names) == "获客渠道：线上开户"
    # without words, the code with spaces (still no snake_case)
    assert describe("exposure_ai_assistant", 1.0, "zh-CN") == "营业部已实施ai assistant"
