"""What the ``snr`` commands show while they work: a progress bar, plain lines or JSON lines.

In a terminal, a progress bar per job (stage name, stages done, elapsed time and ETA) and
one per open step (backtest origins, bootstrap replicates). When standard error is not a
terminal (cron, a pipe, a log file), one plain line when a stage starts and when it ends,
with its elapsed time, and at most one line every ``interval`` seconds about the steps
inside it; never wrapped, no colour. ``--log-format json`` writes the same lines as JSON
objects (``time``, ``level``, ``event``, ``job``, ``stage``, ``step``, ``done``, ``total``,
``elapsed``, ``message``), one a line, for log collectors.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import IO, Any

from snr_models import progress

#: Seconds between two lines about the steps inside a stage (stage lines are never held back).
STEP_INTERVAL = 15.0


class LogFormat(StrEnum):
    """How progress is shown: ``text`` (a bar in a terminal, plain lines otherwise) or ``json``."""

    text = "text"
    json = "json"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class _Lines(progress.Reporter):
    """Lines for a log: every stage start and end, steps throttled to one per interval."""

    def __init__(self, stream: IO[str], interval: float = STEP_INTERVAL) -> None:
        self._stream = stream
        self._interval = interval
        self._job = ""
        self._stages: tuple[str, ...] = ()
        self._job_start = time.monotonic()
        self._last_step_line = -float("inf")

    # one record per event; subclasses turn it into a line
    def _emit(self, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    def _record(self, event: str, path: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
        return {
            "time": datetime.now().astimezone().isoformat(timespec="seconds"),
            "level": "INFO",
            "event": event,
            "job": self._job,
            "stage": path[0] if path else None,
            "step": " > ".join(path[1:]) or None,
            **fields,
        }

    def _step_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_step_line < self._interval:
            return False
        self._last_step_line = now
        return True

    def job_started(self, name: str, stages: tuple[str, ...]) -> None:
        self._job, self._stages, self._job_start = name, stages, time.monotonic()
        self._emit(self._record("job started", total=len(stages), message=", ".join(stages)))

    def job_finished(self, name: str, elapsed: float) -> None:
        self._emit(self._record("job finished", elapsed=round(elapsed, 1)))

    def started(self, path: tuple[str, ...], total: int | None) -> None:
        if len(path) == 1:
            self._last_step_line = time.monotonic()  # the stage line says enough for a while
            self._emit(self._record("stage started", path, total=total))

    def advanced(
        self,
        path: tuple[str, ...],
        done: int,
        total: int | None,
        elapsed: float,
        message: str | None,
    ) -> None:
        if self._step_due():
            self._emit(
                self._record(
                    "step", path, done=done, total=total, elapsed=round(elapsed, 1), message=message
                )
            )

    def finished(self, path: tuple[str, ...], done: int, total: int | None, elapsed: float) -> None:
        if len(path) == 1:
            self._emit(self._record("stage finished", path, elapsed=round(elapsed, 1)))
        elif self._step_due():
            seconds = round(elapsed, 1)
            self._emit(self._record("step finished", path, done=done, total=total, elapsed=seconds))

    def _position(self, stage: str | None) -> str:
        if stage in self._stages:
            return f"[{self._stages.index(stage) + 1}/{len(self._stages)}] "
        return ""


class PlainLines(_Lines):
    """One readable line per event.

    E.g. ``2026-12-01T02:31:07+08:00 snr run [4/7] churn done in 41.3 s (job 1 min 52 s)``.
    """

    def _emit(self, record: dict[str, Any]) -> None:
        head = f"{record['time']} snr {record['job']}".rstrip()
        event, stage = record["event"], record["stage"]
        where = self._position(stage) + (stage or "")
        if event == "job started":
            text = f"started: {record['total']} stages ({record['message']})"
        elif event == "job finished":
            text = f"finished in {_duration(record['elapsed'])}"
        elif event == "stage started":
            text = f"{where} started"
        elif event == "stage finished":
            total = _duration(time.monotonic() - self._job_start)
            text = f"{where} done in {_duration(record['elapsed'])} (job {total})"
        else:
            count = f" {record['done']}/{record['total']}" if record["total"] else ""
            count = count or (f" {record['done']}" if record["done"] else "")
            note = f" {record['message']}" if record.get("message") else ""
            verb = "done in" if event == "step finished" else "after"
            text = f"{where} > {record['step']}{count}{note}, {verb} {_duration(record['elapsed'])}"
        self._write(f"{head} {text}")


class JsonLines(_Lines):
    """One JSON object per event, one a line."""

    def _emit(self, record: dict[str, Any]) -> None:
        self._write(json.dumps({k: v for k, v in record.items() if v is not None}))


class ProgressBars(progress.Reporter):
    """A rich progress bar for the job's stages and one for each open step (a terminal).

    ``bars`` is the :class:`rich.progress.Progress` that draws them.
    """

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._job_task: Any = None
        self._tasks: dict[tuple[str, ...], Any] = {}

    def job_started(self, name: str, stages: tuple[str, ...]) -> None:
        self.bars.start()
        self._job_task = self.bars.add_task(f"snr {name}", total=len(stages))

    def job_finished(self, name: str, elapsed: float) -> None:
        self.bars.stop()

    def started(self, path: tuple[str, ...], total: int | None) -> None:
        if len(path) == 1 and self._job_task is not None:
            self.bars.update(self._job_task, description=f"stage {path[0]}")
            return
        label = "  " * (len(path) - 1) + " > ".join(path[-2:])
        self._tasks[path] = self.bars.add_task(label, total=total)

    def advanced(
        self,
        path: tuple[str, ...],
        done: int,
        total: int | None,
        elapsed: float,
        message: str | None,
    ) -> None:
        task = self._tasks.get(path)
        if task is not None:
            self.bars.update(task, completed=done)

    def finished(self, path: tuple[str, ...], done: int, total: int | None, elapsed: float) -> None:
        if len(path) == 1 and self._job_task is not None:
            self.bars.advance(self._job_task)
            return
        task = self._tasks.pop(path, None)
        if task is not None:
            self.bars.remove_task(task)


def reporter_for(log_format: LogFormat, stream: IO[str] | None = None) -> progress.Reporter:
    """The reporter a command installs: JSON lines, a bar in a terminal, plain lines otherwise."""
    stream = stream if stream is not None else sys.stderr
    if log_format is LogFormat.json:
        return JsonLines(stream)
    if stream.isatty() and os.environ.get("TERM") != "dumb":
        from snr_models.cli.console import err_console

        return ProgressBars(err_console)
    return PlainLines(stream)


@contextmanager
def reported(
    log_format: LogFormat = LogFormat.text,
    *,
    verbose: bool = False,
    threads: int | None = None,
) -> Iterator[int]:
    """Run a command's work with progress shown, MLflow's chatter set and threads limited.

    Yields the number of threads in force (``--threads``, ``SNR_THREADS``, or the CPUs free
    for this process: :func:`snr_models.threads.resolve_threads`).
    """
    from snr_models import threads as thread_settings
    from snr_models.tracking.verbosity import set_mlflow_verbose

    if verbose:
        logging.getLogger("snr_models").setLevel(logging.INFO)
    set_mlflow_verbose(verbose)
    n = thread_settings.resolve_threads(threads)
    with progress.use(reporter_for(log_format)), thread_settings.limit(n):
        yield n
