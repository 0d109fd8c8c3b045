"""On the simulator: the estimated ranking of drivers against the true weights in truth.json.

The simulator draws latent satisfaction as ``sum_j attribute_weights[j] * perception_j + ...``
and the ratings as noisy ordinal cuts of the perceptions; ``truth["satisfaction"]`` holds the
weights and their ranking (``attribute_ranking``).
"""

from __future__ import annotations

import pytest

from snr_models.drivers import (
    key_drivers,
    ordinal_logit,
    pseudo_r2_shapley,
    survey_frame,
)
from snr_models.drivers.survey import RATING_COLUMNS
from snr_models.simulate import simulate


@pytest.fixture(scope="module")
def world():  # noqa: ANN201 - a SimulationResult
    return simulate(n_clients=8_000, n_branches=8, n_months=12, seed=3)


@pytest.mark.parametrize("target", ["csat", "nps"])
def test_shapley_ranking_matches_true_weights(world, target: str) -> None:  # noqa: ANN001
    truth = world.truth["satisfaction"]
    res = key_drivers(world.tables.surveys, target, RATING_COLUMNS, n_boot=200)
    assert res.ranking == truth["attribute_ranking"]
    # the two most important drivers are told apart from the rest by their intervals
    table = res.table
    top2 = table.loc[truth["attribute_ranking"][:2], "importance_lo"].min()
    rest = table.loc[truth["attribute_ranking"][2:], "importance_hi"].max()
    assert top2 > rest


def test_relative_weights_ranking_matches_true_weights(world) -> None:  # noqa: ANN001
    res = key_drivers(world.tables.surveys, "csat", RATING_COLUMNS, method="relative_weights")
    assert res.ranking == world.truth["satisfaction"]["attribute_ranking"]


def test_ordinal_logit_orders_attributes_like_the_truth(world) -> None:  # noqa: ANN001
    # the ratings are noisy cuts of perceptions with similar spread, so the coefficients per
    # rating point follow the true weights' order
    frame = survey_frame(world.tables)
    res = ordinal_logit(frame, "csat", list(RATING_COLUMNS))
    order = list(res.coef["coef"].sort_values(ascending=False).index)
    assert order[:3] == world.truth["satisfaction"]["attribute_ranking"][:3]
    assert (res.coef["odds_ratio"] > 1).all()  # every true weight is positive


def test_pseudo_r2_shapley_of_ordinal_csat_ranks_like_the_truth(world) -> None:  # noqa: ANN001
    # CSAT as an ordered outcome: McFadden pseudo-R² split by refitting 2^7 - 1 ordinal logits
    res = pseudo_r2_shapley(world.tables.surveys, "csat", RATING_COLUMNS)
    assert res.cost["n_fits"] == 127
    assert res.ranking == world.truth["satisfaction"]["attribute_ranking"]
