"""The pieces of ``snr ingest``: sources.yaml validation, encodings, units, dates, code maps.

Expected values are written out by hand from the stated formats (a calendar date, a decimal
point moved by hand) or from Python's own decimal arithmetic (``decimal.Decimal``).
"""

from __future__ import annotations

import decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from snr_models.data.ingest import IngestError, detect_encoding, load_sources
from snr_models.data.ingest.config import DateSpec
from snr_models.data.ingest.convert import map_chunk, parse_dates, parse_number, shift_decimal
from snr_models.data.ingest.read import Chunk, read_source
from snr_models.errors import SnrInputError
from snr_models.simulate.exports import _sources


def _write(tmp_path: Path, sources: dict) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(sources, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def sources() -> dict:
    """The sources.yaml the simulator writes beside its exports (CSV variant)."""
    return _sources("csv")


def test_the_simulators_sources_file_is_valid(tmp_path, sources):
    config = load_sources(_write(tmp_path, sources))
    assert config.base == tmp_path.resolve()
    assert config.tables["tickets"].units == {"sla_hours": "minutes"}


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda s: s["tables"].pop("market"), "tables.market: missing"),
        (
            lambda s: s["tables"]["tickets"]["columns"].update({"渠道": "chanel"}),
            "tables.tickets.columns.渠道: 'chanel' is not a column of tickets",
        ),
        (
            lambda s: s["tables"]["tickets"]["units"].update({"sla_hours": "minute"}),
            "tables.tickets.units.sla_hours: unknown unit 'minute'",
        ),
        (
            lambda s: s["tables"]["tickets"].update({"encoding": "gbkk"}),
            "tables.tickets.encoding",
        ),
        (
            lambda s: s["tables"]["market"].update({"sql": "SELECT 1"}),
            "give exactly one of 'path'",
        ),
        (
            lambda s: s["tables"]["market"]["dates"].update({"turnover": "%Y"}),
            "tables.market.dates.turnover: not a date or timestamp column",
        ),
        (lambda s: s.update({"quarantine_threshold": 2}), "quarantine_threshold"),
        (
            lambda s: s["tables"]["clients"]["columns"].pop("营业部"),
            "tables.clients.columns: no source column maps to branch_id",
        ),
    ],
)
def test_a_bad_sources_file_names_the_key(tmp_path, sources, edit, key):
    edit(sources)
    with pytest.raises(SnrInputError) as err:
        load_sources(_write(tmp_path, sources))
    assert key in str(err.value) and "sources.yaml" in str(err.value)


def test_credentials_in_the_file_are_refused(tmp_path, sources):
    sources["databases"] = {"dw": {"url": "postgresql://u:secret@h/db"}}
    with pytest.raises(SnrInputError, match="databases.dw: credentials do not belong") as err:
        load_sources(_write(tmp_path, sources))
    assert "secret" not in str(err.value)


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(min_value=0, max_value=1e13, allow_nan=False)
    | st.floats(min_value=-1.0, max_value=1.0, allow_nan=False),
    shift=st.sampled_from([-8, -4, -2, 0, 2, 3]),
)
def test_a_unit_change_on_the_text_gives_back_the_same_double(x, shift):
    """A value written in 万元 (shift -4) or percent (shift 2) reads back as the same double:
    the text is Python's exact decimal of repr(x) with the point moved."""
    text = format(decimal.Decimal(repr(x)).scaleb(shift), "f")
    values, bad = shift_decimal(pa.array([text]), -shift)
    assert not bad[0]
    assert values[0] == x


def test_numbers_in_units():
    values, bad = parse_number(pa.array(["5.5", "1,234.5", "abc", None, "-0.25", "1e2"]), "percent")
    expected = [0.055, 12.345, np.nan, np.nan, -0.0025, 1.0]  # by hand: the point moved by two
    np.testing.assert_array_equal(values, expected)
    assert bad.tolist() == [False, False, True, False, False, False]
    hours, _ = parse_number(pa.array(["240", "90", "30"]), "minutes")
    assert hours.tolist() == [4.0, 1.5, 0.5]
    yuan, _ = parse_number(pa.array(["19.784414", "0.0001"]), "万元")
    assert yuan.tolist() == [197844.14, 1.0]
    # the fast path (plain decimals) and the exact text path (a separator in the chunk) give
    # the same doubles, signed zeros too; digits beyond a double's 2**53 take the text path
    plain = ["-0.0", "0.5", "-12.75", "123456789.123456789", "9007199254740993"]
    fast, _ = parse_number(pa.array(plain), "万元")
    slow, _ = parse_number(pa.array([*plain, "1,000"]), "万元")
    expected = [float(decimal.Decimal(t).scaleb(4)) for t in plain]  # Python's exact decimal
    assert fast.tolist() == slow[:-1].tolist() == expected
    assert np.signbit(fast[0]) and np.signbit(slow[0])


