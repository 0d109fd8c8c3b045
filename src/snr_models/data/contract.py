"""The data contract: schemas of the six tables (and the optional ``outreach``), validation.

:func:`validate` takes the six tables (and, if present, the optional ``outreach``) as pandas
DataFrames, normalises each column to the
contract's type (see :class:`~snr_models.data.tables.Tables`), checks every rule of the
contract and either returns the validated :class:`~snr_models.data.tables.Tables` or raises
one :class:`ContractError` that lists every problem found, each with its table, column and a
sample of at most five offending rows.

Three kinds of rule are checked, in this order:

1. structure and types, in plain pandas: a missing table or column, a column whose values are
   not of the contract's type (after accepting every storage the contract allows: a date as a
   date or a timestamp, an identifier as a string or a dictionary-encoded string, an integer
   of any width);
2. column rules, with the pandera schemas of :data:`SCHEMAS` (validated lazily, so that every
   failure is collected): nulls, value sets, ranges, duplicate keys;
3. rules across columns and tables, in plain pandas: the order of timestamps, months that are
   not a month's first day, dates with a time of day, references to unknown clients or branches,
   dates after the extract's last month (the latest month of ``client_months``, or a stated
   extract date), and a data set without clients or client-months.

:func:`snr_models.data.contract_sql.validate_parquet` checks the same rules, with the same
messages, in DuckDB for Parquet folders too large for pandas.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute

from snr_models.data.tables import ALL_TABLE_NAMES, OPTIONAL_TABLE_NAMES, Tables
from snr_models.data.vocabulary import (
    CHANNELS,
    CLOSE_REASONS,
    OUTREACH_ARMS,
    OUTREACH_CHANNELS,
    RATING_ATTRIBUTES,
    RISK_LEVELS,
    SEGMENTS,
    SURVEY_TRIGGERS,
    TICKET_CATEGORIES,
    UNIT_TYPES,
)
from snr_models.errors import SnrInputError

__all__ = [
    "KEYS",
    "LOCAL_TIME_ZONE",
    "RATING_COLUMNS",
    "SCHEMAS",
    "ContractError",
    "Problem",
    "arrow_schema",
    "column_kinds",
    "extract_end",
    "validate",
]

logger = logging.getLogger(__name__)

Kind = Literal["text", "date", "timestamp", "int", "nullable_int", "float", "bool"]

#: Time zone in which the contract's naive timestamps are expressed.
LOCAL_TIME_ZONE = "Asia/Shanghai"

_SAMPLE_SIZE = 5
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class _Col:
    """One column of the contract: its kind, nullability and allowed values."""

    name: str
    kind: Kind
    nullable: bool = False
    values: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True


def _id(name: str) -> _Col:
    return _Col(name, "text")


def _count(name: str) -> _Col:
    return _Col(name, "int", low=0)


def _rating(name: str) -> _Col:
    return _Col(name, "nullable_int", nullable=True, low=1, high=5)


_SEGMENTS = SEGMENTS
_RISK_LEVELS = RISK_LEVELS
_CLOSE_REASONS = CLOSE_REASONS
_CHANNELS = CHANNELS
_TRIGGERS = SURVEY_TRIGGERS
_UNIT_TYPES = UNIT_TYPES
#: Attribute ratings of a survey response, each an int 1-5 or null.
RATING_COLUMNS: tuple[str, ...] = RATING_ATTRIBUTES

_COLUMNS: dict[str, tuple[_Col, ...]] = {
    "clients": (
        _id("client_id"),
        _id("branch_id"),
        _Col("segment", "text", values=_SEGMENTS),
        _Col("open_date", "date"),
        _Col("close_date", "date", nullable=True),
        _Col("close_reason", "text", nullable=True, values=_CLOSE_REASONS),
        _Col("birth_year", "nullable_int", nullable=True, low=1900, high=2100),
        _Col("risk_level", "text", values=_RISK_LEVELS),
        _Col("acquisition_channel", "text"),
    ),
    "client_months": (
        _id("client_id"),
        _Col("month", "date"),
        _Col("financing_balance", "float", low=0),
        _Col("short_balance", "float", low=0),
        _Col("collateral_value", "float", low=0),
        _Col("maintenance_ratio_min", "float", nullable=True, low=0),
        _count("margin_calls"),
        _count("forced_liquidations"),
        _count("trades"),
        _count("logins"),
        _Col("financing_rate", "float", low=0),
        _Col("dormant", "bool"),
    ),
    "tickets": (
        _id("ticket_id"),
        _id("client_id"),
        _Col("created_at", "timestamp"),
        _Col("first_response_at", "timestamp", nullable=True),
        _Col("resolved_at", "timestamp", nullable=True),
        _Col("category", "text", values=TICKET_CATEGORIES),
        _Col("channel", "text", values=_CHANNELS),
        _Col("sla_hours", "float", low=0, low_inclusive=False),
        _Col("escalated", "bool"),
        _Col("reopened", "bool"),
    ),
    "surveys": (
        _id("response_id"),
        _id("client_id"),
        _Col("responded_at", "timestamp"),
        _Col("trigger", "text", values=_TRIGGERS),
        _Col("nps", "int", low=0, high=10),
        _Col("csat", "int", low=1, high=5),
        _Col("ces", "nullable_int", nullable=True, low=1, high=7),
        *(_rating(name) for name in RATING_COLUMNS),
    ),
    "interventions": (
        _id("intervention_id"),
        _Col("intervention", "text"),
        _Col("unit_type", "text", values=_UNIT_TYPES),
        _id("unit_id"),
        _Col("start_date", "date"),
        _Col("end_date", "date", nullable=True),
        _Col("intensity", "float", low=0, high=1, low_inclusive=False),
    ),
    "market": (
        _Col("month", "date"),
        _Col("index_return", "float"),
        _Col("volatility", "float", low=0),
        _Col("turnover", "float", low=0),
    ),
    # optional: who a retention campaign contacted, and who its random holdout left alone
    "outreach": (
        _id("campaign_id"),
        _id("client_id"),
        _Col("contacted_at", "timestamp"),
        _Col("channel", "text", values=OUTREACH_CHANNELS),
        _Col("assigned", "text", values=OUTREACH_ARMS),
    ),
}

#: The key of each table: the columns whose values identify a row.
KEYS: dict[str, tuple[str, ...]] = {
    "clients": ("client_id",),
    "client_months": ("client_id", "month"),
    "tickets": ("ticket_id",),
    "surveys": ("response_id",),
    "interventions": ("intervention_id",),
    "market": ("month",),
    "outreach": ("campaign_id", "client_id"),
}

# Identifiers and free-text labels that must not be empty strings.
_IDENTIFIERS = {
    "client_id",
    "branch_id",
    "ticket_id",
    "response_id",
    "intervention_id",
    "unit_id",
    "acquisition_channel",
    "intervention",
    "campaign_id",
}

_PANDAS_DTYPE: dict[Kind, str] = {
    "text": "str",
    "date": "datetime64[us]",
    "timestamp": "datetime64[us]",
    "int": "int64",
    "nullable_int": "float64",
    "float": "float64",
    "bool": "bool",
}

_ARROW_TYPE: dict[Kind, pyarrow.DataType] = {
    "text": pyarrow.string(),
    "date": pyarrow.date32(),
    "timestamp": pyarrow.timestamp("us"),
    "int": pyarrow.int64(),
    "nullable_int": pyarrow.int64(),
    "float": pyarrow.float64(),
    "bool": pyarrow.bool_(),
}

_EXPECTED: dict[Kind, str] = {
    "text": "text",
    "date": "a date",
    "timestamp": "a timestamp",
    "int": "whole numbers",
    "nullable_int": "whole numbers or null",
    "float": "numbers",
    "bool": "true/false values",
}


def column_kinds(table: str) -> dict[str, str]:
    """The contract's columns of ``table``, in contract order, with their kind.

    Kinds: ``text``, ``date``, ``timestamp``, ``int``, ``nullable_int``, ``float``, ``bool``.

    Examples
    --------
    >>> column_kinds("market")
    {'month': 'date', 'index_return': 'float', 'volatility': 'float', 'turnover': 'float'}
    """
    return {col.name: col.kind for col in _COLUMNS[table]}


def arrow_schema(table: str) -> pyarrow.Schema:
    """The Arrow schema in which ``table`` is stored (Parquet or DuckDB).

    Dates are stored as ``date32``, timestamps as ``timestamp[us]``, and nullable integers
    (``birth_year``, ``ces``, ratings) as ``int64`` with nulls.

    Examples
    --------
    >>> arrow_schema("market").field("month").type
    DataType(date32[day])
    """
    return pyarrow.schema(
        [
            pyarrow.field(col.name, _ARROW_TYPE[col.kind], nullable=col.nullable)
            for col in _COLUMNS[table]
        ]
    )


def to_arrow(table: str, frame: pd.DataFrame) -> pyarrow.Table:
    """The contract's columns of ``frame`` as an Arrow table of :func:`arrow_schema`."""
    schema = arrow_schema(table)
    arrays = [
        pyarrow.array(frame[column.name], from_pandas=True).cast(column.type) for column in schema
    ]
    return pyarrow.Table.from_arrays(arrays, schema=schema)


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    """One violation of the contract.

    Attributes
    ----------
    table : str
        The table, or ``"*"`` for a problem with the whole dataset (e.g. a missing path).
    column : str
        The column (``"*"`` for the whole table; ``"a, b"`` for a key of several columns).
    check : str
        A short code: ``missing_path``, ``unreadable``, ``missing_table``, ``missing_column``,
        ``duplicate_column``, ``dtype``, ``null``, ``empty_text``, ``value_set``, ``range``,
        ``not_finite``, ``duplicate_key``, ``order``, ``inconsistent``, ``not_a_date``,
        ``month_start``, ``unknown_client``, ``unknown_branch``, ``after_extract``, ``empty``.
    rows : list of dict
        At most five offending rows: ``row`` (the row's index in the source) and the key
        columns and offending column(s) with their values.
    n_rows : int
        How many rows are affected (0 when the problem is not about rows).
    message : str
        What is wrong, in words an analyst understands.
    """

    table: str
    column: str
    check: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    n_rows: int = 0
    message: str = ""

    def __str__(self) -> str:
        what = self.message or self.check
        if self.table == "*":
            head = what
        elif self.column == "*":
            head = f"{self.table}: {what}"
        else:
            head = f"{self.table}.{self.column}: {what}"
        if self.n_rows:
            noun = "row" if self.n_rows == 1 else "rows"
            shown = f", first {len(self.rows)} shown" if len(self.rows) < self.n_rows else ""
            head += f"; {self.n_rows:,} {noun}{shown}:"
        lines = [head]
        for row in self.rows:
            label = row.get("row")
            cells = ", ".join(f"{k}={_show(v)}" for k, v in row.items() if k != "row")
            lines.append(f"    row {label}: {cells}")
        return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, pd.Timestamp):
        return str(value.date()) if value == value.normalize() else str(value)
    return str(value)


