"""``snr netrate``, ``snr drivers`` and ``snr attribute`` report stages and counted steps.

Each command runs with ``--log-format json`` and ``--threads 1``; the JSON reporter is the one
``reporter_for`` picks, with the step throttle off (``interval=0``) so that every step event
is written and can be checked. Expected stages are the ones each command's help lists; the
expected step totals follow from the arguments (replicates x groups, 2^7 - 1 subsets of the
seven rating drivers, the permutations of the pre-trend test).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snr_models.cli import app
from snr_models.cli import progress as cli_progress
from snr_models.drivers.survey import RATING_COLUMNS
from snr_models.simulate import simulate, write_simulation


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = simulate(n_clients=3_000, n_branches=12, n_months=18, seed=4)
    return write_simulation(result, tmp_path_factory.mktemp("w") / "data")


@pytest.fixture
def run_json(monkeypatch: pytest.MonkeyPatch):
    """Invoke ``snr`` and return its exit code, stdout and the JSON progress records."""
    chosen = []

    def every_step(log_format, stream=None):  # noqa: ANN001, ANN202
        chosen.append(log_format)
        return cli_progress.JsonLines(stream or sys.stderr, interval=0)

    monkeypatch.setattr(cli_progress, "reporter_for", every_step)

    def run(*args: str) -> tuple[int, str, list[dict]]:
        res = CliRunner().invoke(app, [*args, "--log-format", "json", "--threads", "1"])
        assert chosen == [cli_progress.LogFormat.json]
        records = [json.loads(x) for x in res.stderr.splitlines() if x.startswith("{")]
        return res.exit_code, res.output, records

    return run


def _stages(records: list[dict]) -> list[str]:
    return [r["stage"] for r in records if r["event"] == "stage finished"]


def _last_step(records: list[dict], step: str) -> dict:
    return [r for r in records if r["event"] == "step" and r.get("step") == step][-1]


def test_netrate_reports_stages_and_bootstrap_replicates(world_dir: Path, tmp_path: Path, run_json):
    code, output, records = run_json(
        "netrate",
        "--data",
        str(world_dir),
        "--by",
        "branch_id",
        "--n-boot",
        "40",
        "--output",
        str(tmp_path / "nr.csv"),
    )
    assert code == 0, output
    assert records[0]["event"] == "job started" and records[0]["job"] == "netrate"
    assert _stages(records) == ["data", "netrate", "write"]
    last = _last_step(records, "bootstrap")
    assert last["stage"] == "netrate"
    assert last["done"] == last["total"] == 40 * 12  # 40 replicates x 12 branches


def test_drivers_reports_stages_and_logit_subsets(world_dir: Path, tmp_path: Path, run_json):
    code, output, records = run_json(
        "drivers",
        "--data",
        str(world_dir),
        "--by",
        "segment",
        "--n-boot",
        "20",
        "--output",
        str(tmp_path / "drivers"),
    )
    assert code == 0, output
    assert records[0]["job"] == "drivers"
    expected = ["data", "importance", "asymmetric", "ordinal", "groups", "write"]
    assert _stages(records) == expected
    subsets = _last_step(records, "subsets")
    assert subsets["stage"] == "asymmetric"
    assert subsets["done"] == subsets["total"] == 2 ** len(RATING_COLUMNS) - 1
    groups = _last_step(records, "groups")
    assert groups["stage"] == "groups" and groups["done"] == groups["total"] >= 2


def test_attribute_reports_stages_and_permutations(world_dir: Path, tmp_path: Path, run_json):
    code, output, records = run_json(
        "attribute", "--data", str(world_dir), "--output", str(tmp_path / "attr")
    )
    assert code == 0, output
    assert records[0]["job"] == "attribute"
    assert _stages(records) == ["data", "effects", "waterfall", "diagnostics", "write"]
    interventions = _last_step(records, "interventions")
    assert interventions["stage"] == "diagnostics"
    assert interventions["done"] == interventions["total"] >= 1
    perms = _last_step(records, "interventions > permutations")
    assert perms["done"] == perms["total"] == 99  # diagnose's default n_perm
