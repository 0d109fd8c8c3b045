"""Simulated worlds whose AI assistant is piloted in a tenth of the branches at half intensity.

The default world pilots it at full intensity in 30% of the branches (issue 20). Tests of what a
small, partial pilot needs (the pilot's placebo spread when fewer than eight branches are
treated, the scaling of the pilot's effect by intensity to the firm-wide months) build their
worlds with :func:`small_pilot` instead.
"""

from __future__ import annotations

from typing import Any

from snr_models.simulate import SimulationConfig, SimulationResult, simulate


def small_pilot(**overrides: Any) -> SimulationResult:
    """``simulate(**overrides)`` with the AI assistant's pilot at 10% of the branches and
    intensity 0.5 (the roll-out draws are the same as the default's: only the pilot's size and
    intensity differ)."""
    cfg = SimulationConfig()
    ai = cfg.interventions.ai_assistant.model_copy(
        update={"pilot_share": 0.1, "pilot_intensity": 0.5}
    )
    cfg = cfg.model_copy(
        update={"interventions": cfg.interventions.model_copy(update={"ai_assistant": ai})}
    )
    return simulate(cfg, **overrides)
