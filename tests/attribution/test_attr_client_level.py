"""Client-level estimation: the weighted branch-month regression equals the client-level one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snr_models.attribution.regression import fe_ols


def test_cell_mean_regression_weighted_by_counts_equals_client_level_ols() -> None:
    # independent computation: OLS on every client row (branch and month dummies, a treatment
    # constant within branch-month) against OLS on branch-month means weighted by client
    # counts; coefficients and branch-clustered scores (hence CR1 s.e. up to the (n-1)/(n-K)
    # factor, which counts rows) coincide
    rng = np.random.default_rng(0)
    n_b, n_m = 12, 10
    cells = pd.DataFrame({"b": np.repeat(np.arange(n_b), n_m), "m": np.tile(np.arange(n_m), n_b)})
    cells["d"] = ((cells["b"] < 6) & (cells["m"] >= 5)).astype(float)
    cells["n"] = rng.integers(5, 60, size=len(cells))
    rows = cells.loc[cells.index.repeat(cells["n"])].reset_index(drop=True)
    rows["y"] = 0.3 * rows["d"] + 0.05 * rows["b"] + 0.02 * rows["m"] + rng.normal(size=len(rows))
    client = fe_ols(rows, "y", ["d"], fixed_effects=["b", "m"], cluster="b")
    means = rows.groupby(["b", "m"], as_index=False).agg(
        y=("y", "mean"), d=("d", "first"), n=("y", "size")
    )
    cell = fe_ols(means, "y", ["d"], fixed_effects=["b", "m"], cluster="b", weights="n")
    assert float(cell.params["d"]) == pytest.approx(float(client.params["d"]), rel=1e-9)
    k = 1 + (n_m - 1)  # slope + month dummies (branch FE nested in the clusters)
    n_rows, n_cells = len(rows), len(means)
    rescale = np.sqrt(((n_rows - 1) / (n_rows - k)) / ((n_cells - 1) / (n_cells - k)))
    assert float(cell.se["d"]) * rescale == pytest.approx(float(client.se["d"]), rel=1e-6)


def test_client_weighting_on_simulated_world() -> None:
    from snr_models.attribution import build_panel, estimate_joint
    from snr_models.simulate import simulate

    world = simulate(n_clients=4_000, n_branches=16, n_months=24, seed=5)
    panel = build_panel(world.tables)
    res = estimate_joint(panel, weighting="client", n_placebo=0)
    tab = res.to_frame().set_index(["intervention", "component"])
    w = panel.weights
    for name in panel.interventions:
        combo = sum(w[c] * tab.loc[(name, c), "estimate"] for c in ("S", "R", "E"))
        # exact linearity: the net rate's effect is the weighted sum of the components'
        assert tab.loc[(name, "net_rate"), "estimate"] == pytest.approx(combo, rel=1e-9, abs=1e-12)
    # the biggest effect (re-engineering on E, truth ~0.19) is found with client weighting too
    truth = world.truth["interventions"]["process_reengineering"]["effect"]["E"]
    row = tab.loc[("process_reengineering", "E")]
    assert row["lo"] <= truth <= row["hi"]
    assert "net_rate" not in res.fits
