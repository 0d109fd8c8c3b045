"""``snr ingest``: a broker's exports into the contract, month by month, with nothing lost.

The job orchestrates the steps of :mod:`snr_models.data.ingest`: take the lock (a second
ingest of the same output meanwhile exits with 75); read and convert every source, chunk by
chunk, into a staging folder (:func:`~snr_models.data.ingest.extract`); publish the quarantine
(cells that could not be converted, with source, line, column, reason and value); stop with an
error if a table's rejected share passes the threshold (nothing else written); merge the month
into the existing dataset in DuckDB (:func:`~snr_models.data.ingest.dataset.merge`: its rows
of that month replaced, never doubled; snapshot tables replaced, as of the dataset's last
month); check the contract, naming each offending row by its source file and line
(:func:`~snr_models.data.ingest.dataset.check`); write atomically
(:func:`~snr_models.data.io.publish`); record the manifest; write the data-quality page.

Beside the output ``OUT`` (a Parquet folder or a DuckDB file) the folder ``OUT.ingest/``
holds ``manifest.json``, ``quarantine/<YYYY-MM|all>.csv``, ``quality-<YYYY-MM|all>.html``,
``pending.parquet`` (a monthly ingest's values that lie after the dataset's last month,
withheld until a later month is ingested) and the lock. Nothing there holds a database URL
or a password; the quarantine holds the offending source cells, as sensitive as the exports
themselves.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from snr_models import progress
from snr_models.data.atomic import atomic_path, staging_dir
from snr_models.data.contract import column_kinds
from snr_models.data.ingest import Extract, IngestError, extract, load_sources
from snr_models.data.ingest.config import SourcesConfig, parse_month
from snr_models.data.ingest.dataset import (
    check,
    connect,
    merge,
    null_shares,
    rows_per_month,
    sample,
)
from snr_models.data.io import publish
from snr_models.features.drift import drift_report, training_profile
from snr_models.jobs.lock import Locked, acquire
from snr_models.report import Section, render_page

__all__ = ["IngestLocked", "IngestResult", "ingest", "sidecar"]

logger = logging.getLogger(__name__)

_SHOWN = 5
#: Rows of each table's extract profiled for the PSI against the next extract.
_PROFILE_ROWS = 200_000


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


def _move(staged: Path | None, path: Path) -> Path | None:
    """Publish the staged file at ``path`` atomically; a missing one removes ``path``."""
    if staged is None or not staged.exists():
        path.unlink(missing_ok=True)  # a re-ingest that is now clean leaves no stale file
        return None
    with atomic_path(path) as tmp:
        os.replace(staged, tmp)
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
            part = ex.examples[
                (ex.examples["table"] == table)
                & (ex.examples["column"] == row.column)
                & (ex.examples["reason"] == row.reason)
            ].head(_SHOWN)
            where = ", ".join(f"{r.source} line {r.line} ({r.value!r})" for r in part.itertuples())
            lines.append(f"    {row.column}: {row.reason}: {row.rows:,} rows, e.g. {where}")
    return "\n".join(lines)


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
    nulls: dict[str, dict[str, float]],
    per_month: pd.DataFrame,
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
    for name in ex.tables:
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
        columns = pd.DataFrame(
            {
                "column": list(nulls[name]),
                "null share": list(nulls[name].values()),
                "PSI vs previous extract": [psi.get(name, {}).get(col) for col in nulls[name]],
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
    table = per_month
    months.frame(table.rename_axis("month").reset_index(), "A gap or a dip is a missing extract.")
    sections.append(months)
    return render_page(f"Data quality: {out.name}", f"snr ingest, extract {key}", sections)


@progress.job("ingest", ("extract", "write"))
def ingest(
    sources: str | Path,
    out: str | Path,
    *,
    month: str | None = None,
    threshold: float | None = None,
    on_step: Callable[[str], None] | None = None,
    memory_limit: str = "2GB",
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
    memory_limit : str
        DuckDB's memory for the staged, merged and sorted tables (it spills to a staging
        folder beside ``out`` beyond it); the ingest needs about this, plus one source file's
        conversion, plus the interpreter.

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
    stamp = parse_month(month)
    key = f"{stamp:%Y-%m}" if stamp is not None else "all"
    limit = config.quarantine_threshold if threshold is None else threshold
    out = Path(out)
    side = sidecar(out)
    lock = acquire(side / "lock", str(sources), IngestLocked)
    try:
        with staging_dir(out) as stage:
            con = connect(stage, memory_limit)
            try:
                return _ingest(config, str(sources), out, stamp, key, limit, stage, con, say)
            finally:
                con.close()
    finally:
        lock.release()


def _ingest(
    config: SourcesConfig,
    sources: str,
    out: Path,
    stamp: pd.Timestamp | None,
    key: str,
    limit: float,
    stage: Path,
    con: duckdb.DuckDBPyConnection,
    say: Callable[[str], None],
) -> IngestResult:
    side = sidecar(out)
    quarantine_path = side / "quarantine" / f"{key}.csv"
    say("reading and converting the sources")
    with progress.stage("extract"):
        ex = extract(config, con, stage / "quarantine.csv", stamp)
    for s in ex.sources:
        if s.encoding_detected:
            say(f"{s.source}: encoding detected as {s.encoding}")
    quarantine = _move(ex.quarantine, quarantine_path)
    over = [
        t for t in ex.tables if ex.rows_read(t) and ex.rows_rejected(t) / ex.rows_read(t) > limit
    ]
    if over:
        raise IngestError(_threshold_message(ex, over, limit, quarantine_path))
    with progress.stage("write"):
        say("merging into the dataset and checking the contract")
        merged = merge(ex, out, con, side / "pending.parquet", stage)
        check(merged, ex, out, con)
        say(f"writing {out}")
        publish(con, merged.tables, out)
    _move(merged.pending, side / "pending.parquet")
    counts = {
        name: {
            "rows_read": ex.rows_read(name),
            "rows_written": ex.rows_kept(name) - merged.later[name],
            "rows_rejected": ex.rows_rejected(name),
            "rows_other_months": merged.later[name]
            + sum(s.rows_other_months for s in ex.sources if s.table == name),
            "rows_replaced": merged.replaced[name],
            "rows_total": merged.totals[name],
        }
        for name in ex.tables
    }
    manifest_path = side / "manifest.json"
    manifest = _read_manifest(manifest_path)
    psi: dict[str, dict[str, float]] = {}
    profiles: dict[str, Any] = {}
    for name in ex.tables:
        if not ex.rows_kept(name):
            continue
        columns = _profiled(name)
        frame = sample(ex, con, name, columns, _PROFILE_ROWS)
        previous = manifest.get("profiles", {}).get(name)
        if previous is not None:
            report = drift_report(previous, frame)
            psi[name] = {r.feature: float(r.psi) for r in report.table.itertuples()}
        profiles[name] = training_profile(frame, columns, label=None)
    nulls = {name: null_shares(ex, con, name) for name in ex.tables}
    per_month = rows_per_month(merged, con)
    finished = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    entry = {
        "finished": finished,
        "sources_file": sources,
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
    page = _quality_page(out, key, ex, counts, nulls, per_month, psi, quarantine)
    with atomic_path(quality) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return IngestResult(out, key, counts, entry["sources"], quarantine, quality, manifest_path, psi)
