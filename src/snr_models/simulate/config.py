"""Every knob of the simulated world, validated; defaults equal ``experiments/sim_default.yaml``.

Times of roll-outs are given as fractions of the window (0 = the first simulated month, 1 = the
month after the last), so that a shorter or longer window keeps the same story.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from snr_models.data.vocabulary import CHANNELS, RATING_ATTRIBUTES, SEGMENTS, TICKET_CATEGORIES

__all__ = [
    "AiAssistantConfig",
    "CampaignConfig",
    "ClientConfig",
    "Cohort",
    "ExitHazardConfig",
    "InterventionsConfig",
    "MarginConfig",
    "MarketConfig",
    "RatesConfig",
    "ReengineeringConfig",
    "RegimeConfig",
    "SatisfactionConfig",
    "ServiceConfig",
    "SimulationConfig",
    "SurveyConfig",
    "SurveyProgramConfig",
    "TrainingConfig",
]

REGIMES: tuple[str, ...] = ("calm", "volatile", "crash")
CATEGORIES: tuple[str, ...] = TICKET_CATEGORIES
APPROVALS: tuple[str, ...] = ("account_opening", "contract_rollover", "credit_line_change")
COMPLEX: tuple[str, ...] = ("complaint", "margin_call")
ATTRIBUTES: tuple[str, ...] = RATING_ATTRIBUTES
#: What a perception may depend on: the signals of the client's tickets (the surveyed ticket
#: and past ones), the client's situation, and the branch's interventions.
SIGNALS: tuple[str, ...] = (
    "slow",
    "first_response",
    "escalated",
    "reopened",
    "ai_simple",
    "ai_complex",
    "met",
)
DRIVERS: tuple[str, ...] = (
    *SIGNALS,
    "app_issue",
    "rate_gap_pp",
    "forced_liquidation_3m",
    "training",
    "ai_assistant",
    "survey_program",
)
INTERVENTIONS: tuple[str, ...] = (
    "process_reengineering",
    "staff_training",
    "ai_assistant",
    "survey_program",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _per_segment(values: dict[str, float], what: str) -> dict[str, float]:
    if set(values) != set(SEGMENTS):
        raise ValueError(f"{what}: expected one value per segment {SEGMENTS}, got {sorted(values)}")
    return values


def _shares(values: dict[str, float], names: tuple[str, ...], what: str) -> dict[str, float]:
    unknown = set(values) - set(names)
    if unknown:
        raise ValueError(f"{what}: unknown names {sorted(unknown)}; expected some of {names}")
    if any(v < 0 for v in values.values()) or sum(values.values()) <= 0:
        raise ValueError(f"{what}: shares must be >= 0 with a positive sum")
    return values


class RegimeConfig(_Model):
    """The market in one regime (monthly index return, annualised volatility, daily turnover)."""

    index_return_mean: float
    index_return_sd: float = Field(gt=0)
    volatility: float = Field(gt=0, description="median annualised volatility")
    turnover: float = Field(gt=0, description="median average daily turnover, RMB")
    intramonth_drawdown: float = Field(
        ge=0, description="typical log fall from the month's level to its low, per unit volatility"
    )
    ticket_multiplier: float = Field(gt=0, description="tickets per client-month relative to calm")
    service_slowdown: float = Field(gt=0, description="resolution-time factor (queues)")
    logins_multiplier: float = Field(gt=0)


class MarketConfig(_Model):
    """A three-state Markov regime (calm, volatile, crash) and the market in each state."""

    transition: dict[str, dict[str, float]] = {
        "calm": {"calm": 0.88, "volatile": 0.11, "crash": 0.01},
        "volatile": {"calm": 0.45, "volatile": 0.47, "crash": 0.08},
        "crash": {"calm": 0.2, "volatile": 0.6, "crash": 0.2},
    }
    initial_regime: Literal["calm", "volatile", "crash"] = "calm"
    regime_overrides: dict[str, Literal["calm", "volatile", "crash"]] = Field(
        default={
            "2024-01": "crash",
            "2024-02": "volatile",
            "2024-09": "volatile",
            "2024-10": "volatile",
        },
        description="calendar month (YYYY-MM) -> regime, imposed where inside the window",
    )
    regimes: dict[str, RegimeConfig] = {
        "calm": RegimeConfig(
            index_return_mean=0.008,
            index_return_sd=0.035,
            volatility=0.16,
            turnover=8.5e11,
            intramonth_drawdown=0.15,
            ticket_multiplier=1.0,
            service_slowdown=1.0,
            logins_multiplier=1.0,
        ),
        "volatile": RegimeConfig(
            index_return_mean=-0.005,
            index_return_sd=0.07,
            volatility=0.3,
            turnover=1.4e12,
            intramonth_drawdown=0.25,
            ticket_multiplier=2.4,
            service_slowdown=1.5,
            logins_multiplier=1.4,
        ),
        "crash": RegimeConfig(
            index_return_mean=-0.13,
            index_return_sd=0.04,
            volatility=0.45,
            turnover=1.2e12,
            intramonth_drawdown=0.38,
            ticket_multiplier=2.9,
            service_slowdown=2.0,
            logins_multiplier=1.6,
        ),
    }
    volatility_noise_sd: float = Field(default=0.15, ge=0)
    turnover_noise_sd: float = Field(default=0.15, ge=0)

    @field_validator("transition")
    @classmethod
    def _rows_sum_to_one(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        if set(v) != set(REGIMES) or any(set(row) != set(REGIMES) for row in v.values()):
            raise ValueError(f"transition: a row and a column for each regime {REGIMES}")
        for name, row in v.items():
            if any(p < 0 for p in row.values()) or abs(sum(row.values()) - 1) > 1e-9:
                raise ValueError(f"transition[{name}]: probabilities must be >= 0 and sum to 1")
        return v

    @field_validator("regimes")
    @classmethod
    def _all_regimes(cls, v: dict[str, RegimeConfig]) -> dict[str, RegimeConfig]:
        if set(v) != set(REGIMES):
            raise ValueError(f"regimes: expected exactly {REGIMES}")
        return v

    @field_validator("regime_overrides")
    @classmethod
    def _months(cls, v: dict[str, str]) -> dict[str, str]:
        for month in v:
            _check_month(month)
        return v


class RatesConfig(_Model):
    """Financing rates: a market rate falling with competition and each client's gap to it."""

    market_rate_start: float = Field(default=0.08, gt=0, lt=0.3)
    market_rate_floor: float = Field(default=0.05, gt=0, lt=0.3)
    decay_months: float = Field(default=16.0, gt=0)
    gap_mean_pp: dict[str, float] = {"retail": 0.35, "high_net_worth": 0.05, "institutional": -0.3}
    gap_sd_pp: float = Field(default=0.5, ge=0)
    monthly_noise_pp: float = Field(default=0.05, ge=0)
    quote_step: float = Field(default=0.0005, gt=0, description="rates are quoted in steps of this")

    @field_validator("gap_mean_pp")
    @classmethod
    def _segments(cls, v: dict[str, float]) -> dict[str, float]:
        return _per_segment(v, "gap_mean_pp")


