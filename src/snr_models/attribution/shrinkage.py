"""Where an intervention pays: per-branch effects with empirical-Bayes (partial pooling) shrinkage.

For each intervention and each branch it reached, the raw branch effect is read off the joint
regression of :func:`~snr_models.attribution.joint.estimate_joint`: the mean of the branch's
cohort cells over its treated months (:meth:`JointEffects.effect_weights` restricted to the
branch's rows) plus the branch's own deviation, the mean of its residuals over its treated
months minus their mean over its other months. Its sampling variance is the cells' (branch
clustered) plus the deviation's, ``s_b^2 (1/n_1 + 1/n_0)`` inflated by ``(1 + rho) / (1 - rho)``
for the residuals' first-order autocorrelation ``rho`` (pooled over branches).

The raw effects are noisy (a branch has a few dozen branch-months), and their two parts
err differently. The cells' error is shared by every branch of a cohort: pooling branches
does not average it out, so the cell part is kept as estimated, with its own error and its
Bell-McCaffrey degrees of freedom (few branches behind a cell give few; with fewer than
eight treated branches, where the joint estimate's error is the placebo spread, the cells'
variances are scaled by the placebo's ratio to the clustered variance and take its degrees of
freedom, as the joint estimate's interval does). The deviations' errors
are independent across branches, and the true deviations (each branch's effect minus its
cells' mean) are treated as draws of ``N(0, tau^2)`` observed with error ``N(0, v_b)``: the
moments' estimate of ``tau^2`` about 0 gives each branch the posterior deviation
``(1 - B_b) dev_b``, ``B_b = v_b / (v_b + tau^2)``, pulling a noisy branch towards its cohort.
Its variance adds the uncertainty of ``B_b`` itself (Morris 1983: ``B_b`` scaled by
``(k - 3) / (k - 1)`` for ``k`` branches, variance ``(1 - B_b) v_b + 2 / (k - 3) B_b^2
dev_b^2``). A branch's effect is its cells' estimate plus its posterior deviation, its variance
the sum of the two, its interval the two half-widths added in quadrature (the cells' on the t
quantile, the deviation's on the normal's). Pooling the whole raw effect towards one mean as if
the branches' errors were independent (the first version) covered 86% of the true effects of a
programme whose branches sit in few cohorts (``benchmarks/plan_shrinkage.py``, README).
:func:`shrink` pools any estimates with standard errors (towards a given mean, or their
precision-weighted mean); :func:`segment_effects` applies it to each intervention's effect
estimated separately in each client segment (towards the firm's joint estimate).

Checked against the simulator's ``truth.json`` per-branch effects in
``tests/attribution/test_shrinkage.py`` and, over 50 worlds, ``benchmarks/plan_shrinkage.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from snr_models.attribution.inference import t_value
from snr_models.attribution.joint import JointEffects
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError

RAW_COLUMNS = [
    "intervention",
    "branch_id",
    "raw",
    "raw_se",
    "cell",
    "cell_se",
    "cell_df",
    "deviation",
    "idio_se",
    "n_treated",
]


def shrink(
    raw: np.ndarray,
    se: np.ndarray,
    alpha: float = 0.05,
    *,
    mu: float | None = None,
    mu_se: float | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Empirical-Bayes posterior means and intervals of ``raw`` estimates with errors ``se``.

    ``mu`` and ``mu_se``, when given, are the mean of the true effects and its standard error
    estimated elsewhere (the joint regression's average effect, whose branch-clustered error
    knows that branches of a cohort share their cells' errors); by default the precision-weighted
    mean of the raw estimates and its error as if they were independent.

    Returns a frame ``raw, raw_se, estimate, se, lo, hi, shrinkage, shared_se`` (``shrinkage``
    is ``B``, 0 = raw kept, 1 = pooled to the mean; ``shared_se`` the part of ``se`` common to
    all the estimates, ``B x mu_se``) and the prior ``{"mu", "mu_se", "tau"}``.

    Examples
    --------
    >>> tab, prior = shrink(np.array([0.0, 0.1, 0.2, 0.9]), np.array([0.1, 0.1, 0.1, 0.5]))
    >>> bool(tab["estimate"].iloc[3] < 0.9)   # the noisy outlier is pulled in
    True
    """
    raw = np.asarray(raw, dtype=float)
    v = np.asarray(se, dtype=float) ** 2
    ok = np.isfinite(raw) & np.isfinite(v) & (v > 0)
    if ok.sum() < 2:
        raise SnrInputError("shrinkage: at least two estimates with standard errors are needed")
    w = 1.0 / v[ok]
    mu_fe = np.sum(w * raw[ok]) / np.sum(w)
    q = float(np.sum(w * (raw[ok] - mu_fe) ** 2))
    denom = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (q - (ok.sum() - 1)) / denom) if denom > 0 else 0.0
    if mu is None or mu_se is None or not np.isfinite(mu_se):
        ws = 1.0 / (v[ok] + tau2)
        mu = float(np.sum(ws * raw[ok]) / np.sum(ws))
        mu_var = float(1.0 / np.sum(ws))
    else:  # moments about the given mean: E sum w (raw - mu)^2 = k + tau^2 sum w
        q = float(np.sum(w * (raw[ok] - mu) ** 2))
        tau2 = max(0.0, (q - ok.sum()) / float(np.sum(w)))
        mu_var = float(mu_se) ** 2
    # Morris (1983): the shrinkage factor estimated from k estimates is scaled by (k-3)/(k-1),
    # and its uncertainty widens the interval by 2/(k-3) B^2 (raw - mu)^2 (with tau^2 = 0
    # estimated, plain plug-in intervals hold the pooled mean's error alone and miss true
    # branch differences)
    k = int(ok.sum())
    factor = (k - 3) / (k - 1) if k > 3 else 1.0
    b = np.where(ok, factor * v / (v + tau2), np.nan)
    post = mu + (1 - b) * (raw - mu)
    post_var = (1 - b) * v + b**2 * mu_var
    if k > 3:
        post_var = post_var + 2.0 / (k - 3) * b**2 * (raw - mu) ** 2
    z = stats.norm.ppf(1 - alpha / 2)
    post_se = np.sqrt(post_var)
    tab = pd.DataFrame(
        {
            "raw": raw,
            "raw_se": np.sqrt(v),
            "estimate": post,
            "se": post_se,
            "lo": post - z * post_se,
            "hi": post + z * post_se,
            "shrinkage": b,
            # the part of the error shared by every estimate (through mu), for joint draws
            "shared_se": b * np.sqrt(mu_var),
        }
    )
    return tab, {"mu": mu, "mu_se": float(np.sqrt(mu_var)), "tau": float(np.sqrt(tau2))}


