"""Tests of loading and saving the contract's tables (Parquet directory, DuckDB file).

Expected frames come from ``validate`` applied to the hand-written dataset of ``conftest.py``:
whatever the storage, loading must give exactly those frames.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow
import pyarrow.parquet
import pytest

from snr_models.data import io
from snr_models.data.contract import ContractError, validate
from snr_models.data.io import load, save
from snr_models.data.tables import TABLE_NAMES, Tables
from snr_models.errors import SnrInputError

Frames = dict[str, pd.DataFrame]


@pytest.fixture
def tables(frames: Frames) -> Tables:
    return validate(frames)


def _assert_same(left: Tables, right: Tables) -> None:
    for name, frame in left.items():
        pd.testing.assert_frame_equal(getattr(right, name), frame, check_exact=True)
    assert left.content_hash() == right.content_hash()


def _write_parquet_dir(folder: Path, arrow: dict[str, pyarrow.Table]) -> Path:
    folder.mkdir()
    for name, table in arrow.items():
        pyarrow.parquet.write_table(table, folder / f"{name}.parquet")
    return folder


def _arrow(tables: Tables) -> dict[str, pyarrow.Table]:
    return {
        name: pyarrow.Table.from_pandas(frame, preserve_index=False)
        for name, frame in tables.items()
    }


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("target", ["world", "world.duckdb"])
def test_round_trip_is_exact(tables: Tables, tmp_path: Path, target: str) -> None:
    """save then load gives identical frames (dtypes, values, order) and the same hash."""
    out = save(tables, tmp_path / target)
    assert out == tmp_path / target
    _assert_same(tables, load(out))
    # No temporary siblings are left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == [target]


def test_parquet_files_use_the_contract_storage_types(tables: Tables, tmp_path: Path) -> None:
    """Dates are written as date32, nullable ints as int64 with nulls, timestamps as us."""
    folder = save(tables, tmp_path / "world")
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.parquet" for n in TABLE_NAMES)
    clients = pyarrow.parquet.read_schema(folder / "clients.parquet")
    assert clients.field("open_date").type == pyarrow.date32()
    assert clients.field("birth_year").type == pyarrow.int64()
    tickets = pyarrow.parquet.read_schema(folder / "tickets.parquet")
    assert tickets.field("created_at").type == pyarrow.timestamp("us")


def test_duckdb_file_uses_sql_types(tables: Tables, tmp_path: Path) -> None:
    """Dates are DATE, timestamps TIMESTAMP, counts BIGINT in the DuckDB file."""
    out = save(tables, tmp_path / "world.duckdb")
    with duckdb.connect(str(out), read_only=True) as con:
        types = dict(
            con.execute("SELECT column_name, column_type FROM (DESCRIBE tickets)").fetchall()
        )
        assert types["created_at"] == "TIMESTAMP"
        counts = dict(
            con.execute("SELECT column_name, column_type FROM (DESCRIBE client_months)").fetchall()
        )
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert names == set(TABLE_NAMES)
    assert types["escalated"] == "BOOLEAN"
    assert counts["month"] == "DATE"
    assert counts["trades"] == "BIGINT"


def test_format_can_be_forced_and_duckdb_is_recognised_by_header(
    tables: Tables, tmp_path: Path
) -> None:
    """A DuckDB file without a DuckDB suffix is still recognised (by its header)."""
    out = save(tables, tmp_path / "world.bin", format="duckdb")
    assert out.is_file()
    _assert_same(tables, load(out))


def test_save_replaces_an_existing_dataset(tables: Tables, frames: Frames, tmp_path: Path) -> None:
    """Saving twice to the same path keeps only the second dataset."""
    target = tmp_path / "world"
    save(tables, target)
    frames["market"] = frames["market"].assign(turnover=[1.0, 2.0, 3.0])
    second = validate(frames)
    save(second, target)
    _assert_same(second, load(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]


# --------------------------------------------------------------------------- normalisation


def test_parquet_with_other_storage_types_loads_normalised(tables: Tables, tmp_path: Path) -> None:
    """Dates as timestamp[ns], months as date32, ids dictionary-encoded, int32 counts, ms
    timestamps and extra columns: all load to the same frames as the canonical storage."""
    arrow = _arrow(tables)
    clients = arrow["clients"]
    arrow["clients"] = clients.set_column(
        clients.schema.get_field_index("open_date"),
        "open_date",
        clients["open_date"].cast(pyarrow.timestamp("ns")),
    ).set_column(
        clients.schema.get_field_index("client_id"),
        "client_id",
        clients["client_id"].dictionary_encode(),
    )
    cm = arrow["client_months"]
    arrow["client_months"] = (
        cm.set_column(1, "month", cm["month"].cast(pyarrow.date32()))
        .set_column(
            cm.schema.get_field_index("trades"), "trades", cm["trades"].cast(pyarrow.int32())
        )
        .set_column(
            cm.schema.get_field_index("logins"), "logins", cm["logins"].cast(pyarrow.uint16())
        )
        .append_column("internal_note", pyarrow.array(["x"] * cm.num_rows))
    )
    tickets = arrow["tickets"]
    arrow["tickets"] = tickets.set_column(
        tickets.schema.get_field_index("created_at"),
        "created_at",
        tickets["created_at"].cast(pyarrow.timestamp("ms")),
    ).set_column(
        tickets.schema.get_field_index("category"),
        "category",
        tickets["category"].dictionary_encode(),
    )
    surveys = arrow["surveys"]
    arrow["surveys"] = surveys.set_column(
        surveys.schema.get_field_index("nps"), "nps", surveys["nps"].cast(pyarrow.int8())
    ).set_column(surveys.schema.get_field_index("ces"), "ces", surveys["ces"].cast(pyarrow.int16()))
    folder = _write_parquet_dir(tmp_path / "world", arrow)
    # The files really do hold the alternative types.
    schema = pyarrow.parquet.read_schema(folder / "client_months.parquet")
    assert schema.field("month").type == pyarrow.date32()
    assert schema.field("trades").type == pyarrow.int32()
    assert pyarrow.types.is_dictionary(
        pyarrow.parquet.read_schema(folder / "clients.parquet").field("client_id").type
    )
    _assert_same(tables, load(folder))


def test_duckdb_with_other_storage_types_loads_normalised(tables: Tables, tmp_path: Path) -> None:
    """A DuckDB file written by hand: month as TIMESTAMP, INTEGER counts, ENUM segment,
    TIMESTAMPTZ created_at, an extra column and an extra table."""
    target = tmp_path / "hand.duckdb"
    with duckdb.connect(str(target)) as con:
        con.execute("SET TimeZone = 'Asia/Shanghai'")
        for name, frame in tables.items():
            con.register("src", frame)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM src')
            con.unregister("src")
        con.execute("ALTER TABLE client_months ALTER month TYPE TIMESTAMP")
        con.execute("ALTER TABLE client_months ALTER trades TYPE INTEGER")
        con.execute("ALTER TABLE client_months ADD COLUMN extra VARCHAR DEFAULT 'x'")
        con.execute("CREATE TYPE seg AS ENUM ('retail', 'high_net_worth', 'institutional')")
        con.execute("ALTER TABLE clients ALTER segment TYPE seg")
        con.execute("ALTER TABLE tickets ALTER created_at TYPE TIMESTAMPTZ")
        con.execute("CREATE TABLE scratch AS SELECT 1 AS x")
        types = dict(
            con.execute("SELECT column_name, column_type FROM (DESCRIBE tickets)").fetchall()
        )
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    _assert_same(tables, load(target))


def test_a_table_may_be_a_directory_of_parquet_files(tables: Tables, tmp_path: Path) -> None:
    """tickets.parquet as a directory of two part files loads as the whole table."""
    folder = save(tables, tmp_path / "world")
    (folder / "tickets.parquet").unlink()
    (folder / "tickets.parquet").mkdir()
    arrow = _arrow(tables)["tickets"]
    pyarrow.parquet.write_table(arrow.slice(0, 2), folder / "tickets.parquet" / "part-0.parquet")
    pyarrow.parquet.write_table(arrow.slice(2), folder / "tickets.parquet" / "part-1.parquet")
    _assert_same(tables, load(folder))


def test_extra_columns_are_logged_at_info(
    tables: Tables, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The names of ignored columns (not their values) are logged at INFO."""
    arrow = _arrow(tables)
    arrow["surveys"] = arrow["surveys"].append_column("free_text", pyarrow.array(["hi"] * 4))
    folder = _write_parquet_dir(tmp_path / "world", arrow)
    with caplog.at_level(logging.INFO, logger="snr_models.data"):
        loaded = load(folder)
    assert "free_text" not in loaded.surveys.columns
    messages = [r.getMessage() for r in caplog.records if "free_text" in r.getMessage()]
    assert messages and all("hi" not in m for m in messages)


