"""Where the feature SQL reads from: in-memory tables or a Parquet directory, as DuckDB views.

The feature query (:mod:`snr_models.features.sql`) reads six relations named like the
contract's tables. :func:`connect` opens a DuckDB connection on which those names resolve to
the caller's frames (registered, never copied or mutated) or to ``read_parquet`` over a
Parquet directory (so a build over millions of client-months streams from disk).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import duckdb

from snr_models.data.tables import TABLE_NAMES, Tables, parquet_glob
from snr_models.errors import SnrInputError
from snr_models.threads import duckdb_config, in_force

__all__ = ["FeatureSource", "connect"]

FeatureSource = Tables | str | Path


def connect(
    source: FeatureSource,
    *,
    memory_limit: str | None = None,
    threads: int | None = None,
    temp_directory: str | Path | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB connection where the six table names resolve to ``source``.

    Parameters
    ----------
    source : Tables, str or Path
        Validated tables (registered as views of the frames) or a directory of
        ``<table>.parquet`` files (read lazily with ``read_parquet``).
    memory_limit : str, optional
        DuckDB memory limit, e.g. ``"6GB"``; beyond it DuckDB spills to ``temp_directory``.
    threads : int, optional
        DuckDB worker threads (default: the count of an open
        :func:`snr_models.threads.limit`, else DuckDB's, one per core).
    temp_directory : str or Path, optional
        Spill folder (default: a folder under the system temp directory).

    Returns
    -------
    duckdb.DuckDBPyConnection

    Raises
    ------
    SnrInputError
        If ``source`` is a path without the six Parquet tables.

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> tables = simulate(n_clients=300, n_branches=2, n_months=4, seed=1).tables
    >>> con = connect(tables)
    >>> con.sql("SELECT count(*) FROM clients").fetchall()[0][0]
    300
    """
    con = duckdb.connect(":memory:", config=duckdb_config())
    # in Jupyter without ipywidgets DuckDB refuses to touch the setting
    with contextlib.suppress(duckdb.Error):
        con.execute("SET enable_progress_bar = false")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    threads = threads or in_force()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    spill = Path(temp_directory) if temp_directory else Path(tempfile.gettempdir()) / "snr-duckdb"
    os.makedirs(spill, exist_ok=True)
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute("SET preserve_insertion_order = false")
    if isinstance(source, Tables):
        for name, frame in source.items():
            con.register(f"_{name}_frame", frame)
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM _{name}_frame")
        return con
    path = Path(source)
    if not path.is_dir():
        con.close()
        raise SnrInputError(f"features: {path} is not a directory of Parquet tables")
    missing = [n for n in TABLE_NAMES if not (path / f"{n}.parquet").exists()]
    if missing:
        con.close()
        raise SnrInputError(f"features: {path} lacks table(s) {', '.join(missing)} (.parquet)")
    for name in TABLE_NAMES:
        glob = parquet_glob(path, name).replace("'", "''")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{glob}')")
    return con
