"""Point-in-time client features and churn labels, shared by churn training and scoring.

Public API: :func:`build_features`, :func:`write_features`, :func:`feature_columns`,
:data:`CATEGORICAL_FEATURES`, :data:`ID_COLUMNS`, :data:`LABEL_COLUMNS`,
:class:`FeatureWarning`.
"""

from snr_models.features.build import (
    FeatureWarning,
    build_features,
    feature_columns,
    parse_month,
    write_features,
)
from snr_models.features.labels import LABEL_COLUMNS
from snr_models.features.sql import CATEGORICAL_FEATURES, ID_COLUMNS, TICKET_CATEGORIES, WINDOWS

__all__ = [
    "CATEGORICAL_FEATURES",
    "ID_COLUMNS",
    "LABEL_COLUMNS",
    "TICKET_CATEGORIES",
    "WINDOWS",
    "FeatureWarning",
    "build_features",
    "feature_columns",
    "parse_month",
    "write_features",
]
