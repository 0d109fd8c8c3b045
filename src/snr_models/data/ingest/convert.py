"""Converting a source's text into the contract's columns: codes, units, dates, nulls.

:func:`map_chunk` turns one :class:`~snr_models.data.ingest.read.Chunk` into contract columns.
A cell that cannot be converted (a number or date that does not parse, a required value that
is empty) rejects its row, which goes to quarantine with its source, line, column, reason and
value; a code missing from a code map is collected, with its count, for an error (the map is
incomplete: a configuration problem, not a bad row).

Units that are powers of ten (percent, 万元) are applied to the text, by moving the decimal
point before the number is parsed: ``19.784414`` 万元 becomes exactly the double nearest to
197844.14, the same double a source in 元 would give. Durations (minutes, hours) are parsed
then multiplied.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from snr_models.data.contract import LOCAL_TIME_ZONE, arrow_schema, column_kinds
from snr_models.data.ingest.config import DURATION_UNITS, SCALE_UNITS, DateSpec, TableSource
from snr_models.data.ingest.read import Chunk, IngestError

__all__ = ["REJECT_COLUMNS", "Mapped", "map_chunk", "parse_dates", "parse_number", "shift_decimal"]

_NUMBER = r"^(?P<sign>-?)(?P<int>\d*)(?:\.(?P<frac>\d*))?(?:[eE](?P<exp>[+-]?\d+))?$"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"
#: Booleans a source may write when no code map is given.
DEFAULT_BOOLEANS: dict[str, bool] = {
    "true": True,
    "false": False,
    "True": True,
    "False": False,
    "TRUE": True,
    "FALSE": False,
    "1": True,
    "0": False,
    "是": True,
    "否": False,
    "Y": True,
    "N": False,
}


def shift_decimal(text: pa.Array | pa.ChunkedArray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse decimal text as ``value × 10**shift``, exactly; return values and a bad mask.

    The decimal point is moved in the text (``12.5`` with shift 4 is read as ``125000``), so
    the result is the double nearest to the exact decimal product. Thousands separators (``,``)
    and a leading ``+`` are ignored; nulls give NaN and are not bad.

    Examples
    --------
    >>> import pyarrow as pa
    >>> values, bad = shift_decimal(pa.array(["19.784414", "5.5", "x", None]), 4)
    >>> values[0] == 197844.14, bad.tolist()
    (np.True_, [False, False, True, False])
    """
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    good = np.zeros(len(text), dtype=bool)
    for clean in (text, None):  # most sources: plain numbers, no separators to remove
        if clean is None:
            clean = pc.replace_substring(pc.replace_substring(text, ",", ""), "+", "")
        if shift == 0:
            try:  # Arrow's parser is correctly rounded
                return clean.cast(pa.float64()).to_numpy(zero_copy_only=False), good
            except pa.ArrowInvalid:
                pass
        fast = _clinger(clean, shift)
        if fast is not None:
            return fast, good
    parts = pc.extract_regex(clean, _NUMBER)
    sign = pc.struct_field(parts, "sign")
    whole = pc.struct_field(parts, "int")
    frac = pc.struct_field(parts, "frac")
    exp = pc.struct_field(parts, "exp")
    has_digits = pc.greater(pc.add(pc.utf8_length(whole), pc.utf8_length(frac)), 0)
    ok = pc.and_kleene(pc.is_valid(parts), has_digits)
    ok = pc.fill_null(ok, False)
    mantissa = pc.binary_join_element_wise(sign, whole, frac, "")
    power = pc.cast(pc.if_else(pc.equal(exp, ""), "0", exp), pa.int64())
    power = pc.add(pc.subtract(power, pc.utf8_length(frac).cast(pa.int64())), shift)
    scientific = pc.binary_join_element_wise(mantissa, "e", power.cast(pa.string()), "")
    scientific = pc.if_else(ok, scientific, pa.scalar(None, pa.string()))
    values = scientific.cast(pa.float64()).to_numpy(zero_copy_only=False)
    bad = np.asarray(pc.and_(pc.is_valid(text), pc.invert(ok)).to_numpy(zero_copy_only=False))
    return values, bad


