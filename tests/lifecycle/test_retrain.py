"""``snr retrain`` and ``snr models``: the gate, idempotency, drift, exit codes, the registry.

Expected facts come from the issue's contract (exit codes 0/2/3, one JSON line per step,
alias moves champion/previous, rejected tag with reasons, run key idempotency), not from
stored numbers: the metrics are whatever the small simulated worlds give.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from snr_models.features.drift import drift_report, psi, training_profile
from snr_models.jobs.churn import ChurnConfig
from snr_models.jobs.retrain import gate_reasons, run_key
from tests.lifecycle.cli import run_snr

STEPS_PROMOTED = ["lock", "load", "drift", "run_key", "train", "evaluate", "gate", "promote"]


def aliases(name: str = "snr-churn") -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    from snr_models.tracking import tracking_uri

    return {
        k: str(v)
        for k, v in MlflowClient(tracking_uri()).get_registered_model(name).aliases.items()
    }


def test_retrain_lifecycle(
    worlds, mlflow_store, tmp_path, make_config, loose_gate, monkeypatch, capsys
):
    """First champion by the floors; idempotent rerun; --force with a gate that cannot be
    passed (exit 3, rejected tag); promotion on new data; list, rollback, promote."""
    from mlflow.tracking import MlflowClient

    cfg = make_config(tmp_path / "churn.yaml", loose_gate)
    run = run_snr(["retrain", "--config", cfg, "--data", worlds["a"]], monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 0, err
    steps = [line["step"] for line in lines]
    assert steps == [*STEPS_PROMOTED, "summary"]
    assert lines[2]["status"] == "skipped"  # no champion: no drift reference yet
    assert lines[6]["basis"] == "floors"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "promoted" and summary["exit_code"] == 0
    assert summary["challenger"]["version"] == "1" and summary["champion"] is None
    assert aliases() == {"champion": "1", "challenger": "1"}

    # the same data and configuration again: nothing to do
    run = run_snr(["retrain", "--config", cfg, "--data", worlds["a"]], monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 0, err
    assert [line["step"] for line in lines] == ["lock", "load", "drift", "run_key", "summary"]
    assert lines[3]["status"] == "exists" and lines[4]["status"] == "skipped"
    # drift against a champion trained on these very data: PSI 0 (it was up to 11 when the
    # latest month was compared with the pooled training months)
    assert lines[2]["status"] == "ok" and lines[2]["breaches"] == []
    assert lines[2]["max_feature_psi"] == 0.0 and lines[2]["label_psi"] == 0.0

    # a gate no challenger can pass: rejected with reasons, exit 3
    strict = make_config(
        tmp_path / "strict.yaml",
        {"gate": {"max_auc_drop": -1.0}, "summary": str(tmp_path / "s2.json")},
    )
    args = ["retrain", "--config", strict, "--data", worlds["a"]]
    run = run_snr(args, monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 3, err
    assert lines[3]["status"] == "new"  # another gate: another run key
    gate = next(line for line in lines if line["step"] == "gate")
    assert gate["status"] == "failed" and gate["basis"] == "gate"
    assert "lower than the champion's" in gate["reasons"][0]
    # both evaluated on the same holdout: the champion's metrics are reported beside
    evaluate = next(line for line in lines if line["step"] == "evaluate")
    assert evaluate["champion"]["n"] == evaluate["challenger"]["n"]
    client = MlflowClient(mlflow_store)
    v2 = client.get_model_version("snr-churn", "2")
    assert v2.tags["lifecycle"] == "rejected" and "ROC-AUC" in v2.tags["rejected_reasons"]
    assert aliases() == {"champion": "1", "challenger": "2"}
    # the same run again does nothing; --force retrains (and is rejected again)
    run = run_snr(args, monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 0 and lines[3]["status"] == "exists"
    run = run_snr([*args, "--force"], monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 3 and lines[3]["status"] == "forced"
    assert aliases() == {"champion": "1", "challenger": "3"}

    # new data, loose gate: promoted, the old champion kept as previous
    run = run_snr(["retrain", "--config", cfg, "--data", worlds["b"]], monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 0, err
    assert [line["step"] for line in lines] == [*STEPS_PROMOTED, "summary"]
    assert lines[7]["champion"] == "4" and lines[7]["previous"] == "1"
    assert aliases() == {"champion": "4", "previous": "1", "challenger": "4"}
    run = client.get_run(json.loads((tmp_path / "summary.json").read_text())["run_id"])
    assert "holdout.champion.roc_auc" in run.data.metrics
    assert {a.path for a in client.list_artifacts(run.info.run_id, "drift")} >= {
        "drift/psi.csv",
        "drift/report.json",
    }

    run = run_snr(["models", "list"], monkeypatch, capsys)
    code, err = run.code, run.err
    assert code == 0
    run = run_snr(["models", "rollback"], monkeypatch, capsys)
    code, err = run.code, run.err
    assert code == 0, err
    assert aliases() == {"champion": "1", "previous": "4", "challenger": "4"}
    run = run_snr(["models", "promote", "4"], monkeypatch, capsys)
    code, err = run.code, run.err
    assert code == 0, err
    assert aliases()["champion"] == "4" and aliases()["previous"] == "1"
    run = run_snr(["models", "promote", "99"], monkeypatch, capsys)
    code, err = run.code, run.err
    assert code == 2 and "no version 99" in err

    # drift that blocks: any feature past a tiny threshold stops the run before training
    # (world a against the champion trained on world b)
    blocking = make_config(
        tmp_path / "block.yaml",
        loose_gate | {"drift": {"psi_threshold": 1e-9, "block": True}},
    )
    run = run_snr(
        ["retrain", "--config", blocking, "--data", worlds["a"], "--force"], monkeypatch, capsys
    )
    code, lines, err = run.code, run.lines, run.err
    assert code == 3, err
    assert lines[2]["status"] == "breach" and lines[2]["blocking"] is True
    assert [line["step"] for line in lines][-2:] == ["gate", "summary"]
    assert lines[-1]["status"] == "blocked"
    assert aliases()["champion"] == "4"


def test_retrain_bad_input_exits_2(
    worlds, mlflow_store, tmp_path, make_config, monkeypatch, capsys
):
    """A broken data contract, a missing data source and an invalid configuration: exit 2."""
    broken = tmp_path / "broken"
    broken.mkdir()
    clients = pd.read_parquet(worlds["a"] / "clients.parquet").drop(columns=["segment"])
    clients.to_parquet(broken / "clients.parquet")
    for name in ("client_months", "tickets", "surveys", "interventions", "market"):
        (broken / f"{name}.parquet").write_bytes((worlds["a"] / f"{name}.parquet").read_bytes())
    cfg = make_config(tmp_path / "churn.yaml")
    run = run_snr(["retrain", "--config", cfg, "--data", broken], monkeypatch, capsys)
    code, lines, err = run.code, run.lines, run.err
    assert code == 2
    assert "segment" in err and "Traceback" not in err
    assert [line["step"] for line in lines] == ["lock"]
    run = run_snr(["retrain", "--config", cfg], monkeypatch, capsys)
    code, err = run.code, run.err
    assert code == 2 and "no data source" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("retrain: {holdout_months: 0}\n")
    run = run_snr(["retrain", "--config", bad, "--data", worlds["a"]], monkeypatch, capsys)
    code, err = run.code, run.err
    assert code == 2 and "holdout_months" in err


def test_gate_and_floors_rules():
    """The gate's rules as the issue states them (AUC margin, slope range, EMPC not lower)."""
    cfg = ChurnConfig()
    champ = {"roc_auc": 0.75, "calibration_slope": 1.0, "empc": 2.0}
    ok = {"roc_auc": 0.746, "calibration_slope": 1.1, "empc": 2.0, "n": 1000.0}
    assert gate_reasons(ok, champ, cfg) == []
    worse = ok | {"roc_auc": 0.744, "calibration_slope": 1.3, "empc": 1.9}
    reasons = gate_reasons(worse, champ, cfg)
    assert len(reasons) == 3
    assert "ROC-AUC" in reasons[0] and "slope" in reasons[1] and "EMPC" in reasons[2]
    weak = {"roc_auc": 0.55, "calibration_slope": 0.5, "empc": -1.0, "n": 50.0}
    assert len(gate_reasons(weak, None, cfg)) == 4


