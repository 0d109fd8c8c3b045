"""The data contract checked in DuckDB, streaming: for Parquet folders too large for pandas.

:func:`validate_parquet` checks the rules of :mod:`snr_models.data.contract` that a scoring
run depends on — column types, nulls, empty identifiers, value sets, finite numbers, ranges,
duplicate keys, months on a month's first day, references to unknown clients and dates after
the extract's last month — with one DuckDB scan per table and one aggregation per key, so
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
from snr_models.data.tables import TABLE_NAMES
from snr_models.threads import duckdb_config

__all__ = ["validate_parquet"]

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


class _Checker:
    def __init__(self, con: duckdb.DuckDBPyConnection, name: str, source: str) -> None:
        self.con, self.name = con, name
        self.rel = f"read_parquet('{source}', file_row_number = true)"
        self.types = {
            str(row[0]): str(row[1])
            for row in con.execute(f"DESCRIBE SELECT * FROM {self.rel}").fetchall()
        }

    def sample(self, check: str, column: str, where: str, n: int, message: str, show=()):
        wanted = [*KEYS[self.name], *show]
        cols = [c for c in dict.fromkeys(wanted) if c in self.types]
        select = ", ".join(["file_row_number", *map(_q, cols)])
        found = self.con.execute(
            f"SELECT {select} FROM {self.rel} WHERE {where} "
            f"ORDER BY file_row_number LIMIT {_SAMPLE_SIZE}"
        ).fetchall()
        rows = []
        for values in found:
            row = {"row": int(values[0])}
            for c, v in zip(cols, values[1:], strict=True):
                row[c] = pd.Timestamp(v) if hasattr(v, "isoformat") else _python(v)
            rows.append(row)
        return Problem(self.name, column, check, rows, int(n), message)


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
        A folder holding ``<table>.parquet`` for each of the six tables.
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
        for name in TABLE_NAMES:
            if not (path / f"{name}.parquet").exists():
                problems.append(Problem(name, "*", "missing_table", [], 0, "table is missing"))
                continue
            source = parquet_glob(path, name).replace("'", "''")
            try:
                checkers[name] = _Checker(con, name, source)
            except duckdb.Error as exc:
                message = f"{path / name}.parquet could not be read: {str(exc).splitlines()[0]}"
                problems.append(Problem(name, "*", "unreadable", [], 0, message))
        usable: dict[str, set[str]] = {}
        for name, chk in checkers.items():
            usable[name] = set()
            for col in _COLUMNS[name]:
                sql_type = chk.types.get(col.name)
                if sql_type is None:
                    problems.append(
                        Problem(
                            name, col.name, "missing_column", [], 0, "required column is missing"
                        )
                    )
                elif not _accepts(col.kind, sql_type):
                    found = _FOUND.get(sql_type.split("(")[0], sql_type.lower())
                    message = f"wrong type: expected {_EXPECTED[col.kind]}, found {found}"
                    where = f"{_q(col.name)} IS NOT NULL"
                    n = con.execute(f"SELECT count(*) FROM {chk.rel} WHERE {where}").fetchone()[0]
                    problems.append(chk.sample("dtype", col.name, where, n, message, [col.name]))
                else:
                    usable[name].add(col.name)
        end = extract_end(
            as_of,
            lambda: (
                con.execute(f"SELECT max(month) FROM {checkers['client_months'].rel}").fetchone()[0]
                if "month" in usable.get("client_months", set())
                else None
            ),
        )
        for name, chk in checkers.items():
            rules = []
            for col in _COLUMNS[name]:
                if col.name not in usable[name]:
                    continue
                rules += [(col, *r) for r in _rules(col, chk.types[col.name])]
                dated = col.kind in ("date", "timestamp") and (name, col.name) not in _PLANNED
                if end is not None and dated:
                    limit = f"TIMESTAMP '{end + pd.offsets.MonthBegin(1):%Y-%m-%d}'"
                    rules.append(
                        (
                            col,
                            "after_extract",
                            f"{_q(col.name)} >= {limit}",
                            after_extract_message(end),
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
                    )
                )
            counts = [f"count(*) FILTER (WHERE {where})" for _, _, where, _ in rules]
            totals = con.execute(
                f"SELECT count(*), {', '.join(counts) or '0'} FROM {chk.rel}"
            ).fetchone()
            if totals[0] == 0 and name in ("clients", "client_months"):
                problems.append(Problem(name, "*", "empty", [], 0, "table holds no rows"))
            for (col, check, where, message), n in zip(rules, totals[1:], strict=True):
                if n:
                    problems.append(chk.sample(check, col.name, where, n, message, [col.name]))
            key = KEYS[name]
            if all(k in usable[name] for k in key):
                keys = ", ".join(map(_q, key))
                dup = (
                    f"({keys}) IN (SELECT {keys} FROM {chk.rel} GROUP BY {keys} "
                    "HAVING count(*) > 1)"
                )
                n = con.execute(f"SELECT count(*) FROM {chk.rel} WHERE {dup}").fetchone()[0]
                if n:
                    message = f"duplicate key: several rows share the same ({', '.join(key)})"
                    problems.append(chk.sample("duplicate_key", ", ".join(key), dup, n, message))
    finally:
        con.close()
    if problems:
        raise ContractError(_ordered(problems))
