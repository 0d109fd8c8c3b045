"""``snr churn train|evaluate`` and ``snr score``: churn models from the command line."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli import exit_codes
from snr_models.cli.console import console, err_console
from snr_models.cli.options import DataOption, LogFormatOption, ThreadsOption, VerboseOption
from snr_models.cli.progress import LogFormat, reported


class Engine(StrEnum):
    """Where ``snr score`` runs."""

    local = "local"
    spark = "spark"


class Rank(StrEnum):
    """What ``snr score`` orders the call list by."""

    risk = "risk"
    uplift = "uplift"
    value = "value"


churn_app = typer.Typer(
    name="churn",
    help="Churn models: train (backtest, track, register) and evaluate.",
    no_args_is_help=True,
)


@churn_app.command("train", epilog=exit_codes.epilog())
def train_command(
    data: DataOption,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Churn YAML (e.g. experiments/churn.yaml). Default: the defaults."
        ),
    ] = None,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Build features, backtest, fit, log to MLflow and register a version of snr-churn.

    Stages: data, features, backtest (each candidate model per origin, then the bootstrap),
    fit, log.
    """
    from snr_models.jobs.churn import ChurnConfig, train_churn

    cfg = ChurnConfig.from_yaml(config) if config else ChurnConfig()
    with reported(log_format, verbose=verbose, threads=threads or cfg.threads) as n:
        result = train_churn(data, cfg.model_copy(update={"threads": n}))
    if result.candidates is not None and len(result.candidates) > 1:
        console.print(f"model chosen on the backtest: {result.model}")
        console.print(
            result.candidates.drop(columns="chosen").to_string(float_format=lambda v: f"{v:.4f}")
        )
        if result.nested_metrics is not None:
            n = result.nested_metrics
            console.print(
                f"nested (origins not used for the choice: "
                f"{', '.join(f'{o:%Y-%m}' for o in result.nested['origin'])}): "
                f"ROC-AUC {n.loc['roc_auc', 'value']:.3f} "
                f"[{n.loc['roc_auc', 'lo']:.3f}, {n.loc['roc_auc', 'hi']:.3f}]"
            )
    m = result.metrics["value"]
    console.print(
        f"backtest ({result.model}) ROC-AUC {m['roc_auc']:.3f}  PR-AUC {m['pr_auc']:.3f}  "
        f"Brier {m['brier']:.4f}  EMPC {m['empc']:.2f}"
    )
    console.print(f"MLflow run {result.run_id}")
    if result.registered_uri:
        console.print(f"registered {result.registered_uri}")


@churn_app.command("evaluate", epilog=exit_codes.epilog())
def evaluate_command(
    data: DataOption,
    model: Annotated[
        str,
        typer.Option("--model", help="Registered model: models:/ then name@alias or name/version."),
    ] = "models:/snr-churn@champion",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="YYYY-MM (default: latest labelled month).")
    ] = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Label horizon, months.", min=1)] = 3,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates.", min=0)] = 200,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Evaluate a churn model on the labelled clients of one month and log the result.

    Stages: data, features, evaluate (the bootstrap replicates as its steps), log.
    """
    from snr_models.jobs.churn import evaluate_churn

    with reported(log_format, verbose=verbose, threads=threads):
        result = evaluate_churn(data, model, as_of=as_of, horizon=horizon, n_boot=n_boot)
    console.print(f"as of {result.as_of:%Y-%m}")
    console.print(result.metrics.to_string(float_format=lambda v: f"{v:.4f}"))
    if result.run_id:
        console.print(f"MLflow run {result.run_id}")


def score_command(
    model: Annotated[
        str,
        typer.Option("--model", help="Registered model: models:/ then name@alias or name/version."),
    ],
    data: DataOption,
    as_of: Annotated[str, typer.Option("--as-of", help="As-of month, YYYY-MM.")],
    output: Annotated[Path, typer.Option("--output", help="Output .parquet file.")],
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", help="Clients scored at a time.", min=1)
    ] = 100_000,
    reasons: Annotated[
        bool, typer.Option("--reasons/--no-reasons", help="Three reasons per client.")
    ] = True,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local: this process, streamed by row group; spark: Apache Spark "
            "(pyspark: install the spark extra), same output.",
            case_sensitive=False,
        ),
    ] = Engine.local,
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master URL for --engine spark, e.g. local[4] or spark://host:7077 "
            "(default local[N], N the --threads setting).",
        ),
    ] = None,
    rank: Annotated[
        Rank,
        typer.Option(
            "--rank",
            help="risk: by exit probability (the risk decile); uplift: by the exits a call "
            "prevents, learnt from the data's past campaigns and their random holdout "
            "(the outreach table); value: by uplift x client value - call cost. uplift and "
            "value add the columns uplift, call_value and call_rank (1 = call first).",
            case_sensitive=False,
        ),
    ] = Rank.risk,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Churn configuration YAML whose `uplift` section sets the learner, the "
            "client value and the call cost (default: the built-in values).",
        ),
    ] = None,
    threads: ThreadsOption = None,
    log_format: LogFormatOption = LogFormat.text,
    verbose: VerboseOption = False,
) -> None:
    """Score every client open at the end of the as-of month for the call list.

    Per client: exit probability, risk decile, expected months to exit, three reasons, model
    version; with --rank uplift or value also the exits a call prevents, its value and the
    call order. Stages: features (the as-of month's, checked against the model's signature),
    score (chunk by chunk, then the risk deciles).
    """
    from snr_models.cli.retrain import EXIT_UNAVAILABLE, bound_http_retries
    from snr_models.errors import SnrInputError
    from snr_models.tracking.registry import RegistryUnavailableError

    if spark_master is not None and engine is not Engine.spark:
        raise SnrInputError("--spark-master applies only to --engine spark")
    if rank is not Rank.risk and engine is Engine.spark:
        raise SnrInputError(f"--rank {rank.value} runs on --engine local only")
    bound_http_retries()
    try:
        with reported(log_format, verbose=verbose, threads=threads):
            if engine is Engine.spark:
                from snr_models.jobs.score_spark import score_spark

                result = score_spark(
                    model,
                    data,
                    as_of,
                    output,
                    master=spark_master,
                    chunk_size=chunk_size,
                    reasons=reasons,
                )
            else:
                from snr_models.jobs.config import ChurnConfig
                from snr_models.jobs.score import score

                churn_config = ChurnConfig.from_yaml(config) if config else ChurnConfig()
                result = score(
                    model,
                    data,
                    as_of,
                    output,
                    chunk_size=chunk_size,
                    reasons=reasons,
                    rank=rank.value,
                    uplift=churn_config.uplift,
                    horizon=churn_config.horizon,
                )
    except RegistryUnavailableError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    console.print(
        f"wrote {result.output} ({result.n_clients} clients, model version {result.model_version})"
    )