class MarginConfig(_Model):
    """Debt, collateral and the broker's margin lines."""

    ratio_median: float = Field(default=2.85, gt=1, description="median maintenance ratio")
    ratio_client_sd: float = Field(default=0.26, ge=0)
    ratio_month_sd: float = Field(default=0.14, ge=0)
    ratio_month_persistence: float = Field(default=0.6, ge=0, lt=1)
    ratio_intramonth_sd: float = Field(default=0.08, ge=0)
    drawdown_beta_low: float = Field(default=0.8, ge=0)
    drawdown_beta_high: float = Field(default=1.6, ge=0)
    warning_line: float = Field(default=1.4, gt=1)
    call_line: float = Field(default=1.3, gt=1)
    liquidation_line: float = Field(default=1.2, gt=1)
    top_up_days: int = Field(default=2, ge=1, description="trading days to top up after a call")
    top_up_probability: float = Field(default=0.7, ge=0, le=1)
    liquidation_probability_below_line: float = Field(default=0.85, ge=0, le=1)
    borrower_share: dict[str, float] = {
        "retail": 0.72,
        "high_net_worth": 0.8,
        "institutional": 0.85,
    }
    borrower_persistence: float = Field(default=0.85, ge=0, lt=1)
    collateral_median: dict[str, float] = {
        "retail": 6.0e5,
        "high_net_worth": 6.0e6,
        "institutional": 4.0e7,
    }
    collateral_sd: float = Field(default=0.9, ge=0)
    short_seller_share: float = Field(default=0.12, ge=0, le=1)
    short_share_of_debt_max: float = Field(default=0.5, gt=0, le=1)

    @field_validator("borrower_share", "collateral_median")
    @classmethod
    def _segments(cls, v: dict[str, float]) -> dict[str, float]:
        return _per_segment(v, "margin")

    @model_validator(mode="after")
    def _lines_ordered(self) -> MarginConfig:
        if not self.warning_line > self.call_line > self.liquidation_line:
            raise ValueError("margin lines: need warning_line > call_line > liquidation_line")
        if self.drawdown_beta_high < self.drawdown_beta_low:
            raise ValueError("drawdown_beta_high must be >= drawdown_beta_low")
        return self


