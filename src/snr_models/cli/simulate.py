"""``snr simulate``: write a simulated world (the contract's tables and truth.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.console import console, err_console


def simulate_command(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write the Parquet tables and truth.json into.")
    ],
    clients: Annotated[
        int | None, typer.Option("--clients", help="Number of clients.", min=1)
    ] = None,
    branches: Annotated[
        int | None, typer.Option("--branches", help="Number of branches.", min=1)
    ] = None,
    months: Annotated[int | None, typer.Option("--months", help="Number of months.", min=2)] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (same seed, same world).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Simulator YAML (e.g. experiments/sim_default.yaml); flags override it.",
        ),
    ] = None,
) -> None:
    """Simulate a margin-financing client world with known ground truth."""
    from snr_models.simulate import SimulationConfig, simulate, write_simulation

    base = SimulationConfig.from_yaml(config) if config else SimulationConfig()
    overrides = {
        k: v
        for k, v in {
            "n_clients": clients,
            "n_branches": branches,
            "n_months": months,
            "seed": seed,
        }.items()
        if v is not None
    }
    cfg = base.model_copy(update=overrides) if overrides else base
    cfg = SimulationConfig.model_validate(cfg.model_dump())
    with err_console.status(
        f"simulating {cfg.n_clients:,} clients, {cfg.n_branches} branches, {cfg.n_months} months"
    ):
        result = simulate(cfg)
        path = write_simulation(result, out)
    counts = ", ".join(f"{n} {name}" for name, n in result.tables.row_counts().items())
    console.print(f"wrote {path}: {counts}")