#: Powers of ten that a double holds exactly.
_EXACT_POWERS = 10.0 ** np.arange(23)


def _clinger(clean: pa.Array, shift: int) -> np.ndarray | None:
    """Plain decimals (``-12.50``) times ``10**shift``, correctly rounded, or None.

    The digits without the point are an integer ``m``, the point's place and the shift a power
    ``e``: when ``|m| < 2**53`` and ``|e| <= 22`` both are exact doubles, and the one IEEE
    multiplication or division ``m * 10**e`` rounds the exact product correctly (Clinger's fast
    path). None when a value is not such a decimal (exponents, bad text, too many digits):
    the caller then takes the exact, slower way through the text.
    """
    point = pc.find_substring(clean, ".")
    digits = pc.replace_substring(clean, ".", "", max_replacements=1)
    try:
        whole = digits.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    mantissa = whole.to_numpy(zero_copy_only=False).astype(np.float64)  # nulls: NaN
    point = point.to_numpy(zero_copy_only=False).astype(np.float64)
    length = pc.binary_length(clean).to_numpy(zero_copy_only=False).astype(np.float64)
    power = shift - np.where(point >= 0, length - point - 1, 0)  # digits after the point
    present = ~np.isnan(mantissa)
    if np.any(np.abs(mantissa[present]) >= 2.0**53) or np.any(np.abs(power[present]) > 22):
        return None
    power = np.where(present, power, 0).astype(np.int64)
    scale = _EXACT_POWERS[np.abs(power)]
    values = np.where(power >= 0, mantissa * scale, mantissa / scale)
    if np.any(values[present] == 0):  # "-0.0" keeps its sign, as the text parser keeps it
        negative = np.asarray(pc.starts_with(clean, "-").to_numpy(zero_copy_only=False))
        values = np.where((values == 0) & negative, -0.0, values)
    return values


