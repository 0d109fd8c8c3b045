"""The contract checked in DuckDB (``validate_parquet``) finds the rules across a row's columns
with the same problems, in the same words, as the pandas check (``validate``): the expected
problems are the pandas check's, an independent implementation of the same rules."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from snr_models.data.contract import ContractError, to_arrow, validate
from snr_models.data.contract_sql import validate_parquet
from tests.data.conftest import valid_frames


def _broken_rows() -> dict[str, pd.DataFrame]:
    frames = {name: frame.copy() for name, frame in valid_frames().items()}
    clients = frames["clients"]
    clients.loc[1, "close_date"] = pd.Timestamp("2021-01-01")  # before it was opened
    clients.loc[0, "close_reason"] = "closed"  # a reason without a close date
    tickets = frames["tickets"]
    tickets.loc[2, "resolved_at"] = pd.Timestamp("2024-02-01 08:00")  # before it was created
    tickets.loc[0, "first_response_at"] = pd.Timestamp("2024-01-05 09:00")
    interventions = frames["interventions"]
    interventions.loc[0, "unit_id"] = "b9"  # no such branch
    interventions.loc[1, "end_date"] = pd.Timestamp("2024-02-01")  # ends before it starts
    return frames


def _checked_alike(frames: dict[str, pd.DataFrame], folder) -> set[tuple[str, str, str]]:
    """The problems pandas finds, as (table, column, check); the same frames written as a
    Parquet folder must give the same error, word for word, in DuckDB."""
    with pytest.raises(ContractError) as pandas_err:
        validate(frames)
    folder.mkdir()
    for name, frame in frames.items():
        pq.write_table(to_arrow(name, frame), folder / f"{name}.parquet")
    with pytest.raises(ContractError) as sql_err:
        validate_parquet(folder)
    assert str(sql_err.value) == str(pandas_err.value)
    return {(p.table, p.column, p.check) for p in pandas_err.value.problems}


def test_the_rules_across_a_row_are_checked_as_pandas_checks_them(tmp_path):
    frames = _broken_rows()
    checks = _checked_alike(frames, tmp_path / "world")
    assert checks == {
        ("clients", "close_date", "order"),
        ("clients", "close_reason", "inconsistent"),
        ("tickets", "first_response_at", "order"),
        ("tickets", "resolved_at", "order"),
        ("interventions", "unit_id", "unknown_branch"),
        ("interventions", "end_date", "order"),
    }


def test_the_optional_outreach_table_is_checked_as_pandas_checks_it(tmp_path):
    """``outreach.parquet``, when the folder holds it, meets the same rules in DuckDB as in
    pandas: an unknown client, a duplicate (campaign, client), an arm outside the contract's
    and a contact after the extract's last month (March 2024) are each found."""
    frames = valid_frames()
    frames["outreach"] = pd.DataFrame(
        {
            "campaign_id": ["RC202402", "RC202402", "RC202403", "RC202403"],
            "client_id": ["c1", "c1", "c9", "c2"],
            "contacted_at": pd.to_datetime(
                ["2024-02-05 10:00", "2024-02-06 10:00", "2024-03-04 11:00", "2024-04-02 09:00"]
            ).astype("datetime64[us]"),
            "channel": ["phone", "sms", "phone", "branch"],
            "assigned": ["treatment", "holdout", "control", "treatment"],
        }
    )
    checks = _checked_alike(frames, tmp_path / "world")
    assert checks == {
        ("outreach", "client_id", "unknown_client"),
        ("outreach", "campaign_id, client_id", "duplicate_key"),
        ("outreach", "assigned", "value_set"),
        ("outreach", "contacted_at", "after_extract"),
    }
    folder = tmp_path / "world"
    # the same folder without outreach.parquet: the six tables alone meet the contract
    (folder / "outreach.parquet").unlink()
    validate_parquet(folder)
