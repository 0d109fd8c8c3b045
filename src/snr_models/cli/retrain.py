"""``snr retrain``: scheduled retraining with a champion/challenger gate (for cron).

Exit codes: 0 done (promoted, or nothing to do), 2 bad input, 3 gate not passed (challenger
rejected, or blocked by drift), 69 tracking server unreachable, 75 another retrain holds the
lock. One JSON line per step on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli import exit_codes
from snr_models.cli.console import err_console
from snr_models.cli.options import LogFormatOption, ThreadsOption, VerboseOption
from snr_models.cli.progress import LogFormat, reported

EXIT_UNAVAILABLE = exit_codes.UNAVAILABLE


def bound_http_retries() -> None:
    """Bound MLflow's HTTP retries unless the environment sets them (never a long hang)."""
    import os

    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


def _print_step(record: dict) -> None:
    sys.stdout.write(json.dumps(record, default=str) + "\n")
    sys.stdout.flush()


def retrain_command(
    config: Annotated[
        Path, typer.Option("--config", help="Churn YAML with a retrain section.")
    ] = Path("experiments/churn.yaml"),
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Parquet folder or DuckDB file (overrides the config)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Retrain even if this run key has finished.")
    ] = False,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="Summary JSON path (overrides the config).")
    ] = None,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Retrain the churn model; promote the challenger if it passes the gate.

    One JSON line per step on stdout (lock, load, drift, run_key, train, evaluate, gate,
    promote or reject, summary); progress of the stages data, fit and evaluate on stderr.
    """
    from snr_models.jobs.churn import ChurnConfig
    from snr_models.jobs.retrain import EXIT_LOCKED, RetrainLocked, retrain
    from snr_models.tracking.registry import RegistryUnavailableError

    bound_http_retries()
    cfg = ChurnConfig.from_yaml(config)
    try:
        with reported(log_format, verbose=verbose, threads=threads or cfg.threads) as n:
            result = retrain(
                cfg.model_copy(update={"threads": n}),
                data=data,
                force=force,
                summary_path=summary,
                config_path=str(config),
                on_step=_print_step,
            )
    except RetrainLocked as exc:
        err_console.print(f"[bold red]locked:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_LOCKED) from None
    except RegistryUnavailableError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    if result.exit_code:
        raise typer.Exit(result.exit_code)
