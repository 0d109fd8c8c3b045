"""``snr validate``: check a data folder or DuckDB file against the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.console import console


def validate_command(
    data: Annotated[Path, typer.Option("--data", help="Parquet folder or DuckDB file to check.")],
) -> None:
    """Validate data against the contract; list every problem and exit 2 if there is any."""
    from snr_models.data import load

    tables = load(data)
    counts = ", ".join(f"{n:,} {name}" for name, n in tables.row_counts().items())
    console.print(f"{data}: valid ({counts})")
