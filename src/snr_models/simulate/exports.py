"""A world written as a broker's systems would hand it over, with the ``sources.yaml`` mapping it.

:func:`write_exports` writes the contract's tables the way a broker's CRM, survey tool and
warehouse export them, and a ``sources.yaml`` that ``snr ingest`` reads them back with:

==========================  ===========================================================
file                        what it holds
==========================  ===========================================================
``accounts.sql``            clients, as a PostgreSQL table ``accounts`` (``COPY``)
``positions.sql``           client_months, table ``positions``: amounts in 万元 and
                            rates in percent as ``NUMERIC``
``tickets/工单_YYYY-MM.csv`` tickets, GBK, one file per month; SLA in minutes; created in
                            local time ``2024/3/1 09:05:00``, first response ISO 8601
                            with ``+08:00``, resolution in UTC
``问卷.xlsx``                surveys (sheet 问卷结果): satisfaction as words
                            (非常满意 … 非常不满意)
``推广计划.xlsx``             interventions: dates as Excel serial numbers, intensity in %
``market.csv``              market, UTF-8 with BOM: months as ``2024年3月``, returns and
                            volatility in percent, turnover in 亿元
``outreach/回访_YYYY-MM.csv`` outreach (only when the world ran retention campaigns), GBK,
                            one file per month: channel and arm as Chinese codes
                            (电话, 干预组/对照组), contact time ``2024/3/1 09:05:00``
==========================  ===========================================================

Headers are in Chinese and categories are Chinese codes. With ``database="csv"`` accounts and
positions are GBK CSV files instead (positions one file per month), for a machine without
PostgreSQL. Numbers are written in decimal from their shortest round-trip form, with the
decimal point moved for the unit, so ingesting them gives back the same doubles.
"""

from __future__ import annotations

import copy
import decimal
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from snr_models.data.atomic import atomic_path
from snr_models.data.tables import Tables

__all__ = ["CODES", "write_exports"]

#: Chinese codes of the contract's categories, per contract column.
CODES: dict[str, dict[str, str]] = {
    "segment": {"零售": "retail", "高净值": "high_net_worth", "机构": "institutional"},
    "close_reason": {"销户": "closed", "转托管": "transferred"},
    "acquisition_channel": {
        "线上开户": "online",
        "客户推荐": "referral",
        "营销活动": "marketing_campaign",
        "临柜开户": "branch_walk_in",
        "机构销售": "institutional_sales",
    },
    "category": {
        "资金划转": "fund_transfer",
        "开户": "account_opening",
        "合约展期": "contract_rollover",
        "授信额度调整": "credit_line_change",
        "追加担保": "margin_call",
        "投诉": "complaint",
        "APP故障": "app_issue",
        "其他": "other",
    },
    "channel": {
        "APP": "app",
        "电话": "phone",
        "柜台": "branch",
        "在线客服": "chat",
        "智能助手": "ai_assistant",
    },
    "trigger": {"定期回访": "periodic", "工单回访": "post_ticket"},
    "csat": {"非常满意": 5, "满意": 4, "一般": 3, "不满意": 2, "非常不满意": 1},
    "intervention": {
        "流程再造": "process_reengineering",
        "员工培训": "staff_training",
        "智能助手": "ai_assistant",
        "满意度回访计划": "survey_program",
    },
    "unit_type": {"营业部": "branch", "全公司": "firm"},
    "outreach_channel": {"电话": "phone", "柜台": "branch", "APP": "app", "短信": "sms"},
    "assigned": {"干预组": "treatment", "对照组": "holdout"},
}
_YES_NO = {"是": True, "否": False}

