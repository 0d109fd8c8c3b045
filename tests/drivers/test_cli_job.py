"""``snr drivers`` and the driver job: files, columns, atomic output, exit code 2, MLflow."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from snr_models.cli import app
from snr_models.drivers.groups import GROUP_TEST_COLUMNS
from snr_models.drivers.importance import IMPORTANCE_COLUMNS
from snr_models.jobs.drivers import run_drivers
from snr_models.simulate import simulate, write_simulation


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = simulate(n_clients=3_000, n_branches=6, n_months=12, seed=4)
    return write_simulation(result, tmp_path_factory.mktemp("w") / "data")


def test_cli_writes_tables_and_figures(world_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "drivers"
    args = ["drivers", "--data", str(world_dir), "--target", "csat", "--by", "segment"]
    res = CliRunner().invoke(app, [*args, "--n-boot", "100", "--output", str(out)])
    assert res.exit_code == 0, res.output
    importance = pd.read_csv(out / "importance.csv")
    assert list(importance.columns) == IMPORTANCE_COLUMNS
    assert importance["share"].sum() == pytest.approx(1.0)
    actions = pd.read_csv(out / "actions.csv")
    assert list(actions["rank"]) == list(range(1, 8))
    assert set(pd.read_csv(out / "ordinal.csv")["kind"]) == {"coef", "threshold"}
    assert list(pd.read_csv(out / "group_tests.csv").columns) == GROUP_TEST_COLUMNS
    for name in ("importance", "ipa", "asymmetric", "ordinal", "by_group"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    assert "wrote" in res.output


def test_cli_nps_target(world_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "nps"
    res = CliRunner().invoke(
        app,
        [
            "drivers",
            "--data",
            str(world_dir),
            "--target",
            "nps",
            "--n-boot",
            "50",
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    asym = pd.read_csv(out / "asymmetric.csv")
    assert set(asym["kind"]) <= {"dissatisfier", "delighter", "hybrid", "minor"}
    assert not (out / "ordinal.csv").exists()  # the ordinal logit is CSAT's


def test_bad_group_column_is_an_input_error(world_dir: Path, tmp_path: Path) -> None:
    from snr_models.errors import SnrInputError

    out = tmp_path / "bad"
    res = CliRunner().invoke(
        app, ["drivers", "--data", str(world_dir), "--by", "nope", "--output", str(out)]
    )
    assert isinstance(res.exception, SnrInputError)
    assert not out.exists()  # nothing half-written


def test_snr_entry_point_exits_2_on_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the ``snr`` console script (snr_models.cli:main) maps SnrInputError to exit code 2,
    # without a traceback; run in-process with its argv
    from snr_models.cli import main

    missing = tmp_path / "no-such-dir"
    out = tmp_path / "out"
    argv = ["snr", "drivers", "--data", str(missing), "--output", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.delenv("SNR_DEBUG", raising=False)
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error" in err and "Traceback" not in err
    assert not out.exists()


def test_job_logs_params_importances_and_figures(
    world_dir: Path, tmp_path: Path, mlflow_store: str
) -> None:
    from mlflow.tracking import MlflowClient

    result = run_drivers(world_dir, tmp_path / "out", target="csat", n_boot=50, track=True)
    client = MlflowClient(tracking_uri=mlflow_store)
    run = client.get_run(result.run_id)
    assert run.data.params["target"] == "csat"
    assert run.data.params["n_boot"] == "50"
    imp = result.tables["importance.csv"].set_index("driver")
    metrics = run.data.metrics
    assert metrics["importance.speed"] == pytest.approx(imp.loc["speed", "importance"])
    assert metrics["importance.speed.lo"] == pytest.approx(imp.loc["speed", "importance_lo"])
    assert metrics["share.speed.hi"] == pytest.approx(imp.loc["speed", "share_hi"])
    assert metrics["r2"] == pytest.approx(imp["importance"].sum())
    # one child run per analysis, each with its own metrics and figure
    children = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{result.run_id}'"
    )
    by_name = {c.data.tags["analysis"]: c for c in children}
    assert set(by_name) == {"importance", "ipa", "asymmetric", "ordinal"}  # no --by: no groups
    ordinal = by_name["ordinal"].data.metrics
    assert 0 < ordinal["pseudo_r2"] < 1
    assert (
        ordinal["odds_ratio.speed.lo"]
        < ordinal["odds_ratio.speed"]
        < ordinal["odds_ratio.speed.hi"]
    )
    assert "asymmetry.speed" in by_name["asymmetric"].data.metrics
    assert by_name["ipa"].data.metrics["importance_cut"] == pytest.approx(1 / 7)
    child_files = {a.path for a in client.list_artifacts(by_name["ordinal"].info.run_id, "drivers")}
    assert child_files == {"drivers/ordinal.csv", "drivers/ordinal.png"}
    names = {a.path for a in client.list_artifacts(result.run_id, "drivers")}
    assert {"drivers/importance.csv", "drivers/ipa.png", "drivers/actions.csv"} <= names
    # aggregates only: no identifier column in any logged table
    for table in result.tables.values():
        assert not {"client_id", "response_id", "ticket_id"} & set(table.columns)