@pytest.mark.parametrize(
    ("text", "spec", "expected"),
    [
        ("2024-03-01", DateSpec(), "2024-03-01 00:00:00"),
        ("2024/3/1", DateSpec(format="%Y/%m/%d"), "2024-03-01 00:00:00"),
        ("20240301", DateSpec(format="%Y%m%d"), "2024-03-01 00:00:00"),
        ("2024年3月", DateSpec(format="%Y年%m月"), "2024-03-01 00:00:00"),
        ("45352", DateSpec(format="excel"), "2024-03-01 00:00:00"),  # Excel: 1 = 1900-01-01
        ("45352.5", DateSpec(format="excel"), "2024-03-01 12:00:00"),
        ("2024-03-01T09:30:00+08:00", DateSpec(), "2024-03-01 09:30:00"),
        ("2024-03-01T01:30:00Z", DateSpec(), "2024-03-01 09:30:00"),  # UTC + 8 h
        ("2024-03-01 01:30:00", DateSpec(timezone="UTC"), "2024-03-01 09:30:00"),
        ("2024/3/1 9:05:07", DateSpec(format="%Y/%m/%d %H:%M:%S"), "2024-03-01 09:05:07"),
    ],
)
def test_every_date_format_of_the_issue(text, spec, expected):
    values, bad = parse_dates(pa.array([text, None]), spec)
    assert not bad.any()
    assert str(pd.Timestamp(values[0])) == expected and np.isnat(values[1])


def test_an_unparseable_date_is_bad_not_null():
    values, bad = parse_dates(pa.array(["2024-13-01", "2024-02-30", "2024-02-29"]), DateSpec())
    assert bad.tolist() == [True, True, False]


@pytest.mark.parametrize(
    ("encoding", "data", "expected"),
    [
        ("utf-8", "客户号\n1\n".encode(), "utf-8"),
        ("utf-8-sig", "客户号\n1\n".encode("utf-8-sig"), "utf-8-sig"),
        ("gbk", "客户号,营业部\n1,北京\n".encode("gbk"), "gb18030"),
        ("gb18030", "客户号\n𠀀\n".encode("gb18030"), "gb18030"),
    ],
)
def test_encoding_detected(tmp_path, encoding, data, expected):
    path = tmp_path / f"{encoding}.csv"
    path.write_bytes(data)
    assert detect_encoding(path) == expected


def _tickets_config(tmp_path, sources, encoding="auto") -> Path:
    sources["tables"]["tickets"]["encoding"] = encoding
    sources["tables"]["tickets"]["path"] = "t.csv"
    return _write(tmp_path, sources)


_HEADER = (
    "工单号,客户号,创建时间,首次响应时间,解决时间,业务类别,渠道,时限(分钟),是否升级,是否重开\n"
)


def _ticket_line(i: int, channel: str = "电话", created: str = "2024/3/1 09:00:00") -> str:
    return f"T{i},C1,{created},,,投诉,{channel},240,否,是\n"


def test_a_gbk_file_read_with_detection(tmp_path, sources):
    (tmp_path / "t.csv").write_bytes((_HEADER + _ticket_line(1)).encode("gbk"))
    config = load_sources(_tickets_config(tmp_path, sources))
    (chunk,) = read_source("tickets", config)
    assert (chunk.encoding, chunk.detected) == ("gb18030", True)
    mapped = map_chunk("tickets", config.tables["tickets"], chunk)
    row = mapped.frame.iloc[0]
    assert (row["channel"], row["category"], row["sla_hours"]) == ("phone", "complaint", 4.0)
    assert (row["escalated"], row["reopened"]) == (False, True)


