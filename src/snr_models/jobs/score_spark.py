"""Batch scoring on Apache Spark: ``snr score --engine spark``.

:func:`score_spark` writes the same call list as :func:`snr_models.jobs.score.score`, row
for row (same columns, dtypes and values), with the per-client work (probability, expected
months to exit, the three exact TreeSHAP reasons) spread over Spark's executors:

1. the as-of features are built on the driver with the local engine's code
   (:func:`~snr_models.jobs.score.write_as_of_features`) into a temporary folder next to the
   output;
2. the model is loaded on the driver exactly as locally
   (:func:`~snr_models.tracking.models.load_registered_model`: the registry's SHA-256, the
   skops allow-list) and the first rows are checked against its signature before Spark
   starts, with the same errors;
3. Spark reads the features Parquet and scores it with ``mapInPandas``, each batch of at
   most ``chunk_size`` clients through :func:`~snr_models.jobs.score.score_frame`. The
   verified skops bytes are broadcast, and each Python worker checks their SHA-256 again
   and loads them with the same allow-list (no pickled estimator travels);
4. the scored parts are written by Spark to the temporary folder; the driver then reads
   their probabilities (8 bytes a client), cuts the risk deciles over the whole run with
   :func:`~snr_models.jobs.score.risk_deciles` and combines the parts into the single
   output file, renamed into place (:func:`~snr_models.jobs.score.write_with_deciles`): a
   failure leaves no partial file and never harms an existing one.

The features, the scored parts and Spark's scratch space (``spark.local.dir``) live in a
temporary folder beside the output: on a cluster (``master`` other than ``local[...]``) it
must be on a file system that the driver and every executor share, and the executors need
this package (``pip install snr_models[spark]``) in the Python that ``PYSPARK_PYTHON``
names.

Environment: ``PYSPARK_PYTHON`` and ``PYSPARK_DRIVER_PYTHON`` default to this interpreter
and ``SPARK_LOCAL_IP`` to ``127.0.0.1``. PySpark 4 warns that it does not yet fully support
pandas 3; that warning (and pandas' deprecation warnings raised inside PySpark's own
modules) is silenced here and on the executors, no other warning is.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from snr_models.data.atomic import staging_dir
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.features import parse_month
from snr_models.jobs.score import (
    OUTPUT_COLUMNS,
    ScoreResult,
    _make_explainer,
    _normalise,
    feature_chunks,
    score_frame,
    signature_fill,
    write_as_of_features,
    write_with_deciles,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "DEFAULT_MASTER",
    "SparkUnavailableError",
    "quiet_pandas_warnings",
    "score_features_spark",
    "score_spark",
    "spark_environment",
    "spark_session",
]

logger = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"
#: The start of PySpark's FutureWarning about pandas 3.
PANDAS_WARNING = "PySpark does not yet fully support pandas"
#: The same filter for the executors' Python workers (``PYTHONWARNINGS`` syntax).
_WORKER_FILTER = f"ignore:{PANDAS_WARNING}:FutureWarning"
#: The scored columns Spark carries (the risk decile is added on the driver).
_SPARK_SCHEMA = (
    "client_id string, branch_id string, as_of timestamp_ntz, churn_probability double, "
    "expected_months_to_exit double, reason_1 string, reason_2 string, reason_3 string, "
    "model_version string"
)
_SCORED = [c for c in OUTPUT_COLUMNS if c != "risk_decile"]
#: One loaded model per Python worker, keyed by the SHA-256 of its skops bytes.
_WORKER_MODELS: dict[str, Any] = {}


class SparkUnavailableError(SnrInputError):
    """pyspark is not installed (it is the optional extra ``spark``)."""


def _require_pyspark() -> None:
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
    _require_pyspark()
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
    if local_dir is not None:
        builder = builder.config("spark.local.dir", str(local_dir))
    with quiet_pandas_warnings():
        spark = builder.getOrCreate()
    try:
        spark.sparkContext.setLogLevel("WARN")
        yield spark
    finally:
        spark.stop()


def _worker_model(blob: Any, record: Any, inputs: list[tuple[str, str]]) -> Any:
    """The model on an executor: the broadcast skops bytes, checked and allow-listed."""
    from snr_models.tracking.models import (
        LoadedChurnModel,
        TamperedModelError,
        load_skops_bytes,
    )

    data = blob.value
    digest = hashlib.sha256(data).hexdigest()  # every partition checks the bytes it got
    if digest != record.sha256:
        raise TamperedModelError(
            f"{record.name} version {record.version}: the model bytes received by the "
            "executor differ from the registry's record; refusing to load them"
        )
    loaded = _WORKER_MODELS.get(digest)
    if loaded is None:
        estimator = load_skops_bytes(data)
        loaded = LoadedChurnModel(estimator=estimator, record=record, inputs=inputs, profile=None)
        _WORKER_MODELS.clear()
        _WORKER_MODELS[digest] = loaded
    return loaded


def _scorer(
    blob: Any,
    record: Any,
    inputs: list[tuple[str, str]],
    feature_schema: pa.Schema,
    fill: list[str],
    reasons: bool,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The ``mapInPandas`` function: each partition's batches through ``score_frame``."""

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        loaded = _worker_model(blob, record, inputs)
        explainer = _make_explainer(loaded.estimator) if reasons else None
        for batch in batches:
            # back through the features' own Arrow schema: the dtypes the local engine reads
            table = pa.Table.from_pandas(batch, schema=feature_schema, preserve_index=False)
            frame = _normalise(table.to_pandas())
            scored = score_frame(loaded, frame, fill=fill, explainer=explainer, reasons=reasons)
            yield scored[_SCORED]

    return score_partition


