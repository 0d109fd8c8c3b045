"""A synthetic margin-financing client world with known ground truth.

:func:`simulate` draws a world (branches, clients, the market, monthly margin snapshots,
service tickets, survey responses and the roll-out of four service interventions) that
satisfies the data contract, and computes ``truth``: each intervention's true effect on the net
rate's components, obtained by running the *same* world again with that intervention switched
off (common random numbers: every uniform and normal is drawn once, before any treatment), and
each intervention's contribution to the change of the firm-wide net rate between the first and
the last three months.

:func:`write_simulation` writes ``<table>.parquet`` for each table plus ``truth.json``,
atomically.

Schema of ``truth`` (JSON-serialisable; NaN written as null)::

    package_version, config (the full configuration), spec {weights {S, R, E}},
    periods {first: [YYYY-MM x3], last: [YYYY-MM x3]},
    interventions {<name>: {effect {S, R, E, net_rate}, n_treated_branch_months,
                            per_branch {<branch_id>: {S, R, E, net_rate}},
                            by_event_time {"0": {...}, "1": {...}, ...}}},
    change {net_rate_first, net_rate_last, total, contributions {<name>: ...}, remainder,
            components_first, components_last,
            joint_contribution, interaction, without_interventions,
            shapley {<name>: ...}},
    components_firm {YYYY-MM: {S, R, E, net_rate}},
    exit_hazard {coefficients, description, transferred, market_financing_rate {YYYY-MM}},
    satisfaction {attribute_weights, attribute_ranking, standardised_attribute_weights,
                  coefficients, response_rates, description},
    outreach (only with campaigns switched on) {horizon, description,
              campaigns {<campaign_id>: {month, n_treatment, n_holdout, holdout_share,
                                         average_effect, average_effect_treated, kinds}},
              clients [{campaign_id, client_id, assigned, uplift, p_exit_holdout, kind}]}

An effect is the average over the intervention's treated branch-months (from the month it first
reached the branch; a firm-wide roll-out reaches every branch) of component(factual) -
component(world without the intervention), each computed per branch-month as in DESIGN.md;
``by_event_time`` averages the same differences over branches, by months since that start.

A contribution is (factual - world without the intervention) in the last three months minus the
same in the first three, each pooled as one 3-month period (R with 12/3). The interventions
overlap (they are partly substitutes), so the one-at-a-time contributions do not add up to
their joint effect: ``remainder = interaction + without_interventions``, where
``joint_contribution`` compares the factual world with the world without any intervention.
``shapley`` splits ``joint_contribution`` among the interventions: the world is re-run with
every subset of them switched off (``2^k - 1`` re-runs, common random numbers), ``v(S)`` is the
contribution of the interventions in ``S`` together (the factual with only ``S`` on, against
the world with none), and intervention ``i``'s value is the mean of ``v(S + i) - v(S)`` over
the orderings of the interventions; the values add up to ``joint_contribution`` exactly.

Examples
--------
>>> from snr_models.simulate import simulate
>>> result = simulate(n_clients=2_000, n_branches=4, n_months=6, seed=1)
>>> sorted(result.truth["interventions"])[:2]
['ai_assistant', 'process_reengineering']
>>> result.tables.clients["client_id"].is_unique
True
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snr_models.data.atomic import atomic_path
from snr_models.data.tables import Tables
from snr_models.simulate.assemble import build_tables
from snr_models.simulate.campaigns import campaign_truth
from snr_models.simulate.config import INTERVENTIONS, SimulationConfig
from snr_models.simulate.outcomes import baseline, run_scenario
from snr_models.simulate.rollout import build_rollout, exposure
from snr_models.simulate.truth import Summary, summarise, truth_dict
from snr_models.simulate.world import build_world

__all__ = ["SimulationConfig", "SimulationResult", "simulate", "write_simulation"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationResult:
    """The simulated tables, their ground truth and the configuration that produced them.

    ``diagnostics`` holds aggregate counts that are not in the tables (invitations, the
    market regime per month); it is not written by :func:`write_simulation`.

    Examples
    --------
    >>> r = simulate(n_clients=500, n_branches=2, n_months=4, seed=3)
    >>> r.config.n_clients, r.truth["spec"]["weights"]["S"]
    (500, 0.4)
    >>> r.diagnostics["regime"][:2]
    ['calm', 'calm']
    """

    tables: Tables
    truth: dict
    config: SimulationConfig
    diagnostics: dict = field(default_factory=dict, compare=False, repr=False)


def _resolve(config: SimulationConfig | None, overrides: dict[str, Any]) -> SimulationConfig:
    base = SimulationConfig() if config is None else config
    if not overrides:
        return base
    return SimulationConfig.model_validate({**base.model_dump(), **overrides})


def simulate(
    config: SimulationConfig | None = None, *, truth: bool = True, **overrides: Any
) -> SimulationResult:
    """Simulate a world and, unless ``truth=False``, its counterfactual ground truth.

    Parameters
    ----------
    config : SimulationConfig, optional
        The world's knobs (default: :class:`SimulationConfig`, i.e. ``sim_default.yaml``).
    truth : bool, default True
        Re-run the world with every subset of interventions switched off and fill
        ``truth["interventions"]`` and ``truth["change"]`` (contributions, joint contribution,
        Shapley values). ``False`` is faster and leaves them empty.
    **overrides
        Top-level fields replacing those of ``config``, e.g. ``n_clients=2000, seed=1``.

    Returns
    -------
    SimulationResult
        Deterministic for the configuration: the same config gives identical tables.

    Examples
    --------
    >>> r = simulate(n_clients=2_000, n_branches=4, n_months=6, seed=1)
    >>> r.tables.content_hash() == simulate(r.config).tables.content_hash()
    True
    """
    cfg = _resolve(config, overrides)
    t0 = time.perf_counter()
    world = build_world(cfg)
    rollout = build_rollout(cfg, world.calendar, world.streams["rollout"])
    base = baseline(world, exposure(rollout.without(INTERVENTIONS), cfg, world.calendar))
    factual = run_scenario(world, exposure(rollout, cfg, world.calendar), base)
    t1 = time.perf_counter()
    counterfactuals = {}
    none = None
    subsets: dict[frozenset[str], Summary] = {}
    if truth:
        present = [n for n in INTERVENTIONS if n in set(rollout.intervention)]
        # every subset switched off (2^k - 1 re-runs; the factual is the empty one): the
        # one-at-a-time counterfactuals, the world without any, and the Shapley values
        for size in range(1, len(present) + 1):
            for off in itertools.combinations(present, size):
                cf_rollout = rollout.without(off)
                outcome = run_scenario(
                    world, exposure(cf_rollout, cfg, world.calendar), base, full=False
                )
                subsets[frozenset(off)] = summarise(world, outcome)
                del outcome
        counterfactuals = {n: subsets[frozenset([n])] for n in present}
        none = subsets.get(frozenset(present))
    t2 = time.perf_counter()
    tables = build_tables(world, rollout, factual)
    doc = truth_dict(cfg, world, rollout, factual, counterfactuals, none, subsets)
    if factual.campaigns is not None:
        doc["outreach"] = campaign_truth(world, factual.campaigns)
    t3 = time.perf_counter()
    logger.info(
        "simulated %d clients x %d months: world+factual %.1fs, %d counterfactuals %.1fs, "
        "tables+truth %.1fs; rows %s",
        cfg.n_clients,
        cfg.n_months,
        t1 - t0,
        len(subsets),
        t2 - t1,
        t3 - t2,
        tables.row_counts(),
    )
    diagnostics = {
        **factual.diagnostics,
        "regime": [["calm", "volatile", "crash"][r] for r in world.regime],
    }
    return SimulationResult(tables=tables, truth=doc, config=cfg, diagnostics=diagnostics)


def write_simulation(result: SimulationResult, out_dir: str | Path) -> Path:
    """Write ``<table>.parquet`` per table and ``truth.json`` into ``out_dir``, atomically.

    Everything is written into a temporary sibling directory that is renamed onto ``out_dir``
    only when complete, so a killed run never leaves a half-written dataset; an existing
    ``out_dir`` is replaced.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> r = simulate(n_clients=500, n_branches=2, n_months=4, seed=3)
    >>> out = write_simulation(r, pathlib.Path(tempfile.mkdtemp()) / "world")
    >>> sorted(p.name for p in out.iterdir())[-2:]
    ['tickets.parquet', 'truth.json']
    """
    out_dir = Path(out_dir)
    with atomic_path(out_dir, directory=True) as tmp:
        for name, frame in result.tables.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "truth.json").write_text(
            json.dumps(result.truth, indent=1, allow_nan=False), encoding="utf-8"
        )
    logger.info("wrote simulated world to %s", out_dir)
    return out_dir
