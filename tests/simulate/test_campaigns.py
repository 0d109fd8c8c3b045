"""Retention campaigns in the simulator: the holdout, the four kinds, nothing else moved.

Expected values come from the configuration (holdout share 10-20%, the ``horizon``) and from
the same world simulated without campaigns (common random numbers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snr_models.simulate import simulate

SIZE = {"n_clients": 6_000, "n_branches": 4, "n_months": 20, "seed": 4, "truth": False}


@pytest.fixture(scope="module")
def worlds():
    return simulate(**SIZE), simulate(**SIZE, campaigns={"enabled": True})


def test_default_world_has_no_campaigns(worlds):
    plain, _ = worlds
    assert plain.tables.outreach is None
    assert "outreach" not in plain.truth


def test_campaigns_hold_out_10_to_20_percent_at_random(worlds):
    _, world = worlds
    out = world.tables.outreach
    campaigns = world.truth["outreach"]["campaigns"]
    assert len(campaigns) == SIZE["n_months"] - world.config.campaigns.first_month
    shares = out.groupby("campaign_id")["assigned"].apply(lambda a: (a == "holdout").mean())
    for cid, share in shares.items():
        drawn = campaigns[cid]["holdout_share"]
        assert 0.10 <= drawn <= 0.20
        n = campaigns[cid]["n_treatment"] + campaigns[cid]["n_holdout"]
        assert abs(share - drawn) < 4 * np.sqrt(drawn * (1 - drawn) / n)
    # contacts fall in their campaign's month, no client twice within the horizon
    month = out["contacted_at"].dt.strftime("%Y%m")
    assert (out["campaign_id"] == "RC" + month).all()
    gaps = out.sort_values("contacted_at").groupby("client_id")["contacted_at"].diff().dropna()
    assert (gaps > pd.Timedelta(days=31 * (world.config.campaigns.horizon - 1))).all()


def test_truth_holds_every_contact_and_the_four_kinds(worlds):
    _, world = worlds
    truth = world.truth["outreach"]
    clients = pd.DataFrame(truth["clients"])
    assert len(clients) == len(world.tables.outreach)
    assert set(clients["kind"]) == {"persuadable", "sure_thing", "lost_cause", "sleeping_dog"}
    # a campaign's true average effect is the mean of its clients' true uplifts
    for cid, part in clients.groupby("campaign_id"):
        assert truth["campaigns"][cid]["average_effect"] == pytest.approx(part["uplift"].mean())
    # sleeping dogs: dormant clients the call pushes out (positive effect on the hazard)
    assert (clients.loc[clients["kind"] == "sleeping_dog", "uplift"] < 0).all()


def test_only_the_targeted_clients_exits_move(worlds):
    plain, world = worlds
    for name in ("market", "interventions"):
        pd.testing.assert_frame_equal(getattr(plain.tables, name), getattr(world.tables, name))
    targeted = set(world.tables.outreach["client_id"])
    a = plain.tables.clients.set_index("client_id")
    b = world.tables.clients.set_index("client_id")
    untouched = a.index.difference(list(targeted))
    pd.testing.assert_frame_equal(a.loc[untouched], b.loc[untouched])
    changed = a["close_date"].fillna(pd.Timestamp(0)) != b["close_date"].fillna(pd.Timestamp(0))
    assert changed.any()  # the calls change some exits
    assert set(changed[changed].index) <= targeted
