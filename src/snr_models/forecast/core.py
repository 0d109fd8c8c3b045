"""``forecast()``: the net rate and its components, firm-wide and per branch, under scenarios.

Steps (see the package docstring for the why):

1. History: S, R, E per branch and month (:func:`snr_models.metrics.net_rate`, no bootstrap),
   with their volumes (responses, clients at risk, tickets). The firm-wide component is the
   volume-weighted mean of the branches' (exactly the firm-wide figure of DESIGN.md).
2. Exposure regressors per branch and firm-wide (:mod:`snr_models.forecast.exposure`).
3. Per series (firm and each branch, each component): a rolling-origin backtest picks the model
   (:mod:`snr_models.forecast.backtest`), which is refitted on the whole history.
4. Calibration from the backtest's out-of-sample errors (:mod:`snr_models.forecast.calibration`):
   each series' predictive standard deviation is widened by the root mean square of its honest
   (leave-one-origin-out model choice) standardised backtest errors, floor 1; the firm-wide
   components' correlation comes from the same errors (in-sample residuals when the backtest is
   too short), the firm-wide net rate gets its own composite factor, and the paths are Student
   *t* with the backtest's distinct held-out months as degrees of freedom.
   Joint simulation of ``n_paths`` futures: firm components with that correlation,
   each branch's shock correlated with the firm's (one-factor: ``z_b = rho_b z_firm +
   sqrt(1 - rho_b^2) e_b``), plus the scenario's effect with ``beta ~ N(estimate, se^2)``.
5. Reconciliation per path (weighted least squares, MinT with diagonal variances; Wickramasuriya
   et al. 2019): the branch paths move towards the firm path in proportion to their variance
   until the firm-wide value is exactly their volume-weighted mean.
6. Net rate = sum of weight x component per path; the ``1 - alpha`` intervals (``lo``, ``hi``)
   are path quantiles.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snr_models import progress
from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.forecast.calibration import (
    Calibration,
    composite_factor,
    effective_dof,
    error_correlation,
    scale_factor,
    standardised_errors,
)
from snr_models.forecast.exposure import Shape, branch_exposure, firm_exposure
from snr_models.forecast.models import DEFAULT_MODELS, MODELS
from snr_models.forecast.result import ForecastResult
from snr_models.forecast.scenario import (
    Scenario,
    ScenarioFile,
    added_exposure,
    effects_table,
    load_scenarios,
    rollouts_outside,
)
from snr_models.forecast.series import fit_series
from snr_models.metrics import MetricSpec, net_rate

logger = logging.getLogger(__name__)

__all__ = ["COMPONENTS", "OUTPUT_COLUMNS", "forecast"]

COMPONENTS: tuple[str, ...] = ("S", "R", "E")
VOLUME: dict[str, str] = {"S": "n_responses", "R": "n_open", "E": "n_tickets"}
#: The columns of the forecast table (``ForecastResult.to_frame()``, ``snr forecast``).
OUTPUT_COLUMNS: list[str] = [
    "period",
    "series",
    "component",
    "scenario",
    "forecast",
    "lo",
    "hi",
]


def _history(
    data: Tables, spec: Any, end: Any
) -> tuple[np.ndarray, pd.DatetimeIndex, dict, dict, dict[str, float], dict]:
    nr = net_rate(data, spec, freq="M", by="branch_id", n_boot=0, end=end).table
    nr = nr.loc[nr["branch_id"].notna()]
    if nr.empty:
        raise SnrInputError("forecast: no branch-months with data")
    raw = nr.attrs.get("spec") or {}
    weights = {c: float(v["weight"]) for c, v in raw.get("components", {}).items()}
    if set(weights) != set(COMPONENTS):
        raise SnrInputError(f"forecast: the metric must have components {COMPONENTS}")
    branches = np.sort(nr["branch_id"].astype(str).unique())
    periods = pd.DatetimeIndex(np.sort(nr["period"].unique()))
    nr = nr.assign(branch_id=nr["branch_id"].astype(str)).set_index(["branch_id", "period"])
    full = pd.MultiIndex.from_product([branches, periods])
    nr = nr.reindex(full)
    values, volumes = {}, {}
    for c in COMPONENTS:
        v = nr[VOLUME[c]].fillna(0).to_numpy(dtype=float).reshape(len(branches), len(periods))
        y = nr[c].to_numpy(dtype=float).reshape(len(branches), len(periods))
        y = np.where(v > 0, y, np.nan)
        volumes[c], values[c] = v, y
    firm = {}
    for c in COMPONENTS:
        v, y = volumes[c], values[c]
        tot = v.sum(axis=0)
        firm[c] = np.where(tot > 0, np.nansum(np.where(v > 0, y, 0) * v, axis=0) / tot, np.nan)
        if np.isnan(firm[c]).any():
            firm[c] = pd.Series(firm[c]).interpolate(limit_direction="both").to_numpy()
        if np.isnan(firm[c]).all():
            raise SnrInputError(f"forecast: component {c} has no data in any month")
    return branches, periods, values, volumes, weights, firm


def _fill(y: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """A branch series with its empty months interpolated (the firm's when all are empty)."""
    if np.isnan(y).all():
        return fallback.copy()
    return pd.Series(y).interpolate(limit_direction="both").to_numpy()


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 6 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return 0.0
    return float(np.clip(np.corrcoef(a[ok], b[ok])[0, 1], -0.99, 0.99))


def _psd_cholesky(r: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((r + r.T) / 2)
    vals = np.clip(vals, 1e-6, None)
    fixed = vecs @ np.diag(vals) @ vecs.T
    d = np.sqrt(np.diag(fixed))
    return np.linalg.cholesky(fixed / np.outer(d, d))


def _resolve_scenarios(
    scenario: Any, effects: Any
) -> tuple[list[Scenario], pd.DataFrame | None, str]:
    if scenario is None:
        return [], None, "none"
    if isinstance(scenario, str | Path):
        scenario = load_scenarios(scenario)
    from_file = False
    if isinstance(scenario, ScenarioFile):
        scenarios = list(scenario.scenarios)
        if effects is None and scenario.effects != "attribution":
            effects, from_file = scenario.effects, True
    elif isinstance(scenario, Scenario):
        scenarios = [scenario]
    elif isinstance(scenario, Sequence):
        scenarios = [s if isinstance(s, Scenario) else Scenario.model_validate(s) for s in scenario]
    elif isinstance(scenario, Mapping):
        scenarios = [Scenario.model_validate(scenario)]
    else:
        raise SnrInputError(f"scenario: unsupported type {type(scenario).__name__}")
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise SnrInputError(f"scenario names must be unique, got {names}")
    if effects is None:
        wanted = sorted({r.intervention for s in scenarios for r in s.rollouts})
        raise SnrInputError(
            f"scenario: the effects of {wanted} are needed; pass effects= (e.g. "
            "snr_models.attribution.estimate_joint(build_panel(tables, end=end))) or give "
            "them in the scenario file"
        )
    source = "scenario file" if from_file else "supplied"
    if not from_file and hasattr(effects, "to_frame") and not isinstance(effects, pd.DataFrame):
        source = f"supplied ({type(effects).__name__})"
    return scenarios, effects_table(effects), source


def forecast(
    data: Tables,
    horizon: int = 6,
    scenario: Any = None,
    *,
    effects: Any = None,
    models: Sequence[str] = DEFAULT_MODELS,
    branches: bool = True,
    n_origins: int = 6,
    end: Any = None,
    n_paths: int = 2000,
    shapes: Mapping[str, Shape | str] | None = None,
    season_length: int = 12,
    volume_months: int = 6,
    spec: MetricSpec | str | Path | None = None,
    alpha: float = 0.05,
    random_state: int | None = 0,
) -> ForecastResult:
    """Forecast the net rate and S, R, E, firm-wide and per branch, for a baseline and scenarios.

    Parameters
    ----------
    data : Tables
        The contract's tables.
    horizon : int
        Months ahead, 1 to 12.
    scenario : optional
        ``None`` (baseline only); a :class:`~snr_models.forecast.scenario.Scenario`, a list of
        them, a :class:`~snr_models.forecast.scenario.ScenarioFile` or the path of a scenario
        YAML. The baseline (every roll-out as in the ``interventions`` table, planned rows
        included) is always forecast as scenario ``"baseline"``.
    effects : optional
        Intervention effects on S, R, E per treated branch-month with standard errors: an
        attribution result (:func:`snr_models.attribution.estimate_joint`), a table
        ``intervention, component, estimate, se``, or a mapping as in the YAML. By default the
        YAML's effects; a scenario whose file says ``effects: attribution`` needs them here
        (the forecast estimates no effect itself: that is the attribution's work).
    models : sequence of str
        Candidates among ``snaive``, ``ets``, ``sarimax``, ``uc`` (default
        :data:`~snr_models.forecast.models.DEFAULT_MODELS`: all but the fixed-order
        ``sarimax``); one name skips the choice.
    branches : bool
        Forecast each branch too and reconcile (``False``: firm-wide only, faster).
    n_origins : int
        Backtest origins per series for the model choice.
    end : optional
        Last month of history used (default: the last month with data), e.g. ``"2025-06"``.
    n_paths : int
        Simulated paths for the intervals.
    shapes : mapping, optional
        Exposure shape per intervention for the regressors (``"step"``, ``"ramp"`` or a
        :class:`~snr_models.forecast.exposure.Shape`); default the scenario file's
        ``exposures``, else ``step``.
    season_length : int
        Months per season.
    volume_months : int
        Future branch volumes (the reconciliation weights) are their mean over this many last
        months.
    spec : optional
        Metric specification (default: DESIGN.md's).
    alpha : float
        ``1 - alpha`` intervals (columns ``lo`` and ``hi``).
    random_state : int, optional
        Seed of the simulation.

    Returns
    -------
    ForecastResult

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> tables = simulate(n_clients=2_000, n_branches=4, n_months=24, seed=1, truth=False).tables
    >>> res = forecast(tables, horizon=3, models=("snaive", "ets"), n_origins=2, n_paths=500)
    >>> sorted(res.to_frame()["series"].unique())[:2]
    ['B001', 'B002']
    >>> res.to_frame().shape[0] == 3 * 4 * (4 + 1)
    True
    """
    t0 = time.perf_counter()
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise SnrInputError(f"horizon must be an integer from 1 to 12, got {horizon!r}")
    if not 1 <= horizon <= 12:
        raise SnrInputError(f"horizon must be from 1 to 12, got {horizon}")
    models = tuple(models)
    if not models or any(m not in MODELS for m in models):
        raise SnrInputError(f"models must be some of {list(MODELS)}, got {list(models)}")
    if not 0 < alpha < 1:
        raise SnrInputError(f"alpha must be in (0, 1), got {alpha!r}")
    if n_paths < 200:
        raise SnrInputError(f"n_paths must be >= 200, got {n_paths}")
    if isinstance(scenario, str | Path):
        scenario = load_scenarios(scenario)
    if shapes is None and isinstance(scenario, ScenarioFile):
        shapes = dict(scenario.exposures)
    shapes_ = {k: (Shape(v) if isinstance(v, str) else v) for k, v in (shapes or {}).items()}

    ids, periods, values, volumes, weights, firm = _history(data, spec, end)
    t = len(periods)
    if t < 12:
        raise SnrInputError(f"forecast: need at least 12 months of history, got {t}")
    future = pd.date_range(periods[-1] + pd.offsets.MonthBegin(1), periods=horizon, freq="MS")
    all_periods = periods.append(future)
    scenarios, eff, eff_source = _resolve_scenarios(scenario, effects)

    names, x_branch = branch_exposure(data.interventions, ids, all_periods, shapes_)
    k = len(names)
    recent = slice(max(0, t - volume_months), t)
    vol_future = {
        c: np.repeat(volumes[c][:, recent].mean(axis=1)[:, None], horizon, 1) for c in COMPONENTS
    }
    vol_all = {c: np.concatenate([volumes[c], vol_future[c]], axis=1) for c in COMPONENTS}
    x_firm = {c: firm_exposure(x_branch, vol_all[c]) for c in COMPONENTS}
    if k == 0:
        x_firm = {c: np.zeros((t + horizon, 0)) for c in COMPONENTS}

    index = pd.DatetimeIndex(periods, freq="MS")
    choice_rows, score_frames = [], []
    n_b = len(ids) if branches else 0
    mu_f, sd_f = np.zeros((horizon, 3)), np.zeros((horizon, 3))
    mu_b, sd_b = np.zeros((n_b, horizon, 3)), np.zeros((n_b, horizon, 3))
    res_f: dict[str, np.ndarray] = {}
    honest_f: dict[str, pd.DataFrame] = {}
    factors_f: dict[str, float] = {}
    rho = np.zeros((n_b, 3))

    def record(series: str, c: str, name: str, scores: pd.DataFrame, factor: float) -> None:
        choice_rows.append(
            {"series": series, "component": c, "model": name, "sd_inflation": factor}
        )
        if len(scores):
            score_frames.append(scores.assign(series=series, component=c))

    for j, c in enumerate(COMPONENTS):
        y = pd.Series(firm[c], index=index)
        name, scores, mean, sd, resid, points = fit_series(
            y, x_firm[c], horizon, models, n_origins, season_length, alpha
        )
        factors_f[c] = scale_factor(standardised_errors(points))
        record("firm", c, name, scores, factors_f[c])
        mu_f[:, j], sd_f[:, j], res_f[c], honest_f[c] = mean, sd * factors_f[c], resid, points
        for i in progress.track(range(n_b), f"branches {c}"):
            yb = pd.Series(_fill(values[c][i], firm[c]), index=index)
            name, scores, mean, sd, resid, points = fit_series(
                yb, x_branch[i], horizon, models, n_origins, season_length, alpha
            )
            factor = scale_factor(standardised_errors(points))
            record(str(ids[i]), c, name, scores, factor)
            mu_b[i, :, j], sd_b[i, :, j] = mean, sd * factor
            rho[i, j] = _corr(resid, res_f[c])
    t_models = time.perf_counter() - t0

    # --- calibration of the composite and of the tails (see forecast.calibration) -----------
    z_honest = {c: standardised_errors(honest_f[c]) for c in COMPONENTS}
    r, r_source = error_correlation(z_honest, res_f, COMPONENTS)
    net_factor, _ = composite_factor(honest_f, factors_f, r, weights)
    calibration = Calibration(
        factors=factors_f,
        n_points={c: len(honest_f[c]) for c in COMPONENTS},
        net_rate_factor=net_factor,
        dof=effective_dof(honest_f),
        correlation=r,
        correlation_source=r_source,
    )

    # --- joint simulation -------------------------------------------------------------------
    rng = np.random.default_rng(random_state)
    chol = _psd_cholesky(r)
    z_f = rng.standard_normal((n_paths, horizon, 3)) @ chol.T
    # Student t paths: one variance factor per path, shared by every series, month, component
    mix = (
        np.sqrt(rng.chisquare(calibration.dof, n_paths) / calibration.dof)
        if np.isfinite(calibration.dof)
        else np.ones(n_paths)
    )
    z_f /= mix[:, None, None]
    if n_b:
        e = rng.standard_normal((n_paths, n_b, horizon, 3)) / mix[:, None, None, None]
        z_b = rho[None, :, None, :] * z_f[:, None, :, :] + np.sqrt(1 - rho**2)[None, :, None, :] * e
        del e
    # the composite's extra spread around its forecast (composite factor, firm-wide)
    w_vec = np.array([weights[c] for c in COMPONENTS])
    net_extra = (net_factor - 1.0) * ((sd_f * z_f) @ w_vec)
    # reconciliation weights: each branch's share of the component's future volume (B, H, 3)
    v = np.stack([vol_future[c] for c in COMPONENTS], axis=-1)
    v = v / np.where(v.sum(axis=0) > 0, v.sum(axis=0), 1.0)[None]
    w = np.array([weights[c] for c in COMPONENTS])
    ref_intensity = data.interventions.groupby("intervention")["intensity"].mean().to_dict()
    tables, summaries = [], {}
    outside = [note for scen in scenarios for note in rollouts_outside(scen, future)]
    for scen in [None, *scenarios]:
        label = "baseline" if scen is None else scen.name
        d_mean_b = np.zeros((len(ids), horizon, 3))
        d_path_b = None
        if scen is not None:
            added = added_exposure(scen, names, ids, future, x_branch, ref_intensity)
            d_path_b = np.zeros((n_paths, len(ids), horizon, 3))
            d_mean_b = np.zeros((len(ids), horizon, 3))
            for name, dx in added.items():
                for j, c in enumerate(COMPONENTS):
                    row = eff[(eff["intervention"] == name) & (eff["component"] == c)]
                    if row.empty or not np.isfinite(row["estimate"].iloc[0]):
                        raise SnrInputError(
                            f"scenario {label!r}: no effect of {name!r} on {c} (give effects)"
                        )
                    est, se = float(row["estimate"].iloc[0]), float(row["se"].iloc[0])
                    beta = est + (se if np.isfinite(se) else 0.0) * rng.standard_normal(n_paths)
                    d_path_b[:, :, :, j] += beta[:, None, None] * dx[None, :, :]
                    d_mean_b[:, :, j] += est * dx
        # the firm-wide effect is the volume-weighted mean of the branches'
        d_mean_f = (v * d_mean_b).sum(axis=0)
        d_path_f = np.einsum("bhc,nbhc->nhc", v, d_path_b) if d_path_b is not None else 0.0
        f_mean = mu_f + d_mean_f
        f_path = mu_f + sd_f * z_f + d_path_f
        if n_b:
            b_mean = mu_b + d_mean_b
            b_path = mu_b + sd_b * z_b + (d_path_b if d_path_b is not None else 0.0)
            var_b = sd_b**2
            denom = (v**2 * var_b).sum(axis=0) + sd_f**2  # (H, 3)
            lam_m = (f_mean - (v * b_mean).sum(axis=0)) / denom
            b_mean = b_mean + var_b * v * lam_m[None]
            lam_p = (f_path - np.einsum("bhc,nbhc->nhc", v, b_path)) / denom
            b_path = b_path + var_b[None] * v[None] * lam_p[:, None]
            f_mean = (v * b_mean).sum(axis=0)
            f_path = np.einsum("bhc,nbhc->nhc", v, b_path)
        tables.append(_table(label, "firm", future, f_mean, f_path, w, alpha, net_extra))
        for i in range(n_b):
            tables.append(_table(label, str(ids[i]), future, b_mean[i], b_path[:, i], w, alpha))
        summaries[label] = f_path @ w + net_extra
    table = pd.concat(tables, ignore_index=True)[OUTPUT_COLUMNS]

    history = _history_frame(ids if branches else np.array([]), periods, values, firm, weights)
    backtest = (
        pd.concat(score_frames, ignore_index=True)
        if score_frames
        else pd.DataFrame(columns=["series", "component", "model"])
    )
    if len(backtest):
        front = ["series", "component", "model"]
        backtest = backtest[front + [c for c in backtest.columns if c not in front]]
    seconds = time.perf_counter() - t0
    logger.info(
        "forecast: %d series, %d scenario(s), models %.1fs, total %.1fs",
        len(choice_rows),
        len(scenarios),
        t_models,
        seconds,
    )
    return ForecastResult(
        table=table,
        history=history,
        choice=pd.DataFrame(choice_rows),
        backtest=backtest,
        effects=eff,
        scenarios=tuple(scenarios),
        params={
            "horizon": horizon,
            "models": list(models),
            "branches": bool(branches),
            "n_branches": len(ids),
            "n_origins": n_origins,
            "n_paths": n_paths,
            "alpha": alpha,
            "history_start": f"{periods[0]:%Y-%m}",
            "history_end": f"{periods[-1]:%Y-%m}",
            "weights": weights,
            "exposures": {n: (shapes_.get(n) or Shape()).kind for n in names},
            "effects_source": eff_source,
            "calibration": calibration.as_dict(),
            "reconciliation": "wls_var (MinT, diagonal)" if branches else "none (firm only)",
            "seconds_models": round(t_models, 2),
            "seconds": round(seconds, 2),
            "scenario_notes": outside,
        },
    )


def _table(
    label: str,
    series: str,
    future: pd.DatetimeIndex,
    mean: np.ndarray,
    paths: np.ndarray,
    w: np.ndarray,
    alpha: float,
    net_extra: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rows ``period x component`` (S, R, E, net_rate) of one series and scenario.

    ``net_extra`` (``(n, H)``, mean zero) is added to the net rate's paths: the composite
    calibration's extra spread.
    """
    means = np.column_stack([mean, mean @ w])  # (H, 4)
    net = paths @ w if net_extra is None else paths @ w + net_extra
    allp = np.concatenate([paths, net[..., None]], axis=-1)  # (n, H, 4)
    q = np.quantile(allp, [alpha / 2, 1 - alpha / 2], axis=0)  # (2, H, 4)
    comps = [*COMPONENTS, "net_rate"]
    h = len(future)
    return pd.DataFrame(
        {
            "period": np.repeat(future.to_numpy().astype("datetime64[us]"), 4),
            "series": series,
            "component": np.tile(comps, h),
            "scenario": label,
            "forecast": means.reshape(-1),
            "lo": q[0].reshape(-1),
            "hi": q[1].reshape(-1),
        }
    )


def _history_frame(
    ids: np.ndarray,
    periods: pd.DatetimeIndex,
    values: dict[str, np.ndarray],
    firm: dict[str, np.ndarray],
    weights: dict[str, float],
) -> pd.DataFrame:
    """Long history: ``period, series, component, value`` (firm and the branches modelled)."""
    frames = []
    stamp = periods.to_numpy().astype("datetime64[us]")
    net = sum(weights[c] * firm[c] for c in COMPONENTS)
    for c, arr in [*firm.items(), ("net_rate", net)]:
        frames.append(
            pd.DataFrame({"period": stamp, "series": "firm", "component": c, "value": arr})
        )
    for i, b in enumerate(ids):
        net_b = sum(weights[c] * values[c][i] for c in COMPONENTS)
        for c in [*COMPONENTS, "net_rate"]:
            arr = net_b if c == "net_rate" else values[c][i]
            frames.append(
                pd.DataFrame({"period": stamp, "series": str(b), "component": c, "value": arr})
            )
    return pd.concat(frames, ignore_index=True)
