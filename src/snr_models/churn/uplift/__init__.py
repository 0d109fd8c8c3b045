"""Retention uplift: rank clients by the exits a call prevents, not by their risk.

Public API
----------
Data: :func:`join_outreach` (each targeted client's features on the eve of its campaign),
:func:`out_of_time_split` (train on earlier campaigns, test on the latest).
Estimators (scikit-learn API, ``fit(X, y, treatment)``, ``predict`` = exits prevented per
call): :class:`TwoModelUplift`, :class:`XLearnerUplift`, :class:`DRUplift`;
:func:`assignment_propensity`.
Evaluation: :func:`evaluate_uplift` returning :class:`UpliftEvaluation`; free functions
:func:`qini_curve`, :func:`uplift_curve`, :func:`qini_coefficient`, :func:`auuc_score`,
:func:`difference_in_exit_rates`.
"""

from snr_models.churn.uplift.data import (
    OUTREACH_COLUMNS,
    attach_true_uplift,
    join_outreach,
    out_of_time_split,
)
from snr_models.churn.uplift.evaluation import (
    UpliftEvaluation,
    auuc_score,
    difference_in_exit_rates,
    evaluate_uplift,
    qini_coefficient,
    qini_curve,
    uplift_curve,
)
from snr_models.churn.uplift.learners import (
    DRUplift,
    TwoModelUplift,
    XLearnerUplift,
    assignment_propensity,
)

__all__ = [
    "OUTREACH_COLUMNS",
    "DRUplift",
    "TwoModelUplift",
    "UpliftEvaluation",
    "XLearnerUplift",
    "assignment_propensity",
    "attach_true_uplift",
    "auuc_score",
    "difference_in_exit_rates",
    "evaluate_uplift",
    "join_outreach",
    "out_of_time_split",
    "qini_coefficient",
    "qini_curve",
    "uplift_curve",
]
