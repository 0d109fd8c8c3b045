"""kill -9 during training and during promotion, and a second run while the lock is held.

A wrapper (written below into the test's folder) runs ``snr``'s real entry point in a child
process after making one step wait: the boosting fit (training) or the moment between the
two alias moves of a promotion. The test kills the child there with SIGKILL and checks the
contract: ``models:/snr-churn@champion`` loads a complete model (its SHA-256 record checks),
the killed run does not count as finished, and the next run completes.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.lifecycle.cli import SnrRun, run_snr

WRAPPER = """
import os, sys, time
from pathlib import Path

marker, stage, *args = sys.argv[1:]
if stage == "train":
    from snr_models.churn import boost

    def fit(self, X, y):
        Path(marker).write_text(str(os.getpid()))
        time.sleep(600)

    boost.ChurnBoost.fit = fit
elif stage == "promote":
    from snr_models.tracking import registry

    original = registry.set_alias

    def set_alias(name, alias, version):
        original(name, alias, version)
        if alias == "previous":
            Path(marker).write_text(str(os.getpid()))
            time.sleep(600)

    registry.set_alias = set_alias
sys.argv = ["snr", *args]
from snr_models.cli import main

main()
"""


def _wait_for(path: Path, proc, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"child ended early ({proc.returncode}):\n{out}\n{err[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError("child never reached the step")
        time.sleep(0.2)


def _kill(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _retrain(cfg: Path, data: Path, monkeypatch, capsys) -> SnrRun:
    return run_snr(["retrain", "--config", cfg, "--data", data], monkeypatch, capsys)


def _champion_loads(expected_version: str) -> None:
    from snr_models.tracking.models import load_registered_model

    loaded = load_registered_model("models:/snr-churn@champion")
    assert loaded.version == expected_version
    assert loaded.record.sha256 and hasattr(loaded.estimator, "predict_proba")


@pytest.mark.slow
def test_kill_during_training_and_promotion(
    worlds, mlflow_store, tmp_path, make_config, loose_gate, snr_process, monkeypatch, capsys
):
    from mlflow.tracking import MlflowClient

    cfg = make_config(tmp_path / "churn.yaml", loose_gate)
    run = _retrain(cfg, worlds["a"], monkeypatch, capsys)
    code, err = run.code, run.err
    assert code == 0, err
    _champion_loads("1")
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    retrain_b = ["retrain", "--config", str(cfg), "--data", str(worlds["b"])]

    # 1. killed while fitting; meanwhile a second run is refused with exit 75
    marker = tmp_path / "training"
    child = snr_process([str(wrapper), str(marker), "train", *retrain_b], cwd=tmp_path)
    _wait_for(marker, child)
    run = _retrain(cfg, worlds["b"], monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 75
    assert f"pid {child.pid}" in err and "retrain.lock" in err
    assert lines == []
    _kill(child)
    _champion_loads("1")
    client = MlflowClient(mlflow_store)
    runs = client.search_runs(
        [client.get_experiment_by_name("snr-churn").experiment_id],
        filter_string="attributes.status = 'RUNNING'",
    )
    assert len(runs) == 1  # the killed run: never FINISHED, so its run key does not count

    # 2. killed between the two alias moves of the promotion
    marker = tmp_path / "promoting"
    child = snr_process([str(wrapper), str(marker), "promote", *retrain_b], cwd=tmp_path)
    _wait_for(marker, child)
    _kill(child)
    aliases = {k: str(v) for k, v in client.get_registered_model("snr-churn").aliases.items()}
    assert aliases["champion"] == "1" and aliases["previous"] == "1"
    _champion_loads("1")

    # 3. the next run takes the lock and completes the promotion
    run = _retrain(cfg, worlds["b"], monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 0, err
    assert lines[3]["status"] == "new"  # neither killed run finished
    promote = next(line for line in lines if line["step"] == "promote")
    assert promote["previous"] == "1"
    _champion_loads(promote["champion"])