def _autocorrelation(resid: np.ndarray) -> float:
    """Pooled lag-1 autocorrelation of the residuals (branches x months, NaN allowed)."""
    a, b = resid[:, 1:], resid[:, :-1]
    ok = np.isfinite(a) & np.isfinite(b)
    num = float(np.sum(np.where(ok, a * b, 0.0)))
    den = float(np.nansum(resid**2))
    rho = num / den if den > 0 else 0.0
    return float(np.clip(rho, 0.0, 0.9))


def raw_branch_effects(effects: JointEffects, component: str = "net_rate") -> pd.DataFrame:
    """Raw per-branch effects of every intervention on ``component`` (see the module doc).

    Returns ``intervention, branch_id, raw, raw_se, cell, cell_se, deviation, idio_se,
    n_treated`` for every branch an intervention reached with at least one untreated month in
    the panel: ``raw = cell + deviation``, the branch's cohort cells (their branch-clustered
    error ``cell_se``, shared with the other branches of its cells) and its own deviation
    (``idio_se``, independent across branches).
    """
    if component not in effects.fits:
        raise SnrInputError(
            f"shrinkage: no regression of {component!r} in the joint effects (fitted: "
            f"{sorted(effects.fits)}; branch-month weighting is needed for the net rate)"
        )
    frame = effects.panel.frame
    fit = effects.fits[component]
    y = frame[component].to_numpy(dtype=float)
    keep = np.isfinite(y)
    resid = np.full(len(frame), np.nan)
    resid[keep] = fit.residuals
    branches = frame["branch_id"].to_numpy()
    n_b = frame["branch_id"].nunique()
    rho = _autocorrelation(resid.reshape(n_b, -1))
    inflate = (1 + rho) / (1 - rho)
    params = fit.params.fillna(0.0)
    vcov = np.nan_to_num(fit.vcov.to_numpy())
    rows = []
    for name in effects.panel.interventions:
        if effects.design.method[name].startswith("not_identified"):
            continue
        w = _branch_cell_weights(effects.design.cell_of[name], name, params.index)
        est = w.to_numpy() @ params.to_numpy()
        cell_var = np.einsum("ij,jk,ik->i", w.to_numpy(), vcov, w.to_numpy())
        placebo_df, cell_var = _placebo_scaled(effects, name, component, cell_var)
        treated = frame[name].to_numpy() > 0
        for b, cell_est, cv in zip(w.index, est, cell_var, strict=True):
            mine = branches == b
            on, off = mine & treated & keep, mine & ~treated & keep
            if on.sum() < 1 or off.sum() < 2:
                continue
            # Bell-McCaffrey degrees of freedom of the branch's cells (few branches behind them
            # give few), as for the joint estimate's own interval
            cell_df = fit.dof(w.loc[b]) if placebo_df is None else placebo_df
            r = resid[mine & keep]
            idio = float(np.var(r, ddof=1)) * (1 / on.sum() + 1 / off.sum()) * inflate
            deviation = float(resid[on].mean() - resid[off].mean())
            rows.append(
                {
                    "intervention": name,
                    "branch_id": b,
                    "raw": cell_est + deviation,
                    "raw_se": float(np.sqrt(max(cv, 0.0) + idio)),
                    "cell": float(cell_est),
                    "cell_se": float(np.sqrt(max(cv, 0.0))),
                    "cell_df": float(cell_df),
                    "deviation": deviation,
                    "idio_se": float(np.sqrt(idio)),
                    "n_treated": int(on.sum()),
                }
            )
    return pd.DataFrame(rows, columns=RAW_COLUMNS)


