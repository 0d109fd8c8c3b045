"""Tests of the simulator: contract invariants, determinism, marginals, common random numbers,
the ground truth, and atomic writing.

Where the expected numbers come from:
- ranges of marginals: the simulator's brief (the issue text), restated in each test;
- component values: an independent pandas computation from the tables, written here from
  DESIGN.md's definitions (not from the simulator's code);
- identities (contributions + remainder = total): arithmetic of the definitions.
Small worlds keep the file fast (about 20 s on 2 cores).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from snr_models.data.tables import Tables
from snr_models.data.vocabulary import TICKET_CATEGORIES
from snr_models.simulate import (
    SimulationConfig,
    SimulationResult,
    simulate,
    write_simulation,
)
from snr_models.simulate.config import ATTRIBUTES, INTERVENTIONS

REPO = Path(__file__).resolve().parents[2]
SMALL = {"n_clients": 3_000, "n_branches": 6, "n_months": 24, "seed": 1}
MEDIUM = {"n_clients": 20_000, "n_branches": 20, "n_months": 36, "seed": 0}

TEXT = "str"
TIME = "datetime64[us]"
DTYPES: dict[str, dict[str, str]] = {
    "clients": {
        "client_id": TEXT,
        "branch_id": TEXT,
        "segment": TEXT,
        "open_date": TIME,
        "close_date": TIME,
        "close_reason": TEXT,
        "birth_year": "float64",
        "risk_level": TEXT,
        "acquisition_channel": TEXT,
    },
    "client_months": {
        "client_id": TEXT,
        "month": TIME,
        "financing_balance": "float64",
        "short_balance": "float64",
        "collateral_value": "float64",
        "maintenance_ratio_min": "float64",
        "margin_calls": "int64",
        "forced_liquidations": "int64",
        "trades": "int64",
        "logins": "int64",
        "financing_rate": "float64",
        "dormant": "bool",
    },
    "tickets": {
        "ticket_id": TEXT,
        "client_id": TEXT,
        "created_at": TIME,
        "first_response_at": TIME,
        "resolved_at": TIME,
        "category": TEXT,
        "channel": TEXT,
        "sla_hours": "float64",
        "escalated": "bool",
        "reopened": "bool",
    },
    "surveys": {
        "response_id": TEXT,
        "client_id": TEXT,
        "responded_at": TIME,
        "trigger": TEXT,
        "nps": "int64",
        "csat": "int64",
        "ces": "float64",
        **{a: "float64" for a in ATTRIBUTES},
    },
    "interventions": {
        "intervention_id": TEXT,
        "intervention": TEXT,
        "unit_type": TEXT,
        "unit_id": TEXT,
        "start_date": TIME,
        "end_date": TIME,
        "intensity": "float64",
    },
    "market": {
        "month": TIME,
        "index_return": "float64",
        "volatility": "float64",
        "turnover": "float64",
    },
}
KEYS = {
    "clients": ["client_id"],
    "client_months": ["client_id", "month"],
    "tickets": ["ticket_id"],
    "surveys": ["response_id"],
    "interventions": ["intervention_id"],
    "market": ["month"],
}
CATEGORIES = set(TICKET_CATEGORIES)
APPROVALS = ["account_opening", "contract_rollover", "credit_line_change"]


@pytest.fixture(scope="module")
def small() -> SimulationResult:
    return simulate(**SMALL)


@pytest.fixture(scope="module")
def medium() -> SimulationResult:
    return simulate(**MEDIUM)


def month_bounds(tables: Tables) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    months = list(tables.market["month"])
    return [(m, m + pd.offsets.MonthBegin(1)) for m in months]


# --------------------------------------------------------------------------- configuration


def test_default_yaml_equals_the_defaults() -> None:
    # experiments/sim_default.yaml is documented as the defaults; both must stay in sync
    assert SimulationConfig.from_yaml(REPO / "experiments" / "sim_default.yaml") == (
        SimulationConfig()
    )


def test_from_yaml_rejects_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    bad_key = tmp_path / "bad_key.yaml"
    bad_key.write_text("n_clients: 100\nservice:\n  tickets_per_month: 0.3\n")
    with pytest.raises(ValidationError, match="tickets_per_month"):
        SimulationConfig.from_yaml(bad_key)
    too_many = tmp_path / "shares.yaml"
    too_many.write_text(
        "interventions:\n  survey_program:\n    cohorts: [{start: 0.2, share: 0.7}, "
        "{start: 0.5, share: 0.6}]\n"
    )
    with pytest.raises(ValidationError, match="sum to at most 1"):
        SimulationConfig.from_yaml(too_many)
    lines = tmp_path / "lines.yaml"
    lines.write_text("margin: {warning_line: 1.25, call_line: 1.3}\n")
    with pytest.raises(ValidationError, match="warning_line > call_line"):
        SimulationConfig.from_yaml(lines)


def test_overrides_replace_top_level_fields(small: SimulationResult) -> None:
    assert small.config.n_clients == 3_000 and small.config.n_months == 24
    assert len(small.tables.clients) == 3_000  # n_clients counts everybody in the table
    assert small.tables.clients["branch_id"].nunique() == 6
    with pytest.raises(ValidationError):
        simulate(n_clients=100, no_such_knob=1)


# --------------------------------------------------------------------------- determinism


def test_same_config_gives_identical_tables_and_truth(small: SimulationResult) -> None:
    again = simulate(SimulationConfig(**SMALL))
    assert again.tables.content_hash() == small.tables.content_hash()
    assert json.dumps(again.truth, sort_keys=True) == json.dumps(small.truth, sort_keys=True)
    other = simulate(**{**SMALL, "seed": 2})
    assert other.tables.content_hash() != small.tables.content_hash()


# --------------------------------------------------------------------------- the contract


def check_contract(tables: Tables) -> None:
    """Every rule of DESIGN.md's data contract, checked directly with pandas."""
    for name, frame in tables.items():
        assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES[name], name
        assert not frame.duplicated(KEYS[name]).any(), f"{name}: duplicate key"
    cl, cm, tk, sv = tables.clients, tables.client_months, tables.tickets, tables.surveys
    iv, mk = tables.interventions, tables.market
    known = set(cl["client_id"])
    for frame in (cm, tk, sv):
        assert frame["client_id"].isin(known).all()

    # clients
    assert set(cl["segment"]) <= {"retail", "high_net_worth", "institutional"}
    assert set(cl["risk_level"]) <= {"C1", "C2", "C3", "C4", "C5"}
    assert set(cl["close_reason"].dropna()) <= {"closed", "transferred"}
    assert (cl["close_reason"].isna() == cl["close_date"].isna()).all()
    assert (cl["close_date"].dropna() >= cl.loc[cl["close_date"].notna(), "open_date"]).all()
    for col in ("open_date", "close_date"):
        assert (cl[col].dropna() == cl[col].dropna().dt.normalize()).all(), col
    assert cl["birth_year"].dropna().between(1900, 2100).all()
    assert (cl["birth_year"].dropna() % 1 == 0).all()
    assert (cl["acquisition_channel"].str.len() > 0).all()

    # client_months: month starts; only while the client is open at the month's end
    assert (cm["month"].dt.day == 1).all() and (cm["month"] == cm["month"].dt.normalize()).all()
    for col in ("financing_balance", "short_balance", "collateral_value", "financing_rate"):
        assert (cm[col] >= 0).all(), col
    assert (cm["maintenance_ratio_min"].dropna() > 0).all()
    debt = cm["financing_balance"] + cm["short_balance"]
    assert (cm["maintenance_ratio_min"].isna() == (debt == 0)).all()
    for col in ("margin_calls", "forced_liquidations", "trades", "logins"):
        assert (cm[col] >= 0).all(), col
    assert (cm.loc[cm["dormant"], "logins"] == 0).all()
    assert (debt[cm["dormant"]] == 0).all()
    joined = cm.merge(cl[["client_id", "open_date", "close_date"]], on="client_id")
    month_end = joined["month"] + pd.offsets.MonthBegin(1)
    assert (joined["open_date"] < month_end).all()
    assert (joined["close_date"].isna() | (joined["close_date"] >= month_end)).all()
    assert set(cm["month"]) <= set(mk["month"])

    # tickets
    assert set(tk["category"]) <= CATEGORIES
    assert set(tk["channel"]) <= {"app", "phone", "branch", "chat", "ai_assistant"}
    assert (tk["sla_hours"] > 0).all()
    resolved = tk["resolved_at"].notna()
    assert (tk.loc[resolved, "resolved_at"] >= tk.loc[resolved, "created_at"]).all()
    answered = tk["first_response_at"].notna()
    assert (tk.loc[answered, "first_response_at"] >= tk.loc[answered, "created_at"]).all()
    both = resolved & answered
    assert (tk.loc[both, "first_response_at"] <= tk.loc[both, "resolved_at"]).all()
    assert not (resolved & ~answered).any()  # resolved implies answered
    t = tk.merge(cl[["client_id", "open_date", "close_date"]], on="client_id")
    assert (t["created_at"] >= t["open_date"]).all()
    assert (t["close_date"].isna() | (t["created_at"] < t["close_date"])).all()

    # surveys
    assert set(sv["trigger"]) <= {"periodic", "post_ticket"}
    assert sv["nps"].between(0, 10).all() and sv["csat"].between(1, 5).all()
    assert sv["ces"].dropna().between(1, 7).all() and (sv["ces"].dropna() % 1 == 0).all()
    for a in ATTRIBUTES:
        assert sv[a].dropna().between(1, 5).all() and (sv[a].dropna() % 1 == 0).all(), a
    s = sv.merge(cl[["client_id", "open_date", "close_date"]], on="client_id")
    assert (s["responded_at"] >= s["open_date"]).all()
    assert (s["close_date"].isna() | (s["responded_at"] < s["close_date"])).all()

    # interventions
    assert set(iv["unit_type"]) <= {"branch", "firm"}
    firm = iv["unit_type"] == "firm"
    assert (iv.loc[firm, "unit_id"] == "*").all()
    assert iv.loc[~firm, "unit_id"].isin(set(cl["branch_id"])).all()
    assert (iv["intensity"] > 0).all() and (iv["intensity"] <= 1).all()
    ended = iv["end_date"].notna()
    assert (iv.loc[ended, "end_date"] >= iv.loc[ended, "start_date"]).all()

    # market: one row per month of the window, first days
    assert (mk["month"].dt.day == 1).all() and mk["month"].is_monotonic_increasing
    assert (mk["volatility"] > 0).all() and (mk["turnover"] > 0).all()


