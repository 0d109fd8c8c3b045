"""The churn estimators: sklearn contract, statsmodels reference, exact reasons, survival maths."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

import snr_models.churn.treeshap as treeshap
from snr_models.churn import (
    AdditivityError,
    ChurnBoost,
    ChurnLogit,
    HazardModel,
    UnseenCategoryWarning,
    explain,
    top_reasons,
)
from snr_models.churn.treeshap import TreeExplainer, tree_shap_rows


# Every check applies and passes: arrays are accepted beside frames (all columns numeric),
# so no check is skipped. Small boosting settings keep the checks fast.
@parametrize_with_checks(
    [ChurnLogit(), ChurnBoost(max_iter=5, max_leaf_nodes=4, min_samples_leaf=2), HazardModel()],
)
def test_sklearn_estimator_checks(estimator, check):
    """scikit-learn's own contract checks (estimator_checks), skips listed in _SKIP."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def _frame(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "segment": pd.Series(rng.choice(["retail", "high_net_worth"], n), dtype="str"),
            "as_of": np.repeat(pd.date_range("2024-01-01", periods=5, freq="MS"), n // 5),
        }
    )
    X.loc[::9, "z"] = np.nan
    eta = -1 + 1.2 * X["x"] + 0.6 * (X["segment"] == "retail") + 0.4 * X["z"].fillna(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y


def test_logit_matches_statsmodels_without_penalty():
    """With C = inf the fit is maximum likelihood: statsmodels Logit on the same design gives
    the same coefficients and standard errors (independent implementation)."""
    X, y = _frame()
    model = ChurnLogit(C=np.inf).fit(X, y)
    design = model.design_.transform(X)
    ref = sm.Logit(y, sm.add_constant(np.asarray(design, dtype=float))).fit(disp=0)
    table = model.inference_table()
    np.testing.assert_allclose(table["coef"], ref.params, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(table["se"], ref.bse, rtol=1e-3)
    ci = np.asarray(ref.conf_int(0.05))
    np.testing.assert_allclose(table["coef_lo"], ci[:, 0], rtol=1e-3, atol=1e-4)
    assert "odds_ratio" in model.summary() or "coef" in model.summary()


def test_logit_and_boost_in_pipeline_and_grid_search():
    """They compose: a Pipeline step before them and GridSearchCV over their parameters."""
    X, y = _frame()
    X = X.drop(columns="as_of")
    pipe = Pipeline([("id", FunctionTransformer(lambda d: d)), ("model", ChurnLogit())])
    search = GridSearchCV(pipe, {"model__C": [0.01, 1.0]}, cv=3, scoring="roc_auc").fit(X, y)
    assert search.best_params_["model__C"] in (0.01, 1.0)
    assert search.predict_proba(X).shape == (len(X), 2)
    boost = GridSearchCV(ChurnBoost(max_iter=10), {"learning_rate": [0.1, 0.3]}, cv=2).fit(X, y)
    assert boost.best_estimator_.max_iter == 10


def test_unseen_category_warns_with_a_clear_message():
    X, y = _frame()
    for model in (ChurnLogit().fit(X, y), ChurnBoost(max_iter=10).fit(X, y)):
        new = X.head(3).assign(segment=pd.Series(["vip", "retail", "vip"], dtype="str"))
        with pytest.warns(UnseenCategoryWarning, match=r"segment: 1 category unseen.*'vip'.*2 row"):
            p = model.predict_proba(new)[:, 1]
        assert np.isfinite(p).all()


def test_logit_contributions_are_exact():
    """base + sum of contributions reproduces the log-odds exactly (linear model algebra)."""
    X, y = _frame()
    model = ChurnLogit().fit(X, y)
    contrib, base = explain(model, X.head(50))
    np.testing.assert_allclose(
        base + contrib.sum(axis=1), model.decision_function(X.head(50)), atol=1e-10
    )
    assert list(contrib.columns) == ["x", "z", "segment"]


def _brute_force_shap(nodes, x, n_features):
    """Shapley values by enumerating feature subsets, with the path-dependent value function
    v(S) = E[f(x) | x_S] where unknown features follow both children weighted by the node
    counts (Lundberg et al. 2018, Algorithm 1): an independent computation of TreeSHAP."""

    def value(node, S):
        if nodes["is_leaf"][node]:
            return nodes["value"][node]
        f = nodes["feature_idx"][node]
        left, right = nodes["left"][node], nodes["right"][node]
        if f in S:
            v = x[f]
            go_left = (
                nodes["missing_go_to_left"][node]
                if np.isnan(v)
                else v <= nodes["num_threshold"][node]
            )
            return value(left if go_left else right, S)
        c = nodes["count"].astype(float)
        return (c[left] * value(left, S) + c[right] * value(right, S)) / c[node]

    phi = np.zeros(n_features)
    features = list(range(n_features))
    for i in features:
        others = [j for j in features if j != i]
        for size in range(len(others) + 1):
            for S in itertools.combinations(others, size):
                w = (
                    math.factorial(size)
                    * math.factorial(n_features - size - 1)
                    / math.factorial(n_features)
                )
                phi[i] += w * (value(0, set(S) | {i}) - value(0, set(S)))
    return phi


def test_treeshap_equals_brute_force_shapley_values():
    """Our TreeSHAP on real HGB trees equals exhaustive Shapley values (4 features)."""
    X, y = _frame(800)
    model = ChurnBoost(max_iter=5, max_leaf_nodes=8, calibration=None).fit(X, y)
    Z = model._design(X.head(5))
    for nodes in (p[0].nodes for p in model.model_._predictors[:3]):
        phi = tree_shap_rows(nodes, Z, Z.shape[1])  # every row at once
        for row, values in zip(Z, phi, strict=True):
            expected = _brute_force_shap(nodes, row, Z.shape[1])
            np.testing.assert_allclose(values, expected, atol=1e-10)


@pytest.mark.parametrize("max_tabulated", [treeshap.MAX_TABULATED, 0])
def test_tree_explainer_equals_brute_force_shapley_values(monkeypatch, max_tabulated):
    """The ensemble explainer (decision patterns cached across calls, leaf tables) gives the
    exhaustive Shapley values of every tree, summed (an independent computation), on rows
    with missing values: on a first call, on a second (cached) call, with a cache too small
    to keep the patterns, without a cache, and with no leaf tabulated (every leaf evaluated
    on the patterns met)."""
    monkeypatch.setattr(treeshap, "MAX_TABULATED", max_tabulated)
    X, y = _frame(800)
    model = ChurnBoost(max_iter=6, max_leaf_nodes=8, calibration=None).fit(X, y)
    Z = model._design(X.head(40))
    assert np.isnan(Z).any()
    trees = [p[0].nodes for p in model.model_._predictors]
    expected = np.array(
        [sum(_brute_force_shap(nodes, row, Z.shape[1]) for nodes in trees) for row in Z]
    )
    cached = TreeExplainer(trees)
    for explainer in (cached, cached, TreeExplainer(trees, max_cache=3), TreeExplainer(trees, 0)):
        np.testing.assert_allclose(explainer(Z[:25]), expected[:25], atol=1e-10)
        np.testing.assert_allclose(explainer(Z[25:]), expected[25:], atol=1e-10)
    # additivity: the expected value plus the values is the model's raw log-odds
    raw = model.model_.decision_function(Z)
    base = model.model_._baseline_prediction.ravel()[0] + cached.expected_value()
    np.testing.assert_allclose(base + cached(Z).sum(axis=1), raw, atol=1e-10)


def test_scoring_explainer_checks_additivity():
    """The scoring explainer returns predict_proba's probabilities and the SHAP values, and
    raises when the values do not add up to the model's output (here: a tree's leaf value
    changed after the explainer was made, so its tables no longer match the model)."""
    X, y = _frame(800)
    model = ChurnBoost(max_iter=6, max_leaf_nodes=8).fit(X, y)
    p, values = model.explainer()(X.head(30))
    np.testing.assert_array_equal(p, model.predict_proba(X.head(30))[:, 1])
    np.testing.assert_allclose(values.to_numpy(), model.shap_values(X.head(30))[0], atol=1e-10)
    explainer = model.explainer()
    nodes = model.model_._predictors[0][0].nodes
    nodes["value"][nodes["is_leaf"].astype(bool)] += 0.5
    with pytest.raises(AdditivityError, match="not exact"):
        explainer(X.head(30))


def test_boost_shap_values_add_up_and_reasons_read_well():
    """Additivity is checked inside shap_values; reasons name the driving feature."""
    X, y = _frame()
    model = ChurnBoost(max_iter=30).fit(X, y)
    values, base = model.shap_values(X.head(20))
    np.testing.assert_allclose(base + values.sum(axis=1), model.raw_log_odds(X.head(20)), atol=1e-6)
    risky = X.assign(x=3.0).head(5)
    reasons = top_reasons(model, risky, n=3)
    assert (reasons["feature_1"] == "x").all()
    assert reasons["reason_1"].iloc[0] == "x 3"


def test_boost_calibration_is_fitted_on_the_latest_months():
    """With 5 as-of months and calibration_fraction 0.25, the last 2 months calibrate
    (ceil(0.25 * 5) = 2): 600 of 1500 rows."""
    X, y = _frame()
    model = ChurnBoost(max_iter=10).fit(X, y)
    assert (model.n_train_, model.n_calibration_) == (900, 600)


def test_isotonic_calibration_never_returns_0_or_1():
    """A feature that separates churners perfectly: plain isotonic calibration gives
    p = 0 and p = 1 exactly (as 6 of 18 clients given p = 1 stayed on IBM's HR data); the
    shrunk blocks stay within [1 / (m + 2), (m + 1) / (m + 2)] for m calibration rows, and a
    pure block of n rows gets exactly (n + 1) / (n + 2) (Laplace's rule)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=2000)
    y = (x > 0.8).astype(int)
    X = pd.DataFrame({"x": x})
    model = ChurnBoost(max_iter=20, calibration="isotonic").fit(X, y)
    p = model.predict_proba(X)[:, 1]
    m = model.n_calibration_
    assert p.min() > 0 and p.max() < 1
    assert p.min() >= 1 / (m + 2) - 1e-12 and p.max() <= (m + 1) / (m + 2) + 1e-12
    # the hole: plain isotonic regression on the same calibration slice gives exactly 0 and 1
    from sklearn.isotonic import IsotonicRegression

    mask = model._calibration_mask(X, y.astype(float))
    raw = model.raw_log_odds(X)
    plain = IsotonicRegression(out_of_bounds="clip").fit(raw[mask], y[mask]).predict(raw)
    assert plain.min() == 0.0 and plain.max() == 1.0


def test_without_time_column_calibration_slice_is_random_and_stratified():
    """Rows sorted by target (all churners last) and by an id: the calibration slice holds
    the overall share of churners, and the calibrated probabilities average the base rate
    (calibration-in-the-large). Before, the last 25% of rows, all churners, calibrated."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(x - 2)))).astype(int)
    order = np.argsort(y, kind="stable")  # sorted by target
    X, y = pd.DataFrame({"x": x[order]}), y[order]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "single class" warning
        model = ChurnBoost(max_iter=20, time_column="as_of").fit(X, y)
    mask = model._calibration_mask(X, y.astype(float))
    assert abs(y[mask].mean() - y.mean()) < 1 / mask.sum() + 1e-3
    assert abs(mask.mean() - 0.25) < 1e-3
    p = model.predict_proba(X)[:, 1]
    assert abs(p.mean() - y.mean()) < 0.02


def test_hazard_survival_maths():
    """Without a duration feature the hazard h is constant: S(k) = (1 - h)^k, and the
    restricted mean months to exit is sum_{k<K} (1-h)^k = (1 - (1-h)^K) / h (geometric sum);
    conditioning on survived months changes nothing (memoryless)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=3000)})
    y = (rng.random(3000) < 0.05 * np.exp(0.7 * X["x"])).astype(int)
    model = HazardModel(max_months=24, horizon=3).fit(X, y)
    h = model.hazard(X.head(4))
    surv = model.survival_function(X.head(4), months=6)
    np.testing.assert_allclose(surv[6], (1 - h) ** 6)
    np.testing.assert_allclose(model.expected_months_to_exit(X.head(4)), (1 - (1 - h) ** 24) / h)
    np.testing.assert_allclose(model.predict_proba(X.head(4))[:, 1], 1 - (1 - h) ** 3)
    assert model.inference_table().loc["x", "coef"] > 0


def test_hazard_conditional_on_months_survived():
    """With tenure in the model, S(k | survived c) = S(c + k) / S(c) (definition)."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=4000), "tenure_months": rng.integers(1, 60, 4000)})
    y = (rng.random(4000) < 0.08 * np.exp(0.5 * X["x"] - 0.02 * X["tenure_months"])).astype(int)
    model = HazardModel().fit(X, y)
    full = model.survival_function(X.head(3), months=10).to_numpy()
    cond = model.survival_function(X.head(3), months=7, conditional_after=3).to_numpy()
    np.testing.assert_allclose(cond, full[:, 3:] / full[:, [2]], rtol=1e-10)
    # survival curves decrease; surviving longer (lower hazard with tenure) means a longer wait
    assert (np.diff(full, axis=1) <= 0).all()
    assert (
        model.expected_months_to_exit(X.head(3), conditional_after=12)
        > model.expected_months_to_exit(X.head(3))
    ).all()


def test_median_imputer_matches_scikit_learns_simple_imputer():
    """Reference: scikit-learn's SimpleImputer(median, add_indicator, keep_empty_features),
    which the design used before; same values, same indicator columns, same names."""
    from sklearn.impute import SimpleImputer

    from snr_models.churn.design import MedianImputer

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(500, 5)), columns=list("abcde"))
    X.loc[rng.random(500) < 0.3, "a"] = np.nan
    X.loc[rng.random(500) < 0.01, "c"] = np.nan
    X["d"] = np.nan  # never observed: imputed with 0
    X.loc[:249, "e"] = X.loc[:249, "e"].round()  # ties: an even count of equal middles
    new = X.iloc[:50].copy()
    new["b"] = np.nan  # missing only at transform time: filled, no indicator
    reference = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    reference.fit(X)
    mine = MedianImputer().fit(X)
    for frame in (X, new):
        np.testing.assert_array_equal(mine.transform(frame), reference.transform(frame))
    assert list(mine.get_feature_names_out()) == list(reference.get_feature_names_out())


