"""Monthly retention campaigns with a random holdout, and their true per-client uplift.

Switched on by :class:`~snr_models.simulate.config.CampaignConfig` (``enabled``). Each
scenario runs the campaigns on its own exit hazards (:func:`run_campaigns` is called by
:func:`~snr_models.simulate.outcomes.run_scenario`), so every counterfactual world runs them
too. Every random number comes from a stream of its own (``SeedSequence([seed, 19])``), drawn
once per world: switching campaigns on leaves the other draws of the world unchanged (only the
contacted clients' exits, and what follows from them, differ).

A client contacted in month ``m`` (targeted on the data up to the end of month ``m - 1``, the
churn features' as-of month) has the hazards ``h_k`` of months ``k = m .. m + H - 1``; a call
multiplies them by ``exp(tau)`` (capped at 0.5 as every hazard). The true uplift is the exit
probability over those months without the call minus with it::

    uplift = prod(1 - h_k exp(tau)) - prod(1 - h_k)

positive when the call prevents exits. Each targeted client (treated or held out) gets one, so
a campaign's true average effect is their mean: what the difference between holdout and
treated exit rates estimates. A client's kind, for the record: ``persuadable`` (uplift at
least 0.02), ``sleeping_dog`` (at most -0.01), otherwise ``lost_cause`` if the exit
probability without a call is at least 0.1, else ``sure_thing``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from snr_models.simulate.world import World

__all__ = ["CampaignLog", "campaign_truth", "outreach_table", "run_campaigns"]

_STREAM = 19  # the campaigns' own random stream: SeedSequence([seed, _STREAM])
_PERSUADABLE, _SLEEPING_DOG, _LOST_CAUSE = 0.02, -0.01, 0.1


@dataclass(frozen=True)
class CampaignLog:
    """Every targeted client of every campaign of one scenario (one row per contact).

    Arrays of the same length: ``client`` (index), ``month`` (of the call), ``treated``,
    ``contacted_us`` (the call's time), ``channel`` (index into the configured channels),
    ``p_exit_holdout`` and ``p_exit_treated`` (over the ``horizon`` months from the call);
    ``holdout_share`` per campaign month (NaN without a campaign).
    """

    client: np.ndarray
    month: np.ndarray
    treated: np.ndarray
    contacted_us: np.ndarray
    channel: np.ndarray
    p_exit_holdout: np.ndarray
    p_exit_treated: np.ndarray
    holdout_share: np.ndarray

    @property
    def uplift(self) -> np.ndarray:
        """True exits prevented per call: ``p_exit_holdout - p_exit_treated``."""
        return self.p_exit_holdout - self.p_exit_treated


def _draws(world: World) -> dict[str, np.ndarray]:
    n, m = world.n_clients, world.calendar.n
    rng = np.random.default_rng(np.random.SeedSequence([world.config.seed, _STREAM]))
    return {
        "score": rng.standard_normal((n, m)),
        "holdout": rng.random((n, m)),
        "share": rng.random(m),
        "channel": rng.random((n, m)),
        "minute": rng.random((n, m)),
    }


def _exit_probability(hazard: np.ndarray) -> np.ndarray:
    return 1.0 - np.prod(1.0 - hazard, axis=1)


def run_campaigns(
    world: World,
    hazard: np.ndarray,
    eligible: np.ndarray,
    u_exit: np.ndarray,
    covariates: dict[str, np.ndarray],
) -> tuple[np.ndarray, CampaignLog | None]:
    """The exit hazards after the campaigns, and who was targeted (``None`` when disabled).

    Parameters
    ----------
    hazard : ndarray (N, M)
        Monthly exit hazards without any call.
    eligible : ndarray of bool (N, M)
        Months in which a client may exit (after its opening month).
    u_exit : ndarray (N, M)
        The uniforms that decide exits (an exit in month ``m`` if ``u_exit < hazard``).
    covariates : dict of str to ndarray (N, M)
        The effect's covariates in each month (names as in ``CampaignConfig.effect``).
    """
    cc = world.config.campaigns
    if not cc.enabled:
        return hazard, None
    cal = world.calendar
    n, m_count = hazard.shape
    draws = _draws(world)
    channels = np.cumsum(list(cc.channels.values()))
    channels = channels / channels[-1]
    hazard = hazard.copy()
    alive = np.ones(n, dtype=bool)
    last_call = np.full(n, -(10**6))
    rows: list[dict[str, np.ndarray]] = []
    shares = np.full(m_count, np.nan)
    for m in range(m_count):
        if m >= cc.first_month:
            window = slice(m, min(m + cc.horizon, m_count))
            candidates = alive & eligible[:, m] & (m - last_call >= cc.horizon)
            p0 = _exit_probability(hazard[:, window])
            score = p0 * np.exp(cc.score_noise * draws["score"][:, m])
            idx = np.flatnonzero(candidates)
            k = int(round(cc.share * idx.size))
            if k:
                chosen = idx[np.argsort(-score[idx], kind="stable")[:k]]
                low, high = cc.holdout
                shares[m] = low + (high - low) * draws["share"][m]
                treated = draws["holdout"][chosen, m] >= shares[m]
                tau = np.full(k, cc.effect_base)
                for name, coef in cc.effect.items():
                    tau += coef * covariates[name][chosen, m]
                h_treated = np.minimum(hazard[chosen, window] * np.exp(tau)[:, None], 0.5)
                p1 = _exit_probability(h_treated)
                hazard[chosen[treated], window] = h_treated[treated]
                last_call[chosen] = m
                start = cal.bounds_us[m]
                # a weekday-agnostic time in the campaign's first week, 9:00 to 17:00
                offset = (draws["minute"][chosen, m] * 5 * 8 * 60).astype(np.int64)
                day, minute = offset // (8 * 60), offset % (8 * 60)
                contacted = start + (day * 24 * 60 + 9 * 60 + minute) * 60_000_000
                rows.append(
                    {
                        "client": chosen,
                        "month": np.full(k, m),
                        "treated": treated,
                        "contacted_us": contacted,
                        "channel": np.searchsorted(channels, draws["channel"][chosen, m]),
                        "p_exit_holdout": p0[chosen],
                        "p_exit_treated": p1,
                    }
                )
        alive &= ~(eligible[:, m] & (u_exit[:, m] < hazard[:, m]))
    if not rows:
        empty = np.zeros(0)
        return hazard, CampaignLog(
            empty.astype(int),
            empty.astype(int),
            empty.astype(bool),
            empty.astype(np.int64),
            empty.astype(int),
            empty,
            empty,
            shares,
        )
    stacked = {key: np.concatenate([r[key] for r in rows]) for key in rows[0]}
    return hazard, CampaignLog(**stacked, holdout_share=shares)


def _campaign_ids(world: World, month: np.ndarray) -> np.ndarray:
    labels = np.array([f"RC{label.replace('-', '')}" for label in world.calendar.labels()])
    return labels[month]


def outreach_table(world: World, log: CampaignLog) -> pd.DataFrame:
    """The contract's ``outreach`` table: one row per targeted client and campaign, in key
    order (campaign, client), as ``snr ingest`` writes it."""
    names = np.array(list(world.config.campaigns.channels), dtype=object)
    frame = pd.DataFrame(
        {
            "campaign_id": pd.Series(_campaign_ids(world, log.month), dtype="str"),
            "client_id": pd.Series(np.asarray(world.client_ids)[log.client], dtype="str"),
            "contacted_at": pd.Series(log.contacted_us.view("datetime64[us]")),
            "channel": pd.Series(names[log.channel], dtype="str"),
            "assigned": pd.Series(np.where(log.treated, "treatment", "holdout"), dtype="str"),
        }
    ).astype({"contacted_at": "datetime64[us]"})
    return frame.sort_values(["campaign_id", "client_id"], kind="stable", ignore_index=True)


def _kind(uplift: np.ndarray, p0: np.ndarray) -> np.ndarray:
    kind = np.where(p0 >= _LOST_CAUSE, "lost_cause", "sure_thing").astype(object)
    kind[uplift >= _PERSUADABLE] = "persuadable"
    kind[uplift <= _SLEEPING_DOG] = "sleeping_dog"
    return kind


def campaign_truth(world: World, log: CampaignLog) -> dict[str, Any]:
    """``truth["outreach"]``: each campaign's true average effect, each client's true uplift.

    ``campaigns {<campaign_id>: {month, n_treatment, n_holdout, holdout_share,
    average_effect, average_effect_treated, kinds {<kind>: n}}}``, ``clients [{campaign_id,
    client_id, assigned, uplift, p_exit_holdout, kind}]`` and ``horizon``. Effects are exits
    prevented per targeted client (``average_effect``) and per treated client.
    """
    cc = world.config.campaigns
    ids = _campaign_ids(world, log.month)
    uplift = log.uplift
    kind = _kind(uplift, log.p_exit_holdout)
    campaigns: dict[str, Any] = {}
    for cid in dict.fromkeys(ids.tolist()):
        sel = ids == cid
        month = int(log.month[sel][0])
        campaigns[cid] = {
            "month": world.calendar.labels()[month],
            "n_treatment": int(log.treated[sel].sum()),
            "n_holdout": int((~log.treated[sel]).sum()),
            "holdout_share": float(log.holdout_share[month]),
            "average_effect": float(uplift[sel].mean()),
            "average_effect_treated": float(uplift[sel & log.treated].mean())
            if (sel & log.treated).any()
            else None,
            "kinds": {k: int((kind[sel] == k).sum()) for k in sorted(set(kind[sel]))},
        }
    client_ids = np.asarray(world.client_ids)[log.client]
    clients = [
        {
            "campaign_id": str(c),
            "client_id": str(i),
            "assigned": "treatment" if t else "holdout",
            "uplift": float(u),
            "p_exit_holdout": float(p),
            "kind": str(k),
        }
        for c, i, t, u, p, k in zip(
            ids, client_ids, log.treated, uplift, log.p_exit_holdout, kind, strict=True
        )
    ]
    return {
        "horizon": cc.horizon,
        "description": (
            "uplift = exit probability over the horizon months from the call without it minus "
            "with it (exits prevented per call); average_effect = mean uplift over the "
            "campaign's targeted clients (treatment and holdout)"
        ),
        "campaigns": campaigns,
        "clients": clients,
    }
