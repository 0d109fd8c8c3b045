"""Per-branch and per-segment effects with empirical-Bayes shrinkage.

Expected numbers: ``truth.json``'s per-branch effects (``interventions[name]["per_branch"]``:
the same world re-run with the intervention switched off, common random numbers, averaged over
the branch's treated months), on three small worlds (the 50-world study is
``benchmarks/plan_shrinkage.py``); the James-Stein / Morris formulas computed by hand for
:func:`shrink`, and the two-level pooling of :func:`branch_effects` recomputed from its raw
parts. The allocation's tests are in ``tests/plan/test_allocation.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from snr_models.attribution import build_panel, estimate_joint
from snr_models.attribution.shrinkage import (
    branch_effects,
    raw_branch_effects,
    segment_effects,
    shrink,
)
from snr_models.errors import SnrInputError
from snr_models.simulate import simulate


@pytest.fixture(scope="module")
def worlds():
    out = []
    for seed in (0, 1, 2):
        w = simulate(n_clients=4_000, n_branches=16, n_months=24, seed=seed)
        joint = estimate_joint(build_panel(w.tables), components=("net_rate",))
        tab = branch_effects(joint).to_frame()
        truth = w.truth["interventions"]
        tab["truth"] = [
            (truth[r.intervention]["per_branch"].get(r.branch_id) or {}).get("net_rate")
            for r in tab.itertuples()
        ]
        out.append((w, joint, tab.dropna(subset=["truth"])))
    return out


def test_shrink_matches_the_formulas() -> None:
    raw = np.array([0.0, 0.1, 0.2, 0.3, 0.9])
    se = np.full(5, 0.1)
    tab, prior = shrink(raw, se, mu=0.2, mu_se=0.05)
    # moments about mu: Q = sum w (raw - mu)^2 = 100 * (0.04 + 0.01 + 0 + 0.01 + 0.49) = 55
    tau2 = (55 - 5) / 500
    assert prior["tau"] == pytest.approx(np.sqrt(tau2))
    b = (5 - 3) / (5 - 1) * 0.01 / (0.01 + tau2)
    assert tab["shrinkage"].to_numpy() == pytest.approx(np.full(5, b))
    assert tab["estimate"].to_numpy() == pytest.approx(0.2 + (1 - b) * (raw - 0.2))
    var = (1 - b) * 0.01 + b**2 * 0.05**2 + 2 / (5 - 3) * b**2 * (raw - 0.2) ** 2
    assert tab["se"].to_numpy() == pytest.approx(np.sqrt(var))
    with pytest.raises(SnrInputError, match="at least two"):
        shrink(np.array([0.1]), np.array([0.1]))


def test_shrunken_branch_effects_beat_raw_and_cover_the_truth(worlds) -> None:
    tab = pd.concat([t for _, _, t in worlds])
    rmse_raw = np.sqrt(((tab["raw"] - tab["truth"]) ** 2).mean())
    rmse_eb = np.sqrt(((tab["estimate"] - tab["truth"]) ** 2).mean())
    assert rmse_eb < rmse_raw
    cover = ((tab["lo"] <= tab["truth"]) & (tab["truth"] <= tab["hi"])).mean()
    # 95% intervals; over 50 worlds 90-99% (benchmark); here ~150 correlated branch effects
    assert 0.85 <= cover <= 1.0


def test_branch_effects_result_object(worlds) -> None:
    w, joint, _ = worlds[0]
    be = branch_effects(joint)
    assert set(be.priors["intervention"]) <= set(be.table["intervention"])
    assert "Per-branch effects" in be.summary()
    assert len(be.plot().axes) == len(be.priors)
    # readable: the 3 best and 3 worst branches of each programme, labels of 8 points
    fig = be.plot(extremes=3)
    ticks = fig.axes[0].get_yticklabels()
    assert len(ticks) == 6 and min(t.get_fontsize() for t in ticks) >= 8
    best = be.table[be.table["intervention"] == be.priors["intervention"].iloc[0]]
    best = best.nlargest(3, "estimate")["branch_id"]
    assert set(best) <= {t.get_text() for t in ticks}
    with pytest.raises(SnrInputError, match="no regression of 'S'"):
        branch_effects(joint, "S")


def test_two_level_pooling(worlds) -> None:
    # by hand from the raw parts: the cells kept, the deviations shrunk towards 0 (shrink's
    # formulas, checked above), the variances added, the cells' part on its t quantile
    _, joint, _ = worlds[0]
    raw = raw_branch_effects(joint)
    tab = branch_effects(joint).to_frame()
    z = stats.norm.ppf(0.975)
    for name, sub in raw.groupby("intervention"):
        got = tab[tab["intervention"] == name]
        assert list(got["branch_id"]) == list(sub["branch_id"])
        dev, _ = shrink(sub["deviation"].to_numpy(), sub["idio_se"].to_numpy(), mu=0.0, mu_se=0.0)
        cell = sub["cell"].to_numpy()
        assert got["estimate"].to_numpy() == pytest.approx(cell + dev["estimate"].to_numpy())
        var = sub["cell_se"].to_numpy() ** 2 + dev["se"].to_numpy() ** 2
        assert got["se"].to_numpy() == pytest.approx(np.sqrt(var))
        t = stats.t.ppf(0.975, sub["cell_df"].to_numpy())
        half = np.sqrt((t * sub["cell_se"].to_numpy()) ** 2 + (z * dev["se"].to_numpy()) ** 2)
        assert (got["hi"] - got["lo"]).to_numpy() == pytest.approx(2 * half)
        # the cells' error is shared by their branches and does not average out: no branch's
        # interval is narrower than its cells' own (the one-level pooling's often were)
        assert ((got["hi"] - got["lo"]).to_numpy() >= 2 * t * sub["cell_se"].to_numpy()).all()
    assert (raw["raw"] == raw["cell"] + raw["deviation"]).all()


def test_segment_effects(worlds) -> None:
    w, _, _ = worlds[0]
    seg = segment_effects(w.tables)
    assert set(seg["segment"]) <= {"retail", "high_net_worth", "institutional"}
    assert seg["shrinkage"].between(0, 1).all()
    assert ((seg["lo"] <= seg["estimate"]) & (seg["estimate"] <= seg["hi"])).all()
