"""Tests of the data contract: normalisation of types and every rule of DESIGN.md.

Each bad case changes one or two cells of the hand-written valid dataset of ``conftest.py``;
the expected problems (table, column, check, number of rows, first offending row) are read
off that change by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow
import pytest

from snr_models.data.contract import (
    KEYS,
    SCHEMAS,
    ContractError,
    Problem,
    arrow_schema,
    column_kinds,
    validate,
)
from snr_models.data.tables import ALL_TABLE_NAMES, TABLE_NAMES, Tables
from snr_models.errors import SnrInputError

Frames = dict[str, pd.DataFrame]


def _problems(frames: Frames) -> list[Problem]:
    with pytest.raises(ContractError) as info:
        validate(frames)
    return info.value.problems


def _set(table: str, row: int, column: str, value) -> Callable[[Frames], None]:
    def change(frames: Frames) -> None:
        frame = frames[table].copy()
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        frames[table] = frame

    return change


def _duplicate_row(table: str, row: int) -> Callable[[Frames], None]:
    def change(frames: Frames) -> None:
        frames[table] = pd.concat([frames[table], frames[table].iloc[[row]]], ignore_index=True)

    return change


# --------------------------------------------------------------------------- valid data


def test_valid_dataset_passes_with_normalised_types(frames: Frames) -> None:
    """The fixture already has the normalised dtypes, so validate returns equal frames."""
    tables = validate(frames)
    assert isinstance(tables, Tables)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(frame, frames[name])
    # The dtypes promised by Tables' docstring, spot-checked per kind.
    assert str(tables.clients["client_id"].dtype) == "str"
    assert tables.clients["open_date"].dtype == "datetime64[us]"
    assert tables.clients["birth_year"].dtype == "float64"
    assert tables.surveys["nps"].dtype == "int64"
    assert tables.tickets["escalated"].dtype == "bool"


def test_validate_accepts_a_tables_instance(frames: Frames) -> None:
    """Validating an already validated Tables gives the same content (same hash)."""
    tables = validate(frames)
    assert validate(tables).content_hash() == tables.content_hash()


def test_caller_frames_are_not_modified(frames: Frames) -> None:
    """A frame with an extra column, an int32 count and a custom index is left untouched."""
    cm = frames["client_months"].assign(note="x", trades=lambda d: d["trades"].astype("int32"))
    cm.index = cm.index + 100
    before = cm.copy(deep=True)
    frames["client_months"] = cm
    validate(frames)
    pd.testing.assert_frame_equal(cm, before)


def test_extra_columns_dropped_contract_order_kept_and_logged(
    frames: Frames, caplog: pytest.LogCaptureFixture
) -> None:
    """Columns in another order plus two extras: the result has the contract's columns only."""
    market = frames["market"]
    frames["market"] = market.assign(source="wind", comment="-")[
        ["turnover", "source", "month", "volatility", "comment", "index_return"]
    ]
    with caplog.at_level(logging.INFO, logger="snr_models.data.contract"):
        tables = validate(frames)
    assert list(tables.market.columns) == ["month", "index_return", "volatility", "turnover"]
    pd.testing.assert_frame_equal(tables.market, market)
    assert any("source" in r.getMessage() and "comment" in r.getMessage() for r in caplog.records)
    assert all(r.levelno == logging.INFO for r in caplog.records)


def test_result_has_a_fresh_range_index(frames: Frames) -> None:
    """Source index labels are not carried into the validated frames."""
    frames["tickets"] = frames["tickets"].set_axis([10, 20, 30, 40])
    tables = validate(frames)
    assert tables.tickets.index.equals(pd.RangeIndex(4))


def test_empty_optional_table_is_valid(frames: Frames) -> None:
    """A dataset with no interventions (zero rows, columns of any dtype) is valid."""
    frames["interventions"] = pd.DataFrame({c: [] for c in column_kinds("interventions")})
    tables = validate(frames)
    assert len(tables.interventions) == 0
    assert tables.interventions["start_date"].dtype == "datetime64[us]"
    assert tables.interventions["intensity"].dtype == "float64"


# --------------------------------------------------------------------------- normalisation


