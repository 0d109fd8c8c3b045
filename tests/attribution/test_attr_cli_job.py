"""``snr attribute`` and the attribution job: files, columns, atomic output, MLflow logging."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from snr_models.cli import app
from snr_models.jobs.attribution import EFFECT_COLUMNS, run_attribution
from snr_models.simulate import simulate, write_simulation


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = simulate(n_clients=3_000, n_branches=12, n_months=18, seed=4)
    return write_simulation(result, tmp_path_factory.mktemp("w") / "data")


def test_cli_writes_effects_waterfall_and_figures(world_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "attr"
    res = CliRunner().invoke(
        app,
        [
            "attribute",
            "--data",
            str(world_dir),
            "--start",
            "2023-01",
            "--end",
            "2024-06",
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    effects = pd.read_csv(out / "effects.csv")
    assert list(effects.columns) == EFFECT_COLUMNS
    assert set(effects["component"]) == {"S", "R", "E", "net_rate"}
    assert (effects["lo"] <= effects["estimate"]).all() and (
        effects["estimate"] <= effects["hi"]
    ).all()
    wf = pd.read_csv(out / "waterfall.csv")
    nr = wf[wf["component"] == "net_rate"].set_index("step")["value"]
    # the waterfall adds up: start + steps = end
    assert nr["start"] + nr.drop(["start", "end"]).sum() == pytest.approx(nr["end"], abs=1e-9)
    assert (out / "figures" / "waterfall.png").stat().st_size > 1000
    assert "wrote" in res.output
    # the overlap waterfall: market and trend is the no-programme change net of the mix, and
    # the programmes' Shapley shares add up to their total (programmes_total.csv)
    totals = pd.read_csv(out / "programmes_total.csv").query("component == 'net_rate'")
    total = totals.set_index("quantity")["value"]
    names = wf.loc[wf["kind"] == "intervention", "step"].unique()
    assert nr[names].sum() == pytest.approx(total["programmes_total"], abs=1e-9)
    assert nr["market_and_trend"] + nr["mix"] == pytest.approx(
        total["no_programme_change"], abs=1e-9
    )
    assert len(pd.read_csv(out / "combinations.csv")) > 0
    assert (out / "figures" / "no_programme.png").stat().st_size > 1000


def test_cli_bad_month_is_an_input_error(world_dir: Path, tmp_path: Path) -> None:
    from snr_models.errors import SnrInputError

    out = tmp_path / "attr"
    res = CliRunner().invoke(
        app, ["attribute", "--data", str(world_dir), "--start", "2031-01", "--output", str(out)]
    )
    assert isinstance(res.exception, SnrInputError)  # the snr entry point maps it to exit 2
    assert not out.exists()  # nothing half-written


def test_job_logs_design_estimates_and_figures(
    world_dir: Path, tmp_path: Path, mlflow_store: str
) -> None:
    from mlflow.tracking import MlflowClient

    result = run_attribution(world_dir, tmp_path / "out", track=True)
    run = MlflowClient(tracking_uri=mlflow_store).get_run(result.run_id)
    assert run.data.params["cluster"] == "branch_id"
    assert "effect.process_reengineering.net_rate" in run.data.metrics
    assert run.data.metrics["waterfall.end"] == pytest.approx(
        float(result.waterfall.query("component == 'net_rate' and step == 'end'")["value"].iloc[0])
    )
    names = {
        a.path
        for a in MlflowClient(tracking_uri=mlflow_store).list_artifacts(
            result.run_id, "attribution"
        )
    }
    assert "attribution/waterfall.png" in names and "attribution/effects.csv" in names
    assert {"attribution/programmes_total.csv", "attribution/combinations.csv"} <= names
    together = result.totals.query("component == 'net_rate'").set_index("quantity")
    for quantity in ("programmes_total", "no_programme_change"):
        for col in ("value", "lo", "hi"):
            assert run.data.metrics[f"{quantity}.{col}"] == pytest.approx(
                together.loc[quantity, col]
            )
    # no identifiers logged: the effects table has none of the contract's id columns
    assert not {"client_id", "branch_id"} & set(result.effects.columns)


def test_cli_client_weighting_is_client_level_estimation(world_dir: Path, tmp_path: Path) -> None:
    from snr_models.attribution import build_panel, estimate_joint
    from snr_models.data.io import load

    out = tmp_path / "attr"
    args = ["attribute", "--data", str(world_dir), "--output", str(out)]
    res = CliRunner().invoke(app, [*args, "--weighting", "client"])
    assert res.exit_code == 0, res.output
    effects = pd.read_csv(out / "effects.csv")
    assert list(effects.columns) == EFFECT_COLUMNS
    # the CLI's numbers are estimate_joint(..., weighting="client") on the same data
    direct = estimate_joint(build_panel(load(world_dir)), weighting="client").to_frame()
    pd.testing.assert_frame_equal(
        effects[["estimate", "se"]], direct[["estimate", "se"]], check_exact=False, rtol=1e-9
    )
    # with client weighting the net rate's effect is exactly the weighted sum of S, R and E's
    # (DESIGN.md: net rate = .4 S + .3 R + .3 E, linear in the components)
    tab = effects.dropna(subset=["estimate"]).set_index(["intervention", "component"])["estimate"]
    for name in tab.index.get_level_values("intervention").unique():
        combo = 0.4 * tab[(name, "S")] + 0.3 * tab[(name, "R")] + 0.3 * tab[(name, "E")]
        assert tab[(name, "net_rate")] == pytest.approx(combo, rel=1e-9, abs=1e-12)
    bad = CliRunner().invoke(app, [*args, "--weighting", "cells"])
    assert bad.exit_code == 2  # typer rejects a weighting that is not one of the two