def _placebo_scaled(
    effects: JointEffects, name: str, component: str, cell_var: np.ndarray
) -> tuple[float | None, np.ndarray]:
    """When the joint estimate's error is the placebo spread (few treated branches: their
    clustered error is unreliable), the branches' cell variances scaled by the same ratio
    (placebo over clustered variance of the joint estimate) and the placebo's degrees of
    freedom; else ``None`` and the variances unchanged."""
    if "+placebo_se" not in effects.design.method[name]:
        return None, cell_var
    row = effects.table[
        (effects.table["intervention"] == name) & (effects.table["component"] == component)
    ]
    clustered = effects.infer(effects.effect_weights(name, component)).se
    if row.empty or not (clustered > 0) or not np.isfinite(row["se"].iloc[0]):
        return None, cell_var
    ratio = max(1.0, float(row["se"].iloc[0]) / clustered) ** 2
    return float(row["df"].iloc[0]), cell_var * ratio


def _branch_cell_weights(cells: pd.DataFrame, name: str, regressors: pd.Index) -> pd.DataFrame:
    """Per branch (rows), the weights on the coefficients (columns) giving the mean of its
    treated months' cell effects; a firm-wide month takes the pilot cells' mean, as in
    :meth:`JointEffects.cell_weights`."""
    pilot = f"{name}|pilot_mean"
    n = cells.groupby("branch_id")["cell"].transform("size").to_numpy()
    w = cells["scale"].to_numpy() / n
    on_firm = (cells["cell"] == pilot).to_numpy()
    direct = (
        pd.DataFrame({"b": cells["branch_id"], "c": cells["cell"], "w": w})[~on_firm]
        .pivot_table(index="b", columns="c", values="w", aggfunc="sum", fill_value=0.0)
        .reindex(columns=regressors, fill_value=0.0)
    )
    branches = pd.unique(cells["branch_id"])
    direct = direct.reindex(branches, fill_value=0.0)
    if on_firm.any():
        firm_w = pd.Series(w[on_firm]).groupby(cells["branch_id"].to_numpy()[on_firm]).sum()
        share = cells.loc[~on_firm, "cell"].value_counts(normalize=True)
        share = share.reindex(regressors, fill_value=0.0).to_numpy()
        direct += np.outer(firm_w.reindex(branches, fill_value=0.0).to_numpy(), share)
    return direct


