"""Spark sessions for the Spark scoring engine: environment, warnings, start and stop."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from snr_models.errors import SnrInputError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "DEFAULT_MASTER",
    "SparkUnavailableError",
    "quiet_pandas_warnings",
    "require_pyspark",
    "spark_environment",
    "spark_session",
]

DEFAULT_MASTER = "local[2]"
#: The start of PySpark's FutureWarning about pandas 3.
PANDAS_WARNING = "PySpark does not yet fully support pandas"
#: The same filter for the executors' Python workers (``PYTHONWARNINGS`` syntax).
_WORKER_FILTER = f"ignore:{PANDAS_WARNING}:FutureWarning"


class SparkUnavailableError(SnrInputError):
    """pyspark is not installed (it is the optional extra ``spark``)."""


def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailableError(
            "--engine spark needs pyspark, which is not installed: "
            "pip install 'snr_models[spark]' (Java 17 or later must be on the PATH)"
        ) from None


def spark_environment() -> None:
    """Set PySpark's environment defaults (variables already set are kept).

    ``PYSPARK_PYTHON`` and ``PYSPARK_DRIVER_PYTHON`` = this interpreter (executors must
    import ``snr_models`` and the same pandas, pyarrow and scikit-learn), and
    ``SPARK_LOCAL_IP`` = ``127.0.0.1``.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@contextmanager
def quiet_pandas_warnings() -> Iterator[None]:
    """Silence PySpark's warning that it does not yet fully support pandas 3.

    Also pandas' own deprecation warnings raised from PySpark's modules (pandas 4 changes
    that PySpark's code has still to follow). Every other warning still shows.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
        for category in _pandas_deprecations():
            warnings.filterwarnings("ignore", category=category, module=r"pyspark\.")
        yield


def _pandas_deprecations() -> list[type[Warning]]:
    errors = pd.errors
    return [getattr(errors, n) for n in dir(errors) if n.startswith("Pandas") and "Warning" in n]


@contextmanager
def spark_session(
    master: str = DEFAULT_MASTER,
    *,
    local_dir: str | Path | None = None,
    driver_memory: str = "1g",
) -> Iterator[SparkSession]:
    """A Spark session for scoring, stopped on exit if this call created it.

    An active session (e.g. a notebook's or a test module's) is used as it is and left
    running; ``master``, ``local_dir`` and ``driver_memory`` then do not apply.

    Parameters
    ----------
    master : str, default "local[2]"
        Spark master URL: ``local[N]``, ``spark://host:7077``, ``yarn``, ...
    local_dir : str or Path, optional
        Spark's scratch space (``spark.local.dir``); a private folder avoids clashes
        between concurrent runs.
    driver_memory : str, default "1g"
        The driver JVM's heap (the Python driver holds 8 bytes a client besides).

    Yields
    ------
    SparkSession
        With the UI off, log level WARN and session time zone UTC.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    spark_environment()
    worker_warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), _WORKER_FILTER]))
    builder = (
        SparkSession.builder.master(master)
        .appName("snr-score")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "WARN")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.debug.maxToStringFields", "1000")
        .config("spark.executorEnv.PYTHONWARNINGS", worker_warnings)
    )
    # Spark runs a task per core, one Python worker each: one OpenMP and BLAS thread per
    # worker, so that the tasks do not oversubscribe the cores between them
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        builder = builder.config(f"spark.executorEnv.{var}", "1")
    if local_dir is not None:
        builder = builder.config("spark.local.dir", str(local_dir))
    with quiet_pandas_warnings():
        spark = builder.getOrCreate()
    try:
        spark.sparkContext.setLogLevel("WARN")
        yield spark
    finally:
        spark.stop()
