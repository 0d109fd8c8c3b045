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