def test_integer_widths_and_whole_floats_become_int64(frames: Frames) -> None:
    """int32, uint8 and whole-valued float64 counts all normalise to int64, same values."""
    cm = frames["client_months"]
    frames["client_months"] = cm.assign(
        trades=cm["trades"].astype("int32"),
        logins=cm["logins"].astype("uint8"),
        margin_calls=cm["margin_calls"].astype("float64"),
        forced_liquidations=cm["forced_liquidations"].astype("Int16"),
    )
    out = validate(frames).client_months
    for col in ("trades", "logins", "margin_calls", "forced_liquidations"):
        assert out[col].dtype == "int64"
        assert out[col].tolist() == cm[col].tolist()


def test_nullable_integers_become_float_with_nan(frames: Frames) -> None:
    """ces as pandas Int8 with <NA>, or as int32 without nulls, loads as float64 (NaN for null)."""
    surveys = frames["surveys"]
    frames["surveys"] = surveys.assign(
        ces=pd.array([2, 6, None, 3], dtype="Int8"),
        speed=np.array([5, 2, 5, 4], dtype="int32"),
    )
    out = validate(frames).surveys
    assert out["ces"].dtype == "float64"
    np.testing.assert_array_equal(out["ces"].to_numpy(), [2.0, 6.0, np.nan, 3.0])
    assert out["speed"].tolist() == [5.0, 2.0, 5.0, 4.0]


def test_identifiers_as_categorical_object_or_arrow_become_str(frames: Frames) -> None:
    """Dictionary-encoded (categorical), object and Arrow-backed strings all become ``str``."""
    clients = frames["clients"]
    frames["clients"] = clients.assign(
        client_id=clients["client_id"].astype("category"),
        branch_id=clients["branch_id"].astype(object),
        segment=clients["segment"].astype(pd.ArrowDtype(pyarrow.string())),
        close_reason=pd.Series([None, "transferred", None], dtype=object),
    )
    out = validate(frames).clients
    pd.testing.assert_frame_equal(out, clients)


def test_dates_as_python_dates_arrow_dates_or_other_units_become_us(frames: Frames) -> None:
    """Python ``date`` objects, Arrow date32 and datetime64[ns]/[s] all become datetime64[us]."""
    clients = frames["clients"]
    interventions = frames["interventions"]
    frames["clients"] = clients.assign(
        open_date=[dt.date(2022, 3, 15), dt.date(2021, 7, 1), dt.date(2023, 1, 10)],
        close_date=clients["close_date"].astype("datetime64[ns]"),
    )
    frames["interventions"] = interventions.assign(
        start_date=pd.Series(
            [dt.date(2024, 2, 1), dt.date(2024, 3, 1)], dtype=pd.ArrowDtype(pyarrow.date32())
        ),
        end_date=interventions["end_date"].astype("datetime64[s]"),
    )
    tables = validate(frames)
    pd.testing.assert_frame_equal(tables.clients, clients)
    pd.testing.assert_frame_equal(tables.interventions, interventions)


def test_time_zone_aware_timestamps_become_naive_shanghai_time(frames: Frames) -> None:
    """01:30 UTC is 09:30 in Asia/Shanghai (UTC+8, no daylight saving)."""
    tickets = frames["tickets"]
    frames["tickets"] = tickets.assign(
        created_at=tickets["created_at"].dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    )
    assert frames["tickets"]["created_at"].iloc[0].hour == 1
    out = validate(frames).tickets
    pd.testing.assert_series_equal(out["created_at"], tickets["created_at"])


def test_booleans_as_nullable_boolean_without_nulls(frames: Frames) -> None:
    """A pandas ``boolean`` column with no <NA> loads as plain bool."""
    tickets = frames["tickets"]
    frames["tickets"] = tickets.assign(escalated=tickets["escalated"].astype("boolean"))
    assert validate(frames).tickets["escalated"].dtype == "bool"


def test_all_null_nullable_column_of_any_dtype_is_accepted(frames: Frames) -> None:
    """A column with no values (e.g. ces all None, object dtype) carries no wrong type."""
    frames["surveys"] = frames["surveys"].assign(ces=[None] * 4)
    out = validate(frames).surveys
    assert out["ces"].dtype == "float64"
    assert out["ces"].isna().all()


# --------------------------------------------------------------------------- bad cases

