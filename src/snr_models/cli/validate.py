"""``snr validate``: check a data folder or DuckDB file against the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.console import console


def validate_command(
    data: Annotated[Path, typer.Option("--data", help="Parquet folder or DuckDB file to check.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="The extract's date (YYYY-MM or a day): later dates are refused "
            "(default: the last month of client_months).",
        ),
    ] = None,
) -> None:
    """Validate data against the contract; list every problem and exit 2 if there is any."""
    from snr_models.data import load

    tables = load(data, as_of=as_of)
    counts = ", ".join(f"{n:,} {name}" for name, n in tables.row_counts().items())
    console.print(f"{data}: valid ({counts})")