def _feature_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def score_spark(
    model_uri: str,
    data: str | Path | Tables,
    as_of: str,
    output: str | Path,
    *,
    master: str = DEFAULT_MASTER,
    chunk_size: int = 100_000,
    reasons: bool = True,
    memory_limit: str | None = "2GB",
) -> ScoreResult:
    """Score every client open at the end of ``as_of`` on Spark and write the call list.

    The output equals :func:`snr_models.jobs.score.score`'s (same columns, dtypes and
    values; rows may come in another order).

    Parameters
    ----------
    model_uri : str
        A registry URI, e.g. ``models:/snr-churn@champion``.
    data : str, Path or Tables
        A Parquet folder, a DuckDB file, or tables.
    as_of : str
        ``YYYY-MM``.
    output : str or Path
        A ``.parquet`` file (one file, not a Spark folder), written atomically.
    master : str, default "local[2]"
        Spark master URL, used if no Spark session is active.
    chunk_size : int, default 100_000
        Clients scored at a time by a worker (Arrow batch size).
    reasons : bool, default True
        Compute the three reasons per client.
    memory_limit : str, optional
        DuckDB's memory limit for the feature build.

    Raises
    ------
    SparkUnavailableError
        If pyspark is not installed.
    SnrInputError
        As :func:`~snr_models.jobs.score.score`: the output is not ``.parquet``, the as-of
        month lies outside the data, the model cannot be found or fails its checks, or the
        data do not match its signature; all before Spark starts.
    """
    from snr_models.tracking.models import load_registered_model

    output = Path(output)
    if output.suffix.lower() != ".parquet":
        raise SnrInputError(f"--output {output}: expected a .parquet file name")
    if chunk_size < 1:
        raise SnrInputError(f"chunk size must be at least 1, got {chunk_size}")
    _require_pyspark()
    month = parse_month(as_of)
    loaded = load_registered_model(model_uri)
    with staging_dir(output) as stage:
        features = write_as_of_features(
            data, month, stage / "features.parquet", chunk_size, memory_limit
        )
        n = score_features_spark(
            loaded,
            features,
            output,
            master=master,
            chunk_size=chunk_size,
            reasons=reasons,
            staging=stage,
        )
    logger.info(
        "scored %d clients as of %s with version %s on Spark",
        n,
        f"{month:%Y-%m}",
        loaded.version,
    )
    return ScoreResult(output=output, n_clients=n, as_of=month, model_version=str(loaded.version))


