"""Satisfaction drivers: which parts of the service move CSAT and NPS, by how much, how surely.

Public API
----------
Key driver analysis (result objects with ``summary()``, ``to_frame()``, ``plot()``):

- :func:`key_drivers` -- exact Shapley/LMG decomposition of R² from the correlation matrix
  (all 2^p subsets, no refitting) or Johnson's relative weights, with bootstrap intervals;
  returns :class:`DriverImportance`.
- :func:`pseudo_r2_shapley` -- the Shapley decomposition of McFadden's pseudo-R² of a binary
  or ordinal logit, by refitting (2^p fits).
- :func:`ordinal_logit` -- proportional-odds logit of CSAT: odds ratios with intervals,
  cut-points on the outcome's scale; :class:`OrdinalLogitResult`.
- :func:`asymmetric_drivers` -- detractor vs promoter models: dissatisfiers and delighters;
  :class:`AsymmetricDrivers`.
- :func:`importance_performance` -- the importance-performance map and ranked actions;
  :class:`ImportancePerformance`.
- :func:`drivers_by_group` -- drivers by segment or branch, differences tested;
  :class:`GroupDrivers`.
- :func:`survey_frame` -- survey responses joined to segment, branch and recent service.

Building blocks, importable from their modules (not part of ``__all__``): the rating columns
``survey.RATING_COLUMNS`` and ``survey.EXPERIENCE_COLUMNS``; on correlation
matrices (a leading batch axis allowed) :func:`~snr_models.drivers.shapley.subset_r2`,
:func:`~snr_models.drivers.shapley.lmg`, :func:`~snr_models.drivers.shapley.relative_weights`,
:func:`~snr_models.drivers.shapley.shapley_from_subsets`,
:func:`~snr_models.drivers.bootstrap.bootstrap_correlations`; input checks
:func:`~snr_models.drivers.inputs.prepare` (warns with :class:`CollinearityWarning`).
"""

from snr_models.drivers.asymmetric import AsymmetricDrivers, asymmetric_drivers
from snr_models.drivers.groups import GroupDrivers, drivers_by_group
from snr_models.drivers.importance import DriverImportance, key_drivers, pseudo_r2_shapley
from snr_models.drivers.inputs import CollinearityWarning
from snr_models.drivers.ipa import ImportancePerformance, importance_performance
from snr_models.drivers.ordinal import OrdinalLogitResult, ordinal_logit
from snr_models.drivers.survey import survey_frame

__all__ = [
    "AsymmetricDrivers",
    "CollinearityWarning",
    "DriverImportance",
    "GroupDrivers",
    "ImportancePerformance",
    "OrdinalLogitResult",
    "asymmetric_drivers",
    "drivers_by_group",
    "importance_performance",
    "key_drivers",
    "ordinal_logit",
    "pseudo_r2_shapley",
    "survey_frame",
]
