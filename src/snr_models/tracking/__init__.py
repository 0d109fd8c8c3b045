"""MLflow tracking: the only package of snr_models that imports mlflow.

``runs`` opens runs and logs what is safe to log; model registration and loading live in
their own modules beside it.
"""

# imported on first use (PEP 562): ``snr_models.tracking.verbosity`` is usable before mlflow,
# which takes seconds to import, is loaded
_RUNS = (
    "DEFAULT_TRACKING_URI",
    "IDENTIFIER_COLUMNS",
    "TrackedRun",
    "artifact_root",
    "ensure_experiment",
    "run_name",
    "start_run",
    "tracking_uri",
)
__all__ = list(_RUNS)


def __getattr__(name: str) -> object:
    if name in _RUNS:
        from snr_models.tracking import runs

        value = getattr(runs, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'snr_models.tracking' has no attribute {name!r}")