class ContractError(SnrInputError):
    """The data do not meet the contract; :attr:`problems` lists every problem found.

    A :class:`~snr_models.errors.SnrInputError` (hence a ``ValueError``): the CLI prints it
    and exits with code 2.

    Examples
    --------
    >>> err = ContractError([Problem("clients", "*", "missing_table", message="table is missing")])
    >>> print(err)
    The data do not meet the contract (1 problem):
    - clients: table is missing
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(list(problems))
        self.problems: list[Problem] = list(problems)

    def __str__(self) -> str:
        n = len(self.problems)
        lines = [f"The data do not meet the contract ({n} problem{'s' if n != 1 else ''}):"]
        for problem in self.problems:
            text = str(problem)
            lines.append("- " + text.replace("\n", "\n  "))
        return "\n".join(lines)


def _python(value: Any) -> Any:
    """A numpy/pandas scalar as a plain Python value (null as ``None``)."""
    if isinstance(value, (pd.Timestamp, str)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


class _Table:
    """A table being validated: the frame by position, the source's labels, usable columns."""

    def __init__(self, name: str, frame: pd.DataFrame, labels: pd.Index) -> None:
        self.name = name
        self.frame = frame  # RangeIndex: row positions
        self.labels = labels  # the source's index labels, by position
        self.usable: set[str] = set(frame.columns)

    def has(self, *columns: str) -> bool:
        return all(c in self.usable for c in columns)

    def problem(
        self,
        column: str,
        check: str,
        mask: np.ndarray | pd.Series,
        message: str,
        show: Iterable[str] = (),
        frame: pd.DataFrame | None = None,
    ) -> Problem | None:
        """A problem for the rows where ``mask`` is true, or ``None`` if there are none."""
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if positions.size == 0:
            return None
        return self.problem_at(column, check, positions, message, show, frame)

    def problem_at(
        self,
        column: str,
        check: str,
        positions: np.ndarray,
        message: str,
        show: Iterable[str] = (),
        frame: pd.DataFrame | None = None,
    ) -> Problem:
        source = self.frame if frame is None else frame
        wanted = [*KEYS[self.name], *show]
        columns = [c for c in dict.fromkeys(wanted) if c in source.columns]
        sample = np.sort(positions)[:_SAMPLE_SIZE]
        rows = []
        for pos in sample:
            row: dict[str, Any] = {"row": _python(self.labels[pos])}
            for col in columns:
                row[col] = _python(source[col].iloc[pos])
            rows.append(row)
        return Problem(self.name, column, check, rows, int(positions.size), message)


