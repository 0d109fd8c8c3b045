"""``snr run`` as cron runs it: output piped to files, then the lines and the MLflow runs read.

Under cron nothing is a terminal: the progress must be one plain line per stage with its
elapsed time (no progress bar, no colour codes, no line broken at 80 columns), MLflow's own
INFO messages must stay out, and ``--log-format json`` must give one JSON object a line. The
parent run is named for what it did and described; so is every stage's child run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from snr_models.jobs.main import STAGES

CHURN_CONFIG = Path(__file__).parents[2] / "experiments" / "churn.yaml"
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"
SECONDS = r"(\d+\.\d s|\d+ min \d\d s)"


def _write_config(folder: Path, *, all_stages: bool) -> Path:
    (folder / "sim.yaml").write_text("n_clients: 3000\nn_branches: 6\nn_months: 12\nseed: 5\n")
    (folder / "scenario.yaml").write_text(
        "scenarios:\n  - name: train_remaining\n    rollouts:\n"
        "      - {intervention: staff_training, branches: remaining, start: '2024-02'}\n"
    )
    text = (
        "name: cron\nexperiment: snr-test-cron\nsimulation: sim.yaml\n"
        f"data_dir: {folder.parent / 'data'}\noutput_dir: {folder / 'reports'}\n"
        "netrate:\n  n_boot: 50\n  by: [branch_id]\n"
    )
    if all_stages:
        text += (
            "drivers:\n  n_boot: 20\n"
            f"churn:\n  config: {CHURN_CONFIG}\n  call_list: 5\n"
            # one model, not `auto`'s three backtested: this test reads the output, not the choice
            "  overrides: {model: logit, n_boot: 20,"
            " backtest: {n_origins: 1, min_train_months: 4, importance: false}}\n"
            "forecast:\n  scenario: scenario.yaml\n  n_origins: 1\n  n_paths: 200\n"
        )
    else:
        text += (
            "drivers: {enabled: false}\nchurn: {enabled: false}\n"
            "attribution: {enabled: false}\nforecast: {enabled: false}\n"
            "plan: {enabled: false}\n"
        )
    config = folder / "run.yaml"
    config.write_text(text)
    return config


def _snr_run(config: Path, *extra: str) -> tuple[str, str]:
    """Run ``snr run`` with stdout and stderr going to files, as a crontab line does."""
    out, err = config.parent / "stdout.log", config.parent / "stderr.log"
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TERM")}
    with out.open("w") as stdout, err.open("w") as stderr:
        done = subprocess.run(
            [sys.executable, "-c", "from snr_models.cli import main; main()", "run"]
            + ["--config", str(config), "--threads", "1", *extra],
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=env,
            timeout=900,
        )
    assert done.returncode == 0, err.read_text()
    return out.read_text(), err.read_text()


@pytest.fixture(scope="module")
def piped(tmp_path_factory: pytest.TempPathFactory, _migrated_mlflow_db: Path):
    """Both runs, plain then JSON, into one MLflow store; their output and the store's URI."""
    import shutil

    root = tmp_path_factory.mktemp("cron")
    db = root / "mlflow.db"
    shutil.copy(_migrated_mlflow_db, db)
    uri = f"sqlite:///{db}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", uri)
        env.setenv("SNR_ARTIFACT_ROOT", str(root / "mlruns"))
        (root / "plain").mkdir()
        (root / "json").mkdir()
        plain = _snr_run(_write_config(root / "plain", all_stages=True))
        as_json = _snr_run(_write_config(root / "json", all_stages=False), "--log-format", "json")
    return {"plain": plain, "json": as_json, "uri": uri}


def test_piped_run_writes_one_plain_line_per_stage(piped) -> None:
    stdout, stderr = piped["plain"]
    assert "\x1b[" not in stdout + stderr  # no colour or cursor codes
    lines = stderr.splitlines()
    n = len(STAGES)
    for k, stage in enumerate(STAGES, start=1):
        started = [
            x for x in lines if re.fullmatch(rf"{STAMP} snr run \[{k}/{n}\] {stage} started", x)
        ]
        finished = [
            x
            for x in lines
            if re.fullmatch(
                rf"{STAMP} snr run \[{k}/{n}\] {stage} done in {SECONDS} \(job {SECONDS}\)", x
            )
        ]
        assert len(started) == 1 and len(finished) == 1, (stage, stderr)
    # no line of ours is broken: every line that names the job is a whole line; the first one
    # is longer than 80 columns and still on one line
    ours = [x for x in lines if "snr run" in x]
    assert all(re.match(rf"{STAMP} snr run ", x) for x in ours)
    header = next(x for x in ours if "started: " in x)
    assert len(header) > 80 and header.endswith(f"({', '.join(STAGES)})")
    assert re.fullmatch(rf"{STAMP} snr run finished in {SECONDS}", ours[-1])
    # MLflow's own INFO messages stay out (the churn stage registered a model in a fresh store)
    assert "Successfully registered model" not in stderr + stdout
    assert "Created version" not in stderr + stdout
    assert not re.search(r" INFO mlflow", stderr)
    assert "net rate 2023-12" in stdout


def test_piped_run_with_log_format_json_writes_json_lines(piped) -> None:
    _, stderr = piped["json"]
    records = [json.loads(line) for line in stderr.splitlines()]  # every line parses
    assert {"time", "level", "event", "job"} <= set(records[0])
    finished = [r for r in records if r["event"] == "stage finished"]
    assert [r["stage"] for r in finished] == ["data", "netrate", "report"]
    assert all(r["elapsed"] >= 0 and r["job"] == "run" for r in finished)
    assert records[-1]["event"] == "job finished"


def test_parent_and_child_runs_are_named_and_described(piped) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=piped["uri"])
    experiment = client.get_experiment_by_name("snr-test-cron")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 2
    names = sorted(r.info.run_name for r in parents)
    # the simulated world's 12 months end in 2023-12; same data, other settings: other hash
    assert all(re.fullmatch(r"main 2023-12 [0-9a-f]{6}", name) for name in names)
    assert names[0] != names[1]
    for parent in parents:
        text = parent.data.tags["mlflow.note.content"]
        assert "3,000 clients, months 2023-01 to 2023-12" in text
        assert parent.data.tags["config"] == "cron"
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert {c.data.tags["stage"] for c in children} == set(STAGES) - {"report"}
    assert all(len(c.data.tags.get("mlflow.note.content", "")) > 40 for c in children)
    # the model version registered by the churn stage is described too
    churn = next(c for c in children if c.data.tags["stage"] == "churn")
    version = client.search_model_versions(f"run_id = '{churn.info.run_id}'")[0]
    assert "probability of leaving within 3 months" in version.description
    assert client.get_registered_model("snr-churn").description
