"""Churn: calibrated and time-to-exit models, profit-aware evaluation, reasons per client.

Public API
----------
Estimators (scikit-learn compatible, take the feature frame of :mod:`snr_models.features`):
:class:`ChurnLogit`, :class:`ChurnBoost`, :class:`HazardModel`.
Backtest: :func:`rolling_origin_backtest`, :class:`BacktestResult`.
Model choice on the backtest, with a nested estimate of its accuracy: :func:`select_model`,
:class:`Candidate`, :class:`ModelChoice`.
Evaluation (free functions): :mod:`snr_models.churn.evaluation`.
Reasons: :func:`explain`, :func:`top_reasons`, :func:`permutation_importance_frame`,
:func:`partial_dependence`.
Scoring: :func:`score_clients`, :func:`call_list`, :func:`risk_deciles`,
:func:`expected_months_to_exit` (what ``snr score`` writes per client).
Retention uplift (who to call: the exits a call prevents, learnt from campaigns with a random
holdout): :mod:`snr_models.churn.uplift`.
"""

from snr_models.churn.backtest import BacktestResult, rolling_origin_backtest
from snr_models.churn.boost import AdditivityError, ChurnBoost
from snr_models.churn.design import UnseenCategoryWarning
from snr_models.churn.evaluation import (
    EMPC,
    empc,
    evaluate,
    expected_retained_value,
    lift_table,
    plot_lift,
    plot_reliability,
    plot_roc,
)
from snr_models.churn.hazard import HazardModel
from snr_models.churn.logit import ChurnLogit
from snr_models.churn.reasons import (
    explain,
    partial_dependence,
    permutation_importance_frame,
    plot_importance,
    plot_partial_dependence,
    top_reasons,
)
from snr_models.churn.scoring import (
    call_list,
    expected_months_to_exit,
    risk_deciles,
    score_clients,
)
from snr_models.churn.selection import Candidate, ModelChoice, select_model

__all__ = [
    "EMPC",
    "AdditivityError",
    "BacktestResult",
    "Candidate",
    "ChurnBoost",
    "ChurnLogit",
    "HazardModel",
    "ModelChoice",
    "UnseenCategoryWarning",
    "call_list",
    "empc",
    "evaluate",
    "expected_months_to_exit",
    "expected_retained_value",
    "explain",
    "lift_table",
    "partial_dependence",
    "permutation_importance_frame",
    "plot_importance",
    "plot_partial_dependence",
    "plot_lift",
    "plot_reliability",
    "plot_roc",
    "risk_deciles",
    "rolling_origin_backtest",
    "score_clients",
    "select_model",
    "top_reasons",
]