_CLIENTS = {
    "客户号": "client_id",
    "营业部": "branch_id",
    "客户类型": "segment",
    "开户日期": "open_date",
    "销户日期": "close_date",
    "销户原因": "close_reason",
    "出生年份": "birth_year",
    "风险等级": "risk_level",
    "获客渠道": "acquisition_channel",
}
_POSITIONS = {
    "客户号": "client_id",
    "月份": "month",
    "融资余额(万元)": "financing_balance",
    "融券余额(万元)": "short_balance",
    "担保物市值(万元)": "collateral_value",
    "最低维持担保比例(%)": "maintenance_ratio_min",
    "追保次数": "margin_calls",
    "强平次数": "forced_liquidations",
    "交易笔数": "trades",
    "登录次数": "logins",
    "融资利率(%)": "financing_rate",
    "是否休眠": "dormant",
}
_POSITION_UNITS = {
    "financing_balance": "万元",
    "short_balance": "万元",
    "collateral_value": "万元",
    "maintenance_ratio_min": "percent",
    "financing_rate": "percent",
}
_TICKETS = {
    "工单号": "ticket_id",
    "客户号": "client_id",
    "创建时间": "created_at",
    "首次响应时间": "first_response_at",
    "解决时间": "resolved_at",
    "业务类别": "category",
    "渠道": "channel",
    "时限(分钟)": "sla_hours",
    "是否升级": "escalated",
    "是否重开": "reopened",
}
_SURVEYS = {
    "回复编号": "response_id",
    "客户号": "client_id",
    "回复时间": "responded_at",
    "触发方式": "trigger",
    "推荐意愿": "nps",
    "满意度": "csat",
    "费力度": "ces",
    "响应速度": "speed",
    "准确性": "accuracy",
    "专业能力": "staff_knowledge",
    "APP体验": "app_experience",
    "费率": "fees_rates",
    "沟通": "communication",
    "问题解决": "problem_resolution",
}
_INTERVENTIONS = {
    "项目编号": "intervention_id",
    "项目": "intervention",
    "推广范围": "unit_type",
    "营业部": "unit_id",
    "开始日期": "start_date",
    "结束日期": "end_date",
    "强度(%)": "intensity",
}
_MARKET = {
    "月份": "month",
    "指数收益率(%)": "index_return",
    "波动率(%)": "volatility",
    "成交额(亿元)": "turnover",
}
_OUTREACH = {
    "活动编号": "campaign_id",
    "客户号": "client_id",
    "回访时间": "contacted_at",
    "回访渠道": "channel",
    "分组": "assigned",
}
_MARKET_UNITS = {"index_return": "percent", "volatility": "percent", "turnover": "亿元"}
_SHIFT = {"万元": -4, "percent": 2, "亿元": -8}
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def _decimal(values: pd.Series, shift: int = 0) -> np.ndarray:
    """Each number in decimal, from its shortest round-trip form, × 10**shift exactly."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=float), use_na_sentinel=True)
    text = np.array(
        [format(decimal.Decimal(repr(float(v))).scaleb(shift).normalize(), "f") for v in uniques]
        + [None],
        dtype=object,
    )
    return text[codes]  # code -1 (NaN) takes the trailing None


def _whole(values: pd.Series) -> list[str | None]:
    return [None if np.isnan(v) else str(int(v)) for v in values.to_numpy(dtype=float)]


def _decode(values: pd.Series, codes: dict[str, Any]) -> pd.Series:
    inverse = {v: k for k, v in codes.items()}
    return values.map(inverse)


def _local_text(values: pd.Series) -> pd.Series:
    """``2024/3/1 09:05:00``: the CRM's local time, month and day without leading zeros."""
    t = values
    text = (
        t.dt.year.astype("Int64").astype("str")
        + "/"
        + t.dt.month.astype("Int64").astype("str")
        + "/"
        + t.dt.day.astype("Int64").astype("str")
        + " "
        + t.dt.strftime("%H:%M:%S")
    )
    return text.where(t.notna(), None)


def _frame(columns: dict[str, str], values: dict[str, Iterable]) -> pd.DataFrame:
    def plain(v: Iterable) -> Any:
        return v.to_numpy() if isinstance(v, pd.Series) else v

    return pd.DataFrame({header: plain(values[target]) for header, target in columns.items()})


def _clients(tables: Tables) -> pd.DataFrame:
    c = tables.clients
    return _frame(
        _CLIENTS,
        {
            "client_id": c["client_id"],
            "branch_id": c["branch_id"],
            "segment": _decode(c["segment"], CODES["segment"]),
            "open_date": c["open_date"].dt.strftime("%Y%m%d"),
            "close_date": c["close_date"].dt.strftime("%Y-%m-%d").where(c["close_date"].notna()),
            "close_reason": _decode(c["close_reason"], CODES["close_reason"]),
            "birth_year": _whole(c["birth_year"]),
            "risk_level": c["risk_level"],
            "acquisition_channel": _decode(c["acquisition_channel"], CODES["acquisition_channel"]),
        },
    )


