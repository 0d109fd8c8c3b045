"""The main job end to end on a small simulated world: outputs on disk and runs in MLflow."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from snr_models.jobs.config import RunConfig
from snr_models.jobs.main import run_main

CHURN_CONFIG = Path(__file__).parents[2] / "experiments" / "churn.yaml"


@pytest.fixture
def small_config(tmp_path: Path) -> RunConfig:
    sim = tmp_path / "sim.yaml"
    sim.write_text("n_clients: 3000\nn_branches: 6\nn_months: 12\nseed: 5\n")
    # the 12-month world ends in 2023-12: train the remaining branches from 2024-02
    (tmp_path / "scenario.yaml").write_text(
        "scenarios:\n  - name: train_remaining\n    rollouts:\n"
        "      - {intervention: staff_training, branches: remaining, start: '2024-02'}\n"
    )
    config = tmp_path / "run.yaml"
    config.write_text(
        "name: test\nexperiment: snr-test-main\nsimulation: sim.yaml\n"
        f"data_dir: {tmp_path / 'data'}\noutput_dir: {tmp_path / 'reports'}\n"
        "netrate:\n  n_boot: 100\n  by: [branch_id]\n"
        "drivers:\n  n_boot: 50\n"
        f"churn:\n  config: {CHURN_CONFIG}\n  call_list: 15\n"
        "  overrides: {n_boot: 50, boost: {max_iter: 50},"
        " backtest: {n_origins: 1, min_train_months: 4, importance: false}}\n"
        "forecast:\n  scenario: scenario.yaml\n  n_origins: 2\n  n_paths: 300\n"
    )
    return RunConfig.from_yaml(config)


def test_main_job_writes_outputs_and_tracks_parent_and_child_runs(
    small_config: RunConfig, mlflow_store: str
) -> None:
    from mlflow.tracking import MlflowClient

    summary = run_main(small_config)
    out = Path(summary["output_dir"])
    assert (out / "summary.json").is_file()
    firm = pd.read_csv(out / "netrate_firm.csv")
    assert len(firm) == 12
    # the summary's headline is the last month of the firm-wide table
    assert summary["net_rate_latest"] == pytest.approx(firm["net_rate"].iloc[-1])
    # the decomposition by component adds up to the change it explains
    assert sum(summary["change_by_component"].values()) == pytest.approx(
        summary["net_rate_change"], abs=1e-12
    )
    assert json.loads((out / "summary.json").read_text())["run_id"] == summary["run_id"]

    client = MlflowClient(tracking_uri=mlflow_store)
    parent = client.get_run(summary["run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["net_rate_latest"] == pytest.approx(summary["net_rate_latest"])
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{summary['run_id']}'",
    )
    assert {c.data.tags["stage"] for c in children} == {
        "data",
        "netrate",
        "drivers",
        "churn",
        "attribution",
        "forecast",
    }
    # the churn stage registered the model it trained, and logged its backtest in its child run
    churn = next(c for c in children if c.data.tags["stage"] == "churn")
    assert 0.5 < churn.data.metrics["backtest.roc_auc"] <= 1
    # model: auto (the default): the choice and every candidate's backtest score are logged
    assert churn.data.params["model.chosen"] in {"boost", "logit", "hazard"}
    assert {f"choice.{m}.score" for m in ("boost", "logit", "hazard")} <= set(churn.data.metrics)
    assert summary["churn_backtest_auc"] == pytest.approx(churn.data.metrics["backtest.roc_auc"])
    version = client.get_model_version("snr-churn", summary["churn_model_version"])
    assert version.run_id == churn.info.run_id
    assert "sha256" in version.tags
    attribution = next(c for c in children if c.data.tags["stage"] == "attribution")
    assert any(k.startswith("effect.process_reengineering.") for k in attribution.data.metrics)


SECTIONS = ("headline", "components", "drivers", "churn", "attribution", "forecast", "provenance")


def test_report_renders_offline_in_a_real_browser_and_names_no_client(
    small_config: RunConfig, mlflow_store: str, chromium: Path
) -> None:
    from playwright.sync_api import sync_playwright

    summary = run_main(small_config)
    page = Path(summary["report"]).read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert page.count("data:image/png;base64,") >= 7
    # Nothing is loaded from elsewhere: no http(s) source, stylesheet or script.
    assert "src='http" not in page and 'src="http' not in page and "<script" not in page
    assert summary["data_hash"] in page
    clients = pd.read_parquet(Path(small_config.data_dir) / "clients.parquet")
    assert not any(cid in page for cid in clients["client_id"])
    # The waterfall's steps add up to the change between its windows, which the headline states
    waterfall = pd.read_csv(Path(summary["output_dir"]) / "attribution_waterfall.csv")
    nr = waterfall[waterfall["component"] == "net_rate"].set_index("step")["value"]
    assert nr["start"] + nr.drop(["start", "end"]).sum() == pytest.approx(nr["end"], abs=1e-12)
    assert f"steadier than single months: {100 * (nr['end'] - nr['start']):+.1f} points" in page

    flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    flags += ["--disable-component-update", "--disable-sync", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=flags)
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(Path(summary["report"]).resolve().as_uri(), wait_until="load")
            for section in SECTIONS:
                assert page.locator(f"section#{section} h2").is_visible()
            widths = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth)")
            assert len(widths) >= 5 and all(w > 0 for w in widths), widths
            assert page.locator("section#headline .kpi").count() == 3
            # the call list: 15 pseudonymised clients, riskiest first, three reasons each
            calls = page.locator("section#churn table").last
            header = calls.locator("thead th").all_inner_texts()
            rows = [r.locator("td").all_inner_texts() for r in calls.locator("tbody tr").all()]
            assert header[0] == "client (pseudonym)" and len(rows) == 15
            assert all(re.fullmatch(r"C-[0-9a-f]{10}", r[0]) for r in rows)
            p = [float(r[header.index("churn_probability")]) for r in rows]
            assert p == sorted(p, reverse=True)
            for reason in ("reason_1", "reason_2", "reason_3"):
                assert all(r[header.index(reason)].strip() for r in rows)
        finally:
            browser.close()
    # The only request is the page itself; figures are data: URIs, nothing else is fetched.
    assert [u for u in requests if not u.startswith(("file://", "data:"))] == []


def test_second_run_reuses_the_simulated_world(small_config: RunConfig, mlflow_store: str) -> None:
    first = run_main(small_config)
    second = run_main(small_config)
    assert first["data_hash"] == second["data_hash"]
    assert first["run_id"] != second["run_id"]


def test_snr_run_on_given_duckdb_data(small_config: RunConfig, mlflow_store: str) -> None:
    """`snr run --data FILE.duckdb` on a broker's exports ingested by `snr ingest` (the path of
    the README's "Your own data"): the data are loaded, not simulated, and every stage runs."""
    from mlflow.tracking import MlflowClient
    from typer.testing import CliRunner

    from snr_models.cli import app
    from snr_models.jobs.ingest import ingest
    from snr_models.simulate import SimulationConfig, simulate
    from snr_models.simulate.exports import write_exports

    world = simulate(SimulationConfig.from_yaml(small_config.simulation)).tables
    config_file = Path(small_config.simulation).parent / "run.yaml"
    folder = Path(small_config.data_dir).parent
    exports = write_exports(world, folder / "exports", database="csv")
    database = ingest(exports / "sources.yaml", folder / "given.duckdb").out
    result = CliRunner().invoke(app, ["run", "--config", str(config_file), "--data", str(database)])
    assert result.exit_code == 0, result.output
    assert not Path(small_config.data_dir).exists()  # nothing simulated
    run_id = re.search(r"MLflow run ([0-9a-f]{32})", result.output).group(1)
    summary = json.loads((Path(small_config.output_dir) / run_id / "summary.json").read_text())
    assert summary["data_source"] == "given"
    assert summary["data_hash"] == world.content_hash()
    client = MlflowClient(tracking_uri=mlflow_store)
    parent = client.get_run(run_id)
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert {c.data.tags["stage"] for c in children} == set(SECTIONS[2:-1]) | {"data", "netrate"}
