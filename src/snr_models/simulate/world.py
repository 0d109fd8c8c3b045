"""The part of the world that no intervention changes, drawn once per seed.

Everything random is drawn here, before any treatment is applied: the market, the clients, the
monthly margin panel, every *potential* ticket (one per slot a client could raise, whether or
not the client is still open by then) with all of its uniforms and normals, every potential
survey response with its noise, and the uniforms that decide exits. A scenario (the factual
world, or the world without one intervention) only maps these common random numbers through
treatment-dependent functions, so switching an intervention off changes only what it changes.

Each purpose has its own generator from ``np.random.SeedSequence(seed).spawn``: adding draws
for one purpose never shifts another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from snr_models.data.vocabulary import RISK_LEVELS
from snr_models.simulate.config import (
    APPROVALS,
    ATTRIBUTES,
    CATEGORIES,
    REGIMES,
    SEGMENTS,
    SimulationConfig,
)

__all__ = ["Calendar", "World", "build_world"]

US_PER_SECOND = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR
#: Sentinel for "never" (no close date, not resolved): later than any timestamp.
NEVER = np.iinfo(np.int64).max

_STREAMS: tuple[str, ...] = (
    "branches",
    "clients",
    "market",
    "activity",
    "margin",
    "usage",
    "tickets",
    "ticket_draws",
    "periodic",
    "survey_noise",
    "exit",
    "rollout",
)

ACQUISITION_CHANNELS: tuple[str, ...] = (
    "branch_walk_in",
    "online",
    "referral",
    "marketing_campaign",
    "institutional_sales",
)


@dataclass(frozen=True)
class Calendar:
    """The simulated months and their boundaries in microseconds since the epoch."""

    months: np.ndarray  # datetime64[M], n
    bounds_us: np.ndarray  # int64, n + 1: first day of each month and of the month after

    @property
    def n(self) -> int:
        return len(self.months)

    @property
    def end_us(self) -> int:
        return int(self.bounds_us[-1])

    def month_of(self, us: np.ndarray) -> np.ndarray:
        """Index of the month holding each timestamp (-1 before the window, n after it)."""
        return np.searchsorted(self.bounds_us, us, side="right") - 1

    def labels(self) -> list[str]:
        return [str(m) for m in self.months]


def make_calendar(start_month: str, n_months: int) -> Calendar:
    months = np.datetime64(start_month, "M") + np.arange(n_months)
    bounds = (np.datetime64(start_month, "M") + np.arange(n_months + 1)).astype("datetime64[us]")
    return Calendar(months=months, bounds_us=bounds.astype(np.int64))


def _weekdays(month: np.datetime64) -> np.ndarray:
    """The weekdays (Mon-Fri) of a month, as datetime64[D]."""
    days = np.arange(
        month.astype("datetime64[D]"), (month + 1).astype("datetime64[D]"), dtype="datetime64[D]"
    )
    return days[np.is_busday(days)]


def pick_weekday_us(
    month_index: np.ndarray, u: np.ndarray, calendar_months: np.ndarray
) -> np.ndarray:
    """A weekday (midnight, in microseconds) of each given month, chosen by a uniform."""
    out = np.empty(len(month_index), dtype=np.int64)
    for m in np.unique(month_index):
        sel = month_index == m
        days = _weekdays(calendar_months[m]).astype("datetime64[us]").astype(np.int64)
        out[sel] = days[np.minimum((u[sel] * len(days)).astype(np.int64), len(days) - 1)]
    return out


@dataclass
class World:
    """Common random numbers and the scenario-independent state of the world.

    Shapes: ``B`` branches, ``N`` clients, ``M`` months, ``T`` potential tickets, ``K``
    survey-noise slots. Panels are ``(N, M)``; a cell before a client's opening month is unused.
    """

    config: SimulationConfig
    calendar: Calendar
    streams: dict[str, np.random.Generator]
    # branches
    branch_ids: np.ndarray  # (B,) str
    branch_efficiency: np.ndarray  # (B,) log resolution-time offset
    # market
    regime: np.ndarray  # (M,) int 0 calm, 1 volatile, 2 crash
    index_return: np.ndarray
    volatility: np.ndarray
    turnover: np.ndarray
    market_rate: np.ndarray
    # clients
    client_ids: np.ndarray  # (N,) str
    branch: np.ndarray  # (N,) int
    segment: np.ndarray  # (N,) int
    open_us: np.ndarray  # (N,) int64, midnight
    open_month: np.ndarray  # (N,) int, -1 if opened before the window
    birth_year: np.ndarray  # (N,) float, NaN for none
    risk_level: np.ndarray  # (N,) int
    acquisition_channel: np.ndarray  # (N,) int
    sat_client: np.ndarray  # (N,) client effect on latent satisfaction
    perception_client: np.ndarray  # (N, 7) client effect on each attribute perception
    # monthly panel (N, M)
    exists: np.ndarray  # bool: the client's account exists by this month
    inactive: np.ndarray  # bool
    dormant: np.ndarray  # bool
    has_debt: np.ndarray  # bool
    financing_balance: np.ndarray  # float64
    short_balance: np.ndarray
    collateral_value: np.ndarray
    maintenance_ratio_min: np.ndarray  # NaN without debt
    margin_calls: np.ndarray  # int
    forced_liquidations: np.ndarray  # int
    trades: np.ndarray
    logins: np.ndarray
    financing_rate: np.ndarray
    rate_gap_pp: np.ndarray
    # potential tickets (T,)
    t_client: np.ndarray
    t_month: np.ndarray
    t_created_us: np.ndarray
    t_category: np.ndarray  # int index into CATEGORIES
    t_u_channel: np.ndarray
    t_z_resolution: np.ndarray
    t_z_first_response: np.ndarray
    t_u_escalation: np.ndarray
    t_u_reopen: np.ndarray
    t_survey_slot: np.ndarray  # -1 if the client would not answer a post-ticket survey
    t_delay_us: np.ndarray  # survey response delay after resolution
    lam0: np.ndarray  # (N,) expected tickets in the first month (for the pre-window history)
    u_pre: np.ndarray  # (N, 3, 4) uniforms: slow, failed, surveyed, liquidated, 1-3 months before
    # periodic surveys: (N, M) invitation uniforms; candidate responses (P,)
    u_invite: np.ndarray
    p_client: np.ndarray
    p_month: np.ndarray
    p_u_invite: np.ndarray
    p_responded_us: np.ndarray
    p_survey_slot: np.ndarray
    # survey noise (K, ...)
    noise_perception: np.ndarray  # (K, 7)
    noise_rating: np.ndarray  # (K, 7)
    noise_sat: np.ndarray  # (K,)
    noise_nps: np.ndarray
    noise_ces: np.ndarray
    u_missing: np.ndarray  # (K, 8): seven ratings then ces
    # exits
    u_exit: np.ndarray  # (N, M)
    u_close_day: np.ndarray  # (N,)
    u_close_reason: np.ndarray  # (N,)

    @property
    def n_clients(self) -> int:
        return len(self.client_ids)

    @property
    def n_branches(self) -> int:
        return len(self.branch_ids)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {
        name: np.random.default_rng(child) for name, child in zip(_STREAMS, children, strict=True)
    }


def _market(
    cfg: SimulationConfig, cal: Calendar, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    mc = cfg.market
    n = cal.n
    trans = np.array([[mc.transition[a][b] for b in REGIMES] for a in REGIMES])
    cum = np.cumsum(trans, axis=1)
    u = rng.random(n)
    labels = cal.labels()
    regime = np.empty(n, dtype=np.int64)
    state = REGIMES.index(mc.initial_regime)
    for m in range(n):
        if m > 0:
            state = int(min(np.searchsorted(cum[state], u[m], side="right"), len(REGIMES) - 1))
        forced = mc.regime_overrides.get(labels[m])
        if forced is not None:
            state = REGIMES.index(forced)
        regime[m] = state
    params = [mc.regimes[r] for r in REGIMES]
    mean = np.array([p.index_return_mean for p in params])[regime]
    sd = np.array([p.index_return_sd for p in params])[regime]
    index_return = mean + sd * rng.standard_normal(n)
    vol = np.array([p.volatility for p in params])[regime] * np.exp(
        mc.volatility_noise_sd * rng.standard_normal(n)
    )
    turnover = np.array([p.turnover for p in params])[regime] * np.exp(
        mc.turnover_noise_sd * rng.standard_normal(n)
    )
    rc = cfg.rates
    market_rate = rc.market_rate_floor + (rc.market_rate_start - rc.market_rate_floor) * np.exp(
        -np.arange(n) / rc.decay_months
    )
    return {
        "regime": regime,
        "index_return": np.round(index_return, 6),
        "volatility": np.round(vol, 6),
        "turnover": np.round(turnover, -6),
        "market_rate": np.round(market_rate, 6),
    }


def _clients(cfg: SimulationConfig, cal: Calendar, streams: dict) -> dict[str, np.ndarray]:
    cc = cfg.clients
    rng = streams["clients"]
    brng = streams["branches"]
    n_total = cfg.n_clients
    g = cc.new_accounts_per_month
    n_new = int(round(n_total * g * cal.n / (1 + g * cal.n)))
    n_init = n_total - n_new
    # branch sizes: lognormal weights, kept within [0.3, 1.4] x the mean
    w = np.exp(cc.branch_size_sd * brng.standard_normal(cfg.n_branches))
    w = np.clip(w / w.mean(), 0.3, 1.4)
    branch = brng.choice(cfg.n_branches, size=n_total, p=w / w.sum())
    branch_efficiency = cfg.service.branch_efficiency_sd * brng.standard_normal(cfg.n_branches)
    width = max(3, len(str(cfg.n_branches)))
    branch_ids = np.array([f"B{b + 1:0{width}d}" for b in range(cfg.n_branches)], dtype=object)

    shares = np.array([cc.segment_shares[s] for s in SEGMENTS])
    segment = rng.choice(len(SEGMENTS), size=n_total, p=shares / shares.sum())

    # open dates: the initial book has tenure (gamma, mean tenure_mean_years); new accounts
    # open on weekdays spread over the window
    start_day = cal.months[0].astype("datetime64[D]")
    earliest = np.datetime64(cc.earliest_open_date, "D")
    tenure_days = rng.gamma(1.6, cc.tenure_mean_years * 365.25 / 1.6, size=n_init)
    longest = max(1, int((start_day - earliest).astype(np.int64)))
    redraw = rng.random(n_init) * longest  # margin trading began on `earliest`: no pile-up there
    tenure_days = np.where(tenure_days > longest, redraw, tenure_days)
    open_init = start_day - np.maximum(1, tenure_days).astype(np.int64)
    open_init = np.busday_offset(open_init, 0, roll="backward")
    new_month = rng.integers(0, cal.n, size=n_new)
    open_new = pick_weekday_us(new_month, rng.random(n_new), cal.months)
    open_us = np.concatenate([open_init.astype("datetime64[us]").astype(np.int64), open_new])
    tiebreak = rng.random(n_total)
    order = np.lexsort((tiebreak, open_us))
    open_us = open_us[order]
    # the first n_init (by construction) precede the window; keep segment/branch random
    open_month = cal.month_of(open_us)
    open_month = np.where(open_us < cal.bounds_us[0], -1, open_month)

    # client numbers: increasing with the opening date, with gaps (other account types)
    gaps = 1 + rng.geometric(0.35, size=n_total)
    numbers = 10_000_000 + np.cumsum(gaps)
    client_ids = np.array([f"C{x:08d}" for x in numbers], dtype=object)

    age = np.clip(rng.normal(45.0, 11.0, size=n_total) + 5.0 * (segment == 1), 22, 82)
    start_year = int(str(cal.months[0])[:4])
    birth_year = (start_year - np.round(age)).astype(np.float64)
    birth_year[(segment == 2) | (rng.random(n_total) < cc.birth_year_missing)] = np.nan

    risk_p = np.array(
        [[0.01, 0.04, 0.35, 0.4, 0.2], [0.0, 0.02, 0.28, 0.42, 0.28], [0.0, 0.05, 0.45, 0.35, 0.15]]
    )
    u = rng.random(n_total)
    risk_level = (u[:, None] > np.cumsum(risk_p[segment], axis=1)).sum(axis=1)
    risk_level = np.minimum(risk_level, len(RISK_LEVELS) - 1)

    open_year = open_us.astype("datetime64[us]").astype("datetime64[Y]").astype(np.int64) + 1970
    online = np.clip(0.1 + 0.045 * (open_year - 2010), 0.1, 0.6)
    u = rng.random(n_total)
    rest = (1 - online) / 3
    channel = np.select(
        [u < online, u < online + rest, u < online + 2 * rest], [1, 0, 2], default=3
    )
    channel = np.where((segment == 2) & (rng.random(n_total) < 0.8), 4, channel)

    sc = cfg.satisfaction
    sat_client = sc.client_effect_sd * rng.standard_normal(n_total)
    perception_client = sc.perception_client_sd * rng.standard_normal((n_total, len(ATTRIBUTES)))
    return {
        "branch_ids": branch_ids,
        "branch_efficiency": branch_efficiency,
        "client_ids": client_ids,
        "branch": branch,
        "segment": segment,
        "open_us": open_us,
        "open_month": open_month,
        "birth_year": birth_year,
        "risk_level": risk_level,
        "acquisition_channel": channel,
        "sat_client": sat_client,
        "perception_client": perception_client,
    }


def _panel(
    cfg: SimulationConfig, cal: Calendar, market: dict, clients: dict, streams: dict
) -> dict[str, np.ndarray]:
    """The monthly snapshot of every client's account, open or not (scenario-independent)."""
    cc, mg, rc = cfg.clients, cfg.margin, cfg.rates
    n, m_count = len(clients["client_ids"]), cal.n
    seg = clients["segment"]
    exists = np.arange(m_count)[None, :] >= clients["open_month"][:, None]

    # activity: a two-state Markov chain; dormant after `dormant_after_months` inactive months
    arng = streams["activity"]
    p_in, p_out = cc.inactive_rate, cc.reactivation_rate
    stationary = p_in / (p_in + p_out) if p_in + p_out > 0 else 0.0
    initial = clients["open_month"] < 0
    inactive_now = initial & (arng.random(n) < stationary)
    run = np.where(inactive_now, arng.geometric(max(p_out, 1e-6), size=n) - 1, 0)
    u_act = arng.random((m_count, n))
    inactive = np.zeros((n, m_count), dtype=bool)
    dormant = np.zeros((n, m_count), dtype=bool)
    state, length = inactive_now, run
    for m in range(m_count):
        switch_off = ~state & (u_act[m] < p_in)
        switch_on = state & (u_act[m] < p_out)
        newly = clients["open_month"] == m
        state = ((state & ~switch_on) | switch_off) & ~newly
        length = np.where(state, length + 1, 0)
        inactive[:, m] = state
        dormant[:, m] = length >= cc.dormant_after_months

    # margin: debt status, the maintenance ratio and its lowest point, calls and liquidations
    mrng = streams["margin"]
    regimes = [cfg.market.regimes[r] for r in REGIMES]
    dd_per_vol = np.array([r.intramonth_drawdown for r in regimes])[market["regime"]]
    drawdown = dd_per_vol * market["volatility"] + 0.5 * np.maximum(0, -market["index_return"])
    beta = mrng.uniform(mg.drawdown_beta_low, mg.drawdown_beta_high, size=n)
    share = np.array([mg.borrower_share[s] for s in SEGMENTS])[seg]
    # a persistent propensity: P(z < q) over clients equals the segment's share
    q = ndtri(share) * np.sqrt(1 + 0.8**2) + 0.8 * mrng.standard_normal(n)
    a = mg.ratio_client_sd * mrng.standard_normal(n)
    log_c = np.log(np.array([mg.collateral_median[s] for s in SEGMENTS])[seg]) + (
        mg.collateral_sd * mrng.standard_normal(n)
    )
    short_frac = np.where(
        mrng.random(n) < mg.short_seller_share,
        mrng.uniform(0.05, mg.short_share_of_debt_max, size=n),
        0.0,
    )
    z = mrng.standard_normal(n)
    e = mg.ratio_month_sd * mrng.standard_normal(n)
    v = 0.1 * mrng.standard_normal(n)
    rho_d, phi = mg.borrower_persistence, mg.ratio_month_persistence
    cum_return = np.cumsum(np.log1p(market["index_return"]))
    shape = (n, m_count)
    has_debt = np.zeros(shape, dtype=bool)
    fin = np.zeros(shape)
    short = np.zeros(shape)
    coll = np.zeros(shape)
    ratio_min = np.full(shape, np.nan)
    calls = np.zeros(shape, dtype=np.int64)
    fl = np.zeros(shape, dtype=np.int64)
    log_median = np.log(mg.ratio_median)
    for m in range(m_count):
        noise = mrng.standard_normal((5, n))
        u = mrng.random((2, n))
        z = rho_d * z + np.sqrt(1 - rho_d**2) * noise[0]
        e = phi * e + np.sqrt(1 - phi**2) * mg.ratio_month_sd * noise[1]
        v = 0.9 * v + np.sqrt(1 - 0.81) * 0.1 * noise[2]
        debt_now = ~inactive[:, m] & (z < q)
        level = log_median + a + e
        rmin = np.exp(level + mg.ratio_intramonth_sd * noise[3] - beta * drawdown[m])
        call = rmin < mg.call_line
        below = rmin < mg.liquidation_line
        missed = call & (u[0] >= mg.top_up_probability)
        liquidated = (below & (u[1] < mg.liquidation_probability_below_line)) | missed
        n_calls = call.astype(np.int64) + (call & (rmin < mg.call_line - 0.06) & (u[1] < 0.35))
        rend = np.maximum(rmin, np.exp(level + 0.05 * noise[4] - 0.3 * beta * drawdown[m]))
        rend = np.where(liquidated, np.maximum(rend, 1.7 + 0.3 * u[0]), rend)
        collateral = np.exp(log_c + 0.8 * beta * cum_return[m] + v)
        debt = collateral / rend
        has_debt[:, m] = debt_now
        fin[:, m] = np.where(debt_now, debt * (1 - short_frac), 0.0)
        short[:, m] = np.where(debt_now, debt * short_frac, 0.0)
        coll[:, m] = np.where(debt_now, collateral, collateral * np.where(inactive[:, m], 0.3, 1))
        ratio_min[:, m] = np.where(debt_now, rmin, np.nan)
        calls[:, m] = np.where(debt_now, n_calls, 0)
        fl[:, m] = np.where(debt_now, liquidated, 0)

    # usage: logins (at least one while active) and trades
    urng = streams["usage"]
    login_mean = cc.logins_median * np.exp(0.6 * urng.standard_normal(n))
    trade_mean = cc.trades_median * np.exp(0.8 * urng.standard_normal(n))
    login_mult = np.array([r.logins_multiplier for r in regimes])[market["regime"]]
    turnover_mult = market["turnover"] / cfg.market.regimes["calm"].turnover
    logins = 1 + urng.poisson(np.maximum(login_mean[:, None] * login_mult[None, :] - 1, 0.1))
    logins = np.where(inactive, 0, logins)
    trades = urng.poisson(
        trade_mean[:, None] * turnover_mult[None, :] * np.where(has_debt, 1.0, 0.5)
    )
    trades = np.where(inactive, 0, trades)

    # financing rate: market rate + the client's gap (pp), quoted in steps
    gap = np.array([rc.gap_mean_pp[s] for s in SEGMENTS])[
        seg
    ] + rc.gap_sd_pp * urng.standard_normal(n)
    raw = (
        market["market_rate"][None, :]
        + (gap[:, None] + rc.monthly_noise_pp * urng.standard_normal(shape)) / 100
    )
    rate = np.maximum(np.round(raw / rc.quote_step) * rc.quote_step, 0.02)
    rate = np.round(rate, 6)
    rate_gap_pp = (rate - market["market_rate"][None, :]) * 100

    return {
        "exists": exists,
        "inactive": inactive,
        "dormant": dormant,
        "has_debt": has_debt,
        "financing_balance": np.round(fin, 2),
        "short_balance": np.round(short, 2),
        "collateral_value": np.round(coll, 2),
        "maintenance_ratio_min": np.round(ratio_min, 4),
        "margin_calls": calls,
        "forced_liquidations": fl,
        "trades": trades.astype(np.int64),
        "logins": logins.astype(np.int64),
        "financing_rate": rate,
        "rate_gap_pp": rate_gap_pp,
    }


