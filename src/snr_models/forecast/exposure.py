"""Intervention exposure: per branch and month, and as the share of a component's volume.

The branch-month intensity of each intervention comes from the ``interventions`` table
(:func:`snr_models.metrics.panel.intervention_timing`: absorbing from its start month, a
firm-wide row reaching every branch). Its *shape* turns intensity into exposure:

- ``step``: the intensity from the first month on;
- ``ramp``: the intensity times ``min(1, (months since the first + 1) / ramp_months)``, for
  interventions whose effect builds up (a training course).

The firm-wide regressor of component ``c`` is the share of ``c``'s volume (responses for S,
clients at risk for R, tickets for E) in exposed branches, intensity-weighted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from snr_models.errors import SnrInputError
from snr_models.metrics.panel import intervention_timing

__all__ = ["Shape", "branch_exposure", "firm_exposure", "shape_factor"]


@dataclass(frozen=True)
class Shape:
    """How exposure builds up: ``kind`` ``"step"`` or ``"ramp"`` over ``ramp_months``."""

    kind: str = "step"
    ramp_months: int = 3

    def __post_init__(self) -> None:
        if self.kind not in ("step", "ramp"):
            raise SnrInputError(f"exposure shape must be 'step' or 'ramp', not {self.kind!r}")
        if self.ramp_months < 1:
            raise SnrInputError(f"ramp_months must be >= 1, got {self.ramp_months}")


def shape_factor(months_since_start: np.ndarray, shape: Shape) -> np.ndarray:
    """The share of full exposure ``months_since_start`` months after a start (0 before it).

    Examples
    --------
    >>> shape_factor(np.array([-1, 0, 1, 2, 5]), Shape("ramp", 3)).round(2).tolist()
    [0.0, 0.33, 0.67, 1.0, 1.0]
    """
    e = np.asarray(months_since_start, dtype=float)
    if shape.kind == "step":
        return (e >= 0).astype(float)
    return np.where(e >= 0, np.minimum(1.0, (e + 1) / shape.ramp_months), 0.0)


def branch_exposure(
    interventions: pd.DataFrame,
    branches: np.ndarray,
    periods: pd.DatetimeIndex,
    shapes: Mapping[str, Shape] | None = None,
) -> tuple[list[str], np.ndarray]:
    """Intervention names and exposure ``(branches, periods, interventions)``.

    Rows of ``interventions`` starting after the last history month are planned roll-outs: they
    enter the future exposure as well.
    """
    dose, _ = intervention_timing(interventions, branches, periods)
    names = sorted(dose)
    out = np.zeros((len(branches), len(periods), len(names)))
    t = np.arange(len(periods))
    for k, name in enumerate(names):
        arr = dose[name]
        shape = (shapes or {}).get(name, Shape())
        on = arr > 0
        first = np.where(on.any(axis=1), on.argmax(axis=1), len(periods))
        out[:, :, k] = arr * shape_factor(t[None, :] - first[:, None], shape)
    return names, out


def firm_exposure(exposure: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """Volume-weighted share exposed: ``(periods, interventions)`` from branch exposure.

    ``volume`` is ``(branches, periods)``, e.g. a component's denominator per branch-month.
    """
    w = np.asarray(volume, dtype=float)
    tot = w.sum(axis=0)
    tot = np.where(tot > 0, tot, 1.0)
    return np.einsum("bt,btk->tk", w, exposure) / tot[:, None]
