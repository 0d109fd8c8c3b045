"""The ``snr`` command line: help on every command, clean errors with exit code 2, atomic outputs.

Commands run in a subprocess, as a user or cron would run them, so the exit code and the
absence of a traceback are what a user sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

SNR = [sys.executable, "-c", "from snr_models.cli import main; main()"]


def snr(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    return subprocess.run(
        [*SNR, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "data"
    done = snr(
        "simulate",
        "--clients",
        "3000",
        "--branches",
        "6",
        "--months",
        "12",
        "--seed",
        "3",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("command", ["", "run", "simulate", "validate", "netrate"])
def test_every_command_has_help(command: str) -> None:
    done = snr(*([command] if command else []), "--help")
    assert done.returncode == 0
    assert "Usage" in done.stdout


def test_simulate_writes_every_table_and_truth(world_dir: Path) -> None:
    names = {p.name for p in world_dir.iterdir()}
    assert names == {
        "clients.parquet",
        "client_months.parquet",
        "tickets.parquet",
        "surveys.parquet",
        "interventions.parquet",
        "market.parquet",
        "truth.json",
    }


def test_validate_accepts_simulated_data(world_dir: Path) -> None:
    done = snr("validate", "--data", str(world_dir))
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


def test_netrate_by_branch_writes_the_documented_columns(world_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "nr.parquet"
    done = snr(
        "netrate",
        "--data",
        str(world_dir),
        "--by",
        "branch_id",
        "--freq",
        "Q",
        "--n-boot",
        "50",
        "--output",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(out)
    for column in [
        "period",
        "branch_id",
        "S",
        "S_se",
        "S_lo",
        "S_hi",
        "R",
        "E",
        "net_rate",
        "net_rate_lo",
        "net_rate_hi",
        "n_responses",
        "n_open",
        "n_tickets",
    ]:
        assert column in frame.columns
    assert frame["branch_id"].nunique() == 6
    assert len(frame) == 6 * 4  # 12 months = 4 quarters, for each of 6 branches


def test_bad_data_exits_2_without_traceback_or_output(world_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in world_dir.glob("*.parquet"):
        frame = pd.read_parquet(f)
        if f.stem == "surveys":
            frame.loc[frame.index[:3], "csat"] = 7  # out of the 1-5 range
        frame.to_parquet(broken / f.name)
    out = tmp_path / "nr.csv"
    done = snr("netrate", "--data", str(broken), "--output", str(out))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "surveys" in done.stderr and "csat" in done.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".nr.csv*"))  # no temporary file left behind


def test_existing_output_survives_a_failed_run(world_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "nr.csv"
    out.write_text("previous result\n")
    done = snr("netrate", "--data", str(tmp_path / "missing"), "--output", str(out))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert out.read_text() == "previous result\n"


def test_bad_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("netrate:\n  freq: W\n")
    done = snr("run", "--config", str(config))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "freq" in done.stderr


def test_netrate_job_is_the_main_jobs_stage_and_tracks_aggregates(
    world_dir: Path, tmp_path: Path, mlflow_store: str
) -> None:
    """``snr netrate --track`` runs the main job's net-rate stage: same table, logged metrics."""
    from mlflow.tracking import MlflowClient

    from snr_models.data import load
    from snr_models.jobs.netrate import analyse_net_rate, run_netrate

    job = run_netrate(world_dir, tmp_path / "nr.csv", n_boot=20, track=True)
    stage = analyse_net_rate(load(world_dir), n_boot=20, random_state=0)
    # independent of the job: the stage called directly gives the same firm-wide table
    pd.testing.assert_frame_equal(job.frame, stage.firm)
    written = pd.read_csv(tmp_path / "nr.csv")
    assert written["net_rate"].to_numpy() == pytest.approx(stage.firm["net_rate"].to_numpy())
    run = MlflowClient(tracking_uri=mlflow_store).get_run(job.run_id)
    assert run.data.metrics["net_rate_latest"] == pytest.approx(stage.latest["net_rate"])
    # the change decomposed by component adds up to the change of the net rate
    parts = stage.change_by_component()
    assert set(parts) == {"S", "R", "E"}
    assert sum(parts.values()) == pytest.approx(run.data.metrics["net_rate_change"], abs=1e-12)


def test_run_refuses_a_report_language_it_cannot_write(tmp_path: Path) -> None:
    # `snr run --lang` takes zh-CN or en (report.language); anything else is bad input, exit 2,
    # before any stage runs
    config = tmp_path / "run.yaml"
    config.write_text(
        f"output_dir: {tmp_path / 'reports'}\ndata_dir: {tmp_path / 'data'}\n"
        "churn: {enabled: false}\n"
    )
    done = snr("run", "--config", str(config), "--lang", "fr")
    assert done.returncode == 2, done.stderr
    assert "language" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "reports").exists() and not (tmp_path / "data").exists()
