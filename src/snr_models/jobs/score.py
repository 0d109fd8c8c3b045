"""Batch scoring: the call list from a registered churn model, streamed with bounded memory.

:func:`score` builds the as-of month's point-in-time features with the same code as training
(:func:`snr_models.features.write_features` streams them to a temporary Parquet file, in
client buckets, within DuckDB's memory limit), then reads them back in chunks of
``chunk_size`` clients and writes per client:

- ``churn_probability``, ``risk_decile``, ``expected_months_to_exit``, ``reason_1..3``: from
  :mod:`snr_models.churn.scoring` (the deciles over the whole run);
- ``model_version``;
- with ``rank="uplift"`` or ``"value"``: ``uplift`` (exits prevented per call, from a learner
  fitted on the data's past retention campaigns, :mod:`snr_models.jobs.uplift`),
  ``call_value`` (``uplift x client value - call cost``) and ``call_rank`` (1 = call first,
  by the chosen column); ``rank="risk"`` (the default) writes the columns above only.

The model is loaded with :func:`snr_models.tracking.models.load_registered_model` (SHA-256
checked against the registry's record, skops allow-list; no pickle) and the features are
checked against its signature (:mod:`snr_models.features.signature`) before any row is
scored; :func:`scoring_inputs` does both for the local and the Spark engine. The output is
written to a temporary sibling and renamed: a failure leaves no partial file and never harms
an existing one. Memory is bounded by ``chunk_size`` (plus 8 bytes per client for the deciles).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from snr_models import progress
from snr_models.churn.scoring import (
    make_explainer,
    model_columns,
    risk_deciles,
    score_clients,
)
from snr_models.data.atomic import atomic_path, staging_dir
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.features import parse_month
from snr_models.features.build import write_as_of_features
from snr_models.features.signature import normalise, signature_fill
from snr_models.jobs.config import UpliftSettings
from snr_models.jobs.uplift import RANKINGS, fit_uplift, with_uplift

__all__ = [
    "OUTPUT_COLUMNS",
    "ScoreResult",
    "feature_chunks",
    "score",
    "score_chunks",
    "scoring_inputs",
    "score_frame",
    "write_as_of_features",
    "write_scored",
    "write_with_deciles",
]

logger = logging.getLogger(__name__)

#: Columns of the scoring output, in order.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "client_id",
    "branch_id",
    "as_of",
    "churn_probability",
    "risk_decile",
    "expected_months_to_exit",
    "reason_1",
    "reason_2",
    "reason_3",
    "model_version",
)


def score_frame(
    loaded: Any,
    frame: pd.DataFrame,
    *,
    fill: list[str] | None = None,
    explainer: Any = None,
    reasons: bool = True,
) -> pd.DataFrame:
    """Score one chunk of features (everything but the risk decile).

    Parameters
    ----------
    loaded : LoadedChurnModel
        From :func:`snr_models.tracking.models.load_registered_model`.
    frame : DataFrame
        Features of :func:`~snr_models.features.build_features` (one as-of month).
    fill : list of str, optional
        Exposure columns to score as 0 (from :func:`check_signature`).
    explainer : callable, optional
        From :func:`snr_models.churn.make_explainer`, reused between chunks (the boosting
        model's explainer caches per-tree values).
    reasons : bool, default True
        Compute ``reason_1..3`` (else they are empty).

    Returns
    -------
    DataFrame
        The output columns but ``risk_decile``.
    """
    model = loaded.estimator
    frame = normalise(frame)
    if fill:
        frame = frame.assign(**{c: 0.0 for c in fill})
    X = frame[model_columns(model)]
    scores = score_clients(model, X, horizon=loaded.horizon, reasons=reasons, explainer=explainer)
    ids = frame[["client_id", "branch_id", "as_of"]]
    out = pd.concat([ids, scores], axis=1)
    out["model_version"] = str(loaded.version)
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score` wrote."""

    output: Path
    n_clients: int
    as_of: pd.Timestamp
    model_version: str = ""


def _chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    # one row group at a time: ``iter_batches`` reads ahead and holds ~1 GB per million rows
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    for file in files:
        handle = pq.ParquetFile(file)
        for group in range(handle.num_row_groups):
            table = handle.read_row_group(group)
            for start in range(0, table.num_rows, chunk_size):
                yield table.slice(start, chunk_size).to_pandas()
            del table


#: Columns added by ``rank="uplift"`` or ``"value"``.
RANK_COLUMNS = pa.schema(
    [("uplift", pa.float64()), ("call_value", pa.float64()), ("call_rank", pa.int64())]
)

_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("branch_id", pa.string()),
        ("as_of", pa.timestamp("us")),
        ("churn_probability", pa.float64()),
        ("risk_decile", pa.int8()),
        ("expected_months_to_exit", pa.float64()),
        ("reason_1", pa.string()),
        ("reason_2", pa.string()),
        ("reason_3", pa.string()),
        ("model_version", pa.string()),
    ]
)


