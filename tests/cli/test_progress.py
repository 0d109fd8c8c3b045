"""Progress reporting: silent for library users; bars, plain lines or JSON lines under ``snr``.

The events are produced by ``snr_models.progress`` exactly as a job produces them; the
expected lines follow from the events and the throttle interval (no timing is asserted).
"""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from snr_models import progress
from snr_models.cli.progress import JsonLines, PlainLines, ProgressBars


def _job(origins: int = 3) -> None:
    """A small job as the main job reports itself: two stages, a loop of steps in the second."""
    with progress.job("run", ("data", "churn")):
        with progress.stage("data"):
            pass
        with progress.stage("churn"):
            for _ in progress.track(range(origins), "backtest", describe=lambda i: f"origin {i}"):
                pass


def test_library_users_see_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    _job()
    assert capsys.readouterr() == ("", "")
    assert type(progress.current_reporter()) is progress.Reporter


def test_plain_lines_one_per_stage_start_and_end_steps_throttled() -> None:
    stream = io.StringIO()
    with progress.use(PlainLines(stream, interval=3600)):
        _job()
    lines = stream.getvalue().splitlines()
    # with an hour between step lines, only the job and its stages are written
    assert [re.sub(r"^\S+ ", "", x) for x in lines[:-1]] == [
        "snr run started: 2 stages (data, churn)",
        *[x for x in _stage_lines(lines) if x],
    ]
    assert len(lines) == 6
    assert re.fullmatch(r"\S+ snr run \[2/2\] churn done in \d+\.\d s \(job \d+\.\d s\)", lines[4])
    assert re.fullmatch(r"\S+ snr run finished in \d+\.\d s", lines[5])


def _stage_lines(lines: list[str]) -> list[str]:
    out = []
    for k, stage in enumerate(("data", "churn"), start=1):
        out.append(f"snr run [{k}/2] {stage} started")
        done = next(x for x in lines if f"[{k}/2] {stage} done in" in x)
        out.append(re.sub(r"^\S+ ", "", done))
    return out


def test_plain_lines_show_steps_when_the_interval_allows() -> None:
    stream = io.StringIO()
    with progress.use(PlainLines(stream, interval=0)):
        _job(origins=2)
    steps = [x for x in stream.getvalue().splitlines() if " > " in x]
    # each origin advanced once, then the step's end: done/total, the message, the time
    assert re.search(r"\[2/2\] churn > backtest 1/2 origin 0, after \d+\.\d s$", steps[0])
    assert re.search(r"\[2/2\] churn > backtest 2/2 origin 1, after", steps[1])
    assert re.search(r"\[2/2\] churn > backtest 2/2, done in", steps[2])


def test_json_lines_parse_and_carry_the_fields_log_collectors_need() -> None:
    stream = io.StringIO()
    with progress.use(JsonLines(stream, interval=0)):
        _job(origins=2)
    records = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert records[0] == {
        **{k: records[0][k] for k in ("time", "level")},
        "event": "job started",
        "job": "run",
        "total": 2,
        "message": "data, churn",
    }
    step = next(r for r in records if r["event"] == "step")
    assert step["stage"] == "churn" and step["step"] == "backtest"
    assert (step["done"], step["total"], step["message"]) == (1, 2, "origin 0")
    assert {"time", "level", "elapsed"} <= set(step)


def test_a_terminal_gets_a_progress_bar_with_counts_and_eta() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    bars = ProgressBars(console)
    seen = []
    with progress.use(bars), progress.job("run", ("data", "churn")):
        with progress.stage("data"):
            pass
        with progress.stage("churn"):
            for i in progress.track(range(4), "backtest"):
                if i == 2:  # two origins done: the job's bar and the step's bar, as drawn
                    seen = [(t.description, t.completed, t.total) for t in bars.bars.tasks]
    assert seen == [("stage churn", 1, 2), ("  churn > backtest", 2, 4)]
    columns = [type(c).__name__ for c in bars.bars.columns]
    assert {"BarColumn", "MofNCompleteColumn", "TimeRemainingColumn"} <= set(columns)
    text = out.getvalue()
    assert "stage churn" in text and "2/2" in text and "━" in text  # a bar, not a spinner
    assert bars.bars.tasks[0].finished


def test_a_nested_job_is_not_announced_again() -> None:
    started = []

    class Recorder(progress.Reporter):
        def job_started(self, name, stages):
            started.append(name)

    with progress.use(Recorder()), progress.job("run", ("churn",)), progress.stage("churn"):
        _job()
    assert started == ["run"]


def test_mlflow_prints_are_silenced_unless_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    from mlflow.utils.logging_utils import eprint

    from snr_models.tracking.verbosity import mlflow_prints, set_mlflow_verbose

    try:
        set_mlflow_verbose(False)
        with mlflow_prints():
            eprint("Successfully registered model 'snr-churn'.")
        assert capsys.readouterr().err == ""
        set_mlflow_verbose(True)
        with mlflow_prints():
            eprint("Successfully registered model 'snr-churn'.")
        assert "Successfully registered" in capsys.readouterr().err
    finally:
        set_mlflow_verbose(True)


@pytest.mark.parametrize("verbose", [False, True])
def test_artifact_download_bar_only_when_verbose(
    verbose: bool, mlflow_store: str, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the retrain gate downloads the champion: under `snr` (not verbose) a piped log must not
    # get MLflow's "Downloading artifacts" bar, which it draws even when stderr is a file
    import mlflow

    from snr_models.tracking.verbosity import set_mlflow_verbose

    (tmp_path / "a.txt").write_text("x")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "a.txt"), "model")
    try:
        set_mlflow_verbose(verbose)
        capsys.readouterr()
        mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=str(tmp_path / "o"))
        assert ("Downloading artifacts" in capsys.readouterr().err) is verbose
    finally:
        set_mlflow_verbose(True)
