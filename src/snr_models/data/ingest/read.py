"""Reading a source as text: CSV (stated or detected encoding), Excel sheets, Parquet, SQL.

Every reader yields :class:`Chunk` objects whose columns are all Arrow strings (null for an
empty cell): the conversions of :mod:`snr_models.data.ingest.convert` then work on the text
exactly as the source wrote it, which is what makes unit changes exact. A CSV file is read by
Arrow's multi-threaded reader, one file at a time (a glob of monthly files is streamed).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import glob as globbing
import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from snr_models.data.ingest.config import SourcesConfig, TableSource
from snr_models.errors import SnrInputError

__all__ = ["Chunk", "IngestError", "SourceUnavailable", "detect_encoding", "read_source"]

logger = logging.getLogger(__name__)

_SAMPLE_BYTES = 1 << 20
#: The drivers of the databases a broker's warehouse runs on, as SQLAlchemy URLs name them.
_DRIVERS = (
    "PostgreSQL postgresql+psycopg:// (pip install 'psycopg[binary]'), "
    "Oracle oracle+oracledb:// (pip install oracledb; thin mode, no Oracle client needed)"
)


class IngestError(SnrInputError):
    """A source cannot be read or mapped; the message names the source, column and rows."""


class SourceUnavailable(RuntimeError):
    """A database cannot be reached (the CLI exits with code 69, as for a tracking server)."""


@dataclass(frozen=True)
class Chunk:
    """Rows of one source file (or query result), every column as text.

    Attributes
    ----------
    source : str
        The file (relative to ``sources.yaml``), ``file.xlsx[sheet]`` or ``sql:<database>``.
    first_line : int
        Line of the first row in the source: 2 for a file with a header line, 1 for a query
        result or a Parquet file (row numbers).
    frame : pyarrow.Table
        The source's columns, all ``string``.
    sha256 : str
        Of the file's bytes, or of the query result's text.
    encoding : str or None
        The encoding used for a CSV file; ``detected`` says whether it was detected.
    """

    source: str
    first_line: int
    frame: pa.Table
    sha256: str
    encoding: str | None = None
    detected: bool = False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def detect_encoding(path: str | Path) -> str:
    """``utf-8-sig`` (a BOM), ``utf-8`` or ``gb18030`` (which reads GBK), from the first MiB.

    Raises
    ------
    IngestError
        If the sample is neither valid UTF-8 nor valid GB18030.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = f.write_bytes("客户号\\n1\\n".encode("gbk"))
    >>> detect_encoding(f)
    'gb18030'
    """
    with Path(path).open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if len(sample) == _SAMPLE_BYTES and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # never cut a character in two
    for encoding in ("utf-8", "gb18030"):
        try:
            sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise IngestError(f"{path}: the encoding is neither UTF-8 nor GBK/GB18030; state 'encoding'")


def _bad_line(path: Path, encoding: str) -> tuple[int, str] | None:
    """The first line of ``path`` that ``encoding`` cannot decode, and the decoder's reason."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                return number, f"byte {line[exc.start : exc.start + 1].hex()} at column {exc.start}"
    return None


def _arrow_encoding(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return "utf8" if name in ("utf-8", "utf-8-sig") else name


def _read_csv(path: Path, label: str, stated: str) -> Chunk:
    encoding = detect_encoding(path) if stated == "auto" else stated
    try:
        with path.open(encoding=encoding, newline="") as handle:
            header = next(csv.reader(handle), [])
        options = pa_csv.ReadOptions(
            encoding=_arrow_encoding(encoding), column_names=header, skip_rows=1
        )
        convert = pa_csv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
        )
        table = pa_csv.read_csv(path, read_options=options, convert_options=convert)
    except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
        bad = _bad_line(path, encoding)
        if bad is None:  # not an encoding problem: a broken CSV line, say
            raise IngestError(f"{label}: cannot be read as CSV: {exc}") from None
        line, reason = bad
        how = "detected" if stated == "auto" else "stated"
        raise IngestError(
            f"{label}: line {line} is not valid {encoding} ({how} encoding): {reason}; "
            "state the file's real encoding (e.g. encoding: gbk)"
        ) from None
    if encoding != stated:
        logger.info("%s: encoding detected as %s", label, encoding)
    return Chunk(label, 2, table, _sha256(path), encoding, stated == "auto")


def _text(values: pd.Series) -> pa.Array:
    """A column of any type as Arrow text, written as the source meant it.

    Numbers take their shortest round-trip form, decimals (SQL ``NUMERIC``) their exact
    digits, dates and timestamps ISO 8601; nulls and NaN stay null.
    """
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return pa.array(values.map({True: "true", False: "false"}), type=pa.string())
    if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return pa.array(values, from_pandas=True).cast(pa.string())
    if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return pa.array(values, type=pa.string(), from_pandas=True)
    return pa.array([_cell(v) for v in values], type=pa.string())