def _positions(frame: pd.DataFrame) -> pd.DataFrame:
    values: dict[str, Iterable] = {
        "client_id": frame["client_id"],
        "month": frame["month"].dt.strftime("%Y-%m-%d"),
        "dormant": _decode(frame["dormant"], _YES_NO),
    }
    for column in ("margin_calls", "forced_liquidations", "trades", "logins"):
        values[column] = frame[column].astype("str")
    for column, unit in _POSITION_UNITS.items():
        values[column] = _decimal(frame[column], _SHIFT[unit])
    return _frame(_POSITIONS, values)


def _tickets(frame: pd.DataFrame) -> pd.DataFrame:
    first = frame["first_response_at"]
    resolved_utc = frame["resolved_at"] - pd.Timedelta(hours=8)
    return _frame(
        _TICKETS,
        {
            "ticket_id": frame["ticket_id"],
            "client_id": frame["client_id"],
            "created_at": _local_text(frame["created_at"]),
            "first_response_at": first.dt.strftime("%Y-%m-%dT%H:%M:%S+08:00").where(first.notna()),
            "resolved_at": resolved_utc.dt.strftime("%Y-%m-%d %H:%M:%S").where(
                resolved_utc.notna()
            ),
            "category": _decode(frame["category"], CODES["category"]),
            "channel": _decode(frame["channel"], CODES["channel"]),
            "sla_hours": _decimal(frame["sla_hours"] * 60),
            "escalated": _decode(frame["escalated"], _YES_NO),
            "reopened": _decode(frame["reopened"], _YES_NO),
        },
    )


def _surveys(frame: pd.DataFrame) -> pd.DataFrame:
    values: dict[str, Iterable] = {
        "response_id": frame["response_id"],
        "client_id": frame["client_id"],
        "responded_at": frame["responded_at"],
        "trigger": _decode(frame["trigger"], CODES["trigger"]),
        "nps": frame["nps"],
        "csat": _decode(frame["csat"], CODES["csat"]),
    }
    for target in list(_SURVEYS.values())[6:]:
        values[target] = frame[target].astype("Int64")
    return _frame(_SURVEYS, values)


def _serial(values: pd.Series) -> pd.Series:
    return ((values - _EXCEL_EPOCH).dt.days).astype("Int64")


def _interventions(tables: Tables) -> pd.DataFrame:
    i = tables.interventions
    return _frame(
        _INTERVENTIONS,
        {
            "intervention_id": i["intervention_id"],
            "intervention": _decode(i["intervention"], CODES["intervention"]),
            "unit_type": _decode(i["unit_type"], CODES["unit_type"]),
            "unit_id": i["unit_id"],
            "start_date": _serial(i["start_date"]),
            "end_date": _serial(i["end_date"]),
            "intensity": [None if v is None else float(v) for v in _decimal(i["intensity"], 2)],
        },
    )


def _market(tables: Tables) -> pd.DataFrame:
    m = tables.market
    values: dict[str, Iterable] = {
        "month": m["month"].dt.year.astype("str") + "年" + m["month"].dt.month.astype("str") + "月"
    }
    for column, unit in _MARKET_UNITS.items():
        values[column] = _decimal(m[column], _SHIFT[unit])
    return _frame(_MARKET, values)


def _outreach(frame: pd.DataFrame) -> pd.DataFrame:
    return _frame(
        _OUTREACH,
        {
            "campaign_id": frame["campaign_id"],
            "client_id": frame["client_id"],
            "contacted_at": _local_text(frame["contacted_at"]),
            "channel": _decode(frame["channel"], CODES["outreach_channel"]),
            "assigned": _decode(frame["assigned"], CODES["assigned"]),
        },
    )