def test_tables_meet_the_contract(small: SimulationResult) -> None:
    check_contract(small.tables)
    assert len(small.tables.market) == 24
    # tickets still open at the data's end exist (resolved_at null)
    assert small.tables.tickets["resolved_at"].isna().any()
    # escalated and reopened both occur
    assert small.tables.tickets["escalated"].any() and small.tables.tickets["reopened"].any()


def test_contract_validator_accepts_the_tables_unchanged(small: SimulationResult) -> None:
    import snr_models.data.contract as contract

    validated = contract.validate(small.tables)
    assert validated.content_hash() == small.tables.content_hash()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_clients=st.integers(40, 400),
    n_branches=st.integers(1, 5),
    n_months=st.integers(2, 9),
    seed=st.integers(0, 10_000),
)
def test_tiny_worlds_meet_the_contract_and_add_up(
    n_clients: int, n_branches: int, n_months: int, seed: int
) -> None:
    result = simulate(n_clients=n_clients, n_branches=n_branches, n_months=n_months, seed=seed)
    check_contract(result.tables)
    change = result.truth["change"]
    parts = sum(change["contributions"].values()) + change["remainder"]
    assert parts == pytest.approx(change["total"], abs=1e-12)


# --------------------------------------------------------------------------- marginals


def test_exit_hazard_retention_and_dormancy(small: SimulationResult) -> None:
    """Brief: monthly exit hazard 0.35-1.0% (annual retention 88-96%); dormancy 2-4 times as
    common as exit (new dormancy spells per exit)."""
    cl, cm = small.tables.clients, small.tables.client_months
    at_risk = exits = 0
    for start, end in month_bounds(small.tables):
        open_then = (cl["open_date"] <= start) & (
            cl["close_date"].isna() | (cl["close_date"] >= start)
        )
        at_risk += int(open_then.sum())
        exits += int((open_then & (cl["close_date"] < end)).sum())
    monthly = exits / at_risk
    assert 0.0035 <= monthly <= 0.010
    assert 0.88 <= (1 - monthly) ** 12 <= 0.96
    ordered = cm.sort_values(["client_id", "month"])
    before = ordered.groupby("client_id")["dormant"].shift(1)
    onsets = int((ordered["dormant"] & (before == False)).sum())  # noqa: E712
    assert 2.0 <= onsets / cl["close_date"].notna().sum() <= 4.0
    assert set(cl["close_reason"].dropna()) == {"closed", "transferred"}


