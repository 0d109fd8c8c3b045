"""Staggered difference-in-differences: Callaway & Sant'Anna (2021) group-time ATTs.

For every treatment cohort ``g`` (units first treated in period ``g``) and period ``t``,
``ATT(g, t)`` compares the change of the outcome of cohort ``g`` between a base period and
``t`` with the same change among control units: never-treated units, or units not yet
treated by ``max(t, base)``. The base period is ``g - 1`` for ``t >= g`` and ``t - 1``
before (R ``did``'s ``base_period="varying"``). With covariates (measured in the base period)
the comparison is made by outcome regression (``"reg"``), inverse probability weighting
(``"ipw"``, normalised weights) or the doubly robust combination (``"dr"``, Sant'Anna & Zhao
2020, the traditional DR estimator); without covariates all three equal the difference of
mean changes.

Every ATT carries its influence function (one row per unit), so standard errors are
clustered by unit; the aggregations (simple, group, calendar, event time) are linear in the
ATTs and the estimated cohort shares, and carry their influence functions too (including the
estimation of the weights, as R ``did``'s ``aggte``). A vectorised multiplier bootstrap gives
uniform bands.

References: Callaway, B. and Sant'Anna, P. H. C. (2021), "Difference-in-Differences with
multiple time periods", *Journal of Econometrics* 225(2), 200-230; R package ``did``.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from snr_models import progress
from snr_models.attribution.inference import (
    analytic_se,
    multiplier_bootstrap,
    pinv_normal,
    solve_normal,
    wald_test,
    z_value,
)
from snr_models.errors import SnrInputError

logger = logging.getLogger(__name__)

Method = Literal["reg", "ipw", "dr"]
Control = Literal["never", "notyet"]
Aggregation = Literal["simple", "group", "calendar", "event"]


@dataclass(frozen=True)
class _Panel:
    """A balanced panel as arrays: ``y`` is units x periods, ``g`` the cohort's period index
    (``-1`` for never treated), ``x`` covariates at each unit's rows (units x periods x k)."""

    y: np.ndarray
    g: np.ndarray
    x: np.ndarray | None
    periods: np.ndarray
    units: np.ndarray
    cluster: np.ndarray | None