def _copy_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _sql_dump(path: Path, table: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
    """A ``psql`` script: ``CREATE TABLE`` with Chinese column names, then ``COPY`` data."""
    columns = ", ".join(f'"{c}" {types[c]}' for c in frame.columns)
    names = ", ".join(f'"{c}"' for c in frame.columns)
    with path.open("w", encoding="utf-8") as out:
        out.write("SET client_encoding = 'UTF8';\n")
        out.write(f"DROP TABLE IF EXISTS {table};\nCREATE TABLE {table} ({columns});\n")
        out.write(f"COPY {table} ({names}) FROM stdin;\n")
        for row in frame.itertuples(index=False, name=None):
            out.write("\t".join(_copy_value(v) for v in row) + "\n")
        out.write("\\.\n")


_CLIENT_TYPES = {
    "客户号": "text",
    "营业部": "text",
    "客户类型": "text",
    "开户日期": "char(8)",
    "销户日期": "date",
    "销户原因": "text",
    "出生年份": "integer",
    "风险等级": "text",
    "获客渠道": "text",
}
_POSITION_TYPES = dict.fromkeys(_POSITIONS, "numeric") | {
    "客户号": "text",
    "月份": "date",
    "是否休眠": "text",
}


def _monthly(frame: pd.DataFrame, column: str) -> Iterable[tuple[str, pd.DataFrame]]:
    keys = frame[column].dt.strftime("%Y-%m")
    for key in sorted(keys.unique()):
        yield key, frame.loc[keys == key]


def _sources(database: str) -> dict[str, Any]:
    monthly_csv = {"encoding": "gbk"}
    if database == "sql":
        clients: dict[str, Any] = {"sql": "SELECT * FROM accounts", "database": "warehouse"}
        positions: dict[str, Any] = {
            "sql": 'SELECT * FROM positions WHERE "月份" >= :month_start AND "月份" < :month_end',
            "database": "warehouse",
        }
    else:
        clients = {"path": "accounts.csv", **monthly_csv}
        positions = {"path": "positions/持仓_{month:%Y-%m}.csv", **monthly_csv}
    sources: dict[str, Any] = {
        "version": 1,
        "quarantine_threshold": 0.01,
        "tables": {
            "clients": clients
            | {
                "columns": _CLIENTS,
                "values": {k: CODES[k] for k in ("segment", "close_reason", "acquisition_channel")},
                "dates": {"open_date": "%Y%m%d"},
            },
            "client_months": positions
            | {
                "columns": _POSITIONS,
                "units": _POSITION_UNITS,
                "values": {"dormant": _YES_NO},
                "dates": {"month": "%Y-%m-%d"},
            },
            "tickets": {
                "path": "tickets/工单_{month:%Y-%m}.csv",
                **monthly_csv,
                "columns": _TICKETS,
                "values": {
                    "category": CODES["category"],
                    "channel": CODES["channel"],
                    "escalated": _YES_NO,
                    "reopened": _YES_NO,
                },
                "units": {"sla_hours": "minutes"},
                "dates": {
                    "created_at": "%Y/%m/%d %H:%M:%S",
                    "first_response_at": "ISO8601",
                    "resolved_at": {"format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC"},
                },
            },
            "surveys": {
                "path": "问卷.xlsx",
                "sheet": "问卷结果",
                "columns": _SURVEYS,
                "values": {"trigger": CODES["trigger"], "csat": CODES["csat"]},
            },
            "interventions": {
                "path": "推广计划.xlsx",
                "columns": _INTERVENTIONS,
                "values": {
                    "intervention": CODES["intervention"],
                    "unit_type": CODES["unit_type"],
                },
                "units": {"intensity": "percent"},
                "dates": {"start_date": "excel", "end_date": "excel"},
            },
            "market": {
                "path": "market.csv",
                "encoding": "utf-8-sig",
                "columns": _MARKET,
                "units": _MARKET_UNITS,
                "dates": {"month": "%Y年%m月"},
            },
        },
    }
    if database == "sql":
        sources["databases"] = {"warehouse": {"url_env": "SNR_WAREHOUSE_URL"}}
    return copy.deepcopy(sources)  # the module's maps are not the caller's to change


def write_exports(
    tables: Tables,
    out: str | Path,
    *,
    database: Literal["sql", "csv"] = "sql",
    surveys: Literal["xlsx", "csv"] = "xlsx",
) -> Path:
    """Write ``tables`` as a broker's exports into the folder ``out``, atomically.

    Parameters
    ----------
    tables : Tables
        A world's tables (e.g. ``simulate(...).tables``).
    out : str or Path
        The folder to write (replaced if it exists).
    database : {"sql", "csv"}, default "sql"
        Accounts and positions as PostgreSQL scripts (load them with ``psql -f``; the
        ``sources.yaml`` reads them through ``SNR_WAREHOUSE_URL``), or as GBK CSV files.
    surveys : {"xlsx", "csv"}, default "xlsx"
        The survey workbook, or GBK CSV files by month (an ``.xlsx`` sheet holds at most
        1,048,575 rows and is slow to write for large worlds).

    Returns
    -------
    Path
        ``out``, holding the exports and ``sources.yaml``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from snr_models.simulate import simulate
    >>> world = simulate(n_clients=500, n_branches=2, n_months=3, seed=1, truth=False)
    >>> folder = write_exports(world.tables, pathlib.Path(tempfile.mkdtemp()) / "x", database="csv")
    >>> sorted(p.name for p in folder.iterdir())[:3]
    ['accounts.csv', 'market.csv', 'positions']
    """
    out = Path(out)
    with atomic_path(out, directory=True) as tmp:
        clients = _clients(tables)
        if database == "sql":
            _sql_dump(tmp / "accounts.sql", "accounts", clients, _CLIENT_TYPES)
            positions = _positions(tables.client_months)
            _sql_dump(tmp / "positions.sql", "positions", positions, _POSITION_TYPES)
        else:
            clients.to_csv(tmp / "accounts.csv", index=False, encoding="gbk")
            (tmp / "positions").mkdir()
            for key, part in _monthly(tables.client_months, "month"):
                _positions(part).to_csv(
                    tmp / "positions" / f"持仓_{key}.csv", index=False, encoding="gbk"
                )
        (tmp / "tickets").mkdir()
        for key, part in _monthly(tables.tickets, "created_at"):
            _tickets(part).to_csv(tmp / "tickets" / f"工单_{key}.csv", index=False, encoding="gbk")
        sources = _sources(database)
        if surveys == "xlsx":
            _surveys(tables.surveys).to_excel(tmp / "问卷.xlsx", sheet_name="问卷结果", index=False)
        else:
            (tmp / "surveys").mkdir()
            for key, part in _monthly(tables.surveys, "responded_at"):
                frame = _surveys(part)
                frame["回复时间"] = part["responded_at"].dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
                frame.to_csv(tmp / "surveys" / f"问卷_{key}.csv", index=False, encoding="gbk")
            entry = sources["tables"]["surveys"]
            entry.pop("sheet")
            entry |= {"path": "surveys/问卷_{month:%Y-%m}.csv", "encoding": "gbk"}
        _interventions(tables).to_excel(tmp / "推广计划.xlsx", sheet_name="推广计划", index=False)
        _market(tables).to_csv(tmp / "market.csv", index=False, encoding="utf-8-sig")
        if tables.outreach is not None:
            (tmp / "outreach").mkdir()
            keys = tables.outreach["contacted_at"].dt.strftime("%Y-%m")
            # a file for every month, empty without a campaign: `snr ingest --month` finds one
            for key in tables.client_months["month"].dt.strftime("%Y-%m").unique():
                part = tables.outreach.loc[keys == key]
                _outreach(part).to_csv(
                    tmp / "outreach" / f"回访_{key}.csv", index=False, encoding="gbk"
                )
            sources["tables"]["outreach"] = {
                "path": "outreach/回访_{month:%Y-%m}.csv",
                "encoding": "gbk",
                "columns": _OUTREACH,
                "values": {
                    "channel": CODES["outreach_channel"],
                    "assigned": CODES["assigned"],
                },
                "dates": {"contacted_at": "%Y/%m/%d %H:%M:%S"},
            }
        text = yaml.safe_dump(sources, allow_unicode=True, sort_keys=False)
        (tmp / "sources.yaml").write_text(text, encoding="utf-8")
    return out