def test_ticket_volume_and_volatile_multiplier(small: SimulationResult) -> None:
    """Brief: 0.2-0.6 tickets per client-month, 2-3 times as many in volatile months."""
    tk, cm = small.tables.tickets, small.tables.client_months
    assert 0.2 <= len(tk) / len(cm) <= 0.6
    per_month = tk["created_at"].dt.to_period("M").value_counts().sort_index()
    per_month = per_month / cm["month"].dt.to_period("M").value_counts().sort_index()
    regime = np.array(small.diagnostics["regime"])
    assert (regime == "volatile").any() and (regime == "calm").any()
    ratio = per_month.to_numpy()[regime == "volatile"].mean() / (
        per_month.to_numpy()[regime == "calm"].mean()
    )
    assert 2.0 <= ratio <= 3.0
    # market consistent with the regime: volatility ranks calm < volatile < crash
    vol = small.tables.market["volatility"].to_numpy()
    assert vol[regime == "calm"].mean() < vol[regime == "volatile"].mean()
    assert vol[regime == "volatile"].mean() < vol[regime == "crash"].mean()


def test_resolution_times(small: SimulationResult) -> None:
    """Brief: simple requests median 10-30 min; approvals a median of 1-2 trading days before
    re-engineering (here 20-50 hours elapsed) with 5-10% over 5 days, under an hour after."""
    tk = small.tables.tickets.merge(small.tables.clients[["client_id", "branch_id"]])
    tk = tk[tk["resolved_at"].notna()]
    hours = (tk["resolved_at"] - tk["created_at"]).dt.total_seconds() / 3600
    for simple in ("fund_transfer", "app_issue", "other"):
        assert 10 / 60 <= hours[tk["category"] == simple].median() <= 30 / 60, simple
    iv = small.tables.interventions
    start = iv[iv["intervention"] == "process_reengineering"].set_index("unit_id")["start_date"]
    after = tk["created_at"] >= tk["branch_id"].map(start).fillna(np.datetime64("2200-01-01", "us"))
    approval = tk["category"].isin(APPROVALS)
    before_h, after_h = hours[approval & ~after], hours[approval & after]
    assert 20 <= before_h.median() <= 50
    assert 0.05 <= (before_h > 120).mean() <= 0.10
    assert after_h.median() < 1.0


