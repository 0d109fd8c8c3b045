"""Laying a staged extract over the existing dataset, in DuckDB: merged, as of its end, checked.

:func:`merge` streams the staged tables of :func:`~snr_models.data.ingest.extract.extract` and
the existing dataset through DuckDB (on disk; it spills beyond its memory limit) into one
sorted table per contract table, ``merged_<table>``: a month's rows replace that month's,
snapshot tables are replaced, and a monthly ingest is taken as of the dataset's last month
(see :func:`merge`). :func:`check` validates them against the contract
(:func:`~snr_models.data.contract_sql.validate_tables`) and names each offending row by its
source file and line. :func:`~snr_models.data.io.publish` then writes them atomically.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from snr_models.data.contract import KEYS, ContractError, Problem, column_kinds
from snr_models.data.contract_sql import validate_tables
from snr_models.data.ingest.config import MONTHLY_COLUMN
from snr_models.data.ingest.extract import ROW_COLUMN, Extract
from snr_models.data.io import DUCKDB_SUFFIXES
from snr_models.data.tables import OPTIONAL_TABLE_NAMES, TABLE_NAMES, parquet_glob
from snr_models.threads import duckdb_config

__all__ = ["LATER_COLUMNS", "Merged", "check", "connect", "merge", "null_shares", "sample"]

#: Columns of a monthly table that may be known only after the row's month: a ticket's first
#: response and resolution. Their values after the extract's end wait in the pending file.
LATER_COLUMNS: dict[str, tuple[str, ...]] = {"tickets": ("first_response_at", "resolved_at")}
#: Snapshot rows that exist only from a date on: dropped while that date follows the extract.
_STARTS = {"clients": "open_date", "interventions": "start_date", "market": "month"}


@dataclass
class Merged:
    """The dataset after the extract, as sorted Parquet files (with :data:`ROW_COLUMN`).

    Attributes
    ----------
    tables : dict of str to str
        The sorted table (``merged_<table>``, with :data:`ROW_COLUMN`) of each contract table.
    replaced : dict
        Rows of the month already in the dataset, replaced, per table.
    later : dict
        Staged rows set aside because they start after the dataset's last month, per table.
    totals : dict
        Rows per table after the merge.
    pending : Path or None
        The values after the extract's end (:data:`LATER_COLUMNS`), withheld from the
        dataset until a later month is ingested; ``None`` for a full ingest.
    """

    tables: dict[str, str]
    replaced: dict[str, int]
    later: dict[str, int]
    totals: dict[str, int]
    pending: Path | None


def connect(stage: Path, memory_limit: str = "2GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for the staged tables, spilling to the folder ``stage`` beyond
    ``memory_limit`` (faster than an on-disk database: nothing is written unless needed)."""
    con = duckdb.connect(":memory:", config=duckdb_config())
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{_text(stage / 'spill')}'")
    return con


def _text(path: Path | str) -> str:
    return str(path).replace("'", "''")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _existing(con: duckdb.DuckDBPyConnection, out: Path) -> dict[str, str] | None:
    """Relations of the existing dataset's tables (an optional one if it holds it), or None
    if there is none."""
    if not out.exists():
        return None
    if out.is_dir():
        held = {p.name.removesuffix(".parquet") for p in out.iterdir()}

        def relation(name: str) -> str:
            return f"read_parquet('{_text(parquet_glob(out, name))}')"

    elif out.suffix.lower() in DUCKDB_SUFFIXES:
        con.execute(f"ATTACH '{_text(out)}' AS existing (READ_ONLY)")
        found = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = 'existing' AND table_schema = 'main'"
        ).fetchall()
        held = {str(r[0]) for r in found}

        def relation(name: str) -> str:
            return f"existing.main.{_q(name)}"

    else:
        return None
    optional = [n for n in OPTIONAL_TABLE_NAMES if n in held]
    return {n: relation(n) for n in (*TABLE_NAMES, *optional)}


def _inside(column: str, month: pd.Timestamp) -> str:
    end = month + pd.offsets.MonthBegin()
    return f"{column} >= TIMESTAMP '{month:%Y-%m-%d}' AND {column} < TIMESTAMP '{end:%Y-%m-%d}'"


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchall()[0][0])