# (description, change, table, column, check, n_rows, first offending row label)
BAD_CASES = [
    ("missing table", lambda f: f.pop("market"), "market", "*", "missing_table", 0, None),
    (
        "missing column",
        lambda f: f.update(clients=f["clients"].drop(columns="segment")),
        "clients",
        "segment",
        "missing_column",
        0,
        None,
    ),
    (
        "wrong type: text in an int column",
        lambda f: f.update(surveys=f["surveys"].assign(nps=["9", "3", "10", "7"])),
        "surveys",
        "nps",
        "dtype",
        4,
        0,
    ),
    (
        "wrong type: one integer among text identifiers",
        _set("tickets", 2, "client_id", 3),
        "tickets",
        "client_id",
        "dtype",
        1,
        2,
    ),
    (
        "wrong type: fractional csat",
        _set("surveys", 1, "csat", 4.5),
        "surveys",
        "csat",
        "dtype",
        1,
        1,
    ),
    (
        "wrong type: text in a date column",
        _set("clients", 0, "open_date", "2022-03-15"),
        "clients",
        "open_date",
        "dtype",
        1,
        0,
    ),
    (
        "wrong type: text flags",
        lambda f: f.update(tickets=f["tickets"].assign(reopened=["no"] * 4)),
        "tickets",
        "reopened",
        "dtype",
        4,
        0,
    ),
    (
        "wrong type: number stored as text",
        lambda f: f.update(market=f["market"].assign(turnover=["8.1e11", "9.4e11", "9.9e11"])),
        "market",
        "turnover",
        "dtype",
        3,
        0,
    ),
    (
        "duplicate client",
        _duplicate_row("clients", 0),
        "clients",
        "client_id",
        "duplicate_key",
        2,
        0,
    ),
    (
        "duplicate client month",
        _duplicate_row("client_months", 4),
        "client_months",
        "client_id, month",
        "duplicate_key",
        2,
        4,
    ),
    (
        "duplicate ticket",
        _duplicate_row("tickets", 1),
        "tickets",
        "ticket_id",
        "duplicate_key",
        2,
        1,
    ),
    (
        "duplicate response",
        _duplicate_row("surveys", 3),
        "surveys",
        "response_id",
        "duplicate_key",
        2,
        3,
    ),
    (
        "duplicate intervention",
        _duplicate_row("interventions", 0),
        "interventions",
        "intervention_id",
        "duplicate_key",
        2,
        0,
    ),
    (
        "duplicate market month",
        _duplicate_row("market", 2),
        "market",
        "month",
        "duplicate_key",
        2,
        2,
    ),
    (
        "null created_at",
        _set("tickets", 3, "created_at", None),
        "tickets",
        "created_at",
        "null",
        1,
        3,
    ),
    (
        "null identifier",
        _set("surveys", 2, "client_id", None),
        "surveys",
        "client_id",
        "null",
        1,
        2,
    ),
    (
        "null count",
        _set("client_months", 5, "logins", np.nan),
        "client_months",
        "logins",
        "null",
        1,
        5,
    ),
    (
        "null flag",
        _set("client_months", 7, "dormant", None),
        "client_months",
        "dormant",
        "null",
        1,
        7,
    ),
    ("null segment", _set("clients", 1, "segment", None), "clients", "segment", "null", 1, 1),
    ("csat 7", _set("surveys", 0, "csat", 7), "surveys", "csat", "range", 1, 0),
    ("csat 0", _set("surveys", 0, "csat", 0), "surveys", "csat", "range", 1, 0),
    ("nps 11", _set("surveys", 2, "nps", 11), "surveys", "nps", "range", 1, 2),
    ("nps -1", _set("surveys", 2, "nps", -1), "surveys", "nps", "range", 1, 2),
    ("ces 8", _set("surveys", 3, "ces", 8.0), "surveys", "ces", "range", 1, 3),
    ("ces 0", _set("surveys", 3, "ces", 0.0), "surveys", "ces", "range", 1, 3),
    ("rating 6", _set("surveys", 1, "speed", 6.0), "surveys", "speed", "range", 1, 1),
    ("rating 0", _set("surveys", 1, "fees_rates", 0.0), "surveys", "fees_rates", "range", 1, 1),
    (
        "negative balance",
        _set("client_months", 2, "financing_balance", -1.0),
        "client_months",
        "financing_balance",
        "range",
        1,
        2,
    ),
    (
        "negative short balance",
        _set("client_months", 6, "short_balance", -0.01),
        "client_months",
        "short_balance",
        "range",
        1,
        6,
    ),
    (
        "negative margin calls",
        _set("client_months", 0, "margin_calls", -1),
        "client_months",
        "margin_calls",
        "range",
        1,
        0,
    ),
    (
        "infinite collateral",
        _set("client_months", 3, "collateral_value", np.inf),
        "client_months",
        "collateral_value",
        "not_finite",
        1,
        3,
    ),
    ("sla_hours 0", _set("tickets", 0, "sla_hours", 0.0), "tickets", "sla_hours", "range", 1, 0),
    (
        "intensity 0",
        _set("interventions", 0, "intensity", 0.0),
        "interventions",
        "intensity",
        "range",
        1,
        0,
    ),
    (
        "intensity 1.5",
        _set("interventions", 1, "intensity", 1.5),
        "interventions",
        "intensity",
        "range",
        1,
        1,
    ),
    ("segment vip", _set("clients", 2, "segment", "vip"), "clients", "segment", "value_set", 1, 2),
    ("risk C6", _set("clients", 0, "risk_level", "C6"), "clients", "risk_level", "value_set", 1, 0),
    (
        "close_reason moved",
        _set("clients", 1, "close_reason", "moved"),
        "clients",
        "close_reason",
        "value_set",
        1,
        1,
    ),
    (
        "category",
        _set("tickets", 1, "category", "billing"),
        "tickets",
        "category",
        "value_set",
        1,
        1,
    ),
    ("channel", _set("tickets", 3, "channel", "email"), "tickets", "channel", "value_set", 1, 3),
    ("trigger", _set("surveys", 0, "trigger", "random"), "surveys", "trigger", "value_set", 1, 0),
    (
        "unit_type region",
        _set("interventions", 0, "unit_type", "region"),
        "interventions",
        "unit_type",
        "value_set",
        1,
        0,
    ),
    (
        "empty branch id",
        _set("clients", 2, "branch_id", ""),
        "clients",
        "branch_id",
        "empty_text",
        1,
        2,
    ),
    (
        "birth year 1850",
        _set("clients", 0, "birth_year", 1850.0),
        "clients",
        "birth_year",
        "range",
        1,
        0,
    ),
    (
        "resolved before created",
        _set("tickets", 1, "resolved_at", pd.Timestamp("2024-01-20 13:59")),
        "tickets",
        "resolved_at",
        "order",
        1,
        1,
    ),
    (
        "first response before created",
        _set("tickets", 2, "first_response_at", pd.Timestamp("2024-02-03 10:00")),
        "tickets",
        "first_response_at",
        "order",
        1,
        2,
    ),
    (
        "closed before opened",
        _set("clients", 1, "close_date", pd.Timestamp("2021-06-30")),
        "clients",
        "close_date",
        "order",
        1,
        1,
    ),
    (
        "intervention ends before it starts",
        _set("interventions", 1, "end_date", pd.Timestamp("2024-02-29")),
        "interventions",
        "end_date",
        "order",
        1,
        1,
    ),
    (
        "close_reason without close_date",
        _set("clients", 0, "close_reason", "closed"),
        "clients",
        "close_reason",
        "inconsistent",
        1,
        0,
    ),
    (
        "survey of unknown client",
        _set("surveys", 1, "client_id", "c9"),
        "surveys",
        "client_id",
        "unknown_client",
        1,
        1,
    ),
    (
        "ticket of unknown client",
        _set("tickets", 0, "client_id", "c9"),
        "tickets",
        "client_id",
        "unknown_client",
        1,
        0,
    ),
    (
        "client month of unknown client",
        _set("client_months", 7, "client_id", "c9"),
        "client_months",
        "client_id",
        "unknown_client",
        1,
        7,
    ),
    (
        "month not a first day",
        _set("client_months", 1, "month", pd.Timestamp("2024-02-15")),
        "client_months",
        "month",
        "month_start",
        1,
        1,
    ),
    (
        "market month not a first day",
        _set("market", 2, "month", pd.Timestamp("2024-03-31")),
        "market",
        "month",
        "month_start",
        1,
        2,
    ),
    (
        "date with a time of day",
        _set("clients", 2, "open_date", pd.Timestamp("2023-01-10 10:00")),
        "clients",
        "open_date",
        "not_a_date",
        1,
        2,
    ),
    (
        "intervention on an unknown branch",
        _set("interventions", 0, "unit_id", "b9"),
        "interventions",
        "unit_id",
        "unknown_branch",
        1,
        0,
    ),
    (
        "firm-wide intervention with a branch id",
        _set("interventions", 1, "unit_id", "b1"),
        "interventions",
        "unit_id",
        "unknown_branch",
        1,
        1,
    ),
    (
        "branch intervention on '*'",
        _set("interventions", 0, "unit_id", "*"),
        "interventions",
        "unit_id",
        "unknown_branch",
        1,
        0,
    ),
]