def _balanced(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    group: str,
    covariates: list[str],
    cluster: str | None,
) -> _Panel:
    missing = [c for c in (outcome, unit, time, group, *covariates) if c not in data.columns]
    if cluster is not None and cluster not in data.columns:
        missing.append(cluster)
    if missing:
        raise SnrInputError(f"panel: missing column(s) {missing}")
    frame = data[[c for c in dict.fromkeys([unit, time, outcome, group, *covariates])]]
    if cluster is not None and cluster not in frame.columns:
        frame = frame.assign(**{cluster: data[cluster]})
    if frame[[outcome, *covariates]].isna().any().any():
        bad = frame.loc[frame[[outcome, *covariates]].isna().any(axis=1), [unit, time]].head(5)
        raise SnrInputError(
            f"panel: missing {outcome} or covariates (the estimator needs a balanced panel); "
            f"e.g. {bad.to_dict('records')}"
        )
    periods = np.sort(frame[time].unique())
    units, ucode = np.unique(frame[unit].to_numpy(), return_inverse=True)
    tcode = np.searchsorted(periods, frame[time].to_numpy())
    cell = ucode * len(periods) + tcode
    seen = np.bincount(cell, minlength=len(units) * len(periods))
    if (seen > 1).any():
        bad = frame.loc[seen[cell] > 1, [unit, time]].head(5)
        raise SnrInputError(
            f"panel: duplicated ({unit}, {time}) rows, e.g. {bad.to_dict('records')}"
        )
    if len(frame) != len(units) * len(periods):
        raise SnrInputError(
            f"panel: unbalanced ({len(frame)} rows for {len(units)} units x {len(periods)} "
            "periods); the Callaway-Sant'Anna estimator here needs every unit in every period"
        )
    y = np.full((len(units), len(periods)), np.nan)
    y[ucode, tcode] = frame[outcome].to_numpy(dtype=float)
    # the cohort of each unit: its one non-missing group value (all missing: never treated)
    gcode, gvalues = pd.factorize(frame[group])
    gm = np.empty((len(units), len(periods)), dtype=np.intp)
    gm[ucode, tcode] = gcode
    hi = gm.max(axis=1)
    lo = np.where(gm < 0, len(gvalues), gm).min(axis=1)
    if ((lo != hi) & (lo < len(gvalues))).any():
        raise SnrInputError(f"panel: {group} varies within a unit")
    gvalues = np.asarray(gvalues)
    if not len(gvalues):  # no unit is ever treated
        gvalues = np.array([np.nan])
    graw = gvalues[np.maximum(hi, 0)]
    if (hi < 0).any():
        missing_value = np.datetime64("NaT") if graw.dtype.kind == "M" else np.nan
        graw = np.where(hi >= 0, graw, missing_value)
    never = pd.isna(graw) | (graw == 0) if graw.dtype.kind != "M" else pd.isna(graw)
    g = np.full(len(units), -1)
    valid = ~never
    pos = np.searchsorted(periods, graw[valid])
    inside = pos < len(periods)
    exact = np.zeros(len(pos), dtype=bool)
    exact[inside] = periods[pos[inside]] == graw[valid][inside]
    if not np.all(exact | ~inside):
        raise SnrInputError(f"panel: a {group} value is not one of the {time} values")
    gi = np.where(inside, pos, -1)
    if (~inside).any():
        logger.info(
            "%d units treated after the last period count as never treated", (~inside).sum()
        )
    g[valid] = gi
    x = None
    if covariates:
        x = np.zeros((len(units), len(periods), len(covariates)))
        x[ucode, tcode, :] = frame[covariates].to_numpy(dtype=float)
    cl = None
    if cluster is not None and cluster != unit:
        cl_first = frame.groupby(ucode, sort=True)[cluster].agg(["first", "nunique"])
        if (cl_first["nunique"] > 1).any():
            raise SnrInputError(f"panel: cluster {cluster} varies within a unit")
        cl = cl_first["first"].to_numpy()
    return _Panel(y=y, g=g, x=x, periods=periods, units=units, cluster=cl)


def _cohort_no_covariates(
    y: np.ndarray,
    g: np.ndarray,
    gg: int,
    never: np.ndarray,
    control_group: str,
    periods: np.ndarray,
    rows: list[dict[str, Any]],
    cols: list[np.ndarray],
) -> None:
    """All ATT(gg, t) of one cohort at once (no covariates: difference of mean changes)."""
    n, n_t = y.shape
    ts = np.arange(1, n_t)
    bases = np.where(ts >= gg, gg - 1, ts - 1)
    dy = y[:, ts] - y[:, bases]
    treat = (g == gg).astype(float)
    if control_group == "never":
        ctrl = np.broadcast_to(never[:, None], dy.shape).astype(float)
    else:
        later = g[:, None] > np.maximum(ts, bases)[None, :]
        ctrl = (never[:, None] | (later & (g != gg)[:, None])).astype(float)
    n_c = ctrl.sum(axis=0)
    keep = n_c > 0
    n_tr = treat.sum()
    n_sub = n_tr + n_c
    mt = treat @ dy / n_tr
    mc = np.sum(ctrl * dy, axis=0) / np.where(keep, n_c, 1)
    pt = n_tr / n_sub
    pc = n_c / n_sub
    psi = (treat[:, None] * (dy - mt) / pt - ctrl * (dy - mc) / np.where(keep, pc, 1)) * (n / n_sub)
    for j in np.flatnonzero(keep):
        t = int(ts[j])
        rows.append(
            {
                "group": periods[gg],
                "time": periods[t],
                "event_time": t - gg,
                "estimate": float(mt[j] - mc[j]),
                "n_treated": int(n_tr),
                "n_control": int(n_c[j]),
                "_g": gg,
                "_t": t,
            }
        )
        cols.append(psi[:, j])