# --------------------------------------------------------------------------- normalisation


def _describe(series: pd.Series) -> str:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return f"categories of {dtype.categories.dtype}"
    if _is_object(dtype):
        return f"{pd.api.types.infer_dtype(series, skipna=True)} values"
    if pd.api.types.is_string_dtype(dtype):
        return "text"
    if pd.api.types.is_bool_dtype(dtype):
        return "true/false values"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamps"
    return str(dtype)


def _is_object(dtype: Any) -> bool:
    return pd.api.types.is_object_dtype(dtype)


def _from_arrow_backed(series: pd.Series) -> pd.Series:
    """A pandas column backed by Arrow as a NumPy-backed one (dates become timestamps)."""
    array = pyarrow.chunked_array(series.array.__arrow_array__())
    return pd.Series(array.to_pandas(date_as_object=False)).reset_index(drop=True)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


@dataclass
class _Normalised:
    series: pd.Series | None  # None: unusable (a wrong type)
    dtype: str | None = None  # a dtype to validate against other than the contract's
    bad: np.ndarray | None = None  # positions of the wrongly typed values
    found: str = ""
    detail: str = ""


def _wrong(series: pd.Series, bad: np.ndarray | pd.Series | None = None, detail: str = ""):
    if bad is None:
        bad = series.notna().to_numpy()
    return _Normalised(
        None,
        bad=np.flatnonzero(np.asarray(bad, dtype=bool)),
        found=_describe(series),
        detail=detail,
    )


