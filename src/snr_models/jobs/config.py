"""Configurations, validated with pydantic: the main job's (``experiments/default.yaml``) and
the churn model's (``experiments/churn.yaml``, shared by ``snr churn train`` and retrain)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from snr_models.configfile import merge_mappings, read_yaml_mapping


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BacktestSettings(_Strict):
    """Rolling-origin backtest settings."""

    n_origins: int = Field(3, ge=1)
    min_train_months: int = Field(6, ge=1)
    importance: bool = True
    n_repeats: int = Field(3, ge=1)


class LogitSettings(_Strict):
    """:class:`~snr_models.churn.ChurnLogit` parameters."""

    C: float = Field(1.0, gt=0)


class UpliftSettings(_Strict):
    """Retention uplift: the learner, and the value of a call for ``snr score --rank value``.

    A call's value is ``uplift x client value - call_cost``, where a kept client is worth
    ``client_value + value_per_balance x financing_balance`` (RMB).
    """

    learner: Literal["two_model", "x_learner", "dr_learner"] = "two_model"
    client_value: float = Field(2000.0, ge=0, description="RMB a kept client is worth")
    value_per_balance: float = Field(
        0.02, ge=0, description="RMB per RMB of financing balance a kept client is worth"
    )
    call_cost: float = Field(30.0, ge=0, description="RMB a retention call costs")
    n_test_campaigns: int = Field(
        2, ge=1, description="latest labelled campaigns held out by the retrain gate's Qini"
    )
    max_qini_drop: float = Field(
        0.0, ge=0, description="retrain gate: the challenger's Qini may fall this much below"
    )


class BoostSettings(_Strict):
    """:class:`~snr_models.churn.ChurnBoost` parameters."""

    max_iter: int = Field(200, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    max_leaf_nodes: int = Field(15, ge=2)
    min_samples_leaf: int = Field(100, ge=1)
    l2_regularization: float = Field(0.0, ge=0)
    calibration: Literal["sigmoid", "isotonic"] | None = "sigmoid"
    calibration_fraction: float = Field(0.25, gt=0, lt=1)


class HazardSettings(_Strict):
    """:class:`~snr_models.churn.HazardModel` parameters."""

    C: float = Field(1.0, gt=0)


class AutoSettings(_Strict):
    """``model: auto``: the candidates chosen among on the backtest, and the score."""

    candidates: list[Literal["boost", "logit", "hazard"]] = Field(
        default_factory=lambda: ["logit", "hazard", "boost"],
        min_length=1,
        description="models to choose among; ties go to the earlier one",
    )
    metric: Literal["roc_auc", "pr_auc", "brier"] = Field(
        "roc_auc", description="per-origin backtest score whose mean over origins decides"
    )

    @field_validator("candidates")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"auto.candidates repeat a model: {value}")
        return value


class DriftSettings(_Strict):
    """Drift report of ``snr retrain``: PSI thresholds and whether a breach blocks."""

    psi_threshold: float = Field(0.25, gt=0, description="per-feature PSI above which: breach")
    label_psi_threshold: float = Field(0.1, gt=0, description="PSI of the label rate")
    block: bool = Field(False, description="a breach stops the retrain (exit 3)")
    n_bins: int = Field(10, ge=2)
    exclude: list[str] = Field(
        default_factory=lambda: ["index_return", "market_return_3m", "volatility"],
        description="features left out of the report (market context: one value per month)",
    )


class GateSettings(_Strict):
    """Champion/challenger gate: the challenger must do at least this well on the holdout."""

    max_auc_drop: float = Field(0.005, description="ROC-AUC may be lower by at most this")
    calibration_slope: tuple[float, float] = (0.8, 1.2)
    max_empc_drop: float = Field(0.0, description="EMPC may be lower by at most this")


class FloorSettings(_Strict):
    """Absolute floors a first challenger (no champion yet) must meet on the holdout."""

    min_auc: float = Field(0.6, ge=0, le=1)
    calibration_slope: tuple[float, float] = (0.8, 1.2)
    min_empc: float = Field(0.0, description="EMPC per client at least this")
    min_holdout_rows: int = Field(100, ge=1)


class RetrainSettings(_Strict):
    """``snr retrain``: data source, holdout, lock, summary, drift, gate and floors."""

    data: str | None = Field(None, description="Parquet folder or DuckDB file (--data overrides)")
    holdout_months: int = Field(1, ge=1, description="latest labelled as-of months held out")
    lock: str = "snr-retrain.lock"
    summary: str = "retrain/summary.json"
    drift: DriftSettings = Field(default_factory=DriftSettings)
    gate: GateSettings = Field(default_factory=GateSettings)
    floors: FloorSettings = Field(default_factory=FloorSettings)


class ChurnConfig(_Strict):
    """Configuration of ``snr churn train`` and ``snr retrain`` (``experiments/churn.yaml``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = "churn"
    experiment: str = "snr-churn"
    model: Literal["auto", "boost", "logit", "hazard"] = Field(
        "auto", description="auto: chosen among `auto.candidates` on the rolling-origin backtest"
    )
    horizon: int = Field(3, ge=1, le=24)
    train_months: int | None = Field(
        None, ge=1, description="use only the last N labelled as-of months (None: all)"
    )
    negative_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description=(
            "share of the stayers every model (backtest and final fit) is fitted on, every "
            "exit kept and the stayers weighted up: faster on rare exits (1: every row)"
        ),
    )
    backtest: BacktestSettings = Field(default_factory=BacktestSettings)
    logit: LogitSettings = Field(default_factory=LogitSettings)
    boost: BoostSettings = Field(default_factory=BoostSettings)
    hazard: HazardSettings = Field(default_factory=HazardSettings)
    auto: AutoSettings = Field(default_factory=AutoSettings)
    uplift: UpliftSettings = Field(default_factory=UpliftSettings)
    n_boot: int = Field(200, ge=0)
    alpha: float = Field(0.05, gt=0, lt=1, description="1 - level of every interval")
    # "register" in YAML; renamed here because pydantic's BaseModel has a ``register`` method
    register_model: bool = Field(True, alias="register", description="register the model")
    seed: int = 0
    threads: int | None = Field(
        None, ge=1, description="OpenMP/BLAS/DuckDB threads (None: SNR_THREADS or the free CPUs)"
    )
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)

    @classmethod
    def from_yaml(cls, path: str | Path) -> ChurnConfig:
        """Read and validate a YAML configuration."""
        path = Path(path)
        raw = read_yaml_mapping(path)
        return cls.model_validate(raw)


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
    window: int = Field(
        3,
        ge=1,
        description="periods averaged at each end of the change; the attribution's waterfall, "
        "the report's headline and every change table use the same windows",
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
        return ChurnConfig.model_validate(
            merge_mappings(read_yaml_mapping(self.config), self.overrides)
        )


class AttributionStage(BaseModel):
    """The attribution stage: each intervention's effect and the waterfall of the change."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
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


class PlanStage(BaseModel):
    """The plan stage ("What to do next"): the next roll-out's power, per-branch effects, and
    the allocation of a budget (``snr plan``). On by default: on the default world it costs
    about the attribution stage's time (README's benchmark table); on a history too short for
    the plan's regression the stage says why and the report has no plan."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    intervention: str = Field("staff_training", description="the intervention to roll out next")
    effect: float = Field(0.02, description="its true effect on the net rate, to detect")
    design: Literal["staggered", "pilot", "firmwide"] = "staggered"
    branches: int | None = Field(None, ge=2, description="None = every branch")
    cohorts: int = Field(2, ge=1)
    months: int | None = Field(
        None, ge=3, description="None = 12, or the history's months less two if fewer"
    )
    n_reps: int = Field(100, ge=10)
    n_reps_grid: int = Field(25, ge=10)
    costs: str | None = Field(None, description="cost file (YAML), relative to this file")
    budget: float | None = Field(None, ge=0)


