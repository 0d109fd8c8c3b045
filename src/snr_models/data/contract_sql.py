"""The data contract checked in DuckDB, streaming: for Parquet folders too large for pandas.

:func:`validate_parquet` checks the rules of :mod:`snr_models.data.contract` — column types,
nulls, empty identifiers, value sets, finite numbers, ranges, duplicate keys, dates without a
time of day, months on a month's first day, dates of a row in order, a close reason only with
a close date, references to unknown clients and branches, and dates after the extract's last
month — with one DuckDB scan per table and one aggregation per key, so
memory stays within DuckDB's ``memory_limit`` (it spills to disk beyond it) whatever the
number of clients. Problems are reported with the same :class:`~snr_models.data.contract.Problem`
messages as :func:`~snr_models.data.contract.validate` (``snr validate``); a row is its
position in the table's Parquet file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from snr_models.data.contract import (
    _COLUMNS,
    _EXPECTED,
    _IDENTIFIERS,
    _PLANNED,
    _SAMPLE_SIZE,
    KEYS,
    ContractError,
    Problem,
    _Col,
    _column_message,
    _ordered,
    _python,
    after_extract_message,
    extract_end,
)
from snr_models.data.tables import ALL_TABLE_NAMES, OPTIONAL_TABLE_NAMES
from snr_models.threads import duckdb_config

__all__ = ["validate_parquet", "validate_tables"]

_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_FLOAT = {"FLOAT", "DOUBLE"}
_FOUND = {
    "VARCHAR": "text",
    "BOOLEAN": "true/false values",
    "DATE": "timestamps",
    "TINYINT": "int8",
    "SMALLINT": "int16",
    "INTEGER": "int32",
    "BIGINT": "int64",
    "FLOAT": "float32",
    "DOUBLE": "float64",
}


def _accepts(kind: str, sql_type: str) -> bool:
    base = sql_type.split("(")[0]
    if kind == "text":
        return base == "VARCHAR"
    if kind in ("date", "timestamp"):
        return base == "DATE" or base.startswith("TIMESTAMP")
    if kind in ("int", "nullable_int"):
        return base in _INTEGER or base in _FLOAT or base.startswith("DECIMAL")
    if kind == "float":
        return base in _INTEGER or base in _FLOAT or base.startswith("DECIMAL")
    return base == "BOOLEAN"  # bool


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))


def _rules(col: _Col, sql_type: str) -> list[tuple[str, str, str]]:
    """(check, SQL condition true on a bad row, message) for one usable column."""
    c = _q(col.name)
    rules = []
    if not col.nullable:
        rules.append(("null", f"{c} IS NULL", _column_message(col, "null")))
    if col.name in _IDENTIFIERS:
        rules.append(("empty_text", f"{c} = ''", _column_message(col, "empty_text")))
    if col.values is not None:
        allowed = ", ".join(_literal(v) for v in col.values)
        rules.append(("value_set", f"{c} NOT IN ({allowed})", _column_message(col, "value_set")))
    if col.kind == "float":
        rules.append(("not_finite", f"NOT isfinite({c})", _column_message(col, "not_finite")))
    if col.kind in ("int", "nullable_int") and sql_type.split("(")[0] in _FLOAT:
        rules.append(
            (
                "dtype",
                f"{c} <> trunc({c})",
                f"wrong type: expected {_EXPECTED[col.kind]}, found float64 "
                "(fractional values where whole numbers are required)",
            )
        )
    bounds = []
    if col.low is not None:
        bounds.append(f"{c} {'<' if col.low_inclusive else '<='} {col.low!r}")
    if col.high is not None:
        bounds.append(f"{c} {'>' if col.high_inclusive else '>='} {col.high!r}")
    if bounds:
        guard = f"isfinite({c}) AND " if col.kind == "float" else ""
        rules.append(("range", f"{guard}({' OR '.join(bounds)})", _column_message(col, "range")))
    if col.kind == "date" and col.name == "month":
        rules.append(
            ("month_start", f"day({c}) <> 1", "not the first day of a month"),
        )
    return rules


_TIME_OF_DAY = "a date with a time of day"
#: (table, early, late, what): dates of one row that must come in this order.
_ORDERS = (
    ("clients", "open_date", "close_date", "closed before it was opened"),
    ("tickets", "created_at", "first_response_at", "answered before it was created"),
    ("tickets", "created_at", "resolved_at", "resolved before it was created"),
    ("interventions", "start_date", "end_date", "ends before it starts"),
)


def _row_rules(name: str, usable: dict[str, set[str]], checkers: dict[str, _Checker]) -> list:
    """The contract's rules across the columns of a row: dates in order, a close reason
    only with a close date, an intervention's unit a known branch or the firm."""
    cols = {col.name: col for col in _COLUMNS[name]}
    here = usable[name]
    rules = []
    for table, early, late, what in _ORDERS:
        if table == name and {early, late} <= here:
            message = f"{what} ({late} is before {early})"
            where = f"{_q(late)} < {_q(early)}"
            rules.append((cols[late], "order", where, message, [early, late]))
    if name == "clients" and {"close_date", "close_reason"} <= here:
        rules.append(
            (
                cols["close_reason"],
                "inconsistent",
                "close_reason IS NOT NULL AND close_date IS NULL",
                "a close_reason without a close_date",
                ["close_date", "close_reason"],
            )
        )
    if name == "interventions" and {"unit_type", "unit_id"} <= here:
        if "branch_id" in usable.get("clients", set()):
            branch = f"unit_id NOT IN (SELECT branch_id FROM {checkers['clients'].rel})"
        else:
            branch = "unit_id = '*'"
        rules.append(
            (
                cols["unit_id"],
                "unknown_branch",
                f"unit_id IS NOT NULL AND ((unit_type = 'firm' AND unit_id <> '*') OR "
                f"(unit_type = 'branch' AND {branch}))",
                "unit_id is neither a branch of clients.branch_id (unit_type 'branch') "
                "nor '*' (unit_type 'firm')",
                ["unit_type", "unit_id"],
            )
        )
    return rules


