"""MLflow tracking: the only package of snr_models that imports mlflow.

``runs`` opens runs and logs what is safe to log; model registration and loading live in
their own modules beside it.
"""

from snr_models.tracking.runs import (
    DEFAULT_TRACKING_URI,
    IDENTIFIER_COLUMNS,
    TrackedRun,
    artifact_root,
    ensure_experiment,
    run_name,
    start_run,
    tracking_uri,
)

__all__ = [
    "DEFAULT_TRACKING_URI",
    "IDENTIFIER_COLUMNS",
    "TrackedRun",
    "artifact_root",
    "ensure_experiment",
    "run_name",
    "start_run",
    "tracking_uri",
]
