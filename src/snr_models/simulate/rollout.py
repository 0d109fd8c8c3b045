"""Who gets which intervention when (the interventions table), and the exposure it implies.

The roll-out is drawn once per seed (staggered branch cohorts, some never-treated branches,
training refreshers, an AI-assistant pilot followed by a firm-wide roll-out). A scenario is the
roll-out with some interventions removed; :func:`exposure` turns the remaining rows into the
levels the world responds to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from snr_models.simulate.config import INTERVENTIONS, Cohort, SimulationConfig
from snr_models.simulate.world import NEVER, US_PER_DAY, Calendar, _weekdays

__all__ = ["Exposure", "Rollout", "build_rollout", "exposure"]

FIRM = -1  # unit index of a firm-wide row


@dataclass(frozen=True)
class Rollout:
    """One row per roll-out: ``unit`` is a branch index or ``FIRM``; times in microseconds."""

    intervention: np.ndarray  # (R,) str
    unit: np.ndarray  # (R,) int
    start_month: np.ndarray  # (R,) int, month index of start_date
    start_us: np.ndarray  # (R,) int64
    end_us: np.ndarray  # (R,) int64, NEVER when open-ended
    intensity: np.ndarray  # (R,) float

    def without(self, names: Iterable[str]) -> Rollout:
        """The roll-out with every row of the named interventions removed."""
        keep = ~np.isin(self.intervention, list(names))
        return Rollout(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))

    def first_month(self, name: str, n_branches: int, n_months: int) -> np.ndarray:
        """Per branch, the month index ``name`` first reaches it (``n_months`` if never)."""
        out = np.full(n_branches, n_months, dtype=np.int64)
        for unit, start in zip(
            self.unit[self.intervention == name],
            self.start_month[self.intervention == name],
            strict=True,
        ):
            if unit == FIRM:
                out = np.minimum(out, start)
            else:
                out[unit] = min(out[unit], start)
        return out

    def treated(self, name: str, n_branches: int, n_months: int) -> np.ndarray:
        """(B, M) bool: branch-months on or after ``name`` first reached the branch."""
        first = self.first_month(name, n_branches, n_months)
        return np.arange(n_months)[None, :] >= first[:, None]


def _start_month(fraction: float, n_months: int) -> int:
    return int(min(max(1, round(fraction * n_months)), n_months - 1))


def _first_weekday_us(cal: Calendar, m: int) -> int:
    return int(_weekdays(cal.months[m])[0].astype("datetime64[us]").astype(np.int64))


def _cohort_branches(
    cohorts: list[Cohort], order: np.ndarray, n_months: int
) -> list[tuple[int, np.ndarray]]:
    """Split a permutation of branches into cohorts by cumulative share (floor)."""
    n = len(order)
    out, taken = [], 0
    cum = 0.0
    for cohort in cohorts:
        cum += cohort.share
        upto = int(np.floor(cum * n + 1e-9))
        out.append((_start_month(cohort.start, n_months), order[taken:upto]))
        taken = upto
    return out


def build_rollout(cfg: SimulationConfig, cal: Calendar, rng: np.random.Generator) -> Rollout:
    """Draw the roll-out of the four interventions (deterministic for the generator)."""
    b, n = cfg.n_branches, cal.n
    ic = cfg.interventions
    rows: list[tuple[str, int, int, int, int, float]] = []

    def add(name: str, unit: int, m: int, intensity: float, days: int | None = None) -> None:
        start = _first_weekday_us(cal, m)
        end = NEVER if days is None else start + days * US_PER_DAY
        rows.append((name, unit, m, start, end, float(round(intensity, 2))))

    pr = ic.process_reengineering
    order = rng.permutation(b)
    intensity = rng.uniform(pr.intensity_low, pr.intensity_high, size=b)
    for m, branches in _cohort_branches(pr.cohorts, order, n):
        for br in branches:
            add("process_reengineering", int(br), m, intensity[br])

    tr = ic.staff_training
    order = rng.permutation(b)
    intensity = rng.uniform(tr.intensity_low, tr.intensity_high, size=b)
    refresh = rng.random(b) < tr.refresher_share
    for m, branches in _cohort_branches(tr.cohorts, order, n):
        for br in branches:
            add("staff_training", int(br), m, intensity[br], tr.course_days)
            again = m + tr.refresher_after_months
            if refresh[br] and again < n:
                add("staff_training", int(br), again, intensity[br], tr.course_days)

    ai = ic.ai_assistant
    order = rng.permutation(b)
    n_pilot = int(np.floor(ai.pilot_share * b + 1e-9))
    pilot_m = _start_month(ai.pilot_start, n)
    firm_m = _start_month(ai.firm_start, n)
    for br in order[:n_pilot]:
        add("ai_assistant", int(br), pilot_m, ai.pilot_intensity)
    add("ai_assistant", FIRM, firm_m, ai.firm_intensity)

    sp = ic.survey_program
    order = rng.permutation(b)
    intensity = rng.uniform(sp.intensity_low, sp.intensity_high, size=b)
    for m, branches in _cohort_branches(sp.cohorts, order, n):
        for br in branches:
            add("survey_program", int(br), m, intensity[br])

    rows.sort(key=lambda r: (r[3], INTERVENTIONS.index(r[0]), r[1]))
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 6
    return Rollout(
        intervention=np.array(cols[0], dtype=object),
        unit=np.array(cols[1], dtype=np.int64),
        start_month=np.array(cols[2], dtype=np.int64),
        start_us=np.array(cols[3], dtype=np.int64),
        end_us=np.array(cols[4], dtype=np.int64),
        intensity=np.array(cols[5], dtype=np.float64),
    )


@dataclass(frozen=True)
class Exposure:
    """What the world responds to in one scenario."""

    reeng_start_us: np.ndarray  # (B,) int64, NEVER if never
    reeng_intensity: np.ndarray  # (B,)
    training: np.ndarray  # (B, M) effect level in [0, 1]
    ai_pilot_start_us: np.ndarray  # (B,)
    ai_pilot_intensity: np.ndarray  # (B,)
    ai_firm_start_us: int
    ai_firm_intensity: float
    ai_month: np.ndarray  # (B, M) AI level from the month of its start
    survey_program: np.ndarray  # (B, M) intensity while running

    def ai_at(self, branch: np.ndarray, t_us: np.ndarray) -> np.ndarray:
        """The AI assistant's intensity at each (branch, timestamp)."""
        pilot = np.where(t_us >= self.ai_pilot_start_us[branch], self.ai_pilot_intensity[branch], 0)
        firm = np.where(t_us >= self.ai_firm_start_us, self.ai_firm_intensity, 0.0)
        return np.maximum(pilot, firm)


