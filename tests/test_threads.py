"""The thread count: CPU affinity, the cgroup's CPU quota, the CPUs other work keeps busy.

Fakes stand in for the machine (an affinity set, ``cpu.max``, ``/proc/self/cgroup`` and
``/proc/stat`` files, a measured or a load figure); the expected counts follow from
``max(1, usable - round(others))``, or ``round(load - own)`` in its place. One test measures a
real CPU-burning process.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

from snr_models import threads
from snr_models.errors import SnrInputError


def _cgroup(tmp_path: Path, cpu_max: str | None, group: str = "/user.slice/job") -> Path:
    root = tmp_path / "cgroup"
    folder = root / group.lstrip("/")
    folder.mkdir(parents=True)
    if cpu_max is not None:
        (folder / "cpu.max").write_text(cpu_max + "\n")
    proc = tmp_path / "proc_self_cgroup"
    proc.write_text(f"0::{group}\n")
    return proc


def test_affinity_alone_sets_the_usable_cpus(tmp_path: Path) -> None:
    proc = _cgroup(tmp_path, "max 100000")  # no quota
    n = threads.usable_cpus(
        affinity={0, 1, 2, 5}, proc_cgroup=proc, cgroup_root=tmp_path / "cgroup"
    )
    assert n == 4


@pytest.mark.parametrize(("cpu_max", "expected"), [("200000 100000", 2), ("150000 100000", 2)])
def test_the_cgroup_quota_caps_the_affinity(tmp_path: Path, cpu_max: str, expected: int) -> None:
    # 1.5 CPUs of quota still lets two threads run (rounded up); 8 CPUs of affinity are capped
    proc = _cgroup(tmp_path, cpu_max)
    n = threads.usable_cpus(
        affinity=set(range(8)), proc_cgroup=proc, cgroup_root=tmp_path / "cgroup"
    )
    assert n == expected


def test_a_quota_below_one_cpu_still_gives_one(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("50000 100000\n")
    assert threads.cpu_quota(cpu_max) == 0.5
    assert threads.usable_cpus(affinity={0, 1}, cpu_max=cpu_max) == 1


def test_without_cgroup_v2_the_affinity_counts(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-file"
    assert threads.usable_cpus(affinity={0, 1, 2}, proc_cgroup=missing, cgroup_root=tmp_path) == 3


@pytest.mark.parametrize(
    ("usable", "load", "own", "expected"),
    [
        (8, 0.2, 0.0, 8),  # quiet machine: every usable CPU
        (8, 3.2, 0.0, 5),  # three CPUs busy with other work
        (2, 2.1, 0.0, 1),  # two CPU burners on two cores: one thread, never zero
        (2, 9.0, 1.0, 1),  # a crowded machine
        (4, 1.0, 1.0, 4),  # the load is this process itself
    ],
)
def test_the_default_leaves_out_the_cpus_other_work_keeps_busy(
    usable: int, load: float, own: float, expected: int
) -> None:
    assert threads.default_threads(usable=usable, load=load, own=own) == expected


@pytest.mark.parametrize(
    ("usable", "others", "expected"),
    [(2, 0.1, 2), (2, 0.8, 1), (2, 1.9, 1), (8, 3.2, 5), (8, 0.0, 8)],
)
def test_the_default_leaves_out_the_cpus_measured_busy(
    usable: int, others: float, expected: int
) -> None:
    # a measured quiet machine gets every CPU whatever the (lagging) load average says
    assert threads.default_threads(usable=usable, others=others, load=9.0) == expected


def test_busy_ticks_leave_out_idle_iowait_and_niced_time(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 7000 20 5000 300 1 2 3 0 0\ncpu0 50 3500 10 2500 150 0 1 1 0 0\n")
    assert threads._busy_ticks(stat) == 100 + 20 + 1 + 2 + 3


def test_a_busy_process_beside_is_measured_and_this_ones_own_work_is_not() -> None:
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # started
        assert threads.others_busy(0.5) >= 0.5  # one CPU burner (more if the machine is shared)
    finally:
        burner.kill()
        burner.wait()


def test_the_setting_comes_from_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SNR_THREADS", "3")
    assert threads.resolve_threads(2) == 2
    assert threads.resolve_threads() == 3
    monkeypatch.setenv("SNR_THREADS", "many")
    with pytest.raises(SnrInputError, match="SNR_THREADS='many'"):
        threads.resolve_threads()
    with pytest.raises(SnrInputError, match="at least 1"):
        threads.resolve_threads(0)


def test_limit_applies_to_openmp_and_blas_inside_the_block() -> None:
    import sklearn.ensemble  # noqa: F401 - loads scikit-learn's OpenMP runtime

    apis = {i["user_api"] for i in threadpool_info()}
    with threads.limit(1) as n:
        assert n == 1 and threads.in_force() == 1
        assert threads.duckdb_config() == {"threads": 1}
        assert all(i["num_threads"] == 1 for i in threadpool_info())
    assert threads.in_force() is None and threads.duckdb_config() == {}
    assert "openmp" in apis
