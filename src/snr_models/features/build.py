"""Build point-in-time client features (and optionally churn labels) for as-of months.

The same function serves training (many as-of months, with labels) and scoring (one as-of
month, no labels): both run :func:`snr_models.features.sql.feature_sql` on DuckDB, over the
caller's in-memory :class:`~snr_models.data.Tables` or straight over a Parquet directory.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

from snr_models.data.atomic import atomic_path
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.features.labels import LABEL_COLUMNS
from snr_models.features.source import FeatureSource, connect
from snr_models.features.sql import (
    CATEGORICAL_FEATURES,
    ID_COLUMNS,
    feature_sql,
    month_index,
    rates_sql,
)

__all__ = [
    "FeatureWarning",
    "build_features",
    "feature_columns",
    "parse_month",
    "write_as_of_features",
    "write_features",
]

logger = logging.getLogger(__name__)

AsOf = str | pd.Timestamp | Sequence[str | pd.Timestamp] | None
_DIAGNOSTIC_COLUMNS = ("_has_snapshot", "_missing_12m")


class FeatureWarning(UserWarning):
    """The data allow features, but some are missing for a reason the analyst should know."""


def parse_month(value: str | pd.Timestamp) -> pd.Timestamp:
    """Parse ``"YYYY-MM"`` (or any date) to the first day of its month.

    Raises
    ------
    SnrInputError
        If ``value`` is not a month.

    Examples
    --------
    >>> parse_month("2024-05")
    Timestamp('2024-05-01 00:00:00')
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise SnrInputError(f"as-of month {value!r} is not a month (expected YYYY-MM)") from exc
    if ts is pd.NaT:
        raise SnrInputError(f"as-of month {value!r} is not a month (expected YYYY-MM)")
    return pd.Timestamp(year=ts.year, month=ts.month, day=1)


def _mi(ts: pd.Timestamp) -> int:
    return ts.year * 12 + ts.month - 1


def _label(mi: int) -> str:
    return f"{mi // 12:04d}-{mi % 12 + 1:02d}"


