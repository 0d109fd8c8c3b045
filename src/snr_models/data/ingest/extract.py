"""Reading every source of ``sources.yaml`` into the contract's tables, with what was rejected.

:func:`extract` streams each table's source chunk by chunk (a glob of monthly CSV files is
read one file at a time), converts it, and keeps per source the hash and the rows read and
rejected. Codes missing from a code map are one error for the whole extract, listing every
unknown code with its count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snr_models.data.contract import column_kinds
from snr_models.data.ingest.config import MONTHLY_COLUMN, SourcesConfig
from snr_models.data.ingest.convert import map_chunk
from snr_models.data.ingest.read import IngestError, read_source
from snr_models.data.tables import TABLE_NAMES

__all__ = ["Extract", "SourceStats", "extract"]


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
    """The contract's tables as read from the sources, before they meet the existing data.

    Attributes
    ----------
    frames : dict of str to DataFrame
        Each table's kept rows, contract columns and dtypes.
    rejected : DataFrame
        The quarantine: ``table, source, line, column, reason, value``, one row per bad cell.
    sources : list of SourceStats
    month : Timestamp or None
        The month extracted (its first day), or ``None`` for everything.
    """

    frames: dict[str, pd.DataFrame]
    rejected: pd.DataFrame
    sources: list[SourceStats] = field(default_factory=list)
    month: pd.Timestamp | None = None

    def rows_read(self, table: str) -> int:
        """Rows read from ``table``'s sources."""
        return sum(s.rows_read for s in self.sources if s.table == table)

    def rows_rejected(self, table: str) -> int:
        """Rows of ``table`` sent to quarantine."""
        return sum(s.rows_rejected for s in self.sources if s.table == table)

    def rejected_by_reason(self, table: str) -> pd.DataFrame:
        """``column, reason, rows`` of ``table``'s quarantine, most frequent first."""
        part = self.rejected[self.rejected["table"] == table]
        counts = part.groupby(["column", "reason"], sort=False).size().rename("rows")
        return counts.sort_values(ascending=False).reset_index()


def _month_mask(values: pd.Series, month: pd.Timestamp) -> np.ndarray:
    start = month.to_datetime64()
    end = (month + pd.offsets.MonthBegin()).to_datetime64()
    v = values.to_numpy(dtype="datetime64[us]")
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


def extract(config: SourcesConfig, month: pd.Timestamp | None = None) -> Extract:
    """Read and convert every table's source.

    Parameters
    ----------
    config : SourcesConfig
        From :func:`~snr_models.data.ingest.config.load_sources`.
    month : Timestamp, optional
        The month to extract (its first day). Rows of a monthly table (client_months by
        ``month``, tickets by ``created_at``, surveys by ``responded_at``) of other months
        are set aside and counted (``rows_other_months``: a workbook may hold every month);
        snapshot tables are read whole.

    Raises
    ------
    IngestError
        A source that cannot be read, a missing column, or codes missing from a code map.
    """
    frames: dict[str, pd.DataFrame] = {}
    rejected: list[pd.DataFrame] = []
    stats: list[SourceStats] = []
    unknown: list[tuple[str, str, str, Counter, list[int]]] = []
    for table in TABLE_NAMES:
        source = config.tables[table]
        parts: list[pd.DataFrame] = []
        for chunk in read_source(table, config, month):
            mapped = map_chunk(table, source, chunk)
            frame = mapped.frame
            rejected.append(mapped.rejected)
            for column, codes in mapped.unknown.items():
                unknown.append((table, chunk.source, column, codes, mapped.unknown_lines[column]))
            other_months = 0
            if month is not None and table in MONTHLY_COLUMN and len(frame):
                inside = _month_mask(frame[MONTHLY_COLUMN[table]], month)
                other_months = int((~inside).sum())
                if other_months:
                    frame = frame.loc[inside].reset_index(drop=True)
            parts.append(frame)
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
        kinds = column_kinds(table)
        frames[table] = (pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0])[
            list(kinds)
        ]
    if unknown:
        raise IngestError(_unknown_message(unknown))
    quarantine = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame()
    return Extract(frames, quarantine, stats, month)