def test_run_key_ignores_paths_not_settings():
    base = ChurnConfig()
    assert run_key("h", base) == run_key("h", ChurnConfig(retrain={"lock": "/x", "summary": "/y"}))
    assert run_key("h", base) != run_key("h", ChurnConfig(horizon=2))
    assert run_key("h", base) != run_key("h", base, version="0.0.0")


def test_drift_report_detects_a_shift_and_the_label_rate():
    """PSI against hand-computed values: identical data 0, a shifted feature breaches."""
    import numpy as np

    rng = np.random.default_rng(0)
    old = pd.DataFrame(
        {
            "x": rng.normal(size=4000),
            "seg": rng.choice(["a", "b"], 4000),
            "churn": (rng.random(4000) < 0.05).astype(float),
        }
    )
    profile = training_profile(old, ["x", "seg"])
    same = drift_report(profile, old)
    assert same.table["psi"].max() == pytest.approx(0.0, abs=1e-12) and not same.breached
    new = old.assign(x=old["x"] + 1.0, churn=(rng.random(4000) < 0.15).astype(float))
    report = drift_report(profile, new)
    assert report.breaches == ["x", "label_rate"]
    r_old, r_new = old["churn"].mean(), new["churn"].mean()
    expected = (r_new - r_old) * np.log(r_new / r_old) + (r_old - r_new) * np.log(
        (1 - r_new) / (1 - r_old)
    )
    assert report.label_psi == pytest.approx(expected, rel=1e-12)
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    assert json.dumps(profile) and "x" not in json.dumps(report.to_dict()["breaches"][:0])


