"""The exact decomposition: subset R² against refitted regressions, the Shapley axioms, speed.

Expected numbers are recomputed independently in the test (least squares with numpy per
subset; Shapley values by enumerating permutations), or follow from the axioms.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from snr_models.drivers import key_drivers, pseudo_r2_shapley
from snr_models.drivers.bootstrap import bootstrap_correlations
from snr_models.drivers.ordinal import fit_cumulative_logit
from snr_models.drivers.shapley import lmg, relative_weights, shapley_from_subsets, subset_r2


def _data(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p)) * 0.4 + rng.normal(size=(n, p))
    y = X @ rng.normal(size=p) + 2.0 * rng.normal(size=n)
    return X, y


def _ols_r2(X: np.ndarray, y: np.ndarray) -> float:
    design = np.column_stack([np.ones(len(y)), X])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ beta
    return 1.0 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))


def test_subset_r2_equals_refitted_regressions() -> None:
    X, y = _data(400, 5, seed=1)
    corr = np.corrcoef(np.column_stack([y, X]), rowvar=False)
    values = subset_r2(corr[1:, 1:], corr[1:, 0])
    for mask in range(1, 2**5):
        cols = [j for j in range(5) if mask >> j & 1]
        assert values[mask] == pytest.approx(_ols_r2(X[:, cols], y), abs=1e-10)
    assert values[0] == 0.0


def test_shapley_equals_average_over_permutations() -> None:
    # definition: the mean over all p! entry orders of each driver's increment in R²
    X, y = _data(300, 4, seed=2)
    corr = np.corrcoef(np.column_stack([y, X]), rowvar=False)
    phi, r2 = lmg(corr[1:, 1:], corr[1:, 0])
    brute = np.zeros(4)
    orders = list(itertools.permutations(range(4)))
    for order in orders:
        before: list[int] = []
        for j in order:
            r_before = _ols_r2(X[:, before], y) if before else 0.0
            before.append(j)
            brute[j] += _ols_r2(X[:, before], y) - r_before
    assert_allclose(phi, brute / len(orders), atol=1e-10)
    assert r2 == pytest.approx(_ols_r2(X, y), abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(p=st.integers(1, 7), seed=st.integers(0, 10_000))
def test_decompositions_add_up_to_r2(p: int, seed: int) -> None:
    # efficiency: Shapley values and relative weights both sum to the full model's R²
    X, y = _data(60, p, seed)
    corr = np.corrcoef(np.column_stack([y, X]), rowvar=False)
    phi, r2 = lmg(corr[1:, 1:], corr[1:, 0])
    rw, r2_rw = relative_weights(corr[1:, 1:], corr[1:, 0])
    assert phi.sum() == pytest.approx(r2, abs=1e-9)
    assert rw.sum() == pytest.approx(r2, abs=1e-9)
    assert r2_rw == pytest.approx(r2, abs=1e-9)
    assert (rw >= -1e-12).all()


def test_uncorrelated_drivers_get_their_squared_correlations() -> None:
    # with orthogonal drivers every method gives r_j² (no shared variance to split)
    r = np.array([0.1, 0.3, 0.5])
    phi, r2 = lmg(np.eye(3), r)
    rw, _ = relative_weights(np.eye(3), r)
    assert_allclose(phi, r**2)
    assert_allclose(rw, r**2)
    assert r2 == pytest.approx((r**2).sum())


def test_shapley_symmetry_and_null_player() -> None:
    # a driver that adds nothing to any coalition gets 0; interchangeable ones get the same
    values = np.array([0.0, 0.2, 0.2, 0.5, 0.0, 0.2, 0.2, 0.5])  # bit 2 is a null player
    phi = shapley_from_subsets(values)
    assert_allclose(phi, [0.25, 0.25, 0.0])


def test_batched_equals_one_at_a_time() -> None:
    X, y = _data(500, 6, seed=3)
    corrs = bootstrap_correlations(np.column_stack([y, X]), 5, random_state=1)
    phi, r2 = lmg(corrs[:, 1:, 1:], corrs[:, 1:, 0])
    for b in range(5):
        one, r2_one = lmg(corrs[b, 1:, 1:], corrs[b, 1:, 0])
        assert_allclose(phi[b], one, atol=1e-12)
        assert r2[b] == pytest.approx(r2_one)


def test_bootstrap_correlation_equals_resampled_rows() -> None:
    # a replicate's correlation matrix equals np.corrcoef of the rows it drew
    from snr_models.drivers.bootstrap import bootstrap_counts

    rng = np.random.default_rng(4)
    values = rng.normal(size=(200, 3))
    corr = bootstrap_correlations(values, 3, random_state=9, block=2)
    counts = bootstrap_counts(200, 2, np.random.default_rng(9))
    for b in range(2):
        rows = np.repeat(values, counts[b], axis=0)
        assert_allclose(corr[b], np.corrcoef(rows, rowvar=False), atol=1e-12)


def test_shapley_p15_adds_up_to_r2() -> None:
    # p = 15 (the largest case; its speed is measured in benchmarks/bench_drivers.py):
    # the 32,768-subset decomposition adds up to the full model's R^2 (efficiency axiom)
    X, y = _data(5_000, 15, seed=5)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(15)]).assign(y=y)
    res = key_drivers(frame, "y", [f"x{j}" for j in range(15)], n_boot=0)
    assert res.table["importance"].sum() == pytest.approx(res.r2)
    full = np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)[0]
    fitted = np.column_stack([np.ones(len(y)), X]) @ full
    assert res.r2 == pytest.approx(1 - np.var(y - fitted) / np.var(y), abs=1e-10)


def test_bootstrap_500_replicates_give_ordered_intervals() -> None:
    # 500 replicates at p = 12 (speed at n = 50,000 is in benchmarks/bench_drivers.py)
    X, y = _data(5_000, 12, seed=6)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(12)]).assign(y=y)
    res = key_drivers(frame, "y", [f"x{j}" for j in range(12)], n_boot=500)
    assert res.replicates.shape == (500, 12)
    assert res.r2_lo < res.r2 < res.r2_hi
    assert (res.table["importance_hi"] > res.table["importance_lo"]).all()


def test_newton_logit_matches_statsmodels() -> None:
    # the refitting solver against statsmodels: Logit (binary) and OrderedModel (ordinal)
    import statsmodels.api as sm
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rng = np.random.default_rng(7)
    X = rng.normal(size=(800, 3))
    latent = X @ np.array([1.0, -0.5, 0.2]) + rng.logistic(size=800)
    binary = (latent > 0.3).astype(int)
    fit = fit_cumulative_logit(binary, X)
    ref = sm.Logit(binary, sm.add_constant(X)).fit(disp=False)
    assert fit.llf == pytest.approx(ref.llf, abs=1e-6)
    assert_allclose(fit.coef, ref.params[1:], atol=1e-5)
    assert -fit.thresholds[0] == pytest.approx(ref.params[0], abs=1e-5)
    ordered = np.digitize(latent, [-1.0, 0.0, 1.0])
    fit = fit_cumulative_logit(ordered, X)
    ref = OrderedModel(ordered, X, distr="logit").fit(method="bfgs", disp=False, maxiter=1000)
    assert fit.llf == pytest.approx(ref.llf, abs=1e-4)
    assert_allclose(fit.coef, ref.params[:3], atol=1e-3)


def test_pseudo_r2_shapley_adds_up_and_states_its_cost() -> None:
    # efficiency: the shares add up to the full ordinal model's McFadden R², computed here
    # independently as 1 - llf / llf(null) with statsmodels' OrderedModel
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.normal(size=(1500, 4)), columns=list("abcd"))
    latent = frame @ np.array([1.0, 0.6, 0.3, 0.0]) + rng.logistic(size=1500)
    frame["csat"] = np.digitize(latent, [-2.0, -0.7, 0.7, 2.0]) + 1
    res = pseudo_r2_shapley(frame, "csat", list("abcd"))
    assert res.cost["n_fits"] == 2**4 - 1
    assert res.ranking == ["a", "b", "c", "d"]
    ref = OrderedModel(frame["csat"], frame[list("abcd")], distr="logit").fit(
        method="bfgs", disp=False, maxiter=1000
    )
    counts = frame["csat"].value_counts().to_numpy()
    llnull = (counts * np.log(counts / counts.sum())).sum()
    assert res.r2 == pytest.approx(1 - ref.llf / llnull, abs=1e-5)
    assert res.table["importance"].sum() == pytest.approx(res.r2, abs=1e-12)
    assert "model fits" in res.summary()


@pytest.mark.parametrize("outcome", ["binary", "ordinal"])
def test_pattern_fits_equal_refitting_every_row(outcome: str) -> None:
    """Each subset's logit runs on the distinct (outcome, ratings) patterns with their counts
    as frequency weights, warm-started from a nested subset. Independent computation: every
    subset refitted on every response from the default start (the former way), with and
    without bootstrap weights; the pseudo-R² agree to 1e-8. Ratings 1-5 on 5 drivers."""
    from snr_models.drivers.importance import _mcfadden_subsets
    from snr_models.drivers.ordinal import null_loglik

    rng = np.random.default_rng(21)
    ratings = rng.integers(1, 6, size=(3000, 5)).astype(float)
    latent = ratings @ np.array([0.6, 0.4, 0.2, 0.1, 0.0]) + rng.logistic(size=3000)
    cuts = [np.median(latent)] if outcome == "binary" else np.quantile(latent, [0.2, 0.5, 0.8])
    codes = np.digitize(latent, cuts)
    X = (ratings - ratings.mean(axis=0)) / ratings.std(axis=0)
    for weights in (None, rng.integers(1, 4, size=3000).astype(float)):
        llnull = null_loglik(codes, weights)
        expected = np.zeros(2**5)
        for mask in range(1, 2**5):
            cols = [j for j in range(5) if mask >> j & 1]
            expected[mask] = 1 - fit_cumulative_logit(codes, X[:, cols], weights).llf / llnull
        assert_allclose(_mcfadden_subsets(codes, X, weights), expected, rtol=0, atol=1e-8)
