"""Consoles shared by the CLI commands: results to stdout, messages and progress to stderr."""

from rich.console import Console

console = Console()
err_console = Console(stderr=True)