def _logit(x: np.ndarray, d: np.ndarray, max_iter: int = 50) -> np.ndarray:
    """Logit coefficients by Newton-Raphson (x includes an intercept)."""
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-(x @ beta)))
        w = p * (1 - p)
        hess = (x * w[:, None]).T @ x
        step = np.linalg.solve(hess + 1e-10 * np.eye(len(beta)), x.T @ (d - p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def separates(x: np.ndarray, d: np.ndarray) -> bool:
    """Whether a linear score of ``x`` separates ``d == 1`` from ``d == 0`` perfectly.

    Checked on the fitted logit's linear predictor: all treated on one side of all controls
    (complete separation; the propensity score is then 0 or 1 and the comparison has no
    overlap). ``x`` includes the intercept.
    """
    eta = x @ _logit(x, d)
    treated, controls = eta[d == 1], eta[d == 0]
    return bool(treated.min() > controls.max() or treated.max() < controls.min())


def _did_2x2(dy: np.ndarray, d: np.ndarray, x: np.ndarray | None, method: Method) -> tuple:
    """ATT and its influence function (length n of the subsample) for one 2x2 comparison.

    Formulas of R ``DRDID``'s ``reg_did_panel``, ``std_ipw_did_panel`` and ``drdid_panel``.
    """
    n = len(dy)
    if x is None:
        pt, pc = d.mean(), 1 - d.mean()
        mt, mc = dy[d == 1].mean(), dy[d == 0].mean()
        att = mt - mc
        psi = d * (dy - mt) / pt - (1 - d) * (dy - mc) / pc
        return att, psi
    xc = np.column_stack([np.ones(n), x])
    c = 1 - d
    if method in ("reg", "dr"):
        xtx = (xc * c[:, None]).T @ xc
        beta = solve_normal(xtx, (xc * c[:, None]).T @ dy)
        out = xc @ beta
        lin_ols = (c * (dy - out))[:, None] * xc @ pinv_normal(xtx / n)
    if method in ("ipw", "dr"):
        gamma = _logit(xc, d)
        ps = np.minimum(1 / (1 + np.exp(-(xc @ gamma))), 1 - 1e-6)
        hess = (xc * (ps * (1 - ps))[:, None]).T @ xc / n
        lin_ps = ((d - ps)[:, None] * xc) @ np.linalg.inv(hess)
    if method == "reg":
        wt = d
        eta_t = np.mean(wt * dy) / wt.mean()
        eta_c = np.mean(wt * out) / wt.mean()
        inf_t = (wt * dy - wt * eta_t) / wt.mean()
        m1 = np.mean(wt[:, None] * xc, axis=0)
        inf_c = (wt * out - wt * eta_c + lin_ols @ m1) / wt.mean()
        return eta_t - eta_c, inf_t - inf_c
    wt = d
    wc = ps * c / (1 - ps)
    if method == "ipw":
        eta_t = np.mean(wt * dy) / wt.mean()
        eta_c = np.mean(wc * dy) / wc.mean()
        inf_t = (wt * dy - wt * eta_t) / wt.mean()
        m2 = np.mean((wc * (dy - eta_c))[:, None] * xc, axis=0)
        inf_c = (wc * dy - wc * eta_c + lin_ps @ m2) / wc.mean()
        return eta_t - eta_c, inf_t - inf_c
    r = dy - out
    eta_t = np.mean(wt * r) / wt.mean()
    eta_c = np.mean(wc * r) / wc.mean()
    m1 = np.mean(wt[:, None] * xc, axis=0)
    inf_t = (wt * r - wt * eta_t - lin_ols @ m1) / wt.mean()
    m2 = np.mean((wc * (r - eta_c))[:, None] * xc, axis=0)
    m3 = np.mean(wc[:, None] * xc, axis=0)
    inf_c = (wc * r - wc * eta_c + lin_ps @ m2 - lin_ols @ m3) / wc.mean()
    return eta_t - eta_c, inf_t - inf_c


@dataclass(frozen=True)
class AggregatedATT:
    """An aggregation of group-time ATTs: an overall effect and, except for ``simple``, the
    effect per group, calendar period or event time, with standard errors and bands.

    Attributes
    ----------
    kind : {"simple", "group", "calendar", "event"}
    overall, overall_se : float
        The overall effect (for ``event`` the average over event times ``e >= 0``).
    table : DataFrame
        ``label, estimate, se, lo, hi, uniform_lo, uniform_hi`` per group / period / event time
        (empty for ``simple``); ``uniform_*`` is the uniform (simultaneous) band when the result
        was bootstrapped, else the pointwise interval.
    vcov : ndarray
        Covariance of ``table.estimate`` from the influence functions.
    """

    kind: str
    overall: float
    overall_se: float
    table: pd.DataFrame
    vcov: np.ndarray
    alpha: float
    outcome: str

    def pretrend_test(self) -> dict[str, float]:
        """Joint Wald test that every pre-treatment (``e < 0``) event-time effect is zero.

        Returns ``{"statistic", "df", "p_value"}``; only for ``kind="event"``.
        """
        if self.kind != "event":
            raise ValueError("the pre-trend test needs the event-time aggregation")
        pre = (self.table["label"] < 0).to_numpy()
        stat, df, p = wald_test(
            self.table.loc[pre, "estimate"].to_numpy(), self.vcov[np.ix_(pre, pre)]
        )
        return {"statistic": stat, "df": df, "p_value": p}

    def to_frame(self) -> pd.DataFrame:
        """The per-label table plus an ``overall`` row (label ``"overall"``)."""
        z = z_value(self.alpha)
        overall = pd.DataFrame(
            {
                "label": ["overall"],
                "estimate": [self.overall],
                "se": [self.overall_se],
                "lo": [self.overall - z * self.overall_se],
                "hi": [self.overall + z * self.overall_se],
            }
        )
        table = self.table.assign(label=self.table["label"].astype(object))
        return pd.concat([table, overall], ignore_index=True).assign(aggregation=self.kind)

    def summary(self) -> str:
        """A text table of the aggregation."""
        head = (
            f"Callaway-Sant'Anna ATT, {self.kind} aggregation, outcome {self.outcome}\n"
            f"overall: {self.overall:.4f} (s.e. {self.overall_se:.4f})\n"
        )
        if self.table.empty:
            return head
        return head + self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}")

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """Estimates with pointwise intervals and uniform bands per label (a Figure)."""
        from snr_models.attribution.plots import plot_coefficients

        return plot_coefficients(
            self.table,
            title=f"ATT by {self.kind} ({self.outcome})",
            xlabel={"event": "event time", "group": "cohort", "calendar": "period"}.get(
                self.kind, ""
            ),
            vline=-0.5 if self.kind == "event" else None,
            alpha=self.alpha,
        )


@dataclass(frozen=True)
class GroupTimeATT:
    """Group-time average treatment effects ``ATT(g, t)`` with their influence functions.

    Attributes
    ----------
    table : DataFrame
        ``group, time, event_time, estimate, se, lo, hi, uniform_lo, uniform_hi, n_treated,
        n_control`` per (cohort, period); ``group`` and ``time`` in the panel's own values.
    influence : ndarray, shape (n_units, n_att)
        Influence function of each ATT (columns in the order of ``table``).
    """

    table: pd.DataFrame
    influence: np.ndarray
    group_share: np.ndarray  # per unit, P(G = g_i) estimate for the aggregations
    unit_group: np.ndarray  # each unit's cohort index (-1 never)
    periods: np.ndarray
    cluster: np.ndarray | None
    outcome: str
    control_group: str
    method: str
    alpha: float
    n_boot: int
    random_state: int | None
    crit: float = field(default=float("nan"))

    @property
    def n_units(self) -> int:
        """Number of units (the clusters of the analytic standard errors)."""
        return self.influence.shape[0]

    def aggregate(self, kind: Aggregation = "simple", *, max_e: int | None = None) -> AggregatedATT:
        """Aggregate the ATT(g, t) as R ``did``'s ``aggte(type=kind)``.

        Parameters
        ----------
        kind : {"simple", "group", "calendar", "event"}
            ``simple``: the average over all post-treatment (g, t) weighted by cohort size;
            ``group``: per cohort (mean over its post periods), overall weighted by cohort
            size; ``calendar``: per period (over cohorts treated by then), overall their mean;
            ``event``: per event time ``e = t - g`` (over cohorts), overall the mean over
            ``e >= 0``.
        max_e : int, optional
            Ignore event times beyond ``max_e``.
        """
        tab = self.table
        gi = tab["_g"].to_numpy()
        ti = tab["_t"].to_numpy()
        e = ti - gi
        att = tab["estimate"].to_numpy()
        post = e >= 0
        if max_e is not None:
            post &= e <= max_e
        glist = np.unique(self.unit_group[self.unit_group >= 0])
        pg_g = np.array([np.mean(self.unit_group == g) for g in glist])
        pg = pg_g[np.searchsorted(glist, gi)]
        psi = self.influence

        def combine(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """(estimates, influence columns) of ``sum_k w_k att_k`` for each column of
            ``members`` (ATTs x labels), ``w_k = pg_k / sum pg`` over the label's ATTs: all
            labels in one product."""
            m = members.astype(float)
            w = pg[:, None] * m
            w /= w.sum(axis=0)
            return att @ w, psi @ w + self._wif(gi, pg, att, m)

        labels: list[Any] = []
        ests = np.zeros(0)
        infs = np.zeros((psi.shape[0], 0))
        if kind == "simple":
            est1, inf1 = combine(post[:, None])
            overall, inf = float(est1[0]), inf1[:, 0]
        elif kind == "group":
            cols = []
            for g in glist:
                keep = post & (gi == g)
                if keep.any():
                    idx = np.flatnonzero(keep)
                    labels.append(self.periods[g])
                    cols.append(idx)
            ests = np.array([att[idx].mean() for idx in cols])
            infs = np.column_stack([psi[:, idx].mean(axis=1) for idx in cols])
            have = np.array([post[gi == g].any() for g in glist])
            w = pg_g[have] / pg_g[have].sum()
            overall = float(ests @ w)
            ones = np.ones((int(have.sum()), 1))
            inf = infs @ w + self._wif(glist[have], pg_g[have], ests, ones)[:, 0]
        elif kind == "calendar":
            periods_t = np.unique(ti[post])
            ests, infs = combine(post[:, None] & (ti[:, None] == periods_t[None, :]))
            labels = [self.periods[t] for t in periods_t]
            overall = float(np.mean(ests))
            inf = infs.mean(axis=1)
        elif kind == "event":
            evs = np.unique(e if max_e is None else e[e <= max_e])
            ests, infs = combine(e[:, None] == evs[None, :])
            labels = [int(ev) for ev in evs]
            overall = float(np.mean(ests[evs >= 0]))
            inf = infs[:, evs >= 0].mean(axis=1)
        else:
            raise ValueError(f"unknown aggregation {kind!r}")
        n_labels = len(labels)
        inf_all = np.column_stack([infs, inf])  # per-label columns, then overall
        from snr_models.attribution.inference import cluster_psi

        inf_c = cluster_psi(inf_all, self.cluster)
        se_all = analytic_se(inf_c)
        n = inf_c.shape[0]
        vcov = inf_c[:, :-1].T @ inf_c[:, :-1] / n**2 if n_labels else np.zeros((0, 0))
        z = z_value(self.alpha)
        est_arr = np.asarray(ests, dtype=float)
        se = se_all[:-1]
        crit = z
        if self.n_boot and n_labels:
            boot = multiplier_bootstrap(
                inf_c[:, :-1], n_boot=self.n_boot, alpha=self.alpha, random_state=self.random_state
            )
            se = np.where(np.isfinite(boot.se), boot.se, se)
            crit = boot.crit if np.isfinite(boot.crit) else z
            boot_overall = multiplier_bootstrap(
                inf_c[:, -1:], n_boot=self.n_boot, alpha=self.alpha, random_state=self.random_state
            )
            overall_se = (
                float(boot_overall.se[0]) if np.isfinite(boot_overall.se[0]) else se_all[-1]
            )
        else:
            overall_se = float(se_all[-1])
        table = pd.DataFrame(
            {
                "label": labels,
                "estimate": est_arr,
                "se": se,
                "lo": est_arr - z * se,
                "hi": est_arr + z * se,
                "uniform_lo": est_arr - crit * se,
                "uniform_hi": est_arr + crit * se,
            }
        )
        return AggregatedATT(
            kind=kind,
            overall=float(overall),
            overall_se=float(overall_se),
            table=table,
            vcov=vcov,
            alpha=self.alpha,
            outcome=self.outcome,
        )

    def _wif(
        self, groups: np.ndarray, pg: np.ndarray, a: np.ndarray, members: np.ndarray
    ) -> np.ndarray:
        """Influence function of the estimated weights ``pg_k / sum(pg)`` over each label's
        ATTs (R ``did``'s ``wif``) times the ATTs ``a``: units x labels.

        R forms, per label, the units x ATTs matrix with columns ``1[G_i = g_k] - pg_k`` (over
        ``sum(pg)``, less the row sum times ``pg_k / sum(pg)^2``). Its product with ``a`` only
        needs, per cohort and label, the sum of ``a`` and the count of ATTs, which a unit picks
        by its cohort: the same numbers without the matrix.
        """
        levels, inv = np.unique(groups, return_inverse=True)
        by_cohort = np.zeros((len(groups), len(levels)))
        by_cohort[np.arange(len(groups)), inv] = 1.0
        a_sum = by_cohort.T @ (a[:, None] * members)  # cohorts x labels
        count = by_cohort.T @ members
        s, pa = pg @ members, (pg * a) @ members
        pos = np.minimum(np.searchsorted(levels, self.unit_group), len(levels) - 1)
        mine = (levels[pos] == self.unit_group)[:, None]
        ind_a = np.where(mine, a_sum[pos], 0.0) - pa
        ind_sum = np.where(mine, count[pos], 0.0) - s
        return ind_a / s - ind_sum * (pa / s**2)

    def to_frame(self) -> pd.DataFrame:
        """The ATT(g, t) table (without internal columns)."""
        return self.table.drop(columns=["_g", "_t"])

    def summary(self) -> str:
        """A text table of the ATT(g, t) and the overall (simple) ATT."""
        simple = self.aggregate("simple")
        return (
            f"Callaway-Sant'Anna group-time ATT, outcome {self.outcome}, "
            f"control: {self.control_group}, method: {self.method}, units: {self.n_units}\n"
            + self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4f}")
            + f"\nsimple ATT: {simple.overall:.4f} (s.e. {simple.overall_se:.4f})"
        )

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """The event-time aggregation with uniform bands (a Figure)."""
        return self.aggregate("event").plot()


def att_gt(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    group: str,
    covariates: list[str] | None = None,
    control_group: Control = "never",
    method: Method = "dr",
    cluster: str | None = None,
    alpha: float = 0.05,
    n_boot: int = 0,
    random_state: int | None = 0,
) -> GroupTimeATT:
    """Callaway & Sant'Anna group-time ATTs on a balanced panel.

    Parameters
    ----------
    data : DataFrame
        Long panel, one row per unit and period (not modified).
    outcome, unit, time : str
        Column names; ``time`` values are ordered (integers, or timestamps for months).
    group : str
        The period in which the unit is first treated, constant within unit; ``0`` or null
        for never-treated units. Units treated after the last period count as never treated.
    covariates : list of str, optional
        Covariates, taken in the base period of each comparison. With ``method`` "ipw" or
        "dr", a group-time cell whose propensity model separates treated from control units
        perfectly (no overlap: its standard error would be a spurious 0) is dropped, with a
        warning naming it, as R ``did`` does.
    control_group : {"never", "notyet"}
        Never-treated units only, or also units not yet treated by ``max(t, base)``.
    method : {"reg", "ipw", "dr"}
        Outcome regression, normalised inverse probability weighting, doubly robust.
    cluster : str, optional
        A column constant within unit to cluster on beyond the unit (e.g. a region).
    alpha : float
        ``1 - alpha`` intervals.
    n_boot : int
        Multiplier-bootstrap replicates for the uniform bands (0: pointwise normal intervals).
    random_state : int, optional
        Bootstrap seed.

    Returns
    -------
    GroupTimeATT

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> units = np.repeat(np.arange(200), 4); t = np.tile(np.arange(1, 5), 200)
    >>> g = np.repeat(rng.choice([0, 3], 200), 4)
    >>> y = rng.normal(scale=0.1, size=800) + np.where((g > 0) & (t >= g), 1.0, 0.0)
    >>> df = pd.DataFrame({"id": units, "t": t, "g": g, "y": y})
    >>> res = att_gt(df, outcome="y", unit="id", time="t", group="g")
    >>> round(res.aggregate("simple").overall, 1)
    1.0
    """
    covariates = list(covariates or [])
    if control_group not in ("never", "notyet"):
        raise SnrInputError(f"control_group must be 'never' or 'notyet', not {control_group!r}")
    if method not in ("reg", "ipw", "dr"):
        raise SnrInputError(f"method must be 'reg', 'ipw' or 'dr', not {method!r}")
    panel = _balanced(data, outcome, unit, time, group, covariates, cluster)
    return _att_gt_panel(panel, outcome, control_group, method, alpha, n_boot, random_state)


def _att_gt_panel(
    panel: _Panel,
    outcome: str,
    control_group: Control,
    method: Method,
    alpha: float,
    n_boot: int,
    random_state: int | None,
) -> GroupTimeATT:
    """:func:`att_gt` on a balanced panel already in arrays."""
    y, g = panel.y, panel.g
    n, n_t = y.shape
    first_treated = g == 0
    if first_treated.any():
        logger.warning(
            "%d units treated in the first period have no pre-period and are not used as a "
            "treated cohort (they are excluded from the controls too)",
            first_treated.sum(),
        )
    cohorts = np.unique(g[g > 0])
    if len(cohorts) == 0:
        raise SnrInputError("panel: no unit is treated after the first period")
    never = g < 0
    if control_group == "never" and not never.any():
        raise SnrInputError("panel: no never-treated unit; use control_group='notyet'")
    rows: list[dict[str, Any]] = []
    cols: list[np.ndarray] = []
    dropped: list[str] = []
    for gg in cohorts:
        treat = g == gg
        if panel.x is None:
            _cohort_no_covariates(y, g, gg, never, control_group, panel.periods, rows, cols)
            continue
        for t in range(1, n_t):
            base = gg - 1 if t >= gg else t - 1
            later = (g > max(t, base)) & (g != gg)
            ctrl = never if control_group == "never" else never | later
            if not ctrl.any():
                continue
            sub = treat | ctrl
            d = treat[sub].astype(float)
            dy = y[sub, t] - y[sub, base]
            x = panel.x[sub, base, :]
            if method != "reg" and separates(np.column_stack([np.ones(len(d)), x]), d):
                dropped.append(f"group {panel.periods[gg]} time {panel.periods[t]}")
                continue
            att, psi_sub = _did_2x2(dy, d, x, method)
            psi = np.zeros(n)
            psi[sub] = psi_sub * (n / sub.sum())
            rows.append(
                {
                    "group": panel.periods[gg],
                    "time": panel.periods[t],
                    "event_time": t - gg,
                    "estimate": att,
                    "n_treated": int(treat.sum()),
                    "n_control": int(ctrl.sum()),
                    "_g": gg,
                    "_t": t,
                }
            )
            cols.append(psi)
    if dropped:
        message = (
            f"the propensity model separates treated and control units perfectly (no "
            f"overlap) in {len(dropped)} group-time cell(s), dropped: {'; '.join(dropped)}"
        )
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=3)
    if not rows:
        raise SnrInputError("panel: no group-time cell left to estimate (" + message + ")")
    table = pd.DataFrame(rows)
    influence = np.column_stack(cols)
    from snr_models.attribution.inference import cluster_psi

    inf_c = cluster_psi(influence, panel.cluster)
    se = analytic_se(inf_c)
    z = z_value(alpha)
    crit = z
    if n_boot:
        boot = multiplier_bootstrap(inf_c, n_boot=n_boot, alpha=alpha, random_state=random_state)
        se = np.where(np.isfinite(boot.se), boot.se, se)
        crit = boot.crit if np.isfinite(boot.crit) else z
    est = table["estimate"].to_numpy()
    table = table.assign(
        se=se,
        lo=est - z * se,
        hi=est + z * se,
        uniform_lo=est - crit * se,
        uniform_hi=est + crit * se,
    )
    order = [
        "group",
        "time",
        "event_time",
        "estimate",
        "se",
        "lo",
        "hi",
        "uniform_lo",
        "uniform_hi",
    ]
    table = table[[*order, "n_treated", "n_control", "_g", "_t"]]
    return GroupTimeATT(
        table=table,
        influence=influence,
        group_share=(np.bincount(g + 2) / n)[g + 2],
        unit_group=np.where(g == 0, -2, g),
        periods=panel.periods,
        cluster=panel.cluster,
        outcome=outcome,
        control_group=control_group,
        method=method,
        alpha=alpha,
        n_boot=n_boot,
        random_state=random_state,
        crit=crit,
    )


