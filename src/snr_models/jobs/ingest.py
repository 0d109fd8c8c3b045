"""``snr ingest``: a broker's exports into the contract, month by month, with nothing lost.

Steps: take the lock (a second ingest of the same output meanwhile exits with 75); read and
convert every source (:func:`snr_models.data.ingest.extract`); write the quarantine (rows that
could not be converted, with source, line, column, reason and value); stop with an error if a
table's rejected share passes the threshold (nothing else written); merge the month into the
existing dataset (its rows of that month replaced, never doubled; snapshot tables replaced,
as of the dataset's last month: see :func:`_as_of`);
validate against the contract and write atomically; record the manifest; write the
data-quality page.

Beside the output ``OUT`` (a Parquet folder or a DuckDB file) the folder ``OUT.ingest/``
holds ``manifest.json``, ``quarantine/<YYYY-MM|all>.csv``, ``quality-<YYYY-MM|all>.html``
and the lock. Nothing there holds a database URL or a password; the quarantine holds the
offending source cells, as sensitive as the exports themselves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snr_models.data.atomic import atomic_path
from snr_models.data.contract import KEYS, column_kinds
from snr_models.data.ingest import Extract, IngestError, extract, load_sources
from snr_models.data.ingest.config import MONTHLY_COLUMN
from snr_models.data.io import load, save
from snr_models.data.tables import TABLE_NAMES
from snr_models.features.drift import drift_report, training_profile
from snr_models.jobs.lock import Locked, acquire
from snr_models.report import Section, render_page

__all__ = ["IngestLocked", "IngestResult", "ingest", "sidecar"]

logger = logging.getLogger(__name__)

_SHOWN = 5


class IngestLocked(Locked):
    """Another ingest into the same output holds the lock (exit 75)."""

    what = "ingest"


@dataclass
class IngestResult:
    """What :func:`ingest` did.

    Attributes
    ----------
    out : Path
        The dataset written.
    key : str
        The month ingested (``YYYY-MM``) or ``all``.
    tables : dict
        Per table: ``rows_read``, ``rows_written``, ``rows_rejected``, ``rows_other_months``,
        ``rows_replaced`` (rows of the month already in the dataset, replaced) and
        ``rows_total`` (in the dataset after the ingest).
    sources : list of dict
        Per file or query: table, source, sha256, rows read and rejected, encoding.
    quarantine, quality, manifest : Path
    """

    out: Path
    key: str
    tables: dict[str, dict[str, int]]
    sources: list[dict[str, Any]]
    quarantine: Path | None
    quality: Path
    manifest: Path
    psi: dict[str, dict[str, float]] = field(default_factory=dict)


def sidecar(out: str | Path) -> Path:
    """The folder beside ``out`` holding its manifest, quarantine, quality pages and lock."""
    out = Path(out)
    return out.parent / f"{out.name}.ingest"


def _month(month: str | None) -> pd.Timestamp | None:
    if month is None:
        return None
    try:
        stamp = pd.Timestamp(pd.Period(month, freq="M").start_time)
    except (ValueError, TypeError):
        raise IngestError(f"--month: {month!r} is not a month (YYYY-MM)") from None
    if len(month) != 7:
        raise IngestError(f"--month: {month!r} is not a month (YYYY-MM)")
    return stamp


def _in_month(values: pd.Series, month: pd.Timestamp) -> np.ndarray:
    v = values.to_numpy(dtype="datetime64[us]")
    end = (month + pd.offsets.MonthBegin()).to_datetime64()
    return (v >= month.to_datetime64()) & (v < end)


def _write_quarantine(ex: Extract, path: Path) -> Path | None:
    if ex.rejected.empty:
        path.unlink(missing_ok=True)  # a re-ingest that is now clean leaves no stale file
        return None
    with atomic_path(path) as tmp:
        ex.rejected.to_csv(tmp, index=False, encoding="utf-8-sig")  # opens in Excel
    return path


def _threshold_message(ex: Extract, over: list[str], limit: float, quarantine: Path) -> str:
    lines = [
        f"rejected rows above the threshold ({limit:.2%} of a table); nothing was written "
        f"to the dataset; every rejected cell is listed in {quarantine}:"
    ]
    for table in over:
        read, bad = ex.rows_read(table), ex.rows_rejected(table)
        lines.append(f"- {table}: {bad:,} of {read:,} rows rejected ({bad / read:.2%})")
        for row in ex.rejected_by_reason(table).itertuples():
            part = ex.rejected[
                (ex.rejected["table"] == table)
                & (ex.rejected["column"] == row.column)
                & (ex.rejected["reason"] == row.reason)
            ].head(_SHOWN)
            where = ", ".join(f"{r.source} line {r.line} ({r.value!r})" for r in part.itertuples())
            lines.append(f"    {row.column}: {row.reason}: {row.rows:,} rows, e.g. {where}")
    return "\n".join(lines)


def _merge(out: Path, ex: Extract) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The extract laid over the existing dataset: its month replaced, snapshots replaced."""
    replaced = dict.fromkeys(TABLE_NAMES, 0)
    if ex.month is None or not out.exists():
        return dict(ex.frames), replaced
    existing = load(out)
    frames: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        new = ex.frames[name]
        if name not in MONTHLY_COLUMN:
            frames[name] = new
            continue
        old = getattr(existing, name)
        inside = _in_month(old[MONTHLY_COLUMN[name]], ex.month)
        replaced[name] = int(inside.sum())
        frames[name] = pd.concat([old.loc[~inside], new], ignore_index=True)
    return frames, replaced


