"""Several overlapping roll-outs estimated jointly: a saturated, heterogeneity-robust DiD.

For each component ``Y`` in S, R, E and the net rate, one regression on the branch x month
panel::

    Y_bt = a_b + l_t + sum_k sum_(g, e) tau_k(g, e) 1{branch b in cohort g of k, t - g = e} + u_bt

Every treated (cohort, event-time) cell of every intervention has its own coefficient
(Wooldridge's extended TWFE / Sun & Abraham's interacted estimator, extended to several
treatments), so the estimate is not contaminated by "forbidden comparisons" of already-treated
units, effects may vary by cohort and with time since roll-out, and each intervention is
estimated holding the others fixed (effects assumed additive across interventions). The
controls are the not-yet- and never-treated branch-months of each intervention.

The effect of an intervention is the average of its cell coefficients over its treated
branch-months (the definition of the simulator's truth); the standard error is branch
(cluster) robust, Bell-McCaffrey CR2 (:func:`snr_models.attribution.inference.cluster_rows`),
and intervals use the t distribution with Bell and McCaffrey's degrees of freedom
(:class:`~snr_models.attribution.inference.ClusterCR2`). CR1 is biased down here: each cohort's
cells are fitted by its few branches, whose residuals the fit shrinks; CR2 undoes that
shrinkage, the jackknife CR3 over-corrects. The degrees of freedom matter when an effect rests
on few branches: the simulator's staff training reaches 27 of 30 branches, so its late cells are
compared with 3 never-trained branches; its effect on E has about 6 degrees of freedom, and
``t(29)`` intervals covered the truth in 86% of 100 worlds where ``t(6)`` ones cover it in 94%
(``benchmarks/attribution_coverage.py``, README). Over those worlds the mean CR2 standard error
was 0.79-1.15 times the spread of the estimates around the truth (median 0.97); the
jackknife's (the default before) was 1.09-1.83 times, its intervals covering the truth in up to
100% of worlds.

A firm-wide roll-out is collinear with the month effects and is identified only through its
branch pilot: the pilot cells are estimated, and the firm-wide months take the pilot's average
effect scaled by the ratio of intensities (an explicit, reported assumption; method
``did_pilot_scaled``). An intervention with no pilot is not identified here (see
:mod:`snr_models.attribution.structural` for a time-series counterfactual).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from snr_models.attribution.inference import imbens_manski_value, solve_normal, t_value
from snr_models.attribution.regression import OLSFit, fe_ols, fe_ols_linear
from snr_models.errors import SnrInputError
from snr_models.metrics.panel import COMPONENTS, BranchPanel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Design:
    """Cell regressors and, per intervention, each treated branch-month's cell and scale."""

    regressors: pd.DataFrame
    cell_of: dict[str, pd.DataFrame]  # per intervention: branch_id, period, cell, scale
    method: dict[str, str]


def _cells(
    name: str,
    period: np.ndarray,
    dose: np.ndarray,
    first: np.ndarray,
    firm: pd.Timestamp | None,
    branch_id: np.ndarray,
    period_ts: np.ndarray,
) -> tuple[dict[str, np.ndarray], pd.DataFrame, str]:
    """One intervention's cell regressors, its treated branch-months' cells and its method.

    ``period`` and ``first`` are ``datetime64[M]`` arrays, ``dose`` the intensity per row.
    """
    firm_m = np.datetime64(firm, "M") if firm is not None else None
    branch_level = dose > 0
    if firm_m is not None:
        branch_level &= period < firm_m
    # cohort of the branch-level roll-out; event time from it
    e = (period - first).astype(int)
    gkey = np.where(branch_level, first.astype(str), "")
    cell = np.where(
        branch_level,
        np.char.add(np.char.add(f"{name}|", gkey), np.char.add("|", e.astype(str))),
        "",
    )
    names = list(pd.unique(cell[branch_level]))
    cols = {c: (cell == c).astype(float) for c in names}
    treated = dose > 0
    scale = np.ones(len(dose))
    if firm_m is not None:
        method = "did_pilot_scaled" if names else "not_identified"
        firm_rows = treated & (period >= firm_m)
        pilot_int = dose[branch_level].mean() if names else np.nan
        scale = np.where(firm_rows, dose / pilot_int, 1.0)
        cell = np.where(firm_rows, f"{name}|pilot_mean", cell)
    else:
        method = "did_joint"
    cell_of = pd.DataFrame(
        {
            "branch_id": branch_id[treated],
            "period": period_ts[treated],
            "cell": cell[treated],
            "scale": scale[treated],
            "dose": dose[treated],
        }
    )
    return cols, cell_of, method


