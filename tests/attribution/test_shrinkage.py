"""Per-branch and per-segment effects with empirical-Bayes shrinkage; the budget allocation.

Expected numbers: ``truth.json``'s per-branch effects (``interventions[name]["per_branch"]``:
the same world re-run with the intervention switched off, common random numbers, averaged over
the branch's treated months), on three small worlds (the 50-world study is
``benchmarks/plan_shrinkage.py``); the James-Stein / Morris formulas computed by hand for
:func:`shrink`; the allocation's optimum found by enumerating every subset of candidates.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from snr_models.attribution import build_panel, estimate_joint
from snr_models.attribution.allocation import allocate, candidate_effects, effect_draws
from snr_models.attribution.shrinkage import branch_effects, segment_effects, shrink
from snr_models.errors import SnrInputError
from snr_models.simulate import simulate


@pytest.fixture(scope="module")
def worlds():
    out = []
    for seed in (0, 1, 2):
        w = simulate(n_clients=4_000, n_branches=16, n_months=24, seed=seed)
        joint = estimate_joint(build_panel(w.tables), components=("net_rate",))
        tab = branch_effects(joint).to_frame()
        truth = w.truth["interventions"]
        tab["truth"] = [
            (truth[r.intervention]["per_branch"].get(r.branch_id) or {}).get("net_rate")
            for r in tab.itertuples()
        ]
        out.append((w, tab.dropna(subset=["truth"])))
    return out


def test_shrink_matches_the_formulas() -> None:
    raw = np.array([0.0, 0.1, 0.2, 0.3, 0.9])
    se = np.full(5, 0.1)
    tab, prior = shrink(raw, se, mu=0.2, mu_se=0.05)
    # moments about mu: Q = sum w (raw - mu)^2 = 100 * (0.04 + 0.01 + 0 + 0.01 + 0.49) = 55
    tau2 = (55 - 5) / 500
    assert prior["tau"] == pytest.approx(np.sqrt(tau2))
    b = (5 - 3) / (5 - 1) * 0.01 / (0.01 + tau2)
    assert tab["shrinkage"].to_numpy() == pytest.approx(np.full(5, b))
    assert tab["estimate"].to_numpy() == pytest.approx(0.2 + (1 - b) * (raw - 0.2))
    var = (1 - b) * 0.01 + b**2 * 0.05**2 + 2 / (5 - 3) * b**2 * (raw - 0.2) ** 2
    assert tab["se"].to_numpy() == pytest.approx(np.sqrt(var))
    with pytest.raises(SnrInputError, match="at least two"):
        shrink(np.array([0.1]), np.array([0.1]))


def test_shrunken_branch_effects_beat_raw_and_cover_the_truth(worlds) -> None:
    tab = pd.concat([t for _, t in worlds])
    rmse_raw = np.sqrt(((tab["raw"] - tab["truth"]) ** 2).mean())
    rmse_eb = np.sqrt(((tab["estimate"] - tab["truth"]) ** 2).mean())
    assert rmse_eb < rmse_raw
    cover = ((tab["lo"] <= tab["truth"]) & (tab["truth"] <= tab["hi"])).mean()
    # 95% intervals; over 50 worlds 90-99% (benchmark); here ~150 correlated branch effects
    assert 0.85 <= cover <= 1.0


def test_branch_effects_result_object(worlds) -> None:
    w, _ = worlds[0]
    be = branch_effects(estimate_joint(build_panel(w.tables), components=("net_rate",)))
    assert set(be.priors["intervention"]) <= set(be.table["intervention"])
    assert "Per-branch effects" in be.summary()
    assert len(be.plot().axes) == len(be.priors)
    with pytest.raises(SnrInputError, match="no regression of 'S'"):
        branch_effects(estimate_joint(build_panel(w.tables), components=("net_rate",)), "S")


def test_segment_effects_and_allocation(worlds) -> None:
    w, _ = worlds[0]
    seg = segment_effects(w.tables)
    assert set(seg["segment"]) <= {"retail", "high_net_worth", "institutional"}
    mix = w.tables.clients.groupby(["branch_id", "segment"]).size().rename("clients").reset_index()
    treated = pd.DataFrame({"intervention": ["staff_training"], "branch_id": ["B001"]})
    cand = candidate_effects(seg, mix, treated)
    assert not ((cand["intervention"] == "staff_training") & (cand["branch_id"] == "B001")).any()
    assert cand["weight"].groupby(cand["intervention"]).sum().to_numpy() == pytest.approx(
        1.0, abs=0.1
    )
    draws = effect_draws(cand, seg, mix, 500, np.random.default_rng(0))
    # the draws' mean is each candidate's expected effect
    assert draws.mean(axis=0) == pytest.approx(cand["effect"].to_numpy(), abs=0.01)
    costs = {"staff_training": 3.0, "process_reengineering": 5.0, "survey_program": 1.0}
    alloc = allocate(cand, costs, budget=12.0, draws=draws)
    assert alloc.spent <= 12.0 and alloc.gain_lo <= alloc.expected_gain <= alloc.gain_hi
    assert 0.0 <= alloc.p_beats_uniform <= 1.0
    assert "expected gain" in alloc.summary() and alloc.plot() is not None


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
