"""Attribution of net-rate changes to service interventions.

Public API:

- :func:`build_panel` / :class:`BranchPanel`: branch x month panel of S, R, E, net rate and
  intervention timing.
- :func:`att_gt` (Callaway & Sant'Anna group-time ATTs; ``.aggregate("simple" | "group" |
  "calendar" | "event")``); :func:`pretrend_permutation_test` (its pre-trend test,
  calibrated by re-assigning the roll-out dates).
- :func:`twfe` (static TWFE with negative-weight diagnostic), :func:`event_study` (dynamic
  TWFE with pre-trend test).
- :func:`estimate_joint`: every intervention on every component, jointly.
- :func:`estimate_overlap`: the world without any programme imputed (Borusyak-Jaravel-Spiess)
  with programme interactions (the two-stage imputation alone:
  :func:`snr_models.attribution.overlap.impute_untreated`).
- :func:`attribute_change`: the waterfall of the change of the firm-wide net rate
  (``overlap="shapley"``: each programme's Shapley share and the no-programme change).
- :func:`diagnose`: per intervention, the event study's pre-trend test and the TWFE weights.
- :func:`synthetic_control`, :func:`structural_impact`: one treated unit; firm-wide roll-outs.
- :func:`with_placebo_rollout`: a panel with a made-up roll-out, for placebo checks.
- Where an intervention pays: :func:`branch_effects` and :func:`segment_effects`
  (empirical-Bayes effects per branch and segment). Planning the next roll-out and spending
  the budget on them is the layer above, :mod:`snr_models.plan`.

Building blocks stay in their modules: ``regression.fe_ols`` (least squares with absorbed
fixed effects and clustered errors), ``overlap.impute_untreated``.
"""

from snr_models.attribution.diagnostics import diagnose
from snr_models.attribution.joint import JointEffects, estimate_joint
from snr_models.attribution.overlap import OverlapEffects, estimate_overlap
from snr_models.attribution.shrinkage import BranchEffects, branch_effects, segment_effects
from snr_models.attribution.staggered import (
    AggregatedATT,
    GroupTimeATT,
    att_gt,
    pretrend_permutation_test,
)
from snr_models.attribution.structural import StructuralImpactResult, structural_impact
from snr_models.attribution.synthetic import SyntheticControlResult, synthetic_control
from snr_models.attribution.twfe import EventStudyResult, TWFEResult, event_study, twfe
from snr_models.attribution.waterfall import Waterfall, attribute_change
from snr_models.metrics.panel import BranchPanel, build_panel, with_placebo_rollout

__all__ = [
    "AggregatedATT",
    "BranchEffects",
    "branch_effects",
    "segment_effects",
    "BranchPanel",
    "EventStudyResult",
    "GroupTimeATT",
    "JointEffects",
    "OverlapEffects",
    "StructuralImpactResult",
    "SyntheticControlResult",
    "TWFEResult",
    "Waterfall",
    "att_gt",
    "attribute_change",
    "diagnose",
    "build_panel",
    "estimate_joint",
    "estimate_overlap",
    "event_study",
    "pretrend_permutation_test",
    "structural_impact",
    "synthetic_control",
    "twfe",
    "with_placebo_rollout",
]