def test_config_file_has_the_retrain_section():
    path = Path(__file__).parents[2] / "experiments" / "churn.yaml"
    cfg = ChurnConfig.from_yaml(path)
    assert cfg.retrain.gate.max_auc_drop == 0.005
    assert tuple(cfg.retrain.gate.calibration_slope) == (0.8, 1.2)
    assert cfg.retrain.gate.max_empc_drop == 0.0


def test_retrain_with_model_auto_gates_the_chosen_model(
    worlds, mlflow_store, tmp_path, make_config, loose_gate, monkeypatch, capsys
):
    """A boosted champion, then ``model: auto``: the challenger is the model chosen within the
    training months, evaluated beside the champion on the same holdout and gated unchanged."""
    from snr_models.tracking.models import load_registered_model

    first = make_config(tmp_path / "boost.yaml", loose_gate)
    run = run_snr(["retrain", "--config", first, "--data", worlds["a"]], monkeypatch, capsys)
    assert run.code == 0, run.err
    auto = make_config(
        tmp_path / "auto.yaml",
        loose_gate | {"summary": str(tmp_path / "auto.json")},
        model="auto",
        n_boot=10,
        backtest={"n_origins": 2, "min_train_months": 4, "importance": False},
    )
    run = run_snr(["retrain", "--config", auto, "--data", worlds["b"]], monkeypatch, capsys)
    assert run.code == 0, run.err
    assert [line["step"] for line in run.lines] == [*STEPS_PROMOTED, "summary"]
    train = next(line for line in run.lines if line["step"] == "train")
    assert set(train["candidates"]) == {"boost", "logit", "hazard"}
    # the choice is the best backtest score; the label is the chosen model's own
    assert train["model"] == max(train["candidates"], key=train["candidates"].get)
    assert train["label"] == ("exit_next_month" if train["model"] == "hazard" else "churn")
    evaluate = next(line for line in run.lines if line["step"] == "evaluate")
    assert evaluate["champion"]["n"] == evaluate["challenger"]["n"] > 0
    gate = next(line for line in run.lines if line["step"] == "gate")
    assert gate["basis"] == "gate" and gate["status"] == "passed"
    assert aliases() == {"champion": "2", "previous": "1", "challenger": "2"}
    classes = {"boost": "ChurnBoost", "logit": "ChurnLogit", "hazard": "HazardModel"}
    loaded = load_registered_model("models:/snr-churn@champion")  # through the allow-list
    assert type(loaded.estimator).__name__ == classes[train["model"]]
