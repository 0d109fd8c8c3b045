"""The ``snr`` command line: thin wrappers that parse arguments and call the library and jobs.

Bad input (a broken data contract, an invalid configuration, a missing file) is reported on
stderr without a traceback and exits with code 2. Set ``SNR_DEBUG=1`` to see tracebacks of
unexpected errors.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys

import typer
from rich.markup import escape

from snr_models.cli import (
    attribute,
    churn,
    drivers,
    exit_codes,
    forecast,
    ingest,
    models,
    netrate,
    plan,
    retrain,
    run,
    simulate,
    validate,
)
from snr_models.cli.console import err_console
from snr_models.cli.exit_codes import GATE, LOCKED, UNAVAILABLE, epilog
from snr_models.errors import SnrInputError

app = typer.Typer(
    name="snr",
    help="Client service net rate: measure, explain, predict, attribute and forecast it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("simulate", epilog=epilog())(simulate.simulate_command)
app.command("validate", epilog=epilog())(validate.validate_command)
app.command("ingest", epilog=epilog(UNAVAILABLE, LOCKED))(ingest.ingest_command)
app.command("netrate", epilog=epilog())(netrate.netrate_command)
app.command("run", epilog=epilog())(run.run_command)
app.add_typer(churn.churn_app, name="churn")
app.command("score", epilog=epilog(UNAVAILABLE))(churn.score_command)
app.command("retrain", epilog=epilog(GATE, UNAVAILABLE, LOCKED))(retrain.retrain_command)
app.add_typer(models.models_app, name="models")
app.command("attribute", epilog=epilog())(attribute.attribute_command)
app.command("forecast", epilog=epilog())(forecast.forecast_command)
app.command("drivers", epilog=epilog())(drivers.drivers_command)
app.command("plan", epilog=epilog())(plan.plan_command)

EXIT_BAD_INPUT = exit_codes.BAD_INPUT


def _reflow(text: str | None) -> str | None:
    """A docstring as help: dedented, each paragraph on one line (rich wraps it to the width).

    Typer keeps the single line breaks of a docstring's later paragraphs, which then break
    lines in the middle of the terminal; joined, they wrap at the terminal's width.
    """
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def _reflow_help(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        info.help = _reflow(info.help or (info.callback.__doc__ if info.callback else None))
    for group in typer_app.registered_groups:
        _reflow_help(group.typer_instance)


_reflow_help(app)


def _invalid_configuration(exc: Exception) -> bool:
    """A pydantic ValidationError (pydantic is imported only by commands that read a config)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


def main() -> None:
    """Entry point of the ``snr`` console script."""
    logging.basicConfig(
        level=os.environ.get("SNR_LOG_LEVEL", "WARNING"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        app()
    except SnrInputError as exc:
        # the message is text, not markup: "snr_models[spark]" must print as it is
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(exit_codes.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence of a CLI
        if _invalid_configuration(exc):
            err_console.print(f"[bold red]error: invalid configuration[/]\n{exc}", highlight=False)
            sys.exit(EXIT_BAD_INPUT)
        if os.environ.get("SNR_DEBUG"):
            raise
        err_console.print(
            f"[bold red]error:[/] {type(exc).__name__}: {exc}\n(set SNR_DEBUG=1 for a traceback)",
            highlight=False,
        )
        sys.exit(exit_codes.FAILURE)
