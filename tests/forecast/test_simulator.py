"""Checks against the simulator's ground truth (issue 6, section 3).

- Backtest: the firm-wide net rate forecast from rolling origins beats the seasonal naive
  (MASE < 1, scaled by the in-sample seasonal-naive error) and its 95% intervals cover the
  held-out months. The test uses one seed and three origins to stay fast; the many-origins,
  many-seeds coverage (issue: 90% to 99%) is measured by ``benchmarks/bench_forecast.py``.
- Scenario: training the branches not yet trained, from the first forecast month, forecast from
  the history of a world where that never happens, agrees within its 95% interval with the
  truth (``truth["components_firm"]``) of the same world (same seed, common random numbers)
  simulated with that roll-out switched on: the staff-training cohort configuration gains a
  third cohort holding the remaining 40% of branches, starting at 0.8 of the 30-month window
  (month 24 = 2025-01). The roll-out draws (branch order, intensities) do not depend on the
  cohorts, so both worlds are identical before 2025-01.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snr_models.attribution import build_panel, estimate_joint
from snr_models.forecast import Scenario, backtest_net_rate, forecast
from snr_models.simulate import SimulationConfig, simulate


def test_backtest_beats_seasonal_naive_and_covers() -> None:
    tables = simulate(n_clients=3_000, n_branches=6, n_months=30, seed=2, truth=False).tables
    bt = backtest_net_rate(
        tables,
        horizon=6,
        n_origins=3,
        forecast_kwargs={"models": ("snaive", "ets", "sarimax"), "n_origins": 3},
    )
    scores = bt.scores()
    assert scores["n_points"] == 18
    assert scores["mase"] < 1.0
    assert scores["mase"] < scores["mase_snaive"]
    # 18 correlated points: a loose bound here, the 90-99% check is the benchmark's
    assert scores["coverage95"] >= 0.8
    assert scores["coverage80"] <= scores["coverage95"]


def _world(cohorts: list[dict]) -> object:
    cfg = SimulationConfig(n_clients=4_000, n_branches=20, n_months=30, seed=1).model_dump()
    cfg["interventions"]["staff_training"]["cohorts"] = cohorts
    return simulate(SimulationConfig.model_validate(cfg), truth=False)


@pytest.fixture(scope="module")
def worlds():
    first_two = [{"start": 0.11, "share": 0.3}, {"start": 0.28, "share": 0.3}]
    off = _world(first_two)
    on = _world([*first_two, {"start": 0.8, "share": 0.4}])
    return off, on


def test_worlds_share_their_history(worlds) -> None:
    off, on = worlds
    firm_off = pd.DataFrame(off.truth["components_firm"]).T
    firm_on = pd.DataFrame(on.truth["components_firm"]).T
    before = [m for m in firm_off.index if m < "2025-01"]
    pd.testing.assert_frame_equal(firm_off.loc[before], firm_on.loc[before])
    starts = on.tables.interventions.query("intervention == 'staff_training'")["start_date"]
    assert (starts.dt.strftime("%Y-%m") == "2025-01").sum() == 8  # 40% of 20 branches


def test_scenario_agrees_with_simulated_rollout(worlds) -> None:
    off, on = worlds
    scenario = Scenario(
        name="train_rest",
        rollouts=[
            {
                "intervention": "staff_training",
                "branches": "remaining",
                "start": "2025-01",
                "shape": "ramp",
                "ramp_months": 3,  # the simulator's training ramps up over 3 months
            }
        ],
    )
    # effects estimated by the attribution (joint DiD) on the history only, passed in
    effects = estimate_joint(build_panel(off.tables, end="2024-12"), components=("S", "R", "E"))
    res = forecast(
        off.tables,
        horizon=6,
        scenario=scenario,
        effects=effects,
        end="2024-12",
        branches=False,
        models=("snaive", "ets"),
        n_origins=3,
    )
    assert res.params["effects_source"] == "supplied (JointEffects)"
    table = res.to_frame()
    firm = table[(table["series"] == "firm") & (table["component"] == "net_rate")]
    for name, world in (("train_rest", on), ("baseline", off)):
        truth = pd.DataFrame(world.truth["components_firm"]).T["net_rate"]
        sub = firm[firm["scenario"] == name]
        actual = np.array([truth[f"{p:%Y-%m}"] for p in sub["period"]])
        inside = (actual >= sub["lo95"].to_numpy()) & (actual <= sub["hi95"].to_numpy())
        assert inside.all(), (name, sub.assign(truth=actual))
    gain = (
        firm[firm["scenario"] == "train_rest"]["forecast"].to_numpy()
        - firm[firm["scenario"] == "baseline"]["forecast"].to_numpy()
    )
    assert (gain[1:] > 0).all()