def _normalise_column(series: pd.Series, col: _Col) -> _Normalised:
    """Convert ``series`` to the contract's dtype for ``col``, or say why it cannot be."""
    target = _PANDAS_DTYPE[col.kind]
    if isinstance(series.dtype, pd.ArrowDtype):
        series = _from_arrow_backed(series)
    n_null = int(series.isna().sum())
    if n_null == len(series):
        # No values, hence no type to object to: an all-null column of the contract's type.
        if col.kind == "int":
            return _Normalised(pd.Series(np.full(len(series), np.nan)), dtype="float64")
        if col.kind == "bool":
            return _Normalised(
                pd.Series(pd.array([None] * len(series), dtype="boolean")), dtype="boolean"
            )
        return _Normalised(pd.Series(np.full(len(series), None, dtype=object)).astype(target))
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = series.dtype.categories
        if col.kind == "text" and pd.api.types.infer_dtype(categories, skipna=True) == "string":
            return _Normalised(series.astype("str"))
        return _wrong(series)
    kind = col.kind
    dtype = series.dtype
    if kind == "text":
        if pd.api.types.is_string_dtype(dtype) and not _is_object(dtype):
            return _Normalised(series.astype("str"))
        if _is_object(dtype):
            if pd.api.types.infer_dtype(series, skipna=True) == "string":
                return _Normalised(series.astype("str"))
            bad = series.notna() & ~series.map(_is_text, na_action="ignore").astype(bool)
            return _wrong(series, bad)
        return _wrong(series)
    if kind in ("date", "timestamp"):
        return _normalise_datetime(series)
    if kind in ("int", "nullable_int"):
        return _normalise_int(series, nullable=kind == "nullable_int", n_null=n_null)
    if kind == "float":
        if pd.api.types.is_bool_dtype(dtype):
            return _wrong(series)
        if pd.api.types.is_numeric_dtype(dtype):
            return _Normalised(series.astype("float64"))
        if _is_object(dtype) and pd.api.types.infer_dtype(series, skipna=True) in (
            "integer",
            "floating",
            "mixed-integer-float",
            "decimal",
        ):
            return _Normalised(series.astype("float64"))
        return _wrong(series)
    # bool
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return _Normalised(series)
    if pd.api.types.is_bool_dtype(dtype) or (
        _is_object(dtype) and pd.api.types.infer_dtype(series, skipna=True) == "boolean"
    ):
        if n_null:
            return _Normalised(series.astype("boolean"), dtype="boolean")
        return _Normalised(series.astype(bool))
    return _wrong(series)


