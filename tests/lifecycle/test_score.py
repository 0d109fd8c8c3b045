"""``snr score``: the call list equals the notebook's predictions, streams in chunks, writes
atomically, checks the signature and refuses a tampered or unregistered model.

The reference for every number is the same registered model used as an analyst would in a
notebook: ``build_features`` then ``predict_proba`` and ``snr_models.churn.top_reasons``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snr_models.churn import risk_deciles
from snr_models.churn.uplift import TwoModelUplift, assignment_propensity, join_outreach
from snr_models.errors import SnrInputError
from snr_models.features import build_features, feature_columns
from snr_models.features.signature import check_signature
from snr_models.jobs.config import UpliftSettings
from snr_models.jobs.score import OUTPUT_COLUMNS, score
from snr_models.simulate import simulate, write_simulation
from snr_models.tracking.models import TamperedModelError, load_registered_model
from tests.lifecycle.cli import run_snr

AS_OF = "2023-12"
URI = "models:/snr-churn@champion"


@pytest.fixture(scope="module")
def notebook(store, worlds):
    """What an analyst gets in a notebook from the champion: features and probabilities."""
    model = load_registered_model(URI).estimator
    frame = build_features(worlds["a"], as_of=AS_OF)
    cols = [str(c) for c in model.feature_names_in_]
    return frame.assign(p=model.predict_proba(frame[cols])[:, 1]), model, cols


def test_scores_equal_the_notebook_row_for_row(
    store, worlds, notebook, tmp_path, monkeypatch, capsys
):
    from snr_models.churn import top_reasons

    frame, model, cols = notebook
    out = tmp_path / "calls.parquet"
    run = run_snr(
        ["score", "--model", URI, "--data", worlds["a"], "--as-of", AS_OF, "--output", out],
        monkeypatch,
        capsys,
    )
    code, text = run.code, run.text
    assert code == 0, text
    written = pd.read_parquet(out)
    assert tuple(written.columns) == OUTPUT_COLUMNS
    assert len(written) == len(frame) and written["client_id"].is_unique
    got = written.set_index("client_id").loc[frame["client_id"]]
    np.testing.assert_array_equal(got["churn_probability"].to_numpy(), frame["p"].to_numpy())
    assert set(got["model_version"]) == {"1"}
    # risk deciles: 1..10, ordered like the probabilities
    assert got["risk_decile"].between(1, 10).all()
    by = got.groupby("risk_decile")["churn_probability"]
    assert (by.max().to_numpy()[:-1] <= by.min().to_numpy()[1:]).all()
    np.testing.assert_array_equal(got["risk_decile"].to_numpy(), risk_deciles(frame["p"]))
    # expected months to exit: the constant-hazard restricted mean of the 3-month probability
    h = 1 - (1 - frame["p"].to_numpy()) ** (1 / 3)
    np.testing.assert_allclose(got["expected_months_to_exit"], (1 - (1 - h) ** 120) / h)
    # reasons: the same sentences as top_reasons (exact TreeSHAP) on a sample of clients
    sample = frame.head(120)
    expected = top_reasons(model, sample[cols], n=3)
    for j in (1, 2, 3):
        want = expected[f"reason_{j}"].to_numpy()
        have = got[f"reason_{j}"].to_numpy()[:120]
        assert [w or None for w in want] == [h_ or None for h_ in have]


def test_fast_tree_shap_equals_exact(notebook):
    frame, model, cols = notebook
    X = frame[cols].head(150)
    exact, _ = model.shap_values(X)
    fast = model.explainer()
    p, values = fast(X)
    np.testing.assert_array_equal(p, model.predict_proba(X)[:, 1])
    np.testing.assert_allclose(values.to_numpy(), exact.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(fast(X)[1].to_numpy(), exact.to_numpy(), atol=1e-10)  # cached
    small = model.explainer(max_cache=10)  # the cache is cleared and refilled
    np.testing.assert_allclose(small(X)[1].to_numpy(), exact.to_numpy(), atol=1e-10)


def test_chunks_change_nothing_and_a_failure_harms_no_output(store, worlds, tmp_path, monkeypatch):
    import snr_models.jobs.score as score_module

    whole = score(URI, worlds["a"], AS_OF, tmp_path / "whole.parquet")
    chunked = score(URI, worlds["a"], AS_OF, tmp_path / "chunked.parquet", chunk_size=97)
    assert whole.n_clients == chunked.n_clients
    a = pd.read_parquet(whole.output).sort_values("client_id", ignore_index=True)
    b = pd.read_parquet(chunked.output).sort_values("client_id", ignore_index=True)
    pd.testing.assert_frame_equal(a, b)

    # a failure after some chunks: the existing output is untouched, no partial file
    target = tmp_path / "chunked.parquet"
    before = target.read_bytes()
    real = score_module.score_frame
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(score_module, "score_frame", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        score(URI, worlds["a"], AS_OF, target, chunk_size=97)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chunked.parquet", "whole.parquet"]


def test_signature_check_names_missing_and_wrong_columns(notebook, store):
    frame, _, _ = notebook
    inputs = load_registered_model(URI).inputs
    assert ("tenure_months", "double") in inputs
    bad = frame.drop(columns=["tenure_months"]).assign(latest_csat="high")
    with pytest.raises(SnrInputError, match="signature") as info:
        check_signature(bad, inputs)
    assert "tenure_months" in str(info.value) and "latest_csat (expected double" in str(info.value)
    assert check_signature(frame, inputs) == []


def test_tampered_or_unregistered_model_is_refused(store, worlds, tmp_path, monkeypatch, capsys):
    files = list((store / "mlruns").rglob("model.skops"))
    assert len(files) == 1
    original = files[0].read_bytes()
    try:
        files[0].write_bytes(original + b"\0")
        with pytest.raises(TamperedModelError, match="differs from the registry's record"):
            load_registered_model(URI)
        out = tmp_path / "x.parquet"
        run = run_snr(
            ["score", "--model", URI, "--data", worlds["a"], "--as-of", AS_OF, "--output", out],
            monkeypatch,
            capsys,
        )
        code, text = run.code, run.text
        assert code == 2 and "SHA-256" in text and not out.exists()
    finally:
        files[0].write_bytes(original)
    assert load_registered_model(URI).version == "1"
    with pytest.raises(SnrInputError, match="registered model"):
        score("runs:/0123/model", worlds["a"], AS_OF, tmp_path / "y.parquet")
    with pytest.raises(SnrInputError, match="no @nobody"):
        score("models:/snr-churn@nobody", worlds["a"], AS_OF, tmp_path / "y.parquet")


@pytest.fixture(scope="module")
def broken_world(worlds, tmp_path_factory):
    """World ``a`` with text in a numeric column and a duplicated (client_id, month) row."""
    import shutil

    root = tmp_path_factory.mktemp("broken") / "world"
    shutil.copytree(worlds["a"], root)
    months = pd.read_parquet(root / "client_months.parquet")
    months = pd.concat([months, months.iloc[[3]]], ignore_index=True)
    text = months["financing_balance"].map(lambda v: f"{v:.2f}")
    months["financing_balance"] = text
    months.to_parquet(root / "client_months.parquet", index=False)
    return root


def test_score_validates_what_it_reads(store, broken_world, tmp_path, monkeypatch, capsys):
    """Same problems, same words as ``snr validate`` (the reference), exit 2, no output."""
    from snr_models.data.contract import ContractError
    from snr_models.data.contract_sql import validate_parquet
    from snr_models.data.io import load

    with pytest.raises(ContractError) as pandas_err:
        load(broken_world)
    with pytest.raises(ContractError) as sql_err:
        validate_parquet(broken_world)
    assert [p.check for p in pandas_err.value.problems] == ["duplicate_key", "dtype"]
    assert str(sql_err.value) == str(pandas_err.value)
    out = tmp_path / "x.parquet"
    args = ["score", "--model", URI, "--data", broken_world, "--as-of", AS_OF, "--output", out]
    run = run_snr(args, monkeypatch, capsys)
    validated = run_snr(["validate", "--data", broken_world], monkeypatch, capsys)
    assert run.code == 2 == validated.code and not out.exists()
    for line in str(pandas_err.value).splitlines()[1:]:
        assert line.strip() in " ".join(run.text.split()), line
    assert "Traceback" not in run.text


SCORE_WRAPPER = """
import os, sys, time
from pathlib import Path

