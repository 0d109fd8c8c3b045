"""The optional ``outreach`` table: validated like the others, absent without changing anything."""

from __future__ import annotations

import pandas as pd
import pytest

from snr_models.data import io
from snr_models.data.contract import ContractError, validate
from snr_models.simulate import simulate


@pytest.fixture(scope="module")
def tables():
    return simulate(
        n_clients=1_500,
        n_branches=3,
        n_months=14,
        seed=2,
        truth=False,
        campaigns={"enabled": True, "first_month": 6},
    ).tables


def _frames(tables, outreach):
    frames = dict(tables.items())
    frames["outreach"] = outreach
    return frames


def test_simulated_outreach_meets_the_contract_and_round_trips(tables, tmp_path):
    assert tables.outreach is not None and len(tables.outreach) > 0
    valid = validate(tables)
    assert valid.row_counts()["outreach"] == len(tables.outreach)
    for target in (tmp_path / "world", tmp_path / "world.duckdb"):
        loaded = io.load(io.save(tables, target))
        assert loaded.outreach is not None
        assert loaded.content_hash() == valid.content_hash()


def test_absent_outreach_changes_nothing(tables):
    without = validate({name: frame for name, frame in tables.items() if name != "outreach"})
    assert without.outreach is None
    assert "outreach" not in without.row_counts()
    # the hash of a data set without the optional table is that of its six tables alone
    six = dict(tables.items())
    six.pop("outreach")
    assert without.content_hash() == validate(six).content_hash()
    assert validate(tables).content_hash() != without.content_hash()


def test_bad_outreach_rows_are_named(tables):
    bad = tables.outreach.copy()
    bad.loc[0, "assigned"] = "control"
    bad.loc[1, "client_id"] = "NOBODY"
    bad.loc[2, "channel"] = "carrier_pigeon"
    bad = pd.concat([bad, bad.iloc[[3]]], ignore_index=True)  # a duplicate (campaign, client)
    with pytest.raises(ContractError) as info:
        validate(_frames(tables, bad))
    found = {(p.table, p.column, p.check) for p in info.value.problems}
    assert ("outreach", "assigned", "value_set") in found
    assert ("outreach", "client_id", "unknown_client") in found
    assert ("outreach", "channel", "value_set") in found
    assert ("outreach", "campaign_id, client_id", "duplicate_key") in found
    text = str(info.value)
    assert "outreach.assigned" in text and "'control'" in text


def test_outreach_missing_a_column_is_refused(tables):
    with pytest.raises(ContractError, match="outreach.assigned: required column is missing"):
        validate(_frames(tables, tables.outreach.drop(columns="assigned")))
