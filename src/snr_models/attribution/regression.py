"""Least squares with absorbed fixed effects and cluster-robust (CR1) inference.

The fixed effects are swept out by alternating projections (the method of ``fixest`` and
``reghdfe``), so a unit x period panel with thousands of units never builds dummy matrices.
The covariance is the CR1 sandwich with the small-sample factor of ``fixest``'s default,
``G / (G - 1) * (n - 1) / (n - K)``, ``K`` the slope coefficients plus the fixed-effect
parameters not nested in the clusters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from snr_models.attribution.inference import ClusterCR2, cluster_rows, pinv_normal, solve_normal
from snr_models.errors import SnrInputError


def _codes(values: pd.Series | np.ndarray) -> np.ndarray:
    return pd.factorize(np.asarray(values), use_na_sentinel=False)[0]


def demean(
    arrays: np.ndarray,
    fixed_effects: list[np.ndarray],
    weights: np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    direct_max_levels: int = 400,
) -> np.ndarray:
    """Residuals of each column of ``arrays`` on the dummies of every fixed effect.

    Parameters
    ----------
    arrays : ndarray, shape (n,) or (n, k)
    fixed_effects : list of int arrays of length n
        Codes ``0..G-1`` of each fixed effect.
    weights : ndarray, optional
        Observation weights.
    direct_max_levels : int
        With at most this many levels in total, project on the dummies directly; else use
        alternating projections (memory ``n x levels`` for the direct way).

    Examples
    --------
    >>> import numpy as np
    >>> unit = np.array([0, 0, 1, 1]); time = np.array([0, 1, 0, 1])
    >>> demean(np.array([1.0, 2.0, 3.0, 5.0]), [unit, time]).round(2)
    array([ 0.25, -0.25, -0.25,  0.25])
    """
    return demeaner(
        fixed_effects, weights, tol=tol, max_iter=max_iter, direct_max_levels=direct_max_levels
    )(arrays)


def demeaner(
    fixed_effects: list[np.ndarray],
    weights: np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 10_000,
    direct_max_levels: int = 400,
) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`demean` with the fixed effects (and, with few levels, the pseudo-inverse of the
    dummies' cross-product) prepared once, for demeaning many arrays on the same rows.

    Examples
    --------
    >>> import numpy as np
    >>> unit = np.array([0, 0, 1, 1]); time = np.array([0, 1, 0, 1])
    >>> sweep = demeaner([unit, time])
    >>> sweep(np.array([1.0, 2.0, 3.0, 5.0])).round(2)
    array([ 0.25, -0.25, -0.25,  0.25])
    """
    n = len(fixed_effects[0]) if fixed_effects else None
    sizes = [int(fe.max()) + 1 for fe in fixed_effects]
    direct = len(fixed_effects) > 1 and sum(sizes) <= direct_max_levels
    state: dict[str, np.ndarray] = {}

    def _weights(rows: int) -> np.ndarray:
        return np.ones(rows) if weights is None else np.asarray(weights, dtype=float)

    if direct:
        # few levels: one exact projection on the dummies (faster than many sweeps)
        w = _weights(n)
        dummies = np.concatenate(
            [np.eye(size)[fe] for fe, size in zip(fixed_effects, sizes, strict=True)], axis=1
        )
        dtw = dummies.T * w[None, :]
        state = {
            "dummies": dummies,
            "dtw": dtw,
            "inverse": pinv_normal(dtw @ dummies),
        }

    def sweep(arrays: np.ndarray) -> np.ndarray:
        x = np.array(arrays, dtype=float, copy=True)
        squeeze = x.ndim == 1
        if squeeze:
            x = x[:, None]
        if not fixed_effects:
            return x[:, 0] if squeeze else x
        if direct:
            coef = state["inverse"] @ (state["dtw"] @ x)
            x = x - state["dummies"] @ coef
            return x[:, 0] if squeeze else x
        w = _weights(x.shape[0])
        sums = [np.bincount(fe, weights=w) for fe in fixed_effects]
        for _ in range(max_iter):
            delta = 0.0
            for fe, s in zip(fixed_effects, sums, strict=True):
                means = np.zeros((len(s), x.shape[1]))
                for j in range(x.shape[1]):
                    means[:, j] = np.bincount(fe, weights=w * x[:, j], minlength=len(s))
                means /= np.where(s > 0, s, 1)[:, None]
                step = means[fe]
                x -= step
                delta = max(delta, float(np.max(np.abs(step))))
            if len(fixed_effects) == 1 or delta < tol:
                break
        return x[:, 0] if squeeze else x

    return sweep