def score_features_spark(
    loaded: Any,
    features: Path,
    output: Path,
    *,
    master: str = DEFAULT_MASTER,
    chunk_size: int = 100_000,
    reasons: bool = True,
    staging: Path | None = None,
) -> int:
    """Score a features Parquet file (or folder of parts) on Spark into ``output``.

    The Spark counterpart of ``write_scored(score_chunks(loaded, features, ...), output)``:
    the first rows are checked against the model's signature on the driver (before Spark
    starts), Spark scores the rows into temporary Parquet parts beside ``output``, and the
    driver adds the run's risk deciles and writes the one output file atomically.

    Parameters
    ----------
    loaded : LoadedChurnModel
        From :func:`~snr_models.tracking.models.load_registered_model` (with its verified
        skops bytes).
    features : Path
        From :func:`~snr_models.jobs.score.write_as_of_features`.
    output : Path
        The ``.parquet`` file to write.
    master, chunk_size, reasons
        As :func:`score_spark`.
    staging : Path, optional
        The run's staging folder (:func:`~snr_models.data.atomic.staging_dir`; default: one
        of its own).

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    SnrInputError
        If the features do not match the model's signature, or the model has no verified
        skops bytes.
    """
    if not loaded.skops:
        raise SnrInputError(
            f"model version {loaded.version}: the verified skops bytes are missing "
            "(load it with load_registered_model)"
        )
    output = Path(output)
    with contextlib.ExitStack() as stack:
        stage = Path(staging) if staging else stack.enter_context(staging_dir(output))
        first = next(feature_chunks(features, min(chunk_size, 1_000)), None)
        if first is None:  # nobody open at the as-of month: an empty call list, as locally
            return write_with_deciles([], output, stage)
        fill = signature_fill(loaded, first)
        del first
        tmp = stage / "spark"
        tmp.mkdir()
        staged = tmp / "scored"
        _run_spark(loaded, features, staged, fill, master, chunk_size, reasons, tmp)
        return write_with_deciles(sorted(staged.glob("part-*.parquet")), output, stage)


def _run_spark(
    loaded: Any,
    features: Path,
    staged: Path,
    fill: list[str],
    master: str,
    chunk_size: int,
    reasons: bool,
    work: Path,
) -> None:
    """Score the features on Spark into a folder of Parquet parts at ``staged``."""
    files = _feature_files(features)
    feature_schema = pq.read_schema(files[0]).remove_metadata()
    row_groups = sum(pq.ParquetFile(f).num_row_groups for f in files)
    (work / "spark-local").mkdir()
    with (
        quiet_pandas_warnings(),
        spark_session(master, local_dir=work / "spark-local") as spark,
    ):
        # runtime settings of this job, restored afterwards (the session may be a caller's):
        # batches of ``chunk_size`` rows, and timestamps read and written as UTC wall clock
        settings = {
            "spark.sql.execution.arrow.maxRecordsPerBatch": str(chunk_size),
            "spark.sql.session.timeZone": "UTC",
        }
        previous = {key: spark.conf.get(key, None) for key in settings}
        for key, value in settings.items():
            spark.conf.set(key, value)
        blob = spark.sparkContext.broadcast(loaded.skops)
        try:
            frame = spark.read.parquet(*(str(f) for f in files))
            parallelism = spark.sparkContext.defaultParallelism
            if row_groups < parallelism:  # a small file is one split: spread its rows
                frame = frame.repartition(parallelism)
            score_partition = _scorer(
                blob, loaded.record, loaded.inputs, feature_schema, fill, reasons
            )
            scored = frame.mapInPandas(score_partition, schema=_SPARK_SCHEMA)
            scored.write.mode("error").parquet(str(staged))
        finally:
            blob.destroy()
            for key, value in previous.items():
                if value is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, value)