def pretrend_permutation_test(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    group: str,
    control_group: Control = "notyet",
    n_perm: int = 199,
    random_state: int | None = 0,
) -> dict[str, float]:
    """Pre-trend test of the event study: the joint Wald statistic of the pre-period effects,
    its p-value from re-assigning the units' roll-out dates at random (randomisation inference).

    The chi-square reference of :meth:`AggregatedATT.pretrend_test` assumes the covariance of
    the ``k`` pre-period estimates is known; it is estimated from ``G`` units, and from only the
    few units of each cohort for the treated side, so with ``k`` close to ``G`` (a 36-month panel
    of 30 branches has up to 23 pre-period event times) it is near singular and the statistic
    is inflated: on simulated worlds with parallel trends by construction (a placebo roll-out to
    random branches) the chi-square test rejected in every world at the 5% level. Here the same
    statistic is compared with its distribution over ``n_perm`` random permutations of
    ``group`` across units, which is exact when the roll-out dates were assigned at random (and
    a calibrated approximation of the null distribution otherwise).

    Parameters
    ----------
    data, outcome, unit, time, group, control_group
        As :func:`att_gt` (no covariates).
    n_perm : int
        Permutations.
    random_state : int, optional
        Seed.

    Returns
    -------
    dict
        ``statistic`` and ``df`` (the Wald test of :meth:`AggregatedATT.pretrend_test`),
        ``p_value`` (permutation, ``(1 + #{stat* >= stat}) / (1 + n_valid)``),
        ``p_value_chi2`` (the asymptotic reference) and ``n_perm`` (valid permutations).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> units = np.repeat(np.arange(30), 8); t = np.tile(np.arange(1, 9), 30)
    >>> g = np.repeat(rng.choice([0, 4, 6], 30), 8)
    >>> y = rng.normal(size=240) + np.repeat(rng.normal(size=30), 8)
    >>> df = pd.DataFrame({"id": units, "t": t, "g": g, "y": y})
    >>> res = pretrend_permutation_test(df, outcome="y", unit="id", time="t", group="g", n_perm=49)
    >>> res["df"], 0 < res["p_value"] <= 1, res["n_perm"]
    (4, True, 49)
    """

    panel = _balanced(data, outcome, unit, time, group, [], None)

    def statistic(g: np.ndarray) -> tuple[float, int, float]:
        res = _att_gt_panel(
            dataclasses.replace(panel, g=g), outcome, control_group, "dr", 0.05, 0, None
        )
        test = res.aggregate("event").pretrend_test()
        return test["statistic"], test["df"], test["p_value"]

    stat, df, p_chi2 = statistic(panel.g)
    if not np.isfinite(stat):
        return {"statistic": stat, "df": df, "p_value": np.nan, "p_value_chi2": p_chi2, "n_perm": 0}
    rng = np.random.default_rng(random_state)
    exceed, valid = 0, 0
    for _ in progress.track(range(n_perm), "permutations"):
        try:
            s, d, _ = statistic(rng.permutation(panel.g))
        except SnrInputError:
            continue
        if d != df or not np.isfinite(s):
            continue  # a permutation without the same pre-periods is not comparable
        valid += 1
        exceed += s >= stat
    p = (1 + exceed) / (1 + valid) if valid else np.nan
    return {"statistic": stat, "df": df, "p_value": p, "p_value_chi2": p_chi2, "n_perm": valid}
