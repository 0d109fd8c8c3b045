"""What to do next: plan the next roll-out and spend the budget (DESIGN.md, layer ``plan``).

Built on the capabilities (the joint estimator of :mod:`snr_models.attribution` and its
per-branch and per-segment empirical-Bayes effects, :mod:`snr_models.attribution.shrinkage`);
no capability imports it.

Public API:

- :func:`plan_rollout` (:class:`RolloutPlan`): power, minimum detectable effect, interval width,
  bias and coverage of a planned roll-out (:class:`PlannedDesign`), by simulation on the
  history, for the stated design and a grid around it (:func:`design_grid`);
  :func:`simulate_design` (the replicates of one design), :func:`power_curve`,
  :func:`minimum_detectable_effect`.
- :func:`allocate` (:class:`Allocation`): the budget's best use from the candidates' expected
  effects (:func:`candidate_effects`) and their joint posterior draws (:func:`effect_draws`).
"""

from snr_models.plan.allocation import Allocation, allocate, candidate_effects, effect_draws
from snr_models.plan.rollout import (
    DESIGNS,
    PlannedDesign,
    RolloutPlan,
    design_grid,
    minimum_detectable_effect,
    plan_rollout,
    power_curve,
    simulate_design,
)

__all__ = [
    "DESIGNS",
    "Allocation",
    "PlannedDesign",
    "RolloutPlan",
    "allocate",
    "candidate_effects",
    "design_grid",
    "effect_draws",
    "minimum_detectable_effect",
    "plan_rollout",
    "power_curve",
    "simulate_design",
]
