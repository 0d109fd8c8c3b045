"""The client-level bootstrap of the composite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from snr_models.data import Tables
from snr_models.metrics import MetricSpec, net_rate
from snr_models.metrics.bootstrap import (
    _group_matrices,
    _multinomial_weights,
    group_replicates,
    summarise_replicates,
)
from snr_models.metrics.components import client_period_stats
from snr_models.metrics.periods import Window


def _only(component: str) -> MetricSpec:
    weights = {c: (1.0 if c == component else 0.0) for c in ("S", "R", "E")}
    return MetricSpec.model_validate({"components": {c: {"weight": w} for c, w in weights.items()}})


def test_multinomial_weights() -> None:
    # each row is a draw of n clients among n: non-negative integers summing to n,
    # and every client has mean weight 1 (checked on 2,000 rows: SD of the mean ~ 0.02)
    w = _multinomial_weights(np.random.default_rng(1), 50, 2_000)
    assert w.shape == (2_000, 50)
    assert_array_equal(w.sum(axis=1), 50)
    assert_allclose(w.mean(axis=0), 1.0, atol=0.1)
    # Var of a Multinomial(n, 1/n) count: (1 - 1/n) = 0.98
    assert_allclose(w.var(axis=0).mean(), 0.98, rtol=0.05)


@pytest.mark.parametrize("component", ["S", "R", "E"])
def test_bootstrap_se_close_to_analytic(make_random_tables, component: str) -> None:
    # With one response per client, one at-risk indicator per client and independent tickets,
    # the client-level bootstrap SE of a single-component "composite" estimates the same
    # sampling SD as the analytic formula; with B = 1,000 its Monte Carlo error is ~2-3%.
    data = make_random_tables(n_clients=4_000, n_months=4, seed=11)
    r = net_rate(data, _only(component), n_boot=1_000, random_state=7).to_frame()
    assert_allclose(r["net_rate"], r[component], rtol=1e-12)
    ratio = r["net_rate_se"] / r[f"{component}_se"]
    assert ratio.between(0.9, 1.1).all(), ratio.tolist()


def test_reproducible_and_seed_dependent(hand: Tables) -> None:
    a = net_rate(hand, n_boot=300, random_state=42).to_frame()
    b = net_rate(hand, n_boot=300, random_state=42).to_frame()
    c = net_rate(hand, n_boot=300, random_state=43).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["net_rate_se"].iloc[:2], c["net_rate_se"].iloc[:2])
    # bootstrap or not, the point estimates are the same
    assert_allclose(a["net_rate"], net_rate(hand, n_boot=0).to_frame()["net_rate"], rtol=0, atol=0)


def test_percentile_interval_contains_estimate(make_random_tables) -> None:
    data = make_random_tables(n_clients=1_500, n_months=3, seed=5)
    r = net_rate(data, by="segment", freq="M", n_boot=400, random_state=0).to_frame()
    assert (r["net_rate_lo"] < r["net_rate"]).all()
    assert (r["net_rate"] < r["net_rate_hi"]).all()
    # a wider confidence level gives a wider interval from the same replicates
    r80 = net_rate(data, by="segment", freq="M", n_boot=400, random_state=0, alpha=0.2).to_frame()
    assert (r80["net_rate_hi"] - r80["net_rate_lo"] < r["net_rate_hi"] - r["net_rate_lo"]).all()


def test_replicate_equals_recomputation_on_resampled_clients(hand: Tables) -> None:
    # Independent check of one bootstrap replicate: draw the multinomial weights with the
    # same generator, build the resampled data set by copying each client (with all its
    # responses, tickets and its open/close dates) as many times as drawn, and run the
    # ordinary estimator on it. The vectorised replicate must be the same number.
    spec = MetricSpec.default()
    window = Window.between(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01"), 1)
    stats = client_period_stats(hand, spec, window, [])
    (matrix,) = list(_group_matrices(stats))
    reps = group_replicates(matrix, spec, 1, 3, 4, np.random.default_rng(9))
    weights = _multinomial_weights(np.random.default_rng(9), len(hand.clients), 4)
    for b in range(4):
        copies = {name: [] for name in ("clients", "surveys", "tickets", "client_months")}
        for i, cid in enumerate(hand.clients["client_id"]):
            for j in range(int(weights[b, i])):
                for name in copies:
                    frame = getattr(hand, name)
                    part = frame.loc[frame["client_id"] == cid].copy()
                    part["client_id"] = f"{cid}#{j}"
                    copies[name].append(part)
        resampled = Tables(
            **{
                **dict(hand.items()),
                **{n: pd.concat(parts, ignore_index=True) for n, parts in copies.items()},
            }
        )
        direct = net_rate(resampled, spec, n_boot=0, start="2024-01", end="2024-03").to_frame()
        assert_allclose(reps[b], direct["net_rate"].to_numpy(), rtol=1e-12, equal_nan=True)


def test_dense_float32_and_sparse_paths_agree(make_random_tables) -> None:
    # Same weights, two arithmetic paths (dense float32, sparse float64): both exact sums of
    # integers, so the replicates are identical.
    data = make_random_tables(n_clients=800, n_months=3, seed=2)
    spec = MetricSpec.default()
    window = Window.between(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-03-01"), 1)
    (matrix,) = list(_group_matrices(client_period_stats(data, spec, window, [])))
    dense = group_replicates(matrix, spec, 1, 3, 50, np.random.default_rng(0))
    sparse_ = group_replicates(matrix, spec, 1, 3, 50, np.random.default_rng(0), max_dense_bytes=0)
    assert_array_equal(dense, sparse_)
    # chunking B bounds memory without changing the result: the generator's stream is
    # consumed in the same order (here 7 chunks of 8, then 2, replicates)
    chunked = group_replicates(
        matrix, spec, 1, 3, 50, np.random.default_rng(0), max_chunk_entries=800 * 8
    )
    assert_array_equal(chunked, dense)


def test_stratified_by_group_resamples_within_groups(hand: Tables) -> None:
    # Within-group resampling: B1 (the first group, so it draws first from the generator)
    # must get exactly the bootstrap of a data set holding B1's clients alone.
    r = net_rate(hand, by="branch_id", n_boot=200, random_state=1, end="2024-02").to_frame()
    b1_ids = set(hand.clients.loc[hand.clients["branch_id"] == "B1", "client_id"])
    alone = Tables(
        **{
            name: (frame.loc[frame["client_id"].isin(b1_ids)] if "client_id" in frame else frame)
            for name, frame in hand.items()
        }
    )
    b1 = net_rate(alone, n_boot=200, random_state=1, start="2024-01", end="2024-02").to_frame()
    got = r.loc[r["branch_id"] == "B1", ["net_rate", "net_rate_se", "net_rate_lo", "net_rate_hi"]]
    want = b1[["net_rate", "net_rate_se", "net_rate_lo", "net_rate_hi"]]
    assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-12)
    # B2 in January has no counted ticket: its composite, SE and interval are NaN
    b2_jan = r.loc[(r["branch_id"] == "B2")].iloc[0]
    assert np.isnan([b2_jan.net_rate, b2_jan.net_rate_se, b2_jan.net_rate_lo]).all()


def test_summarise_ignores_undefined_replicates() -> None:
    # replicates 1..99 plus one NaN: the NaN is left out; percentile 2.5% of 1..99 = 3.45
    reps = np.append(np.arange(1.0, 100.0), np.nan)[:, None]
    se, lo, hi = summarise_replicates(reps, 0.05)
    assert_allclose([lo[0], hi[0]], [3.45, 96.55])
    assert_allclose(se[0], np.std(np.arange(1.0, 100.0), ddof=1))
