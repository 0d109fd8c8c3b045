"""The main job's configuration (``experiments/default.yaml``), validated with pydantic."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from snr_models.configfile import merge_mappings, read_yaml_mapping

if TYPE_CHECKING:
    from snr_models.jobs.churn import ChurnConfig


class NetRateStage(BaseModel):
    """What the net-rate stage computes."""

    model_config = ConfigDict(extra="forbid")

    spec: str | None = Field(None, description="metric specification YAML; None = DESIGN.md's")
    freq: Literal["M", "Q", "Y"] = "M"
    by: list[str] = Field(default_factory=lambda: ["branch_id", "segment"])
    n_boot: int = Field(1000, ge=0)
    alpha: float = Field(0.05, gt=0, lt=1)
    compare: tuple[str, str] | None = Field(
        None, description="two period labels to decompose the change between; None = first and last"
    )


class DriversStage(BaseModel):
    """The drivers stage: what moves satisfaction, and where to act first."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    target: Literal["csat", "nps"] = "csat"
    n_boot: int = Field(200, ge=0, description="bootstrap replicates of the importances")
    alpha: float = Field(0.05, gt=0, lt=1)


class ChurnStage(BaseModel):
    """The churn stage: a churn model trained, backtested, registered, and the call list."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    config: str = Field(
        "churn.yaml", description="the churn model's configuration (the one snr retrain uses)"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="settings of `config` replaced for the main job, e.g. a shorter window",
    )
    call_list: int = Field(20, ge=1, description="top clients shown in the report, pseudonymised")

    def churn_config(self) -> ChurnConfig:
        """The churn configuration: ``config`` with ``overrides`` merged in, validated."""
        from snr_models.jobs.churn import ChurnConfig

        return ChurnConfig.model_validate(
            merge_mappings(read_yaml_mapping(self.config), self.overrides)
        )


class AttributionStage(BaseModel):
    """The attribution stage: each intervention's effect and the waterfall of the change."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    window: int = Field(3, ge=1, description="months averaged at each end of the change")
    alpha: float = Field(0.05, gt=0, lt=1)


class ForecastStage(BaseModel):
    """The forecast stage: the net rate ahead, for the baseline and roll-out scenarios."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    horizon: int = Field(6, ge=1, le=12)
    scenario: str | None = Field(
        "scenario_training.yaml", description="scenario YAML; None = the baseline only"
    )
    branches: bool = Field(False, description="forecast every branch too, reconciled (slower)")
    n_origins: int = Field(3, ge=1, description="rolling origins of the model-choice backtest")
    n_paths: int = Field(1000, ge=100)


class RunConfig(BaseModel):
    """Configuration of ``snr run``.

    Relative paths in ``simulation`` and ``netrate.spec`` are resolved against the
    configuration file's folder; ``data``, ``data_dir`` and ``output_dir`` against the
    working directory.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = "default"
    experiment: str = "snr-main"
    data: str | None = Field(None, description="Parquet folder or DuckDB file; None = simulate")
    simulation: str | None = Field(
        "sim_default.yaml", description="simulator YAML used when no data is given"
    )
    data_dir: str = Field("data", description="where a simulated world is written")
    output_dir: str = Field("reports", description="outputs go to <output_dir>/<run id>/")
    seed: int = 0
    netrate: NetRateStage = Field(default_factory=NetRateStage)
    drivers: DriversStage = Field(default_factory=DriversStage)
    churn: ChurnStage = Field(default_factory=ChurnStage)
    attribution: AttributionStage = Field(default_factory=AttributionStage)
    forecast: ForecastStage = Field(default_factory=ForecastStage)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        """Read and validate a YAML configuration; relative paths are made absolute."""
        path = Path(path)
        raw = read_yaml_mapping(path)
        config = cls.model_validate(raw)
        base = path.resolve().parent
        updates: dict = {}
        if config.simulation is not None and not Path(config.simulation).is_absolute():
            updates["simulation"] = str(base / config.simulation)
        if config.netrate.spec is not None and not Path(config.netrate.spec).is_absolute():
            updates["netrate"] = config.netrate.model_copy(
                update={"spec": str(base / config.netrate.spec)}
            )
        if (
            config.forecast.scenario is not None
            and not Path(config.forecast.scenario).is_absolute()
        ):
            updates["forecast"] = config.forecast.model_copy(
                update={"scenario": str(base / config.forecast.scenario)}
            )
        if not Path(config.churn.config).is_absolute():
            updates["churn"] = config.churn.model_copy(
                update={"config": str(base / config.churn.config)}
            )
        config = config.model_copy(update=updates)
        if config.churn.enabled:
            config.churn.churn_config()  # a bad churn configuration fails here, not mid-run
        return config