def test_survey_response_rates_and_csat(small: SimulationResult) -> None:
    """Brief: periodic response 10-15%, post-ticket 25-50%; CSAT top-two-box ~60-80% and net
    satisfaction 0.5-0.8 (measured before any intervention: the first three months)."""
    d = small.diagnostics
    assert 0.10 <= d["periodic_responses"] / d["periodic_invitations"] <= 0.15
    assert 0.25 <= d["post_ticket_responses"] / d["post_ticket_invitations"] <= 0.50
    sv = small.tables.surveys
    early = sv[sv["responded_at"] < small.tables.market["month"].iloc[3]]
    top2, bottom2 = (early["csat"] >= 4).mean(), (early["csat"] <= 2).mean()
    assert 0.60 <= top2 <= 0.80
    assert 0.5 <= top2 - bottom2 <= 0.8
    for a in ATTRIBUTES:  # some ratings missing at random, not all
        assert 0.0 < sv[a].isna().mean() < 0.25, a
    assert sv.loc[sv["trigger"] == "periodic", "ces"].isna().all()


def test_margin_marginals(small: SimulationResult) -> None:
    """Brief: maintenance ratio median 250-290%; 1-3% of borrowers below the warning line
    (140%) in calm months, 5-15% in crash months."""
    cm = small.tables.client_months
    ratio = cm["maintenance_ratio_min"]
    assert 2.5 <= ratio.median() <= 2.9
    regime = pd.Series(small.diagnostics["regime"], index=small.tables.market["month"])
    below = cm.dropna(subset=["maintenance_ratio_min"]).assign(
        below=lambda f: f["maintenance_ratio_min"] < 1.4
    )
    share = below.groupby("month")["below"].mean()
    assert 0.01 <= share[regime[regime == "calm"].index].mean() <= 0.03
    assert 0.05 <= share[regime[regime == "crash"].index].mean() <= 0.15
    # financing rates fall from ~8% towards 4-6%
    rate = cm.groupby("month")["financing_rate"].mean()
    assert 0.075 <= rate.iloc[0] <= 0.09 and rate.iloc[-1] < rate.iloc[0] - 0.015


