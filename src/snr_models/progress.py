"""Progress of long work: jobs, their stages and the long steps inside them.

Jobs and long loops report where they are; whoever listens decides what to show. Nothing is
shown by default (a library user sees nothing); the ``snr`` command installs a reporter
that draws a progress bar in a terminal, or writes one plain or JSON line per stage and per
long step under cron (``snr_models.cli.progress``).

A job announces its stages, then each stage (and each long step inside a stage) is a
context; a loop advances the innermost open one::

    from snr_models import progress

    with progress.job("run", stages=("data", "churn")):
        with progress.stage("data"):
            ...
        with progress.stage("churn"):
            with progress.stage("backtest", total=len(origins)):
                for origin in origins:
                    ...
                    progress.advance(message=f"origin {origin:%Y-%m}")

A ``stage`` opened inside another is a step of it. A ``job`` opened inside another (the churn
training called by the main job) is not announced again: its stages become steps of the
current stage.

Examples
--------
>>> events = []
>>> class Recorder(Reporter):
...     def finished(self, path, done, total, elapsed):
...         events.append(path)
>>> with use(Recorder()), job("demo", stages=("a",)), stage("a"), stage("fit", total=2):
...     advance()
...     advance()
>>> events
[('a', 'fit'), ('a',)]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Reporter", "advance", "current_reporter", "job", "stage", "track", "use"]


class Reporter:
    """Receives progress events; this base class ignores them (the default).

    A path names the open stage and its open steps, outermost first, e.g.
    ``("churn", "backtest")``. Times are seconds.
    """

    def job_started(self, name: str, stages: tuple[str, ...]) -> None:
        """A job starts; ``stages`` are the stages it will run, in order."""

    def job_finished(self, name: str, elapsed: float) -> None:
        """The job ends (also when it fails)."""

    def started(self, path: tuple[str, ...], total: int | None) -> None:
        """A stage (a path of one name) or a step inside it starts."""

    def advanced(
        self,
        path: tuple[str, ...],
        done: int,
        total: int | None,
        elapsed: float,
        message: str | None,
    ) -> None:
        """A stage or step moved on: ``done`` units of ``total`` (None: unknown)."""

    def finished(self, path: tuple[str, ...], done: int, total: int | None, elapsed: float) -> None:
        """A stage or step ends (also when it fails)."""


T = TypeVar("T")


@dataclass
class _Open:
    name: str
    total: int | None
    started: float = field(default_factory=time.monotonic)
    done: int = 0


_lock = threading.RLock()
_reporter: Reporter = Reporter()
_open: list[_Open] = []
_jobs = 0


def current_reporter() -> Reporter:
    """The reporter in force (a silent :class:`Reporter` unless one is installed)."""
    return _reporter


@contextmanager
def use(reporter: Reporter) -> Iterator[Reporter]:
    """Send progress events to ``reporter`` inside the block."""
    global _reporter
    with _lock:
        previous, _reporter = _reporter, reporter
    try:
        yield reporter
    finally:
        with _lock:
            _reporter = previous


@contextmanager
def job(name: str, stages: tuple[str, ...] | list[str]) -> Iterator[None]:
    """A job and the stages it will run (nested in another job: not announced again)."""
    global _jobs
    with _lock:
        outer = _jobs > 0
        _jobs += 1
    start = time.monotonic()
    if not outer:
        _reporter.job_started(name, tuple(stages))
    try:
        yield
    finally:
        with _lock:
            _jobs -= 1
        if not outer:
            _reporter.job_finished(name, time.monotonic() - start)


@contextmanager
def stage(name: str, total: int | None = None) -> Iterator[None]:
    """A stage of the job, or a step of the open stage; ``total`` units if known."""
    entry = _Open(name, total)
    with _lock:
        _open.append(entry)
        path = tuple(e.name for e in _open)
    _reporter.started(path, total)
    try:
        yield
    finally:
        with _lock:
            if entry in _open:
                _open.remove(entry)
        _reporter.finished(path, entry.done, entry.total, time.monotonic() - entry.started)


def advance(n: int = 1, message: str | None = None) -> None:
    """Move the innermost open stage or step on by ``n`` units (no-op outside one)."""
    with _lock:
        if not _open:
            return
        entry = _open[-1]
        entry.done += n
        path = tuple(e.name for e in _open)
        done, total = entry.done, entry.total
    _reporter.advanced(path, done, total, time.monotonic() - entry.started, message)


def track(
    items: Iterable[T],
    name: str,
    *,
    total: int | None = None,
    describe: Callable[[T], str] | None = None,
) -> Iterator[T]:
    """Iterate over ``items`` as a step ``name``, advancing once per item.

    ``total`` defaults to ``len(items)`` when it has one; ``describe(item)`` is the message of
    each advance (e.g. ``"origin 2024-09"``).
    """
    if total is None and isinstance(items, Sized):
        total = len(items)
    with stage(name, total=total):
        for item in items:
            yield item
            advance(message=describe(item) if describe is not None else None)