@pytest.mark.parametrize(
    ("change", "table", "column", "check", "n_rows", "first_row"),
    [case[1:] for case in BAD_CASES],
    ids=[case[0] for case in BAD_CASES],
)
def test_each_bad_case_is_the_one_problem_reported(
    frames: Frames, change, table, column, check, n_rows, first_row
) -> None:
    """One change to the valid dataset gives exactly one problem, found by hand."""
    change(frames)
    problems = _problems(frames)
    assert [(p.table, p.column, p.check) for p in problems] == [(table, column, check)]
    problem = problems[0]
    assert problem.n_rows == n_rows
    if first_row is None:
        assert problem.rows == []
    else:
        assert problem.rows[0]["row"] == first_row
        # The sample shows the key columns and the offending column.
        assert set(KEYS[table]) <= set(problem.rows[0])
        for col in column.split(", "):
            assert col in problem.rows[0]
        assert problem.message


def test_sample_shows_the_offending_values(frames: Frames) -> None:
    """csat 7 on row 0 of surveys: the sample is that row's key and value."""
    _set("surveys", 0, "csat", 7)(frames)
    (problem,) = _problems(frames)
    assert problem.rows == [{"row": 0, "response_id": "s1", "csat": 7}]


def test_order_problem_shows_both_timestamps(frames: Frames) -> None:
    """A ticket resolved before it was created shows created_at and resolved_at."""
    _set("tickets", 1, "resolved_at", pd.Timestamp("2024-01-20 13:59"))(frames)
    (problem,) = _problems(frames)
    assert problem.rows == [
        {
            "row": 1,
            "ticket_id": "t2",
            "created_at": pd.Timestamp("2024-01-20 14:00"),
            "resolved_at": pd.Timestamp("2024-01-20 13:59"),
        }
    ]


