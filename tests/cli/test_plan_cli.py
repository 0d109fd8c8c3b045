"""``snr plan``: bad input exits 2 without a traceback; a run writes its files atomically.

Expected: the exit code 2 and messages naming the offending option or file (cli/__init__.py's
contract); the output folder holds the files the job's docstring lists, and power.csv's stated
row equals what the summary prints.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.cli.test_cli import snr


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan-world") / "data"
    done = snr(
        "simulate",
        "--clients",
        "2500",
        "--branches",
        "12",
        "--months",
        "20",
        "--seed",
        "2",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return out


def test_bad_input_exits_2(world_dir: Path, tmp_path: Path) -> None:
    base = [
        "plan",
        "--data",
        str(world_dir),
        "--intervention",
        "x",
        "--output",
        str(tmp_path / "o"),
    ]
    done = snr(*base, "--effect", "0.02", "--months", "19")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--months 19" in done.stderr and "20 months" in done.stderr
    costs = tmp_path / "costs.yaml"
    costs.write_text("costs: {staff_training: -5}\n", encoding="utf-8")
    done = snr(*base, "--effect", "0.02", "--costs", str(costs))
    assert done.returncode == 2 and "costs.staff_training must be a positive number" in done.stderr
    done = snr(*base, "--effect", "0.02", "--budget", "10")
    assert done.returncode == 2 and "--budget needs --costs" in done.stderr
    done = snr(*base, "--effect", "0.02", "--design", "everywhere")
    assert done.returncode == 2
    assert not (tmp_path / "o").exists()


def test_plan_writes_its_files(world_dir: Path, tmp_path: Path) -> None:
    costs = tmp_path / "costs.yaml"
    costs.write_text(
        "budget: 300000\ncosts: {staff_training: 80000, survey_program: 30000}\n", encoding="utf-8"
    )
    out = tmp_path / "plan"
    done = snr(
        "plan",
        "--data",
        str(world_dir),
        "--intervention",
        "ai_assistant",
        "--effect",
        "0.05",
        "--months",
        "6",
        "--reps",
        "10",
        "--reps-grid",
        "10",
        "--costs",
        str(costs),
        "--output",
        str(out),
        "--log-format",
        "json",
    )
    assert done.returncode == 0, done.stderr
    names = {p.name for p in out.iterdir()}
    assert {
        "power.csv",
        "replicates.csv",
        "branch_effects.csv",
        "segment_effects.csv",
        "allocation.csv",
        "summary.txt",
        "figures",
    } <= names
    power = pd.read_csv(out / "power.csv")
    stated = power[power["stated"]].iloc[0]
    assert f"power {stated['power']:.2f}" in done.stdout
    alloc = pd.read_csv(out / "allocation.csv")
    assert alloc["cost"].sum() <= 300000
    assert not list(tmp_path.glob(".plan*"))  # no staging folder left
