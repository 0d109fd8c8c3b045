"""Reading every source of ``sources.yaml`` into staged Parquet parts, with what was rejected.

:func:`extract` streams each table's source chunk by chunk (a glob of monthly CSV files is
read one file at a time), converts it, and appends the kept rows at once to the table
``staged_<table>`` of a staging DuckDB database (spilling to disk): memory holds one chunk, whatever
the number of months. Each kept row
carries ``_row``, its source and line (:func:`source_row`), so that a contract error found
later names the source file and line. Rejected cells are appended to the quarantine file as
they are found; only their counts and first examples stay in memory. Codes missing from a
code map are one error for the whole extract, listing every unknown code with its count.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from snr_models.data.ingest.config import MONTHLY_COLUMN, SourcesConfig
from snr_models.data.ingest.convert import REJECT_COLUMNS, map_chunk
from snr_models.data.ingest.read import IngestError, read_source

__all__ = ["ROW_COLUMN", "Extract", "SourceStats", "extract", "source_row"]

#: The staged column holding each row's source and line (see :func:`source_row`).
ROW_COLUMN = "_row"
_LINE_BITS = 40
_EXAMPLES = 5


def source_row(source: int | np.ndarray, line: int | np.ndarray) -> int | np.ndarray:
    """One integer for a row's source (its index in :attr:`Extract.sources`) and line.

    Examples
    --------
    >>> divmod(source_row(3, 17), 1 << 40)
    (3, 17)
    """
    return (np.int64(source) << _LINE_BITS) | np.int64(line)


@dataclass
class SourceStats:
    """One file or query of an extract: what was read from it (no rows, no credentials).

    ``rows_read = rows_written + rows_rejected + rows_other_months`` (other months: rows of a
    monthly table outside the month being ingested, set aside, not rejected).
    """

    table: str
    source: str
    sha256: str
    rows_read: int
    rows_rejected: int
    rows_other_months: int = 0
    encoding: str | None = None
    encoding_detected: bool = False


@dataclass
class Extract:
    """The contract's tables as read from the sources, staged, before they meet the dataset.

    Attributes
    ----------
    con : DuckDBPyConnection
        The staging database: ``staged_<table>`` holds each table's kept rows in the
        contract's types, plus :data:`ROW_COLUMN`.
    quarantine : Path
        The CSV of rejected cells: ``table, source, line, column, reason, value`` (it exists
        only if a cell was rejected).
    reasons : DataFrame
        ``table, column, reason, rows``: rejected cells counted by reason.
    examples : DataFrame
        The first rejected cells of each ``table, column, reason`` (quarantine columns).
    sources : list of SourceStats
    month : Timestamp or None
        The month extracted (its first day), or ``None`` for everything.
    tables : tuple of str
        The contract tables extracted: the six, and ``outreach`` when ``sources.yaml`` has it.
    """

    con: duckdb.DuckDBPyConnection
    quarantine: Path
    reasons: pd.DataFrame
    examples: pd.DataFrame
    sources: list[SourceStats] = field(default_factory=list)
    month: pd.Timestamp | None = None
    tables: tuple[str, ...] = ()

    @staticmethod
    def relation(table: str) -> str:
        """The staging table holding ``table``'s kept rows."""
        return f"staged_{table}"

    def rows_read(self, table: str) -> int:
        """Rows read from ``table``'s sources."""
        return sum(s.rows_read for s in self.sources if s.table == table)

    def rows_rejected(self, table: str) -> int:
        """Rows of ``table`` sent to quarantine."""
        return sum(s.rows_rejected for s in self.sources if s.table == table)

    def rows_kept(self, table: str) -> int:
        """Rows of ``table`` staged (read, not rejected, of the month extracted)."""
        return sum(
            s.rows_read - s.rows_rejected - s.rows_other_months
            for s in self.sources
            if s.table == table
        )

    def rejected_by_reason(self, table: str) -> pd.DataFrame:
        """``column, reason, rows`` of ``table``'s quarantine, most frequent first."""
        part = self.reasons[self.reasons["table"] == table]
        return part.drop(columns="table").sort_values("rows", ascending=False, kind="stable")

    def where(self, row: int) -> str:
        """``source line N`` of a staged row's :data:`ROW_COLUMN` value."""
        index, line = divmod(int(row), 1 << _LINE_BITS)
        return f"{self.sources[index].source} line {line}"


def _month_mask(values: pa.ChunkedArray, month: pd.Timestamp) -> np.ndarray:
    start = month.to_datetime64()
    end = (month + pd.offsets.MonthBegin()).to_datetime64()
    v = values.to_numpy().astype("datetime64[us]")
    return (v >= start) & (v < end)


def _unknown_message(found: list[tuple[str, str, str, Counter, list[int]]]) -> str:
    lines = ["codes missing from the code maps of sources.yaml (nothing was written):"]
    for table, source, column, codes, first in found:
        listed = ", ".join(
            f"{code!r} ({n:,} row{'s' if n != 1 else ''})" for code, n in codes.most_common(20)
        )
        more = f" and {len(codes) - 20} more" if len(codes) > 20 else ""
        target = column.split(" ")[0]
        lines.append(
            f"- {source} (table {table}), column {column}: unknown {listed}{more}; "
            f"first at line(s) {', '.join(map(str, first))}; "
            f"add them under tables.{table}.values.{target}"
        )
    return "\n".join(lines)


