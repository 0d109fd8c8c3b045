"""Ground truth: each intervention's effect by common random numbers, and the story of the rate."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from snr_models.simulate.components import WEIGHTS, Counts, count_components
from snr_models.simulate.config import ATTRIBUTES, SEGMENTS, SimulationConfig
from snr_models.simulate.outcomes import Outcome, hazard_terms
from snr_models.simulate.rollout import Rollout
from snr_models.simulate.world import NEVER, World

__all__ = [
    "Summary",
    "comparison_periods",
    "counts_for",
    "json_safe",
    "package_version",
    "shapley_values",
    "summarise",
    "truth_dict",
]

COMPONENTS = ("S", "R", "E", "net_rate")


def package_version() -> str:
    try:
        return metadata.version("snr_models")
    except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
        return "0+unknown"


def json_safe(value: Any) -> Any:
    """Plain Python types, with NaN and infinities as ``None``."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def comparison_periods(n_months: int) -> tuple[range, range]:
    """Month indices of the first and the last periods compared (three months each)."""
    k = max(1, min(3, n_months // 2))
    return range(0, k), range(n_months - k, n_months)


def counts_for(world: World, out: Outcome, bounds: np.ndarray, months_per_period: int) -> Counts:
    """S, R, E counts per branch for the scenario ``out`` over the periods ``bounds``."""
    t = out.ticket_exists
    r = out.r_exists
    resolved = np.where(out.resolved_us < world.calendar.end_us, out.resolved_us, NEVER)
    return count_components(
        bounds,
        world.n_branches,
        months_per_period,
        client_group=world.branch,
        open_us=world.open_us,
        close_us=out.close_us,
        ticket_group=world.branch[world.t_client[t]],
        created_us=world.t_created_us[t],
        resolved_us=resolved[t],
        sla_hours=out.sla_hours[t],
        response_group=world.branch[out.r_client[r]],
        responded_us=out.r_responded_us[r],
        csat=out.csat[r],
    )


def _mean(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def _effects(
    factual: dict[str, np.ndarray], counterfactual: dict[str, np.ndarray], first: np.ndarray
) -> dict[str, Any]:
    """Average differences over treated branch-months, per branch, and by event time."""
    n_branches, n_months = factual["S"].shape
    treated = np.arange(n_months)[None, :] >= first[:, None]
    diff = {c: factual[c] - counterfactual[c] for c in COMPONENTS}
    effect = {c: _mean(diff[c][treated]) for c in COMPONENTS}
    per_branch = {}
    for b in np.flatnonzero(first < n_months):
        per_branch[int(b)] = {c: _mean(diff[c][b, treated[b]]) for c in COMPONENTS}
    by_event = {}
    for e in range(n_months - int(first.min()) if (first < n_months).any() else 0):
        rows = np.flatnonzero(first + e < n_months)
        if not len(rows):
            break
        cols = first[rows] + e
        by_event[str(e)] = {c: _mean(diff[c][rows, cols]) for c in COMPONENTS}
    return {
        "effect": effect,
        "n_treated_branch_months": int(treated.sum()),
        "per_branch": per_branch,
        "by_event_time": by_event,
    }


def _pooled(world: World, out: Outcome, months: range) -> dict[str, float]:
    cal = world.calendar
    bounds = np.array([cal.bounds_us[months.start], cal.bounds_us[months.stop]])
    comps = counts_for(world, out, bounds, len(months)).total().components()
    return {c: float(comps[c][0, 0]) for c in COMPONENTS}


def _change(pooled: dict[str, dict[str, float]]) -> float:
    return pooled["last"]["net_rate"] - pooled["first"]["net_rate"]


def shapley_values(
    factual: dict[str, dict[str, float]], off: dict[frozenset[str], dict[str, dict[str, float]]]
) -> dict[str, float]:
    """Each intervention's Shapley value of the joint contribution to the net rate's change.

    ``off`` maps every non-empty set of interventions to the pooled components of the world
    with that set switched off; ``v(S)`` is the change with only ``S`` on minus the change with
    none on, and intervention ``i`` gets ``sum_S |S|! (k - |S| - 1)! / k! (v(S + i) - v(S))``.

    Examples
    --------
    >>> p = lambda first, last: {"first": {"net_rate": first}, "last": {"net_rate": last}}
    >>> off = {frozenset("a"): p(0, 1), frozenset("b"): p(0, 2), frozenset("ab"): p(0, 0)}
    >>> shapley_values(p(0, 4), off)  # v(a)=2, v(b)=1, v(ab)=4: a gets (2 + 3) / 2
    {'a': 2.5, 'b': 1.5}
    """
    names = sorted(set().union(*off))
    everyone = frozenset(names)
    k = len(names)

    def value(on: frozenset[str]) -> float:
        world = factual if on == everyone else off[everyone - on]
        return _change(world) - _change(off[everyone])

    out = {}
    for name in names:
        others = [n for n in names if n != name]
        phi = 0.0
        for size in range(len(others) + 1):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for coalition in itertools.combinations(others, size):
                s = frozenset(coalition)
                phi += weight * (value(s | {name}) - value(s))
        out[name] = phi
    return out


@dataclass(frozen=True)
class Summary:
    """What the truth needs from a scenario: monthly components per branch and firm-wide, and
    the firm-wide components pooled over the first and the last comparison periods."""

    branch: dict[str, np.ndarray]  # (B, M) per component
    firm: dict[str, np.ndarray]  # (1, M)
    pooled: dict[str, dict[str, float]]  # {"first": {...}, "last": {...}}


def summarise(world: World, out: Outcome) -> Summary:
    """Reduce a scenario to its :class:`Summary` (so its arrays can be freed)."""
    cal = world.calendar
    monthly = counts_for(world, out, cal.bounds_us, 1)
    first, last = comparison_periods(cal.n)
    return Summary(
        branch=monthly.components(),
        firm=monthly.total().components(),
        pooled={"first": _pooled(world, out, first), "last": _pooled(world, out, last)},
    )


def truth_dict(
    cfg: SimulationConfig,
    world: World,
    rollout: Rollout,
    factual: Outcome,
    counterfactuals: dict[str, Summary],
    none: Summary | None = None,
    subsets: dict[frozenset[str], Summary] | None = None,
) -> dict[str, Any]:
    """The ``truth.json`` document (see the module docstring of :mod:`..simulate`).

    ``counterfactuals`` maps an intervention to the :class:`Summary` of the world without it;
    ``none`` is the world without any intervention; ``subsets`` maps every non-empty set of
    interventions to the world with that set switched off (for the Shapley values).
    """
    cal = world.calendar
    labels = cal.labels()
    summary_f = summarise(world, factual)
    branch_f, firm_f, pooled_f = summary_f.branch, summary_f.firm, summary_f.pooled
    first, last = comparison_periods(cal.n)

    interventions: dict[str, Any] = {}
    contributions: dict[str, float] = {}
    branch_ids = list(world.branch_ids)
    for name, cf in counterfactuals.items():
        first_month = rollout.first_month(name, world.n_branches, cal.n)
        block = _effects(branch_f, cf.branch, first_month)
        block["per_branch"] = {branch_ids[b]: v for b, v in block["per_branch"].items()}
        interventions[name] = block
        pooled_cf = cf.pooled
        contributions[name] = (pooled_f["last"]["net_rate"] - pooled_cf["last"]["net_rate"]) - (
            pooled_f["first"]["net_rate"] - pooled_cf["first"]["net_rate"]
        )
    total = pooled_f["last"]["net_rate"] - pooled_f["first"]["net_rate"]
    change = {
        "net_rate_first": pooled_f["first"]["net_rate"],
        "net_rate_last": pooled_f["last"]["net_rate"],
        "total": total,
        "contributions": contributions,
        "remainder": total - sum(contributions.values()),
        "components_first": pooled_f["first"],
        "components_last": pooled_f["last"],
    }
    if none is not None:
        # all interventions together, against the world with none of them: the remainder is
        # their interaction (joint - sum of one-at-a-time contributions) plus what no
        # intervention explains (total - joint)
        pooled_0 = none.pooled
        joint = (pooled_f["last"]["net_rate"] - pooled_0["last"]["net_rate"]) - (
            pooled_f["first"]["net_rate"] - pooled_0["first"]["net_rate"]
        )
        change["joint_contribution"] = joint
        change["interaction"] = joint - sum(contributions.values())
        change["without_interventions"] = total - joint
    if subsets:
        change["shapley"] = shapley_values(pooled_f, {k: v.pooled for k, v in subsets.items()})

    perception_sd = np.nanstd(factual.perceptions[factual.r_exists], axis=0)
    sat_cfg = cfg.satisfaction
    beta = {a: sat_cfg.attribute_weights[a] for a in ATTRIBUTES}
    ranked = sorted(beta, key=lambda a: -beta[a])
    diag = factual.diagnostics
    truth = {
        "package_version": package_version(),
        "config": cfg.model_dump(mode="json"),
        "spec": {"weights": dict(WEIGHTS)},
        "periods": {"first": [labels[m] for m in first], "last": [labels[m] for m in last]},
        "interventions": interventions,
        "change": change,
        "components_firm": {
            labels[m]: {c: float(firm_f[c][0, m]) for c in COMPONENTS} for m in range(cal.n)
        },
        "exit_hazard": {
            "coefficients": hazard_terms(world),
            "description": (
                "Monthly exit hazard h = min(0.5, exp(eta)) for a client open on the month's first "
                "day and opened before that month; eta = intercept_<segment> + rate_gap_pp * "
                "(financing_rate - market_financing_rate, in percentage points) + "
                "forced_liquidation_3m * [a forced liquidation in the 3 previous months] + "
                "slow_ticket_3m * [a ticket created in the 3 previous months not resolved within "
                "sla_hours] + failed_ticket_3m * [a ticket in the 3 previous months escalated or "
                "reopened] + surveyed_3m * [a survey response in the 3 previous months] + "
                "dormant * [dormant in the previous month] + new_client_12m * [opened less than "
                "365 days before the month]. Log scale; exp(coefficient) is a hazard ratio. "
                "close_reason is 'transferred' with probability logistic(transferred_intercept + "
                "transferred_rate_gap_pp * gap)."
            ),
            "transferred": {
                "intercept": cfg.exit_hazard.transferred_intercept,
                "rate_gap_pp": cfg.exit_hazard.transferred_rate_gap_pp,
            },
            "market_financing_rate": {labels[m]: float(world.market_rate[m]) for m in range(cal.n)},
        },
        "satisfaction": {
            "attribute_weights": beta,
            "attribute_ranking": ranked,
            "standardised_attribute_weights": {
                a: float(beta[a] * perception_sd[j]) for j, a in enumerate(ATTRIBUTES)
            },
            "coefficients": {
                "forced_liquidation_3m": sat_cfg.forced_liquidation_3m,
                "ai_on_complex_ticket": sat_cfg.ai_on_complex_ticket,
                "segment": {s: sat_cfg.segment_effect[s] for s in SEGMENTS},
                "client_effect_sd": sat_cfg.client_effect_sd,
                "noise_sd": sat_cfg.noise_sd,
                "perception_drivers": sat_cfg.perception_drivers,
                "csat_cuts": sat_cfg.csat_cuts,
                "nps_cuts": sat_cfg.nps_cuts,
                "nps_noise_sd": sat_cfg.nps_noise_sd,
                "rating_cuts": sat_cfg.rating_cuts,
                "rating_noise_sd": sat_cfg.rating_noise_sd,
            },
            "response_rates": {
                "periodic": diag["periodic_responses"] / max(1, diag["periodic_invitations"]),
                "post_ticket": diag["post_ticket_responses"]
                / max(1, diag["post_ticket_invitations"]),
            },
            "description": (
                "Each attribute j has a latent perception p_j = sum_d drivers[j][d] * x_d + "
                "client effect + noise, where x holds the signals of the surveyed ticket (weight "
                "ticket_weight) and of the client's past tickets (slow = log(resolution/SLA), "
                "first response, escalated, reopened, AI assistant on a simple or a complex "
                "issue, met SLA), the rate gap, a recent forced liquidation and the branch's "
                "interventions (training level, AI assistant, survey programme). Latent "
                "satisfaction = sum_j attribute_weights[j] * p_j + forced_liquidation_3m * "
                "[liquidated in the last 3 months] + ai_on_complex_ticket * [AI handled a "
                "complex issue] + segment + client effect + noise. csat = 1 + number of "
                "csat_cuts below it; nps = number of nps_cuts below it plus noise; each rating "
                "= 1 + number of rating_cuts below p_j + noise; ces (post-ticket only, 1 = "
                "least effort, 7 = most) falls with perceived speed and problem resolution. "
                "Ratings and ces are missing completely at random. standardised weights = "
                "weight x standard deviation of the perception among responses."
            ),
        },
    }
    return json_safe(truth)
