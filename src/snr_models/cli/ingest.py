"""``snr ingest``: a broker's exports and databases into the data contract.

Exit codes: 0 done, 2 bad input (a bad source, too many rejected rows, data that break the
contract; nothing written), 69 a database cannot be reached, 75 another ingest into the same
output is running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.console import console, err_console
from snr_models.cli.options import LogFormatOption, ThreadsOption, VerboseOption
from snr_models.cli.progress import LogFormat, reported
from snr_models.cli.retrain import EXIT_UNAVAILABLE


def ingest_command(
    sources: Annotated[
        Path, typer.Option("--sources", help="sources.yaml: where each table comes from.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Parquet folder or DuckDB file (.duckdb) to write.")
    ],
    month: Annotated[
        str | None,
        typer.Option(
            "--month", help="YYYY-MM: ingest this month (again: replaces it). Default: all."
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="Largest share of a table's rows that may be rejected (default 0.01).",
            min=0.0,
            max=1.0,
        ),
    ] = None,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Read the sources, map them into the contract, and write the dataset atomically.

    Beside OUT, OUT.ingest/ holds the manifest, the quarantine of rejected rows and the
    data-quality page. Stages: extract (read and map every source), write (check against the
    contract, write). Bad input (2) includes too many rejected rows; nothing is written then.
    """
    from snr_models.data.ingest import SourceUnavailable
    from snr_models.jobs.ingest import IngestLocked, ingest
    from snr_models.jobs.lock import EXIT_LOCKED

    try:
        with reported(log_format, verbose=verbose, threads=threads):
            result = ingest(
                sources,
                out,
                month=month,
                threshold=threshold,
                on_step=lambda text: err_console.print(text, highlight=False),
            )
    except IngestLocked as exc:
        err_console.print(f"[bold red]locked:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_LOCKED) from None
    except SourceUnavailable as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    for name, c in result.tables.items():
        line = (
            f"{name}: read {c['rows_read']:,}, written {c['rows_written']:,}, "
            f"rejected {c['rows_rejected']:,}"
        )
        if c["rows_replaced"]:
            line += f", replaced {c['rows_replaced']:,} of {result.key}"
        console.print(line, highlight=False)
    console.print(f"wrote {result.out} (extract {result.key})", highlight=False)
    if result.quarantine:
        console.print(f"quarantine: {result.quarantine}", highlight=False)
    console.print(f"data quality: {result.quality}", highlight=False)