class _Quarantine:
    """Rejected cells appended to a CSV as they come; counts and first examples kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counts: Counter = Counter()
        self.examples: list[pd.DataFrame] = []
        self._handle = None

    def add(self, rejected: pd.DataFrame) -> None:
        if rejected.empty:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("w", encoding="utf-8-sig", newline="")  # for Excel
            csv.writer(self._handle).writerow(REJECT_COLUMNS)
        rejected.to_csv(self._handle, index=False, header=False)
        groups = rejected.groupby(["table", "column", "reason"], sort=False)
        for key, n in groups.size().items():
            before = self.counts[key]
            self.counts[key] += int(n)
            if before < _EXAMPLES:
                self.examples.append(groups.get_group(key).head(_EXAMPLES - before))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def reasons(self) -> pd.DataFrame:
        rows = [(*key, n) for key, n in self.counts.items()]
        return pd.DataFrame(rows, columns=["table", "column", "reason", "rows"]).astype(
            {"rows": "int64"}
        )


def _refuse_a_file_twice(stats: list[SourceStats]) -> None:
    """Two source files of one table with the same bytes: a month delivered twice.

    Files without rows are left out (every empty month's file is the same header line); a
    source read in several chunks, or a workbook's sheets, carry one label per chunk.
    """
    labels: dict[tuple[str, str], set[str]] = {}
    for s in stats:
        if s.rows_read:
            labels.setdefault((s.table, s.sha256), set()).add(s.source)
    twice = [(table, sorted(files)) for (table, _), files in labels.items() if len(files) > 1]
    if twice:
        lines = [
            f"tables.{table}: {' and '.join(files)} have the same contents (sha256)"
            for table, files in twice
        ]
        raise IngestError(
            "the same extract delivered twice in one ingest:\n  "
            + "\n  ".join(lines)
            + "\nremove the copies (ingesting a month again in a later run replaces it)"
        )


def extract(
    config: SourcesConfig,
    con: duckdb.DuckDBPyConnection,
    quarantine: Path,
    month: pd.Timestamp | None = None,
) -> Extract:
    """Read and convert every table's source into staged Parquet parts.

    Parameters
    ----------
    config : SourcesConfig
        From :func:`~snr_models.data.ingest.config.load_sources`.
    con : DuckDBPyConnection
        The staging database, where the tables ``staged_<table>`` are created.
    quarantine : Path
        Where the rejected cells are written (CSV), if there are any.
    month : Timestamp, optional
        The month to extract (its first day). Rows of a monthly table (client_months by
        ``month``, tickets by ``created_at``, surveys by ``responded_at``, outreach by
        ``contacted_at``) of other months
        are set aside and counted (``rows_other_months``: a workbook may hold every month);
        snapshot tables are read whole.

    Raises
    ------
    IngestError
        A source that cannot be read, a missing column, or codes missing from a code map.
    """
    stats: list[SourceStats] = []
    unknown: list[tuple[str, str, str, Counter, list[int]]] = []
    rejected = _Quarantine(quarantine)
    try:
        for table in config.table_names():
            source = config.tables[table]
            created = False
            for chunk in read_source(table, config, month):
                mapped = map_chunk(table, source, chunk)
                kept, lines = mapped.table, mapped.lines
                rejected.add(mapped.rejected)
                for column, codes in mapped.unknown.items():
                    first = mapped.unknown_lines[column]
                    unknown.append((table, chunk.source, column, codes, first))
                other_months = 0
                if month is not None and table in MONTHLY_COLUMN and kept.num_rows:
                    inside = _month_mask(kept[MONTHLY_COLUMN[table]], month)
                    other_months = int((~inside).sum())
                    if other_months:
                        kept, lines = kept.filter(pa.array(inside)), lines[inside]
                rows = source_row(len(stats), lines)
                con.register("_snr_part", kept.append_column(ROW_COLUMN, pa.array(rows)))
                into = Extract.relation(table)
                con.execute(
                    f"INSERT INTO {into} SELECT * FROM _snr_part"
                    if created
                    else f"CREATE TABLE {into} AS SELECT * FROM _snr_part"
                )
                con.unregister("_snr_part")
                created = True
                stats.append(
                    SourceStats(
                        table,
                        chunk.source,
                        chunk.sha256,
                        mapped.n_read,
                        mapped.n_rejected,
                        other_months,
                        chunk.encoding,
                        chunk.detected,
                    )
                )
    finally:
        rejected.close()
    _refuse_a_file_twice(stats)
    if unknown:
        raise IngestError(_unknown_message(unknown))
    examples = (
        pd.concat(rejected.examples, ignore_index=True)
        if rejected.examples
        else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    return Extract(
        con, quarantine, rejected.reasons(), examples, stats, month, config.table_names()
    )
