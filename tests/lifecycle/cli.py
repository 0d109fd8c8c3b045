"""The real ``snr`` entry point run in the test process, with its exit code and output."""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class SnrRun:
    """What one ``snr`` command did: exit code, stdout and stderr."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """Everything printed, stdout then stderr."""
        return self.out + self.err

    @property
    def lines(self) -> list[dict]:
        """The JSON lines of stdout (``snr retrain``'s one line per step)."""
        return [json.loads(x) for x in self.out.splitlines() if x.startswith("{")]


def run_snr(args: list, monkeypatch, capsys) -> SnrRun:
    """Run ``snr ARGS`` through :func:`snr_models.cli.main` (its exit codes included)."""
    from snr_models.cli import main

    monkeypatch.setattr(sys, "argv", ["snr", *map(str, args)])
    code = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
    captured = capsys.readouterr()
    return SnrRun(code, captured.out, captured.err)
