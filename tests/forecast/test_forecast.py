"""``forecast()`` on a small simulated world: shape, coherence, intervals, scenarios, errors.

Expected values are identities the method promises (stated in each test): the firm-wide value
is the volume-weighted mean of the branches, the net rate is the weighted sum of S, R, E, a
scenario adds exactly ``effect x added exposure`` to the mean, and the history matches
:func:`snr_models.metrics.net_rate`.
"""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure
from numpy.testing import assert_allclose

from snr_models.errors import SnrInputError
from snr_models.forecast import Scenario, forecast
from snr_models.forecast.core import OUTPUT_COLUMNS
from snr_models.metrics import net_rate
from snr_models.simulate import simulate

WEIGHTS = {"S": 0.4, "R": 0.3, "E": 0.3}  # DESIGN.md's default specification
EFFECTS = pd.DataFrame(
    {
        "intervention": ["staff_training"] * 3,
        "component": ["S", "R", "E"],
        "estimate": [0.05, 0.01, 0.02],
        "se": [0.01, 0.005, 0.01],
    }
)


@pytest.fixture(scope="module")
def tables():
    return simulate(n_clients=2_000, n_branches=5, n_months=24, seed=4, truth=False).tables


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(
        name="train_rest",
        rollouts=[{"intervention": "staff_training", "branches": "remaining", "start": "2025-02"}],
    )


@pytest.fixture(scope="module")
def result(tables, scenario):
    return forecast(
        tables,
        horizon=4,
        scenario=scenario,
        effects=EFFECTS,
        models=("snaive", "ets"),
        n_origins=2,
        n_paths=1000,
    )


def test_table_has_the_documented_columns_and_rows(result) -> None:
    table = result.to_frame()
    assert list(table.columns) == OUTPUT_COLUMNS
    # 4 months x (firm + 5 branches) x (S, R, E, net_rate) x (baseline + 1 scenario)
    assert len(table) == 4 * 6 * 4 * 2
    assert set(table["component"]) == {"S", "R", "E", "net_rate"}
    assert result.scenario_names == ["baseline", "train_rest"]
    assert table["period"].min() == pd.Timestamp("2025-01-01")  # month after the history


def test_history_is_the_net_rate_of_the_data(result, tables) -> None:
    firm = net_rate(tables, n_boot=0).to_frame().set_index("period")
    hist = result.history[result.history["series"] == "firm"]
    for comp in ("S", "R", "E", "net_rate"):
        got = hist[hist["component"] == comp].set_index("period")["value"]
        assert_allclose(got.to_numpy(), firm.loc[got.index, comp].to_numpy(), rtol=1e-10)


def test_firm_is_volume_weighted_branches_and_net_rate_is_weighted_components(
    result, tables
) -> None:
    table = result.to_frame()
    nr = net_rate(tables, by="branch_id", n_boot=0).to_frame()
    recent = nr[nr["period"] >= nr["period"].max() - pd.DateOffset(months=5)]
    volume = {"S": "n_responses", "R": "n_open", "E": "n_tickets"}
    for scen in result.scenario_names:
        sub = table[table["scenario"] == scen]
        for comp, vol in volume.items():
            # reconciliation weights: each branch's mean volume over the last 6 months
            w = recent.groupby("branch_id")[vol].mean()
            w = w / w.sum()
            c = sub[sub["component"] == comp]
            branches = c[c["series"] != "firm"].pivot(
                index="period", columns="series", values="forecast"
            )
            firm = c[c["series"] == "firm"].set_index("period")["forecast"]
            assert_allclose(
                branches[w.index.astype(str)].to_numpy() @ w.to_numpy(), firm, atol=1e-12
            )
        wide = sub.pivot_table(index=["series", "period"], columns="component", values="forecast")
        assert_allclose(wide["net_rate"], sum(WEIGHTS[c] * wide[c] for c in WEIGHTS), atol=1e-12)


def test_intervals_are_around_the_forecast(result) -> None:
    t = result.to_frame()
    assert result.params["alpha"] == 0.05
    assert ((t["lo"] <= t["forecast"]) & (t["forecast"] <= t["hi"])).all()
    assert (t["hi"] - t["lo"] > 0).all()