class ClientConfig(_Model):
    """Who the clients are, where, since when, and how active."""

    segment_shares: dict[str, float] = {
        "retail": 0.86,
        "high_net_worth": 0.12,
        "institutional": 0.02,
    }
    branch_size_sd: float = Field(default=0.45, ge=0, description="log-sd of branch sizes")
    new_accounts_per_month: float = Field(
        default=0.006, ge=0, description="new accounts a month, as a share of the initial book"
    )
    tenure_mean_years: float = Field(default=4.0, gt=0)
    earliest_open_date: date = date(2010, 3, 31)
    inactive_rate: float = Field(default=0.033, ge=0, le=1, description="active -> inactive")
    reactivation_rate: float = Field(default=0.08, ge=0, le=1, description="inactive -> active")
    dormant_after_months: int = Field(default=3, ge=1)
    logins_median: float = Field(default=12.0, gt=0)
    trades_median: float = Field(default=7.0, gt=0)
    birth_year_missing: float = Field(default=0.03, ge=0, le=1)

    @field_validator("segment_shares")
    @classmethod
    def _segments(cls, v: dict[str, float]) -> dict[str, float]:
        return _shares(_per_segment(v, "segment_shares"), SEGMENTS, "segment_shares")


class ExitHazardConfig(_Model):
    """Monthly exit hazard: log h = log(base[segment]) + sum of coefficient x covariate."""

    base: dict[str, float] = {"retail": 0.0037, "high_net_worth": 0.003, "institutional": 0.0023}
    rate_gap_pp: float = 0.3
    forced_liquidation_3m: float = 1.1
    slow_ticket_3m: float = 1.2
    failed_ticket_3m: float = 0.8
    surveyed_3m: float = -0.15
    dormant: float = 0.7
    new_client_12m: float = 0.3
    transferred_intercept: float = -0.9
    transferred_rate_gap_pp: float = 0.8

    @field_validator("base")
    @classmethod
    def _segments(cls, v: dict[str, float]) -> dict[str, float]:
        v = _per_segment(v, "base")
        if any(not 0 < p < 0.2 for p in v.values()):
            raise ValueError("base hazards must be in (0, 0.2)")
        return v