Language = Literal["zh-CN", "en"]


class ReportStage(BaseModel):
    """The manager's report: its languages and business words."""

    model_config = ConfigDict(extra="forbid")

    language: list[Language] = Field(
        default_factory=lambda: ["zh-CN", "en"],
        description="zh-CN and/or en; the first is index.html, the others index.<language>.html",
    )
    labels: dict[Language, dict[str, dict[str, str]]] = Field(
        default_factory=dict,
        description="per language, words replacing the defaults: {section: {code: word}}, "
        "sections terms, interventions, scenarios, segments, attributes, metrics, text, ...",
    )

    @field_validator("language", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        value = [value] if isinstance(value, str) else value
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("report.language: one or more distinct languages (zh-CN, en)")
        return value


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
    threads: int | None = Field(
        None, ge=1, description="OpenMP/BLAS/DuckDB threads (None: SNR_THREADS or the free CPUs)"
    )
    netrate: NetRateStage = Field(default_factory=NetRateStage)
    drivers: DriversStage = Field(default_factory=DriversStage)
    churn: ChurnStage = Field(default_factory=ChurnStage)
    attribution: AttributionStage = Field(default_factory=AttributionStage)
    forecast: ForecastStage = Field(default_factory=ForecastStage)
    plan: PlanStage = Field(default_factory=PlanStage)
    report: ReportStage = Field(default_factory=ReportStage)

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
        if config.plan.costs is not None and not Path(config.plan.costs).is_absolute():
            updates["plan"] = config.plan.model_copy(
                update={"costs": str(base / config.plan.costs)}
            )
        if not Path(config.churn.config).is_absolute():
            updates["churn"] = config.churn.model_copy(
                update={"config": str(base / config.churn.config)}
            )
        config = config.model_copy(update=updates)
        if config.churn.enabled:
            config.churn.churn_config()  # a bad churn configuration fails here, not mid-run
        return config
