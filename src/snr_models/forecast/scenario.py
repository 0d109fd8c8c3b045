"""Roll-out scenarios: which interventions reach which branches from when, and their effects.

A scenario is a list of roll-outs (an intervention, the branches it reaches, its start month,
its intensity and exposure shape). Its effect on the forecast is, for every branch and month,
``sum_k beta_kc * dx_kbt`` where ``dx`` is the *added* exposure (branches already reached by
the intervention in the baseline gain nothing) and ``beta_kc`` the intervention's effect on
component ``c`` per treated branch-month: from an attribution result
(:class:`~snr_models.attribution.JointEffects`), a table, or the scenario YAML. The effect's
uncertainty is carried into the intervals by drawing ``beta ~ N(estimate, se^2)`` once per
simulated path (the same draw for every branch and month of the path; components drawn
independently, the attribution reporting no covariance between them).

YAML (``experiments/scenario_training.yaml``)::

    scenarios:
      - name: train_remaining_from_march
        rollouts:
          - intervention: staff_training
            branches: remaining        # or "all", or a list of branch ids
            start: "2026-03"
            shape: ramp
            ramp_months: 3
    effects: attribution               # or {staff_training: {S: {estimate: .03, se: .01}, ...}}
    exposures: {staff_training: ramp}  # optional: regressor shapes for SARIMAX / structural
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from snr_models.errors import SnrInputError
from snr_models.forecast.exposure import Shape, shape_factor

__all__ = [
    "EFFECT_COLUMNS",
    "EffectSpec",
    "Rollout",
    "Scenario",
    "ScenarioFile",
    "added_exposure",
    "rollouts_outside",
    "effects_table",
    "load_scenarios",
]

EFFECT_COLUMNS = ["intervention", "component", "estimate", "se"]
_COMPONENTS = ("S", "R", "E")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rollout(_Model):
    """One intervention reaching some branches from a start month."""

    intervention: str
    branches: Literal["remaining", "all"] | list[str] = "remaining"
    start: str = Field(description="first month, YYYY-MM")
    intensity: float | None = Field(
        default=None, gt=0, le=1, description="None: as in past roll-outs (effect as estimated)"
    )
    shape: Literal["step", "ramp"] = "step"
    ramp_months: int = Field(default=3, ge=1)

    @field_validator("start")
    @classmethod
    def _month(cls, v: str) -> str:
        try:
            month = pd.Timestamp(v)
        except ValueError:
            raise ValueError(f"start {v!r} is not a month (expected YYYY-MM)") from None
        return f"{month:%Y-%m}"

    @property
    def start_month(self) -> pd.Timestamp:
        """The start month (its first day)."""
        return pd.Timestamp(self.start + "-01")


class Scenario(_Model):
    """A named set of roll-outs.

    Examples
    --------
    >>> s = Scenario(name="train", rollouts=[{"intervention": "staff_training",
    ...     "start": "2026-03"}])
    >>> s.rollouts[0].branches, s.rollouts[0].start_month.strftime("%Y-%m")
    ('remaining', '2026-03')
    """

    name: str = Field(min_length=1)
    rollouts: list[Rollout] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _not_baseline(cls, v: str) -> str:
        if v == "baseline":
            raise ValueError("'baseline' is reserved for the forecast without a scenario")
        return v


class EffectSpec(_Model):
    """An effect on one component per treated branch-month, with its standard error."""

    estimate: float
    se: float = Field(ge=0)


class ScenarioFile(_Model):
    """The scenario YAML: scenarios and where their effects come from."""

    scenarios: list[Scenario] = Field(min_length=1)
    effects: Literal["attribution"] | dict[str, dict[Literal["S", "R", "E"], EffectSpec]] = (
        "attribution"
    )
    exposures: dict[str, Literal["step", "ramp"]] = Field(
        default_factory=dict,
        description="shape of each intervention's exposure regressor in the models (default step)",
    )

    @field_validator("scenarios")
    @classmethod
    def _unique(cls, v: list[Scenario]) -> list[Scenario]:
        names = [s.name for s in v]
        if len(set(names)) != len(names):
            raise ValueError(f"scenario names must be unique, got {names}")
        return v


def load_scenarios(path: str | Path) -> ScenarioFile:
    """Read and validate a scenario YAML (unknown keys are rejected).

    Raises
    ------
    SnrInputError
        If the file is missing or not a YAML mapping.
    pydantic.ValidationError
        If a value is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise SnrInputError(f"scenario file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SnrInputError(f"scenario file {path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SnrInputError(f"scenario file {path}: expected a YAML mapping at the top level")
    return ScenarioFile.model_validate(data)


def effects_table(effects: Any) -> pd.DataFrame:
    """Effects as ``intervention, component, estimate, se`` (components S, R, E only).

    Accepts an attribution result (anything with ``to_frame()`` holding those columns, e.g.
    :class:`~snr_models.attribution.JointEffects`), such a DataFrame, or the YAML mapping
    ``{intervention: {component: {estimate, se}}}``.
    """
    if isinstance(effects, Mapping):
        rows = []
        for name, comps in effects.items():
            for comp, eff in comps.items():
                eff = eff.model_dump() if isinstance(eff, BaseModel) else dict(eff)
                rows.append(
                    {
                        "intervention": name,
                        "component": comp,
                        "estimate": eff["estimate"],
                        "se": eff.get("se", 0.0),
                    }
                )
        frame = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    else:
        frame = effects.to_frame() if hasattr(effects, "to_frame") else pd.DataFrame(effects)
    missing = [c for c in EFFECT_COLUMNS if c not in frame.columns]
    if missing:
        raise SnrInputError(f"effects: missing column(s) {missing}")
    frame = frame.loc[frame["component"].isin(_COMPONENTS), EFFECT_COLUMNS].copy()
    frame["estimate"] = frame["estimate"].astype(float)
    frame["se"] = frame["se"].astype(float).fillna(0.0)
    return frame.reset_index(drop=True)


def rollouts_outside(scenario: Scenario, future: pd.DatetimeIndex) -> list[str]:
    """Warn of each roll-out that starts after the forecast window; return the messages.

    Such a roll-out changes nothing in the forecast (its rows equal the baseline's), which
    the result's summary says too.

    Examples
    --------
    >>> import warnings
    >>> s = Scenario(name="late", rollouts=[{"intervention": "staff_training",
    ...     "start": "2027-01"}])
    >>> with warnings.catch_warnings(record=True):
    ...     warnings.simplefilter("always")
    ...     notes = rollouts_outside(s, pd.date_range("2026-01-01", periods=6, freq="MS"))
    >>> notes[0].split("; ")[0]
    "scenario 'late': staff_training starts 2027-01, after the forecast window 2026-01 to 2026-06"
    """
    notes = [
        f"scenario {scenario.name!r}: {r.intervention} starts {r.start}, after the forecast "
        f"window {future[0]:%Y-%m} to {future[-1]:%Y-%m}; it changes nothing in this forecast"
        for r in scenario.rollouts
        if r.start_month > future[-1]
    ]
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    return notes


def added_exposure(
    scenario: Scenario,
    names: list[str],
    branches: np.ndarray,
    future: pd.DatetimeIndex,
    baseline: np.ndarray,
    reference_intensity: Mapping[str, float],
) -> dict[str, np.ndarray]:
    """Per intervention, the ``(branches, horizon)`` exposure the scenario adds to the baseline.

    ``baseline`` is the baseline branch exposure over history and future ``(B, T + H, K)``; a
    branch the intervention reaches in the baseline (at any time up to the month concerned)
    gains nothing; ``names`` are the baseline's interventions (a scenario may add a new one).
    """
    h = len(future)
    out: dict[str, np.ndarray] = {}
    pos = {b: i for i, b in enumerate(branches)}
    first_future = future[0]
    for r in scenario.rollouts:
        if r.start_month < first_future:
            raise SnrInputError(
                f"scenario {scenario.name!r}: {r.intervention} starts {r.start}, before the "
                f"first forecast month {first_future:%Y-%m}"
            )
        k = names.index(r.intervention) if r.intervention in names else None
        reached = (
            np.zeros((len(branches), baseline.shape[1]), dtype=bool)
            if k is None
            else np.cumsum(baseline[:, :, k] > 0, axis=1) > 0
        )
        reached_future = reached[:, -h:]
        if r.branches == "all":
            sel = np.ones(len(branches), dtype=bool)
        elif r.branches == "remaining":
            sel = ~reached[:, : baseline.shape[1] - h].any(axis=1)
        else:
            unknown = [b for b in r.branches if b not in pos]
            if unknown:
                raise SnrInputError(f"scenario {scenario.name!r}: unknown branch(es) {unknown}")
            sel = np.isin(branches, r.branches)
        ref = reference_intensity.get(r.intervention, np.nan)
        scale = 1.0 if r.intensity is None or not np.isfinite(ref) else r.intensity / ref
        months = (future.year - r.start_month.year) * 12 + (future.month - r.start_month.month)
        f = shape_factor(np.asarray(months), Shape(r.shape, r.ramp_months)) * scale
        add = np.where(sel[:, None] & ~reached_future, f[None, :], 0.0)
        prev = out.get(r.intervention, np.zeros((len(branches), h)))
        out[r.intervention] = np.maximum(prev, add)
    return out