class _Checker:
    """One table as a DuckDB relation; ``row`` labels its rows, ``order`` orders them."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, name: str, rel: str, row: str, order: str
    ) -> None:
        self.con, self.name, self.rel, self.row, self.order = con, name, rel, row, order
        self.types = {
            str(r[0]): str(r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()
        }

    def sample(self, check: str, column: str, where: str, n: int, message: str, show=()):
        wanted = [*KEYS[self.name], *show]
        cols = [c for c in dict.fromkeys(wanted) if c in self.types]
        select = ", ".join([self.row, *map(_q, cols)])
        found = self.con.execute(
            f"SELECT {select} FROM {self.rel} WHERE {where} "
            f"ORDER BY {self.order} LIMIT {_SAMPLE_SIZE}"
        ).fetchall()
        rows = []
        for values in found:
            row = {"row": _python(values[0])}
            for c, v in zip(cols, values[1:], strict=True):
                row[c] = pd.Timestamp(v) if hasattr(v, "isoformat") else _python(v)
            rows.append(row)
        return Problem(self.name, column, check, rows, int(n), message)


def validate_tables(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, str],
    *,
    row: str = "rowid",
    as_of: str | pd.Timestamp | None = None,
) -> None:
    """Check the six tables (and ``outreach`` if given), DuckDB tables or views of ``con``,
    against the contract.

    Parameters
    ----------
    con : DuckDBPyConnection
    tables : dict of str to str
        Each contract table's relation in ``con`` (a table name, quoted if need be).
    row : str
        The expression that labels a row in the problems (default its ``rowid``); rows are
        shown in ``rowid`` order.
    as_of : str or Timestamp, optional
        As for :func:`validate_parquet`.

    Raises
    ------
    ContractError
        Listing every problem found, with the messages of ``snr validate``.
    """
    checkers = {name: _Checker(con, name, rel, row, "rowid") for name, rel in tables.items()}
    problems = _problems(con, checkers, as_of)
    if problems:
        raise ContractError(_ordered(problems))


def _problems(
    con: duckdb.DuckDBPyConnection,
    checkers: dict[str, _Checker],
    as_of: str | pd.Timestamp | None,
) -> list[Problem]:
    problems: list[Problem] = []
    usable: dict[str, set[str]] = {}
    for name, chk in checkers.items():
        usable[name] = set()
        for col in _COLUMNS[name]:
            sql_type = chk.types.get(col.name)
            if sql_type is None:
                problems.append(
                    Problem(name, col.name, "missing_column", [], 0, "required column is missing")
                )
            elif not _accepts(col.kind, sql_type):
                found = _FOUND.get(sql_type.split("(")[0], sql_type.lower())
                message = f"wrong type: expected {_EXPECTED[col.kind]}, found {found}"
                where = f"{_q(col.name)} IS NOT NULL"
                n = con.execute(f"SELECT count(*) FROM {chk.rel} WHERE {where}").fetchall()[0][0]
                problems.append(chk.sample("dtype", col.name, where, n, message, [col.name]))
            else:
                usable[name].add(col.name)
    end = extract_end(
        as_of,
        lambda: (
            con.execute(f"SELECT max(month) FROM {checkers['client_months'].rel}").fetchall()[0][0]
            if "month" in usable.get("client_months", set())
            else None
        ),
    )
    for name, chk in checkers.items():
        rules = []
        for col in _COLUMNS[name]:
            if col.name not in usable[name]:
                continue
            rules += [(col, *r, [col.name]) for r in _rules(col, chk.types[col.name])]
            if col.kind == "date" and chk.types[col.name].startswith("TIMESTAMP"):
                c = _q(col.name)
                rules.append(
                    (col, "not_a_date", f"CAST({c} AS DATE) <> {c}", _TIME_OF_DAY, [col.name])
                )
            dated = col.kind in ("date", "timestamp") and (name, col.name) not in _PLANNED
            if end is not None and dated:
                limit = f"TIMESTAMP '{end + pd.offsets.MonthBegin(1):%Y-%m-%d}'"
                rules.append(
                    (
                        col,
                        "after_extract",
                        f"{_q(col.name)} >= {limit}",
                        after_extract_message(end),
                        [col.name],
                    )
                )
        known_ids = "client_id" in usable.get("clients", set())
        if name != "clients" and "client_id" in usable[name] and known_ids:
            known = f"(SELECT client_id FROM {checkers['clients'].rel})"
            col = next(c for c in _COLUMNS[name] if c.name == "client_id")
            rules.append(
                (
                    col,
                    "unknown_client",
                    f"client_id IS NOT NULL AND client_id NOT IN {known}",
                    "a client that is not in clients",
                    [col.name],
                )
            )
        rules += _row_rules(name, usable, checkers)
        counts = [f"count(*) FILTER (WHERE {where})" for _, _, where, _, _ in rules]
        totals = con.execute(
            f"SELECT count(*), {', '.join(counts) or '0'} FROM {chk.rel}"
        ).fetchall()[0]
        if totals[0] == 0 and name in ("clients", "client_months"):
            problems.append(Problem(name, "*", "empty", [], 0, "table holds no rows"))
        for (col, check, where, message, show), n in zip(rules, totals[1:], strict=True):
            if n:
                problems.append(chk.sample(check, col.name, where, n, message, show))
        key = KEYS[name]
        if all(k in usable[name] for k in key):
            keys = ", ".join(map(_q, key))
            dup = f"({keys}) IN (SELECT {keys} FROM {chk.rel} GROUP BY {keys} HAVING count(*) > 1)"
            n = con.execute(f"SELECT count(*) FROM {chk.rel} WHERE {dup}").fetchall()[0][0]
            if n:
                message = f"duplicate key: several rows share the same ({', '.join(key)})"
                problems.append(chk.sample("duplicate_key", ", ".join(key), dup, n, message))
    return problems


def validate_parquet(
    path: str | Path,
    *,
    as_of: str | pd.Timestamp | None = None,
    memory_limit: str | None = "2GB",
) -> None:
    """Check a Parquet folder against the contract in DuckDB, without loading it into pandas.

    Parameters
    ----------
    path : str or Path
        A folder holding ``<table>.parquet`` for each of the six tables, and
        ``outreach.parquet`` if the data set has retention contacts (checked like the others).
    as_of : str or Timestamp, optional
        The extract's date (``YYYY-MM`` or a day); dates after its month are refused. Default:
        the last month of ``client_months``.
    memory_limit : str, optional
        DuckDB's memory limit (it spills to disk beyond it).

    Raises
    ------
    ContractError
        Listing every problem found, with the messages of ``snr validate``.
    """
    from snr_models.data.tables import parquet_glob

    path = Path(path)
    con = duckdb.connect(":memory:", config=duckdb_config())
    problems: list[Problem] = []
    try:
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        checkers: dict[str, _Checker] = {}
        for name in ALL_TABLE_NAMES:
            if not (path / f"{name}.parquet").exists():
                if name in OPTIONAL_TABLE_NAMES:
                    continue  # a data set without retention contacts
                problems.append(Problem(name, "*", "missing_table", [], 0, "table is missing"))
                continue
            source = parquet_glob(path, name).replace("'", "''")
            rel = f"read_parquet('{source}', file_row_number = true)"
            try:
                checkers[name] = _Checker(con, name, rel, "file_row_number", "file_row_number")
            except duckdb.Error as exc:
                message = f"{path / name}.parquet could not be read: {str(exc).splitlines()[0]}"
                problems.append(Problem(name, "*", "unreadable", [], 0, message))
        problems += _problems(con, checkers, as_of)
    finally:
        con.close()
    if problems:
        raise ContractError(_ordered(problems))
