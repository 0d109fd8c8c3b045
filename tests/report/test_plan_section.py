"""The report's "What to do next" section, in both languages, from a real plan.

Expected: the section's sentences carry the plan's own numbers (power and MDE of the stated
design, the allocation's gain), formatted by the language's Labels, with every placeholder
filled (no "{" left) and no code names (``ai_assistant`` becomes the business word).
"""

from __future__ import annotations

import pytest

from snr_models.jobs.plan import estimate_plan
from snr_models.report import render_page
from snr_models.report.content import _plan
from snr_models.report.labels import Labels
from snr_models.simulate import simulate


@pytest.fixture(scope="module")
def estimates():
    tables = simulate(n_clients=2_500, n_branches=12, n_months=20, seed=8, truth=False).tables
    from snr_models.plan.rollout import PlannedDesign

    return estimate_plan(
        tables,
        intervention="ai_assistant",
        effect=0.05,
        design=PlannedDesign(branches=12, months=6),
        n_reps=10,
        n_reps_grid=10,
        costs={"staff_training": 2.0, "survey_program": 1.0},
        budget=4.0,
    )


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_plan_section_reads_in_both_languages(estimates, language) -> None:
    labels = Labels(language)
    section = _plan(estimates, labels)
    texts = [b.text for b in section.blocks if b.kind == "text"]
    joined = " ".join(texts)
    s = estimates.plan.stated
    assert labels.pct(s["power"], 0) in joined and labels.points(s["mde"]) in joined
    assert labels.points(estimates.allocation.expected_gain) in joined
    assert "{" not in joined and "ai_assistant" not in joined
    assert labels.name("ai_assistant", "interventions") in joined
    kinds = [b.kind for b in section.blocks]
    assert kinds.count("figure") == 2 and kinds.count("table") == 1
    html = render_page("t", "s", [section], lang=language)
    assert labels.text("plan") in html
