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
_PANDAS = {
    "text": "str",
    "int": "int64",
    "nullable_int": "float64",
    "float": "float64",
    "bool": "bool",
    "date": "datetime64[us]",
    "timestamp": "datetime64[us]",
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
    clean = pc.replace_substring(pc.replace_substring(text, ",", ""), "+", "")
    if shift == 0:
        try:  # fast path: Arrow's parser is correctly rounded
            return clean.cast(pa.float64()).to_numpy(zero_copy_only=False), np.zeros(
                len(text), dtype=bool
            )
        except pa.ArrowInvalid:
            pass
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
    frame : DataFrame
        Contract columns (contract dtypes) of the rows kept.
    rejected : DataFrame
        One row per rejected cell: ``table, source, line, column, reason, value``.
    n_read, n_rejected : int
        Rows read; rows rejected (a row with two bad cells counts once).
    unknown : dict
        ``column -> Counter(code -> rows)`` of codes missing from the code map, and
        ``unknown_lines`` the first lines where each column had one.
    lines : ndarray
        The source line of each row of ``frame``.
    """

    frame: pd.DataFrame
    rejected: pd.DataFrame
    n_read: int
    n_rejected: int
    lines: np.ndarray
    unknown: dict[str, Counter] = field(default_factory=dict)
    unknown_lines: dict[str, list[int]] = field(default_factory=dict)


REJECT_COLUMNS = ["table", "source", "line", "column", "reason", "value"]


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


def _to_pandas(values: pa.Array | np.ndarray, kind: str) -> pd.Series:
    if isinstance(values, np.ndarray):
        return pd.Series(values)
    if kind == "text":
        return pd.Series(values.to_pandas(), dtype="str")
    if kind in ("int", "nullable_int", "float"):
        return pd.Series(values.cast(pa.float64()).to_numpy(zero_copy_only=False))
    return pd.Series(values.to_pandas())  # bool with nulls: object


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
    columns: dict[str, pd.Series] = {}
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
            mapped, bad = _code_map(text, mapping, kind)
            if bad.any():
                codes = Counter(pc.filter(text, pa.array(bad)).to_pylist())
                unknown[label] = codes
                unknown_lines[label] = lines[np.flatnonzero(bad)[:5]].tolist()
            series = _to_pandas(mapped, kind)
        elif kind in ("int", "nullable_int", "float"):
            values, bad = parse_number(text, source.units.get(target))
            done |= reject(label, bad, f"not a number ({source.units.get(target) or 'plain'})", raw)
            series = pd.Series(values)
        elif kind in ("date", "timestamp"):
            spec = source.dates.get(target, DateSpec())
            values, bad = parse_dates(text, spec)
            done |= reject(label, bad, f"not a date in format {spec.format}", raw)
            series = pd.Series(values)
        else:
            series = _to_pandas(text, "text")
        if kind in ("int", "nullable_int"):
            numbers = series.to_numpy(dtype=float)
            fractional = ~np.isnan(numbers) & (numbers != np.round(numbers))
            done |= reject(label, fractional, "not a whole number", raw)
        if not schema.field(target).nullable:
            empty = series.isna().to_numpy() & ~done
            reject(label, empty, "empty (the contract requires a value)", raw)
        columns[target] = series

    keep = ~rejected_rows
    frame = pd.DataFrame({name: columns[name] for name in kinds})
    frame = frame.loc[keep].reset_index(drop=True)
    for name, kind in kinds.items():
        if kind == "bool" and frame[name].dtype != bool:
            frame[name] = frame[name].astype(bool)
        elif kind == "int":
            frame[name] = frame[name].astype("int64")
        elif kind == "text":
            frame[name] = frame[name].astype("str")
        elif frame[name].dtype != _PANDAS[kind]:
            frame[name] = frame[name].astype(_PANDAS[kind])
    rejected = (
        pd.concat(rejected_parts, ignore_index=True)
        if rejected_parts
        else pd.DataFrame({c: pd.Series(dtype="str") for c in REJECT_COLUMNS})
    )
    return Mapped(frame, rejected, n, int(rejected_rows.sum()), lines[keep], unknown, unknown_lines)