def _design(panel: BranchPanel, interventions: tuple[str, ...]) -> _Design:
    frame = panel.frame
    period_ts = frame["period"].to_numpy()
    period = period_ts.astype("datetime64[M]")
    branch_id = frame["branch_id"].to_numpy()
    cols: dict[str, np.ndarray] = {}
    cell_of: dict[str, pd.DataFrame] = {}
    method: dict[str, str] = {}
    for name in interventions:
        c, cell_of[name], method[name] = _cells(
            name,
            period,
            frame[name].to_numpy(),
            frame[f"{name}__first"].to_numpy().astype("datetime64[M]"),
            panel.firm_start.get(name),
            branch_id,
            period_ts,
        )
        cols.update(c)
    regs = pd.DataFrame(cols, index=frame.index)
    return _Design(regressors=regs, cell_of=cell_of, method=method)


def _cell_weights(
    cells: pd.DataFrame, name: str, regressors: pd.Index, rows: pd.DataFrame | None = None
) -> pd.Series:
    """Weights on the cell coefficients giving the mean effect of ``name`` over ``rows`` (see
    :meth:`JointEffects.cell_weights`); ``cells`` is the design's ``cell_of[name]``."""
    all_cells = cells
    if rows is not None:
        cells = cells.merge(rows, on=["branch_id", "period"], how="inner")
        w = cells["weight"].to_numpy()
    else:
        w = np.full(len(cells), 1.0 / max(len(cells), 1))
    pilot_label = f"{name}|pilot_mean"
    has_pilot = any(str(c).startswith(f"{name}|") for c in regressors)
    cell = cells["cell"].to_numpy()
    scale = cells["scale"].to_numpy()
    on_firm = cell == pilot_label
    out = pd.Series(w * scale, dtype=float)[~on_firm].groupby(cell[~on_firm], sort=False).sum()
    firm_w = float(np.sum(w[on_firm] * scale[on_firm]))
    if firm_w and has_pilot:
        base = all_cells.loc[all_cells["cell"] != pilot_label, "cell"]
        share = base.value_counts(normalize=True, sort=False)
        out = out.add(firm_w * share, fill_value=0.0)
    return out.astype(float)


@dataclass(frozen=True)
class LinearEffect:
    """A linear combination of regression coefficients and its inference."""

    estimate: float
    se: float
    df: float  # of the t interval
    influence: pd.Series  # per branch: the squares sum to se**2
    # the identified set, ``[estimate + lower, estimate + upper]`` (lower <= 0 <= upper), when
    # the quantity is only partially identified (see OverlapEffects.infer); 0, 0 otherwise
    lower: float = 0.0
    upper: float = 0.0

    def half_width(self, alpha: float) -> float:
        """Half the ``1 - alpha`` t interval (NaN when the standard error is unknown); for a
        partially identified quantity, how far the interval reaches beyond its identified set
        (Imbens & Manski 2004)."""
        width = self.upper - self.lower
        return imbens_manski_value(alpha, self.df, width, self.se) * self.se

    def interval(self, alpha: float, sign: float = 1.0) -> tuple[float, float]:
        """The ``1 - alpha`` interval of the estimate (``sign`` -1: of minus the estimate): a
        t interval, or Imbens and Manski's around the identified set."""
        half = self.half_width(alpha)
        lo, hi = self.bounds(sign)
        return lo - half, hi + half

    def bounds(self, sign: float = 1.0) -> tuple[float, float]:
        """The identified set of the estimate (``sign`` -1: of minus the estimate); a point
        when the quantity is identified."""
        lo, hi = sorted((sign * self.lower, sign * self.upper))
        return sign * self.estimate + lo, sign * self.estimate + hi


