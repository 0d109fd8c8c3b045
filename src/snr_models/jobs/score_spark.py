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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from snr_models import progress, threads
from snr_models.churn.scoring import make_explainer
from snr_models.data.atomic import staging_dir
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.features.signature import normalise, signature_fill
from snr_models.jobs.score import (
    OUTPUT_COLUMNS,
    ScoreResult,
    feature_chunks,
    score_frame,
    scoring_inputs,
    write_with_deciles,
)
from snr_models.jobs.spark import (
    DEFAULT_MASTER,
    quiet_pandas_warnings,
    require_pyspark,
    spark_session,
)

if TYPE_CHECKING:
    pass

__all__ = ["DEFAULT_MASTER", "score_features_spark", "score_spark"]

logger = logging.getLogger(__name__)

#: The scored columns Spark carries (the risk decile is added on the driver).
_SPARK_SCHEMA = (
    "client_id string, branch_id string, as_of timestamp_ntz, churn_probability double, "
    "expected_months_to_exit double, reason_1 string, reason_2 string, reason_3 string, "
    "model_version string"
)
_SCORED = [c for c in OUTPUT_COLUMNS if c != "risk_decile"]
#: One loaded model per Python worker, keyed by the SHA-256 of its skops bytes.
_WORKER_MODELS: dict[str, Any] = {}


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
        explainer = make_explainer(loaded.estimator) if reasons else None
        for batch in batches:
            # back through the features' own Arrow schema: the dtypes the local engine reads
            table = pa.Table.from_pandas(batch, schema=feature_schema, preserve_index=False)
            frame = normalise(table.to_pandas())
            scored = score_frame(loaded, frame, fill=fill, explainer=explainer, reasons=reasons)
            yield scored[_SCORED]

    return score_partition


def _feature_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.parquet")) if path.is_dir() else [path]


def local_master() -> str:
    """``local[N]`` with ``N`` the threads in force (:func:`snr_models.threads.limit`), else
    :data:`DEFAULT_MASTER`: Spark's tasks, one Python worker each, share the threads setting."""
    n = threads.in_force()
    return f"local[{n}]" if n is not None else DEFAULT_MASTER


@progress.job("score", ("features", "score"))
def score_spark(
    model_uri: str,
    data: str | Path | Tables,
    as_of: str,
    output: str | Path,
    *,
    master: str | None = None,
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
    master : str, optional
        Spark master URL, used if no Spark session is active; default :func:`local_master`,
        ``local[N]`` for the ``threads`` setting (each task's worker then runs one OpenMP
        and BLAS thread).
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
    require_pyspark()
    with (
        scoring_inputs(model_uri, data, as_of, output, chunk_size, memory_limit) as job,
        progress.stage("score"),  # after the features stage, which scoring_inputs opens
    ):
        n = score_features_spark(
            job.model,
            job.features,
            job.output,
            master=master or local_master(),
            chunk_size=chunk_size,
            reasons=reasons,
            staging=job.staging,
        )
    logger.info(
        "scored %d clients as of %s with version %s on Spark", n, f"{job.month:%Y-%m}", job.version
    )
    return ScoreResult(output=job.output, n_clients=n, as_of=job.month, model_version=job.version)


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
        fill = signature_fill(loaded.inputs, first)
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