def _schemas(rank_by: str | None) -> tuple[pa.Schema, pa.Schema]:
    """The output schema, and the staged one (no ``risk_decile``, no ``call_rank``)."""
    final = _SCHEMA
    if rank_by is not None:
        for f in RANK_COLUMNS:
            final = final.append(f)
    staged = final.remove(final.get_field_index("risk_decile"))
    if rank_by is not None:
        staged = staged.remove(staged.get_field_index("call_rank"))
    return final, staged


def write_scored(
    parts: Iterator[pd.DataFrame],
    output: Path,
    staging: Path | None = None,
    *,
    rank_by: str | None = None,
) -> int:
    """Write scored chunks to ``output`` atomically, adding the risk decile (two passes).

    The chunks go to a temporary file first (in ``staging``, default: a
    :func:`~snr_models.data.atomic.staging_dir` of its own); the deciles need every
    probability (8 bytes a client), then the file is rewritten row group by row group with
    ``risk_decile`` (and, with ``rank_by``, the chunks carry ``uplift`` and ``call_value``
    and the output gains ``call_rank`` by the ``rank_by`` column).

    Returns
    -------
    int
        Rows written.
    """
    output = Path(output)
    with contextlib.ExitStack() as stack:
        stage = Path(staging) if staging else stack.enter_context(staging_dir(output))
        staged = stage / "scored.parquet"
        writer = None
        _, schema = _schemas(rank_by)
        for part in parts:
            table = pa.Table.from_pandas(
                part[[f.name for f in schema]], schema=schema, preserve_index=False
            )
            if writer is None:
                writer = pq.ParquetWriter(staged, schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
        return write_with_deciles(
            [staged] if writer is not None else [], output, stage, rank_by=rank_by
        )


def write_with_deciles(
    staged: list[Path],
    output: Path,
    staging: Path | None = None,
    *,
    rank_by: str | None = None,
) -> int:
    """Combine staged scored Parquet files into ``output`` atomically, adding the decile.

    The second pass of :func:`write_scored`, shared with the Spark engine: the risk deciles
    are cut on every probability of the run (:func:`risk_deciles`; 8 bytes a client), then
    the files are copied row group by row group, in the given order, with ``risk_decile``
    added and the columns cast to the output schema.

    Parameters
    ----------
    staged : list of Path
        Parquet files with every output column but ``risk_decile``.
    output : Path
        The final ``.parquet`` file (an existing one is replaced only on success).
    staging : Path, optional
        The run's staging folder, where the output is assembled before its rename.
    rank_by : str, optional
        A staged column (``churn_probability``, ``uplift`` or ``call_value``): adds
        ``call_rank``, 1 for the highest value (8 more bytes a client).

    Returns
    -------
    int
        Rows written.
    """
    final_schema, schema = _schemas(rank_by)
    probs = [
        pq.read_table(file, columns=["churn_probability"])["churn_probability"].to_numpy()
        for file in staged
    ]
    p = np.concatenate(probs) if probs else np.zeros(0)
    deciles = risk_deciles(p)
    ranks = None
    if rank_by is not None:
        from snr_models.jobs.uplift import call_ranks

        values = [pq.read_table(file, columns=[rank_by])[rank_by].to_numpy() for file in staged]
        ranks = call_ranks(np.concatenate(values) if values else np.zeros(0))
    with atomic_path(output, staging=staging) as final:
        out = pq.ParquetWriter(final, final_schema)
        start = 0
        for file in staged:
            handle = pq.ParquetFile(file)
            for g in range(handle.num_row_groups):
                table = handle.read_row_group(g).select(schema.names).cast(schema)
                stop = start + table.num_rows
                table = table.add_column(
                    final_schema.get_field_index("risk_decile"),
                    final_schema.field("risk_decile"),
                    pa.array(deciles[start:stop], type=pa.int8()),
                )
                if ranks is not None:
                    table = table.append_column(
                        final_schema.field("call_rank"), pa.array(ranks[start:stop], pa.int64())
                    )
                out.write_table(table)
                start = stop
        out.close()
    return len(p)


@progress.job("score", ("features", "score"))
def score(
    model_uri: str,
    data: str | Path | Tables,
    as_of: str,
    output: str | Path,
    *,
    chunk_size: int = 100_000,
    reasons: bool = True,
    memory_limit: str | None = "2GB",
    rank: str = "risk",
    uplift: UpliftSettings | None = None,
    horizon: int = 3,
) -> ScoreResult:
    """Score every client open at the end of ``as_of`` and write the call list (Parquet).

    Parameters
    ----------
    model_uri : str
        A registry URI, e.g. ``models:/snr-churn@champion``.
    data : str, Path or Tables
        A Parquet folder (features stream from disk), a DuckDB file, or tables.
    as_of : str
        ``YYYY-MM``.
    output : str or Path
        A ``.parquet`` file, written atomically.
    chunk_size : int, default 100_000
        Clients scored at a time.
    reasons : bool, default True
        Compute the three reasons per client.
    memory_limit : str, optional
        DuckDB's memory limit for the feature build.
    rank : {"risk", "uplift", "value"}, default "risk"
        What ``call_rank`` orders by: ``uplift`` and ``value`` fit ``uplift.learner`` on the
        data's past retention campaigns (the optional ``outreach`` table) first.
    uplift : UpliftSettings, optional
        The learner, client value and call cost (default: :class:`UpliftSettings`).
    horizon : int, default 3
        The churn horizon the uplift learner is fitted for (months).

    Raises
    ------
    SnrInputError
        If the output is not ``.parquet``, the as-of month lies outside the data, the model
        cannot be found or fails its checks, the data do not match its signature, or
        ``rank`` needs campaigns the data do not hold.
    """
    if rank not in RANKINGS:
        raise SnrInputError(f"--rank {rank!r}: expected one of {', '.join(RANKINGS)}")
    fitted = None
    if rank != "risk":
        fitted = fit_uplift(data, parse_month(as_of), uplift or UpliftSettings(), horizon=horizon)
    with scoring_inputs(model_uri, data, as_of, output, chunk_size, memory_limit) as job:
        scored = score_chunks(job.model, job.features, chunk_size, reasons)
        if fitted is not None:
            scored = with_uplift(scored, feature_chunks(job.features, chunk_size), fitted)
        with progress.stage("score"):
            n = write_scored(
                scored, job.output, job.staging, rank_by=RANKINGS[rank] if fitted else None
            )
    logger.info("scored %d clients as of %s with version %s", n, f"{job.month:%Y-%m}", job.version)
    return ScoreResult(output=job.output, n_clients=n, as_of=job.month, model_version=job.version)


@dataclass(frozen=True)
class ScoringInputs:
    """A scoring run's checked arguments, its model and its features file."""

    output: Path
    month: pd.Timestamp
    model: Any
    features: Path
    staging: Path

    @property
    def version(self) -> str:
        """The model's registered version."""
        return str(self.model.version)


@contextmanager
def scoring_inputs(
    model_uri: str,
    data: str | Path | Tables,
    as_of: str,
    output: str | Path,
    chunk_size: int,
    memory_limit: str | None,
) -> Iterator[ScoringInputs]:
    """Check a scoring run's arguments, load its model, write its features (both engines).

    The features live in the run's staging folder
    (:func:`~snr_models.data.atomic.staging_dir`) until the block ends.

    Raises
    ------
    SnrInputError
        If the output is not ``.parquet``, ``chunk_size`` < 1, the as-of month lies outside
        the data, or the model cannot be found or fails its checks.
    """
    from snr_models.tracking.models import load_registered_model

    output = Path(output)
    if output.suffix.lower() != ".parquet":
        raise SnrInputError(f"--output {output}: expected a .parquet file name")
    if chunk_size < 1:
        raise SnrInputError(f"chunk size must be at least 1, got {chunk_size}")
    month = parse_month(as_of)
    loaded = load_registered_model(model_uri)
    with staging_dir(output) as stage:
        with progress.stage("features"):
            features = write_as_of_features(
                data, month, stage / "features.parquet", chunk_size, memory_limit
            )
        yield ScoringInputs(
            output=output, month=month, model=loaded, features=features, staging=stage
        )


def feature_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """A features Parquet file (or folder of parts) in chunks of at most ``chunk_size`` rows.

    Read one row group at a time, with the dtypes of
    :func:`~snr_models.features.build_features` (str ids, microsecond dates).
    """
    for chunk in _chunks(path, chunk_size):
        yield normalise(chunk)


def score_chunks(
    loaded: Any, features: Path, chunk_size: int, reasons: bool = True
) -> Iterator[pd.DataFrame]:
    """Score a features Parquet file (or folder of parts) chunk by chunk.

    The first chunk is checked against the model's signature; the boosting explainer's
    per-tree cache is shared by all chunks.

    Yields
    ------
    DataFrame
        Scored chunks (see :func:`score_frame`), ready for :func:`write_scored`.
    """
    explainer = make_explainer(loaded.estimator) if reasons else None
    fill: list[str] | None = None
    for chunk in progress.track(feature_chunks(features, chunk_size), "chunks"):
        if fill is None:
            fill = signature_fill(loaded.inputs, chunk, stacklevel=3)
        yield score_frame(loaded, chunk, fill=fill, explainer=explainer, reasons=reasons)
