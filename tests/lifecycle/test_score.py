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
from snr_models.errors import SnrInputError
from snr_models.features import build_features
from snr_models.features.signature import check_signature
from snr_models.jobs.score import OUTPUT_COLUMNS, score
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
    np.testing.assert_allclose(fast(X).to_numpy(), exact.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(fast(X).to_numpy(), exact.to_numpy(), atol=1e-10)  # cached
    small = model.explainer(max_cache=10)  # the cache is cleared and refilled
    np.testing.assert_allclose(small(X).to_numpy(), exact.to_numpy(), atol=1e-10)


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