def _as_of(
    frames: dict[str, pd.DataFrame], ex: Extract
) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """Snapshot tables as of the dataset's last month (monthly ingests only).

    A snapshot extracted later than the dataset's last month (accounts opened, an intervention
    started or a market month after it; a later close) would break the contract's rule that no
    date follows the extract: those rows are set aside (counted as other months) and a later
    close, or a ticket's response or resolution after it, is not yet known (null): ingesting
    an earlier month again once later months are in brings them in.
    """
    later = dict.fromkeys(TABLE_NAMES, 0)
    months = frames["client_months"]["month"]
    if ex.month is None or months.empty:
        return frames, later
    limit = (months.max() + pd.offsets.MonthBegin()).to_datetime64()
    frames = dict(frames)
    for name, column in (
        ("clients", "open_date"),
        ("interventions", "start_date"),
        ("market", "month"),
    ):
        frame = frames[name]
        keep = frame[column].to_numpy(dtype="datetime64[us]") < limit
        later[name] = int((~keep).sum())
        frames[name] = frame.loc[keep].reset_index(drop=True) if later[name] else frame
    clients = frames["clients"]
    closed_later = clients["close_date"].to_numpy(dtype="datetime64[us]") >= limit
    if closed_later.any():
        clients = clients.copy()
        clients.loc[closed_later, "close_date"] = pd.NaT
        clients.loc[closed_later, "close_reason"] = np.nan
        frames["clients"] = clients
    tickets = frames["tickets"]
    for column in ("first_response_at", "resolved_at"):  # not yet answered or resolved
        after = tickets[column].to_numpy(dtype="datetime64[us]") >= limit
        if after.any():
            tickets = tickets.copy()
            tickets.loc[after, column] = pd.NaT
    frames["tickets"] = tickets
    return frames, later


def _sorted(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {
        name: frame.sort_values(list(KEYS[name]), ignore_index=True, kind="stable")
        for name, frame in frames.items()
    }


def _profiled(table: str) -> list[str]:
    """Columns whose distribution is compared between extracts (not keys, ids or times)."""
    return [
        c
        for c, kind in column_kinds(table).items()
        if kind not in ("date", "timestamp") and not (c.endswith("_id") and c != "branch_id")
    ]


def _read_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"extracts": {}, "runs": [], "profiles": {}}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise IngestError(f"{path} is not a readable manifest: {exc}") from None


