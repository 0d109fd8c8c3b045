"""``sources.yaml``: where each contract table comes from and how its values are mapped.

One entry per contract table under ``tables`` (``outreach``, the retention contacts, is
optional: without its entry the dataset holds none); each says where the rows are (a file, a glob
of files or a SQL query), how the file is encoded, which source column becomes which contract
column, and how codes, units and dates are converted. Database credentials never appear in
the file: a database names the environment variable that holds its SQLAlchemy URL.

Validation reports every problem with the key it concerns
(``tables.tickets.units.sla_hours: unknown unit 'minute'``).
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from snr_models.configfile import read_yaml_mapping
from snr_models.data.contract import column_kinds
from snr_models.data.tables import ALL_TABLE_NAMES, TABLE_NAMES
from snr_models.errors import SnrInputError

__all__ = [
    "DURATION_UNITS",
    "MONTHLY_COLUMN",
    "SCALE_UNITS",
    "DatabaseSource",
    "DateSpec",
    "SourcesConfig",
    "TableSource",
    "load_sources",
    "parse_month",
]

#: Units stated as a power of ten of the contract's unit (rates as fractions, amounts in 元):
#: converted exactly, by moving the decimal point of the source's text.
SCALE_UNITS: dict[str, int] = {
    "fraction": 0,
    "percent": -2,
    "%": -2,
    "permille": -3,
    "元": 0,
    "yuan": 0,
    "千元": 3,
    "万元": 4,
    "亿元": 8,
}
#: Durations, as ``(multiply, divide)`` converting them to hours (the contract's unit of
#: ``sla_hours``): 240 minutes is 240 × 1 / 60 = 4.0 hours exactly.
DURATION_UNITS: dict[str, tuple[int, int]] = {
    "hours": (1, 1),
    "小时": (1, 1),
    "minutes": (1, 60),
    "分钟": (1, 60),
    "seconds": (1, 3600),
    "days": (24, 1),
}

#: The column that places a row of a monthly table in its month; the other tables are
#: snapshots, replaced whole by each extract.
MONTHLY_COLUMN: dict[str, str] = {
    "client_months": "month",
    "tickets": "created_at",
    "surveys": "responded_at",
    "outreach": "contacted_at",
}

_NUMERIC_KINDS = {"int", "nullable_int", "float"}
_DATE_KINDS = {"date", "timestamp"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DateSpec(_Strict):
    """How a date or timestamp column is written in the source.

    ``format`` is a ``strftime`` format (``%Y-%m-%d``, ``%Y/%m/%d`` which also reads
    ``2024/3/1``, ``%Y%m%d``, ``%Y年%m月`` for a month), ``ISO8601`` (the default; also what
    Excel date cells and SQL date columns arrive as) or ``excel`` (serial day numbers, day 0 =
    1899-12-30, rounded to the millisecond). ``timezone`` is the zone of values without an
    offset (default ``Asia/Shanghai``); values with an offset (``+08:00``, ``Z``) carry their
    own. Every value ends as naive Asia/Shanghai time, as the contract says.
    """

    format: str = "ISO8601"
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai, UTC)") from None
        return value


class DatabaseSource(_Strict):
    """A database connection: the environment variable holding its SQLAlchemy URL.

    E.g. ``url_env: SNR_WAREHOUSE_URL`` with ``SNR_WAREHOUSE_URL=postgresql+psycopg://user:
    password@host:5432/dw`` in the environment. The URL (and its password) is never written
    to the YAML, the logs, the manifest or MLflow. PostgreSQL (``postgresql+psycopg://``) is
    tested against a real server; Oracle (``oracle+oracledb://user:password@host:1521/?
    service_name=DW``, python-oracledb in thin mode: ``pip install oracledb``) goes through
    the same SQLAlchemy path but is not tested against an Oracle server.
    """

    url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class TableSource(_Strict):
    """Where one contract table comes from, and how its columns and values are mapped.

    Exactly one of ``path`` (CSV, ``.xlsx`` or Parquet file or glob, relative to the YAML's
    folder) and ``sql`` (with ``database``). In ``path``, ``{month:%Y%m}`` (any ``strftime``
    format) is the month being ingested (``*`` when ingesting everything). A SQL query may
    use ``:month_start`` and ``:month_end`` (the month's first day and the next month's).
    ``values``, ``units`` and ``dates`` are keyed by contract column.
    """

    path: str | None = None
    sheet: str | int | None = None
    encoding: str = "auto"
    sql: str | None = None
    database: str | None = None
    columns: dict[str, str]
    values: dict[str, dict[str | int | float | bool, str | int | float | bool]] = Field(
        default_factory=dict
    )
    units: dict[str, str] = Field(default_factory=dict)
    dates: dict[str, DateSpec] = Field(default_factory=dict)

    @field_validator("dates", mode="before")
    @classmethod
    def _format_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"format": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value == "auto":
            return value
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r} (e.g. utf-8, utf-8-sig, gbk, gb18030, auto)"
            ) from None
        return value

    @model_validator(mode="after")
    def _one_place(self) -> TableSource:
        if (self.path is None) == (self.sql is None):
            raise ValueError("give exactly one of 'path' (a file or glob) and 'sql' (a query)")
        if self.sql is not None and self.database is None:
            raise ValueError("'sql' needs 'database': the name of an entry under 'databases'")
        if self.path is not None and self.database is not None:
            raise ValueError("'database' goes with 'sql', not with 'path'")
        return self

    def kind(self) -> Literal["csv", "xlsx", "parquet", "sql"]:
        """The reader this source needs, from its ``sql`` or its file suffix."""
        if self.sql is not None:
            return "sql"
        suffix = Path(self.path or "").suffix.lower()
        if suffix in (".xlsx", ".xlsm"):
            return "xlsx"
        if suffix in (".parquet", ".pq"):
            return "parquet"
        return "csv"

    def check_against(self, table: str) -> list[str]:
        """Problems of this entry against the contract's columns of ``table``, with keys."""
        kinds = column_kinds(table)
        problems: list[str] = []
        targets = list(self.columns.values())
        for source, target in self.columns.items():
            if target not in kinds:
                problems.append(
                    f"columns.{source}: {target!r} is not a column of {table} "
                    f"(its columns: {', '.join(kinds)})"
                )
        for target in sorted({t for t in targets if targets.count(t) > 1}):
            problems.append(f"columns: several source columns map to {target!r}")
        missing = [c for c in kinds if c not in targets]
        if missing:
            problems.append(f"columns: no source column maps to {', '.join(missing)}")
        for key, section in (("values", self.values), ("units", self.units)):
            for column in section:
                if column not in kinds:
                    problems.append(f"{key}.{column}: not a column of {table}")
        for column, unit in self.units.items():
            if column in kinds and kinds[column] not in _NUMERIC_KINDS:
                problems.append(f"units.{column}: a unit needs a numeric column")
            elif unit not in SCALE_UNITS and unit not in DURATION_UNITS:
                known = ", ".join([*SCALE_UNITS, *DURATION_UNITS])
                problems.append(f"units.{column}: unknown unit {unit!r} (known: {known})")
        for column, spec in self.dates.items():
            if column not in kinds or kinds[column] not in _DATE_KINDS:
                problems.append(f"dates.{column}: not a date or timestamp column of {table}")
            elif spec.format not in ("ISO8601", "excel") and "%" not in spec.format:
                problems.append(
                    f"dates.{column}.format: {spec.format!r} is neither a strftime format "
                    "(e.g. %Y-%m-%d), 'ISO8601' nor 'excel'"
                )
        if self.kind() == "xlsx" and self.encoding != "auto":
            problems.append("encoding: an .xlsx workbook has no text encoding to state")
        return problems


class SourcesConfig(_Strict):
    """The whole ``sources.yaml``.

    Examples
    --------
    >>> cfg = SourcesConfig.model_validate({"tables": {}})  # doctest: +SKIP
    """

    version: Literal[1] = 1
    quarantine_threshold: float = Field(
        0.01, ge=0, le=1, description="largest share of a table's rows that may be quarantined"
    )
    databases: dict[str, DatabaseSource] = Field(default_factory=dict)
    tables: dict[str, TableSource]
    base: Path = Field(Path("."), exclude=True, description="folder relative paths start from")

    def table_names(self) -> tuple[str, ...]:
        """The contract tables this file has a source for, in contract order (the six, and
        ``outreach`` if it has an entry)."""
        return tuple(name for name in ALL_TABLE_NAMES if name in self.tables)

    @model_validator(mode="after")
    def _against_contract(self) -> SourcesConfig:
        problems: list[str] = []
        for name in TABLE_NAMES:
            if name not in self.tables:
                problems.append(f"tables.{name}: missing (every contract table needs a source)")
        for name, source in self.tables.items():
            if name not in ALL_TABLE_NAMES:
                problems.append(
                    f"tables.{name}: not a contract table (tables: {', '.join(ALL_TABLE_NAMES)})"
                )
                continue
            problems += [f"tables.{name}.{p}" for p in source.check_against(name)]
            if source.database is not None and source.database not in self.databases:
                problems.append(
                    f"tables.{name}.database: {source.database!r} is not under 'databases'"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def parse_month(month: str | None) -> pd.Timestamp | None:
    """The first day of the month ``YYYY-MM`` (``--month``), or None.

    Examples
    --------
    >>> parse_month("2024-03")
    Timestamp('2024-03-01 00:00:00')
    """
    if month is None:
        return None
    try:
        stamp = pd.Timestamp(pd.Period(month, freq="M").start_time)
    except (ValueError, TypeError):
        raise SnrInputError(f"--month: {month!r} is not a month (YYYY-MM)") from None
    if len(month) != 7:
        raise SnrInputError(f"--month: {month!r} is not a month (YYYY-MM)")
    return stamp


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def load_sources(path: str | Path) -> SourcesConfig:
    """Read and validate ``sources.yaml``; relative paths in it start from its folder.

    Raises
    ------
    SnrInputError
        Naming the file and, for each problem, its key (``tables.tickets.columns``).
    """
    path = Path(path)
    raw = read_yaml_mapping(path)
    if isinstance(raw.get("databases"), dict):
        for name, entry in raw["databases"].items():
            if isinstance(entry, dict) and {"url", "password", "user"} & set(entry):
                raise SnrInputError(
                    f"{path}: databases.{name}: credentials do not belong in the file; "
                    "give 'url_env', the environment variable that holds the URL"
                )
    try:
        config = SourcesConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = _where(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            for part in message.split("; "):
                lines.append(f"  {where + ': ' if where else ''}{part}")
        raise SnrInputError(f"{path} is not a valid sources file:\n" + "\n".join(lines)) from None
    return config.model_copy(update={"base": path.parent.resolve()})
