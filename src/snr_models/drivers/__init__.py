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

Building blocks working on correlation matrices (a leading batch axis allowed):
:func:`subset_r2`, :func:`lmg`, :func:`relative_weights`, :func:`shapley_from_subsets`,
:func:`bootstrap_correlations`. Input checks: :func:`prepare`, :class:`CollinearityWarning`.
"""

from snr_models.drivers.asymmetric import AsymmetricDrivers, asymmetric_drivers
from snr_models.drivers.bootstrap import bootstrap_correlations
from snr_models.drivers.groups import GroupDrivers, drivers_by_group
from snr_models.drivers.importance import DriverImportance, key_drivers, pseudo_r2_shapley
from snr_models.drivers.inputs import CollinearityWarning, DriverData, prepare
from snr_models.drivers.ipa import ImportancePerformance, importance_performance
from snr_models.drivers.ordinal import (
    OrdinalLogitResult,
    fit_cumulative_logit,
    ordinal_logit,
)
from snr_models.drivers.shapley import lmg, relative_weights, shapley_from_subsets, subset_r2
from snr_models.drivers.survey import EXPERIENCE_COLUMNS, RATING_COLUMNS, survey_frame

__all__ = [
    "EXPERIENCE_COLUMNS",
    "RATING_COLUMNS",
    "AsymmetricDrivers",
    "CollinearityWarning",
    "DriverData",
    "DriverImportance",
    "GroupDrivers",
    "ImportancePerformance",
    "OrdinalLogitResult",
    "asymmetric_drivers",
    "bootstrap_correlations",
    "drivers_by_group",
    "fit_cumulative_logit",
    "importance_performance",
    "key_drivers",
    "lmg",
    "ordinal_logit",
    "prepare",
    "pseudo_r2_shapley",
    "relative_weights",
    "shapley_from_subsets",
    "subset_r2",
    "survey_frame",
]