@dataclass(frozen=True)
class JointEffects:
    """Effects of every intervention on every component, estimated jointly.

    Attributes
    ----------
    table : DataFrame
        ``intervention, component, estimate, se, lo, hi, method, n_treated_cells``.
    fits : dict
        The regression of each component (:class:`~snr_models.attribution.regression.OLSFit`).
    """

    table: pd.DataFrame
    fits: dict[str, OLSFit]
    design: _Design = field(repr=False)
    panel: BranchPanel = field(repr=False)
    alpha: float = 0.05
    weighting: str = "branch_month"

    def serves(self, component: str, alpha: float) -> bool:
        """Whether this is the branch-month-weighted fit of ``component`` at ``alpha`` that the
        plan and the segment effects would fit on the same tables (so they reuse it)."""
        return self.weighting == "branch_month" and self.alpha == alpha and component in self.fits

    def cell_weights(self, name: str, rows: pd.DataFrame | None = None) -> pd.Series:
        """Weights on the regression coefficients giving the mean effect of ``name`` over
        ``rows`` (``branch_id, period, weight``; default: all its treated branch-months,
        equally weighted)."""
        return _cell_weights(self.design.cell_of[name], name, self.design.regressors.columns, rows)

    def effect_weights(
        self, name: str, component: str, rows: pd.DataFrame | None = None
    ) -> dict[str, pd.Series]:
        """``name``'s mean effect on ``component`` over ``rows`` as weights on each fit's
        coefficients (:meth:`infer` gives its estimate and interval).

        Without a fit of the net rate (client weighting), its effect is the weighted sum of the
        components' (the net rate is linear in S, R, E).
        """
        w = self.cell_weights(name, rows)
        if component not in self.fits and component == "net_rate":
            return {c: wc * w for c, wc in self.panel.weights.items()}
        return {component: w}

    def infer(self, weights: dict[str, pd.Series]) -> LinearEffect:
        """Estimate, branch-clustered standard error, degrees of freedom and per-branch influence
        of ``sum_k weights[k] @ fits[k].params`` (see :meth:`effect_weights`).

        The degrees of freedom are Bell and McCaffrey's
        (:meth:`~snr_models.attribution.regression.OLSFit.dof`); across fits, the smallest of
        the parts' (their errors are correlated through the branches; Welch-Satterthwaite,
        which assumes independent parts, gave about twice as many).
        """
        est, inf, dfs = 0.0, None, []
        for comp, w in weights.items():
            fit = self.fits[comp]
            est += fit.linear(w)[0]
            i_c = fit.linear_influence(w)
            inf = i_c if inf is None else inf.add(i_c, fill_value=0.0)
            dfs.append(fit.dof(w))
        se = float(np.sqrt(np.sum(inf.to_numpy() ** 2)))
        df = float(np.nanmin(dfs)) if np.isfinite(dfs).any() else float("nan")
        return LinearEffect(estimate=est, se=se, df=df, influence=inf)

    def to_frame(self) -> pd.DataFrame:
        """The effects table."""
        return self.table.copy()

    def summary(self) -> str:
        """Text table of the effects."""
        return "Joint DiD effects (branch-clustered)\n" + self.table.to_string(
            index=False, float_format=lambda v: f"{v:.4f}"
        )

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """Effect on each component per intervention with intervals (a Figure)."""
        from snr_models.figures import new_figure

        tab = self.table
        comps = list(dict.fromkeys(tab["component"]))
        fig = new_figure(figsize=(3.2 * len(comps), 3.8))
        axes = fig.subplots(1, len(comps), sharey=True, squeeze=False)[0]
        for ax, comp in zip(axes, comps, strict=True):
            sub = tab[tab["component"] == comp]
            y = np.arange(len(sub))
            ax.errorbar(
                sub["estimate"],
                y,
                xerr=[sub["estimate"] - sub["lo"], sub["hi"] - sub["estimate"]],
                fmt="o",
                capsize=3,
            )
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_yticks(y, sub["intervention"])
            ax.set_title(comp)
        fig.tight_layout()
        return fig

    def event_time(self, name: str, component: str = "net_rate") -> pd.DataFrame:
        """Effect by event time (mean of cohorts' cells at each ``e``), with t intervals
        (Bell-McCaffrey degrees of freedom)."""
        cells = [c for c in self.design.regressors.columns if c.startswith(f"{name}|")]
        if not cells:
            return pd.DataFrame(columns=["label", "estimate", "se", "lo", "hi", "df"])
        ev = pd.Series([int(c.rsplit("|", 1)[1]) for c in cells], index=cells)
        n = self.design.regressors[cells].sum()
        rows = []
        for e in sorted(ev.unique()):
            members = ev.index[ev == e]
            res = self.infer({component: n[members] / n[members].sum()})
            lo, hi = res.interval(self.alpha)
            rows.append(
                {
                    "label": e,
                    "estimate": res.estimate,
                    "se": res.se,
                    "lo": lo,
                    "hi": hi,
                    "df": res.df,
                }
            )
        return pd.DataFrame(rows)


