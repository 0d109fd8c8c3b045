"""``plan.allocation``: candidates' expected effects, their joint draws, the best use of a budget.

Expected numbers: each candidate's effect is its branch's segment mix times the segments'
estimates (computed here by hand on a made-up mix); the allocation's optimum is found by
enumerating every subset of candidates.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from snr_models.errors import SnrInputError
from snr_models.plan import allocate, candidate_effects, effect_draws
from snr_models.report import Labels
from snr_models.report.figures import relabel


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    # shrunken segment effects as segment_effects returns them, and six branches' client mix
    segments = pd.DataFrame(
        {
            "intervention": ["staff_training"] * 3 + ["survey_program"] * 3,
            "segment": ["retail", "high_net_worth", "institutional"] * 2,
            "estimate": [0.02, 0.01, -0.01, 0.005, 0.004, 0.003],
            "se": [0.004, 0.006, 0.01, 0.002, 0.002, 0.003],
            "shared_se": [0.002, 0.002, 0.002, 0.001, 0.001, 0.001],
        }
    )
    rng = np.random.default_rng(4)
    mix = pd.DataFrame(
        [
            {"branch_id": f"B{b:03d}", "segment": s, "clients": int(rng.integers(10, 200))}
            for b in range(6)
            for s in ("retail", "high_net_worth", "institutional")
        ]
    )
    return segments, mix


def test_candidates_draws_and_allocation(inputs) -> None:
    segments, mix = inputs
    treated = pd.DataFrame({"intervention": ["staff_training"], "branch_id": ["B001"]})
    cand = candidate_effects(segments, mix, treated)
    assert not ((cand["intervention"] == "staff_training") & (cand["branch_id"] == "B001")).any()
    assert len(cand) == 2 * 6 - 1
    # by hand: B000's staff-training effect is its segment shares times the segments' effects
    b0 = mix[mix["branch_id"] == "B000"].set_index("segment")["clients"]
    eff = segments[segments["intervention"] == "staff_training"].set_index("segment")["estimate"]
    expected = float((b0 / b0.sum() * eff.reindex(b0.index)).sum())
    got = cand[(cand["intervention"] == "staff_training") & (cand["branch_id"] == "B000")]
    assert float(got["effect"].iloc[0]) == pytest.approx(expected)
    assert float(got["weight"].iloc[0]) == pytest.approx(b0.sum() / mix["clients"].sum())
    draws = effect_draws(cand, segments, mix, 4000, np.random.default_rng(0))
    # the draws' mean is each candidate's expected effect, their spread its standard error
    assert draws.mean(axis=0) == pytest.approx(cand["effect"].to_numpy(), abs=0.001)
    assert (draws.std(axis=0) >= 0.9 * cand["se"].to_numpy()).all()
    costs = {"staff_training": 3.0, "survey_program": 1.0}
    alloc = allocate(cand, costs, budget=7.0, draws=draws)
    assert alloc.spent <= 7.0 and alloc.gain_lo <= alloc.expected_gain <= alloc.gain_hi
    assert 0.0 <= alloc.p_beats_uniform <= 1.0
    assert "expected gain" in alloc.summary() and alloc.plot() is not None
    # the Chinese report's copy of the figure has its axis in Chinese, not left in English
    zh = relabel(alloc.plot(), Labels("zh-CN"))
    assert zh.axes[0].get_xlabel() == "全公司净率的预期提升"


def test_allocation_is_the_best_subset() -> None:
    # brute force over every subset of 8 candidates with costs 1, 2, 3
    rng = np.random.default_rng(3)
    cand = pd.DataFrame(
        {
            "intervention": list("aaabbbcc"),
            "branch_id": [f"B{i}" for i in range(8)],
            "effect": rng.normal(0.02, 0.02, 8),
            "se": 0.01,
            "weight": rng.uniform(0.05, 0.2, 8),
        }
    )
    costs = {"a": 1.0, "b": 2.0, "c": 3.0}
    cost = cand["intervention"].map(costs).to_numpy()
    gain = (cand["weight"] * cand["effect"]).to_numpy()
    best = max(
        (
            gain[list(s)].sum()
            for r in range(9)
            for s in itertools.combinations(range(8), r)
            if cost[list(s)].sum() <= 6.0
        ),
    )
    alloc = allocate(cand, costs, budget=6.0)
    assert alloc.expected_gain == pytest.approx(best)
    with pytest.raises(SnrInputError, match="costs must be positive"):
        allocate(cand, {"a": 0.0}, budget=1.0)
