"""MLflow's own messages: its INFO log lines and the lines it prints on registering a model.

MLflow writes "Successfully registered model ...", "Created version ..." and run links on its
own, and draws a "Downloading artifacts" bar when it fetches a model (the champion, at the
retrain gate); under ``snr`` they stay out of the output unless ``--verbose``. This module imports
mlflow only if it is already loaded: the level is also passed on through
``MLFLOW_LOGGING_LEVEL``, which mlflow reads when it is imported.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["mlflow_prints", "set_mlflow_verbose"]

_verbose = True  # a library user sees what mlflow says; the CLI turns it down


def set_mlflow_verbose(verbose: bool) -> None:
    """Show MLflow's INFO lines and printed messages (True) or only its warnings (False)."""
    global _verbose
    _verbose = verbose
    level = "INFO" if verbose else "WARNING"
    os.environ["MLFLOW_LOGGING_LEVEL"] = level
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "false" if verbose else "true"
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "true" if verbose else "false"
    if "mlflow" in sys.modules:
        logging.getLogger("mlflow").setLevel(level)


@contextmanager
def mlflow_prints() -> Iterator[None]:
    """Around an MLflow call that prints (registering a model): silent unless verbose."""
    if _verbose:
        yield
        return
    from mlflow.utils.logging_utils import disable_logging, enable_logging

    disable_logging()
    try:
        yield
    finally:
        enable_logging()
