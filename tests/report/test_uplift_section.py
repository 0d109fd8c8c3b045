"""The churn section's calls by risk against calls by uplift, in both languages.

The numbers on the page must be those of the evaluation (``compare_rankings`` on a simulated
world with campaigns), formatted; the words come from ``labels/en.yaml`` and ``zh-CN.yaml``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from snr_models.jobs.config import UpliftSettings
from snr_models.jobs.uplift import compare_rankings
from snr_models.report import Labels
from snr_models.report.content import Section, _uplift
from snr_models.simulate import simulate


@pytest.fixture(scope="module")
def compared():
    world = simulate(
        n_clients=3_000,
        n_branches=3,
        n_months=16,
        seed=2,
        truth=False,
        campaigns={"enabled": True, "first_month": 3, "share": 0.3},
    )
    truth = pd.DataFrame(world.truth["outreach"]["clients"])
    return compare_rankings(world.tables, UpliftSettings(), true_uplift=truth, n_boot=20)


def test_comparison_is_out_of_time_and_has_both_rankings(compared):
    ev = compared.evaluation
    assert len(compared.test_campaigns) == UpliftSettings().n_test_campaigns
    assert set(ev.calls["ranking"]) == {"uplift", "risk"}
    assert (ev.calls["lo"] <= ev.calls["estimate"]).all()
    assert (ev.calls["estimate"] <= ev.calls["hi"]).all()
    # truth: the mean true uplift of everyone targeted in the test campaigns
    row = ev.metrics.loc["average_effect"]
    assert row["lo"] <= row["truth"] <= row["hi"]


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_section_shows_the_comparison(compared, language):
    labels = Labels(language)
    section = Section("churn", "churn")
    _uplift(section, compared, labels, "95%")
    text, table = section.blocks
    assert f"{compared.n_test:,}" in text.text
    calls = compared.evaluation.calls
    assert len(table.rows) == len(calls)
    for row, (_, r) in zip(table.rows, calls.iterrows(), strict=True):
        assert row[0] == labels.text(f"ranking_{r['ranking']}")
        assert row[3] == labels.number(r["estimate"], 1)
        assert row[4:] == [labels.number(r["lo"], 1), labels.number(r["hi"], 1)]
    words = {"en": "exits prevented per 1,000 calls", "zh-CN": "每 1,000 次回访少流失"}
    assert words[language] in table.text


@pytest.mark.parametrize(
    ("language", "effect", "said"),
    [
        ("zh-CN", (0.0223, 0.0003, 0.0443), "少流失 22.3 位（95% 区间 0.3 至 44.3）"),
        ("zh-CN", (-0.0223, -0.0443, -0.0003), "反而多流失 22.3 位"),
        ("en", (0.0223, 0.0003, 0.0443), "prevented 22.3 exits per 1,000 targeted clients"),
        ("en", (-0.0223, -0.0443, -0.0003), "pushed out 22.3 more clients per 1,000"),
    ],
)
def test_average_effect_is_said_without_a_double_negative(compared, language, effect, said):
    # a harmful campaign (negative exits prevented) reads as extra exits with a positive
    # interval (0.3 to 44.3), never as "prevented -22.3"
    import copy

    shown = copy.copy(compared)
    evaluation = copy.copy(compared.evaluation)
    metrics = evaluation.metrics.copy()
    metrics.loc["average_effect", ["estimate", "lo", "hi"]] = effect
    object.__setattr__(evaluation, "metrics", metrics)
    object.__setattr__(shown, "evaluation", evaluation)
    section = Section("churn", "churn")
    _uplift(section, shown, Labels(language), "95%")
    text = section.blocks[0].text
    assert said in text
    if effect[0] < 0:
        assert "0.3 至 44.3" in text or "0.3 to 44.3" in text
        assert "-22.3" not in text