def test_scenario_adds_effect_times_added_exposure(result, tables) -> None:
    # "remaining": branches never reached by staff_training, a step from 2025-02 at the
    # reference intensity. The added effect is coherent (firm = volume-weighted branches), so
    # the reconciliation (a projection onto coherent forecasts) leaves it unchanged: each
    # untrained branch gains exactly the effect, a trained one nothing, and the firm the effect
    # times the untrained branches' share of the component's volume.
    trained = set(tables.interventions.query("intervention == 'staff_training'")["unit_id"])
    t = result.to_frame()
    base = t[t["scenario"] == "baseline"].set_index(["series", "component", "period"])
    scen = t[t["scenario"] == "train_rest"].set_index(["series", "component", "period"])
    diff = (scen["forecast"] - base["forecast"]).unstack("period")
    nr = net_rate(tables, by="branch_id", n_boot=0).to_frame()
    recent = nr[nr["period"] >= nr["period"].max() - pd.DateOffset(months=5)]
    volume = {"S": "n_responses", "R": "n_open", "E": "n_tickets"}
    branches = sorted(map(str, nr["branch_id"].unique()))
    untrained = [b for b in branches if b not in trained]
    assert 0 < len(untrained) < len(branches)
    for comp, est in zip(["S", "R", "E"], EFFECTS["estimate"], strict=True):
        w = recent.groupby("branch_id")[volume[comp]].mean()
        share = w[untrained].sum() / w.sum()
        firm = diff.loc[("firm", comp)]
        assert abs(firm.iloc[0]) < 1e-12  # January: before the start
        assert_allclose(firm.iloc[1:], est * share, atol=1e-12)
        for b in branches:
            assert_allclose(
                diff.loc[(b, comp)].iloc[1:], est if b in untrained else 0.0, atol=1e-12
            )


def test_scenario_widens_intervals_by_effect_uncertainty(result) -> None:
    t = result.to_frame()
    firm = t[(t["series"] == "firm") & (t["component"] == "net_rate")]
    width = (firm["hi"] - firm["lo"]).groupby(firm["scenario"]).mean()
    assert width["train_rest"] >= width["baseline"] * 0.98  # common random numbers


def test_compare_summary_and_plots(result) -> None:
    cmp = result.compare()
    assert {"baseline", "train_rest", "train_rest_minus_baseline"} <= set(cmp.columns)
    assert len(cmp) == 4
    text = result.summary()
    assert "baseline" in text and "train_rest" in text and "Model chosen" in text
    assert "coverage of the 95% interval" in text  # the backtest's level is alpha's
    assert "coverage" in result.backtest.columns
    fig = result.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # one fan chart per scenario
    assert isinstance(result.plot_backtest(), Figure)
    assert set(result.choice["model"]) <= {"snaive", "ets"}
    assert (result.choice["sd_inflation"] >= 1).all()


def test_firm_only_forecast(tables) -> None:
    res = forecast(tables, horizon=2, models=("ets",), branches=False, n_paths=500)
    assert set(res.to_frame()["series"]) == {"firm"}
    assert len(res.to_frame()) == 2 * 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon": 13}, "horizon"),
        ({"models": ("prophet",)}, "models"),
        ({"n_paths": 10}, "n_paths"),
        ({"end": "2023-06"}, "at least 12 months"),
    ],
)
def test_bad_arguments_raise_input_errors(tables, kwargs, message) -> None:
    with pytest.raises(SnrInputError, match=message):
        forecast(tables, **kwargs)


def test_scenario_errors(tables) -> None:
    early = Scenario(
        name="early", rollouts=[{"intervention": "staff_training", "start": "2024-06"}]
    )
    with pytest.raises(SnrInputError, match="before the first forecast month"):
        forecast(
            tables, horizon=2, scenario=early, effects=EFFECTS, models=("ets",), branches=False
        )
    unknown = Scenario(
        name="x",
        rollouts=[{"intervention": "staff_training", "branches": ["NOPE"], "start": "2025-02"}],
    )
    with pytest.raises(SnrInputError, match="unknown branch"):
        forecast(tables, horizon=2, scenario=unknown, effects=EFFECTS, models=("ets",))
    other = Scenario(name="y", rollouts=[{"intervention": "ai_assistant", "start": "2025-02"}])
    with pytest.raises(SnrInputError, match="no effect"):
        forecast(tables, horizon=2, scenario=other, effects=EFFECTS, models=("ets",))
    late = Scenario(name="z", rollouts=[{"intervention": "staff_training", "start": "2025-02"}])
    # the forecast estimates no effect itself (the attribution does): it asks for them
    with pytest.raises(SnrInputError, match=r"effects of \['staff_training'\] are needed"):
        forecast(tables, horizon=2, scenario=late, models=("ets",), branches=False)


def test_rollout_after_the_window_warns_and_says_so(tables) -> None:
    # the simulated history ends 2024-12, so with horizon 2 the window is 2025-01 to 2025-02
    # and a 2026-01 start is outside it
    late = Scenario(name="late", rollouts=[{"intervention": "staff_training", "start": "2026-01"}])
    with pytest.warns(
        UserWarning,
        match=r"staff_training starts 2026-01, after the forecast "
        r"window 2025-01 to 2025-02",
    ):
        out = forecast(
            tables, horizon=2, scenario=late, effects=EFFECTS, models=("ets",), branches=False
        )
    firm = out.table[(out.table["series"] == "firm") & (out.table["component"] == "net_rate")]
    by = firm.pivot(index="period", columns="scenario", values="forecast")
    assert (by["late"] == by["baseline"]).all()  # nothing changed, hence the warning
    assert "late" in out.params["scenario_notes"][0]
    assert "outside the forecast window" in out.summary()