def _normalise_datetime(series: pd.Series) -> _Normalised:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        logger.info("converting time-zone-aware timestamps to naive %s time", LOCAL_TIME_ZONE)
        series = series.dt.tz_convert(LOCAL_TIME_ZONE).dt.tz_localize(None)
        dtype = series.dtype
    if pd.api.types.is_datetime64_dtype(dtype):
        return _Normalised(series.astype("datetime64[us]"))
    if _is_object(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in ("date", "datetime", "datetime64"):
            try:
                converted = pd.to_datetime(series)
            except (TypeError, ValueError, OverflowError):
                return _wrong(series)
            if isinstance(converted.dtype, pd.DatetimeTZDtype):
                converted = converted.dt.tz_convert(LOCAL_TIME_ZONE).dt.tz_localize(None)
            return _Normalised(converted.astype("datetime64[us]"))
        if inferred.startswith("mixed") or inferred == "string":
            is_date = series.map(
                lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat"),
                na_action="ignore",
            )
            bad = series.notna() & ~is_date.astype(bool)
            return _wrong(series, bad)
    return _wrong(series)


def _normalise_int(series: pd.Series, *, nullable: bool, n_null: int) -> _Normalised:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return _wrong(series)
    if _is_object(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred not in ("integer", "floating", "mixed-integer-float", "decimal"):
            return _wrong(series)
        series = series.astype("float64")
        dtype = series.dtype
    if pd.api.types.is_integer_dtype(dtype):
        if (
            dtype == np.uint64
            and n_null == 0
            and len(series)
            and series.max() > np.iinfo(np.int64).max
        ):
            return _wrong(series, series > np.iinfo(np.int64).max, "too large for a 64-bit integer")
        if nullable or n_null:
            return _Normalised(series.astype("float64"), dtype=None if nullable else "float64")
        return _Normalised(series.astype("int64"))
    if pd.api.types.is_float_dtype(dtype):
        values = series.astype("float64")
        with np.errstate(invalid="ignore"):
            fractional = values.notna().to_numpy() & (np.mod(values.to_numpy(), 1.0) != 0)
        if fractional.any():
            return _wrong(values, fractional, "fractional values where whole numbers are required")
        if nullable:
            return _Normalised(values)
        if n_null:
            return _Normalised(values, dtype="float64")
        return _Normalised(values.astype("int64"))
    return _wrong(series)


# --------------------------------------------------------------------------- pandera schemas


def _range_text(col: _Col) -> str:
    lo = None if col.low is None else f"{col.low:g}"
    hi = None if col.high is None else f"{col.high:g}"
    if lo is not None and hi is not None:
        if col.low_inclusive and col.high_inclusive:
            return f"from {lo} to {hi}"
        left = "at least" if col.low_inclusive else "greater than"
        right = "at most" if col.high_inclusive else "less than"
        return f"{left} {lo} and {right} {hi}"
    if lo is not None:
        return f"{'at least' if col.low_inclusive else 'greater than'} {lo}"
    return f"{'at most' if col.high_inclusive else 'less than'} {hi}"


def _checks(col: _Col) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if col.name in _IDENTIFIERS:
        checks.append(pa.Check(lambda s: s != "", error="empty_text"))
    if col.values is not None:
        checks.append(pa.Check.isin(list(col.values), error="value_set"))
    if col.kind == "float":
        checks.append(pa.Check(lambda s: np.isfinite(s), error="not_finite"))
    if col.low is not None and col.high is not None:
        checks.append(
            pa.Check.in_range(
                col.low,
                col.high,
                include_min=col.low_inclusive,
                include_max=col.high_inclusive,
                error="range",
            )
        )
    elif col.low is not None:
        bound = pa.Check.ge if col.low_inclusive else pa.Check.gt
        checks.append(bound(col.low, error="range"))
    elif col.high is not None:
        bound = pa.Check.le if col.high_inclusive else pa.Check.lt
        checks.append(bound(col.high, error="range"))
    return checks


def _schema(
    table: str, exclude: Iterable[str] = (), dtypes: Mapping[str, str] | None = None
) -> pa.DataFrameSchema:
    excluded = set(exclude)
    dtypes = dtypes or {}
    columns = {
        col.name: pa.Column(
            dtypes.get(col.name, _PANDAS_DTYPE[col.kind]),
            nullable=col.nullable,
            checks=_checks(col),
            title=col.name,
        )
        for col in _COLUMNS[table]
        if col.name not in excluded
    }
    key = list(KEYS[table])
    return pa.DataFrameSchema(
        columns,
        name=table,
        unique=None if excluded & set(key) else key,
        coerce=False,
        strict=False,
    )


#: The pandera schema of each table (the column-level rules, on normalised types).
SCHEMAS: dict[str, pa.DataFrameSchema] = {name: _schema(name) for name in ALL_TABLE_NAMES}


def _column_message(col: _Col, check: str) -> str:
    if check == "null":
        return "null where a value is required"
    if check == "empty_text":
        return "empty text where a value is required"
    if check == "value_set":
        return f"value not allowed (allowed: {', '.join(col.values or ())})"
    if check == "range":
        return f"value out of range (must be {_range_text(col)})"
    if check == "not_finite":
        return "not a finite number"
    return f"failed the rule {check!r}"


def _pandera_problems(table: _Table, dtypes: Mapping[str, str]) -> list[Problem]:
    excluded = set(SCHEMAS[table.name].columns) - table.usable
    schema = _schema(table.name, excluded, dtypes)
    try:
        schema.validate(table.frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return []
    specs = {col.name: col for col in _COLUMNS[table.name]}
    problems: list[Problem] = []
    renamed = {
        "not_nullable": "null",
        "multiple_fields_uniqueness": "duplicate_key",
        "field_uniqueness": "duplicate_key",
    }
    order = {name: i for i, name in enumerate(specs)}
    duplicates: list[np.ndarray] = []
    found: list[tuple[int, Problem]] = []
    for (column, check), group in cases.groupby(["column", "check"], sort=False):
        code = renamed.get(str(check), str(check))
        positions = pd.unique(group["index"].dropna().astype("int64").to_numpy())
        if code == "duplicate_key":
            duplicates.append(positions)
            continue
        col = specs.get(column)
        if col is None:  # a table-level check we did not declare: keep it visible, plainly
            message = f"failed the rule {code!r}"
            found.append((99, Problem(table.name, str(column), code, [], 0, message)))
            continue
        if code.startswith("dtype("):
            code, message = "dtype", f"wrong type: expected {_EXPECTED[col.kind]}"
        else:
            message = _column_message(col, code)
        if positions.size:
            problem = table.problem_at(col.name, code, positions, message, [col.name])
        else:
            problem = Problem(table.name, col.name, code, [], 0, message)
        found.append((order[col.name], problem))
    if duplicates:
        key = KEYS[table.name]
        positions = pd.unique(np.concatenate(duplicates))
        message = f"duplicate key: several rows share the same ({', '.join(key)})"
        problems.append(table.problem_at(", ".join(key), "duplicate_key", positions, message))
    problems.extend(problem for _, problem in sorted(found, key=lambda item: item[0]))
    return problems


# --------------------------------------------------------------------------- cross checks


def _isin(values: pd.Series, known: pd.Series) -> np.ndarray:
    """Whether each value is among ``known`` (hash-based, fast for millions of strings)."""
    found = pyarrow.compute.is_in(
        pyarrow.array(values, from_pandas=True),
        value_set=pyarrow.array(known, from_pandas=True).drop_null().unique(),
    )
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def _order(table: _Table, early: str, late: str, what: str) -> Problem | None:
    if not table.has(early, late):
        return None
    frame = table.frame
    mask = (frame[late] < frame[early]).to_numpy()
    return table.problem(late, "order", mask, f"{what} ({late} is before {early})", [early, late])


def _cross_problems(tables: dict[str, _Table]) -> list[Problem]:
    found: list[Problem | None] = []
    clients = tables.get("clients")
    known_clients = (
        clients.frame["client_id"].dropna().unique()
        if clients and clients.has("client_id")
        else None
    )
    for name, table in tables.items():
        frame = table.frame
        for col in _COLUMNS[name]:
            if col.kind != "date" or not table.has(col.name):
                continue
            values = frame[col.name]
            micros = values.to_numpy().astype("datetime64[us]").view("int64")
            mask = values.notna().to_numpy() & (micros % _US_PER_DAY != 0)
            found.append(
                table.problem(col.name, "not_a_date", mask, "a date with a time of day", [col.name])
            )
            if col.name == "month":
                mask = values.notna().to_numpy() & (values.dt.day != 1).to_numpy()
                found.append(
                    table.problem(
                        "month", "month_start", mask, "not the first day of a month", ["month"]
                    )
                )
        references_clients = name in ("client_months", "tickets", "surveys", "outreach")
        if known_clients is not None and references_clients and table.has("client_id"):
            ids = frame["client_id"]
            mask = ids.notna().to_numpy() & ~_isin(ids, known_clients)
            found.append(
                table.problem(
                    "client_id",
                    "unknown_client",
                    mask,
                    "a client that is not in clients",
                    ["client_id"],
                )
            )
    if clients is not None:
        found.append(_order(clients, "open_date", "close_date", "closed before it was opened"))
        if clients.has("close_date", "close_reason"):
            frame = clients.frame
            mask = (frame["close_reason"].notna() & frame["close_date"].isna()).to_numpy()
            found.append(
                clients.problem(
                    "close_reason",
                    "inconsistent",
                    mask,
                    "a close_reason without a close_date",
                    ["close_date", "close_reason"],
                )
            )
    if (tickets := tables.get("tickets")) is not None:
        found.append(
            _order(tickets, "created_at", "first_response_at", "answered before it was created")
        )
        found.append(_order(tickets, "created_at", "resolved_at", "resolved before it was created"))
    if (interventions := tables.get("interventions")) is not None:
        found.append(_order(interventions, "start_date", "end_date", "ends before it starts"))
        found.append(_unit_problem(interventions, clients))
    return [p for p in found if p is not None]


def _unit_problem(interventions: _Table, clients: _Table | None) -> Problem | None:
    if not interventions.has("unit_type", "unit_id"):
        return None
    frame = interventions.frame
    unit_type, unit_id = frame["unit_type"], frame["unit_id"]
    firm = (unit_type == "firm").to_numpy()
    branch = (unit_type == "branch").to_numpy()
    star = (unit_id == "*").to_numpy()
    present = unit_id.notna().to_numpy()
    bad = present & firm & ~star
    if clients is not None and clients.has("branch_id"):
        known = _isin(unit_id, clients.frame["branch_id"])
        bad |= present & branch & ~known
    else:
        bad |= present & branch & star
    return interventions.problem(
        "unit_id",
        "unknown_branch",
        bad,
        "unit_id is neither a branch of clients.branch_id (unit_type 'branch') "
        "nor '*' (unit_type 'firm')",
        ["unit_type", "unit_id"],
    )


# --------------------------------------------------------------------------- extract end

#: Planned dates that may lie after the extract: an intervention's scheduled end.
_PLANNED = {("interventions", "end_date")}


def extract_end(as_of: Any, last_month: Any) -> pd.Timestamp | None:
    """The extract's last month: ``as_of``'s month if stated, else ``last_month()``'s.

    Parameters
    ----------
    as_of : str, Timestamp or None
        The stated extract date (``YYYY-MM`` or a day).
    last_month : callable
        Returns the latest month of ``client_months`` (or None); called only without
        ``as_of``.

    Examples
    --------
    >>> extract_end("2024-03-17", lambda: None)
    Timestamp('2024-03-01 00:00:00')
    """
    value = as_of if as_of is not None else last_month()
    if value is None or pd.isna(value):
        return None
    try:
        return pd.Timestamp(value).to_period("M").to_timestamp()
    except (TypeError, ValueError) as exc:
        raise SnrInputError(f"extract date {as_of!r}: expected YYYY-MM or a date") from exc


def after_extract_message(end: pd.Timestamp) -> str:
    """The message of a date after the extract's last month."""
    return f"a date after the extract's last month ({end:%Y-%m})"


def _after_extract(tables: dict[str, _Table], as_of: Any) -> list[Problem]:
    months = tables.get("client_months")

    def last_month():
        if months is None or not months.has("month") or months.frame.empty:
            return None
        return months.frame["month"].max()

    found: list[Problem | None] = [
        Problem(name, "*", "empty", [], 0, "table holds no rows")
        for name in ("clients", "client_months")
        if name in tables and tables[name].frame.empty
    ]
    end = extract_end(as_of, last_month)
    limit = None if end is None else end + pd.offsets.MonthBegin(1)
    for name, table in tables.items() if limit is not None else ():
        for col in _COLUMNS[name]:
            if col.kind in ("date", "timestamp") and table.has(col.name):
                if (name, col.name) in _PLANNED:
                    continue
                mask = (table.frame[col.name] >= limit).to_numpy()
                found.append(
                    table.problem(
                        col.name, "after_extract", mask, after_extract_message(end), [col.name]
                    )
                )
    return [p for p in found if p is not None]


# --------------------------------------------------------------------------- validate


def _frames(tables: Tables | Mapping[str, pd.DataFrame]) -> Mapping[str, Any]:
    if isinstance(tables, Tables):
        return dict(tables.items())
    if isinstance(tables, Mapping):
        return tables
    raise TypeError(
        f"validate() takes a Tables or a mapping of table name to DataFrame, not {type(tables)}"
    )


def _prepare(name: str, frame: pd.DataFrame, problems: list[Problem]) -> tuple[_Table, dict]:
    """Select and normalise the contract's columns of one table; record structural problems."""
    specs = _COLUMNS[name]
    contract = [col.name for col in specs]
    columns = pd.Index(frame.columns)
    extra = [str(c) for c in columns if c not in set(contract)]
    if extra:
        logger.info("%s: ignoring %d extra column(s): %s", name, len(extra), ", ".join(extra))
    duplicated = set(columns[columns.duplicated()])
    for col in contract:
        if col in duplicated:
            problems.append(
                Problem(name, col, "duplicate_column", [], 0, "the column appears more than once")
            )
        elif col not in columns:
            problems.append(
                Problem(name, col, "missing_column", [], 0, "required column is missing")
            )
    present = [c for c in contract if c in columns and c not in duplicated]
    raw = frame.loc[:, present].reset_index(drop=True)
    labels = frame.index
    data: dict[str, pd.Series] = {}
    dtypes: dict[str, str] = {}
    unusable: list[tuple[_Col, _Normalised]] = []
    for col in specs:
        if col.name not in present:
            continue
        result = _normalise_column(raw[col.name], col)
        if result.series is None:
            unusable.append((col, result))
            continue
        data[col.name] = result.series.reset_index(drop=True).rename(col.name)
        if result.dtype is not None:
            dtypes[col.name] = result.dtype
    normalised = pd.DataFrame(data, index=pd.RangeIndex(len(frame)))
    table = _Table(name, normalised, labels)
    for col, result in unusable:
        message = f"wrong type: expected {_EXPECTED[col.kind]}, found {result.found}"
        if result.detail:
            message += f" ({result.detail})"
        assert result.bad is not None
        problems.append(table.problem_at(col.name, "dtype", result.bad, message, [col.name], raw))
    table.usable = set(data)
    return table, dtypes


def validate(tables: Tables | Mapping[str, pd.DataFrame], *, as_of: Any = None) -> Tables:
    """Normalise the tables to the contract's types and check every rule of the contract.

    Parameters
    ----------
    tables : Tables or mapping of str to DataFrame
        The tables by name (``clients``, ``client_months``, ``tickets``, ``surveys``,
        ``interventions``, ``market`` and, optionally, ``outreach``). They are not modified.

    Returns
    -------
    Tables
        New frames holding the contract's columns only, in contract order, with normalised
        dtypes (see :class:`~snr_models.data.tables.Tables`) and a fresh ``RangeIndex``.
        Extra columns are dropped (logged at INFO); extra tables are ignored.
    as_of : str or Timestamp, optional
        The extract's date: dates after its month are refused (default: the latest month of
        ``client_months``; an intervention's planned ``end_date`` may lie later).

    Raises
    ------
    ContractError
        Listing every problem found, each with table, column and up to five offending rows.

    Examples
    --------
    >>> import pandas as pd
    >>> try:
    ...     validate({"market": pd.DataFrame({"month": pd.to_datetime(["2024-01-15"])})})
    ... except ContractError as err:
    ...     print(len(err.problems), err.problems[0].check)
    9 missing_table
    """
    frames = _frames(tables)
    extra = sorted(str(n) for n in frames if n not in ALL_TABLE_NAMES)
    if extra:
        logger.info("ignoring extra table(s): %s", ", ".join(extra))
    problems: list[Problem] = []
    prepared: dict[str, _Table] = {}
    dtypes: dict[str, dict[str, str]] = {}
    for name in ALL_TABLE_NAMES:
        if name in OPTIONAL_TABLE_NAMES and frames.get(name) is None:
            continue
        if name not in frames:
            problems.append(Problem(name, "*", "missing_table", [], 0, "table is missing"))
            continue
        frame = frames[name]
        if not isinstance(frame, pd.DataFrame):
            problems.append(
                Problem(
                    name, "*", "dtype", [], 0, f"expected a DataFrame, found {type(frame).__name__}"
                )
            )
            continue
        prepared[name], dtypes[name] = _prepare(name, frame, problems)
    for name, table in prepared.items():
        problems.extend(_pandera_problems(table, dtypes[name]))
    problems.extend(_cross_problems(prepared))
    problems.extend(_after_extract(prepared, as_of))
    if problems:
        raise ContractError(_ordered(problems))
    return Tables(**{name: table.frame for name, table in prepared.items()})


def _ordered(problems: list[Problem]) -> list[Problem]:
    """Problems grouped by table (contract order), then by column (contract order)."""
    table_rank = {name: i for i, name in enumerate(("*", *ALL_TABLE_NAMES))}

    def rank(problem: Problem) -> tuple[int, int]:
        columns = [col.name for col in _COLUMNS.get(problem.table, ())]
        first = problem.column.split(",")[0].strip()
        return table_rank.get(problem.table, 99), (columns.index(first) if first in columns else -1)

    return sorted(problems, key=rank)
