"""Rolling-origin backtests: which model forecasts a series best, and how honest its intervals are.

For a series of ``T`` months, origin ``o`` fits every candidate on the first ``o`` months and
forecasts months ``o + 1 ... o + horizon`` (the exposure regressors of those months are the
realised ones: a roll-out is planned, not forecast). Origins are the ``n_origins`` latest ones
that leave a full horizon to score (Tashman 2000). Scores per model:

- ``mase``: mean absolute error scaled by the in-sample mean absolute seasonal-naive error of
  the training window (Hyndman & Koehler 2006); below 1 beats the in-sample seasonal naive;
- ``rel_mae``: mean absolute error relative to the seasonal naive's on the same points;
- ``coverage``: share of held-out points inside the central ``1 - alpha`` interval (the level
  the forecast's own intervals use, ``alpha`` of :func:`backtest_series`);
- ``pinball``: mean pinball loss over the quantiles :data:`~snr_models.forecast.scores.QUANTILES`
  (2.5, 10, 50, 90 and 97.5%; scaled), a score of the whole predictive distribution;
- ``crps``: mean CRPS of the Gaussian predictive distribution (scaled).

The model with the lowest ``mase`` is chosen (ties: the simpler, earlier in :data:`MODELS`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from snr_models.forecast.models import DEFAULT_MODELS, MODELS, make_model
from snr_models.forecast.scores import QUANTILES, crps_normal, mase_scale, pinball, z_of

logger = logging.getLogger(__name__)

__all__ = ["SeriesBacktest", "backtest_series", "score_points"]

#: The columns of a backtest's point table.
POINT_COLUMNS = ["model", "origin", "step", "actual", "mean", "sd", "scale"]


@dataclass(frozen=True)
class SeriesBacktest:
    """The backtest of one series.

    Attributes
    ----------
    points : DataFrame
        One row per model, origin and step: ``model, origin, step, actual, mean, sd, scale``.
    scores : DataFrame
        One row per model (see module doc), plus ``n_points`` and ``n_origins``;
        ``scores.attrs["alpha"]`` is the ``alpha`` of the ``coverage`` column.
    chosen : str
        The chosen model's name.
    params : dict
        Each model's estimates at the last origin (a warm start for the final fit).
    """

    points: pd.DataFrame
    scores: pd.DataFrame
    chosen: str
    params: dict = field(default_factory=dict, repr=False)


def score_points(points: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Scores per model from a point table (``model, origin, step, actual, mean, sd, scale``);
    ``coverage`` is that of the ``1 - alpha`` interval (recorded in ``attrs["alpha"]``)."""
    if points.empty:
        out = pd.DataFrame(columns=["model", "mase", "rel_mae", "coverage", "pinball", "crps"])
        out.attrs["alpha"] = alpha
        return out
    p = points.dropna(subset=["actual", "mean", "sd", "scale"])
    err = (p["actual"] - p["mean"]).abs()
    rows = []
    naive = p[p["model"] == "snaive"].set_index(["origin", "step"])
    z = z_of(1 - alpha)
    z_quantiles = stats.norm.ppf(QUANTILES)
    for model, g in p.groupby("model", sort=False):
        e = err.loc[g.index]
        q = g["mean"].to_numpy()[:, None] + g["sd"].to_numpy()[:, None] * z_quantiles
        scale = g["scale"].to_numpy()
        row = {
            "model": model,
            "mase": float(np.mean(e / scale)),
            "coverage": float(np.mean(e <= z * g["sd"])),
            "pinball": pinball(g["actual"].to_numpy() / scale, q / scale[:, None], QUANTILES),
            "crps": float(
                np.mean(crps_normal(g["actual"].to_numpy(), g["mean"].to_numpy(), g["sd"]) / scale)
            ),
            "n_points": len(g),
            "n_origins": int(g["origin"].nunique()),
        }
        if len(naive):
            key = g.set_index(["origin", "step"]).index
            nv = naive.reindex(key)
            n_err = (nv["actual"] - nv["mean"]).abs().to_numpy()
            ok = np.isfinite(n_err)
            row["rel_mae"] = (
                float(e.to_numpy()[ok].mean() / n_err[ok].mean()) if n_err[ok].sum() else np.nan
            )
        else:
            row["rel_mae"] = np.nan
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["alpha"] = alpha
    return out


def _origins(n: int, horizon: int, n_origins: int, min_train: int) -> list[int]:
    last = n - horizon
    first = max(min_train, last - n_origins + 1)
    if last >= first:
        return list(range(first, last + 1))
    # too short for full horizons: the latest origins with at least one point to score
    return list(range(max(min_train, n - n_origins), n))


def backtest_series(
    y: pd.Series,
    exog: np.ndarray | None = None,
    *,
    models: Sequence[str] = DEFAULT_MODELS,
    horizon: int = 6,
    n_origins: int = 6,
    season_length: int = 12,
    min_train: int = 12,
    alpha: float = 0.05,
) -> SeriesBacktest:
    """Rolling-origin backtest of ``models`` on ``y`` and the model choice (see module doc).

    Parameters
    ----------
    y : Series
        Monthly values on a month-start index, no gaps or NaN.
    exog : ndarray, optional
        ``(len(y), k)`` exposure regressors (for SARIMAX and the structural model).
    models : sequence of str
        Candidates; ``"snaive"`` is always scored as the baseline.
    horizon, n_origins : int
        Months ahead, and origins.
    min_train : int
        Fewest months an origin fits on.
    alpha : float
        ``coverage`` is scored for the ``1 - alpha`` interval.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> y = pd.Series(np.linspace(0.7, 0.9, 30), pd.date_range("2023-01", periods=30, freq="MS"))
    >>> bt = backtest_series(y, models=("snaive", "ets"), horizon=3, n_origins=3)
    >>> bt.chosen
    'ets'
    """
    names = list(dict.fromkeys(["snaive", *models]))
    values = y.to_numpy(dtype=float)
    n = len(values)
    records = []
    warm: dict[str, np.ndarray] = {}  # each model starts from its previous origin's estimates
    for o in _origins(n, horizon, n_origins, min_train):
        train = y.iloc[:o]
        h = min(horizon, n - o)
        scale = mase_scale(train.to_numpy(), season_length)
        for name in names:
            model = make_model(name, season_length)
            x_train = None if exog is None else exog[:o]
            x_future = None if exog is None else exog[o : o + h]
            try:
                model.fit(train, x_train, start_params=warm.get(name))
                warm[name] = model.params_
                mean, sd = model.predict(h, x_future)
            except (np.linalg.LinAlgError, ValueError) as exc:
                logger.info("backtest: %s failed at origin %d: %s", name, o, exc)
                mean, sd = np.full(h, np.nan), np.full(h, np.nan)
            for s in range(h):
                records.append((name, o, s + 1, values[o + s], mean[s], sd[s], scale))
    points = pd.DataFrame.from_records(records, columns=POINT_COLUMNS)
    scores = score_points(points, alpha)
    chosen = _choose(scores, names)
    return SeriesBacktest(points=points, scores=scores, chosen=chosen, params=warm)


def _choose(scores: pd.DataFrame, names: list[str]) -> str:
    ok = scores[np.isfinite(scores["mase"].astype(float))] if len(scores) else scores
    if ok.empty:
        return "ets" if "ets" in names else names[0]
    order = {n: i for i, n in enumerate(MODELS)}
    ok = ok.assign(_rank=ok["model"].map(order)).sort_values(["mase", "_rank"])
    return str(ok["model"].iloc[0])
