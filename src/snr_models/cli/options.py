"""Options shared by several ``snr`` commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["AlphaOption", "DataOption", "SeedOption", "TrackOption"]

DataOption = Annotated[Path, typer.Option("--data", help="Parquet folder or DuckDB file.")]
AlphaOption = Annotated[
    float,
    typer.Option(
        "--alpha", help="1 - confidence level of every interval (0.05: 95%).", min=0.0001, max=0.5
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (bootstrap, simulation).")]
TrackOption = Annotated[bool, typer.Option("--track/--no-track", help="Log the run to MLflow.")]