# --------------------------------------------------------------------------- bad input


def test_missing_path_is_a_contract_error(tmp_path: Path) -> None:
    """A path that does not exist: one problem of table '*' naming the path."""
    with pytest.raises(ContractError) as info:
        load(tmp_path / "nowhere")
    (problem,) = info.value.problems
    assert (problem.table, problem.check) == ("*", "missing_path")
    assert "nowhere" in str(info.value)


def test_missing_table_file(tables: Tables, tmp_path: Path) -> None:
    """A Parquet directory without surveys.parquet: the surveys table is missing."""
    folder = save(tables, tmp_path / "world")
    (folder / "surveys.parquet").unlink()
    with pytest.raises(ContractError) as info:
        load(folder)
    assert [(p.table, p.check) for p in info.value.problems] == [("surveys", "missing_table")]


def test_missing_duckdb_table(tables: Tables, tmp_path: Path) -> None:
    """A DuckDB file without a market table: the market table is missing."""
    out = save(tables, tmp_path / "world.duckdb")
    with duckdb.connect(str(out)) as con:
        con.execute("DROP TABLE market")
    with pytest.raises(ContractError) as info:
        load(out)
    assert [(p.table, p.check) for p in info.value.problems] == [("market", "missing_table")]


def test_corrupt_parquet_file_is_reported_once(tables: Tables, tmp_path: Path) -> None:
    """A garbage tickets.parquet: 'unreadable' (not also 'missing table'), naming the file."""
    folder = save(tables, tmp_path / "world")
    (folder / "tickets.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ContractError) as info:
        load(folder)
    assert [(p.table, p.check) for p in info.value.problems] == [("tickets", "unreadable")]
    assert "tickets.parquet" in str(info.value)


def test_a_plain_file_is_neither_format(tmp_path: Path) -> None:
    """A text file is neither a Parquet directory nor a DuckDB file."""
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ContractError) as info:
        load(path)
    assert [(p.table, p.check) for p in info.value.problems] == [("*", "unreadable")]