def test_branch_sizes_at_default_scale() -> None:
    """Brief: 200-2,000 clients per branch at the default size (50,000 clients, 40 branches)."""
    from snr_models.simulate.world import _clients, _streams, make_calendar

    cfg = SimulationConfig()
    clients = _clients(cfg, make_calendar(cfg.start_month, cfg.n_months), _streams(cfg.seed))
    sizes = np.bincount(clients["branch"], minlength=cfg.n_branches)
    assert sizes.min() >= 200 and sizes.max() <= 2_000


def test_interventions_table_shape(small: SimulationResult) -> None:
    """Staggered branch cohorts, never-treated branches, a firm-wide roll-out, refreshers."""
    iv = small.tables.interventions
    assert set(iv["intervention"]) == set(INTERVENTIONS)
    reeng = iv[iv["intervention"] == "process_reengineering"]
    assert reeng["start_date"].nunique() >= 3  # several cohorts
    assert reeng["unit_id"].nunique() < 6  # some never-treated branches
    firm = iv[iv["unit_type"] == "firm"]
    assert list(firm["intervention"]) == ["ai_assistant"]
    training = iv[iv["intervention"] == "staff_training"]
    assert training["unit_id"].duplicated().any()  # a refresher for some branch


# --------------------------------------------------------------------------- common random numbers


def test_switching_off_an_intervention_changes_only_what_it_reaches() -> None:
    """CRN: without re-engineering, a branch that never got it is identical, and treated
    branches are identical before their start."""
    from snr_models.simulate.outcomes import baseline, run_scenario
    from snr_models.simulate.rollout import build_rollout, exposure
    from snr_models.simulate.world import build_world

    cfg = SimulationConfig(**SMALL)
    world = build_world(cfg)
    cal = world.calendar
    rollout = build_rollout(cfg, cal, world.streams["rollout"])
    base = baseline(world, exposure(rollout.without(INTERVENTIONS), cfg, cal))
    factual = run_scenario(world, exposure(rollout, cfg, cal), base)
    off = run_scenario(world, exposure(rollout.without(["process_reengineering"]), cfg, cal), base)
    first = rollout.first_month("process_reengineering", world.n_branches, cal.n)
    never = np.flatnonzero(first == cal.n)
    assert len(never) >= 1

    in_never = np.isin(world.branch, never)
    np.testing.assert_array_equal(factual.close_us[in_never], off.close_us[in_never])
    t_never = in_never[world.t_client]
    for field in ("resolved_us", "first_response_us", "escalated", "channel", "ticket_exists"):
        np.testing.assert_array_equal(
            getattr(factual, field)[t_never], getattr(off, field)[t_never], err_msg=field
        )

    def answers(out):  # the potential-response lists differ in length between scenarios
        keep = out.r_exists & in_never[out.r_client]
        rows = np.column_stack([out.r_client, out.r_responded_us, out.csat])[keep]
        return rows[np.lexsort(rows.T[::-1])]

    np.testing.assert_array_equal(answers(factual), answers(off))

    # treated branches: tickets created before the first start month are identical
    t_first = first[world.branch[world.t_client]]
    early = world.t_month < t_first
    np.testing.assert_array_equal(factual.resolved_us[early], off.resolved_us[early])
    # ... and the switch does change the treated approvals afterwards
    late = ~early & np.isin(world.t_category, [1, 2, 3])
    assert (factual.resolved_us[late] < off.resolved_us[late]).mean() > 0.9


