"""Consoles shared by the CLI commands: results to stdout, messages and progress to stderr.

``soft_wrap`` keeps each message on one line whatever the width: under cron or in a pipe rich
assumes 80 columns and would otherwise break a long path (or a number from its unit) in two.
"""

from rich.console import Console

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
