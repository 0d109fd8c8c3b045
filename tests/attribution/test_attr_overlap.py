"""Overlapping programmes: the imputation (BJS) estimator with programme interactions, the
Shapley waterfall, and the simulator's Shapley truth.

Where the expected numbers come from:

- the two-stage imputation against an independent computation: statsmodels' OLS with branch and
  month dummies on the untreated branch-months, predicted for the treated (to 1e-6), and BJS's
  equivalence (their Theorem 1): least squares with one dummy per treated branch-month gives the
  same effects as the imputation;
- on roll-outs that never overlap, the answer must be today's additive waterfall exactly (the
  interaction model has no interaction to estimate);
- the Shapley shares add up to the programmes' total exactly (efficiency of the Shapley value);
- ``truth.json``'s ``change.shapley`` must add up to ``change.joint_contribution``, and
  ``shapley_values`` is checked on a hand-computed two-player game.

The coverage of the intervals over 100 worlds is ``benchmarks/attribution_coverage.py``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from snr_models.attribution import (
    attribute_change,
    build_panel,
    estimate_joint,
    estimate_overlap,
)
from snr_models.attribution.overlap import (
    clipped_fixed_point,
    impute_untreated,
    substitutes_dividend,
)
from snr_models.attribution.regression import fe_ols
from snr_models.simulate import simulate
from snr_models.simulate.truth import shapley_values
from tests.attribution.pilot_worlds import small_pilot


@pytest.fixture(scope="module")
def world():
    # the AI assistant piloted in a tenth of the branches at half intensity: the pilot's
    # placebo spread and the scaling by intensity are exercised (pilot_worlds)
    return small_pilot(n_clients=6_000, n_branches=24, n_months=24, seed=5)


@pytest.fixture(scope="module")
def panel(world):
    return build_panel(world.tables)


@pytest.fixture(scope="module")
def overlap(panel):
    return estimate_overlap(panel)


def test_truth_shapley_values_add_up_to_the_joint_contribution(world) -> None:
    change = world.truth["change"]
    assert set(change["shapley"]) == set(world.truth["interventions"])
    assert sum(change["shapley"].values()) == pytest.approx(change["joint_contribution"], abs=1e-12)
    # the joint contribution plus the change without any intervention is the observed change
    assert change["joint_contribution"] + change["without_interventions"] == pytest.approx(
        change["total"], abs=1e-12
    )


def test_shapley_values_of_a_three_player_game() -> None:
    # v(S) = |S|^2 for S in {a, b, c} (symmetric): each gets 9 / 3; computed by hand
    def pooled(value: float) -> dict:
        return {"first": {"net_rate": 0.0}, "last": {"net_rate": value}}

    everyone = {"a", "b", "c"}
    off = {}
    for k in range(1, 4):
        for gone in __import__("itertools").combinations(sorted(everyone), k):
            on = everyone - set(gone)
            off[frozenset(gone)] = pooled(float(len(on) ** 2))
    phi = shapley_values(pooled(9.0), off)
    assert phi == pytest.approx({"a": 3.0, "b": 3.0, "c": 3.0})


def test_two_stage_imputation_matches_statsmodels_dummy_regression(panel) -> None:
    # independent computation: OLS of Y on branch and month dummies over the untreated
    # branch-months (statsmodels), predicted for the treated ones whose month has untreated data
    out = impute_untreated(panel, "net_rate")
    frame = panel.frame.dropna(subset=["net_rate"]).reset_index(drop=True)
    treated = (frame[list(panel.interventions)] > 0).any(axis=1)
    untreated = frame[~treated]
    fit = smf.ols("net_rate ~ C(branch_id) + C(period)", data=untreated).fit()
    known = frame["period"].isin(untreated["period"]) & frame["branch_id"].isin(
        untreated["branch_id"]
    )
    pred = fit.predict(frame[treated & known])
    mine = out.set_index(frame.index)
    assert mine.loc[treated & known, "imputable"].all()
    np.testing.assert_allclose(mine.loc[treated & known, "y0"], pred, atol=1e-6)
    np.testing.assert_allclose(
        mine.loc[treated & known, "tau"], frame.loc[treated & known, "net_rate"] - pred, atol=1e-6
    )
    # months without any untreated branch-month cannot be imputed from untreated data alone
    assert not mine.loc[treated & ~known, "imputable"].any()
    assert mine.loc[treated & ~known, "tau"].isna().all()


def test_imputation_equals_least_squares_with_a_dummy_per_treated_branch_month(panel) -> None:
    # BJS (2024), Theorem 1: with a free effect for every treated observation, least squares on
    # all observations with unit and time effects is the imputation estimator
    out = impute_untreated(panel, "net_rate")
    frame = panel.frame.dropna(subset=["net_rate"]).reset_index(drop=True)
    ok = out["imputable"] | ~out["treated"]
    data = frame[ok.to_numpy()].reset_index(drop=True)
    cells = out[ok & out["treated"]].reset_index(drop=True)
    names = [f"d{i}" for i in range(len(cells))]
    dummies = np.zeros((len(data), len(cells)))
    key = pd.MultiIndex.from_frame(data[["branch_id", "period"]])
    rows = key.get_indexer(pd.MultiIndex.from_frame(cells[["branch_id", "period"]]))
    dummies[rows, np.arange(len(cells))] = 1.0
    data = pd.concat([data, pd.DataFrame(dummies, columns=names)], axis=1)
    fit = fe_ols(data, "net_rate", names, fixed_effects=["branch_id", "period"], vcov=False)
    np.testing.assert_allclose(fit.params.to_numpy(), cells["tau"].to_numpy(), atol=1e-6)


def test_shapley_steps_add_up_to_the_programmes_total_and_the_change(panel, overlap) -> None:
    wf = attribute_change(panel, effects=overlap, overlap="shapley")
    for comp in ("S", "R", "E", "net_rate"):
        steps = wf.table[wf.table["component"] == comp].set_index("step")["value"]
        together = wf.together(comp)
        shares = steps[list(overlap.programmes)].sum()
        assert shares == pytest.approx(together.loc["programmes_total", "value"], abs=1e-10)
        assert steps["start"] + steps.drop(["start", "end"]).sum() == pytest.approx(
            steps["end"], abs=1e-10
        )
        # the no-programme change is the market-and-trend step plus the mix
        assert together.loc["no_programme_change", "value"] == pytest.approx(
            steps["market_and_trend"] + steps["mix"], abs=1e-10
        )
    # every step with an estimate has an interval
    est = wf.table[wf.table["kind"].isin(["intervention", "no_programme"])]
    assert (est["lo"] < est["value"]).all() and (est["value"] < est["hi"]).all()
    # the separate form: own cells plus one overlap step give the same total
    sep = attribute_change(panel, effects=overlap, overlap="separate")
    nr = sep.table[sep.table["component"] == "net_rate"].set_index("step")["value"]
    total = (
        nr[[*overlap.programmes, "overlap"]].sum()
        if "overlap" in nr
        else nr[list(overlap.programmes)].sum()
    )
    assert total == pytest.approx(wf.together().loc["programmes_total", "value"], abs=1e-10)


def test_interactions_are_estimated_or_pooled_with_a_reason(overlap) -> None:
    terms = overlap.terms
    assert set(terms["status"]) <= {"estimated", "pooled"}
    assert (terms.loc[terms["status"] == "pooled", "reason"].str.len() > 0).all()
    # a firm-wide programme's interactions count only its pilot's branch-months, and the pilot
    # (10% of branches) is below the 8 branches needed
    ai = terms[terms["term"].str.contains("ai_assistant")]
    assert (ai["status"] == "pooled").all()
    combos = overlap.combinations()
    assert {"combination", "estimate", "lo", "hi", "assumed_additive"} <= set(combos.columns)
    assert combos["n_branch_months"].sum() == int((overlap.active > 0).any(axis=1).sum())


def test_no_programme_path_and_result_object(overlap) -> None:
    path = overlap.no_programme_path()
    assert len(path) == len(overlap.panel.periods)
    # before any roll-out the world without programmes is the observed one, with no uncertainty
    first = path.iloc[0]
    assert first["estimate"] == pytest.approx(first["observed"], abs=1e-12)
    assert (path["lo"] <= path["estimate"] + 1e-12).all()
    assert "Imputation" in overlap.summary()
    fig = overlap.plot()
    assert fig.axes and len(fig.axes[0].lines) == 2


@pytest.fixture(scope="module")
def disjoint_tables(world):
    """The world's tables with roll-outs that never overlap: re-engineering in 10 branches and
    the survey programme in 10 others (each at the start dates of re-engineering's cohorts, so
    both reach enough branches for cluster-robust errors), no training, no AI assistant."""
    iv = world.tables.interventions
    reeng = iv[iv["intervention"] == "process_reengineering"].sort_values("unit_id")
    branches = sorted(world.tables.clients["branch_id"].unique())
    others = [b for b in branches if b not in set(reeng["unit_id"])]
    first, second = reeng.iloc[:10], reeng.iloc[10:20]
    survey = second.assign(
        intervention="survey_program",
        intervention_id=[f"SP{i}" for i in range(len(second))],
    )
    assert len(others) + len(reeng) == len(branches)
    return dataclasses.replace(world.tables, interventions=pd.concat([first, survey]))


def test_on_roll_outs_that_never_overlap_the_answer_is_todays(disjoint_tables) -> None:
    panel = build_panel(disjoint_tables)
    on = (panel.frame[list(panel.interventions)] > 0).sum(axis=1)
    assert on.max() == 1  # the premise: never two programmes in one branch-month
    joint = estimate_joint(panel)
    today = attribute_change(panel, effects=joint).to_frame()
    new = attribute_change(panel, effects=estimate_overlap(panel, joint=joint), overlap="shapley")
    assert new.effects.terms.empty
    assert not new.effects.placebo  # no pilot: both reach 10 branches
    for comp in ("S", "R", "E", "net_rate"):
        a = today[today["component"] == comp].set_index("step")
        b = new.table[new.table["component"] == comp].set_index("step")
        for name in panel.interventions:
            np.testing.assert_allclose(
                b.loc[name, ["value", "se", "lo", "hi"]].to_numpy(dtype=float),
                a.loc[name, ["value", "se", "lo", "hi"]].to_numpy(dtype=float),
                atol=1e-10,
            )
        np.testing.assert_allclose(
            b.loc["market_and_trend", ["value", "se", "lo", "hi"]].to_numpy(dtype=float),
            a.loc["remainder", ["value", "se", "lo", "hi"]].to_numpy(dtype=float),
            atol=1e-10,
        )
        # nothing pooled: every step is a point, its interval the t interval of today
        steps = b.loc[[*panel.interventions, "market_and_trend"]]
        np.testing.assert_array_equal(steps["range_lo"], steps["value"])
        np.testing.assert_array_equal(steps["range_hi"], steps["value"])
    assert new.effects.cells == "cohort"  # untouched branch-months in every month


def test_pilot_placebo_draws_equal_a_refit_and_widen_what_rests_on_the_pilot(overlap) -> None:
    """A placebo draw's coefficients are those of ``fe_ols`` re-fitted on the panel with the
    pilot's timing moved to other branches (an independent computation of the same draw, with
    the same permutation), and every quantity reaching the pilot's cells gets at least its
    cluster-robust standard error, widened by the spread over the draws (the pilot programme
    of this 24-branch world reaches 2 branches)."""
    from snr_models.attribution.joint import _permuted_cells
    from snr_models.attribution.overlap import _pool_columns

    assert set(overlap.placebo) == {"ai_assistant"}
    panel = overlap.panel
    design = overlap.effects.design
    labels, xn, _ = next(_permuted_cells(panel, "ai_assistant", 1, np.random.default_rng(0)))
    if overlap.cells == "event_time":  # the overlap model's cells pooled over cohorts
        labels, xn = _pool_columns(labels, xn)
    regs = design.regressors.drop(columns=[c for c in design.regressors if c.startswith("ai_")])
    regs = regs.assign(**dict(zip(labels, xn.T, strict=True)))
    data = pd.concat([panel.frame[["branch_id", "period", "R"]], regs], axis=1)
    fit = fe_ols(data, "R", list(regs.columns), fixed_effects=["branch_id", "period"])
    draw = overlap.placebo["ai_assistant"]["R"].iloc[0]
    expected = fit.params.fillna(0.0).reindex(draw.index).fillna(0.0)
    np.testing.assert_allclose(draw.to_numpy(), expected.to_numpy(), atol=1e-8)

    wf = attribute_change(panel, effects=overlap, overlap="shapley")
    ai = wf.table.query("component == 'net_rate' and step == 'ai_assistant'").iloc[0]
    rows = panel.frame[["branch_id", "period"]][panel.frame["period"] == panel.periods[-1]]
    w = overlap.weights(rows.assign(weight=1.0 / len(rows)), "R", "shapley:ai_assistant")
    cr = overlap.effects.infer(w).se
    assert overlap.infer(w).se > cr  # the last month's AI share rests on the pilot
    assert ai["df"] <= overlap.placebo_df + 1e-12
    other = overlap.weights(rows.assign(weight=1.0 / len(rows)), "R", "main:staff_training")
    # untouched by the pilot: the cluster-robust inference, as before
    assert overlap.infer(other).se == pytest.approx(overlap.effects.infer(other).se, rel=1e-12)


def test_steps_resting_on_a_pilot_say_so(world, panel, overlap, disjoint_tables) -> None:
    """Where a firm-wide programme is active in the windows, nothing but its pilot identifies
    it (every branch has it): its step and the market-and-trend step say so, with the pilot's
    size counted from the interventions table; roll-outs without a firm-wide programme carry no
    such note."""
    iv = world.tables.interventions
    ai = iv[iv["intervention"] == "ai_assistant"]
    n_pilot = ai.loc[ai["unit_type"] == "branch", "unit_id"].nunique()
    assert n_pilot == 2  # 10% of 24 branches
    wf = attribute_change(panel, effects=overlap, overlap="shapley")
    notes = wf.table[wf.table["component"] == "net_rate"].set_index("step")["note"]
    last = panel.frame[panel.frame["period"].isin(wf.end_window)]
    n_firm = len(last)  # every branch-month of the end window is after the firm-wide start
    assert panel.firm_start["ai_assistant"] <= min(wf.end_window)
    assert (
        f"its firm-wide months ({n_firm} of the windows' branch-months) extrapolated from its "
        f"pilot in {n_pilot} branches" in notes["ai_assistant"]
    )
    assert f"rests on ai_assistant's pilot in {n_pilot} branches" in notes["market_and_trend"]
    for step in ("process_reengineering", "staff_training", "survey_program"):
        assert "pilot" not in notes[step]

    other = build_panel(disjoint_tables)
    plain = attribute_change(other, effects=estimate_overlap(other), overlap="shapley")
    assert not plain.table["note"].str.contains("pilot").any()


def test_a_large_pilot_extrapolated_firm_wide_still_gets_the_placebo_spread() -> None:
    """Whatever the pilot's size, a programme whose firm-wide months are extrapolated from its
    pilot gets placebo draws: its cluster-robust error does not carry the error of that
    extrapolation (no untreated branch-month is left after the firm-wide start). With the
    default pilot (30% of 27 branches: 8, as many as the joint model's
    ``min_treated_branches``) the joint model takes cluster-robust errors (no ``+placebo_se``)
    while the overlap model still draws the placebo, and the AI assistant's Shapley share over
    the last month is at least as wide as its cluster-robust interval; the expected spread is
    the variance of the same combination over the draws (an independent re-computation)."""
    tables = simulate(n_clients=3_000, n_branches=27, n_months=24, seed=3, truth=False).tables
    panel = build_panel(tables)
    joint = estimate_joint(panel, components=("R",))
    ai = joint.table[joint.table["intervention"] == "ai_assistant"]
    assert set(ai["method"]) == {"did_pilot_scaled"}  # 8 pilot branches: no placebo here
    ov = estimate_overlap(panel, joint=joint, components=("R",), n_placebo=10)
    assert set(ov.placebo) == {"ai_assistant"}
    rows = panel.frame[["branch_id", "period"]][panel.frame["period"] == panel.periods[-1]]
    w = ov.weights(rows.assign(weight=1.0 / len(rows)), "R", "shapley:ai_assistant")
    cr = ov.effects.infer(w)
    draws = ov.placebo["ai_assistant"]["R"].reindex(columns=w["R"].index, fill_value=0.0)
    values = draws.to_numpy() @ w["R"]  # a pooled set's label has no coefficient: 0
    pilot = w["R"][w["R"].index.str.startswith("ai_assistant|")]
    cr_pilot = float(np.sum(ov.effects.fits["R"].linear_influence(pilot).to_numpy() ** 2))
    expected = np.sqrt(cr.se**2 + max(0.0, float(np.var(values, ddof=1)) - cr_pilot))
    assert ov.infer(w).se == pytest.approx(expected, rel=1e-10)
    assert ov.infer(w).se >= cr.se


def test_cells_pool_over_cohorts_when_a_month_has_no_untouched_branch_month(panel, overlap):
    """``cells="auto"`` pools each programme's cells by event time when some month has no
    branch-month untouched by any programme (this world: the AI assistant firm-wide), and the
    pooled columns are the cohort columns summed (the joint model's design, re-computed)."""
    from snr_models.attribution.joint import _design

    untouched = ~(panel.frame[list(panel.interventions)] > 0).any(axis=1)
    assert panel.frame.loc[untouched, "period"].nunique() < len(panel.periods)
    assert overlap.cells == "event_time"
    cohort = _design(panel, overlap.programmes).regressors
    pooled = overlap.effects.design.regressors
    for label in [c for c in pooled if not c.startswith("overlap|")]:
        name, _, e = label.split("|")
        members = [c for c in cohort if c.startswith(f"{name}|") and c.endswith(f"|{e}")]
        assert members
        np.testing.assert_array_equal(pooled[label], cohort[members].sum(axis=1))


def test_imbens_manski_critical_value() -> None:
    """Imbens & Manski (2004): ``F(c + width/se) - F(-c) = 1 - alpha``; the point case is the
    two-sided t value, a wide set the one-sided one; a middle case solved by hand with
    scipy's distribution."""
    from scipy import stats

    from snr_models.attribution.inference import imbens_manski_value, t_value

    assert imbens_manski_value(0.05, 10.0, 0.0, 1.0) == t_value(0.05, 10.0)
    assert imbens_manski_value(0.05, 10.0, 50.0, 1.0) == pytest.approx(stats.t(10).ppf(0.95))
    # a set hundreds of standard errors wide: the one-sided value (the root at the bracket's
    # end, where floating point cannot tell the equation's two sides apart)
    assert imbens_manski_value(0.05, 19.0, 500.0, 1.0) == pytest.approx(stats.t(19).ppf(0.95))
    # a set a rounding error wide (a range whose opposite moves cancel to 1e-18): the two-sided
    # value (brentq raised: at this df the equation's two sides at the two-sided value differ by
    # a rounding error of the wrong sign)
    df = 13.522556390977442
    assert imbens_manski_value(0.05, df, 1e-18, 1.0) == t_value(0.05, df)
    c = imbens_manski_value(0.05, 10.0, 1.0, 0.5)
    assert stats.t(10).cdf(c + 2.0) - stats.t(10).cdf(-c) == pytest.approx(0.95, abs=1e-10)


def test_perfect_substitutes_dividend_by_hand() -> None:
    """By hand: members' effects alone 0.03, 0.01, 0.02 (a, b, c). Perfect substitutes
    (v(S) = max over S): the pair (a, b) does 0.03 where additivity says 0.04, dividend
    -0.01; the triple's dividend is 0.03 - (0.03 + 0.03 + 0.02) + (0.03 + 0.01 + 0.02) = +0.01.
    Effects of opposite signs leave no room (0); negative effects mirror."""
    assert substitutes_dividend(np.array([0.03, 0.01])) == pytest.approx(-0.01)
    assert substitutes_dividend(np.array([0.03, 0.01, 0.02])) == pytest.approx(0.01)
    assert substitutes_dividend(np.array([0.03, -0.02])) == 0.0
    assert substitutes_dividend(np.array([-0.02, -0.05])) == pytest.approx(0.02)


def test_substitutes_end_is_a_fixed_point_of_a_refitted_model(panel, overlap) -> None:
    """The perfect-substitutes end of a pooled set's range is the model consistent with
    perfect substitution. Checked against independent least-squares re-fits (``fe_ols`` on
    ``R - sum_T d*_T x_T``, every pooled set's dividend fixed at the fixed point's value):
    (1) in that re-fit, each set's members' effects alone (their cells' mean over their
    treated branch-months) give back ``d*_T`` as their perfect-substitutes dividend, capped
    by the set's joint effect ``|v_T|`` (re-computed from an independent additive re-fit) (the
    equation); (2) a Shapley share reaching a set, re-fitted with only that set's dividend at
    ``d*_T``, lands on the end of the range ``infer`` reports (only that set given a range);
    (3) the fixed point moves the end beyond the one step from the additive fit (the members'
    cells absorb part of the interaction)."""
    ends = overlap._substitutes_ends["R"]
    moved_terms = [t for t, d in ends.items() if d != 0.0]
    assert moved_terms  # the small pilot world has a pooled set with a range
    regs = overlap.effects.design.regressors
    data = pd.concat([panel.frame[["branch_id", "period"]], regs], axis=1)
    x = {t: np.prod(overlap.active[list(t)].to_numpy(), axis=1) for t in ends}

    def refit(dividends: dict) -> pd.Series:
        y = panel.frame["R"].to_numpy() - sum(d * x[t] for t, d in dividends.items())
        fit = fe_ols(
            data.assign(y=y), "y", list(regs.columns), fixed_effects=["branch_id", "period"]
        )
        return fit.params.fillna(0.0)

    # (1) the fixed point's equation, in the jointly re-fitted model
    params = refit(ends)
    alone = {}
    for name in overlap.programmes:
        rows = panel.frame.loc[overlap.active[name] > 0, ["branch_id", "period"]]
        w = overlap.weights(rows.assign(weight=1.0 / len(rows)), "R", f"main:{name}")["R"]
        alone[name] = float(w.reindex(params.index, fill_value=0.0) @ params)
    # the cap |v_T|: the set's joint effect at the additive fit, re-computed from an
    # independent fit with every pooled dividend 0 (its members' cells over the branch-months
    # with the whole set active, plus the estimated interactions among them)
    params0 = refit({})
    columns = regs.columns
    for term, d in ends.items():
        on = (overlap.active[list(term)] > 0).all(axis=1)
        rows = panel.frame.loc[on, ["branch_id", "period"]].assign(weight=1.0 / on.sum())
        w = sum(overlap.weights(rows, "R", f"main:{k}")["R"] for k in term)
        v = float(w.reindex(params0.index, fill_value=0.0) @ params0)
        for sub in overlap.estimated_terms():
            if set(sub) <= set(term):
                xs = np.prod(overlap.active[list(sub)].to_numpy(), axis=1)
                v += float(xs[on.to_numpy()].mean()) * params0["overlap|" + "+".join(sub)]
        assert overlap._set_effects["R"][term] == pytest.approx(v, abs=1e-10)
        assert "overlap|" + "+".join(term) not in columns
        ps = substitutes_dividend(np.array([alone[k] for k in term]))
        assert abs(d) <= abs(v) + 1e-12
        assert d == pytest.approx(float(np.clip(ps, -abs(v), abs(v))), abs=1e-9)
    # (3) beyond the one step from the additive fit
    term = moved_terms[0]
    one_step = substitutes_dividend(np.array([overlap._alone_slopes["R"][k][0] for k in term]))
    assert abs(ends[term]) > abs(one_step) + 1e-4

    # (2) the range end of a share, against a re-fit with that set's dividend at d*
    ov = dataclasses.replace(overlap, placebo={})
    ov.__dict__["_substitutes_ends"] = {"R": {term: ends[term]}}
    assert ov.dividend_range(term, "R") == (min(0.0, ends[term]), max(0.0, ends[term]))
    rows = panel.frame[["branch_id", "period"]][panel.frame["period"] == panel.periods[-1]]
    w = ov.weights(rows.assign(weight=1.0 / len(rows)), "R", f"shapley:{term[0]}")["R"]
    res = ov.infer({"R": w})
    params = refit({term: ends[term]})
    moved = float(w.reindex(params.index, fill_value=0.0) @ params)
    moved += ends[term] * w["overlap|" + "+".join(term)]
    end = res.estimate + (res.lower if moved < res.estimate else res.upper)
    assert moved == pytest.approx(end, abs=1e-10)
    assert abs(moved - res.estimate) > 1e-4


def test_a_share_resting_on_a_pooled_interaction_spans_its_range(panel, overlap) -> None:
    """The range of a Shapley share whose programmes' interaction is pooled: fixing the pooled
    dividend at its bound and re-fitting the regression on ``R - d * x`` (an independent
    least-squares fit with ``fe_ols``) moves the share (its coefficients, plus ``d`` times its
    share of the set's column) to the end of the range ``infer`` reports; the interval is
    Imbens and Manski's around that range."""
    from snr_models.attribution.inference import imbens_manski_value

    pooled = overlap.pooled_terms()
    assert pooled
    term = pooled[0]
    bound = -0.01
    ov = dataclasses.replace(overlap, placebo={})
    # only this set has a range, [bound, 0]: its perfect-substitutes end is the bound
    ov.__dict__["_substitutes_ends"] = {"R": {term: bound}}
    assert ov.dividend_range(term, "R") == (bound, 0.0)
    name = term[0]
    rows = panel.frame[["branch_id", "period"]][panel.frame["period"] == panel.periods[-1]]
    w = ov.weights(rows.assign(weight=1.0 / len(rows)), "R", f"shapley:{name}")
    res = ov.infer(w)
    assert res.lower < 0 or res.upper > 0

    x = np.prod(ov.active[list(term)].to_numpy(), axis=1)
    regs = ov.effects.design.regressors
    data = pd.concat([panel.frame[["branch_id", "period"]], regs], axis=1)
    data["y"] = panel.frame["R"].to_numpy() - bound * x
    fit = fe_ols(data, "y", list(regs.columns), fixed_effects=["branch_id", "period"])
    label = "overlap|" + "+".join(term)
    moved = float(w["R"].reindex(fit.params.index, fill_value=0.0) @ fit.params.fillna(0.0))
    moved += bound * w["R"][label]
    end = res.estimate + (res.lower if moved < res.estimate else res.upper)
    assert moved == pytest.approx(end, abs=1e-10)
    assert min(res.lower, res.upper) == pytest.approx(0.0, abs=1e-15)  # the other end: d = 0

    lo, hi = res.interval(0.05)
    c = imbens_manski_value(0.05, res.df, res.upper - res.lower, res.se)
    assert (lo, hi) == pytest.approx(
        (res.estimate + res.lower - c * res.se, res.estimate + res.upper + c * res.se)
    )
    assert lo < res.estimate + res.lower and res.estimate + res.upper < hi


def test_the_substitutes_fixed_point_is_capped_by_the_sets_joint_effect() -> None:
    """By hand: a pair (a, b) with effects alone 0.03 and 0.02 at the additive fit, each
    giving up 0.99 of a unit of the pooled dividend when it is fixed (``s = 0.99``, the
    old-pilot worlds' case). Uncapped the fixed point of ``d = -min(tau_a(d), tau_b(d))`` with
    ``tau_k(d) = tau_k(0) - 0.99 d`` is ``d = -0.02 / (1 - 0.99) = -2`` (100 times the
    effects). Capped at the set's joint effect 0.04 it is -0.04: at ``d = -0.04`` the map
    gives ``-(0.02 + 0.99 * 0.04) = -0.0596``, clipped back to -0.04. With ``s = 0.5`` and cap
    0.1 the cap does not bind: ``-0.02 / (1 - 0.5) = -0.04``. With ``s = 1.5`` the uncapped
    iteration runs away; capped at 0.05 it stops on the cap. A triple's dividend (``+min``)
    is capped from above the same way."""
    pair = ("a", "b")
    tau0 = {"a": 0.03, "b": 0.02}
    near_one = {"a": {pair: 0.99}, "b": {pair: 0.99}}
    free, ok = clipped_fixed_point(tau0, near_one, {pair: np.inf})
    assert ok and free[pair] == pytest.approx(-2.0, rel=1e-8)
    capped, ok = clipped_fixed_point(tau0, near_one, {pair: 0.04})
    assert ok and capped[pair] == pytest.approx(-0.04, abs=1e-12)
    half = {"a": {pair: 0.5}, "b": {pair: 0.5}}
    inside, ok = clipped_fixed_point(tau0, half, {pair: 0.1})
    assert ok and inside[pair] == pytest.approx(-0.04, abs=1e-10)  # -0.02 / (1 - 0.5)
    # a slope above one: from 0 the iteration runs away (-0.02, -0.05, -0.095, ...);
    # capped, it ends on the cap: d = -0.05 gives -(0.02 + 1.5 * 0.05) = -0.095, clipped
    steep = {"a": {pair: 1.5}, "b": {pair: 1.5}}
    d, ok = clipped_fixed_point(tau0, steep, {pair: 0.05})
    assert ok and d[pair] == pytest.approx(-0.05, abs=1e-12)
    # a triple with effects 0.03, 0.01, 0.02 (test_perfect_substitutes_dividend_by_hand:
    # +0.01), its members absorbing nothing: capped at 0.004 it is +0.004
    triple = ("a", "b", "c")
    tau3 = {"a": 0.03, "b": 0.01, "c": 0.02}
    none = {k: {triple: 0.0} for k in triple}
    assert clipped_fixed_point(tau3, none, {triple: np.inf})[0][triple] == pytest.approx(0.01)
    assert clipped_fixed_point(tau3, none, {triple: 0.004})[0][triple] == pytest.approx(0.004)


def test_a_combinations_range_is_the_segment_to_the_perfect_substitutes_model(
    panel, overlap
) -> None:
    """The perfect-substitutes end is one model, every pooled dividend at its ``d*`` together:
    a combination's range is the segment between the additive estimate and that model's.
    Expected numbers: an independent least-squares re-fit (``fe_ols`` on ``R - sum_T d*_T
    x_T``, every pooled set's dividend at the fixed point's value) gives the combination in
    that model (its coefficients plus ``d*_T`` times its weight on each set's column); minus
    the additive estimate, that is the move, and ``infer`` must report ``[min(0, move),
    max(0, move)]``. The box over the dividends (each set's range times its slope, summed)
    is at least as wide, wider where two sets move the combination in opposite directions.

    On this world's R the fixed point moves one pooled set only (the others' members differ
    in sign, or their dividend is 0); the segment must hold whatever ``d*`` is, so a pair and
    a triple containing it are given ends by hand, of opposite signs as a pair's and a
    triple's perfect-substitutes dividends are (-0.01 and +0.01), beside the fixed point's."""
    ends = dict(overlap._substitutes_ends["R"])
    pooled = overlap.pooled_terms()
    pair = next(t for t in pooled if len(t) == 2 and ends[t] == 0.0)
    triple = next(t for t in pooled if len(t) == 3 and set(pair) < set(t))
    ends.update({pair: -0.01, triple: 0.01})
    assert sum(d != 0.0 for d in ends.values()) >= 3
    ov = dataclasses.replace(overlap, placebo={})
    ov.__dict__["_substitutes_ends"] = {"R": ends}
    regs = ov.effects.design.regressors
    data = pd.concat([panel.frame[["branch_id", "period"]], regs], axis=1)
    x = {t: np.prod(ov.active[list(t)].to_numpy(), axis=1) for t in ends}
    y = panel.frame["R"].to_numpy() - sum(d * x[t] for t, d in ends.items())
    fit = fe_ols(data.assign(y=y), "y", list(regs.columns), fixed_effects=["branch_id", "period"])
    params = fit.params.fillna(0.0)
    rows = panel.frame[["branch_id", "period"]][panel.frame["period"] == panel.periods[-1]]
    rows = rows.assign(weight=1.0 / len(rows))
    checked = narrower = 0
    for part in ["joint", *(f"shapley:{k}" for k in ov.programmes)]:
        w = ov.weights(rows, "R", part)["R"]
        res = ov.infer({"R": w})
        moved = float(w.reindex(params.index, fill_value=0.0) @ params)
        moved += sum(d * float(w.get("overlap|" + "+".join(t), 0.0)) for t, d in ends.items())
        move = moved - res.estimate
        assert (res.lower, res.upper) == pytest.approx((min(0.0, move), max(0.0, move)), abs=1e-10)
        # the box: each set alone at its end, re-fitted; the segment lies inside it
        box_lo = box_hi = 0.0
        for t, d in ends.items():
            yt = panel.frame["R"].to_numpy() - d * x[t]
            pt = fe_ols(
                data.assign(y=yt), "y", list(regs.columns), fixed_effects=["branch_id", "period"]
            ).params.fillna(0.0)
            one = float(w.reindex(pt.index, fill_value=0.0) @ pt) + d * float(
                w.get("overlap|" + "+".join(t), 0.0)
            )
            box_lo += min(0.0, one - res.estimate)
            box_hi += max(0.0, one - res.estimate)
        assert box_lo - 1e-10 <= res.lower and res.upper <= box_hi + 1e-10
        checked += abs(move) > 1e-5
        narrower += (box_hi - box_lo) - (res.upper - res.lower) > 1e-5
    assert checked  # some combination moves: the test is not about zeros
    assert narrower  # and somewhere the opposite moves cancel: the box would be wider