class ServiceConfig(_Model):
    """Tickets: volume, categories, channels, resolution and first-response times, SLAs."""

    tickets_per_active_month: float = Field(default=0.3, gt=0)
    inactive_multiplier: float = Field(default=0.25, ge=0)
    client_propensity_sd: float = Field(default=0.6, ge=0)
    segment_multiplier: dict[str, float] = {
        "retail": 1.0,
        "high_net_worth": 1.3,
        "institutional": 1.6,
    }
    margin_call_multiplier: float = Field(default=1.5, ge=0)
    category_shares: dict[str, float] = {
        "fund_transfer": 0.21,
        "account_opening": 0.09,
        "contract_rollover": 0.15,
        "credit_line_change": 0.12,
        "margin_call": 0.05,
        "complaint": 0.05,
        "app_issue": 0.13,
        "other": 0.2,
    }
    volatile_extra_shares: dict[str, float] = {
        "fund_transfer": 0.25,
        "margin_call": 0.3,
        "app_issue": 0.1,
        "complaint": 0.05,
        "other": 0.1,
        "credit_line_change": 0.12,
        "contract_rollover": 0.08,
    }
    median_hours: dict[str, float] = {
        "fund_transfer": 0.25,
        "account_opening": 36.0,
        "contract_rollover": 30.0,
        "credit_line_change": 34.0,
        "margin_call": 0.3,
        "complaint": 26.0,
        "app_issue": 0.4,
        "other": 0.4,
    }
    sigma: dict[str, float] = {
        "fund_transfer": 1.15,
        "account_opening": 0.75,
        "contract_rollover": 0.75,
        "credit_line_change": 0.75,
        "margin_call": 1.05,
        "complaint": 0.9,
        "app_issue": 1.2,
        "other": 1.3,
    }
    sla_hours: dict[str, float] = {
        "fund_transfer": 2.0,
        "account_opening": 24.0,
        "contract_rollover": 24.0,
        "credit_line_change": 24.0,
        "margin_call": 2.0,
        "complaint": 72.0,
        "app_issue": 4.0,
        "other": 4.0,
    }
    channel_shares: dict[str, float] = {"app": 0.34, "phone": 0.3, "branch": 0.14, "chat": 0.22}
    approval_channel_shares: dict[str, float] = {
        "app": 0.35,
        "phone": 0.15,
        "branch": 0.4,
        "chat": 0.1,
    }
    first_response_median_minutes: dict[str, float] = {
        "app": 35.0,
        "phone": 3.0,
        "branch": 8.0,
        "chat": 6.0,
        "ai_assistant": 0.1,
    }
    first_response_sigma: float = Field(default=0.9, ge=0)
    branch_efficiency_sd: float = Field(default=0.15, ge=0)
    escalation_logit: dict[str, float] = {
        "fund_transfer": -4.0,
        "account_opening": -3.2,
        "contract_rollover": -3.4,
        "credit_line_change": -3.0,
        "margin_call": -2.6,
        "complaint": -1.4,
        "app_issue": -3.3,
        "other": -3.6,
    }
    escalation_if_late: float = 1.2
    escalation_time_factor: float = Field(default=1.8, ge=1)
    reopen_probability: float = Field(default=0.04, ge=0, le=1)
    reopen_time_factor: float = Field(default=1.4, ge=1)

    @field_validator("category_shares", "median_hours", "sigma", "sla_hours", "escalation_logit")
    @classmethod
    def _categories(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(CATEGORIES):
            raise ValueError(f"expected one value per category {CATEGORIES}")
        return v

    @field_validator("volatile_extra_shares")
    @classmethod
    def _extra(cls, v: dict[str, float]) -> dict[str, float]:
        return _shares(v, CATEGORIES, "volatile_extra_shares")

    @field_validator("channel_shares", "approval_channel_shares")
    @classmethod
    def _channels(cls, v: dict[str, float]) -> dict[str, float]:
        return _shares(v, CHANNELS[:-1], "channel shares (ai_assistant comes from the roll-out)")

    @field_validator("first_response_median_minutes")
    @classmethod
    def _all_channels(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(CHANNELS):
            raise ValueError(f"expected one value per channel {CHANNELS}")
        return v

    @field_validator("segment_multiplier")
    @classmethod
    def _segments(cls, v: dict[str, float]) -> dict[str, float]:
        return _per_segment(v, "segment_multiplier")


class SatisfactionConfig(_Model):
    """Latent satisfaction from seven attribute perceptions; ratings are ordinal cuts."""

    attribute_weights: dict[str, float] = {
        "problem_resolution": 0.5,
        "speed": 0.3,
        "staff_knowledge": 0.25,
        "fees_rates": 0.16,
        "accuracy": 0.11,
        "communication": 0.07,
        "app_experience": 0.03,
    }
    perception_drivers: dict[str, dict[str, float]] = {
        "speed": {"slow": -1.0, "first_response": -0.35},
        "accuracy": {"reopened": -1.5, "training": 0.35},
        "staff_knowledge": {"escalated": -1.0, "training": 0.6},
        "app_experience": {
            "ai_simple": 0.6,
            "ai_complex": -1.2,
            "app_issue": -0.6,
            "ai_assistant": 0.25,
        },
        "fees_rates": {"rate_gap_pp": -0.7},
        "communication": {
            "first_response": -0.3,
            "forced_liquidation_3m": -1.0,
            "survey_program": 0.35,
        },
        "problem_resolution": {
            "met": 0.9,
            "escalated": -1.0,
            "reopened": -1.0,
            "ai_complex": -0.6,
            "training": 0.3,
        },
    }
    forced_liquidation_3m: float = -0.5
    ai_on_complex_ticket: float = -0.35
    segment_effect: dict[str, float] = {
        "retail": 0.0,
        "high_net_worth": 0.05,
        "institutional": -0.05,
    }
    client_effect_sd: float = Field(default=0.45, ge=0)
    noise_sd: float = Field(default=0.45, ge=0)
    perception_client_sd: float = Field(default=0.45, ge=0)
    perception_noise_sd: float = Field(default=0.5, ge=0)
    ticket_weight: float = Field(
        default=0.7, ge=0, le=1, description="weight of the surveyed ticket vs. past experience"
    )
    experience_memory: float = Field(
        default=0.6, ge=0, lt=1, description="monthly carry-over of past ticket experience"
    )
    csat_cuts: list[float] = [-1.8, -1.3, -0.55, 0.25]
    nps_cuts: list[float] = [-2.5, -2.2, -1.9, -1.6, -1.3, -1.0, -0.65, -0.25, 0.2, 0.65]
    nps_noise_sd: float = Field(default=0.35, ge=0)
    rating_cuts: list[float] = [-1.9, -1.2, -0.45, 0.35]
    rating_noise_sd: float = Field(default=0.45, ge=0)
    ces_cuts: list[float] = [-1.2, -0.5, 0.1, 0.6, 1.1, 1.7]
    ces_noise_sd: float = Field(default=0.5, ge=0)

    @field_validator("attribute_weights")
    @classmethod
    def _attributes(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(ATTRIBUTES):
            raise ValueError(f"attribute_weights: one weight per attribute {ATTRIBUTES}")
        return v

    @field_validator("segment_effect")
    @classmethod
    def _segments(cls, v: dict[str, float]) -> dict[str, float]:
        return _per_segment(v, "segment_effect")

    @field_validator("perception_drivers")
    @classmethod
    def _drivers(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        unknown = set(v) - set(ATTRIBUTES)
        if unknown:
            raise ValueError(f"perception_drivers: unknown attributes {sorted(unknown)}")
        for attribute, drivers in v.items():
            bad = set(drivers) - set(DRIVERS)
            if bad:
                raise ValueError(
                    f"perception_drivers[{attribute}]: unknown drivers {sorted(bad)}; "
                    f"expected some of {DRIVERS}"
                )
        return v

    @model_validator(mode="after")
    def _cuts(self) -> SatisfactionConfig:
        for name, n in (("csat_cuts", 4), ("nps_cuts", 10), ("rating_cuts", 4), ("ces_cuts", 6)):
            cuts = getattr(self, name)
            if len(cuts) != n or any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
                raise ValueError(f"{name}: {n} strictly increasing cut points")
        return self


class SurveyConfig(_Model):
    """Who is asked, who answers, and which answers are left blank."""

    periodic_invite_rate: float = Field(
        default=0.17, ge=0, le=1, description="monthly chance of a periodic invitation"
    )
    periodic_response_rate: float = Field(default=0.145, ge=0, le=1)
    inactive_response_factor: float = Field(default=0.5, ge=0, le=1)
    post_ticket_response_rate: float = Field(default=0.36, ge=0, le=1)
    response_delay_median_hours: float = Field(default=5.0, gt=0)
    response_delay_sigma: float = Field(default=1.0, ge=0)
    rating_missing: dict[str, float] = {
        "speed": 0.05,
        "accuracy": 0.07,
        "staff_knowledge": 0.08,
        "app_experience": 0.15,
        "fees_rates": 0.06,
        "communication": 0.09,
        "problem_resolution": 0.05,
    }
    ces_missing: float = Field(default=0.1, ge=0, le=1)

    @field_validator("rating_missing")
    @classmethod
    def _attributes(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(ATTRIBUTES) or any(not 0 <= p < 1 for p in v.values()):
            raise ValueError(f"rating_missing: a share in [0, 1) per attribute {ATTRIBUTES}")
        return v


class Cohort(_Model):
    """Branches that start together: at ``start`` (fraction of the window), ``share`` of them."""

    start: float = Field(ge=0, lt=1)
    share: float = Field(gt=0, le=1)


def _cohorts_fit(cohorts: list[Cohort]) -> list[Cohort]:
    if sum(c.share for c in cohorts) > 1 + 1e-9:
        raise ValueError("cohort shares must sum to at most 1 (the rest are never treated)")
    return cohorts


class ReengineeringConfig(_Model):
    """Approvals move online: their resolution times collapse."""

    cohorts: list[Cohort] = [
        Cohort(start=0.17, share=0.2),
        Cohort(start=0.33, share=0.2),
        Cohort(start=0.5, share=0.2),
        Cohort(start=0.67, share=0.2),
    ]
    intensity_low: float = Field(default=0.85, gt=0, le=1)
    intensity_high: float = Field(default=1.0, gt=0, le=1)
    approval_median_hours_after: float = Field(default=0.5, gt=0)

    @field_validator("cohorts")
    @classmethod
    def _fit(cls, v: list[Cohort]) -> list[Cohort]:
        return _cohorts_fit(v)


class TrainingConfig(_Model):
    """Staff training: ramps up over months, fades without a refresher."""

    cohorts: list[Cohort] = [
        Cohort(start=0.11, share=0.3),
        Cohort(start=0.28, share=0.3),
        Cohort(start=0.44, share=0.3),
    ]
    intensity_low: float = Field(default=0.6, gt=0, le=1)
    intensity_high: float = Field(default=1.0, gt=0, le=1)
    course_days: int = Field(default=26, ge=1, description="end_date - start_date of a course")
    ramp_months: int = Field(default=3, ge=1)
    half_life_months: float = Field(default=8.0, gt=0)
    refresher_share: float = Field(default=0.5, ge=0, le=1)
    refresher_after_months: int = Field(default=12, ge=1)
    time_reduction: float = Field(default=0.3, ge=0, lt=1, description="at full effect")
    escalation_logit: float = -0.8
    reopen_log_factor: float = -0.7

    @field_validator("cohorts")
    @classmethod
    def _fit(cls, v: list[Cohort]) -> list[Cohort]:
        return _cohorts_fit(v)


class AiAssistantConfig(_Model):
    """The AI assistant: a branch pilot, then a firm-wide roll-out.

    The default pilot (30% of the branches at full intensity) is the design ``snr plan``
    recommends on the default world (README, "The default world's AI-assistant pilot"): the
    smallest pilot whose minimum detectable effect is within 10% of a half-and-half split's. A
    pilot at lower ``pilot_intensity`` is extrapolated to the firm-wide months by scaling its
    effect by intensity, which assumes the effect is linear in intensity.
    """

    pilot_start: float = Field(default=0.33, ge=0, lt=1)
    pilot_share: float = Field(default=0.3, ge=0, le=1)
    pilot_intensity: float = Field(default=1.0, gt=0, le=1)
    firm_start: float = Field(default=0.58, ge=0, lt=1)
    firm_intensity: float = Field(default=1.0, gt=0, le=1)
    channel_share: float = Field(
        default=0.45, ge=0, le=1, description="share of tickets it takes at full intensity"
    )
    simple_time_factor: float = Field(default=0.6, gt=0)
    complex_time_factor: float = Field(default=1.35, gt=0)
    complex_escalation_logit: float = 0.8
    complex_reopen_log_factor: float = 0.4


class SurveyProgramConfig(_Model):
    """A closed-loop survey programme: more invitations; being surveyed lowers exit hazard."""

    cohorts: list[Cohort] = [Cohort(start=0.25, share=0.3), Cohort(start=0.5, share=0.3)]
    intensity_low: float = Field(default=0.7, gt=0, le=1)
    intensity_high: float = Field(default=1.0, gt=0, le=1)
    invite_rate: float = Field(default=0.5, ge=0, le=1, description="at full intensity")

    @field_validator("cohorts")
    @classmethod
    def _fit(cls, v: list[Cohort]) -> list[Cohort]:
        return _cohorts_fit(v)


class InterventionsConfig(_Model):
    """The four interventions and their roll-out."""

    process_reengineering: ReengineeringConfig = ReengineeringConfig()
    staff_training: TrainingConfig = TrainingConfig()
    ai_assistant: AiAssistantConfig = AiAssistantConfig()
    survey_program: SurveyProgramConfig = SurveyProgramConfig()


class CampaignConfig(_Model):
    """Monthly retention campaigns with a random holdout (off by default).

    From ``first_month`` (months since the window's start) on, each month the firm ranks the
    clients open at the previous month's end by its risk score (the true ``horizon``-month exit
    probability times a log-normal error of ``score_noise``), leaves out those contacted in
    the last ``horizon`` months, and targets the top ``share``; a random share drawn uniformly
    from ``holdout`` of them is held out. A call multiplies the client's exit hazard during
    ``horizon`` months by ``exp(tau)``, with ``tau = effect_base + sum(effect[k] x
    covariate_k)`` over covariates the data show: a slow or failed ticket in the last three
    months (service recovery), the rate gap in percentage points (a rate review), dormancy
    (a call reminds a sleeping client to leave) and a forced liquidation in the last three
    months (nothing said changes that).
    """

    enabled: bool = False
    first_month: int = Field(default=9, ge=1)
    share: float = Field(default=0.06, gt=0, le=0.5)
    holdout: tuple[float, float] = (0.10, 0.20)
    horizon: int = Field(default=3, ge=1, le=12)
    score_noise: float = Field(default=0.6, ge=0)
    effect_base: float = -0.1
    effect: dict[str, float] = {
        "service_failure_3m": -1.5,
        "rate_gap_pp": -0.4,
        "dormant": 1.5,
        "forced_liquidation_3m": 0.1,
    }
    channels: dict[str, float] = {"phone": 0.7, "branch": 0.15, "sms": 0.15}

    @field_validator("holdout")
    @classmethod
    def _holdout(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1] < 1:
            raise ValueError("holdout: expected 0 < low <= high < 1")
        return v

    @field_validator("effect")
    @classmethod
    def _effect(cls, v: dict[str, float]) -> dict[str, float]:
        known = {"service_failure_3m", "rate_gap_pp", "dormant", "forced_liquidation_3m"}
        if set(v) - known:
            raise ValueError(f"effect: unknown covariates {sorted(set(v) - known)}")
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: dict[str, float]) -> dict[str, float]:
        from snr_models.data.vocabulary import OUTREACH_CHANNELS

        return _shares(v, OUTREACH_CHANNELS, "channels")


def _check_month(value: str) -> str:
    import numpy as np

    try:
        month = np.datetime64(value, "M")
    except ValueError:
        raise ValueError(f"{value!r} is not a month (expected YYYY-MM)") from None
    if str(month) != value:
        raise ValueError(f"{value!r} is not a month (expected YYYY-MM)")
    return value


class SimulationConfig(_Model):
    """Every knob of the simulated world; the defaults are ``experiments/sim_default.yaml``.

    Examples
    --------
    >>> cfg = SimulationConfig(n_clients=2_000, n_branches=4, n_months=12, seed=1)
    >>> cfg.n_months, cfg.start_month
    (12, '2023-01')
    """

    n_clients: int = Field(default=50_000, ge=10, description="clients open at any time")
    n_branches: int = Field(default=40, ge=1)
    n_months: int = Field(default=36, ge=2, le=240)
    seed: int = Field(default=0, ge=0)
    start_month: str = "2023-01"
    market: MarketConfig = MarketConfig()
    rates: RatesConfig = RatesConfig()
    margin: MarginConfig = MarginConfig()
    clients: ClientConfig = ClientConfig()
    exit_hazard: ExitHazardConfig = ExitHazardConfig()
    service: ServiceConfig = ServiceConfig()
    satisfaction: SatisfactionConfig = SatisfactionConfig()
    surveys: SurveyConfig = SurveyConfig()
    interventions: InterventionsConfig = InterventionsConfig()
    campaigns: CampaignConfig = CampaignConfig()

    @field_validator("start_month")
    @classmethod
    def _month(cls, v: str) -> str:
        return _check_month(v)

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimulationConfig:
        """Read and validate a YAML file; unknown keys are rejected.

        Parameters
        ----------
        path : str or Path
            A YAML mapping of (some of) the fields; missing fields take their defaults.

        Raises
        ------
        pydantic.ValidationError
            If a value is invalid or a key is unknown.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "small.yaml"
        >>> _ = path.write_text("n_clients: 2000\\nexit_hazard: {rate_gap_pp: 0.2}\\n")
        >>> cfg = SimulationConfig.from_yaml(path)
        >>> cfg.n_clients, cfg.exit_hazard.rate_gap_pp, cfg.n_branches
        (2000, 0.2, 40)
        """
        text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a YAML mapping at the top level")
        return cls.model_validate(data)

    def to_yaml(self) -> str:
        """The full configuration as YAML (round-trips through :meth:`from_yaml`)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