def estimate_joint(
    panel: BranchPanel,
    *,
    interventions: tuple[str, ...] | None = None,
    components: tuple[str, ...] = COMPONENTS,
    alpha: float = 0.05,
    min_treated_branches: int = 8,
    n_placebo: int = 20,
    random_state: int | None = 0,
    weighting: str = "branch_month",
    se: str = "CR2",
    report: tuple[str, ...] | None = None,
) -> JointEffects:
    """Estimate every intervention's effect on every component jointly (see module doc).

    Standard errors are branch-clustered CR2 and intervals t with Bell-McCaffrey degrees of
    freedom (column ``df``; see the module doc). Cluster-robust errors are still too small when
    few clusters are treated (Conley & Taber 2011): for an intervention reaching fewer than
    ``min_treated_branches`` branches at branch level (typically a pilot), the standard error is
    the larger of the cluster-robust one and the standard deviation of ``n_placebo`` placebo
    estimates, each with the intervention's branch assignment permuted across branches (method
    suffix ``+placebo_se``; the interval then has ``n_placebo - 1`` degrees of freedom).

    ``weighting="client"`` is client-level estimation: every survey response, client-month
    and ticket counts once (each component's regression is weighted by its denominator, which
    for regressors constant within branch-month gives exactly the client-level least squares
    and the same branch-clustered scores), so small branches do not make the estimates noisy;
    the net rate's effect is then the weighted sum of the components'. The default weights
    branch-months equally (the simulator's truth averages branch-months).

    Parameters
    ----------
    panel : BranchPanel
        From :func:`~snr_models.metrics.panel.build_panel`.
    interventions : tuple of str, optional
        Default: all in the panel.
    components : tuple of str
        Outcome columns.
    alpha : float
        ``1 - alpha`` intervals.
    se : {"CR2", "CR3", "CR1"}
        Branch-clustered covariance: Bell-McCaffrey (default), the jackknife, or the
        sandwich with ``fixest``'s small-sample factor (see the module doc for the choice).
    report : tuple of str, optional
        The interventions whose effects go into the table (default: all of ``interventions``);
        the others stay in the regression, only their effects (and placebo spreads) are not
        computed (a fast path for :mod:`snr_models.plan.rollout`).

    Raises
    ------
    SnrInputError
        When an identified effect has no standard error: its regression has no residual degrees
        of freedom (as many parameters as branch-months, typical of a few branches and months)
        and no placebo standard error is available.

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> from snr_models.metrics.panel import build_panel
    >>> tables = simulate(n_clients=2_000, n_branches=10, n_months=12, seed=2, truth=False).tables
    >>> res = estimate_joint(build_panel(tables), components=("net_rate",))
    >>> sorted(res.table["intervention"])[:2]
    ['ai_assistant', 'process_reengineering']
    """
    if weighting not in ("branch_month", "client"):
        raise ValueError(f"weighting must be 'branch_month' or 'client', not {weighting!r}")
    names = tuple(interventions or panel.interventions)
    design = _design(panel, names)
    with _one_blas_thread():
        fits = _fit_all(panel, design, components, weighting, vcov=True, se=se)
    rows = []
    result = JointEffects(
        table=pd.DataFrame(),
        fits=fits,
        design=design,
        panel=panel,
        alpha=alpha,
        weighting=weighting,
    )
    rng = np.random.default_rng(random_state)
    for name in names if report is None else [n for n in names if n in report]:
        placebo_sd = None
        n_treated = _n_branch_level_treated(panel, name)
        if 0 < n_treated < min_treated_branches and n_placebo > 1:
            placebo_sd = _placebo_sd(panel, design, name, components, n_placebo, rng, weighting)
            design.method[name] += "+placebo_se"
        for comp in components:
            if design.method[name] == "not_identified":
                res = LinearEffect(np.nan, np.nan, np.nan, pd.Series(dtype=float))
            else:
                res = result.infer(result.effect_weights(name, comp))
                se = res.se if np.isfinite(res.se) else 0.0
                if placebo_sd is not None and placebo_sd[comp] > se:
                    # the permutation spread, from n_placebo draws; without residual degrees
                    # of freedom it is the only one
                    res = replace(res, se=placebo_sd[comp], df=n_placebo - 1)
                if not np.isfinite(res.se) and np.isfinite(res.estimate):
                    raise SnrInputError(_no_se_message(name, comp, fits))
            lo, hi = res.interval(alpha)
            rows.append(
                {
                    "intervention": name,
                    "component": comp,
                    "estimate": res.estimate,
                    "se": res.se,
                    "lo": lo,
                    "hi": hi,
                    "df": res.df,
                    "method": design.method[name],
                    "n_treated_cells": len(design.cell_of[name]),
                }
            )
    return JointEffects(
        table=pd.DataFrame(rows),
        fits=fits,
        design=design,
        panel=panel,
        alpha=alpha,
        weighting=weighting,
    )