def _time_of_day_us(u: np.ndarray) -> np.ndarray:
    """Time into the day (microseconds, whole seconds): a midday peak, a tail into the evening."""
    mean, sd, lo, hi = 12.8, 2.9, 6.5, 23.9  # a normal truncated to [lo, hi] hours
    a, b = ndtr((lo - mean) / sd), ndtr((hi - mean) / sd)
    hours = mean + sd * ndtri(a + u * (b - a))
    return (np.floor(hours * 3600) * US_PER_SECOND).astype(np.int64)


def _tickets(
    cfg: SimulationConfig, cal: Calendar, market: dict, clients: dict, panel: dict, streams: dict
) -> dict[str, np.ndarray]:
    sv = cfg.service
    rng = streams["tickets"]
    n, m_count = len(clients["client_ids"]), cal.n
    regimes = [cfg.market.regimes[r] for r in REGIMES]
    reg_mult = np.array([r.ticket_multiplier for r in regimes])[market["regime"]]
    seg_mult = np.array([sv.segment_multiplier[s] for s in SEGMENTS])[clients["segment"]]
    propensity = np.exp(
        sv.client_propensity_sd * rng.standard_normal(n) - sv.client_propensity_sd**2 / 2
    )
    lam = (
        sv.tickets_per_active_month
        * (propensity * seg_mult)[:, None]
        * reg_mult[None, :]
        * np.where(panel["inactive"], sv.inactive_multiplier, 1.0)
        * (1 + sv.margin_call_multiplier * (panel["margin_calls"] > 0))
    )
    lam = np.where(panel["exists"], lam, 0.0)
    counts = rng.poisson(lam)
    cells = np.flatnonzero(counts.ravel())
    reps = counts.ravel()[cells]
    cell = np.repeat(cells, reps)
    client = (cell // m_count).astype(np.int64)
    month = (cell % m_count).astype(np.int64)
    t = len(cell)

    d = streams["ticket_draws"]
    u_day, u_tod, u_cat, u_mc = d.random((4, t))
    # created_at: a day of the month (weekdays four times as likely), a time of day
    created = np.empty(t, dtype=np.int64)
    for m in range(m_count):
        sel = month == m
        days = np.arange(
            cal.months[m].astype("datetime64[D]"),
            (cal.months[m] + 1).astype("datetime64[D]"),
            dtype="datetime64[D]",
        )
        weight = np.where(np.is_busday(days), 1.0, 0.25)
        cdf = np.cumsum(weight) / weight.sum()
        idx = np.minimum(np.searchsorted(cdf, u_day[sel], side="right"), len(days) - 1)
        created[sel] = days[idx].astype("datetime64[us]").astype(np.int64)
    created += _time_of_day_us(u_tod)
    # in the opening month, squeeze the ticket into [open date, month end)
    open_us = clients["open_us"][client]
    late_open = created < open_us
    if late_open.any():
        m0 = cal.bounds_us[month[late_open]]
        m1 = cal.bounds_us[month[late_open] + 1]
        o = open_us[late_open]
        frac = (created[late_open] - m0) / (m1 - m0)
        squeezed = o + np.floor(frac * (m1 - o) / US_PER_SECOND).astype(np.int64) * US_PER_SECOND
        created[late_open] = squeezed

    # category: the regime's mix; a client-month with a margin call raises margin_call tickets
    base = np.array([sv.category_shares[c] for c in CATEGORIES])
    base = base / base.sum()
    extra = np.array([sv.volatile_extra_shares.get(c, 0.0) for c in CATEGORIES])
    extra = extra / extra.sum()
    mix = np.stack(
        [(base + (r.ticket_multiplier - 1) * extra) / r.ticket_multiplier for r in regimes]
    )
    mix = np.maximum(mix, 0)
    cdf = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)
    category = (u_cat[:, None] > cdf[market["regime"][month]]).sum(axis=1)
    category = np.minimum(category, len(CATEGORIES) - 1)
    mc_code = CATEGORIES.index("margin_call")
    had_call = panel["margin_calls"][client, month] > 0
    category = np.where(had_call & (u_mc < 0.6), mc_code, category)
    no_debt = ~panel["has_debt"][client, month]
    category = np.where(no_debt & (category == mc_code), CATEGORIES.index("other"), category)

    order = np.lexsort((client, created))
    client, month, created, category = client[order], month[order], created[order], category[order]

    u_channel, u_esc, u_reopen, u_post = d.random((4, t))
    z_res, z_fr, z_delay = d.standard_normal((3, t))
    sc = cfg.surveys
    delay_hours = sc.response_delay_median_hours * np.exp(sc.response_delay_sigma * z_delay)
    delay_us = np.maximum(60, np.round(delay_hours * 3600)).astype(np.int64) * US_PER_SECOND
    return {
        "lam0": lam[:, 0],
        "t_client": client,
        "t_month": month,
        "t_created_us": created,
        "t_category": category.astype(np.int64),
        "t_u_channel": u_channel,
        "t_z_resolution": z_res,
        "t_z_first_response": z_fr,
        "t_u_escalation": u_esc,
        "t_u_reopen": u_reopen,
        "t_u_post": u_post,
        "t_delay_us": delay_us,
    }