def test_sample_is_at_most_five_rows_of_all_counted(frames: Frames) -> None:
    """All 8 client_months rows get a negative balance: 8 counted, the first 5 shown."""
    cm = frames["client_months"]
    frames["client_months"] = cm.assign(collateral_value=-cm["collateral_value"] - 1)
    (problem,) = _problems(frames)
    assert problem.n_rows == 8
    assert [r["row"] for r in problem.rows] == [0, 1, 2, 3, 4]
    assert "first 5 shown" in str(problem)


def test_row_labels_are_the_source_index(frames: Frames) -> None:
    """With index labels 100..103, the bad third ticket is reported as row 102."""
    frames["tickets"] = frames["tickets"].set_axis([100, 101, 102, 103])
    frames["tickets"].loc[102, "channel"] = "fax"
    (problem,) = _problems(frames)
    assert problem.rows[0]["row"] == 102


def test_one_error_lists_every_problem_at_once(frames: Frames) -> None:
    """Six independent changes in five tables: one error, six problems, in contract order."""
    frames.pop("market")
    _set("clients", 2, "segment", "vip")(frames)
    _set("client_months", 2, "financing_balance", -5.0)(frames)
    _set("tickets", 0, "resolved_at", pd.Timestamp("2024-01-05 09:00"))(frames)
    _set("surveys", 3, "csat", 7)(frames)
    _set("surveys", 1, "client_id", "c9")(frames)
    problems = _problems(frames)
    assert [(p.table, p.column, p.check) for p in problems] == [
        ("clients", "segment", "value_set"),
        ("client_months", "financing_balance", "range"),
        ("tickets", "resolved_at", "order"),
        ("surveys", "client_id", "unknown_client"),
        ("surveys", "csat", "range"),
        ("market", "*", "missing_table"),
    ]


