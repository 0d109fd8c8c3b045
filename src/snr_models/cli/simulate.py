"""``snr simulate``: write a simulated world (the contract's tables and truth.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from snr_models.cli.console import console, err_console


def simulate_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder to write the Parquet tables and truth.json into."),
    ] = None,
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
            help="Simulator YAML (the default world: sim_default.yaml in experiments); flags "
            "override it.",
        ),
    ] = None,
    exports: Annotated[
        Path | None,
        typer.Option(
            "--exports",
            help="Also write the world as a broker's exports (GBK CSV, xlsx, PostgreSQL "
            "scripts) with the sources.yaml that `snr ingest` reads them with.",
        ),
    ] = None,
    exports_database: Annotated[
        str,
        typer.Option(
            "--exports-database",
            help="Accounts and positions as PostgreSQL scripts (sql) or GBK CSV files (csv).",
        ),
    ] = "sql",
) -> None:
    """Simulate a margin-financing client world with known ground truth."""
    from snr_models.errors import SnrInputError
    from snr_models.simulate import SimulationConfig, simulate, write_simulation
    from snr_models.simulate.exports import write_exports

    if out is None and exports is None:
        raise SnrInputError("give --out (the contract's tables), --exports (a broker's), or both")
    if exports_database not in ("sql", "csv"):
        raise SnrInputError(f"--exports-database: {exports_database!r} is neither sql nor csv")

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
        result = simulate(cfg, truth=out is not None)
        if out is not None:
            write_simulation(result, out)
        if exports is not None:
            write_exports(result.tables, exports, database=exports_database)  # type: ignore[arg-type]
    counts = ", ".join(f"{n} {name}" for name, n in result.tables.row_counts().items())
    if out is not None:
        console.print(f"wrote {out}: {counts}")
    if exports is not None:
        console.print(f"wrote a broker's exports and sources.yaml to {exports}")
        if exports_database == "sql":
            console.print(
                "load accounts.sql and positions.sql into PostgreSQL (psql -f), then set "
                "SNR_WAREHOUSE_URL=postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB",
                highlight=False,
            )