def _rare(n=24_000, seed=3):
    """Rare exits (about 3%) driven by ``x`` and the segment: a case for negative subsampling."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "segment": pd.Series(rng.choice(["retail", "high_net_worth"], n), dtype="str"),
            "as_of": np.repeat(pd.date_range("2024-01-01", periods=8, freq="MS"), n // 8),
        }
    )
    eta = -4 + 0.8 * X["x"] + 0.5 * (X["segment"] == "retail")
    return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)


def test_negative_subsample_keeps_every_exit_and_reweights_the_stayers():
    """Every positive kept with weight 1; the kept negatives weigh n0 / kept, so the weights
    add up to the number of rows (the Horvitz-Thompson count)."""
    from snr_models.churn.base import negative_subsample

    y = (np.random.default_rng(0).random(10_000) < 0.03).astype(float)
    rows, w = negative_subsample(y, 0.1, random_state=1)
    assert set(np.flatnonzero(y == 1)) <= set(rows)
    assert (w[y[rows] == 1] == 1).all()
    assert w.sum() == pytest.approx(len(y))
    assert (y[rows] == 0).sum() == round(0.1 * (y == 0).sum())
    assert negative_subsample(y, 1.0)[1] is None
    with pytest.raises(ValueError, match="negative_fraction"):
        negative_subsample(y, 0.0)


@pytest.mark.parametrize(
    "make", [lambda f: ChurnLogit(negative_fraction=f), lambda f: HazardModel(negative_fraction=f)]
)
def test_logit_on_a_fifth_of_the_stayers_matches_the_full_fit(make):
    """Weighted case-control fit: the coefficients agree with the fit on every row within
    their standard errors (the sandwich's, which are wider), and the probabilities stay
    calibrated (mean predicted = the full fit's, no intercept shift of log 0.2)."""
    X, y = _rare()
    full, sub = make(1.0).fit(X, y), make(0.2).fit(X, y)
    t_full, t_sub = full.inference_table(), sub.inference_table()
    gap = (t_sub["coef"] - t_full["coef"]).abs()
    assert (gap < 2 * t_sub["se"]).all()
    assert (t_sub["se"] >= t_full["se"] * 0.95).all()
    p, p_full = sub.predict_proba(X)[:, 1], full.predict_proba(X)[:, 1]
    assert p.mean() == pytest.approx(p_full.mean(), rel=0.1)
    np.testing.assert_array_less(0.98, np.corrcoef(p, p_full)[0, 1])


def test_boost_on_a_fifth_of_the_stayers_stays_calibrated():
    """The trees see a fifth of the stayers (weighted up); the calibration slice is whole,
    so the probabilities' mean is the exit rate and the ranking is the full fit's."""
    X, y = _rare()
    kwargs = {"max_iter": 30, "min_samples_leaf": 50}
    full = ChurnBoost(**kwargs).fit(X, y)
    sub = ChurnBoost(negative_fraction=0.2, **kwargs).fit(X, y)
    assert sub.n_train_ < 0.3 * full.n_train_
    assert sub.n_calibration_ == full.n_calibration_
    p = sub.predict_proba(X)[:, 1]
    assert p.mean() == pytest.approx(y.mean(), rel=0.1)
    np.testing.assert_array_less(0.9, np.corrcoef(p, full.predict_proba(X)[:, 1])[0, 1])
