"""``snr forecast`` and the forecast job: the output table, bad input (exit 2), MLflow logging.

Commands run in a subprocess, as a user would run them, so the exit code and the absence of a
traceback are what a user sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from snr_models.forecast import load_scenarios
from snr_models.forecast.core import OUTPUT_COLUMNS
from snr_models.simulate import simulate, write_simulation

SNR = [sys.executable, "-c", "from snr_models.cli import main; main()"]
REPO = Path(__file__).resolve().parents[2]

SCENARIO = """
scenarios:
  - name: train_rest
    rollouts:
      - {intervention: staff_training, branches: remaining, start: "2024-08", shape: ramp}
effects:
  staff_training:
    S: {estimate: 0.04, se: 0.01}
    R: {estimate: 0.01, se: 0.005}
    E: {estimate: 0.02, se: 0.01}
"""


def snr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SNR, *args], capture_output=True, text=True, env=dict(os.environ), timeout=600
    )


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    res = simulate(n_clients=1_500, n_branches=4, n_months=18, seed=3, truth=False)
    return write_simulation(res, tmp_path_factory.mktemp("world") / "data")


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scen") / "scenario.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_repository_scenario_file_is_valid() -> None:
    spec = load_scenarios(REPO / "experiments" / "scenario_training.yaml")
    assert [s.name for s in spec.scenarios][0] == "train_remaining_from_march"
    assert spec.effects == "attribution"


@pytest.mark.parametrize(
    ("suffix", "options"),
    [
        (".csv", ["--model", "snaive", "--model", "ets", "--origins", "2"]),
        (".parquet", ["--model", "ets", "--origins", "0"]),
    ],
)
def test_forecast_command_writes_the_table(
    world_dir: Path, scenario_file: Path, tmp_path: Path, suffix: str, options: list[str]
) -> None:
    out = tmp_path / f"forecast{suffix}"
    done = snr(
        "forecast", "--data", str(world_dir), "--horizon", "3", "--scenario", str(scenario_file),
        "--output", str(out), "--paths", "400", *options,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns) == OUTPUT_COLUMNS
    assert set(frame["scenario"]) == {"baseline", "train_rest"}
    assert set(frame["series"]) == {"firm", "B001", "B002", "B003", "B004"}
    assert set(frame["component"]) == {"S", "R", "E", "net_rate"}
    assert len(frame) == 3 * 5 * 4 * 2
    assert "train_rest" in done.stdout


def test_missing_data_exits_2_without_traceback(tmp_path: Path) -> None:
    done = snr("forecast", "--data", "/nonexistent/world", "--output", str(tmp_path / "f.csv"))
    assert done.returncode == 2
    assert "error" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "f.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{world}", "--output", "{tmp}/f.txt"], ".csv or .parquet"),
        (
            ["--data", "{world}", "--output", "{tmp}/f.csv", "--scenario", "{tmp}/bad.yaml"],
            "invalid configuration",
        ),
        (["--data", "{world}", "--output", "{tmp}/f.csv", "--end", "2023-06"], "12 months"),
    ],
)
def test_bad_input_exits_2(
    world_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    args: list[str],
    message: str,
) -> None:
    # in-process through the same entry point as the console script (saves a slow start-up)
    from snr_models.cli import main

    (tmp_path / "bad.yaml").write_text(
        "scenarios:\n  - name: x\n    rollouts: []\n    colour: red\n", encoding="utf-8"
    )
    argv = [a.format(tmp=tmp_path, world=world_dir) for a in args]
    monkeypatch.setattr(sys, "argv", ["snr", "forecast", *argv, "--model", "ets", "--origins", "0"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.glob("f.*"))


def test_job_logs_to_mlflow_without_client_rows(
    mlflow_store: str, world_dir: Path, scenario_file: Path, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    from snr_models.jobs.forecast import run_forecast

    job = run_forecast(
        world_dir, tmp_path / "f.parquet", horizon=2, scenario=scenario_file,
        models=("snaive", "ets"), n_origins=2, n_paths=300, track=True,
    )  # fmt: skip
    client = MlflowClient(tracking_uri=mlflow_store)
    run = client.get_run(job.run_id)
    assert run.data.params["horizon"] == "2"
    assert run.data.params["scenarios"] == '["train_rest"]'
    assert any(k.startswith("backtest.firm.net_rate") or k.startswith("backtest.firm.S.")
               for k in run.data.metrics)  # fmt: skip
    assert "forecast.firm.net_rate.train_rest.forecast" in run.data.metrics
    assert run.data.tags["model.firm.S"] in {"snaive", "ets", "sarimax", "uc"}
    # the interval calibration applied is recorded: its factors as metrics, the rest as params
    cal = job.result.params["calibration"]
    assert run.data.metrics["calibration.firm.net_rate.sd_factor"] == pytest.approx(
        cal["net_rate_factor"]
    )
    for comp in ("S", "R", "E"):
        assert run.data.metrics[f"calibration.firm.{comp}.sd_factor"] >= 1.0
    assert run.data.params["calibration.dof"] == str(cal["dof"])
    names = {a.path for a in client.list_artifacts(job.run_id, "forecast")}
    assert {
        "forecast/forecast.csv",
        "forecast/model_choice.csv",
        "forecast/backtest.csv",
        "forecast/effects.csv",
        "forecast/fan_net_rate.png",
        "forecast/backtest.png",
        "forecast/summary.txt",
        "forecast/calibration.json",
    } <= names
    local = Path(client.download_artifacts(job.run_id, "forecast/forecast.csv", str(tmp_path)))
    logged = pd.read_csv(local)
    assert "client_id" not in logged.columns
    assert list(logged.columns) == OUTPUT_COLUMNS
