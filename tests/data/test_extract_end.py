"""Dates after the extract's end and empty data sets are refused; the net rate never reports
a period in which no client was observed.

The data are the hand-written valid world of ``conftest.py`` (client_months Jan-Mar 2024,
so the extract ends in March 2024), with five tickets moved to 2099 as in the attack that
found the hole.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from snr_models.data import Tables
from snr_models.data.contract import ContractError, to_arrow, validate
from snr_models.data.contract_sql import validate_parquet
from snr_models.metrics import net_rate
from tests.data.conftest import valid_frames

FUTURE = pd.Timestamp("2099-06-01 10:00")


def _future_tickets() -> dict[str, pd.DataFrame]:
    frames = valid_frames()
    tickets = frames["tickets"].copy()
    tickets["created_at"] = tickets["created_at"].astype("datetime64[us]")
    tickets.loc[0, ["created_at", "first_response_at", "resolved_at"]] = FUTURE
    frames["tickets"] = tickets
    return frames


def _write(frames: dict[str, pd.DataFrame], folder) -> object:
    """The frames as a Parquet folder, unvalidated (``save`` would refuse them)."""
    import pyarrow.parquet as pq

    folder.mkdir()
    for name, frame in frames.items():
        pq.write_table(to_arrow(name, frame), folder / f"{name}.parquet")
    return folder


def _checks(err: ContractError) -> set[tuple[str, str, str]]:
    return {(p.table, p.column, p.check) for p in err.problems}


def test_dates_after_the_extract_are_refused_in_pandas_and_duckdb(tmp_path):
    frames = _future_tickets()
    with pytest.raises(ContractError) as pandas_err:
        validate(frames)
    expected = {
        ("tickets", c, "after_extract") for c in ("created_at", "first_response_at", "resolved_at")
    }
    assert _checks(pandas_err.value) == expected
    assert "after the extract's last month (2024-03)" in str(pandas_err.value)
    # the same problems, in the same words, from the streamed DuckDB check
    folder = _write(frames, tmp_path / "world")
    with pytest.raises(ContractError) as sql_err:
        validate_parquet(folder)
    assert str(sql_err.value) == str(pandas_err.value)


def test_a_stated_extract_date_refuses_later_dates():
    frames = valid_frames()
    validate(frames)  # within client_months' last month: valid
    with pytest.raises(ContractError) as err:
        validate(frames, as_of="2024-02")
    problems = {(p.table, p.column) for p in err.value.problems}
    assert ("client_months", "month") in problems  # March rows lie after February
    assert all(p.check == "after_extract" for p in err.value.problems)


def test_an_empty_data_set_is_not_valid(tmp_path, monkeypatch, capsys):
    frames = {n: f.iloc[0:0] for n, f in valid_frames().items()}
    with pytest.raises(ContractError) as err:
        validate(frames)
    assert {("clients", "*", "empty"), ("client_months", "*", "empty")} <= _checks(err.value)
    folder = _write(frames, tmp_path / "empty")
    from snr_models.cli import main

    monkeypatch.setattr(sys, "argv", ["snr", "validate", "--data", str(folder)])
    with pytest.raises(SystemExit) as code:
        main()
    assert code.value.code == 2
    assert "holds no rows" in capsys.readouterr().err


def test_net_rate_reports_no_period_without_observed_clients():
    """Tickets in 2099 (validation skipped, as a notebook may): no row after March 2024 by
    default; with an explicit end the later periods' R and net rate are NaN, never 1 +- 0."""
    frames = _future_tickets()
    tables = validate(valid_frames())
    tickets = frames["tickets"].astype({"created_at": "datetime64[us]"})
    tables = Tables(**{**dict(tables.items()), "tickets": tickets})
    with pytest.warns(UserWarning, match="belong to no reported period"):
        monthly = net_rate(tables).to_frame()
    assert monthly["period"].max() == pd.Timestamp("2024-03-01")
    with pytest.warns(UserWarning, match="unknown"):
        later = net_rate(tables, start="2024-01", end="2024-06").to_frame()
    after = later[later["period"] > pd.Timestamp("2024-03-01")]
    assert len(after) == 3
    assert after[["R", "R_se", "net_rate", "net_rate_se"]].isna().all().all()
    observed = later[later["period"] <= pd.Timestamp("2024-03-01")]
    assert np.isfinite(observed["R"]).all()
