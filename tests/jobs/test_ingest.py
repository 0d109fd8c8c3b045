"""``snr ingest`` end to end: a simulated world's broker exports, accounts and positions in a
real PostgreSQL server, back into the contract.

The expected tables are the simulator's own (``simulate(...).tables``): the exports are that
world written the way a broker would, so ingesting them must give it back exactly. The net
rate on both is computed by ``snr netrate`` and must agree to 1e-12.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from snr_models.data import load, save
from snr_models.data.contract import ContractError
from snr_models.jobs.ingest import ingest, sidecar
from snr_models.simulate import simulate
from snr_models.simulate.exports import write_exports
from tests.lifecycle.cli import run_snr

MONTHS = ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05"]


@pytest.fixture(scope="module")
def world():
    """1,200 clients, 3 branches, 5 months (2023-01 to 2023-05)."""
    return simulate(n_clients=1200, n_branches=3, n_months=5, seed=4, truth=False)


@pytest.fixture(scope="module")
def exports(world, postgres, tmp_path_factory) -> tuple[Path, str]:
    """The world's exports, with accounts.sql and positions.sql loaded into PostgreSQL."""
    folder = write_exports(world.tables, tmp_path_factory.mktemp("broker") / "exports")
    url = postgres.create_database("warehouse")
    for script in ("accounts.sql", "positions.sql"):
        postgres.psql("warehouse", file=folder / script)
    return folder, url


@pytest.fixture
def warehouse(exports, monkeypatch) -> Path:
    """The exports folder, with ``SNR_WAREHOUSE_URL`` pointing at the loaded database."""
    folder, url = exports
    monkeypatch.setenv("SNR_WAREHOUSE_URL", url)
    return folder


def _copy(folder: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(folder, tmp_path / "exports"))


def _netrate(data: Path, out: Path, monkeypatch, capsys) -> pd.DataFrame:
    run = run_snr(["netrate", "--data", data, "--output", out], monkeypatch, capsys)
    assert run.code == 0, run.text
    return pd.read_csv(out)


