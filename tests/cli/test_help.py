"""Every command's ``--help``: its exit codes, its defaults, whole sentences, run's stages.

The commands are found by walking the Typer app (a command added later is checked too); the
help is rendered by Typer's CliRunner at 80 columns, the width rich assumes under cron.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from snr_models.cli import app
from snr_models.cli.exit_codes import MEANING
from snr_models.jobs.main import STAGES


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer's vendored click)
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(typer.main.get_group(app))


def _help(*command: str) -> str:
    done = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"}, color=False)
    assert done.exit_code == 0, done.output
    # one text: rich's box characters and line breaks out of the way
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", done.output).split())


def test_the_walk_finds_every_command() -> None:
    # the commands the README's table lists, sub-commands included
    assert {"run", "score", "retrain", "ingest", "forecast"} <= {c[-1] for c in COMMANDS}
    assert ("churn", "train") in COMMANDS and ("models", "promote") in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_lists_exit_codes_and_cuts_no_sentence(command: tuple[str, ...]) -> None:
    text = _help(*command)
    assert "Exit codes: 0 done; 1 unexpected failure" in text
    assert "2 bad input or usage" in text
    assert "…" not in text and "..." not in text


@pytest.mark.parametrize(
    ("command", "codes"),
    [(("retrain",), (3, 69, 75)), (("ingest",), (69, 75)), (("score",), (69,))],
)
def test_commands_that_return_more_codes_list_them(
    command: tuple[str, ...], codes: tuple[int, ...]
) -> None:
    text = _help(*command)
    for code in codes:
        assert f"{code} {' '.join(MEANING[code].split())}" in text


def test_run_help_names_every_stage_and_shows_defaults() -> None:
    text = _help("run")
    for stage in STAGES:
        assert re.search(rf"\b{stage} \(", text), stage
    assert "[default: experiments/default.yaml]" in text
    assert "[default: text]" in text  # --log-format
    assert "--threads" in text and "SNR_THREADS" in text
