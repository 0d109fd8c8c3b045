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
branch-months (the definition of the simulator's truth); the standard error is clustered by
branch (CR1) and intervals use the t distribution with ``G - 1`` degrees of freedom.

A firm-wide roll-out is collinear with the month effects and is identified only through its
branch pilot: the pilot cells are estimated, and the firm-wide months take the pilot's average
effect scaled by the ratio of intensities (an explicit, reported assumption; method
``did_pilot_scaled``). An intervention with no pilot is not identified here (see
:mod:`snr_models.attribution.structural` for a time-series counterfactual).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from snr_models.attribution.inference import z_value
from snr_models.attribution.panel import COMPONENTS, BranchPanel
from snr_models.attribution.regression import OLSFit, fe_ols

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Design:
    """Cell regressors and, per intervention, each treated branch-month's cell and scale."""

    regressors: pd.DataFrame
    cell_of: dict[str, pd.DataFrame]  # per intervention: branch_id, period, cell, scale
    method: dict[str, str]


def _design(panel: BranchPanel, interventions: tuple[str, ...]) -> _Design:
    frame = panel.frame
    period = frame["period"].to_numpy().astype("datetime64[M]")
    cols: dict[str, np.ndarray] = {}
    cell_of: dict[str, pd.DataFrame] = {}
    method: dict[str, str] = {}
    for name in interventions:
        dose = frame[name].to_numpy()
        first = frame[f"{name}__first"].to_numpy().astype("datetime64[M]")
        firm = panel.firm_start.get(name)
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
        names = [c for c in pd.unique(cell[branch_level])]
        for c in names:
            cols[c] = (cell == c).astype(float)
        treated = dose > 0
        scale = np.ones(len(frame))
        if firm_m is not None:
            method[name] = "did_pilot_scaled" if names else "not_identified"
            firm_rows = treated & (period >= firm_m)
            pilot_int = frame.loc[branch_level, name].mean() if names else np.nan
            scale = np.where(firm_rows, dose / pilot_int, 1.0)
            cell = np.where(firm_rows, f"{name}|pilot_mean", cell)
        else:
            method[name] = "did_joint"
        cell_of[name] = pd.DataFrame(
            {
                "branch_id": frame.loc[treated, "branch_id"].to_numpy(),
                "period": frame.loc[treated, "period"].to_numpy(),
                "cell": cell[treated],
                "scale": scale[treated],
                "dose": dose[treated],
            }
        )
    regs = pd.DataFrame(cols, index=frame.index)
    return _Design(regressors=regs, cell_of=cell_of, method=method)


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

    def cell_weights(self, name: str, rows: pd.DataFrame | None = None) -> pd.Series:
        """Weights on the regression coefficients giving the mean effect of ``name`` over
        ``rows`` (``branch_id, period, weight``; default: all its treated branch-months,
        equally weighted)."""
        cells = self.design.cell_of[name]
        if rows is not None:
            cells = cells.merge(rows, on=["branch_id", "period"], how="inner")
            w = cells["weight"].to_numpy()
        else:
            w = np.full(len(cells), 1.0 / max(len(cells), 1))
        out: dict[str, float] = {}
        pilot = [c for c in self.design.regressors.columns if c.startswith(f"{name}|")]
        pilot_rows = cells["cell"] != f"{name}|pilot_mean"
        for c, wi, s in zip(cells["cell"], w, cells["scale"], strict=True):
            if c == f"{name}|pilot_mean":
                continue
            out[c] = out.get(c, 0.0) + wi * s
        firm_w = float(np.sum(w[~pilot_rows.to_numpy()] * cells.loc[~pilot_rows, "scale"]))
        if firm_w and pilot:
            all_cells = self.design.cell_of[name]
            base = all_cells[all_cells["cell"] != f"{name}|pilot_mean"]
            share = base["cell"].value_counts(normalize=True)
            for c, sh in share.items():
                out[c] = out.get(c, 0.0) + firm_w * sh
        return pd.Series(out, dtype=float)

    def effect_of(
        self, name: str, component: str, rows: pd.DataFrame | None = None
    ) -> tuple[float, pd.Series]:
        """(estimate, per-branch influence) of ``name``'s mean effect on ``component``.

        Without a fit of the net rate (client weighting), its effect is the weighted sum of the
        components' (the net rate is linear in S, R, E), influences summed per branch.
        """
        if component not in self.fits and component == "net_rate":
            est, inf = 0.0, None
            for c, wc in self.panel.weights.items():
                e_c, i_c = self.effect_of(name, c, rows)
                est += wc * e_c
                inf = wc * i_c if inf is None else inf.add(wc * i_c, fill_value=0.0)
            return est, inf
        fit = self.fits[component]
        w = self.cell_weights(name, rows)
        est, _ = fit.linear(w)
        return est, fit.linear_influence(w)

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
        from matplotlib.figure import Figure

        tab = self.table
        comps = list(dict.fromkeys(tab["component"]))
        fig = Figure(figsize=(3.2 * len(comps), 3.8))
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
        """Effect by event time (mean of cohorts' cells at each ``e``), with intervals."""
        fit = self.fits[component]
        cells = [c for c in self.design.regressors.columns if c.startswith(f"{name}|")]
        if not cells:
            return pd.DataFrame(columns=["label", "estimate", "se", "lo", "hi"])
        ev = pd.Series([int(c.rsplit("|", 1)[1]) for c in cells], index=cells)
        n = self.design.regressors[cells].sum()
        z = z_value(self.alpha)
        rows = []
        for e in sorted(ev.unique()):
            members = ev.index[ev == e]
            w = n[members] / n[members].sum()
            est, se = fit.linear(w)
            rows.append(
                {"label": e, "estimate": est, "se": se, "lo": est - z * se, "hi": est + z * se}
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
) -> JointEffects:
    """Estimate every intervention's effect on every component jointly (see module doc).

    Cluster-robust errors are too small when few clusters are treated (Conley & Taber 2011).
    For an intervention reaching fewer than ``min_treated_branches`` branches at branch level
    (typically a pilot), the standard error is the larger of the CR1 one and the standard
    deviation of ``n_placebo`` placebo estimates, each with the intervention's branch
    assignment permuted across branches (method suffix ``+placebo_se``).

    ``weighting="client"`` is client-level estimation: every survey response, client-month
    and ticket counts once (each component's regression is weighted by its denominator, which
    for regressors constant within branch-month gives exactly the client-level least squares
    and the same branch-clustered scores), so small branches do not make the estimates noisy;
    the net rate's effect is then the weighted sum of the components'. The default weights
    branch-months equally (the simulator's truth averages branch-months).

    Parameters
    ----------
    panel : BranchPanel
        From :func:`~snr_models.attribution.panel.build_panel`.
    interventions : tuple of str, optional
        Default: all in the panel.
    components : tuple of str
        Outcome columns.
    alpha : float
        ``1 - alpha`` intervals.

    Examples
    --------
    >>> from snr_models.data.simulate import simulate
    >>> from snr_models.attribution.panel import build_panel
    >>> tables = simulate(n_clients=2_000, n_branches=10, n_months=12, seed=2, truth=False).tables
    >>> res = estimate_joint(build_panel(tables), components=("net_rate",))
    >>> sorted(res.table["intervention"])[:2]
    ['ai_assistant', 'process_reengineering']
    """
    if weighting not in ("branch_month", "client"):
        raise ValueError(f"weighting must be 'branch_month' or 'client', not {weighting!r}")
    names = tuple(interventions or panel.interventions)
    design = _design(panel, names)
    fits = _fit_all(panel, design, components, weighting, vcov=True)
    rows = []
    result = JointEffects(
        table=pd.DataFrame(),
        fits=fits,
        design=design,
        panel=panel,
        alpha=alpha,
        weighting=weighting,
    )
    # t(G - 1) critical value, G the number of branches (clusters), as Stata and fixest
    n_cl = min(f.n_clusters for f in fits.values())
    z = float(stats.t.ppf(1 - alpha / 2, max(n_cl - 1, 1)))
    rng = np.random.default_rng(random_state)
    for name in names:
        placebo_sd = None
        n_treated = _n_branch_level_treated(panel, name)
        if 0 < n_treated < min_treated_branches and n_placebo > 1:
            placebo_sd = _placebo_sd(panel, names, name, components, n_placebo, rng, weighting)
            design.method[name] += "+placebo_se"
        for comp in components:
            if design.method[name] == "not_identified":
                est, se = np.nan, np.nan
            else:
                est, inf = result.effect_of(name, comp)
                se = float(np.sqrt(np.sum(inf.to_numpy() ** 2)))
                if placebo_sd is not None:
                    se = max(se, placebo_sd[comp])
            rows.append(
                {
                    "intervention": name,
                    "component": comp,
                    "estimate": est,
                    "se": se,
                    "lo": est - z * se,
                    "hi": est + z * se,
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


def _fit_all(
    panel: BranchPanel,
    design: _Design,
    components: tuple[str, ...],
    weighting: str,
    *,
    vcov: bool,
) -> dict[str, OLSFit]:
    """One regression per component (client weighting: S, R, E weighted by denominators)."""
    from snr_models.attribution.panel import DENOMINATORS

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
        )
    return fits


def _n_branch_level_treated(panel: BranchPanel, name: str) -> int:
    frame = panel.frame
    on = frame[name] > 0
    firm = panel.firm_start.get(name)
    if firm is not None:
        on &= frame["period"] < firm
    return int(frame.loc[on, "branch_id"].nunique())


def _placebo_sd(
    panel: BranchPanel,
    names: tuple[str, ...],
    name: str,
    components: tuple[str, ...],
    n_placebo: int,
    rng: np.random.Generator,
    weighting: str = "branch_month",
) -> dict[str, float]:
    """Standard deviation of ``name``'s effect over random permutations of its branches."""
    frame = panel.frame
    branches = np.sort(frame["branch_id"].unique())
    cols = [name, f"{name}__first"]
    by_branch = {b: g[cols].to_numpy() for b, g in frame.groupby("branch_id", sort=True)}
    draws: dict[str, list[float]] = {c: [] for c in components}
    for _ in range(n_placebo):
        perm = dict(zip(branches, rng.permutation(branches), strict=True))
        moved = np.concatenate([by_branch[perm[b]] for b in branches])
        # frame is sorted by branch then period, so rows align with the concatenation order
        fake = frame.copy()
        fake[name] = moved[:, 0].astype(float)
        fake[f"{name}__first"] = pd.to_datetime(moved[:, 1]).astype("datetime64[us]")
        fake_panel = BranchPanel(
            frame=fake,
            interventions=panel.interventions,
            firm_start=panel.firm_start,
            weights=panel.weights,
        )
        design = _design(fake_panel, names)
        fits = _fit_all(fake_panel, design, components, weighting, vcov=False)
        res = JointEffects(table=pd.DataFrame(), fits=fits, design=design, panel=fake_panel)
        w = res.cell_weights(name)
        est = {
            c: float(w.reindex(f.params.index).fillna(0) @ f.params.fillna(0))
            for c, f in fits.items()
        }
        if "net_rate" not in est:
            est["net_rate"] = sum(panel.weights[c] * est[c] for c in panel.weights)
        for c in components:
            draws[c].append(est[c])
    return {c: float(np.nanstd(v, ddof=1)) for c, v in draws.items()}