def test_round_trip_through_postgresql_gives_back_the_world(
    world, warehouse, exports, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "world.duckdb"
    run = run_snr(
        ["ingest", "--sources", warehouse / "sources.yaml", "--out", out], monkeypatch, capsys
    )
    assert run.code == 0, run.text
    assert "tickets: read" in run.out and "data quality:" in run.out
    ingested = load(out)
    for name, frame in world.tables.items():
        pd.testing.assert_frame_equal(getattr(ingested, name), frame, check_exact=True)
    assert ingested.content_hash() == world.tables.content_hash()
    # the net rate agrees to 1e-12 on the ingested data and on the world itself
    reference = save(world.tables, tmp_path / "reference")
    mine = _netrate(out, tmp_path / "a.csv", monkeypatch, capsys)
    theirs = _netrate(reference, tmp_path / "b.csv", monkeypatch, capsys)
    assert mine.columns.tolist() == theirs.columns.tolist() and len(mine) == 5
    numeric = mine.select_dtypes("number").columns
    np.testing.assert_allclose(mine[numeric], theirs[numeric], rtol=0, atol=1e-12)
    # credentials appear nowhere: not in the output, the manifest, the page, the messages
    password = exports[1].split(":")[2].split("@")[0]
    assert password not in run.text
    for path in sidecar(out).rglob("*"):
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path
    manifest = yaml.safe_load((sidecar(out) / "manifest.json").read_text())
    tables = manifest["extracts"]["all"]["tables"]
    assert tables["client_months"]["rows_written"] == len(world.tables.client_months)
    assert {s["source"] for s in manifest["extracts"]["all"]["sources"]} >= {
        "sql:warehouse",
        "问卷.xlsx[问卷结果]",
        "market.csv",
    }


def _as_of_month_end(world, month: str) -> pd.DataFrame:
    """The world's tickets as known at ``month``'s end, computed here from the world: tickets
    created by then, answers and resolutions after it not yet known."""
    end = pd.Timestamp(month) + pd.offsets.MonthBegin()
    tickets = world.tables.tickets
    known = tickets[tickets["created_at"] < end].reset_index(drop=True)
    for column in ("first_response_at", "resolved_at"):
        known[column] = known[column].where(known[column] < end)
    return known


@pytest.mark.parametrize("name", ["world", "world.duckdb"], ids=["parquet", "duckdb"])
def test_months_one_by_one_then_a_month_again(world, warehouse, tmp_path, name):
    out = tmp_path / name
    sources = warehouse / "sources.yaml"
    for month in MONTHS:
        result = ingest(sources, out, month=month)
        assert result.tables["tickets"]["rows_replaced"] == 0
        # as of the month's end: no date after it (the contract), later answers withheld
        expected = _as_of_month_end(world, month)
        pd.testing.assert_frame_equal(load(out).tickets, expected, check_exact=True)
    assert (sidecar(out) / "pending.parquet").exists()  # May's later answers wait there
    # the answers withheld at each month's end came in with the later months: the whole
    # world, without ingesting an earlier month again
    assert load(out).content_hash() == world.tables.content_hash()
    march = ingest(sources, out, month="2023-03")  # an earlier month again, out of order
    assert march.tables["tickets"]["rows_replaced"] == march.tables["tickets"]["rows_written"] > 0
    assert load(out).content_hash() == world.tables.content_hash()
    in_may = (world.tables.tickets["created_at"] >= "2023-05-01").sum()
    ingest(sources, out, month="2023-05")
    again = ingest(sources, out, month="2023-05")
    assert (
        again.tables["tickets"]["rows_replaced"]
        == in_may
        == again.tables["tickets"]["rows_written"]
    )
    assert load(out).content_hash() == world.tables.content_hash()  # replaced, not doubled
    # the same extract twice: every column's distribution unchanged, PSI exactly 0
    assert again.psi["client_months"] and again.psi["tickets"]
    assert all(v == 0.0 for table in again.psi.values() for v in table.values())
    manifest = yaml.safe_load(again.manifest.read_text())
    assert list(manifest["extracts"]) == MONTHS and len(manifest["runs"]) == 8
    page = again.quality.read_text()
    assert 'id="table-tickets"' in page and 'id="months"' in page
    assert "http://" not in page and "https://" not in page  # self-contained
    assert "2023-05" in page


def _edit_csv(path: Path, edit) -> None:
    path.write_text(edit(path.read_text(encoding="gbk")), encoding="gbk")


def test_a_bad_row_goes_to_quarantine_below_the_threshold(world, warehouse, tmp_path):
    folder = _copy(warehouse, tmp_path)
    march = folder / "tickets" / "工单_2023-03.csv"
    lines = march.read_text(encoding="gbk").splitlines(keepends=True)
    ticket = lines[4].split(",")[0]
    fields = lines[4].split(",")
    fields[2] = "2023/3/45 10:00:00"
    lines[4] = ",".join(fields)
    march.write_text("".join(lines), encoding="gbk")
    result = ingest(folder / "sources.yaml", tmp_path / "world")
    assert result.tables["tickets"]["rows_rejected"] == 1
    quarantine = pd.read_csv(result.quarantine, encoding="utf-8-sig")
    row = quarantine.iloc[0]
    assert len(quarantine) == 1
    assert (row["table"], row["source"], row["line"]) == ("tickets", "tickets/工单_2023-03.csv", 5)
    assert row["column"] == "created_at (source column 创建时间)"
    assert row["value"] == "2023/3/45 10:00:00" and "not a date" in row["reason"]
    tickets = load(tmp_path / "world").tickets
    assert ticket not in set(tickets["ticket_id"])
    assert len(tickets) == len(world.tables.tickets) - 1


def test_a_contract_error_names_the_source_file_and_line(warehouse, tmp_path):
    """Two tickets of March's file with one id: the duplicate key is found after mapping, in
    the merged dataset, and reported at the lines of the file (header = line 1)."""
    folder = _copy(warehouse, tmp_path)
    march = folder / "tickets" / "工单_2023-03.csv"
    lines = march.read_text(encoding="gbk").splitlines(keepends=True)
    first = lines[3].split(",")[0]
    fields = lines[6].split(",")
    fields[0] = first
    lines[6] = ",".join(fields)
    march.write_text("".join(lines), encoding="gbk")
    out = tmp_path / "world.duckdb"
    with pytest.raises(ContractError) as err:
        ingest(folder / "sources.yaml", out)
    text = str(err.value)
    assert "tickets.ticket_id: duplicate key" in text
    assert f"row tickets/工单_2023-03.csv line 4: ticket_id={first!r}" in text
    assert f"row tickets/工单_2023-03.csv line 7: ticket_id={first!r}" in text
    assert not out.exists()


def _bad_date_format(folder: Path) -> None:
    path = folder / "sources.yaml"
    sources = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources["tables"]["tickets"]["dates"]["created_at"] = "%Y-%m-%d %H:%M:%S"
    path.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")


def _stated_utf8(folder: Path) -> None:
    path = folder / "sources.yaml"
    sources = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources["tables"]["tickets"]["encoding"] = "utf-8"
    path.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")


def _unknown_channel(folder: Path) -> None:
    _edit_csv(folder / "tickets" / "工单_2023-02.csv", lambda t: t.replace(",电话,", ",微信,"))


def _a_month_twice(folder: Path) -> None:
    """March's file delivered a second time in the same extract, as a copy."""
    march = folder / "tickets" / "工单_2023-03.csv"
    shutil.copyfile(march, march.with_name("工单_2023-03 (1).csv"))


def _missing_column(folder: Path) -> None:
    _edit_csv(folder / "tickets" / "工单_2023-04.csv", lambda t: t.replace("渠道", "来源", 1))


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (
            _unknown_channel,
            [
                "tickets/工单_2023-02.csv (table tickets), column channel (source column 渠道)",
                "unknown '微信' (",
                "add them under tables.tickets.values.channel",
            ],
        ),
        (
            _stated_utf8,
            ["tickets/工单_2023-01.csv: line 1 is not valid utf-8 (stated encoding)"],
        ),
        (
            _missing_column,
            ["tickets/工单_2023-04.csv (table tickets): column(s) 渠道 not found", "来源"],
        ),
        (
            _bad_date_format,
            [
                "tickets: ",
                "rows rejected (100.00%)",
                "created_at (source column 创建时间): not a date in format %Y-%m-%d %H:%M:%S",
                "tickets/工单_2023-01.csv line 2",
                "nothing was written",
            ],
        ),
        (
            _a_month_twice,
            [
                "the same extract delivered twice in one ingest",
                "tables.tickets: tickets/工单_2023-03 (1).csv and tickets/工单_2023-03.csv "
                "have the same contents",
                "ingesting a month again in a later run replaces it",
            ],
        ),
    ],
    ids=["unknown-code", "bad-encoding", "missing-column", "unparseable-date", "month-twice"],
)
def test_a_bad_source_exits_2_naming_source_column_and_rows(
    warehouse, tmp_path, monkeypatch, capsys, breakage, expected
):
    folder = _copy(warehouse, tmp_path)
    breakage(folder)
    out = tmp_path / "world.duckdb"
    run = run_snr(
        ["ingest", "--sources", folder / "sources.yaml", "--out", out], monkeypatch, capsys
    )
    assert run.code == 2, run.text
    text = " ".join(run.err.split())  # rich wraps long lines
    for part in expected:
        assert " ".join(part.split()) in text, (part, run.err)
    assert "Traceback" not in run.text
    assert not out.exists()