def max_invite_rate(cfg: SimulationConfig) -> float:
    """The highest periodic-invitation rate any branch-month can have."""
    return max(cfg.surveys.periodic_invite_rate, cfg.interventions.survey_program.invite_rate)


def build_world(cfg: SimulationConfig) -> World:
    """Draw the scenario-independent world for ``cfg`` (deterministic for ``cfg.seed``)."""
    cal = make_calendar(cfg.start_month, cfg.n_months)
    streams = _streams(cfg.seed)
    market = _market(cfg, cal, streams["market"])
    clients = _clients(cfg, cal, streams)
    panel = _panel(cfg, cal, market, clients, streams)
    tickets = _tickets(cfg, cal, market, clients, panel, streams)
    n, m_count = len(clients["client_ids"]), cal.n

    # post-ticket survey candidates: the client would answer if the ticket is resolved in time
    sc = cfg.surveys
    post = tickets.pop("t_u_post") < sc.post_ticket_response_rate
    n_post = int(post.sum())
    t_slot = np.full(len(post), -1, dtype=np.int64)
    t_slot[post] = np.arange(n_post)

    # periodic candidates: invited at the highest possible rate and willing to answer
    prng = streams["periodic"]
    u_invite = prng.random((n, m_count))
    u_resp = prng.random((n, m_count))
    u_time = prng.random((n, m_count))
    rate = sc.periodic_response_rate * np.where(panel["inactive"], sc.inactive_response_factor, 1.0)
    after_open = np.arange(m_count)[None, :] > clients["open_month"][:, None]
    cand = after_open & (u_invite < max_invite_rate(cfg)) & (u_resp < rate)
    p_client, p_month = np.nonzero(cand)
    # a day of the month (uniform), at a time of day like the tickets'
    days = (cal.bounds_us[p_month + 1] - cal.bounds_us[p_month]) // US_PER_DAY
    scaled = u_time[p_client, p_month] * days
    day = np.minimum(np.floor(scaled).astype(np.int64), days - 1)
    responded = cal.bounds_us[p_month] + day * US_PER_DAY + _time_of_day_us(scaled - day)
    p_slot = n_post + np.arange(len(p_client))
    k = n_post + len(p_client)

    srng = streams["survey_noise"]
    noise_perception = srng.standard_normal((k, len(ATTRIBUTES)), dtype=np.float32)
    noise_rating = srng.standard_normal((k, len(ATTRIBUTES)), dtype=np.float32)
    noise_sat, noise_nps, noise_ces = srng.standard_normal((3, k), dtype=np.float32)
    u_missing = srng.random((k, len(ATTRIBUTES) + 1), dtype=np.float32)

    erng = streams["exit"]
    u_exit = erng.random((n, m_count))
    u_close_day = erng.random(n)
    u_close_reason = erng.random(n)
    u_pre = erng.random((n, 3, 4))

    return World(
        config=cfg,
        calendar=cal,
        streams=streams,
        branch_ids=clients["branch_ids"],
        branch_efficiency=clients["branch_efficiency"],
        regime=market["regime"],
        index_return=market["index_return"],
        volatility=market["volatility"],
        turnover=market["turnover"],
        market_rate=market["market_rate"],
        client_ids=clients["client_ids"],
        branch=clients["branch"],
        segment=clients["segment"],
        open_us=clients["open_us"],
        open_month=clients["open_month"],
        birth_year=clients["birth_year"],
        risk_level=clients["risk_level"],
        acquisition_channel=clients["acquisition_channel"],
        sat_client=clients["sat_client"],
        perception_client=clients["perception_client"],
        **panel,
        **tickets,
        t_survey_slot=t_slot,
        u_invite=u_invite,
        p_client=p_client.astype(np.int64),
        p_month=p_month.astype(np.int64),
        p_u_invite=u_invite[p_client, p_month],
        p_responded_us=responded,
        p_survey_slot=p_slot,
        noise_perception=noise_perception,
        noise_rating=noise_rating,
        noise_sat=noise_sat,
        noise_nps=noise_nps,
        noise_ces=noise_ces,
        u_missing=u_missing,
        u_exit=u_exit,
        u_close_day=u_close_day,
        u_close_reason=u_close_reason,
        u_pre=u_pre,
    )


def approval_mask(category: np.ndarray) -> np.ndarray:
    """True for the approval categories (re-engineering moves them online)."""
    return np.isin(category, [CATEGORIES.index(c) for c in APPROVALS])