def _data_range(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    row = con.sql(
        f"SELECT min({month_index('month')}), max({month_index('month')}) FROM client_months"
    ).fetchall()[0]
    if row[0] is None:
        raise SnrInputError("features: client_months is empty; there is no month to build")
    return int(row[0]), int(row[1])


def _resolve_as_of(as_of: AsOf, first: int, last: int) -> list[int]:
    if as_of is None:
        return list(range(first, last + 1))
    values = [as_of] if isinstance(as_of, str | pd.Timestamp) else list(as_of)
    if not values:
        raise SnrInputError("features: no as-of month given")
    months = sorted({_mi(parse_month(v)) for v in values})
    outside = [m for m in months if m < first or m > last]
    if outside:
        raise SnrInputError(
            f"as-of month {_label(outside[0])} is outside the data: client_months covers "
            f"{_label(first)} to {_label(last)}"
        )
    return months


def _intervention_names(con: duckdb.DuckDBPyConnection, hi: int) -> list[str]:
    rows = con.sql(
        f"SELECT DISTINCT CAST(intervention AS VARCHAR) FROM interventions "
        f"WHERE {month_index('start_date')} <= {hi} ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def _plan(
    con: duckdb.DuckDBPyConnection,
    as_of: AsOf,
    horizon: int | None,
    bucket: tuple[int, int] | None = None,
    rates_table: str | None = None,
) -> tuple[str, list[int]]:
    first, last = _data_range(con)
    months = _resolve_as_of(as_of, first, last)
    lo, hi = months[0], months[-1]
    sql = feature_sql(
        lo,
        hi,
        first,
        _intervention_names(con, hi),
        horizon=horizon,
        last_mi=last,
        bucket=bucket,
        rates_table=rates_table,
    )
    if len(months) != hi - lo + 1:
        listed = ", ".join(str(m) for m in months)
        sql = f"SELECT * FROM ({sql}) WHERE {month_index('as_of')} IN ({listed})"
    return sql, months


def _report(frame: pd.DataFrame, strict: bool) -> None:
    n = len(frame)
    no_snapshot = int((frame["_has_snapshot"] == 0).sum())
    gaps = int((frame["_missing_12m"] > 0).sum())
    if no_snapshot or gaps:
        message = (
            f"gaps in client months: {no_snapshot} of {n} client-months open at their as-of "
            f"month have no client_months snapshot for it, and {gaps} have at least one month "
            "missing in the 12 before; their balance, rate and window features are missing "
            "(NaN), not zero"
        )
        if strict:
            raise SnrInputError(message)
        logger.warning(message)
        warnings.warn(message, FeatureWarning, stacklevel=3)
    no_survey = int(frame["latest_csat"].isna().sum())
    if no_survey:
        logger.info(
            "%d of %d client-months have no survey response on or before their as-of month; "
            "latest_csat, latest_nps and months_since_survey are missing (NaN)",
            no_survey,
            n,
        )


def build_features(
    source: FeatureSource,
    as_of: AsOf = None,
    *,
    horizon: int | None = None,
    strict: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    """Point-in-time features of every client open at each as-of month.

    Parameters
    ----------
    source : Tables, str or Path
        Validated tables, or a directory of the contract's Parquet files.
    as_of : str, Timestamp, sequence of them, or None
        As-of month(s) (``"YYYY-MM"``); ``None`` = every month of ``client_months``.
    horizon : int, optional
        Also compute the labels (``churn`` within ``horizon`` months, ``exit_next_month``,
        ``months_to_exit``; see :mod:`snr_models.features.labels`).
    strict : bool, default False
        Raise instead of warning when clients have gaps in their monthly snapshots.
    memory_limit, threads : optional
        DuckDB settings.

    Returns
    -------
    DataFrame
        One row per (client open at the end of the as-of month, as-of month): ``client_id``,
        ``branch_id``, ``as_of`` (first day of the month), the features (float; categorical
        features as ``str``) and, with ``horizon``, the labels. Sorted by ``as_of``,
        ``client_id``.

    Raises
    ------
    SnrInputError
        If an as-of month lies outside the data, or (``strict``) on gaps.

    Warns
    -----
    FeatureWarning
        When clients open at an as-of month lack snapshots for it or the 12 months before.

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> tables = simulate(n_clients=500, n_branches=2, n_months=8, seed=1).tables
    >>> frame = build_features(tables, as_of="2023-06", horizon=1)
    >>> bool(frame["as_of"].eq(pd.Timestamp("2023-06-01")).all())
    True
    """
    con = connect(source, memory_limit=memory_limit, threads=threads)
    try:
        sql, _ = _plan(con, as_of, horizon)
        table = con.sql(f"SELECT * FROM ({sql}) ORDER BY as_of, client_id").to_arrow_table()
    finally:
        con.close()
    frame = table.to_pandas()
    for col in ("client_id", "branch_id", *CATEGORICAL_FEATURES):
        frame[col] = frame[col].astype("str")
    frame["as_of"] = frame["as_of"].astype("datetime64[us]")
    _report(frame, strict)
    return frame.drop(columns=list(_DIAGNOSTIC_COLUMNS))


def write_features(
    source: FeatureSource,
    path: str | Path,
    as_of: AsOf = None,
    *,
    horizon: int | None = None,
    memory_limit: str | None = "6GB",
    threads: int | None = None,
    temp_directory: str | Path | None = None,
    clients_per_chunk: int = 250_000,
) -> Path:
    """Build features like :func:`build_features` and stream them to Parquet.

    The frame never passes through pandas, and clients are processed in hash buckets of
    about ``clients_per_chunk`` (every feature is per client; the branch and firm reference
    rates use all clients), so the build scales to tens of millions of client-months within
    DuckDB's ``memory_limit``. One bucket gives one file at ``path``; several give a folder
    of ``part-<k>.parquet`` files at ``path`` (read it with ``pandas.read_parquet(path)``).
    Written atomically.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from snr_models.simulate import simulate
    >>> tables = simulate(n_clients=300, n_branches=2, n_months=6, seed=1).tables
    >>> out = write_features(tables, pathlib.Path(tempfile.mkdtemp()) / "f.parquet")
    >>> pd.read_parquet(out)["client_id"].nunique() > 0
    True
    """
    path = Path(path)
    con = connect(source, memory_limit=memory_limit, threads=threads, temp_directory=temp_directory)
    try:
        n_clients = int(con.sql("SELECT count(*) FROM clients").fetchall()[0][0])
        n_chunks = max(1, -(-n_clients // max(1, clients_per_chunk)))
        drop = ", ".join(_DIAGNOSTIC_COLUMNS)
        rates = None
        if n_chunks > 1:
            _, months = _plan(con, as_of, horizon)
            con.execute(f"CREATE TEMP TABLE _snr_rates AS {rates_sql(months[0], months[-1])}")
            rates = "_snr_rates"
        with atomic_path(path, directory=n_chunks > 1) as tmp:
            for k in range(n_chunks):
                bucket = (k, n_chunks) if n_chunks > 1 else None
                sql, _ = _plan(con, as_of, horizon, bucket, rates)
                target = tmp / f"part-{k:04d}.parquet" if n_chunks > 1 else tmp
                con.execute(
                    f"COPY (SELECT * EXCLUDE ({drop}) FROM ({sql})) TO '{target}' "
                    "(FORMAT parquet, COMPRESSION zstd)"
                )
                logger.info("features: chunk %d of %d written", k + 1, n_chunks)
    finally:
        con.close()
    return path


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The model-input columns of a feature frame: all but identifiers and labels.

    Examples
    --------
    >>> feature_columns(pd.DataFrame(columns=["client_id", "as_of", "tenure_months", "churn"]))
    ['tenure_months']
    """
    skip = set(ID_COLUMNS) | set(LABEL_COLUMNS)
    return [c for c in frame.columns if c not in skip and not str(c).startswith("_")]


def write_as_of_features(
    data: str | Path | Tables,
    month: pd.Timestamp,
    path: Path,
    chunk_size: int = 100_000,
    memory_limit: str | None = "2GB",
) -> Path:
    """Write the as-of month's point-in-time features for scoring to ``path`` (Parquet).

    A Parquet folder is first checked against the data contract in DuckDB
    (:func:`~snr_models.data.contract_sql.validate_parquet`: the messages of ``snr validate``,
    within ``memory_limit``), then streams through DuckDB
    (:func:`write_features`, in client buckets; ``path`` may become a
    folder of parts); tables or a DuckDB file are validated when loaded and go through
    :func:`build_features`.

    Raises
    ------
    ContractError
        If the data break the contract.

    Returns
    -------
    Path
        The features file or folder.
    """
    from snr_models.data.contract_sql import validate_parquet
    from snr_models.data.io import load

    if isinstance(data, Tables) or not Path(data).is_dir():
        tables = data if isinstance(data, Tables) else load(data)
        frame = build_features(tables, as_of=month)
        frame.to_parquet(path, index=False)
        return path
    validate_parquet(data, memory_limit=memory_limit)
    return write_features(
        Path(data),
        path,
        as_of=month,
        memory_limit=memory_limit,
        clients_per_chunk=max(chunk_size, 250_000),
    )