def effect_for_outcomes(
    result: JointEffects, name: str, component: str, outcomes: np.ndarray
) -> pd.DataFrame:
    """``name``'s effect on ``component`` as :func:`estimate_joint` (``result``'s) gives it, for
    each column of ``outcomes`` (the panel's rows x outcomes, missing on the same rows) in
    place of the panel's ``component``: ``estimate, se, df, lo, hi, method`` per column.

    The regression's design is ``result``'s, so its factorisation, CR2 basis and degrees of
    freedom are computed once for all the columns
    (:func:`~snr_models.attribution.regression.fe_ols_linear`; a fast path for
    :mod:`snr_models.plan.rollout`). Branch-month weighting and CR2 errors only, and not
    for an effect on the placebo spread (it permutes per outcome: use :func:`estimate_joint`).
    """
    method = result.design.method[name]
    fit = result.fits.get(component)
    if result.weighting != "branch_month" or fit is None or fit.cr2 is None:
        raise ValueError("effect_for_outcomes: branch-month weighting and CR2 errors only")
    if "+placebo_se" in method:
        raise ValueError(f"effect_for_outcomes: {name}'s standard error is a placebo spread")
    frame = result.panel.frame
    data = pd.concat([frame[["branch_id", "period"]], result.design.regressors], axis=1)
    with _one_blas_thread():
        est, influence, df = fe_ols_linear(
            fit,
            data,
            outcomes,
            list(result.design.regressors.columns),
            result.cell_weights(name),
            fixed_effects=["branch_id", "period"],
            cluster="branch_id",
        )
    se = np.sqrt(np.sum(influence**2, axis=0))
    half = t_value(result.alpha, df) * se
    return pd.DataFrame(
        {"estimate": est, "se": se, "df": df, "lo": est - half, "hi": est + half}
        | {"method": method}
    )


def _no_se_message(name: str, component: str, fits: dict[str, OLSFit]) -> str:
    """Why ``name``'s effect on ``component`` has no standard error, for the error raised."""
    fit = fits.get(component) or next(iter(fits.values()))
    n_par = int(fit.params.notna().sum())
    return (
        f"attribution: no standard error for {name}'s effect on {component}: the regression on "
        f"{fit.n_obs} branch-months of {fit.n_clusters} branches has {n_par} effect cells plus "
        "the branch and month effects, leaving no residual degrees of freedom (and no placebo "
        "spread: the intervention reaches too many branches to permute); use more branches or "
        "months, or fewer interventions"
    )