def test_public_crn_world_without_reengineering() -> None:
    """The same check through the public API: a config whose re-engineering has no cohorts
    leaves the never-treated branches' tickets unchanged."""
    with_it = simulate(**SMALL)
    cfg = SimulationConfig(**SMALL)
    no_reeng = cfg.interventions.process_reengineering.model_copy(update={"cohorts": []})
    cfg_off = cfg.model_copy(
        update={
            "interventions": cfg.interventions.model_copy(
                update={"process_reengineering": no_reeng}
            )
        }
    )
    without = simulate(cfg_off, truth=False)
    iv = with_it.tables.interventions
    treated = set(iv.loc[iv["intervention"] == "process_reengineering", "unit_id"])
    never = set(with_it.tables.clients["branch_id"]) - treated
    assert never

    def tickets_of(result: SimulationResult) -> pd.DataFrame:
        tk = result.tables.tickets.merge(result.tables.clients[["client_id", "branch_id"]])
        tk = tk[tk["branch_id"].isin(never)].drop(columns="ticket_id")
        return tk.sort_values(["created_at", "client_id"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(tickets_of(with_it), tickets_of(without))


def test_the_ai_pilot_leaves_no_trace_in_the_worlds_without_it() -> None:
    """CRN for the AI assistant's pilot (the truth's counterfactuals): the world without any
    intervention is the same whichever branches the pilot drew, and the world without the
    assistant equals the factual world wherever the assistant has not arrived (other branches
    before the firm-wide roll-out, every branch before the pilot). A leak here would make the
    pilot branches' switched-off retention differ from the others' during the pilot only."""
    from snr_models.simulate.outcomes import baseline, run_scenario
    from snr_models.simulate.rollout import FIRM, build_rollout, exposure
    from snr_models.simulate.world import build_world

    cfg = SimulationConfig(**SMALL)
    ai = cfg.interventions.ai_assistant.model_copy(update={"pilot_share": 0.34})
    cfg = cfg.model_copy(
        update={"interventions": cfg.interventions.model_copy(update={"ai_assistant": ai})}
    )
    world = build_world(cfg)
    cal = world.calendar
    rollout = build_rollout(cfg, cal, world.streams["rollout"])
    other = build_rollout(cfg, cal, np.random.default_rng(12345))  # another pilot draw
    is_ai = rollout.intervention == "ai_assistant"
    pilot = set(rollout.unit[is_ai & (rollout.unit != FIRM)])
    other_pilot = set(other.unit[(other.intervention == "ai_assistant") & (other.unit != FIRM)])
    assert len(pilot) == 2 and pilot != other_pilot

    fields = ("close_us", "resolved_us", "first_response_us", "channel", "csat")
    null_a = exposure(rollout.without(INTERVENTIONS), cfg, cal)
    null_b = exposure(other.without(INTERVENTIONS), cfg, cal)
    base = baseline(world, null_a)
    none_a = run_scenario(world, null_a, base)
    none_b = run_scenario(world, null_b, baseline(world, null_b))
    for f in fields:
        np.testing.assert_array_equal(getattr(none_a, f), getattr(none_b, f), err_msg=f)

    factual = run_scenario(world, exposure(rollout, cfg, cal), base)
    off = run_scenario(world, exposure(rollout.without(["ai_assistant"]), cfg, cal), base)
    firm_m = int(rollout.start_month[is_ai & (rollout.unit == FIRM)][0])
    pilot_m = int(rollout.start_month[is_ai & (rollout.unit != FIRM)][0])
    t_branch = world.branch[world.t_client]
    untouched = (world.t_month < pilot_m) | (
        ~np.isin(t_branch, list(pilot)) & (world.t_month < firm_m)
    )
    for f in ("resolved_us", "first_response_us", "channel", "escalated", "reopened"):
        np.testing.assert_array_equal(
            getattr(factual, f)[untouched], getattr(off, f)[untouched], err_msg=f
        )
    # exits: identical for clients of the other branches up to the firm-wide roll-out
    others = ~np.isin(world.branch, list(pilot))
    early_f = np.minimum(factual.exit_month, firm_m)[others]
    np.testing.assert_array_equal(early_f, np.minimum(off.exit_month, firm_m)[others])
    # ... and the assistant does change the pilot branches' tickets during the pilot
    in_pilot = (
        np.isin(t_branch, list(pilot)) & (world.t_month >= pilot_m) & (world.t_month < firm_m)
    )
    assert (factual.channel[in_pilot] != off.channel[in_pilot]).any()


# --------------------------------------------------------------------------- truth


def test_truth_schema(small: SimulationResult) -> None:
    truth = small.truth
    json.dumps(truth, allow_nan=False)  # JSON-serialisable, no NaN
    assert set(truth) == {
        "package_version",
        "config",
        "spec",
        "periods",
        "interventions",
        "change",
        "components_firm",
        "exit_hazard",
        "satisfaction",
    }
    assert truth["spec"]["weights"] == {"S": 0.4, "R": 0.3, "E": 0.3}
    assert truth["periods"] == {
        "first": ["2023-01", "2023-02", "2023-03"],
        "last": ["2024-10", "2024-11", "2024-12"],
    }
    assert SimulationConfig.model_validate(truth["config"]) == small.config
    assert set(truth["interventions"]) == set(INTERVENTIONS)
    for block in truth["interventions"].values():
        assert set(block["effect"]) == {"S", "R", "E", "net_rate"}
        assert block["n_treated_branch_months"] > 0
        assert set(block["per_branch"]) <= set(small.tables.clients["branch_id"])
        assert "0" in block["by_event_time"]
        e = block["effect"]  # the composite is linear in its components
        assert e["net_rate"] == pytest.approx(0.4 * e["S"] + 0.3 * e["R"] + 0.3 * e["E"], abs=0.02)
    assert list(truth["components_firm"]) == [str(m)[:7] for m in small.tables.market["month"]]
    assert set(truth["satisfaction"]["attribute_weights"]) == set(ATTRIBUTES)
    weights = list(truth["satisfaction"]["attribute_weights"].values())
    assert len(set(weights)) == len(weights)  # distinct, so a ranking exists


def test_change_adds_up(small: SimulationResult) -> None:
    """Identities of the definitions: total = last - first = sum(contributions) + remainder;
    remainder = interaction + change without interventions."""
    c = small.truth["change"]
    assert c["total"] == pytest.approx(c["net_rate_last"] - c["net_rate_first"], abs=1e-12)
    assert sum(c["contributions"].values()) + c["remainder"] == pytest.approx(c["total"], abs=1e-12)
    assert c["interaction"] + c["without_interventions"] == pytest.approx(c["remainder"], abs=1e-12)


def test_components_match_an_independent_pandas_computation(small: SimulationResult) -> None:
    """S, R, E per firm-month recomputed here from the tables with DESIGN.md's definitions."""
    tables = small.tables
    cl, tk, sv = tables.clients, tables.tickets, tables.surveys
    for start, end in month_bounds(tables):
        got = small.truth["components_firm"][str(start)[:7]]
        resp = sv[(sv["responded_at"] >= start) & (sv["responded_at"] < end)]
        s = (resp["csat"] >= 4).mean() - (resp["csat"] <= 2).mean()
        open_then = (cl["open_date"] <= start) & (
            cl["close_date"].isna() | (cl["close_date"] >= start)
        )
        leaving = open_then & (cl["close_date"] >= start) & (cl["close_date"] < end)
        r = 1 - 12 * leaving.sum() / open_then.sum()
        made = tk[(tk["created_at"] >= start) & (tk["created_at"] < end)]
        due = made["created_at"] + pd.to_timedelta(made["sla_hours"], unit="h")
        met = (
            made["resolved_at"].notna() & (made["resolved_at"] < end) & (made["resolved_at"] <= due)
        )
        counted = met | (~met & (due < end))
        e = met.sum() / counted.sum()
        expected = {"S": s, "R": r, "E": e, "net_rate": 0.4 * s + 0.3 * r + 0.3 * e}
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=1e-12), (str(start), key)


def test_the_story_at_medium_scale(medium: SimulationResult) -> None:
    """Brief: the firm net rate rises from about 0.75 (0.72-0.80) to about 0.90 (0.86-0.94),
    mostly because of the interventions; re-engineering is the biggest contributor (and the
    biggest effect on E)."""
    c = medium.truth["change"]
    assert 0.72 <= c["net_rate_first"] <= 0.80
    assert 0.86 <= c["net_rate_last"] <= 0.94
    contributions = c["contributions"]
    assert max(contributions, key=contributions.get) == "process_reengineering"
    assert c["joint_contribution"] > 0.8 * c["total"]
    assert abs(c["without_interventions"]) < 0.02
    effects_e = {k: v["effect"]["E"] for k, v in medium.truth["interventions"].items()}
    assert max(effects_e, key=effects_e.get) == "process_reengineering"
    # training ramps up then fades: larger a few months in than at its start or two years on
    by_time = medium.truth["interventions"]["staff_training"]["by_event_time"]
    assert by_time["2"]["net_rate"] > by_time["0"]["net_rate"]
    assert by_time["2"]["net_rate"] > by_time["24"]["net_rate"]


def test_key_drivers_are_recoverable(medium: SimulationResult) -> None:
    """A key-driver regression of CSAT on the seven ratings recovers the true ranking of
    attribute weights (top three exactly, Spearman >= 0.9 overall)."""
    sv = medium.tables.surveys.dropna(subset=list(ATTRIBUTES))
    x = np.column_stack([np.ones(len(sv)), sv[list(ATTRIBUTES)].to_numpy()])
    coef = np.linalg.lstsq(x, sv["csat"].to_numpy(float), rcond=None)[0][1:]
    estimated = [ATTRIBUTES[i] for i in np.argsort(-coef)]
    truth = medium.truth["satisfaction"]["attribute_ranking"]
    assert estimated[:3] == truth[:3]
    ranks_true = np.array([truth.index(a) for a in ATTRIBUTES])
    ranks_est = np.array([estimated.index(a) for a in ATTRIBUTES])
    assert np.corrcoef(ranks_true, ranks_est)[0, 1] >= 0.9


def test_ai_assistant_backfires_on_complex_issues(medium: SimulationResult) -> None:
    """Post-ticket CSAT (net) is lower when the AI assistant handled a complaint or margin call
    than when a person did, and higher on simple issues."""
    sv = medium.tables.surveys
    post = sv[sv["trigger"] == "post_ticket"].sort_values("responded_at")
    tk = medium.tables.tickets.dropna(subset=["resolved_at"]).sort_values("resolved_at")
    joined = pd.merge_asof(
        post,
        tk[["client_id", "resolved_at", "category", "channel"]],
        left_on="responded_at",
        right_on="resolved_at",
        by="client_id",
        direction="backward",
    )
    joined["complex"] = joined["category"].isin(["complaint", "margin_call"])
    joined["ai"] = joined["channel"] == "ai_assistant"
    net = joined.groupby(["complex", "ai"])["csat"].apply(
        lambda c: (c >= 4).mean() - (c <= 2).mean()
    )
    assert net[(True, True)] < net[(True, False)] - 0.05
    assert net[(False, True)] > net[(False, False)]


# --------------------------------------------------------------------------- writing


def read_back(out: Path) -> Tables:
    return Tables(**{name: pd.read_parquet(out / f"{name}.parquet") for name in Tables.names()})


def test_write_simulation_round_trips_and_replaces(tmp_path: Path) -> None:
    first = simulate(n_clients=300, n_branches=2, n_months=4, seed=5)
    out = write_simulation(first, tmp_path / "world")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.parquet" for n in Tables.names()] + ["truth.json"]
    )
    assert read_back(out).content_hash() == first.tables.content_hash()
    assert json.loads((out / "truth.json").read_text()) == first.truth

    second = simulate(n_clients=300, n_branches=2, n_months=4, seed=6)
    write_simulation(second, out)  # replacing an existing dataset
    assert read_back(out).content_hash() == second.tables.content_hash()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]  # no temporary leftovers


def test_a_failed_write_leaves_the_old_dataset(tmp_path: Path) -> None:
    good = simulate(n_clients=300, n_branches=2, n_months=4, seed=5)
    out = write_simulation(good, tmp_path / "world")
    broken = SimulationResult(tables=good.tables, truth={"x": float("nan")}, config=good.config)
    with pytest.raises(ValueError):
        write_simulation(broken, out)  # fails after the tables were written to the temp dir
    assert read_back(out).content_hash() == good.tables.content_hash()
    assert json.loads((out / "truth.json").read_text()) == good.truth
    assert sorted(p.name for p in tmp_path.iterdir()) == ["world"]
