"""The container of the contract's six tables and its optional ones."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path

import pandas as pd

TABLE_NAMES: tuple[str, ...] = (
    "clients",
    "client_months",
    "tickets",
    "surveys",
    "interventions",
    "market",
)
#: Tables a data set may hold or lack (``outreach``: retention contacts and their holdout).
OPTIONAL_TABLE_NAMES: tuple[str, ...] = ("outreach",)
#: Every table of the contract: the required ones, then the optional ones.
ALL_TABLE_NAMES: tuple[str, ...] = TABLE_NAMES + OPTIONAL_TABLE_NAMES


@dataclass(frozen=True)
class Tables:
    """The validated tables of the data contract (see ``DESIGN.md``).

    Column types after loading: identifiers and categories are pandas ``str``; dates and
    timestamps are ``datetime64[us]`` (naive, exchange local time; a date is midnight);
    non-null integers are ``int64``; nullable integers (``birth_year``, ``ces``, the
    attribute ratings) are ``float64`` with ``NaN`` for null; booleans are ``bool``.

    ``outreach`` is optional: ``None`` when the data set holds no retention contacts. An
    absent optional table is left out of :meth:`items`, :meth:`content_hash`,
    :meth:`schema` and :meth:`row_counts`.

    Examples
    --------
    >>> import snr_models as snr
    >>> tables = snr.simulate(n_clients=2_000, n_branches=4, n_months=6, seed=1).tables
    >>> sorted(tables.names())[:2]
    ['client_months', 'clients']
    """

    clients: pd.DataFrame
    client_months: pd.DataFrame
    tickets: pd.DataFrame
    surveys: pd.DataFrame
    interventions: pd.DataFrame
    market: pd.DataFrame
    outreach: pd.DataFrame | None = None

    @staticmethod
    def names() -> tuple[str, ...]:
        """The table names, in contract order."""
        return TABLE_NAMES

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(name, frame)`` pairs in contract order; an absent optional table is left out."""
        for f in fields(self):
            frame = getattr(self, f.name)
            if frame is not None:
                yield f.name, frame

    @cached_property
    def _row_hashes(self) -> dict[str, bytes]:
        """Each table's column names and 64-bit row hashes, computed once per instance.

        The tables are treated as immutable once validated (a frozen container): a job hashes
        them for every run it logs, and a 50,000-client world takes seconds to hash.
        """
        return {
            name: ",".join(map(str, frame.columns)).encode()
            + pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()
            for name, frame in self.items()
        }

    def content_hash(self) -> str:
        """SHA-256 over every table's rows, in a stable order; identical data, identical hash.

        Safe to log: it reveals nothing about the rows.
        """
        digest = hashlib.sha256()
        for name, rows in self._row_hashes.items():
            digest.update(name.encode())
            digest.update(rows)
        return digest.hexdigest()

    def table_digests(self) -> dict[str, str]:
        """A short content hash (12 hex digits of SHA-256) of each table, by name."""
        return {
            name: hashlib.sha256(rows).hexdigest()[:12] for name, rows in self._row_hashes.items()
        }

    def schema(self) -> dict[str, dict[str, str]]:
        """Column names and dtypes per table (no values): safe to log."""
        return {
            name: {col: str(dtype) for col, dtype in frame.dtypes.items()}
            for name, frame in self.items()
        }

    def row_counts(self) -> dict[str, int]:
        """Number of rows per table."""
        return {name: len(frame) for name, frame in self.items()}


def parquet_glob(path: Path, name: str) -> str:
    """Where table ``name`` lives in a Parquet data folder: one file, or a folder of parts.

    ``<path>/<name>.parquet``, or the glob of every Parquet file under it when it is a folder
    (for DuckDB's ``read_parquet``).
    """
    target = Path(path) / f"{name}.parquet"
    if target.is_dir():
        return str(target / "**" / "*.parquet")
    return str(target)
