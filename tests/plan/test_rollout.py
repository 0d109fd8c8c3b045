"""``plan.rollout``: design diagnosis of a planned roll-out by simulation on the history.

Expected numbers: the assignment's cohort sizes and start months follow from the design's
definition (PlannedDesign's docstring); the estimate's exact shift by the injected effect and
the unchanged standard error follow from least squares (the saturated cells absorb a constant
added to the treated branch-months); the placebo plan's rejection rate is bounded by the
nominal 5% plus sampling error of 40 replicates (binomial s.d. 0.034); the realised power in
fresh worlds (the simulator's, estimated by ``estimate_joint`` as ``snr attribute`` does) is
compared with the planned power with a tolerance of 0.3 for 12 roll-outs (binomial s.d.
0.14; the 30-world study with +-0.05 is ``benchmarks/plan_power.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snr_models.attribution import build_panel, estimate_joint, with_placebo_rollout
from snr_models.attribution.inference import t_value
from snr_models.errors import SnrInputError
from snr_models.plan.rollout import (
    PlannedDesign,
    _estimate_design,
    _History,
    design_grid,
    plan_rollout,
    simulate_design,
)
from snr_models.simulate import simulate

SIM = {"n_clients": 3_000, "n_branches": 16, "n_months": 26}


@pytest.fixture(scope="module")
def tables():
    return simulate(seed=4, truth=False, **SIM).tables


@pytest.fixture(scope="module")
def history(tables):
    months = pd.date_range(tables.market["month"].min(), periods=20, freq="MS")
    return build_panel(tables, end=months[-1])


@pytest.fixture(scope="module")
def plan(history):
    design = PlannedDesign("staggered", branches=16, months=6, cohorts=2)
    return plan_rollout(history, 0.06, design=design, n_reps=40, n_reps_grid=10)


def test_staggered_assignment_has_cohorts_and_controls() -> None:
    # 12 branches in 3 groups of 4: waves at months round(9 * 1/3) = 3 and round(9 * 2/3) = 6,
    # the last group after the window (never treated in it)
    dose, firm = PlannedDesign("staggered", branches=12, months=9, cohorts=2).assignment(
        np.random.default_rng(0)
    )
    first = np.where(dose.any(axis=1), dose.argmax(axis=1), -1)
    assert firm is None
    assert sorted(pd.Series(first).value_counts().items()) == [(-1, 4), (3, 4), (6, 4)]
    assert ((dose == 0) | (dose == 1)).all() and (np.diff(dose, axis=1) >= 0).all()


def test_pilot_and_firmwide_assignments() -> None:
    rng = np.random.default_rng(1)
    dose, _ = PlannedDesign("pilot", branches=12, months=8, pilot_share=0.25).assignment(rng)
    assert dose.any(axis=1).sum() == 3 and (dose.argmax(axis=1)[dose.any(axis=1)] == 4).all()
    dose, firm = PlannedDesign("firmwide", branches=12, months=9).assignment(rng)
    assert firm == 6 and dose[:, 6:].all() and dose[:, 3:6].any(axis=1).sum() == 3


def test_bad_designs_are_refused(history) -> None:
    with pytest.raises(SnrInputError, match="design must be one of"):
        PlannedDesign("everywhere")
    with pytest.raises(SnrInputError, match="cohorts"):
        PlannedDesign(months=4, cohorts=4)
    with pytest.raises(SnrInputError, match="months planned but the history has 20"):
        simulate_design(history, PlannedDesign(branches=16, months=19), 0.01, n_reps=1)


def test_estimate_shifts_by_the_injected_effect_and_se_does_not_change(history) -> None:
    design = PlannedDesign("staggered", branches=16, months=6)
    a = simulate_design(history, design, 0.0, n_reps=3, rng=np.random.default_rng(7))
    b = simulate_design(history, design, 0.05, n_reps=3, rng=np.random.default_rng(7))
    shift = (b["estimate"] - a["estimate"]).to_numpy()
    # exact where every treated cell is estimable; a cell without data (a small branch's month
    # without survey responses) drops out of the average, which then holds less of the effect
    assert np.isclose(shift, 0.05, atol=1e-10).sum() >= 2
    assert (shift <= 0.05 + 1e-10).all() and (shift > 0.03).all()
    np.testing.assert_allclose(b["se"], a["se"], rtol=1e-8)


def test_plan_reports_power_mde_and_grid(plan) -> None:
    s = plan.stated
    reps = plan.replicates
    # the diagnosis is the replicates' shares (recomputed here from the intervals)
    assert s["coverage"] == pytest.approx(((reps["lo"] <= 0.06) & (reps["hi"] >= 0.06)).mean())
    assert s["power"] == pytest.approx(((reps["lo"] > 0) | (reps["hi"] < 0)).mean())
    assert s["coverage"] >= 0.8
    assert abs(s["bias"]) < 0.02  # unbiased up to 40 replicates' noise (spread ~0.03)
    # the MDE is where the power curve crosses 80%
    assert plan.power_at([s["mde"]])[0] >= 0.8 > plan.power_at([s["mde"] * 0.97])[0]
    grid = plan.to_frame()
    assert len(grid) == len(design_grid(plan.design, 18)) and grid["stated"].sum() == 1
    # twice the branches: narrower intervals than half the branches
    width = grid.groupby("branches")["width"].mean()
    assert width.loc[32] < width.loc[8]
    best = plan.smallest
    assert best is None or best["power"] >= 0.8
    assert "smallest design" in plan.summary() or "no design" in plan.summary()
    fig = plan.plot()
    assert len(fig.axes) == 2


def test_grid_replicates_spread_over_designs(plan) -> None:
    # the stated design: 40 replicates, 10 per design (4 designs); each grid point's 10: 5 per
    # design (2 designs; 10 per design, as before, gave 1: the power of one random design)
    grid = plan.to_frame()
    assert grid.loc[grid["stated"], "n_designs"].tolist() == [4]
    assert (grid.loc[~grid["stated"], "n_designs"] == 2).all()
    sizes = plan.replicates.groupby("design").size()
    assert sizes.tolist() == [10, 10, 10, 10]


def test_placebo_plan_rejects_at_the_nominal_level(plan) -> None:
    # effect 0: the share of intervals excluding 0 is the test's size (nominal 0.05)
    assert plan.power_at([0.0])[0] <= 0.05 + 3 * 0.034


def test_planned_power_comes_true_in_the_worlds_future(plan) -> None:
    # three fresh worlds of 26 months: the roll-out in their last 6 months, as planned
    design = plan.design
    hits = []
    for seed in (11, 12, 13):
        tables = simulate(seed=seed, truth=False, **SIM).tables
        months = pd.date_range(tables.market["month"].min(), periods=26, freq="MS")[-6:]
        branches = np.sort(tables.clients["branch_id"].unique())
        rng = np.random.default_rng(seed)
        for _ in range(4):
            dose, _ = design.assignment(rng)
            on = dose.any(axis=1)
            panel = build_panel(
                with_placebo_rollout(tables, branches[on], months[dose[on].argmax(axis=1)])
            )
            panel.frame["net_rate"] += 0.06 * panel.frame["placebo"]
            row = estimate_joint(panel, components=("net_rate",), report=("placebo",)).table
            r = row.iloc[0]
            hits.append(abs(r["estimate"]) > t_value(0.05, r["df"]) * r["se"])
    assert abs(np.mean(hits) - plan.stated["power"]) <= 0.3


@pytest.mark.parametrize(
    "design", [PlannedDesign("staggered", 16, 6), PlannedDesign("firmwide", 24, 9)]
)
def test_replicates_sharing_a_design_are_the_estimators_numbers(history, design) -> None:
    # a design's residual draws solved as columns of one regression give what estimate_joint
    # gives on each replicate's panel (the reference: the per-replicate path, computed here)
    hist = _History.from_panel(history, "net_rate")
    rng = np.random.default_rng(3)
    idx, resids = hist.draw(design.branches, rng, 4)
    dose, firm = design.assignment(rng)
    seeds = np.arange(4)
    batched = pd.DataFrame(
        _estimate_design(hist, idx, resids, dose, firm, 0.03, "net_rate", 0.05, seeds)
    )
    for j in range(4):
        sim = hist.replicate(idx, resids[j], dose, firm, 0.03, "net_rate")
        ref = estimate_joint(sim, components=("net_rate",), report=("planned",)).table.iloc[0]
        for col in ("estimate", "se", "df", "lo", "hi"):
            assert batched.loc[j, col] == pytest.approx(ref[col], rel=1e-8, abs=1e-10), col
        assert batched.loc[j, "method"] == ref["method"]
    assert batched["estimate"].nunique() == 4  # the draws differ
