"""Options shared by several ``snr`` commands, defined once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.progress import LogFormat

__all__ = [
    "AlphaOption",
    "DataOption",
    "LogFormatOption",
    "SeedOption",
    "ThreadsOption",
    "TrackOption",
    "VerboseOption",
]

DataOption = Annotated[Path, typer.Option("--data", help="Parquet folder or DuckDB file.")]
AlphaOption = Annotated[
    float,
    typer.Option(
        "--alpha", help="1 - confidence level of every interval (0.05: 95%).", min=0.0001, max=0.5
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed (bootstrap, simulation).")]
TrackOption = Annotated[bool, typer.Option("--track/--no-track", help="Log the run to MLflow.")]
ThreadsOption = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="Threads for OpenMP, BLAS, Arrow and DuckDB. Default: the SNR_THREADS environment "
        "variable, else the CPUs this process may use (affinity and cgroup quota) less those "
        "the 1-minute load average shows busy.",
        min=1,
        show_default=False,
    ),
]
LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        help="Progress on stderr. text: a progress bar in a terminal, else one plain line per "
        "stage and at most one every 15 s about long steps; json: the same as one JSON object "
        "a line (time, level, event, job, stage, step, done, total, elapsed, message).",
        case_sensitive=False,
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Also show INFO log lines, and MLflow's own messages and links."
    ),
]
