"""How many threads the numerical libraries may use: a ``threads`` setting for shared machines.

OpenMP (scikit-learn's HistGradientBoosting) and BLAS start one thread per core they see. On
a machine whose cores other work is using, their threads wait for each other and a fit runs
many times slower than with fewer threads. The setting, in order of precedence: the
command's ``--threads``, the job configuration's ``threads``, the ``SNR_THREADS``
environment variable; otherwise :func:`default_threads` — the CPUs this process may use (its
CPU affinity and its cgroup's ``cpu.max`` quota), fewer when other processes keep them busy:
measured over a quarter of a second from ``/proc/stat`` (:func:`others_busy`), or, where that
cannot be read, from the 1-minute load average. The load average lags a minute both ways: just
after other work ended it still counts it, and the quiet default took one thread of two
(``benchmarks/bench_contention.py``: 1.42x slower than all cores on a machine that had just
gone quiet). :func:`limit` applies it to OpenMP and BLAS (threadpoolctl) around the work.

Examples
--------
>>> default_threads(usable=8, others=3.2)
5
>>> default_threads(usable=2, others=0.1)
2
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from snr_models.errors import SnrInputError

__all__ = [
    "default_threads",
    "duckdb_config",
    "in_force",
    "limit",
    "resolve_threads",
    "usable_cpus",
]

ENV_VAR = "SNR_THREADS"
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_cpu_max(proc_cgroup: Path, cgroup_root: Path) -> Path | None:
    """This process's cgroup v2 ``cpu.max`` file, or None (cgroup v1, not Linux)."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            candidate = cgroup_root / line[3:].lstrip("/") / "cpu.max"
            if candidate.is_file():
                return candidate
    root = cgroup_root / "cpu.max"
    return root if root.is_file() else None


def cpu_quota(cpu_max: Path | None) -> float | None:
    """CPUs a cgroup v2 ``cpu.max`` file allows (``"200000 100000"``: 2.0); None: unlimited."""
    if cpu_max is None:
        return None
    try:
        quota, period = (cpu_max.read_text().split() + ["100000"])[:2]
    except OSError:
        return None
    if quota == "max":
        return None
    return int(quota) / int(period)


def usable_cpus(
    *,
    affinity: set[int] | None = None,
    cpu_max: Path | None = None,
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    cgroup_root: Path = _CGROUP_ROOT,
) -> int:
    """The CPUs this process may use: its affinity, capped by its cgroup's CPU quota.

    Parameters
    ----------
    affinity : set of int, optional
        The CPUs the process may run on (default: ``os.sched_getaffinity(0)``, or
        ``os.cpu_count()`` where that does not exist).
    cpu_max : Path, optional
        A cgroup v2 ``cpu.max`` file (default: this process's, found through ``proc_cgroup``).
    """
    if affinity is None:
        try:
            affinity = os.sched_getaffinity(0)
        except AttributeError:  # macOS, Windows
            affinity = set(range(os.cpu_count() or 1))
    n = max(1, len(affinity))
    quota = cpu_quota(cpu_max if cpu_max is not None else _cgroup_cpu_max(proc_cgroup, cgroup_root))
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return n


def _own_load() -> float:
    """This process's share of the 1-minute load average: CPUs it kept busy, damped like it."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        started = int(fields[19]) / ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    wall = max(uptime - started, 1e-3)
    cpu = sum(os.times()[:2])
    # the 1-minute load average weighs the last minute most: a process younger than a minute
    # is only partly in it
    return min(cpu / wall, 1.0) * (1.0 - math.exp(-wall / 60.0))


def _busy_ticks(stat: Path = Path("/proc/stat")) -> int:
    """Ticks every CPU spent on work since boot: ``/proc/stat``'s ``cpu`` line less idle, I/O
    wait and niced time (a niced process gives its CPU up to this one)."""
    fields = stat.read_text().splitlines()[0].split()
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return user + system + irq + softirq + steal


def others_busy(interval: float = 0.25) -> float | None:
    """CPUs other processes keep busy now: the CPU time of every process over ``interval``
    seconds, less this process's own, over the seconds; None where ``/proc/stat`` cannot be
    read (not Linux)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        busy0, own0, t0 = _busy_ticks(), sum(os.times()[:2]), time.monotonic()
        time.sleep(interval)
        busy1, own1, t1 = _busy_ticks(), sum(os.times()[:2]), time.monotonic()
    except (OSError, ValueError, IndexError):
        return None
    seconds = max(t1 - t0, 1e-3)
    return max(0.0, ((busy1 - busy0) / ticks - (own1 - own0)) / seconds)


def default_threads(
    *,
    usable: int | None = None,
    others: float | None = None,
    load: float | None = None,
    own: float | None = None,
) -> int:
    """The CPUs this process may use, less those other work keeps busy.

    ``max(1, usable - round(others))``, never more than ``usable``; without a measure of
    ``others``, ``round(load - own)`` in its place.

    Parameters
    ----------
    usable : int, optional
        The CPUs this process may use (default: :func:`usable_cpus`).
    others : float, optional
        CPUs other processes keep busy (default: :func:`others_busy`).
    load : float, optional
        The 1-minute load average, used when ``others`` cannot be measured (default:
        ``os.getloadavg()[0]``).
    own : float, optional
        This process's own part of that load (default: estimated from its CPU time).
    """
    usable = usable_cpus() if usable is None else usable
    if others is None and load is None:
        others = others_busy()
    if others is None:
        if load is None:
            try:
                load = os.getloadavg()[0]
            except OSError:  # not available: assume a quiet machine
                load = 0.0
        own = _own_load() if own is None else own
        others = load - own
    busy = max(0, round(others))
    return max(1, min(usable, usable - busy))


def resolve_threads(threads: int | None = None) -> int:
    """The thread count in force: ``threads`` if given, else ``SNR_THREADS``, else the default.

    Raises
    ------
    SnrInputError
        If the setting is not a positive integer.
    """
    if threads is None:
        raw = os.environ.get(ENV_VAR, "").strip()
        if raw:
            try:
                threads = int(raw)
            except ValueError:
                raise SnrInputError(f"{ENV_VAR}={raw!r} is not a whole number") from None
    if threads is None:
        return default_threads()
    if threads < 1:
        raise SnrInputError(f"threads must be at least 1, got {threads}")
    return threads


_in_force: list[int] = []


def in_force() -> int | None:
    """The count set by the innermost open :func:`limit`, or None outside one."""
    return _in_force[-1] if _in_force else None


def duckdb_config() -> dict[str, int]:
    """DuckDB's ``threads`` setting under :func:`limit` (its own pool ignores OpenMP's)."""
    n = in_force()
    return {"threads": n} if n is not None else {}


@contextmanager
def limit(threads: int | None = None) -> Iterator[int]:
    """Limit OpenMP, BLAS and Arrow to :func:`resolve_threads` threads inside the block.

    Yields the count; :func:`in_force` returns it inside the block (DuckDB connections opened
    there take it through :func:`duckdb_config`).
    """
    import pyarrow
    from threadpoolctl import threadpool_limits

    n = resolve_threads(threads)
    arrow = pyarrow.cpu_count()
    pyarrow.set_cpu_count(n)
    _in_force.append(n)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        _in_force.pop()
        pyarrow.set_cpu_count(arrow)
