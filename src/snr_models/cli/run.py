"""``snr run``: the main job, from data to outputs, tracked in MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.console import console


def run_command(
    config: Annotated[
        Path,
        typer.Option("--config", help="Job configuration YAML, e.g. experiments/default.yaml."),
    ] = Path("experiments/default.yaml"),
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Parquet folder or DuckDB file; overrides the config (no simulation)."
        ),
    ] = None,
    lang: Annotated[
        list[str] | None,
        typer.Option(
            "--lang",
            help="Report language, zh-CN or en; repeat for both (the first is index.html). "
            "Overrides report.language of the config.",
        ),
    ] = None,
) -> None:
    """Run the main job: validate, net rate with intervals and its change, MLflow runs."""
    from snr_models.jobs.config import RunConfig
    from snr_models.jobs.main import run_main

    cfg = RunConfig.from_yaml(config)
    if data is not None:
        cfg = cfg.model_copy(update={"data": str(data)})
    if lang:
        cfg = cfg.model_validate(
            {**cfg.model_dump(), "report": {**cfg.report.model_dump(), "language": lang}}
        )
    summary = run_main(cfg, progress=True)
    console.print(
        f"net rate {summary['latest_period']}: {summary['net_rate_latest']:.3f} "
        f"(change since {summary['compare'][0]}: {summary['net_rate_change']:+.3f})"
    )
    console.print(f"outputs: {summary['output_dir']}")
    console.print(f"MLflow run {summary['run_id']} in experiment '{cfg.experiment}'")