marker, *args = sys.argv[1:]
from snr_models.jobs import score

def write_scored(parts, output, staging=None, **kwargs):
    Path(marker).write_text(str(os.getpid()))
    time.sleep(600)

score.write_scored = write_scored
sys.argv = ["snr", *args]
from snr_models.cli import main

main()
"""


def test_kill_9_leaves_staging_that_the_next_run_removes(
    store, worlds, tmp_path, snr_process, monkeypatch, capsys
):
    """A ``snr score`` killed with SIGKILL after staging its features (client ids): the
    staging folder is the only thing left, and the next run removes it."""
    import os
    import signal
    import time

    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(SCORE_WRAPPER)
    marker, calls = tmp_path / "marker", tmp_path / "calls"
    out = calls / "x.parquet"
    args = ["score", "--model", URI, "--data", worlds["a"], "--as-of", AS_OF, "--output", out]
    proc = snr_process([str(wrapper), str(marker), *map(str, args)], tmp_path)
    deadline = time.monotonic() + 240
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the child never reached the scoring step"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    left = list(calls.iterdir())
    assert len(left) == 1 and left[0].name.startswith(".x.parquet.staging-")
    assert (left[0] / "features.parquet").exists()
    run = run_snr(args, monkeypatch, capsys)
    assert run.code == 0, run.text
    assert [p.name for p in calls.iterdir()] == ["x.parquet"]


# --rank uplift|value: the call list ordered by the exits a call prevents. The reference is what
# an analyst computes in a notebook: ``join_outreach`` on the data's campaigns,
# ``TwoModelUplift`` fitted on the labelled ones, ``predict`` on the as-of features; the call
# value from its definition (``uplift x (client_value + value_per_balance x
# financing_balance) - call_cost``, the configuration's numbers). Here, beside the other
# scoring tests, to share their champion.


@pytest.fixture(scope="module")
def campaign_world(tmp_path_factory):
    """World ``a``'s configuration with retention campaigns from its fourth month."""
    result = simulate(
        n_clients=1500,
        n_branches=3,
        n_months=14,
        seed=2,
        truth=False,
        campaigns={"enabled": True, "first_month": 3, "share": 0.3},
    )
    return write_simulation(result, tmp_path_factory.mktemp("campaigns") / "world"), result