@dataclass(frozen=True)
class BranchEffects:
    """Per-branch effects of each intervention, raw and shrunken (from :func:`branch_effects`).

    Attributes
    ----------
    table : DataFrame
        ``intervention, branch_id, n_treated, raw, raw_se, estimate, se, lo, hi, shrinkage,
        cell_se`` (``shrinkage``: the deviation's, 0 = kept, 1 = pooled to the cells;
        ``cell_se``: the part of ``se`` shared with the other branches of its cells).
    priors : DataFrame
        Per intervention: ``mu`` (the joint estimate), ``mu_se``, ``tau`` (the spread of the
        true branch effects around their cells'), ``n_branches``.
    component : str
    alpha : float
    """

    table: pd.DataFrame
    priors: pd.DataFrame
    component: str = "net_rate"
    alpha: float = 0.05
    segments: pd.DataFrame | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The per-branch table."""
        return self.table.copy()

    def summary(self) -> str:
        """Per intervention: the pooled mean, the spread of branch effects, the best and worst
        branches (shrunken)."""
        lines = [f"Per-branch effects on {self.component} (empirical Bayes, {1 - self.alpha:.0%})"]
        for p in self.priors.itertuples():
            sub = self.table[self.table["intervention"] == p.intervention].sort_values(
                "estimate", ascending=False
            )
            lines.append(
                f"{p.intervention}: mean {p.mu:+.4f} (s.e. {p.mu_se:.4f}), branches' spread "
                f"around their cohorts {p.tau:.4f}, {p.n_branches} branches; best "
                + ", ".join(f"{r.branch_id} {r.estimate:+.4f}" for r in sub.head(3).itertuples())
                + "; worst "
                + ", ".join(f"{r.branch_id} {r.estimate:+.4f}" for r in sub.tail(3).itertuples())
            )
        if self.segments is not None and len(self.segments):
            lines += ["", "By segment:", self.segments.to_string(index=False, float_format=_f4)]
        return "\n".join(lines)

    def plot(self, intervention: str | None = None, extremes: int = 8):  # noqa: ANN201
        """Raw and shrunken branch effects with intervals, one panel per intervention (two
        panels a row): the ``extremes`` best and worst branches by shrunken effect (all when
        they are at most twice as many), the joint estimate dashed."""
        from snr_models.figures import new_figure

        names = [intervention] if intervention else list(self.priors["intervention"])
        subs = {}
        for name in names:
            sub = self.table[self.table["intervention"] == name].sort_values("estimate")
            cut = len(sub) > 2 * extremes
            subs[name] = (pd.concat([sub.head(extremes), sub.tail(extremes)]) if cut else sub, cut)
        n_rows = max(len(sub) for sub, _ in subs.values())  # the tallest panel sets the height
        cols = min(2, len(names))
        grid_rows = -(-len(names) // cols)
        fig = new_figure(figsize=(5.0 * cols, grid_rows * (0.24 * n_rows + 1.3)))
        axes = fig.subplots(grid_rows, cols, squeeze=False).ravel()
        for ax in axes[len(names) :]:
            ax.remove()
        for ax, name in zip(axes, names, strict=False):
            sub, cut = subs[name]
            y = np.arange(len(sub))
            ax.plot(sub["raw"], y, "x", color="grey", label="raw")
            ax.errorbar(
                sub["estimate"],
                y,
                xerr=[sub["estimate"] - sub["lo"], sub["hi"] - sub["estimate"]],
                fmt="o",
                ms=4,
                capsize=2,
                label="shrunken",
            )
            if cut:  # the branches in between are left out: a gap between worst and best
                ax.axhline(extremes - 0.5, color="grey", lw=0.6, ls=":")
            mu = float(self.priors.set_index("intervention").loc[name, "mu"])
            ax.axvline(mu, color="black", lw=0.8, ls="--")
            ax.axvline(0, color="grey", lw=0.6)
            ax.set_yticks(y, sub["branch_id"], fontsize=8)
            ax.tick_params(axis="x", labelsize=8)
            ax.set_ylim(-0.7, len(sub) - 0.3)
            ax.set_title(name, fontsize=10)
            ax.set_xlabel("net rate" if self.component == "net_rate" else self.component)
        # one legend above the panels, clear of the branches' intervals
        fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncols=2, fontsize=8)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
        return fig


def _f4(v: float) -> str:
    return f"{v:.4f}"


def branch_effects(
    effects: JointEffects, component: str = "net_rate", alpha: float = 0.05
) -> BranchEffects:
    """Per-branch effects of each intervention with empirical-Bayes shrinkage (module doc).

    Parameters
    ----------
    effects : JointEffects
        From :func:`~snr_models.attribution.joint.estimate_joint` (branch-month weighting).
    component : str
    alpha : float
        ``1 - alpha`` intervals.

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> from snr_models.attribution import build_panel, estimate_joint
    >>> tables = simulate(n_clients=2_000, n_branches=10, n_months=12, seed=2, truth=False).tables
    >>> be = branch_effects(estimate_joint(build_panel(tables), components=("net_rate",)))
    >>> set(be.table.columns) >= {"raw", "estimate", "lo", "hi"}
    True
    """
    raw = raw_branch_effects(effects, component)
    overall = effects.table.set_index(["intervention", "component"])
    parts, priors = [], []
    for name, sub in raw.groupby("intervention", sort=False):
        if len(sub) < 2:
            continue
        # the deviations alone are pooled, towards 0; the cells keep their own (shared) error
        dev, prior = shrink(
            sub["deviation"].to_numpy(), sub["idio_se"].to_numpy(), alpha, mu=0.0, mu_se=0.0
        )
        cell, cell_se = sub["cell"].to_numpy(), sub["cell_se"].to_numpy()
        est = cell + dev["estimate"].to_numpy()
        se = np.sqrt(cell_se**2 + dev["se"].to_numpy() ** 2)
        # the cells' part of the interval on their t quantile (few branches behind a cell give
        # few degrees of freedom), the deviation's on the normal's
        z = stats.norm.ppf(1 - alpha / 2)
        t = np.array([t_value(alpha, d) if np.isfinite(d) else z for d in sub["cell_df"]])
        half = np.sqrt((t * cell_se) ** 2 + (z * dev["se"].to_numpy()) ** 2)
        tab = pd.DataFrame(
            {
                "intervention": name,
                "branch_id": sub["branch_id"].to_numpy(),
                "n_treated": sub["n_treated"].to_numpy(),
                "raw": sub["raw"].to_numpy(),
                "raw_se": sub["raw_se"].to_numpy(),
                "estimate": est,
                "se": se,
                "lo": est - half,
                "hi": est + half,
                "shrinkage": dev["shrinkage"].to_numpy(),
                "cell_se": cell_se,
            }
        )
        parts.append(tab)
        mu, mu_se = (
            (
                float(overall.loc[(name, component), "estimate"]),
                float(overall.loc[(name, component), "se"]),
            )
            if (name, component) in overall.index
            else (float(np.mean(est)), float("nan"))
        )
        priors.append(
            {
                "intervention": name,
                "mu": mu,
                "mu_se": mu_se,
                "tau": prior["tau"],
                "n_branches": len(sub),
            }
        )
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return BranchEffects(table=table, priors=pd.DataFrame(priors), component=component, alpha=alpha)


def _segment_tables(tables: Tables, segments: list[str]) -> Iterator[tuple[str, Tables]]:
    """Each segment with the tables restricted to its clients (interventions and market kept),
    the rows in their order: each client-keyed table is looked up once, not once per segment."""
    clients = tables.clients
    code = pd.Series(pd.Categorical(clients["segment"], categories=segments).codes)
    of_client = pd.Series(code.to_numpy(), index=clients["client_id"].to_numpy())
    keyed = {
        name: (frame, frame["client_id"].map(of_client).fillna(-1).to_numpy(dtype=int))
        for name, frame in tables.items()
        if "client_id" in frame.columns
    }
    for k, segment in enumerate(segments):
        keep = {name: frame[codes == k] for name, (frame, codes) in keyed.items()}
        yield segment, dataclasses.replace(tables, **keep)


def segment_effects(
    tables: Tables,
    component: str = "net_rate",
    alpha: float = 0.05,
    *,
    overall: JointEffects | None = None,
) -> pd.DataFrame:
    """Each intervention's effect in each client segment, raw and shrunken across segments.

    The branch x month panel is built from each segment's clients alone and the joint
    regression fitted on it; the segment's effect (and its branch-clustered error) is shrunk
    towards the intervention's pooled mean (:func:`shrink`). Returns ``intervention, segment,
    raw, raw_se, estimate, se, lo, hi, shrinkage``.

    ``overall`` is the firm's joint estimate on ``tables`` (branch-month weighting, with
    ``component`` and ``alpha``) when it is at hand, e.g. the attribution's: the pooled means
    are its effects (the same numbers), not fitted again.
    """
    from snr_models.attribution.joint import estimate_joint
    from snr_models.metrics.panel import build_panel

    # the pooled mean: the firm's joint estimate (its branch-clustered error)
    if overall is None or not overall.serves(component, alpha):
        overall = estimate_joint(build_panel(tables), components=(component,), alpha=alpha)
    whole = overall.table
    whole = whole[whole["component"] == component]
    overall = {
        (r.intervention, r.component): (float(r.estimate), float(r.se))
        for r in whole.itertuples()
        if np.isfinite(r.se)
    }
    rows = []
    segments = sorted(tables.clients["segment"].dropna().unique())
    for seg, seg_tables in _segment_tables(tables, [str(s) for s in segments]):
        try:
            panel = build_panel(seg_tables)
            tab = estimate_joint(panel, components=(component,), alpha=alpha).table
        except SnrInputError:
            continue  # a segment too small for the regression: not reported
        for r in tab.itertuples():
            rows.append(
                {"intervention": r.intervention, "segment": seg, "raw": r.estimate, "raw_se": r.se}
            )
    raw = pd.DataFrame(rows, columns=["intervention", "segment", "raw", "raw_se"])
    parts = []
    for name, sub in raw.groupby("intervention", sort=False):
        if sub["raw_se"].notna().sum() < 2:
            continue
        est = overall.get((name, component))
        tab, _ = shrink(
            sub["raw"].to_numpy(),
            sub["raw_se"].to_numpy(),
            alpha,
            mu=None if est is None else est[0],
            mu_se=None if est is None else est[1],
        )
        tab.insert(0, "segment", sub["segment"].to_numpy())
        tab.insert(0, "intervention", name)
        parts.append(tab)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
