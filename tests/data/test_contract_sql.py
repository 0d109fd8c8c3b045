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


def test_the_rules_across_a_row_are_checked_as_pandas_checks_them(tmp_path):
    frames = _broken_rows()
    with pytest.raises(ContractError) as pandas_err:
        validate(frames)
    checks = {(p.table, p.column, p.check) for p in pandas_err.value.problems}
    assert checks == {
        ("clients", "close_date", "order"),
        ("clients", "close_reason", "inconsistent"),
        ("tickets", "first_response_at", "order"),
        ("tickets", "resolved_at", "order"),
        ("interventions", "unit_id", "unknown_branch"),
        ("interventions", "end_date", "order"),
    }
    folder = tmp_path / "world"
    folder.mkdir()
    for name, frame in frames.items():
        pq.write_table(to_arrow(name, frame), folder / f"{name}.parquet")
    with pytest.raises(ContractError) as sql_err:
        validate_parquet(folder)
    assert str(sql_err.value) == str(pandas_err.value)