def _quality_page(
    out: Path,
    key: str,
    ex: Extract,
    counts: dict[str, dict[str, int]],
    frames: dict[str, pd.DataFrame],
    psi: dict[str, dict[str, float]],
    quarantine: Path | None,
) -> str:
    read = sum(c["rows_read"] for c in counts.values())
    bad = sum(c["rows_rejected"] for c in counts.values())
    summary = Section("summary", "Extract")
    summary.kpis(
        {
            "extract": key,
            "rows read": f"{read:,}",
            "rows written": f"{sum(c['rows_written'] for c in counts.values()):,}",
            "rows rejected": f"{bad:,}",
        }
    )
    summary.text(
        f"Quarantine: {quarantine}" if quarantine else "No row was rejected: no quarantine file."
    )
    summary.frame(
        pd.DataFrame(
            [
                {
                    "table": s.table,
                    "source": s.source,
                    "encoding": (s.encoding or "") + (" (detected)" if s.encoding_detected else ""),
                    "rows read": s.rows_read,
                    "rejected": s.rows_rejected,
                    "other months": s.rows_other_months,
                    "sha256": s.sha256[:12],
                }
                for s in ex.sources
            ]
        ),
        "Each source file or query: rows read, rejected and set aside (other months).",
    )
    sections = [summary]
    for name in TABLE_NAMES:
        c = counts[name]
        section = Section(f"table-{name}", name)
        section.kpis(
            {
                "read": f"{c['rows_read']:,}",
                "mapped": f"{c['rows_written']:,}",
                "rejected": f"{c['rows_rejected']:,}",
                "replaced": f"{c['rows_replaced']:,}",
                "in the dataset": f"{c['rows_total']:,}",
            }
        )
        reasons = ex.rejected_by_reason(name)
        if len(reasons):
            section.frame(reasons, "Rejected rows by column and reason.")
        frame = ex.frames[name]
        columns = pd.DataFrame(
            {
                "column": list(frame.columns),
                "null share": [
                    float(frame[col].isna().mean()) if len(frame) else 0.0 for col in frame.columns
                ],
                "PSI vs previous extract": [psi.get(name, {}).get(col) for col in frame.columns],
            }
        )
        section.frame(
            columns,
            "Null share of each column in this extract; PSI of its distribution against the "
            "previous extract's (blank: not compared — keys, identifiers, dates, or no previous "
            "extract). Below 0.1 stable, 0.1-0.25 moderate shift, above 0.25 major shift.",
        )
        sections.append(section)
    months = Section("months", "Rows per month in the dataset")
    per_month = {}
    for name, column in MONTHLY_COLUMN.items():
        months_of_rows = frames[name][column].to_numpy(dtype="datetime64[us]").astype("M8[M]")
        labels, n = np.unique(months_of_rows, return_counts=True)
        per_month[name] = pd.Series(n, index=np.datetime_as_string(labels, unit="M"))
    table = pd.DataFrame(per_month).fillna(0).astype("int64").sort_index()
    months.frame(table.rename_axis("month").reset_index(), "A gap or a dip is a missing extract.")
    sections.append(months)
    return render_page(f"Data quality: {out.name}", f"snr ingest, extract {key}", sections)


