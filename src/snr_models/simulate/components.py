"""The net rate's default components, computed directly (without ``snr_models.metrics``).

For a run of consecutive periods ``[bounds[p], bounds[p + 1])`` and groups (branches):

- S: among responses whose ``responded_at`` falls in the period, the share with CSAT 4-5 minus
  the share with CSAT 1-2;
- R: ``1 - (12 / k) * exits / at_risk``, where ``at_risk`` counts the clients open on the
  period's first day (``open_date <= first day`` and ``close_date`` null or ``>= first day``) and
  ``exits`` those of them whose ``close_date`` falls in the period;
- E: among tickets created in the period, evaluated at its (exclusive) end: ``met`` = resolved
  before the end and within ``sla_hours`` of creation; ``counted`` = met, or not met with the
  SLA deadline already passed at the end; ``E = met / counted``;
- net rate = 0.4 S + 0.3 R + 0.3 E.

Counts are additive over groups, so the firm-wide figure is the sum of the branch counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snr_models.simulate.world import NEVER, US_PER_HOUR

__all__ = ["WEIGHTS", "Counts", "count_components"]

#: DESIGN.md's default weights.
WEIGHTS: dict[str, float] = {"S": 0.4, "R": 0.3, "E": 0.3}


@dataclass(frozen=True)
class Counts:
    """Numerators and denominators of S, R and E per (group, period)."""

    s_pos: np.ndarray
    s_neg: np.ndarray
    s_n: np.ndarray
    r_exits: np.ndarray
    r_at_risk: np.ndarray
    e_met: np.ndarray
    e_counted: np.ndarray
    months_per_period: int

    def total(self) -> Counts:
        """The counts summed over groups (shape ``(1, P)``)."""
        return Counts(
            *(getattr(self, f).sum(axis=0, keepdims=True) for f in _ARRAYS),
            months_per_period=self.months_per_period,
        )

    def components(self) -> dict[str, np.ndarray]:
        """S, R, E and net_rate (NaN where a denominator is zero)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (self.s_pos - self.s_neg) / self.s_n
            r = 1 - (12 / self.months_per_period) * self.r_exits / self.r_at_risk
            e = self.e_met / self.e_counted
        net = WEIGHTS["S"] * s + WEIGHTS["R"] * r + WEIGHTS["E"] * e
        return {"S": s, "R": r, "E": e, "net_rate": net}


_ARRAYS = ("s_pos", "s_neg", "s_n", "r_exits", "r_at_risk", "e_met", "e_counted")


def _period(bounds: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Period index of each timestamp, -1 if outside ``[bounds[0], bounds[-1])``."""
    p = np.searchsorted(bounds, t, side="right") - 1
    return np.where((t >= bounds[0]) & (t < bounds[-1]), p, -1)


def _bincount2(group: np.ndarray, period: np.ndarray, shape: tuple[int, int], w=None) -> np.ndarray:
    keep = period >= 0
    flat = group[keep] * shape[1] + period[keep]
    weights = None if w is None else w[keep]
    return np.bincount(flat, weights=weights, minlength=shape[0] * shape[1]).reshape(shape)


def count_components(
    bounds: np.ndarray,
    n_groups: int,
    months_per_period: int,
    *,
    client_group: np.ndarray,
    open_us: np.ndarray,
    close_us: np.ndarray,
    ticket_group: np.ndarray,
    created_us: np.ndarray,
    resolved_us: np.ndarray,
    sla_hours: np.ndarray,
    response_group: np.ndarray,
    responded_us: np.ndarray,
    csat: np.ndarray,
) -> Counts:
    """Counts of S, R and E for consecutive periods ``bounds`` (int64 microseconds).

    ``close_us`` and ``resolved_us`` use :data:`~.world.NEVER` for null. Only the rows that
    exist should be passed.
    """
    bounds = np.asarray(bounds, dtype=np.int64)
    n_periods = len(bounds) - 1
    shape = (n_groups, n_periods)

    # S
    p = _period(bounds, responded_us)
    s_n = _bincount2(response_group, p, shape)
    s_pos = _bincount2(response_group, p, shape, (csat >= 4).astype(float))
    s_neg = _bincount2(response_group, p, shape, (csat <= 2).astype(float))

    # R: at risk in periods [first start >= open, last start <= close]
    lo = np.searchsorted(bounds[:-1], open_us, side="left")
    hi = np.searchsorted(bounds[:-1], close_us, side="right") - 1
    hi = np.minimum(hi, n_periods - 1)
    valid = hi >= lo
    diff = np.zeros((n_groups, n_periods + 1))
    np.add.at(diff, (client_group[valid], lo[valid]), 1)
    np.add.at(diff, (client_group[valid], hi[valid] + 1), -1)
    at_risk = np.cumsum(diff, axis=1)[:, :n_periods]
    closing = _period(bounds, close_us)
    exits_mask = (closing >= 0) & (closing >= lo) & (close_us != NEVER)
    exits = _bincount2(client_group, np.where(exits_mask, closing, -1), shape)

    # E: each ticket is evaluated at the end of its creation period
    p = _period(bounds, created_us)
    end = bounds[np.clip(p + 1, 0, n_periods)]
    due = created_us + np.round(sla_hours * US_PER_HOUR).astype(np.int64)
    resolved = resolved_us != NEVER
    met = resolved & (resolved_us < end) & (resolved_us <= due)
    counted = met | (~met & (due < end))
    e_met = _bincount2(ticket_group, p, shape, met.astype(float))
    e_counted = _bincount2(ticket_group, p, shape, counted.astype(float))

    return Counts(
        s_pos=s_pos,
        s_neg=s_neg,
        s_n=s_n,
        r_exits=exits,
        r_at_risk=at_risk,
        e_met=e_met,
        e_counted=e_counted,
        months_per_period=months_per_period,
    )