def test_invalid_data_on_disk_is_rejected_with_all_problems(tables: Tables, tmp_path: Path) -> None:
    """Parquet files with csat 7 (row 2) and an extra duplicate ticket: two problems."""
    arrow = _arrow(tables)
    surveys = tables.surveys.assign(csat=[5, 2, 7, 4])
    arrow["surveys"] = pyarrow.Table.from_pandas(surveys, preserve_index=False)
    tickets = pd.concat([tables.tickets, tables.tickets.iloc[[0]]], ignore_index=True)
    arrow["tickets"] = pyarrow.Table.from_pandas(tickets, preserve_index=False)
    folder = _write_parquet_dir(tmp_path / "world", arrow)
    with pytest.raises(ContractError) as info:
        load(folder)
    found = [(p.table, p.column, p.check, p.n_rows) for p in info.value.problems]
    assert found == [
        ("tickets", "ticket_id", "duplicate_key", 2),
        ("surveys", "csat", "range", 1),
    ]
    assert info.value.problems[1].rows == [{"row": 2, "response_id": "s3", "csat": 7}]


# --------------------------------------------------------------------------- atomic save


def test_invalid_tables_are_not_written(frames: Frames, tmp_path: Path) -> None:
    """save validates first: with csat 7 nothing appears at the target."""
    frames["surveys"] = frames["surveys"].assign(csat=[7, 2, 5, 4])
    with pytest.raises(ContractError):
        save(frames, tmp_path / "world")
    assert list(tmp_path.iterdir()) == []


def test_crash_while_writing_leaves_the_old_dataset(
    tables: Tables, frames: Frames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after two of six files are written leaves the previous dataset intact."""
    target = save(tables, tmp_path / "world")
    real_write = pyarrow.parquet.write_table
    calls = []

    def failing_write(table: pyarrow.Table, where: os.PathLike) -> None:
        calls.append(where)
        if len(calls) == 3:
            raise OSError("disk full")
        real_write(table, where)

    monkeypatch.setattr(io.pyarrow.parquet, "write_table", failing_write)
    frames["market"] = frames["market"].assign(turnover=[1.0, 2.0, 3.0])
    with pytest.raises(OSError, match="disk full"):
        save(frames, target)
    monkeypatch.undo()
    _assert_same(tables, load(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]


def test_crash_while_writing_duckdb_leaves_the_old_file(
    tables: Tables, frames: Frames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure after three of six tables are in the new DuckDB file leaves the previous
    file intact and no temporary file (nor its write-ahead log) behind."""
    target = save(tables, tmp_path / "world.duckdb")
    real_quote = io._quote

    def failing_quote(identifier: str) -> str:
        if identifier == "surveys":
            raise OSError("disk full")
        return real_quote(identifier)

    frames["market"] = frames["market"].assign(turnover=[1.0, 2.0, 3.0])
    monkeypatch.setattr(io, "_quote", failing_quote)
    with pytest.raises(OSError, match="disk full"):
        save(frames, target)
    monkeypatch.undo()
    _assert_same(tables, load(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world.duckdb"]


def test_save_refuses_to_replace_a_folder_of_other_files(tables: Tables, tmp_path: Path) -> None:
    """A directory holding a non-table file is not a dataset: left alone, with an error."""
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "thesis.docx").write_text("precious")
    with pytest.raises(SnrInputError, match="thesis.docx"):
        save(tables, folder)
    assert (folder / "thesis.docx").read_text() == "precious"


def test_save_refuses_to_overwrite_a_file_that_is_not_duckdb(
    tables: Tables, tmp_path: Path
) -> None:
    """An existing non-DuckDB file at a .db path is left alone."""
    path = tmp_path / "other.db"
    path.write_text("sqlite or something else")
    with pytest.raises(SnrInputError, match="not a DuckDB file"):
        save(tables, path)
    assert path.read_text() == "sqlite or something else"
