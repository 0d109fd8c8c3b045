"""One scenario of the world: what happens to tickets, surveys and exits under an exposure.

Every function here is deterministic given the :class:`~.world.World` (the common random
numbers) and the :class:`~.rollout.Exposure`: the factual world and each counterfactual differ
only through the exposure.

The causal story, in order:

1. a potential ticket's channel, resolution and first-response times, escalation and reopening
   depend on its category, the market regime, the branch and the interventions in force;
2. each client carries a memory of the signals of past tickets (slow, first response,
   escalated, reopened, handled by the AI assistant on a simple or a complex issue, met SLA);
3. the monthly exit hazard rises after slow or failed service, a forced liquidation, with the
   rate gap and dormancy, and falls after being surveyed;
4. a survey answer comes from attribute perceptions (driven by the client's experience, the
   rate gap and the interventions) summed into a latent satisfaction, cut into CSAT and NPS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from snr_models.simulate.campaigns import CampaignLog, run_campaigns
from snr_models.simulate.config import (
    ATTRIBUTES,
    CATEGORIES,
    CHANNELS,
    COMPLEX,
    DRIVERS,
    REGIMES,
    SEGMENTS,
    SIGNALS,
)
from snr_models.simulate.rollout import Exposure
from snr_models.simulate.world import (
    NEVER,
    US_PER_SECOND,
    World,
    approval_mask,
    pick_weekday_us,
)

__all__ = ["Baseline", "Outcome", "baseline", "hazard_terms", "run_scenario"]

PERIODIC, POST_TICKET = 0, 1


@dataclass
class Outcome:
    """What happened in one scenario. Arrays over clients (N), potential tickets (T) and
    potential responses (Q); ``*_exists`` says which happened (before the client closed)."""

    close_us: np.ndarray  # (N,) NEVER if still open
    exit_month: np.ndarray  # (N,) M if no exit
    transferred: np.ndarray  # (N,) bool
    ticket_exists: np.ndarray
    channel: np.ndarray
    resolved_us: np.ndarray  # may lie beyond the window (then still open at its end)
    first_response_us: np.ndarray
    escalated: np.ndarray
    reopened: np.ndarray
    sla_hours: np.ndarray
    r_client: np.ndarray
    r_responded_us: np.ndarray
    r_trigger: np.ndarray
    r_ticket: np.ndarray  # -1 for periodic
    r_exists: np.ndarray
    csat: np.ndarray
    nps: np.ndarray
    ces: np.ndarray  # float with NaN
    ratings: np.ndarray  # (Q, 7) float with NaN
    perceptions: np.ndarray  # (Q, 7)
    diagnostics: dict = field(default_factory=dict)
    campaigns: CampaignLog | None = None  # retention campaigns, when switched on


def _window_sum(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """For each month m, the sum of x[:, m+lo : m+hi] (clipped to the window)."""
    n, m_count = x.shape
    c = np.zeros((n, m_count + 1), dtype=np.int64)
    np.cumsum(x, axis=1, out=c[:, 1:])
    months = np.arange(m_count)
    a = np.clip(months + lo, 0, m_count)
    b = np.clip(months + hi, 0, m_count)
    return c[:, b] - c[:, a]


def _ticket_outcomes(world: World, expo: Exposure) -> dict[str, np.ndarray]:
    cfg = world.config
    sv, ic = cfg.service, cfg.interventions
    cat, month, created = world.t_category, world.t_month, world.t_created_us
    branch = world.branch[world.t_client]
    regimes = [cfg.market.regimes[r] for r in REGIMES]
    slowdown = np.array([r.service_slowdown for r in regimes])[world.regime[month]]

    ai_level = expo.ai_at(branch, created)
    is_complex = np.isin(cat, [CATEGORIES.index(c) for c in COMPLEX])
    approval = approval_mask(cat)
    # channel: the AI assistant takes a share of tickets; the rest follow the usual mix
    p_ai = ic.ai_assistant.channel_share * ai_level
    u = world.t_u_channel
    is_ai = u < p_ai
    rest = np.clip((u - p_ai) / np.maximum(1 - p_ai, 1e-12), 0, 1 - 1e-12)
    human = CHANNELS[:-1]
    cdf_other = np.cumsum([sv.channel_shares.get(c, 0.0) for c in human])
    cdf_appr = np.cumsum([sv.approval_channel_shares.get(c, 0.0) for c in human])
    cdf = np.where(approval[:, None], cdf_appr / cdf_appr[-1], cdf_other / cdf_other[-1])
    channel = np.minimum((rest[:, None] >= cdf).sum(axis=1), len(human) - 1)
    channel = np.where(is_ai, CHANNELS.index("ai_assistant"), channel)
    ai_simple = is_ai & ~is_complex
    ai_complex = is_ai & is_complex

    median = np.array([sv.median_hours[c] for c in CATEGORIES])[cat]
    sigma = np.array([sv.sigma[c] for c in CATEGORIES])[cat]
    sla = np.array([sv.sla_hours[c] for c in CATEGORIES])[cat]
    level = expo.training[branch, month]
    log_t = (
        np.log(median)
        + sigma * world.t_z_resolution
        + world.branch_efficiency[branch]
        + np.log(slowdown)
    )
    reeng = approval & (created >= expo.reeng_start_us[branch])
    shift = np.log(ic.process_reengineering.approval_median_hours_after) - np.log(median)
    log_t += np.where(reeng, expo.reeng_intensity[branch] * shift, 0.0)
    log_t += np.log1p(-ic.staff_training.time_reduction * level)
    log_t += np.where(ai_simple, np.log(ic.ai_assistant.simple_time_factor), 0.0)
    log_t += np.where(ai_complex, np.log(ic.ai_assistant.complex_time_factor), 0.0)
    hours = np.exp(log_t)

    esc_logit = (
        np.array([sv.escalation_logit[c] for c in CATEGORIES])[cat]
        + sv.escalation_if_late * (hours > sla)
        + ic.staff_training.escalation_logit * level
        + ic.ai_assistant.complex_escalation_logit * ai_complex
    )
    escalated = world.t_u_escalation < expit(esc_logit)
    hours = np.where(escalated, hours * sv.escalation_time_factor, hours)
    p_reopen = sv.reopen_probability * np.exp(
        ic.staff_training.reopen_log_factor * level
        + ic.ai_assistant.complex_reopen_log_factor * ai_complex
    )
    reopened = world.t_u_reopen < p_reopen
    hours = np.where(reopened, hours * sv.reopen_time_factor, hours)

    fr_median = np.array([sv.first_response_median_minutes[c] for c in CHANNELS])[channel]
    fr_minutes = fr_median * np.exp(sv.first_response_sigma * world.t_z_first_response) * slowdown
    fr_minutes = np.minimum(fr_minutes, hours * 60)
    resolved = created + np.maximum(1, np.round(hours * 3600)).astype(np.int64) * US_PER_SECOND
    first = created + np.maximum(1, np.round(fr_minutes * 60)).astype(np.int64) * US_PER_SECOND
    first = np.minimum(first, resolved)

    met = hours <= sla
    signals = np.column_stack(
        [
            np.clip(np.log(hours / sla), -2.5, 2.5) / 1.5,
            np.clip(np.log(np.maximum(fr_minutes, 1e-3) / 10), -4, 4) / 2,
            escalated,
            reopened,
            ai_simple,
            ai_complex,
            np.where(met, 0.5, -0.5),
        ]
    ).astype(np.float64)
    return {
        "channel": channel,
        "resolved_us": resolved,
        "first_response_us": first,
        "escalated": escalated,
        "reopened": reopened,
        "sla_hours": sla,
        "slow": ~met,
        "failed": escalated | reopened,
        "signals": signals,
    }


def hazard_terms(world: World) -> dict[str, float]:
    """The true log-hazard coefficients (intercepts per segment, then covariates)."""
    hc = world.config.exit_hazard
    out = {f"intercept_{s}": float(np.log(hc.base[s])) for s in SEGMENTS}
    out.update(
        {
            "rate_gap_pp": hc.rate_gap_pp,
            "forced_liquidation_3m": hc.forced_liquidation_3m,
            "slow_ticket_3m": hc.slow_ticket_3m,
            "failed_ticket_3m": hc.failed_ticket_3m,
            "surveyed_3m": hc.surveyed_3m,
            "dormant": hc.dormant,
            "new_client_12m": hc.new_client_12m,
        }
    )
    return out


@dataclass(frozen=True)
class Baseline:
    """The service with no intervention, identical for every scenario of a world.

    ``signals``: mean ticket signals (perceptions respond to signals relative to these, so a
    client without tickets perceives the firm's usual service); ``p_slow``, ``p_failed``,
    ``p_liquidated``: calm-month rates used to impute the three months before the window
    (lagged hazard covariates would otherwise start empty).
    """

    signals: np.ndarray
    p_slow: float
    p_failed: float
    p_liquidated: float


def baseline(world: World, null_exposure: Exposure) -> Baseline:
    """The :class:`Baseline` of ``world`` (``null_exposure``: no intervention at all)."""
    tk = _ticket_outcomes(world, null_exposure)
    calm = world.regime[world.t_month] == 0
    if not calm.any():
        calm = np.ones_like(calm)
    cells = world.exists & world.has_debt & (world.regime == 0)[None, :]
    p_liq = float(world.forced_liquidations[cells].mean()) if cells.any() else 0.0
    return Baseline(
        signals=tk["signals"].mean(axis=0),
        p_slow=float(tk["slow"][calm].mean()),
        p_failed=float(tk["failed"][calm].mean()),
        p_liquidated=p_liq,
    )


def _pre_window(world: World, base: Baseline) -> np.ndarray:
    """(N, 3, 4) imputed flags for the 3 months before the window (oldest first):
    a slow ticket, a failed ticket, a survey response, a forced liquidation."""
    sc = world.config.surveys
    lam = world.lam0[:, None]
    p_survey = sc.periodic_invite_rate * sc.periodic_response_rate
    p = np.stack(
        [
            1 - np.exp(-lam * base.p_slow),
            1 - np.exp(-lam * base.p_failed),
            1 - (1 - p_survey) * np.exp(-lam * sc.post_ticket_response_rate),
            np.where(world.has_debt[:, :1], base.p_liquidated, 0.0),
        ],
        axis=-1,
    )  # (N, 1, 4)
    flags = world.u_pre < p
    flags &= (world.open_month < 0)[:, None, None]
    return flags


def _recent(pre: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For each month, whether ``x`` (or its pre-window history) is set in the 3 months before."""
    extended = np.concatenate([pre, x], axis=1)
    return _window_sum(extended, 0, 3)[:, : x.shape[1]] > 0


def run_scenario(world: World, expo: Exposure, base: Baseline, *, full: bool = True) -> Outcome:
    """Simulate one scenario; with ``full=False`` skip what only the tables need.

    ``base`` is :func:`baseline` (identical for every scenario of a world).
    """
    cfg = world.config
    cal = world.calendar
    n, m_count = world.n_clients, cal.n
    sc, sat_cfg = cfg.surveys, cfg.satisfaction

    tk = _ticket_outcomes(world, expo)
    tk["signals"] = tk["signals"] - base.signals
    client, month = world.t_client, world.t_month

    # potential responses: post-ticket (resolved, answered in the window) then periodic
    post = (world.t_survey_slot >= 0) & (tk["resolved_us"] + world.t_delay_us < cal.end_us)
    post_idx = np.flatnonzero(post)
    p_branch = world.branch[world.p_client]
    invite_rate = (
        sc.periodic_invite_rate
        + (cfg.interventions.survey_program.invite_rate - sc.periodic_invite_rate)
        * expo.survey_program
    )
    periodic = world.p_u_invite < invite_rate[p_branch, world.p_month]
    per_idx = np.flatnonzero(periodic)
    r_client = np.concatenate([client[post_idx], world.p_client[per_idx]])
    r_responded = np.concatenate(
        [tk["resolved_us"][post_idx] + world.t_delay_us[post_idx], world.p_responded_us[per_idx]]
    )
    r_trigger = np.concatenate(
        [np.full(len(post_idx), POST_TICKET), np.full(len(per_idx), PERIODIC)]
    )
    r_ticket = np.concatenate([post_idx, np.full(len(per_idx), -1)])
    r_slot = np.concatenate([world.t_survey_slot[post_idx], world.p_survey_slot[per_idx]])
    r_exp_month = np.concatenate([month[post_idx], world.p_month[per_idx]])
    r_month = cal.month_of(r_responded)

    # exit hazard from lagged experience
    slow_cm = np.zeros((n, m_count), dtype=bool)
    failed_cm = np.zeros((n, m_count), dtype=bool)
    slow_cm[client[tk["slow"]], month[tk["slow"]]] = True
    failed_cm[client[tk["failed"]], month[tk["failed"]]] = True
    surveyed_cm = np.zeros((n, m_count), dtype=bool)
    surveyed_cm[r_client, r_month] = True
    fl_cm = world.forced_liquidations > 0
    pre = _pre_window(world, base)
    slow3 = _recent(pre[:, :, 0], slow_cm)
    failed3 = _recent(pre[:, :, 1], failed_cm)
    surveyed3 = _recent(pre[:, :, 2], surveyed_cm)
    fl3 = _recent(pre[:, :, 3], fl_cm)
    dormant_lag = np.concatenate([world.dormant[:, :1], world.dormant[:, :-1]], axis=1)
    year_us = 365 * 24 * 3600 * US_PER_SECOND
    new12 = world.open_us[:, None] > (cal.bounds_us[:-1][None, :] - year_us)
    hc = cfg.exit_hazard
    log_base = np.log(np.array([hc.base[s] for s in SEGMENTS]))[world.segment]
    log_h = (
        log_base[:, None]
        + hc.rate_gap_pp * world.rate_gap_pp
        + hc.forced_liquidation_3m * fl3
        + hc.slow_ticket_3m * slow3
        + hc.failed_ticket_3m * failed3
        + hc.surveyed_3m * surveyed3
        + hc.dormant * dormant_lag
        + hc.new_client_12m * new12
    )
    hazard = np.minimum(np.exp(log_h), 0.5)
    eligible = np.arange(m_count)[None, :] > world.open_month[:, None]
    hazard, campaigns = run_campaigns(
        world,
        hazard,
        eligible,
        world.u_exit,
        {
            "service_failure_3m": (slow3 | failed3).astype(float),
            "rate_gap_pp": world.rate_gap_pp,
            "dormant": dormant_lag.astype(float),
            "forced_liquidation_3m": fl3.astype(float),
        },
    )
    hit = eligible & (world.u_exit < hazard)
    exited = hit.any(axis=1)
    exit_month = np.where(exited, hit.argmax(axis=1), m_count)
    close_us = np.full(n, NEVER, dtype=np.int64)
    idx = np.flatnonzero(exited)
    close_us[idx] = pick_weekday_us(exit_month[idx], world.u_close_day[idx], cal.months)
    gap_at_exit = world.rate_gap_pp[idx, exit_month[idx]]
    transferred = np.zeros(n, dtype=bool)
    transferred[idx] = world.u_close_reason[idx] < expit(
        hc.transferred_intercept + hc.transferred_rate_gap_pp * gap_at_exit
    )

    ticket_exists = world.t_created_us < close_us[client]
    r_exists = r_responded < close_us[r_client]

    # satisfaction: perceptions from experience, latent satisfaction, ordinal cuts
    perceptions, sat = _satisfaction(world, expo, tk, r_client, r_ticket, r_exp_month, r_slot)
    csat = 1 + np.searchsorted(np.asarray(sat_cfg.csat_cuts), sat)
    out = Outcome(
        close_us=close_us,
        exit_month=exit_month,
        transferred=transferred,
        ticket_exists=ticket_exists,
        channel=tk["channel"],
        resolved_us=tk["resolved_us"],
        first_response_us=tk["first_response_us"],
        escalated=tk["escalated"],
        reopened=tk["reopened"],
        sla_hours=tk["sla_hours"],
        r_client=r_client,
        r_responded_us=r_responded,
        r_trigger=r_trigger,
        r_ticket=r_ticket,
        r_exists=r_exists,
        csat=csat,
        nps=np.zeros(0, dtype=np.int64),
        ces=np.zeros(0),
        ratings=np.zeros((0, len(ATTRIBUTES))),
        perceptions=perceptions,
        campaigns=campaigns,
    )
    if full:
        _answers(world, out, sat, r_slot)
        out.diagnostics = _diagnostics(world, out, invite_rate, post)
    return out


def _satisfaction(
    world: World,
    expo: Exposure,
    tk: dict[str, np.ndarray],
    r_client: np.ndarray,
    r_ticket: np.ndarray,
    r_exp_month: np.ndarray,
    r_slot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    cfg = world.config
    sat_cfg = cfg.satisfaction
    n, m_count = world.n_clients, world.calendar.n
    client, month = world.t_client, world.t_month
    signals = tk["signals"]
    q = len(r_client)
    k = len(SIGNALS)

    # past experience: for each response, the client's memory before its experience month
    memory = np.zeros((n, k))
    past = np.zeros((q, k))
    keep = sat_cfg.experience_memory
    ticket_bounds = np.searchsorted(month, np.arange(m_count + 1))
    order = np.argsort(r_exp_month, kind="stable")
    resp_bounds = np.searchsorted(r_exp_month[order], np.arange(m_count + 1))
    for m in range(m_count):
        sel = order[resp_bounds[m] : resp_bounds[m + 1]]
        past[sel] = memory[r_client[sel]]
        lo, hi = ticket_bounds[m], ticket_bounds[m + 1]
        if hi == lo:
            continue
        c = client[lo:hi]
        counts = np.bincount(c, minlength=n)
        had = counts > 0
        sums = np.stack(
            [np.bincount(c, weights=signals[lo:hi, j], minlength=n) for j in range(k)], 1
        )
        mean = sums[had] / counts[had, None]
        memory[had] = keep * memory[had] + (1 - keep) * mean

    is_post = r_ticket >= 0
    t = np.where(is_post, r_ticket, 0)
    w = sat_cfg.ticket_weight
    x = np.where(is_post[:, None], w * signals[t] + (1 - w) * past, past)

    branch = world.branch[r_client]
    fl = world.forced_liquidations > 0
    fl_recent = _window_sum(fl, -2, 1)[r_client, r_exp_month] > 0
    drivers = np.column_stack(
        [
            x,
            is_post & (world.t_category[t] == CATEGORIES.index("app_issue")),
            world.rate_gap_pp[r_client, r_exp_month],
            fl_recent,
            expo.training[branch, r_exp_month],
            expo.ai_month[branch, r_exp_month],
            expo.survey_program[branch, r_exp_month],
        ]
    ).astype(np.float64)
    weights = np.zeros((len(DRIVERS), len(ATTRIBUTES)))
    for j, attribute in enumerate(ATTRIBUTES):
        for name, value in sat_cfg.perception_drivers.get(attribute, {}).items():
            weights[DRIVERS.index(name), j] = value
    perceptions = (
        drivers @ weights
        + world.perception_client[r_client]
        + sat_cfg.perception_noise_sd * world.noise_perception[r_slot]
    )
    beta = np.array([sat_cfg.attribute_weights[a] for a in ATTRIBUTES])
    segment_effect = np.array([sat_cfg.segment_effect[s] for s in SEGMENTS])[world.segment]
    sat = (
        perceptions @ beta
        + sat_cfg.forced_liquidation_3m * fl_recent
        + sat_cfg.ai_on_complex_ticket * x[:, SIGNALS.index("ai_complex")]
        + segment_effect[r_client]
        + world.sat_client[r_client]
        + sat_cfg.noise_sd * world.noise_sat[r_slot]
    )
    return perceptions, sat


def _answers(world: World, out: Outcome, sat: np.ndarray, r_slot: np.ndarray) -> None:
    """NPS, CES and the attribute ratings of every potential response."""
    sat_cfg, sc = world.config.satisfaction, world.config.surveys
    out.nps = np.searchsorted(
        np.asarray(sat_cfg.nps_cuts), sat + sat_cfg.nps_noise_sd * world.noise_nps[r_slot]
    )
    raw = out.perceptions + sat_cfg.rating_noise_sd * world.noise_rating[r_slot]
    ratings = (1 + np.searchsorted(np.asarray(sat_cfg.rating_cuts), raw.ravel())).reshape(raw.shape)
    ratings = ratings.astype(np.float64)
    missing = np.array([sc.rating_missing[a] for a in ATTRIBUTES])
    ratings[world.u_missing[r_slot, : len(ATTRIBUTES)] < missing] = np.nan
    out.ratings = ratings
    speed = out.perceptions[:, ATTRIBUTES.index("speed")]
    resolution = out.perceptions[:, ATTRIBUTES.index("problem_resolution")]
    effort = -(0.6 * speed + 0.4 * resolution) + sat_cfg.ces_noise_sd * world.noise_ces[r_slot]
    ces = (1 + np.searchsorted(np.asarray(sat_cfg.ces_cuts), effort)).astype(np.float64)
    ces[(out.r_trigger == PERIODIC) | (world.u_missing[r_slot, -1] < sc.ces_missing)] = np.nan
    out.ces = ces


def _diagnostics(world: World, out: Outcome, invite_rate: np.ndarray, post: np.ndarray) -> dict:
    """Counts behind the response rates and the exit/dormancy rates (no client identifiers)."""
    cal = world.calendar
    m_count = cal.n
    months = np.arange(m_count)
    open_start = (world.open_month[:, None] < months[None, :]) & (
        out.close_us[:, None] >= cal.bounds_us[:-1][None, :]
    )
    invited = open_start & (world.u_invite < invite_rate[world.branch])
    periodic = out.r_exists & (out.r_trigger == PERIODIC)
    post_resp = out.r_exists & (out.r_trigger == POST_TICKET)
    resolved_in_window = out.ticket_exists & (out.resolved_us < cal.end_us)
    return {
        "periodic_invitations": int(invited.sum()),
        "periodic_responses": int(periodic.sum()),
        "post_ticket_invitations": int(resolved_in_window.sum()),
        "post_ticket_responses": int(post_resp.sum()),
        "post_ticket_candidates": int(post.sum()),
    }