def test_a_database_that_is_down_exits_69_without_the_password(
    warehouse, tmp_path, monkeypatch, capsys
):
    from tests.postgres import _free_port

    closed = f"postgresql+psycopg://snr:pw-must-not-leak@127.0.0.1:{_free_port()}/warehouse"
    monkeypatch.setenv("SNR_WAREHOUSE_URL", closed)
    out = tmp_path / "world.duckdb"
    run = run_snr(
        ["ingest", "--sources", warehouse / "sources.yaml", "--out", out], monkeypatch, capsys
    )
    assert run.code == 69, run.text
    text = " ".join(run.err.split())
    assert "tables.clients: database 'warehouse'" in text and "cannot be reached" in text
    assert "SNR_WAREHOUSE_URL" in text and "pw-must-not-leak" not in run.text
    assert not out.exists()
    monkeypatch.delenv("SNR_WAREHOUSE_URL")
    run = run_snr(
        ["ingest", "--sources", warehouse / "sources.yaml", "--out", out], monkeypatch, capsys
    )
    assert run.code == 2 and "environment variable SNR_WAREHOUSE_URL" in " ".join(run.err.split())


def test_a_second_ingest_meanwhile_exits_75(warehouse, tmp_path, monkeypatch, capsys):
    from snr_models.jobs.lock import acquire

    out = tmp_path / "world"
    held = acquire(sidecar(out) / "lock", "another")
    try:
        run = run_snr(
            ["ingest", "--sources", warehouse / "sources.yaml", "--out", out, "--month", "2023-01"],
            monkeypatch,
            capsys,
        )
    finally:
        held.release()
    assert run.code == 75 and "another ingest holds the lock" in " ".join(run.err.split())
    assert not out.exists()


def test_snr_simulate_exports_then_ingest_gives_the_simulated_world(tmp_path, monkeypatch, capsys):
    """The CLI path of the README without a database: --exports-database csv."""
    world, exports = tmp_path / "world", tmp_path / "exports"
    common = ["--clients", "300", "--branches", "2", "--months", "3", "--seed", "2"]
    run = run_snr(["simulate", *common, "--out", world], monkeypatch, capsys)
    assert run.code == 0, run.text
    run = run_snr(
        ["simulate", *common, "--exports", exports, "--exports-database", "csv"],
        monkeypatch,
        capsys,
    )
    assert run.code == 0, run.text
    assert (exports / "accounts.csv").exists() and not (exports / "accounts.sql").exists()
    out = tmp_path / "ingested"
    run = run_snr(
        ["ingest", "--sources", exports / "sources.yaml", "--out", out], monkeypatch, capsys
    )
    assert run.code == 0, run.text
    assert load(out).content_hash() == load(world).content_hash()
    run = run_snr(["simulate", *common], monkeypatch, capsys)
    assert run.code == 2 and "--exports" in run.err


