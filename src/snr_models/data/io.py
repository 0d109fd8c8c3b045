"""Reading and writing the contract's tables: a Parquet directory or a DuckDB file.

A Parquet directory holds ``<table>.parquet`` for each of the six tables (a file, or a
directory of Parquet files); a DuckDB file holds tables of the same names in its ``main``
schema. :func:`load` reads either, normalises and validates the tables (see
:func:`snr_models.data.contract.validate`); :func:`save` validates and writes atomically.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow
import pyarrow.dataset
import pyarrow.parquet

from snr_models.data.atomic import atomic_path
from snr_models.data.contract import (
    ContractError,
    Problem,
    column_kinds,
    to_arrow,
    validate,
)
from snr_models.data.tables import ALL_TABLE_NAMES, Tables
from snr_models.errors import SnrInputError
from snr_models.threads import duckdb_config

__all__ = ["load", "publish", "save"]

logger = logging.getLogger(__name__)

DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
_DUCKDB_MAGIC = b"DUCK"  # at byte offset 8 of every DuckDB database file


def _is_duckdb_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
    except OSError:
        return False
    return header[8:12] == _DUCKDB_MAGIC


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _to_pandas(table: pyarrow.Table) -> pd.DataFrame:
    return table.to_pandas(date_as_object=False, split_blocks=True, self_destruct=True)


def _read_parquet_dir(path: Path) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for name in ALL_TABLE_NAMES:
        source = path / f"{name}.parquet"
        if not source.exists():
            continue  # reported by validate() as a missing table
        try:
            dataset = pyarrow.dataset.dataset(source, format="parquet")
            wanted = [c for c in column_kinds(name) if c in dataset.schema.names]
            extra = [c for c in dataset.schema.names if c not in column_kinds(name)]
            if extra:
                logger.info(
                    "%s: ignoring %d extra column(s): %s", name, len(extra), ", ".join(extra)
                )
            frames[name] = _to_pandas(dataset.to_table(columns=wanted))
        except (pyarrow.ArrowException, OSError) as exc:
            problems.append(
                Problem(
                    name,
                    "*",
                    "unreadable",
                    [],
                    0,
                    f"{source} could not be read: {_first_line(exc)}",
                )
            )
    return frames, problems


def _read_duckdb(path: Path) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    try:
        con = duckdb.connect(str(path), read_only=True, config=duckdb_config())
    except duckdb.Error as exc:
        problem = Problem(
            "*", "*", "unreadable", [], 0, f"{path} could not be opened: {_first_line(exc)}"
        )
        return {}, [problem]
    frames: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    try:
        rows = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_catalog = current_database() "
            "ORDER BY table_name, ordinal_position"
        ).fetchall()
        stored: dict[str, list[str]] = {}
        for table_name, column_name in rows:
            stored.setdefault(table_name, []).append(column_name)
        for name in ALL_TABLE_NAMES:
            if name not in stored:
                continue  # reported by validate() as a missing table
            contract = column_kinds(name)
            wanted = [c for c in contract if c in stored[name]]
            extra = [c for c in stored[name] if c not in contract]
            if extra:
                logger.info(
                    "%s: ignoring %d extra column(s): %s", name, len(extra), ", ".join(extra)
                )
            select = ", ".join(_quote(c) for c in wanted) or "NULL AS _no_column"
            try:
                arrow = con.sql(f"SELECT {select} FROM main.{_quote(name)}").to_arrow_table()
            except duckdb.Error as exc:
                message = f"could not be read from {path}: {_first_line(exc)}"
                problems.append(Problem(name, "*", "unreadable", [], 0, message))
                continue
            frame = _to_pandas(arrow)
            frames[name] = frame[wanted]
    finally:
        con.close()
    return frames, problems


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def load(path: str | Path, *, as_of: Any = None) -> Tables:
    """Read, normalise and validate the six tables from a Parquet directory or a DuckDB file.

    Parameters
    ----------
    path : str or Path
        A directory holding ``<table>.parquet`` for each table, or a DuckDB file (any file
        whose header is DuckDB's; ``.duckdb``, ``.db`` or ``.ddb`` by convention) holding
        tables of the same names.
    as_of : str or Timestamp, optional
        The extract's date: dates after its month are refused (default: the latest month
        of ``client_months``); see :func:`~snr_models.data.contract.validate`.

    Returns
    -------
    Tables
        The contract's columns of each table, in contract order, with normalised dtypes.

    Raises
    ------
    ContractError
        If the path does not exist (a problem of table ``"*"``), a table cannot be read, or
        the data break the contract; one error lists every problem.

    Examples
    --------
    >>> import tempfile, pathlib, snr_models as snr
    >>> tables = snr.simulate(n_clients=2_000, n_branches=4, n_months=6, seed=1).tables
    >>> folder = save(tables, pathlib.Path(tempfile.mkdtemp()) / "world")
    >>> load(folder).row_counts() == tables.row_counts()
    True
    """
    path = Path(path)
    if not path.exists():
        message = f"no Parquet directory or DuckDB file at {path}"
        raise ContractError([Problem("*", "*", "missing_path", [], 0, message)])
    if path.is_dir():
        frames, problems = _read_parquet_dir(path)
    elif path.suffix.lower() in DUCKDB_SUFFIXES or _is_duckdb_file(path):
        frames, problems = _read_duckdb(path)
    else:
        message = f"{path} is neither a directory of Parquet files nor a DuckDB file"
        raise ContractError([Problem("*", "*", "unreadable", [], 0, message)])
    if problems and not frames:
        raise ContractError(problems)
    try:
        tables = validate(frames, as_of=as_of)
    except ContractError as err:
        unreadable = {p.table for p in problems}
        rest = [
            p for p in err.problems if not (p.check == "missing_table" and p.table in unreadable)
        ]
        raise ContractError([*problems, *rest]) from None
    if problems:
        raise ContractError(problems)
    logger.info("loaded %s: %s", path, tables.row_counts())
    return tables


def _check_parquet_target(path: Path) -> None:
    if not path.exists():
        return
    if not path.is_dir():
        raise SnrInputError(f"{path} exists and is not a directory; not replacing it")
    expected = {f"{name}.parquet" for name in ALL_TABLE_NAMES}
    foreign = sorted(p.name for p in path.iterdir() if p.name not in expected)
    if foreign:
        shown = ", ".join(foreign[:5])
        raise SnrInputError(
            f"{path} holds files that are not tables of the contract ({shown}); not replacing it"
        )


def _check_duckdb_target(path: Path) -> None:
    if not path.exists():
        return
    if path.is_dir():
        raise SnrInputError(f"{path} is a directory; not replacing it with a DuckDB file")
    if path.stat().st_size and not _is_duckdb_file(path):
        raise SnrInputError(f"{path} exists and is not a DuckDB file; not replacing it")


def save(
    tables: Tables | Mapping[str, pd.DataFrame],
    path: str | Path,
    *,
    format: Literal["parquet", "duckdb"] | None = None,
) -> Path:
    """Validate the tables and write them atomically as a Parquet directory or a DuckDB file.

    The data are written to a temporary sibling of ``path`` that is renamed onto ``path`` only
    once complete: a reader sees the old dataset or the new one, never a partial one. An
    existing dataset at ``path`` is replaced; anything else there is left alone (an error).

    Parameters
    ----------
    tables : Tables or mapping of str to DataFrame
        The six tables; validated (and normalised) before anything is written.
    path : str or Path
        Destination: a directory (Parquet) or a file (DuckDB).
    format : {"parquet", "duckdb"}, optional
        Default: ``"duckdb"`` if ``path`` ends in ``.duckdb``, ``.db`` or ``.ddb``, else
        ``"parquet"``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ContractError
        If the tables break the contract (nothing is written).
    SnrInputError
        If ``path`` holds something that is not a dataset of this format.

    Examples
    --------
    >>> import tempfile, pathlib, snr_models as snr
    >>> tables = snr.simulate(n_clients=2_000, n_branches=4, n_months=6, seed=1).tables
    >>> out = save(tables, pathlib.Path(tempfile.mkdtemp()) / "world.duckdb")
    >>> load(out).content_hash() == tables.content_hash()
    True
    """
    path = Path(path)
    if format is None:
        format = "duckdb" if path.suffix.lower() in DUCKDB_SUFFIXES else "parquet"
    if format not in ("parquet", "duckdb"):
        raise ValueError(f"format must be 'parquet' or 'duckdb', not {format!r}")
    valid = validate(tables)
    arrow = {name: to_arrow(name, frame) for name, frame in valid.items()}
    if format == "parquet":
        _check_parquet_target(path)
        with atomic_path(path, directory=True) as tmp:
            for name, table in arrow.items():
                pyarrow.parquet.write_table(table, tmp / f"{name}.parquet")
    else:
        _check_duckdb_target(path)
        with atomic_path(path) as tmp:
            tmp.unlink()  # DuckDB creates its own file; an empty one is not a database
            con = duckdb.connect(str(tmp), config=duckdb_config())
            try:
                for name, table in arrow.items():
                    con.register("_snr_source", table)
                    con.execute(f"CREATE TABLE {_quote(name)} AS SELECT * FROM _snr_source")
                    con.unregister("_snr_source")
                con.execute("CHECKPOINT")
            finally:
                con.close()
                Path(f"{tmp}.wal").unlink(missing_ok=True)  # only left behind by a failure
    logger.info("saved %s tables to %s", format, path)
    return path


def publish(
    con: duckdb.DuckDBPyConnection,
    tables: Mapping[str, str],
    path: str | Path,
    *,
    format: Literal["parquet", "duckdb"] | None = None,
) -> Path:
    """Write tables of a DuckDB connection as the dataset ``path``, atomically, streaming.

    For tables too large for pandas, already checked against the contract
    (:func:`~snr_models.data.contract_sql.validate_tables`): the contract's columns of each
    relation, in contract order and in the relation's row order, are copied by DuckDB (other
    columns are left out) to a temporary sibling of ``path`` renamed onto it once complete,
    as :func:`save` does.

    Parameters
    ----------
    con : DuckDBPyConnection
    tables : mapping of str to str
        Each contract table's relation in ``con``.
    path, format
        As for :func:`save`; returns ``path``.
    """
    path = Path(path)
    if format is None:
        format = "duckdb" if path.suffix.lower() in DUCKDB_SUFFIXES else "parquet"

    def select(name: str) -> str:
        columns = ", ".join(_quote(c) for c in column_kinds(name))
        return f"SELECT {columns} FROM {tables[name]}"

    if format == "parquet":
        _check_parquet_target(path)
        with atomic_path(path, directory=True) as tmp:
            for name in [n for n in ALL_TABLE_NAMES if n in tables]:
                target = str(tmp / f"{name}.parquet").replace("'", "''")
                con.execute(f"COPY ({select(name)}) TO '{target}' (FORMAT parquet)")
    else:
        _check_duckdb_target(path)
        with atomic_path(path) as tmp:
            tmp.unlink()  # DuckDB creates its own file; an empty one is not a database
            con.execute(f"ATTACH '{str(tmp).replace(chr(39), chr(39) * 2)}' AS _snr_out")
            try:
                for name in [n for n in ALL_TABLE_NAMES if n in tables]:
                    con.execute(f"CREATE TABLE _snr_out.main.{_quote(name)} AS {select(name)}")
                con.execute("CHECKPOINT _snr_out")
            finally:
                con.execute("DETACH _snr_out")
                Path(f"{tmp}.wal").unlink(missing_ok=True)  # only left behind by a failure
    logger.info("published %s tables to %s", format, path)
    return path
