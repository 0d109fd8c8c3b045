"""The main job's plan stage on a history too short for the plan's regression.

Expected: on 6 branches x 12 months the joint regression of the history has as many effect
cells as branch-months less the fixed effects (``_History.from_panel``'s check), so the default
design cannot be planned: the stage says why (a warning and a run tag) and returns no plan; a
design the configuration states explicitly is an error instead.
"""

from __future__ import annotations

import logging

import pytest

from snr_models.errors import SnrInputError
from snr_models.jobs.config import PlanStage, RunConfig
from snr_models.jobs.main import _plan_stage
from snr_models.simulate import simulate


class _Run:
    def __init__(self) -> None:
        self.tags: dict[str, str] = {}

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tags |= tags


@pytest.fixture(scope="module")
def tables():
    return simulate(n_clients=600, n_branches=6, n_months=12, seed=5, truth=False).tables


def test_default_design_on_a_short_history_is_skipped_with_its_reason(tables, caplog) -> None:
    config = RunConfig(name="t", plan=PlanStage())
    run = _Run()
    with caplog.at_level(logging.WARNING):
        assert _plan_stage(config, tables, run, None) is None
    assert "no residual degrees of freedom" in run.tags["plan.skipped"]
    assert "plan: not made" in caplog.text


def test_a_stated_design_on_a_short_history_is_an_error(tables) -> None:
    config = RunConfig(name="t", plan=PlanStage(months=8))
    with pytest.raises(SnrInputError, match="no residual degrees of freedom"):
        _plan_stage(config, tables, _Run(), None)


@pytest.fixture(scope="module")
def world_tables():
    return simulate(n_clients=3_000, n_branches=12, n_months=24, seed=3, truth=False).tables


def test_the_attribution_stage_fit_gives_the_plan_the_same_numbers(world_tables) -> None:
    # Expected: the plan fitting its own joint regression of the net rate (the reference,
    # joint=None) and the plan reusing the attribution's joint fit of S, R, E and the net rate
    # give identical tables: the net rate's regression, its placebo draws and its intervals do
    # not depend on the other components fitted beside it.
    from pandas.testing import assert_frame_equal

    from snr_models.attribution import build_panel, estimate_joint
    from snr_models.jobs.plan import estimate_plan
    from snr_models.plan.rollout import PlannedDesign

    kwargs = {
        "intervention": "staff_training",
        "effect": 0.02,
        "design": PlannedDesign(branches=12, months=8),
        "n_reps": 4,
        "n_reps_grid": 2,
        "costs": {"staff_training": 1.0, "ai_assistant": 2.0},
        "budget": 6.0,
        "baseline": 0.5,
    }
    # what the attribution stage fits (estimate_attribution's joint): every component
    joint = estimate_joint(build_panel(world_tables))
    reused = estimate_plan(world_tables, joint=joint, **kwargs)
    fitted = estimate_plan(world_tables, **kwargs)
    assert_frame_equal(reused.effects.to_frame(), fitted.effects.to_frame())
    assert_frame_equal(reused.effects.priors, fitted.effects.priors)
    assert_frame_equal(reused.segments, fitted.segments)
    assert_frame_equal(reused.plan.to_frame(), fitted.plan.to_frame())
    assert_frame_equal(reused.allocation.to_frame(), fitted.allocation.to_frame())