def _fit_all(
    panel: BranchPanel,
    design: _Design,
    components: tuple[str, ...],
    weighting: str,
    *,
    vcov: bool,
    se: str = "CR2",
) -> dict[str, OLSFit]:
    """One regression per component (client weighting: S, R, E weighted by denominators)."""
    from snr_models.metrics.panel import DENOMINATORS

    frame = panel.frame
    dens = list(DENOMINATORS.values())
    data = pd.concat(
        [frame[["branch_id", "period", *COMPONENTS, *dens]], design.regressors], axis=1
    )
    regs = list(design.regressors.columns)
    fits = {}
    for comp in components:
        if weighting == "client":
            if comp == "net_rate":
                continue  # a combination of the components
            w = DENOMINATORS[comp]
            sub = data[data[w] > 0]
        else:
            w, sub = None, data
        fits[comp] = fe_ols(
            sub,
            comp,
            regs,
            fixed_effects=["branch_id", "period"],
            cluster="branch_id",
            weights=w,
            vcov=vcov,
            se=se,
        )
    return fits


def _n_branch_level_treated(panel: BranchPanel, name: str) -> int:
    frame = panel.frame
    on = frame[name] > 0
    firm = panel.firm_start.get(name)
    if firm is not None:
        on &= frame["period"] < firm
    return int(frame.loc[on, "branch_id"].nunique())


def _permuted_cells(
    panel: BranchPanel, name: str, n_placebo: int, rng: np.random.Generator
) -> Iterator[tuple[list[str], np.ndarray, pd.DataFrame]]:
    """``name``'s cell labels, cell columns (rows x labels) and cells (as :func:`_cells`) with
    its timing moved to a random permutation of the branches, ``n_placebo`` times."""
    frame = panel.frame
    branches = np.sort(frame["branch_id"].unique())
    n_b = len(branches)
    n_t = len(frame) // n_b
    # build_panel's frame is the full branch x period product sorted by branch then period:
    # a permutation of branches is a permutation of row blocks
    block = frame["branch_id"].to_numpy().reshape(n_b, n_t)
    if len(frame) != n_b * n_t or not (block == branches[:, None]).all():
        raise ValueError("placebo: the panel must be the full branch x period product")
    dose = frame[name].to_numpy(dtype=float).reshape(n_b, n_t)
    first = frame[f"{name}__first"].to_numpy().astype("datetime64[M]").reshape(n_b, n_t)
    period_ts = frame["period"].to_numpy()
    period = period_ts.astype("datetime64[M]")
    branch_id = frame["branch_id"].to_numpy()
    firm = panel.firm_start.get(name)
    for _ in range(n_placebo):
        perm = np.searchsorted(branches, rng.permutation(branches))
        cols, cell_of, _ = _cells(
            name, period, dose[perm].ravel(), first[perm].ravel(), firm, branch_id, period_ts
        )
        labels = list(cols)
        xn = np.column_stack([cols[c] for c in labels]) if labels else np.zeros((len(frame), 0))
        yield labels, xn, cell_of


def _placebo_sd(
    panel: BranchPanel,
    design: _Design,
    name: str,
    components: tuple[str, ...],
    n_placebo: int,
    rng: np.random.Generator,
    weighting: str = "branch_month",
) -> dict[str, float]:
    """Standard deviation of ``name``'s effect over random permutations of its branches.

    Each draw is the joint regression of :func:`_fit_all` with ``name``'s timing moved to other
    branches. Only ``name``'s cell columns change between draws, so the other interventions'
    columns and the outcome are demeaned once and their cross-products reused; each draw
    demeans its own few columns and solves the normal equations assembled from the blocks
    (the solution of ``fe_ols(..., vcov=False)`` on the same data).
    """
    others = [c for c in design.regressors.columns if not str(c).startswith(f"{name}|")]
    blocks = [_FixedBlock(panel, design.regressors[others], comp, weighting) for comp in components]
    blocks = [b for b in blocks if b.usable]
    draws: dict[str, list[float]] = {c: [] for c in components}
    with _one_blas_thread():
        for labels, xn, cell_of in _permuted_cells(panel, name, n_placebo, rng):
            w = _cell_weights(cell_of, name, pd.Index(labels)).reindex(labels).fillna(0.0)
            est = {b.component: b.effect(xn, w.to_numpy()) for b in blocks}
            if "net_rate" not in est:
                est["net_rate"] = sum(panel.weights[c] * est[c] for c in panel.weights)
            for c in components:
                draws[c].append(est[c])
    return {c: float(np.nanstd(v, ddof=1)) for c, v in draws.items()}


