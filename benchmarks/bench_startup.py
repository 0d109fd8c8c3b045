"""Benchmark: ``snr --help`` against ``python -c "import pandas"``, started the same way.

Both are fresh processes of the project's Python, timed wall-clock in the same run,
alternating, ``--repeats`` times; the medians and their ratio are printed (goal <= 2: the
command line costs at most twice the import of pandas, because ``import snr_models`` and
``snr --help`` load no pandas, pandera, pyspark, matplotlib or simulator until a command
needs them). Also timed: ``python -c "import snr_models"``. Run after ``uv sync
--compile-bytecode`` (the README's set-up): without bytecode the first start compiles.

Usage::

    .venv/bin/python benchmarks/bench_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "snr --help": [str(Path(sys.executable).parent / "snr"), "--help"],
    "import snr_models": [sys.executable, "-c", "import snr_models"],
    "import pandas": [sys.executable, "-c", "import pandas"],
}


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ})
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    for command in COMMANDS.values():  # warm the file cache (and compile if needed)
        _seconds(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            times[name].append(_seconds(command))
    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"load average {os.getloadavg()[0]:.2f}; median of {args.repeats} runs each")
    for name, seconds in median.items():
        print(f"{name:>18}: {seconds:.3f} s")
    print(
        f"snr --help / import pandas: {median['snr --help'] / median['import pandas']:.2f}x "
        f"(goal <= 2)"
    )


if __name__ == "__main__":
    main()
