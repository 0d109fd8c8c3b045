"""Golden test: the main job's ``summary.json`` and every CSV on a fixed small world.

Where the expected files come from: ``tests/jobs/golden/`` was written by this very test (with
``SNR_UPDATE_GOLDEN=1``) from the code as it stood before the restructuring of issue 17
(commit "Golden: ..."), on the world and settings below. A refactoring must leave them
unchanged; a change that alters an output on purpose (a renamed column, a corrected estimate)
regenerates them in the same commit and says so in its message::

    SNR_UPDATE_GOLDEN=1 uv run --frozen pytest tests/jobs/test_golden.py

Numbers are compared to 1e-6 relative (:data:`RTOL`), names, labels and the set of files
exactly. The order of floating-point sums differs between BLAS kernels (OpenBLAS picks them by
processor), and the optimisers (the ETS likelihood, the ordinal logits) stop within their
tolerance at points that differ by about 1e-8 between kernels: measured with
``OPENBLAS_CORETYPE=Haswell``, ``SandyBridge`` and ``SkylakeX`` against the files written on
Zen. A change of behaviour moves the outputs by far more. Keys that differ by construction
between runs (the run id, the output folder, the package version) are left out.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from snr_models.jobs.config import RunConfig
from snr_models.jobs.main import run_main

GOLDEN = Path(__file__).parent / "golden"
CHURN_CONFIG = Path(__file__).parents[2] / "experiments" / "churn.yaml"
VOLATILE = {"run_id", "output_dir", "report", "package_version"}
UPDATE = os.environ.get("SNR_UPDATE_GOLDEN") == "1"
RTOL, ATOL = 1e-6, 1e-9


@pytest.fixture
def golden_config(tmp_path: Path) -> RunConfig:
    (tmp_path / "sim.yaml").write_text("n_clients: 1500\nn_branches: 6\nn_months: 12\nseed: 3\n")
    (tmp_path / "scenario.yaml").write_text(
        "scenarios:\n  - name: train_remaining\n    rollouts:\n"
        "      - {intervention: staff_training, branches: remaining, start: '2024-02'}\n"
    )
    config = tmp_path / "run.yaml"
    config.write_text(
        "name: golden\nexperiment: snr-test-golden\nsimulation: sim.yaml\nseed: 1\n"
        f"data_dir: {tmp_path / 'data'}\noutput_dir: {tmp_path / 'reports'}\n"
        "netrate:\n  n_boot: 50\n  by: [branch_id, segment]\n"
        "drivers:\n  n_boot: 20\n"
        f"churn:\n  config: {CHURN_CONFIG}\n  call_list: 5\n"
        "  overrides: {n_boot: 20, boost: {max_iter: 30},"
        " backtest: {n_origins: 1, min_train_months: 4, importance: false}}\n"
        "forecast:\n  scenario: scenario.yaml\n  n_origins: 1\n  n_paths: 200\n"
    )
    return RunConfig.from_yaml(config)


def _summary(path: Path) -> dict:
    summary = json.loads(path.read_text())
    return {k: v for k, v in summary.items() if k not in VOLATILE}


def test_main_job_outputs_match_the_golden_files(
    golden_config: RunConfig, mlflow_store: str
) -> None:
    out = Path(run_main(golden_config)["output_dir"])
    csvs = sorted(p.name for p in out.glob("*.csv"))
    if UPDATE:
        shutil.rmtree(GOLDEN, ignore_errors=True)
        GOLDEN.mkdir()
        for name in csvs:
            shutil.copy(out / name, GOLDEN / name)
        summary = _summary(out / "summary.json")
        (GOLDEN / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    assert csvs == sorted(p.name for p in GOLDEN.glob("*.csv"))
    assert len(csvs) >= 10  # net rate by month, branch, segment; changes; drivers; churn; ...
    got, want = _summary(out / "summary.json"), _summary(GOLDEN / "summary.json")
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, float | dict):
            assert got[key] == pytest.approx(value, rel=RTOL, abs=ATOL), key
        else:
            assert got[key] == value, key
    for name in csvs:
        pd.testing.assert_frame_equal(
            pd.read_csv(out / name),
            pd.read_csv(GOLDEN / name),
            check_exact=False,
            rtol=RTOL,
            atol=ATOL,
            obj=name,
        )