def test_a_wrong_type_does_not_hide_other_columns_problems(frames: Frames) -> None:
    """nps as text (a type problem) and csat 7 (a range problem) are both reported."""
    frames["surveys"] = frames["surveys"].assign(nps=["9", "3", "10", "7"])
    _set("surveys", 0, "csat", 7)(frames)
    checks = [(p.column, p.check) for p in _problems(frames)]
    assert checks == [("nps", "dtype"), ("csat", "range")]


def test_null_in_a_count_and_out_of_range_are_both_reported(frames: Frames) -> None:
    """logins with one NaN and one -3: a null problem and a range problem on the same column."""
    _set("client_months", 0, "logins", np.nan)(frames)
    _set("client_months", 1, "logins", -3)(frames)
    problems = _problems(frames)
    assert sorted((p.check, p.rows[0]["row"]) for p in problems) == [("null", 0), ("range", 1)]


def test_error_text_is_readable_and_has_no_internal_jargon(frames: Frames) -> None:
    """The message names table, column, what is wrong, how many rows, and the sample."""
    _set("surveys", 0, "csat", 7)(frames)
    _duplicate_row("clients", 0)(frames)
    frames["tickets"] = frames["tickets"].assign(reopened=["no"] * 4)
    with pytest.raises(ContractError) as info:
        validate(frames)
    text = str(info.value)
    assert text == (
        "The data do not meet the contract (3 problems):\n"
        "- clients.client_id: duplicate key: several rows share the same (client_id); 2 rows:\n"
        "      row 0: client_id='c1'\n"
        "      row 3: client_id='c1'\n"
        "- tickets.reopened: wrong type: expected true/false values, found text; 4 rows:\n"
        "      row 0: ticket_id='t1', reopened='no'\n"
        "      row 1: ticket_id='t2', reopened='no'\n"
        "      row 2: ticket_id='t3', reopened='no'\n"
        "      row 3: ticket_id='t4', reopened='no'\n"
        "- surveys.csat: value out of range (must be from 1 to 5); 1 row:\n"
        "      row 0: response_id='s1', csat=7"
    )
    for jargon in ("pandera", "Schema", "Traceback", "failure_case", "dtype("):
        assert jargon not in text


def test_contract_error_is_an_input_error_and_pickles() -> None:
    """The CLI catches SnrInputError (exit code 2); workers may pickle the error."""
    err = ContractError([Problem("clients", "*", "missing_table", [], 0, "table is missing")])
    assert isinstance(err, SnrInputError)
    assert isinstance(err, ValueError)
    copy = pickle.loads(pickle.dumps(err))
    assert copy.problems == err.problems
    assert str(copy) == str(err)


def test_not_a_dataframe_is_reported(frames: Frames) -> None:
    """A table given as a list is a problem of that table, not a crash."""
    frames["market"] = [1, 2, 3]  # type: ignore[assignment]
    assert [(p.table, p.check) for p in _problems(frames)] == [("market", "dtype")]


def test_extra_tables_are_ignored(frames: Frames) -> None:
    """An unknown table name in the mapping is not an error."""
    frames["notes"] = pd.DataFrame({"x": [1]})
    assert validate(frames).names() == TABLE_NAMES


# --------------------------------------------------------------------------- schemas


def test_schemas_cover_the_contract_in_order() -> None:
    """SCHEMAS, column_kinds and arrow_schema agree on each table's columns and order."""
    assert tuple(SCHEMAS) == ALL_TABLE_NAMES  # the six tables, then the optional outreach
    for name in ALL_TABLE_NAMES:
        columns = list(column_kinds(name))
        assert list(SCHEMAS[name].columns) == columns
        assert arrow_schema(name).names == columns
        assert set(KEYS[name]) <= set(columns)


def test_schemas_validate_normalised_frames_directly(frames: Frames) -> None:
    """SCHEMAS can be used on their own: they accept the valid data and reject csat 7."""
    for name, frame in frames.items():
        SCHEMAS[name].validate(frame)
    bad = frames["surveys"].assign(csat=[7, 2, 5, 4])
    with pytest.raises(Exception, match="range"):
        SCHEMAS["surveys"].validate(bad)