class _FixedBlock:
    """One component's regression with the columns that stay fixed across placebo draws."""

    def __init__(
        self, panel: BranchPanel, fixed: pd.DataFrame, component: str, weighting: str
    ) -> None:
        from snr_models.attribution.regression import _codes, demeaner
        from snr_models.metrics.panel import DENOMINATORS

        frame = panel.frame
        self.component = component
        self.usable = not (weighting == "client" and component == "net_rate")
        if not self.usable:
            return  # the net rate is a combination of the components
        y = frame[component].to_numpy(dtype=float)
        keep = np.isfinite(y)
        w = None
        if weighting == "client":
            wcol = frame[DENOMINATORS[component]].to_numpy(dtype=float)
            keep &= wcol > 0
            w = wcol[keep]
        self.keep = keep
        self.w = w
        self.sw = np.ones(int(keep.sum())) if w is None else w
        self.fes = [_codes(frame.loc[keep, f]) for f in ("branch_id", "period")]
        self._demean = demeaner(self.fes, w)
        x = fixed.to_numpy(dtype=float)[keep]
        yx = self._demean(np.column_stack([y[keep], x]))
        self.yd = yx[:, 0]
        xd = yx[:, 1:]
        ok = _usable_columns(x, xd, self.sw)
        self.fixed_ok = ok
        self.xo = xd[:, ok]
        xo_w = self.xo * self.sw[:, None]
        self.xo_w = xo_w
        self.a = xo_w.T @ self.xo
        self.ro = xo_w.T @ self.yd

    def coefficients(self, xn_all: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The fixed and the new columns' coefficients in the regression on both (unusable
        ones 0, as ``fe_ols``'s NaN filled with 0)."""
        xn = xn_all[self.keep]
        xnd = self._demean(xn) if xn.shape[1] else xn
        ok = _usable_columns(xn, xnd, self.sw)
        xnd = xnd[:, ok]
        xn_w = xnd * self.sw[:, None]
        b = self.xo_w.T @ xnd
        xtwx = np.block([[self.a, b], [b.T, xn_w.T @ xnd]])
        rhs = np.concatenate([self.ro, xn_w.T @ self.yd])
        beta = solve_normal(xtwx, rhs)  # the rule of fe_ols(..., vcov=False)
        fixed = np.zeros(len(self.fixed_ok))
        fixed[self.fixed_ok] = beta[: self.a.shape[0]]
        out = np.zeros(xn_all.shape[1])
        out[ok] = beta[self.a.shape[0] :]
        return fixed, out

    def effect(self, xn_all: np.ndarray, weights: np.ndarray) -> float:
        """``weights @ beta_new`` of the regression on the fixed and the new columns."""
        return float(weights @ self.coefficients(xn_all)[1])


def _usable_columns(x: np.ndarray, xd: np.ndarray, sw: np.ndarray) -> np.ndarray:
    """Columns not collinear with the fixed effects (the rule of ``fe_ols``)."""
    scale = np.sqrt(np.maximum(np.sum(xd**2 * sw[:, None], axis=0), 1e-300))
    raw_scale = np.sqrt(np.sum(x**2 * sw[:, None], axis=0)) + 1e-300
    return scale / raw_scale > 1e-8


def _one_blas_thread():  # noqa: ANN202 - a context manager
    """The panel's matrices are small (hundreds of columns): one BLAS thread solves them
    fastest, and several contend for the cores on a busy machine (measured: a 250 x 250
    pseudo-inverse 4x slower on two threads while other work ran)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
