"""``snr models list|promote VERSION|rollback``: the churn model registry, for people."""

from __future__ import annotations

from typing import Annotated

import typer

from snr_models.cli.console import console, err_console
from snr_models.cli.exit_codes import UNAVAILABLE, epilog
from snr_models.cli.retrain import EXIT_UNAVAILABLE, bound_http_retries

models_app = typer.Typer(
    name="models",
    help="Registered churn models: list versions, promote one, roll back.",
    no_args_is_help=True,
)

_NAME = typer.Option("--name", help="Registered model name.")


def _registry():
    from snr_models.tracking import registry

    bound_http_retries()
    return registry


def _unavailable(exc: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_UNAVAILABLE)


@models_app.command("list", epilog=epilog(UNAVAILABLE))
def list_command(name: Annotated[str, _NAME] = "snr-churn") -> None:
    """Every version: aliases (champion, previous, challenger), lifecycle, reasons."""
    registry = _registry()
    try:
        frame = registry.list_versions(name)
    except registry.RegistryUnavailableError as exc:
        raise _unavailable(exc) from None
    if frame.empty:
        console.print(f"no versions of {name} yet")
        return
    console.print(frame.to_string(index=False), highlight=False)


@models_app.command("promote", epilog=epilog(UNAVAILABLE))
def promote_command(
    version: Annotated[str, typer.Argument(help="Version number to make champion.")],
    name: Annotated[str, _NAME] = "snr-churn",
) -> None:
    """Make VERSION the champion; the old champion keeps the alias previous."""
    registry = _registry()
    try:
        old, new = registry.promote(name, version)
    except registry.RegistryUnavailableError as exc:
        raise _unavailable(exc) from None
    console.print(f"{name}: champion {new} (previous {old or '-'})")


@models_app.command("rollback", epilog=epilog(UNAVAILABLE))
def rollback_command(name: Annotated[str, _NAME] = "snr-churn") -> None:
    """Swap champion and previous: the former champion serves again."""
    registry = _registry()
    try:
        demoted, restored = registry.rollback(name)
    except registry.RegistryUnavailableError as exc:
        raise _unavailable(exc) from None
    console.print(f"{name}: champion {restored} (previous {demoted or '-'})")
