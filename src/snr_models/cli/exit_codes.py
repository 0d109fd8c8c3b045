"""The exit codes of the ``snr`` commands, and the help text that lists them."""

from __future__ import annotations

OK = 0
FAILURE = 1
BAD_INPUT = 2
GATE = 3
UNAVAILABLE = 69
LOCKED = 75
INTERRUPTED = 130

#: What each code means, for the help of the commands that can return it.
MEANING = {
    OK: "done",
    FAILURE: "unexpected failure (SNR_DEBUG=1 shows the traceback)",
    BAD_INPUT: "bad input or usage: a broken data contract, an invalid configuration, a missing "
    "file, a wrong option",
    GATE: "gate not passed: the challenger was rejected, or drift blocked the retrain",
    UNAVAILABLE: "a tracking server or database could not be reached",
    LOCKED: "another run into the same output holds the lock",
    INTERRUPTED: "interrupted (Ctrl-C)",
}


def epilog(*extra: int) -> str:
    """The ``Exit codes`` paragraph of a command's help: 0, 1, 2, ``extra`` and 130."""
    codes = sorted({OK, FAILURE, BAD_INPUT, INTERRUPTED, *extra})
    return "Exit codes: " + "; ".join(f"{c} {MEANING[c]}" for c in codes) + "."