def _fe_dof(fes: list[np.ndarray], cluster: np.ndarray | None) -> int:
    """Fixed-effect parameters counted in the small-sample factor (``fixest``'s
    ``fixef.K="nested"``): all levels minus one per extra fixed effect, minus those of fixed
    effects nested in the clusters."""
    if not fes:
        return 0
    sizes = [int(f.max()) + 1 for f in fes]
    total = sum(sizes) - (len(fes) - 1)
    if cluster is not None:
        for f, size in zip(fes, sizes, strict=True):
            nested = pd.Series(cluster).groupby(f).nunique().max() == 1
            if nested:
                total -= size
    return max(total, 0)


def _cluster_design(
    x: np.ndarray,
    y: np.ndarray,
    fes: list[np.ndarray],
    cl: np.ndarray,
    sw: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The design ``Z`` and outcome of the small-sample cluster covariances
    (:func:`~snr_models.attribution.inference.cluster_rows`): the slopes first, then the dummies
    of the fixed effects not nested in the clusters; those nested in the clusters are swept out
    within cluster (leaving a cluster out removes its own levels and changes no other row);
    rows scaled by the root weights."""
    nested = [f for f in fes if pd.Series(cl).groupby(f).nunique().max() == 1]
    others = [f for f in fes if pd.Series(cl).groupby(f).nunique().max() != 1]
    parts = [x]
    spans_constant = bool(nested)
    for f in others:
        d = np.eye(int(f.max()) + 1)[f]
        parts.append(d[:, 1:] if spans_constant else d)
        spans_constant = True
    z = np.column_stack(parts)
    w = None if np.all(sw == 1) else sw
    if nested:
        sweep = demeaner(nested, w)
        z, y = sweep(z), sweep(y)
    root = np.sqrt(sw)
    return z * root[:, None], y * root


@dataclass(frozen=True)
class OLSFit:
    """Coefficients and their cluster-robust covariance.

    Attributes
    ----------
    params : Series
        Slope coefficients (fixed effects absorbed).
    vcov : DataFrame
        CR1 covariance (heteroskedasticity-robust HC1 when unclustered).
    n_obs, n_clusters : int
    residuals : ndarray
    cr2 : ClusterCR2 or None
        With CR2 standard errors, the design's CR2 basis (for :meth:`dof`).
    """

    params: pd.Series
    vcov: pd.DataFrame
    n_obs: int
    n_clusters: int
    residuals: np.ndarray
    influence: np.ndarray | None = None
    clusters: np.ndarray | None = None
    cr2: ClusterCR2 | None = None

    def dof(self, weights: pd.Series) -> float:
        """Degrees of freedom of the t interval of ``sum_j weights_j * params_j``: Bell and
        McCaffrey's with CR2 standard errors (few clusters behind the combination give few),
        else the clusters minus one."""
        if self.cr2 is None:
            return float(max(self.n_clusters - 1, 1))
        usable = self.params.notna().to_numpy()
        w = weights.reindex(self.params.index).fillna(0.0).to_numpy()[usable]
        c = np.zeros(self.cr2.z.shape[1])
        c[: len(w)] = w
        return self.cr2.dof(c)

    def linear_influence(self, weights: pd.Series) -> pd.Series:
        """Per-cluster influence of ``sum_j weights_j * params_j``: its variance is the sum of
        squares, and influences of fits sharing the clusters add (for combinations across fits).
        """
        w = weights.reindex(self.params.index).fillna(0.0).to_numpy()
        return pd.Series(self.influence @ w, index=self.clusters)

    @property
    def se(self) -> pd.Series:
        """Standard errors."""
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.params.index)

    def linear(self, weights: pd.Series) -> tuple[float, float]:
        """Estimate and standard error of ``sum_j weights_j * params_j``."""
        w = weights.reindex(self.params.index).fillna(0.0).to_numpy()
        var = float(w @ np.nan_to_num(self.vcov.to_numpy()) @ w)
        return float(w @ self.params.to_numpy()), float(np.sqrt(max(var, 0.0)))


def fe_ols(
    data: pd.DataFrame,
    outcome: str,
    regressors: list[str],
    *,
    fixed_effects: list[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    vcov: bool = True,
    se: str = "CR1",
) -> OLSFit:
    """OLS of ``outcome`` on ``regressors`` with absorbed fixed effects and CR1 standard errors.

    ``vcov=False`` skips the covariance (a fast path for repeated fits, e.g. placebos).
    ``se="CR2"`` (with ``cluster``) gives Bell-McCaffrey's leverage-adjusted covariance and
    ``se="CR3"`` the cluster jackknife instead (both from
    :func:`snr_models.attribution.inference.cluster_rows`; CR1 is biased down when a few
    clusters carry many coefficients, as in saturated event studies; CR3 over-corrects).
    An intercept is always included (absorbed with the fixed effects). Rows with a missing
    outcome, regressor, fixed effect or cluster are not used (their number is in ``n_obs``).
    Regressors collinear with the fixed effects get a NaN coefficient.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"u": np.repeat(np.arange(50), 4), "t": np.tile(np.arange(4), 50)})
    >>> df["d"] = ((df.u < 25) & (df.t >= 2)).astype(float)
    >>> df["y"] = 2 * df.d + df.u * 0.1 + rng.normal(scale=0.01, size=200)
    >>> fit = fe_ols(df, "y", ["d"], fixed_effects=["u", "t"], cluster="u")
    >>> round(float(fit.params["d"]), 1)
    2.0
    """
    fixed_effects = list(fixed_effects or [])
    cols = [outcome, *regressors, *fixed_effects]
    cols += [c for c in (cluster, weights) if c is not None]
    missing = [c for c in dict.fromkeys(cols) if c not in data.columns]
    if missing:
        raise SnrInputError(f"regression: missing column(s) {missing}")
    keep = data[list(dict.fromkeys(cols))].notna().all(axis=1).to_numpy()
    frame = data.loc[keep]
    if len(frame) == 0:
        raise SnrInputError("regression: no complete rows")
    y = frame[outcome].to_numpy(dtype=float)
    x = frame[regressors].to_numpy(dtype=float)
    w = frame[weights].to_numpy(dtype=float) if weights else None
    # without fixed effects, an intercept (one all-zero code) is absorbed instead
    fes = [_codes(frame[f]) for f in fixed_effects] or [np.zeros(len(frame), dtype=np.int64)]
    yx = demean(np.column_stack([y, x]), fes, w)
    yd, xd = yx[:, 0], yx[:, 1:]
    sw = np.ones(len(y)) if w is None else w
    scale = np.sqrt(np.maximum(np.sum(xd**2 * sw[:, None], axis=0), 1e-300))
    raw_scale = np.sqrt(np.sum(x**2 * sw[:, None], axis=0)) + 1e-300
    usable = scale / raw_scale > 1e-8
    xs = xd[:, usable]
    xtwx = (xs * sw[:, None]).T @ xs
    rhs = (xs * sw[:, None]).T @ yd
    if not vcov:
        # collinear regressors: the minimum-norm solution, as the covariance path's pinv
        beta = solve_normal(xtwx, rhs)
        params = np.full(len(regressors), np.nan)
        params[usable] = beta
        return OLSFit(
            params=pd.Series(params, index=regressors),
            vcov=pd.DataFrame(np.nan, index=regressors, columns=regressors),
            n_obs=len(yd),
            n_clusters=0,
            residuals=yd - xs @ beta,
        )
    bread = pinv_normal(xtwx)
    beta = bread @ rhs
    resid = yd - xs @ beta
    n, k = xs.shape
    score = xs * (sw * resid)[:, None]
    if cluster is not None:
        cl = _codes(frame[cluster])
        n_cl = int(cl.max()) + 1
        meat_rows = np.zeros((n_cl, k))
        np.add.at(meat_rows, cl, score)
        k_total = k + _fe_dof(fes, cl)
        adj = n_cl / (n_cl - 1) * (n - 1) / (n - k_total) if n_cl > 1 else np.nan
    else:
        meat_rows = score
        n_cl = n
        k_total = k + _fe_dof(fes, None)
        adj = (n - 1) / (n - k_total) if n > k_total else np.nan
    influence = np.zeros((meat_rows.shape[0], len(regressors)))
    cr2 = None
    if se in ("CR2", "CR3") and cluster is not None:
        z, yz = _cluster_design(x[:, usable], y, fes, cl, sw)
        if se == "CR2":
            cr2 = ClusterCR2.from_design(z, cl, n_cl)
            rows = cr2.rows(yz)[:, : int(usable.sum())]
        else:
            rows = cluster_rows(z, yz, cl, n_cl, se)[:, : int(usable.sum())]
        if n <= k_total:  # no residual degrees of freedom: not estimable (as CR1's factor)
            rows = np.full_like(rows, np.nan)
        vcov_u = rows.T @ rows
        influence[:, usable] = rows
    elif se in ("CR1", "CR2", "CR3"):
        meat = meat_rows.T @ meat_rows
        vcov_u = adj * bread @ meat @ bread
        influence[:, usable] = np.sqrt(adj) * meat_rows @ bread
    else:
        raise ValueError(f"se must be 'CR1', 'CR2' or 'CR3', not {se!r}")
    labels = (
        pd.unique(np.asarray(frame[cluster]))[: meat_rows.shape[0]]
        if cluster is not None
        else np.arange(meat_rows.shape[0])
    )
    params = np.full(len(regressors), np.nan)
    params[usable] = beta
    vcov = np.full((len(regressors), len(regressors)), np.nan)
    vcov[np.ix_(usable, usable)] = vcov_u
    return OLSFit(
        params=pd.Series(params, index=regressors),
        vcov=pd.DataFrame(vcov, index=regressors, columns=regressors),
        n_obs=n,
        n_clusters=n_cl,
        residuals=resid,
        influence=influence,
        clusters=np.asarray(labels),
        cr2=cr2,
    )


def fe_ols_linear(
    fit: OLSFit,
    data: pd.DataFrame,
    outcomes: np.ndarray,
    regressors: list[str],
    weights_c: pd.Series,
    *,
    fixed_effects: list[str],
    cluster: str,
    weights: str | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """``sum_j weights_c[j] * params_j`` of :func:`fe_ols` (``se="CR2"``) for many outcomes on
    the design of ``fit``: its estimate, per-cluster CR2 influence and Bell-McCaffrey degrees
    of freedom.

    ``fit`` is ``fe_ols(data, <any outcome>, regressors, ..., se="CR2")`` on the same rows;
    the coefficients and the CR2 rows are linear in the outcome, and the factorisation, the
    CR2 basis and the degrees of freedom depend only on the design, so ``fit``'s are reused and
    every column of ``outcomes`` (rows of ``data`` x outcomes, missing on the same rows as
    ``fit``'s outcome) is solved at once: the coefficients are the slopes of the CR2 design's
    least squares (the same fixed effects, as dummies or swept within cluster). Column ``r``
    gives what ``fe_ols`` with that column as outcome gives through :meth:`OLSFit.linear`,
    :meth:`OLSFit.linear_influence` and :meth:`OLSFit.dof` (``tests/plan/test_rollout.py``
    checks it).

    Returns
    -------
    estimate : ndarray, shape (outcomes,)
    influence : ndarray, shape (clusters, outcomes)
        Its standard error is the root of the column's sum of squares (NaN without residual
        degrees of freedom).
    df : float
    """
    cr2 = fit.cr2
    if cr2 is None:
        raise ValueError("fe_ols_linear: fit must have CR2 errors")
    y = np.asarray(outcomes, dtype=float)
    y = y[:, None] if y.ndim == 1 else y
    cols = [*regressors, *fixed_effects, cluster, *([weights] if weights else [])]
    keep = data[list(dict.fromkeys(cols))].notna().all(axis=1).to_numpy()
    keep = keep & np.isfinite(y).all(axis=1)
    if keep.sum() != fit.n_obs or not np.isfinite(y[keep]).all():
        raise ValueError("fe_ols_linear: the outcomes must be missing on fit's rows")
    frame = data.loc[keep]
    y = y[keep]
    sw = frame[weights].to_numpy(dtype=float) if weights else np.ones(len(y))
    fes = [_codes(frame[f]) for f in fixed_effects]
    cl = _codes(frame[cluster])
    usable = fit.params.notna().to_numpy()
    # the CR2 design's outcome: nested fixed effects swept within cluster, root weights
    nested = [f for f in fes if pd.Series(cl).groupby(f).nunique().max() == 1]
    yz = demeaner(nested, None if weights is None else sw)(y) if nested else y
    yz = yz * np.sqrt(sw)[:, None]
    k = int(usable.sum())
    params = np.full((len(regressors), y.shape[1]), np.nan)
    params[usable] = (cr2.m_inv @ (cr2.z.T @ yz))[:k]
    c_full = weights_c.reindex(regressors).fillna(0.0).to_numpy()
    c = np.zeros(cr2.z.shape[1])
    c[:k] = c_full[usable]
    influence = cr2.influence(yz, c)
    if np.isnan(fit.influence).any():  # no residual degrees of freedom
        influence = np.full_like(influence, np.nan)
    # NaN when a regressor is collinear, as OLSFit.linear
    return c_full @ params, influence, fit.dof(weights_c)