def _cell(value: object) -> str | None:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return None if value.is_nan() else format(value, "f")
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else repr(float(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _as_text_table(frame: pd.DataFrame) -> pa.Table:
    return pa.table({str(c): _text(frame[c]) for c in frame.columns})


def _read_xlsx(path: Path, label: str, sheet: str | int | None) -> Chunk:
    import openpyxl

    wanted = 0 if sheet is None else sheet
    try:
        frame = pd.read_excel(path, sheet_name=wanted, dtype=object, engine="openpyxl")
    except ValueError as exc:
        if "not found" not in str(exc):
            raise IngestError(f"{label}: cannot be read as a workbook: {exc}") from None
        names = openpyxl.load_workbook(path, read_only=True).sheetnames
        raise IngestError(f"{label}: no sheet {wanted!r}; its sheets: {', '.join(names)}") from None
    except (OSError, KeyError, openpyxl.utils.exceptions.InvalidFileException) as exc:
        raise IngestError(f"{label}: cannot be read as a workbook: {exc}") from None
    shown = f"{label}[{wanted}]" if sheet is not None else label
    return Chunk(shown, 2, _as_text_table(frame), _sha256(path))


def _read_parquet(path: Path, label: str) -> Chunk:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise IngestError(f"{label}: cannot be read as Parquet: {exc}") from None
    return Chunk(label, 1, _as_text_table(table.to_pandas()), _sha256(path))


def _paths(source: TableSource, base: Path, month: pd.Timestamp | None, table: str) -> list[Path]:
    pattern = source.path or ""
    try:
        filled = pattern.format(month=month.to_pydatetime()) if month is not None else None
    except (KeyError, IndexError, ValueError) as exc:
        raise IngestError(f"tables.{table}.path: bad placeholder in {pattern!r}: {exc}") from None
    if filled is None:
        import re

        filled = re.sub(r"\{month(:[^}]*)?\}", "*", pattern)
    full = filled if os.path.isabs(filled) else str(base / filled)
    found = sorted(Path(p) for p in globbing.glob(full))
    if not found:
        raise IngestError(f"tables.{table}.path: no file matches {filled!r} (in {base})")
    return found


def _label(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _read_sql(
    source: TableSource, config: SourcesConfig, month: pd.Timestamp | None, table: str
) -> Chunk:
    import sqlalchemy
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    name = source.database or ""
    env = config.databases[name].url_env
    url = os.environ.get(env)
    if not url:
        raise IngestError(
            f"tables.{table}: database {name!r} needs its URL in the environment variable {env}"
        )
    try:
        shown = sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        raise IngestError(f"{env} does not hold a database URL (database {name!r})") from None
    params = {}
    if month is not None:
        params = {
            "month_start": month.date(),
            "month_end": (month + pd.offsets.MonthBegin()).date(),
        }
    else:
        params = {"month_start": dt.date(1, 1, 1), "month_end": dt.date(9999, 12, 31)}
    query = sqlalchemy.text(source.sql or "")
    wanted = {k: v for k, v in params.items() if f":{k}" in (source.sql or "")}
    try:
        engine = sqlalchemy.create_engine(url, pool_pre_ping=False)
    except (ImportError, sqlalchemy.exc.NoSuchModuleError) as exc:
        raise IngestError(
            f"tables.{table}: database {name!r} ({shown}, from {env}): the driver of "
            f"{sqlalchemy.engine.make_url(url).drivername!r} is not installed ({exc}); "
            f"install it: {_DRIVERS}"
        ) from None
    try:
        with engine.connect() as con:
            frame = pd.read_sql_query(query, con, params=wanted or None)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError) as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise SourceUnavailable(
            f"tables.{table}: database {name!r} ({shown}, from {env}) cannot be reached: "
            f"{reason.replace(url, shown)}"
        ) from None
    except (DBAPIError, SQLAlchemyError) as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise IngestError(
            f"tables.{table}: the query on database {name!r} failed: {reason}"
        ) from None
    finally:
        engine.dispose()
    text = _as_text_table(frame)
    digest = hashlib.sha256()
    for column in text.columns:
        digest.update(str(column.to_pylist()).encode())
    return Chunk(f"sql:{name}", 1, text, digest.hexdigest())


def read_source(
    table: str, config: SourcesConfig, month: pd.Timestamp | None = None
) -> Iterator[Chunk]:
    """Yield the chunks of ``table``'s source, one per file (or one query result).

    Parameters
    ----------
    table : str
        A contract table named under ``tables`` in ``config``.
    config : SourcesConfig
    month : Timestamp, optional
        The month being ingested (first day): fills ``{month:...}`` in paths and
        ``:month_start``/``:month_end`` in queries; ``None`` reads every month.

    Raises
    ------
    IngestError
        A missing file or sheet, an undecodable line (with its number), a broken file.
    SourceUnavailable
        A database that cannot be reached.
    """
    source = config.tables[table]
    kind = source.kind()
    if kind == "sql":
        yield _read_sql(source, config, month, table)
        return
    for path in _paths(source, config.base, month, table):
        label = _label(path, config.base)
        if kind == "csv":
            yield _read_csv(path, label, source.encoding)
        elif kind == "xlsx":
            yield _read_xlsx(path, label, source.sheet)
        else:
            yield _read_parquet(path, label)