def ingest(
    sources: str | Path,
    out: str | Path,
    *,
    month: str | None = None,
    threshold: float | None = None,
    on_step: Callable[[str], None] | None = None,
) -> IngestResult:
    """Ingest the sources of ``sources.yaml`` into the dataset ``out``.

    Parameters
    ----------
    sources : str or Path
        The ``sources.yaml``.
    out : str or Path
        A Parquet folder, or a DuckDB file (``.duckdb``, ``.db``, ``.ddb``).
    month : str, optional
        ``YYYY-MM``: ingest that month (replacing it if it was ingested before) into the
        existing dataset. Default: everything the sources hold, replacing the dataset.
    threshold : float, optional
        Largest share of a table's rows that may be rejected (default: the file's
        ``quarantine_threshold``, itself 0.01 by default).
    on_step : callable, optional
        Called with a line of progress text.

    Raises
    ------
    IngestError
        A bad source (unknown codes, undecodable text, missing columns), too many rejected
        rows, or data that break the contract; the dataset is left as it was.
    SourceUnavailable
        A database that cannot be reached.
    IngestLocked
        If another ingest into ``out`` is running.
    """
    say = on_step or (lambda text: logger.info(text))
    config = load_sources(sources)
    stamp = _month(month)
    key = f"{stamp:%Y-%m}" if stamp is not None else "all"
    limit = config.quarantine_threshold if threshold is None else threshold
    out = Path(out)
    side = sidecar(out)
    lock = acquire(side / "lock", str(sources), IngestLocked)
    try:
        ex = extract(config, stamp)
        for s in ex.sources:
            if s.encoding_detected:
                say(f"{s.source}: encoding detected as {s.encoding}")
        quarantine = _write_quarantine(ex, side / "quarantine" / f"{key}.csv")
        over = [
            t
            for t in TABLE_NAMES
            if ex.rows_read(t) and ex.rows_rejected(t) / ex.rows_read(t) > limit
        ]
        if over:
            raise IngestError(
                _threshold_message(ex, over, limit, side / "quarantine" / f"{key}.csv")
            )
        frames, replaced = _merge(out, ex)
        frames, later = _as_of(frames, ex)
        frames = _sorted(frames)
        save(frames, out)  # validates against the contract (once), then writes atomically
        counts = {
            name: {
                "rows_read": ex.rows_read(name),
                "rows_written": len(ex.frames[name]) - later[name],
                "rows_rejected": ex.rows_rejected(name),
                "rows_other_months": later[name]
                + sum(s.rows_other_months for s in ex.sources if s.table == name),
                "rows_replaced": replaced[name],
                "rows_total": len(frames[name]),
            }
            for name in TABLE_NAMES
        }
        manifest_path = side / "manifest.json"
        manifest = _read_manifest(manifest_path)
        psi: dict[str, dict[str, float]] = {}
        profiles: dict[str, Any] = {}
        for name in TABLE_NAMES:
            frame = ex.frames[name]
            columns = _profiled(name)
            previous = manifest.get("profiles", {}).get(name)
            if previous is not None and len(frame):
                report = drift_report(previous, frame)
                psi[name] = {r.feature: float(r.psi) for r in report.table.itertuples()}
            if len(frame):
                profiles[name] = training_profile(frame, columns, label=None)
        finished = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
        entry = {
            "finished": finished,
            "sources_file": str(sources),
            "threshold": limit,
            "tables": counts,
            "sources": [vars(s) for s in ex.sources],
            "quarantine": str(quarantine) if quarantine else None,
        }
        extracts = dict(manifest.get("extracts", {})) if stamp is not None else {}
        extracts[key] = entry
        manifest = {
            "output": str(out),
            "extracts": dict(sorted(extracts.items())),
            "runs": [*manifest.get("runs", []), {"extract": key, "finished": finished}],
            "profiles": manifest.get("profiles", {}) | profiles,
        }
        with atomic_path(manifest_path) as tmp:
            tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        quality = side / f"quality-{key}.html"
        page = _quality_page(out, key, ex, counts, frames, psi, quarantine)
        with atomic_path(quality) as tmp:
            tmp.write_text(page, encoding="utf-8")
        return IngestResult(
            out,
            key,
            counts,
            entry["sources"],
            quarantine,
            quality,
            manifest_path,
            psi,
        )
    finally:
        lock.release()