def test_an_oracle_url_without_its_driver_says_what_to_install(
    warehouse, tmp_path, monkeypatch, capsys
):
    """Oracle goes through SQLAlchemy's ``oracle+oracledb`` dialect; without python-oracledb
    (made unimportable here) the ingest exits 2 naming the driver, and the password never
    shows. No Oracle server is tested against."""
    import sys

    monkeypatch.setitem(sys.modules, "oracledb", None)  # import oracledb raises ImportError
    url = "oracle+oracledb://snr:pw-must-not-leak@127.0.0.1:1521/?service_name=DW"
    monkeypatch.setenv("SNR_WAREHOUSE_URL", url)
    out = tmp_path / "world.duckdb"
    run = run_snr(
        ["ingest", "--sources", warehouse / "sources.yaml", "--out", out], monkeypatch, capsys
    )
    assert run.code == 2, run.text
    text = " ".join(run.err.split())
    assert "tables.clients: database 'warehouse'" in text
    assert "'oracle+oracledb' is not installed" in text and "pip install oracledb" in text
    assert "pw-must-not-leak" not in run.text and not out.exists()


@pytest.fixture(scope="module")
def campaign_exports(tmp_path_factory):
    """A small world with retention campaigns (from its second month), 4 months, as a
    broker's exports without a database (accounts and positions as GBK CSV)."""
    world = simulate(
        n_clients=800,
        n_branches=2,
        n_months=4,
        seed=3,
        truth=False,
        campaigns={"enabled": True, "first_month": 2},
    )
    assert world.tables.outreach is not None and len(world.tables.outreach)
    folder = tmp_path_factory.mktemp("campaigns") / "exports"
    write_exports(world.tables, folder, database="csv", surveys="csv")
    return world, folder


def test_outreach_round_trips_through_exports_and_ingest(
    campaign_exports, tmp_path, monkeypatch, capsys
):
    """The expected outreach table is the simulator's own: the exports (Chinese headers and
    codes, GBK, a file per month) ingested give it back, whole or month by month."""
    world, folder = campaign_exports
    header = (folder / "outreach" / "回访_2023-03.csv").read_text(encoding="gbk").splitlines()[0]
    assert header == "活动编号,客户号,回访时间,回访渠道,分组"
    out = tmp_path / "world"
    run = run_snr(
        ["ingest", "--sources", folder / "sources.yaml", "--out", out], monkeypatch, capsys
    )
    assert run.code == 0, run.text
    ingested = load(out)
    pd.testing.assert_frame_equal(ingested.outreach, world.tables.outreach, check_exact=True)
    assert ingested.content_hash() == world.tables.content_hash()
    assert (out / "outreach.parquet").exists()
    monthly = tmp_path / "monthly.duckdb"
    for month in MONTHS[:4]:
        result = ingest(folder / "sources.yaml", monthly, month=month)
        in_month = world.tables.outreach["contacted_at"].dt.strftime("%Y-%m") == month
        assert result.tables["outreach"]["rows_written"] == in_month.sum()
    assert load(monthly).content_hash() == world.tables.content_hash()
    # a month's extract without an outreach entry keeps the dataset's outreach as it is
    sources = yaml.safe_load((folder / "sources.yaml").read_text(encoding="utf-8"))
    del sources["tables"]["outreach"]
    without = tmp_path / "without.yaml"
    without.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    (tmp_path / "positions").symlink_to(folder / "positions")
    for name in ("accounts.csv", "market.csv", "推广计划.xlsx", "tickets", "surveys"):
        (tmp_path / name).symlink_to(folder / name)
    result = ingest(without, monthly, month="2023-04")
    assert "outreach" not in result.tables
    assert load(monthly).content_hash() == world.tables.content_hash()


def test_an_unknown_outreach_code_exits_2_naming_source_column_and_rows(
    campaign_exports, tmp_path, monkeypatch, capsys
):
    _, exports = campaign_exports
    folder = _copy(exports, tmp_path)
    march = folder / "outreach" / "回访_2023-03.csv"
    lines = march.read_text(encoding="gbk").splitlines(keepends=True)
    lines[2] = lines[2].replace(",对照组", ",观察组").replace(",干预组", ",观察组")
    march.write_text("".join(lines), encoding="gbk")
    out = tmp_path / "world"
    run = run_snr(
        ["ingest", "--sources", folder / "sources.yaml", "--out", out], monkeypatch, capsys
    )
    assert run.code == 2, run.text
    text = " ".join(run.err.split())
    assert (
        "outreach/回访_2023-03.csv (table outreach), column assigned (source column 分组)" in text
    )
    assert "unknown '观察组' (1 row); first at line(s) 3" in text
    assert "add them under tables.outreach.values.assigned" in text
    assert "Traceback" not in run.text and not out.exists()