def test_a_wrong_stated_encoding_names_the_file_and_line(tmp_path, sources):
    (tmp_path / "t.csv").write_bytes(
        _HEADER.encode("utf-8") + _ticket_line(1).encode("utf-8") + _ticket_line(2).encode("gbk")
    )
    config = load_sources(_tickets_config(tmp_path, sources, "utf-8"))
    with pytest.raises(IngestError, match=r"t\.csv: line 3 is not valid utf-8 \(stated"):
        list(read_source("tickets", config))


def test_unknown_codes_are_counted_with_their_lines(tmp_path, sources):
    lines = [_ticket_line(i, "微信" if i % 3 == 0 else "电话") for i in range(1, 10)]
    (tmp_path / "t.csv").write_bytes((_HEADER + "".join(lines)).encode("gbk"))
    config = load_sources(_tickets_config(tmp_path, sources))
    chunk = Chunk("t.csv", 2, next(read_source("tickets", config)).frame, "x")
    mapped = map_chunk("tickets", config.tables["tickets"], chunk)
    assert mapped.unknown == {"channel (source column 渠道)": {"微信": 3}}
    assert mapped.unknown_lines["channel (source column 渠道)"] == [4, 7, 10]  # T3, T6, T9


def test_bad_cells_are_rejected_with_line_and_reason(tmp_path, sources):
    lines = [_ticket_line(1), _ticket_line(2, created="2024/3/32 09:00:00"), _ticket_line(3)]
    lines[2] = lines[2].replace(",240,", ",两百,")
    (tmp_path / "t.csv").write_bytes((_HEADER + "".join(lines)).encode("gbk"))
    config = load_sources(_tickets_config(tmp_path, sources))
    (chunk,) = read_source("tickets", config)
    mapped = map_chunk("tickets", config.tables["tickets"], chunk)
    assert mapped.frame["ticket_id"].tolist() == ["T1"]
    rejected = mapped.rejected.sort_values("line")
    assert rejected["line"].tolist() == [3, 4]
    assert rejected["value"].tolist() == ["2024/3/32 09:00:00", "两百"]
    assert rejected["reason"].iloc[0] == "not a date in format %Y/%m/%d %H:%M:%S"
    assert rejected["reason"].iloc[1] == "not a number (minutes)"
    assert mapped.n_rejected == 2


def test_a_missing_column_names_the_source_and_the_columns_found(tmp_path, sources):
    (tmp_path / "t.csv").write_bytes(
        (_HEADER.replace("渠道", "来源") + _ticket_line(1)).encode("gbk")
    )
    config = load_sources(_tickets_config(tmp_path, sources))
    (chunk,) = read_source("tickets", config)
    with pytest.raises(IngestError, match=r"t\.csv \(table tickets\): column\(s\) 渠道 not found"):
        map_chunk("tickets", config.tables["tickets"], chunk)


def test_a_parquet_source_with_typed_columns(tmp_path, sources):
    """Parquet keeps types: a date column arrives as a date, percent numbers as doubles."""
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "月份": pa.array([pd.Timestamp("2024-03-01").date(), None], type=pa.date32()),
            "指数收益率(%)": [1.25, -0.5],
            "波动率(%)": [12.0, 15.5],
            "成交额(亿元)": [6874.39, 7000.0],
        }
    )
    pq.write_table(table, tmp_path / "market.parquet")
    sources["tables"]["market"] = {
        "path": "market.parquet",
        "columns": sources["tables"]["market"]["columns"],
        "units": sources["tables"]["market"]["units"],
    }
    config = load_sources(_write(tmp_path, sources))
    (chunk,) = read_source("market", config)
    mapped = map_chunk("market", config.tables["market"], chunk)
    row = mapped.frame.iloc[0]
    assert row["month"] == pd.Timestamp("2024-03-01")
    # by hand: 1.25% = 0.0125, 12% = 0.12, 6874.39 亿元 = 687,439,000,000 元
    assert (row["index_return"], row["volatility"], row["turnover"]) == (0.0125, 0.12, 6.87439e11)
    assert mapped.rejected[["line", "reason"]].values.tolist() == [
        [2, "empty (the contract requires a value)"]
    ]