def merge(
    ex: Extract, out: Path, con: duckdb.DuckDBPyConnection, pending: Path, scratch: Path
) -> Merged:
    """Merge the staged extract ``ex`` into the dataset at ``out``; write sorted tables.

    A full extract (``ex.month`` None) replaces the dataset. A month's extract replaces that
    month's rows of the monthly tables (never doubles them) and the snapshot tables, as of the
    dataset's last month: rows that start later (accounts opened, an intervention started or
    a market month after it) are set aside; a later close, and a ticket's later first response
    or resolution, are not yet known (null). Those later values of monthly rows are kept in
    ``pending`` (beside the dataset) and come into the dataset once a month that reaches them
    is ingested: ingesting months one by one, in any order, gives the dataset a full ingest
    of the same sources gives, without re-reading earlier months. The new pending values are
    written to ``scratch`` (:attr:`Merged.pending`), for the caller to publish.

    An optional table (``outreach``) is merged like the others when the extract has it; a
    month's extract without it keeps the dataset's rows of it as they are.
    """
    old = _existing(con, out) if ex.month is not None else None
    old_pending = f"read_parquet('{_text(pending)}')" if old and pending.exists() else None
    names = [n for n in (*TABLE_NAMES, *OPTIONAL_TABLE_NAMES) if n in ex.tables or n in (old or {})]
    replaced = dict.fromkeys(names, 0)
    for name in names:
        columns = [*column_kinds(name), ROW_COLUMN]
        if name not in ex.tables:  # an optional table this extract does not have: kept
            assert old is not None
            kept = ", ".join(map(_q, column_kinds(name)))
            rows = f"SELECT {kept}, NULL::BIGINT AS {ROW_COLUMN} FROM {old[name]}"
            con.execute(f"CREATE TEMP VIEW {_q('all_' + name)} AS {rows}")
            continue
        new = f"SELECT {', '.join(map(_q, columns))} FROM {ex.relation(name)}"
        if old is None or name not in MONTHLY_COLUMN or name not in old:
            con.execute(f"CREATE TEMP VIEW {_q('all_' + name)} AS {new}")
            continue
        month = _q(MONTHLY_COLUMN[name])
        where = _inside(month, ex.month)
        replaced[name] = _count(con, f"SELECT count(*) FROM {old[name]} WHERE {where}")
        values = {c: f"o.{_q(c)}" for c in column_kinds(name)}
        join = ""
        if name in LATER_COLUMNS and old_pending:
            key = _q(KEYS[name][0])
            join = f"LEFT JOIN {old_pending} p ON p.{key} = o.{key}"
            for c in LATER_COLUMNS[name]:
                values[c] = f"coalesce(p.{_q(c)}, o.{_q(c)})"
        kept = ", ".join(f"{value} AS {_q(c)}" for c, value in values.items())
        previous = (
            f"SELECT {kept}, NULL::BIGINT AS {ROW_COLUMN} FROM {old[name]} o {join} "
            f"WHERE NOT ({_inside('o.' + month, ex.month)})"
        )
        con.execute(f"CREATE TEMP VIEW {_q('all_' + name)} AS {previous} UNION ALL {new}")
    later = dict.fromkeys(names, 0)
    selects = {name: f"SELECT * FROM {_q('all_' + name)}" for name in names}
    written_pending = None
    last = con.execute("SELECT max(month) FROM all_client_months").fetchall()[0][0]
    if ex.month is not None and last is not None:
        limit = f"TIMESTAMP '{pd.Timestamp(last) + pd.offsets.MonthBegin():%Y-%m-%d}'"
        for name, column in _STARTS.items():
            starts = f"{_q(column)} < {limit}"
            later[name] = _count(
                con, f"SELECT count(*) FROM {_q('all_' + name)} WHERE NOT ({starts})"
            )
            selects[name] += f" WHERE {starts}"
        selects["clients"] = selects["clients"].replace(
            "SELECT *",
            f"SELECT * REPLACE (CASE WHEN close_date >= {limit} THEN NULL ELSE close_date END "
            f"AS close_date, CASE WHEN close_date >= {limit} THEN NULL ELSE close_reason END "
            "AS close_reason)",
        )
        for name, later_columns in LATER_COLUMNS.items():
            masked = ", ".join(
                f"CASE WHEN {_q(c)} >= {limit} THEN NULL ELSE {_q(c)} END AS {_q(c)}"
                for c in later_columns
            )
            selects[name] = selects[name].replace("SELECT *", f"SELECT * REPLACE ({masked})")
            values = ", ".join(
                f"CASE WHEN {_q(c)} >= {limit} THEN {_q(c)} END AS {_q(c)}" for c in later_columns
            )
            after = " OR ".join(f"{_q(c)} >= {limit}" for c in later_columns)
            written_pending = scratch / pending.name
            con.execute(
                f"COPY (SELECT {_q(KEYS[name][0])}, {values} FROM {_q('all_' + name)} "
                f"WHERE {after}) TO '{_text(written_pending)}' (FORMAT parquet)"
            )
    totals, tables = {}, {}
    for name in names:
        order = ", ".join(map(_q, KEYS[name]))
        tables[name] = f"merged_{name}"
        con.execute(f"CREATE TABLE {tables[name]} AS {selects[name]} ORDER BY {order}")
        totals[name] = _count(con, f"SELECT count(*) FROM {tables[name]}")
    if old is not None and not out.is_dir():
        con.execute("DETACH existing")
    return Merged(tables, replaced, later, totals, written_pending)