def test_rank_uplift_and_value_equal_the_notebook(store, campaign_world, tmp_path):
    path, result = campaign_world
    settings = UpliftSettings(client_value=1500.0, value_per_balance=0.01, call_cost=25.0)
    risk = score(URI, path, AS_OF, tmp_path / "risk.parquet")
    by_uplift = score(URI, path, AS_OF, tmp_path / "u.parquet", rank="uplift", uplift=settings)
    by_value = score(URI, path, AS_OF, tmp_path / "v.parquet", rank="value", uplift=settings)
    plain = pd.read_parquet(risk.output)
    assert tuple(plain.columns) == OUTPUT_COLUMNS  # --rank risk: the call list as before
    u = pd.read_parquet(by_uplift.output)
    v = pd.read_parquet(by_value.output)
    assert tuple(u.columns) == (*OUTPUT_COLUMNS, "uplift", "call_value", "call_rank")
    # the risk columns and the three reasons are unchanged by the ranking (row order may
    # differ between runs: the features are written in client buckets)
    pd.testing.assert_frame_equal(
        u[list(OUTPUT_COLUMNS)].sort_values("client_id", ignore_index=True),
        plain.sort_values("client_id", ignore_index=True),
    )

    # the notebook: the same learner on the same campaigns, by hand
    tables = result.tables
    eves = sorted(
        {
            f"{m - pd.offsets.MonthBegin(1):%Y-%m}"
            for m in tables.outreach["contacted_at"].dt.to_period("M").dt.to_timestamp()
            if m <= pd.Timestamp(AS_OF)
        }
    )
    features = build_features(tables, as_of=eves, horizon=3)
    outreach = tables.outreach[tables.outreach["contacted_at"] < pd.Timestamp("2024-01-01")]
    rows, _ = join_outreach(features, outreach)
    # labels known by the as-of month: the eve plus the 3-month horizon is not after it
    rows = rows[
        rows["churn"].notna() & (rows["as_of"] <= pd.Timestamp(AS_OF) - pd.offsets.MonthBegin(3))
    ]
    cols = feature_columns(rows)
    model = TwoModelUplift().fit(
        rows[cols],
        rows["churn"],
        rows["_treatment"],
        propensity=assignment_propensity(rows["_treatment"], rows["_campaign_id"]),
    )
    now = build_features(tables, as_of=AS_OF).set_index("client_id").loc[u["client_id"]]
    expected = model.predict(now[cols])
    np.testing.assert_allclose(u["uplift"].to_numpy(), expected, rtol=1e-9, atol=1e-12)
    value = expected * (1500.0 + 0.01 * now["financing_balance"].fillna(0).to_numpy()) - 25.0
    got = v.set_index("client_id").loc[u["client_id"], "call_value"].to_numpy()
    np.testing.assert_allclose(got, value, rtol=1e-9)

    # call_rank: 1..n, the first call has the highest uplift (resp. value)
    for frame, column in ((u, "uplift"), (v, "call_value")):
        ordered = frame.sort_values("call_rank")
        assert ordered["call_rank"].tolist() == list(range(1, len(frame) + 1))
        assert ordered[column].is_monotonic_decreasing
    assert (u["uplift"] < 0).any() and (u["uplift"] > 0).any()  # sleeping dogs are ranked last


def test_rank_uplift_without_campaigns_exits_2(store, worlds, tmp_path, monkeypatch, capsys):
    out = tmp_path / "calls.parquet"
    run = run_snr(
        [
            "score",
            "--model",
            URI,
            "--data",
            worlds["a"],
            "--as-of",
            AS_OF,
            "--output",
            out,
            "--rank",
            "uplift",
        ],
        monkeypatch,
        capsys,
    )
    assert run.code == 2, run.text
    assert "outreach" in run.text and "Traceback" not in run.text
    assert not out.exists()