def exposure(rollout: Rollout, cfg: SimulationConfig, cal: Calendar) -> Exposure:
    """The exposure of every branch-month (and timestamp) implied by ``rollout``."""
    b, n_months = cfg.n_branches, cal.n
    months = np.arange(n_months)
    reeng_start = np.full(b, NEVER, dtype=np.int64)
    reeng_int = np.zeros(b)
    pilot_start = np.full(b, NEVER, dtype=np.int64)
    pilot_int = np.zeros(b)
    firm_start, firm_int = NEVER, 0.0
    inflow = np.zeros((b, n_months))
    cap = np.zeros(b)
    sp = np.zeros((b, n_months))
    ai_month = np.zeros((b, n_months))
    tr = cfg.interventions.staff_training
    for name, unit, m, start, end, w in zip(
        rollout.intervention,
        rollout.unit,
        rollout.start_month,
        rollout.start_us,
        rollout.end_us,
        rollout.intensity,
        strict=True,
    ):
        if name == "process_reengineering":
            if start < reeng_start[unit]:
                reeng_start[unit], reeng_int[unit] = start, w
        elif name == "staff_training":
            inflow[unit, m : m + tr.ramp_months] += w / tr.ramp_months
            cap[unit] = max(cap[unit], w)
        elif name == "ai_assistant":
            if unit == FIRM:
                firm_start, firm_int = start, w
                ai_month = np.maximum(ai_month, np.where(months >= m, w, 0.0)[None, :])
            else:
                pilot_start[unit], pilot_int[unit] = start, w
                ai_month[unit] = np.maximum(ai_month[unit], np.where(months >= m, w, 0.0))
        elif name == "survey_program":
            last = n_months if end == NEVER else int(cal.month_of(np.array([end]))[0])
            running = (months >= m) & (months <= last)
            sp[unit] = np.maximum(sp[unit], np.where(running, w, 0.0))
    decay = 0.5 ** (1 / tr.half_life_months)
    training = np.zeros((b, n_months))
    level = np.zeros(b)
    for m in range(n_months):
        level = np.minimum(cap, level * decay + inflow[:, m])
        training[:, m] = level
    return Exposure(
        reeng_start_us=reeng_start,
        reeng_intensity=reeng_int,
        training=training,
        ai_pilot_start_us=pilot_start,
        ai_pilot_intensity=pilot_int,
        ai_firm_start_us=int(firm_start),
        ai_firm_intensity=float(firm_int),
        ai_month=ai_month,
        survey_program=sp,
    )