def check(merged: Merged, ex: Extract, out: Path, con: duckdb.DuckDBPyConnection) -> None:
    """Validate the merged tables against the contract; rows named by source and line.

    Raises
    ------
    ContractError
        Each offending row shown as ``<source> line N`` (or as a row already in ``out``).
    """
    try:
        validate_tables(con, merged.tables, row=ROW_COLUMN)
    except ContractError as err:
        problems = [_located(p, ex, out) for p in err.problems]
        raise ContractError(problems) from None


def _located(problem: Problem, ex: Extract, out: Path) -> Problem:
    if not problem.rows:
        return problem
    rows = [
        {**row, "row": ex.where(row["row"]) if row["row"] is not None else f"already in {out}"}
        for row in problem.rows
    ]
    return dataclasses.replace(problem, rows=rows)


def null_shares(ex: Extract, con: duckdb.DuckDBPyConnection, table: str) -> dict[str, float]:
    """The share of nulls in each contract column of ``table``'s staged rows."""
    columns = list(column_kinds(table))
    counts = ", ".join(f"count({_q(c)})" for c in columns)
    found = con.execute(f"SELECT count(*), {counts} FROM {ex.relation(table)}").fetchall()[0]
    n = found[0]
    return {c: (1 - k / n) if n else 0.0 for c, k in zip(columns, found[1:], strict=True)}


def sample(
    ex: Extract, con: duckdb.DuckDBPyConnection, table: str, columns: list[str], n: int
) -> pd.DataFrame:
    """``columns`` of ``table``'s staged rows: all of them up to ``n``, else ``n`` at random
    (reservoir sampling, seeded)."""
    rel = ex.relation(table)
    how = f" USING SAMPLE reservoir({n} ROWS) REPEATABLE (14)" if ex.rows_kept(table) > n else ""
    select = ", ".join(map(_q, columns))
    arrow = con.sql(f"SELECT {select} FROM {rel}{how}").to_arrow_table()
    return arrow.to_pandas()


def rows_per_month(merged: Merged, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows of each monthly table per month (``YYYY-MM``) in the merged dataset."""
    per_month = {}
    for name, column in MONTHLY_COLUMN.items():
        if name not in merged.tables:
            continue
        found = con.execute(
            f"SELECT strftime({_q(column)}, '%Y-%m') AS m, count(*) FROM {merged.tables[name]} "
            "GROUP BY m"
        ).fetchall()
        per_month[name] = pd.Series(dict(found), dtype="int64")
    return pd.DataFrame(per_month).fillna(0).astype("int64").sort_index()