def parse_number(
    text: pa.Array | pa.ChunkedArray, unit: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Parse numbers in ``unit`` (see :data:`SCALE_UNITS`, :data:`DURATION_UNITS`) into the
    contract's unit; return values (NaN for null or bad) and a bad mask."""
    if unit in DURATION_UNITS:
        values, bad = shift_decimal(text, 0)
        multiply, divide = DURATION_UNITS[unit]
        return values * multiply / divide, bad
    return shift_decimal(text, SCALE_UNITS.get(unit or "fraction", 0))


def parse_dates(text: pa.Array | pa.ChunkedArray, spec: DateSpec) -> tuple[np.ndarray, np.ndarray]:
    """Parse dates or timestamps as stated by ``spec`` into naive Asia/Shanghai time.

    Returns ``datetime64[us]`` values (NaT for null or bad) and a bad mask. Each distinct text
    is parsed once (a month column repeats a few dozen values millions of times).

    Examples
    --------
    >>> import pyarrow as pa
    >>> v, bad = parse_dates(pa.array(["2024年3月", "2024年13月"]), DateSpec(format="%Y年%m月"))
    >>> str(v[0])[:10], bad.tolist()
    ('2024-03-01', [False, True])
    """
    fast = _arrow_dates(text, spec)
    if fast is not None:
        return fast, np.zeros(len(fast), dtype=bool)
    series = pd.Series(text.to_pandas() if hasattr(text, "to_pandas") else text, dtype="str")
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    distinct = pd.Series(np.asarray(uniques, dtype=object))
    parsed = _parse_distinct(distinct, spec) if len(distinct) else pd.Series([], dtype="M8[us]")
    values = parsed.to_numpy(dtype="datetime64[us]")
    out = np.full(len(series), np.datetime64("NaT"), dtype="datetime64[us]")
    present = codes >= 0
    out[present] = values[codes[present]]
    bad = present & np.isnat(out)
    return out, bad


def _arrow_dates(text: pa.Array | pa.ChunkedArray, spec: DateSpec) -> np.ndarray | None:
    """Arrow's parsers, when every value parses: ISO 8601 or ``strptime`` text in local time,
    or ISO 8601 text that all carries an offset. None otherwise (a bad value, an other zone,
    Excel numbers, mixed offsets): the caller then parses each distinct text with pandas."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    zone = spec.timezone or LOCAL_TIME_ZONE
    if spec.format == "excel" or zone != LOCAL_TIME_ZONE or "%z" in spec.format.lower():
        return None
    try:
        if spec.format != "ISO8601":
            parsed = pc.strptime(text, format=spec.format, unit="us", error_is_null=True)
        elif pc.any(pc.match_substring_regex(text, _OFFSET)).as_py():
            aware = pc.cast(text, pa.timestamp("us", tz="UTC"))
            parsed = pc.local_timestamp(aware.cast(pa.timestamp("us", tz=LOCAL_TIME_ZONE)))
        else:
            parsed = pc.cast(text, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if parsed.null_count != text.null_count:
        return None
    return parsed.to_numpy(zero_copy_only=False).astype("datetime64[us]")


def _parse_distinct(text: pd.Series, spec: DateSpec) -> pd.Series:
    if spec.format == "excel":
        days, _ = shift_decimal(pa.array(text, type=pa.string()), 0)
        millis = np.round(days * 86_400_000.0)
        result = _EXCEL_EPOCH + pd.to_timedelta(millis, unit="ms")
        return pd.Series(result).astype("datetime64[us]")
    zone = spec.timezone or LOCAL_TIME_ZONE
    with_offset = text.str.contains(_OFFSET, regex=True)
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if with_offset.any():
        aware = pd.to_datetime(text[with_offset], format=spec.format, errors="coerce", utc=True)
        local = aware.dt.tz_convert(LOCAL_TIME_ZONE).dt.tz_localize(None)
        result[with_offset] = local.astype("datetime64[us]")
    naive_text = text[~with_offset]
    if len(naive_text):
        naive = pd.to_datetime(naive_text, format=spec.format, errors="coerce")
        if naive.dt.tz is not None:  # a format with %z
            naive = naive.dt.tz_convert(LOCAL_TIME_ZONE).dt.tz_localize(None)
        elif zone != LOCAL_TIME_ZONE:
            aware = naive.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
            naive = aware.dt.tz_convert(LOCAL_TIME_ZONE).dt.tz_localize(None)
        result[~with_offset] = naive.astype("datetime64[us]")
    return result


@dataclass
class Mapped:
    """One chunk converted: the contract's columns of the kept rows, and what was rejected.

    Attributes
    ----------
    table : pyarrow.Table
        Contract columns (the contract's Arrow schema) of the rows kept.
    rejected : DataFrame
        One row per rejected cell: ``table, source, line, column, reason, value``.
    n_read, n_rejected : int
        Rows read; rows rejected (a row with two bad cells counts once).
    lines : ndarray
        The source line of each row of ``table``.
    unknown : dict
        ``column -> Counter(code -> rows)`` of codes missing from the code map, and
        ``unknown_lines`` the first lines where each column had one.
    """

    table: pa.Table
    rejected: pd.DataFrame
    n_read: int
    n_rejected: int
    lines: np.ndarray
    unknown: dict[str, Counter] = field(default_factory=dict)
    unknown_lines: dict[str, list[int]] = field(default_factory=dict)

    @property
    def frame(self) -> pd.DataFrame:
        """The kept rows as a DataFrame (dates and timestamps as ``datetime64[us]``)."""
        return self.table.to_pandas(date_as_object=False)


REJECT_COLUMNS = ["table", "source", "line", "column", "reason", "value"]
_US_PER_DAY = 86_400_000_000


@functools.cache
def _no_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str") for c in REJECT_COLUMNS})


def _code_map(text: pa.Array, mapping: dict, kind: str) -> tuple[pa.Array, np.ndarray]:
    keys = [str(k) for k in mapping]
    target = {"bool": pa.bool_(), "int": pa.int64(), "nullable_int": pa.int64()}.get(
        kind, pa.float64() if kind == "float" else pa.string()
    )
    values = pa.array(list(mapping.values()), type=target)
    index = pc.index_in(text, value_set=pa.array(keys, type=pa.string()))
    unknown = np.asarray(
        pc.and_(pc.is_valid(text), pc.is_null(index)).to_numpy(zero_copy_only=False)
    )
    return values.take(index), unknown


def map_chunk(table: str, source: TableSource, chunk: Chunk) -> Mapped:
    """Convert one chunk of ``table``'s source into the contract's columns.

    Raises
    ------
    IngestError
        If a source column named under ``columns`` is missing from the chunk.
    """
    names = chunk.frame.column_names
    missing = [c for c in source.columns if c not in names]
    if missing:
        raise IngestError(
            f"{chunk.source} (table {table}): column(s) {', '.join(missing)} not found in "
            f"{chunk.frame.num_rows:,} rows; its columns: {', '.join(names)}"
        )
    kinds = column_kinds(table)
    schema = arrow_schema(table)
    n = chunk.frame.num_rows
    lines = np.arange(n, dtype=np.int64) + chunk.first_line
    rejected_parts: list[pd.DataFrame] = []
    rejected_rows = np.zeros(n, dtype=bool)
    columns: dict[str, pa.Array] = {}
    unknown: dict[str, Counter] = {}
    unknown_lines: dict[str, list[int]] = {}

    def reject(column: str, mask: np.ndarray, reason: str, raw: pa.Array) -> np.ndarray:
        if not mask.any():
            return mask
        where = np.flatnonzero(mask)
        rejected_rows[where] = True
        rejected_parts.append(
            pd.DataFrame(
                {
                    "table": table,
                    "source": chunk.source,
                    "line": lines[where],
                    "column": column,
                    "reason": reason,
                    "value": pd.Series(raw.take(pa.array(where)).to_pandas(), dtype="str"),
                }
            )
        )
        return mask

    for src, target in source.columns.items():
        raw = chunk.frame[src].combine_chunks()
        text = pc.utf8_trim_whitespace(raw)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        kind = kinds[target]
        label = f"{target} (source column {src})"
        done = np.zeros(n, dtype=bool)  # cells of this column already rejected
        mapping = source.values.get(target)
        if mapping is None and kind == "bool":
            mapping = DEFAULT_BOOLEANS
        if mapping is not None:
            values, bad = _code_map(text, mapping, kind)
            if bad.any():
                codes = Counter(pc.filter(text, pa.array(bad)).to_pylist())
                unknown[label] = codes
                unknown_lines[label] = lines[np.flatnonzero(bad)[:5]].tolist()
            if kind in ("int", "nullable_int", "float"):
                values = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        elif kind in ("int", "nullable_int", "float"):
            values, bad = parse_number(text, source.units.get(target))
            done |= reject(label, bad, f"not a number ({source.units.get(target) or 'plain'})", raw)
        elif kind in ("date", "timestamp"):
            spec = source.dates.get(target, DateSpec())
            values, bad = parse_dates(text, spec)
            done |= reject(label, bad, f"not a date in format {spec.format}", raw)
            if kind == "date":
                timed = ~np.isnat(values) & (values.view("int64") % _US_PER_DAY != 0)
                done |= reject(label, timed & ~done, "a date with a time of day", raw)
        else:
            values = text
        if kind in ("int", "nullable_int"):
            fractional = ~np.isnan(values) & (values != np.round(values))
            done |= reject(label, fractional, "not a whole number", raw)
        if isinstance(values, np.ndarray):
            if values.dtype.kind == "f":
                values = np.where(done, np.nan, values)
            values = pa.array(values, from_pandas=True)
        values = values.cast(schema.field(target).type, safe=False)
        if not schema.field(target).nullable:
            empty = np.asarray(values.is_null().to_numpy(zero_copy_only=False)) & ~done
            reject(label, empty, "empty (the contract requires a value)", raw)
        columns[target] = values

    keep = ~rejected_rows
    arrays = pa.Table.from_arrays([columns[name] for name in kinds], schema=schema)
    kept = arrays.filter(pa.array(keep)) if rejected_rows.any() else arrays
    rejected = pd.concat(rejected_parts, ignore_index=True) if rejected_parts else _no_rejects()
    return Mapped(kept, rejected, n, int(rejected_rows.sum()), lines[keep], unknown, unknown_lines)
