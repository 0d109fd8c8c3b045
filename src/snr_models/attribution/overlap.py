"""Overlapping programmes: the world without any programme, imputed, and each programme's
Shapley share of what they did together.

Programmes overlap: re-engineering, the AI assistant and training partly do the same work, so
each one's effect is smaller where another is already active. A model that adds the
programmes' average effects (:mod:`~snr_models.attribution.joint`) then misstates what they did
together, and the part of a change it leaves to "market and trend" is not the change of the
world without them.

:func:`estimate_overlap` is Borusyak, Jaravel and Spiess's (2024) imputation estimator with a
model of the effects (their section 4; Gardner's two-stage DiD is the same idea): the
untreated potential outcome is ``Y0_bt = a_b + l_t`` (branch and month effects), fitted on the
branch-months untouched by any programme, and the effect of the programmes active in a treated
branch-month is modelled as

    tau_bt = sum_k tau_k(g, e) + sum_T d_T * x_T,bt

the first sum the joint model's cohort x event-time cell of every active programme ``k``, the
second the *interactions* (Harsanyi dividends) of every set ``T`` of two or more programmes
active together, ``x_T = 1`` when all of ``T`` are active (times the firm-wide scale, below).
BJS show that with such a restricted effect model the efficient imputation estimator is least
squares of ``Y`` on the unit and time effects and the model's regressors over all
branch-months, which is what is computed (``fe_ols``, branch-clustered CR2, Bell-McCaffrey
degrees of freedom as in the joint model). With every treated branch-month its own effect it
reduces to the two-stage imputation (fit ``a_b + l_t`` on the untreated, impute, subtract):
:func:`impute_untreated` computes that, and the tests check the two against each other and
against an explicit dummy regression.

Why a model of the effects is needed: on the simulator's default world no branch-month is
untouched by any programme from its 19th month on (every branch has one; the AI assistant goes
firm-wide in month 22), so the month effects of the last months cannot be fitted on untreated
branch-months alone. They are identified through the effect model: the cohort x event-time
cells, and the AI assistant's firm-wide months taking its pilot's effect scaled by intensity
(the joint model's assumption, method ``did_pilot_scaled``).

An interaction is estimated where the roll-outs identify it: at least ``min_branch_months``
branch-months of ``min_branches`` branches with the whole set active, and its column not
collinear with the branch and month effects, the cells and the interactions already admitted
(smaller sets first). Otherwise it is *pooled*: set to zero, i.e. that set's effect is assumed
to be the sum of its parts' (additivity in an unidentified cell); :attr:`OverlapEffects.terms`
says which and why, and every waterfall row that such a set reaches carries a note.

The effect of the programmes active in a branch-month is a game over them: the value of a
subset ``S`` is ``sum_(k in S) tau_k + sum_(T subset of S) d_T``; the Shapley value of
programme ``k`` is ``tau_k + sum_(T contains k) d_T / |T|`` (a dividend is shared equally by
its members), and the Shapley values add up to the joint effect exactly.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from snr_models.attribution.inference import RANK_RTOL
from snr_models.attribution.joint import (
    JointEffects,
    LinearEffect,
    _Design,
    _design,
    _fit_all,
    _FixedBlock,
    _one_blas_thread,
    _permuted_cells,
    estimate_joint,
)
from snr_models.attribution.regression import _codes, demeaner
from snr_models.metrics.panel import COMPONENTS, DENOMINATORS, BranchPanel

logger = logging.getLogger(__name__)

TERM_PREFIX = "overlap|"


def _term_label(term: tuple[str, ...]) -> str:
    return TERM_PREFIX + "+".join(term)


def _scales(panel: BranchPanel, design: _Design, names: tuple[str, ...]) -> pd.DataFrame:
    """Per branch-month and programme: 0 when inactive, else the scale its cell takes (1, or
    the firm-wide months' intensity over the pilot's)."""
    frame = panel.frame[["branch_id", "period"]]
    out = {}
    for name in names:
        cells = design.cell_of[name][["branch_id", "period", "scale"]]
        merged = frame.merge(cells, on=["branch_id", "period"], how="left")
        out[name] = merged["scale"].fillna(0.0).to_numpy()
    return pd.DataFrame(out, index=panel.frame.index)


def _admit_terms(
    panel: BranchPanel,
    design: _Design,
    scales: pd.DataFrame,
    identified: tuple[str, ...],
    min_branch_months: int,
    min_branches: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The interaction columns admitted and the table of every candidate set (see module doc)."""
    frame = panel.frame
    active = scales > 0
    fes = [_codes(frame[f]) for f in ("branch_id", "period")]
    sweep = demeaner(fes)
    base = sweep(design.regressors.to_numpy(dtype=float))
    basis = _orthonormal(base)
    cols: dict[str, np.ndarray] = {}
    rows = []
    for size in range(2, len(identified) + 1):
        for term in itertools.combinations(identified, size):
            on = active[list(term)].all(axis=1).to_numpy()
            # a firm-wide programme's interactions are identified by its pilot only: every
            # branch has it in the firm-wide months
            pilot_only = any(name in panel.firm_start for name in term)
            for name in term:
                if name in panel.firm_start:
                    on = on & (frame["period"] < panel.firm_start[name]).to_numpy()
            n_bm = int(on.sum())
            n_b = int(frame.loc[on, "branch_id"].nunique())
            row = {
                "term": "+".join(term),
                "size": size,
                "n_branch_months": n_bm,
                "n_branches": n_b,
            }
            if n_bm == 0 and not active[list(term)].all(axis=1).any():
                continue  # never active together: nothing to pool
            if n_bm < min_branch_months or n_b < min_branches:
                row.update(
                    status="pooled",
                    reason=f"too few: {n_bm} branch-months in {n_b} branches"
                    + (" before the firm-wide roll-out" if pilot_only else "")
                    + f" (needs {min_branch_months} in {min_branches})",
                )
            else:
                x = np.prod(scales[list(term)].to_numpy(), axis=1)
                xd = sweep(x)
                resid = xd - basis @ (basis.T @ xd)
                if np.linalg.norm(resid) <= 1e-6 * max(np.linalg.norm(x), 1e-300):
                    row.update(
                        status="pooled",
                        reason="not identified: collinear with the branch, month and cell effects",
                    )
                else:
                    cols[_term_label(term)] = x
                    basis = np.column_stack([basis, resid / np.linalg.norm(resid)])
                    row.update(status="estimated", reason="")
            rows.append(row)
    terms = pd.DataFrame(
        rows, columns=["term", "size", "n_branch_months", "n_branches", "status", "reason"]
    )
    return pd.DataFrame(cols, index=frame.index), terms


def _event_time_label(cell: str) -> str:
    """``name|cohort|e`` -> ``name|all|e`` (one cell per event time, over the cohorts)."""
    name, _, e = cell.split("|")
    return f"{name}|all|{e}"


def _pool_columns(labels: list[str], x: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Cell columns summed into one per programme and event time."""
    if not labels:
        return labels, x
    pooled = pd.DataFrame(x, columns=labels).T.groupby([_event_time_label(c) for c in labels])
    frame = pooled.sum().T
    return list(frame.columns), frame.to_numpy()


def _pool_cohorts(design: _Design) -> _Design:
    """The design with each programme's cells pooled over cohorts by event time (see
    :func:`estimate_overlap`, ``cells``); the firm-wide months' ``pilot_mean`` stays."""
    regs = design.regressors
    labels, x = _pool_columns(list(regs.columns), regs.to_numpy(dtype=float))
    cell_of = {}
    for name, cells in design.cell_of.items():
        cells = cells.copy()
        branch = cells["cell"] != f"{name}|pilot_mean"
        cells.loc[branch, "cell"] = [_event_time_label(c) for c in cells.loc[branch, "cell"]]
        cell_of[name] = cells
    return _Design(
        regressors=pd.DataFrame(x, columns=labels, index=regs.index),
        cell_of=cell_of,
        method=design.method,
    )


def substitutes_dividend(taus: np.ndarray) -> float:
    """The Harsanyi dividend of a set of programmes that are perfect substitutes, given each
    member's effect alone ``taus``: together they do what their best member does (``v(S) =
    max_(k in S) tau_k``), the dividend the Moebius inversion of that game, ``sum_(S subset
    of T) (-1)^(|T|-|S|) max_(k in S) tau_k`` (``-min(tau_a, tau_b)`` for a pair); effects
    of one sign only (negative effects mirror), else 0 (no common work to substitute)."""
    taus = np.asarray(taus, dtype=float)
    if not (np.all(taus > 0) or np.all(taus < 0)):
        return 0.0
    size = np.abs(taus)
    dividend = 0.0
    for k in range(1, len(taus) + 1):
        for subset in itertools.combinations(range(len(taus)), k):
            dividend += (-1) ** (len(taus) - k) * size[list(subset)].max()
    return float(np.sign(taus[0])) * dividend


def clipped_fixed_point(
    tau0: dict[str, float],
    slopes: dict[str, dict[tuple[str, ...], float]],
    bounds: dict[tuple[str, ...], float],
    *,
    tol: float = 1e-12,
    max_iter: int = 10_000,
) -> tuple[dict[tuple[str, ...], float], bool]:
    """The perfect-substitutes dividends consistent with the members' effects they move,
    each capped by its set's joint effect.

    Solves ``d_T = clip(substitutes_dividend(tau_k(d) for k in T), -b_T, b_T)`` over every set
    ``T`` of ``bounds`` jointly, with ``tau_k(d) = tau0[k] - sum_T d_T slopes[k][T]``.

    Parameters
    ----------
    tau0 : dict
        Each programme's effect alone with every dividend at 0.
    slopes : dict
        Per programme and set, ``s_kT``: how much of a unit of the set's dividend the
        programme's effect alone gives up when the dividend is fixed and the model re-fitted.
    bounds : dict
        Per set, the cap ``b_T >= 0`` on ``|d_T|`` (``inf`` for none).
    tol, max_iter
        Convergence: the largest change of a dividend in one step; steps per damping.

    Returns
    -------
    dividends : dict
        Per set, ``d*_T``, within ``[-b_T, b_T]``.
    converged : bool
        Whether the iteration settled; if not, ``dividends`` is its last iterate (still within
        the caps).

    Notes
    -----
    The uncapped map is piecewise linear with slopes the ``s_kT``; for a pair its fixed point
    is ``-tau_a(0) / (1 - s_a)`` (``a`` the smaller member), which grows without bound as the
    member's cells absorb the whole interaction (``s_a -> 1``): the data then do not tell the
    member's effect alone from the interaction, and the self-consistent dividend can be any
    size. The cap is what perfect substitution itself allows: together the set does what its
    best member does alone, ``v(T) = max_k tau_k``, and the Moebius dividend of such a game is
    at most ``min_k |tau_k| <= |v(T)|`` in magnitude (``-min`` for a pair, ``+min`` for a
    triple). The capped map sends the box ``|d_T| <= b_T`` into itself and is continuous, so
    it has a fixed point there (Brouwer); the iteration from ``d = 0`` is plain, then damped
    (``d <- (1 - a) d + a map(d)``, ``a`` = 1/2, 1/4), and every iterate stays in the box.

    Examples
    --------
    A pair whose smaller member gives up 0.99 of a unit of the dividend: uncapped the fixed
    point is ``-0.02 / (1 - 0.99) = -2``; capped at the set's joint effect 0.04 it is -0.04.

    >>> tau0 = {"a": 0.03, "b": 0.02}
    >>> s = {"a": {("a", "b"): 0.99}, "b": {("a", "b"): 0.99}}
    >>> d, ok = clipped_fixed_point(tau0, s, {("a", "b"): 0.04})
    >>> round(d[("a", "b")], 6), ok
    (-0.04, True)
    """
    terms = list(bounds)
    if not terms:
        return {}, True
    cap = np.array([abs(bounds[t]) for t in terms], dtype=float)
    members = [list(t) for t in terms]
    s = {k: np.array([slopes[k].get(t, 0.0) for t in terms]) for t in terms for k in t}

    def step(d: np.ndarray) -> np.ndarray:
        new = np.empty(len(terms))
        for i, term in enumerate(members):
            taus = np.array([tau0[k] - float(s[k] @ d) for k in term])
            new[i] = substitutes_dividend(taus)
        return np.clip(new, -cap, cap)

    d = np.zeros(len(terms))
    for damping in (1.0, 0.5, 0.25):
        d = np.zeros(len(terms))
        for _ in range(max_iter):
            nxt = (1 - damping) * d + damping * step(d)
            done = np.max(np.abs(nxt - d)) <= tol
            d = nxt
            if done:
                break
        if np.max(np.abs(step(d) - d)) <= 100 * tol:
            return {t: float(d[i]) for i, t in enumerate(terms)}, True
    return {t: float(d[i]) for i, t in enumerate(terms)}, False


def _orthonormal(x: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the column space of ``x`` (rank-revealing)."""
    if x.shape[1] == 0:
        return np.zeros((x.shape[0], 0))
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    keep = s > s.max() * 1e-9 if s.size else np.zeros(0, dtype=bool)
    return u[:, keep]


@dataclass(frozen=True, eq=False)
class OverlapEffects:
    """The imputation estimator with programme interactions (see the module doc).

    Attributes
    ----------
    effects : JointEffects
        The regression behind it: its design holds the joint model's cells plus the admitted
        interaction columns ``overlap|<a>+<b>``; :meth:`JointEffects.infer` gives any linear
        combination's estimate and interval.
    terms : DataFrame
        Every set of two or more programmes active together somewhere: ``term, size,
        n_branch_months, n_branches, status`` (estimated / pooled), ``reason``.
    active : DataFrame
        Per branch-month (the panel's rows) and programme, its scale when active, else 0.
    placebo : dict
        Per pilot programme and component, every coefficient in each placebo draw (a
        DataFrame: draws x coefficients), the regression re-fitted with the programme's timing
        moved to a random permutation of the branches (:meth:`infer`); ``placebo_df`` the
        draws less one. A pilot programme is one reaching fewer than the joint model's
        ``min_treated_branches`` (method ``+placebo_se``) or one whose firm-wide months are
        extrapolated from its pilot (``did_pilot_scaled``), whatever the pilot's size.
    cells : str
        ``"event_time"`` (cells pooled over cohorts) or ``"cohort"`` (see
        :func:`estimate_overlap`).
    """

    effects: JointEffects
    terms: pd.DataFrame
    active: pd.DataFrame = field(repr=False)
    alpha: float = 0.05
    placebo: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict, repr=False)
    placebo_df: float = float("nan")
    cells: str = "cohort"

    @property
    def panel(self) -> BranchPanel:
        """The branch x month panel."""
        return self.effects.panel

    @property
    def programmes(self) -> tuple[str, ...]:
        """The programmes whose effects are identified."""
        return tuple(self.active.columns)

    def estimated_terms(self) -> list[tuple[str, ...]]:
        """The interactions estimated, as tuples of programme names."""
        tab = self.terms[self.terms["status"] == "estimated"]
        return [tuple(t.split("+")) for t in tab["term"]]

    def pooled_terms(self) -> list[tuple[str, ...]]:
        """The sets whose interaction is assumed zero (additivity in an unidentified cell)."""
        tab = self.terms[self.terms["status"] == "pooled"]
        return [tuple(t.split("+")) for t in tab["term"]]

    @cached_property
    def _rows(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(self.panel.frame[["branch_id", "period"]])

    @cached_property
    def _main(self) -> dict[str, np.ndarray]:
        """Per programme, the (branch-months x coefficients) matrix whose row ``r`` holds the
        weights on the coefficients of the programme's effect in branch-month ``r`` (its cell
        times its scale; in firm-wide months the pilot's cells by their shares, as
        :meth:`JointEffects.cell_weights`)."""
        eff = self.effects
        columns = eff.design.regressors.columns
        out = {}
        for name in self.programmes:
            cells = eff.design.cell_of[name]
            pos = self._rows.get_indexer(pd.MultiIndex.from_frame(cells[["branch_id", "period"]]))
            mat = np.zeros((len(self._rows), len(columns)))
            cell = cells["cell"].to_numpy()
            scale = cells["scale"].to_numpy(dtype=float)
            on_firm = cell == f"{name}|pilot_mean"
            mat[pos[~on_firm], columns.get_indexer(cell[~on_firm])] = scale[~on_firm]
            if on_firm.any():
                share = pd.Series(cell[~on_firm]).value_counts(normalize=True, sort=False)
                mat[np.ix_(pos[on_firm], columns.get_indexer(share.index))] = (
                    scale[on_firm, None] * share.to_numpy()[None, :]
                )
            out[name] = mat
        return out

    def _set_columns(self, terms: list[tuple[str, ...]]) -> dict[tuple[str, ...], np.ndarray]:
        """Each set's column: the product of its members' scales (non-zero where all are on)."""
        return {t: np.prod(self.active[list(t)].to_numpy(), axis=1) for t in terms}

    @cached_property
    def _term_x(self) -> dict[tuple[str, ...], np.ndarray]:
        """Each estimated interaction's column."""
        return self._set_columns(self.estimated_terms())

    @cached_property
    def _pooled_x(self) -> dict[tuple[str, ...], np.ndarray]:
        """Each pooled set's column, as if estimated."""
        return self._set_columns(self.pooled_terms())

    def _positions(self, rows: pd.DataFrame) -> np.ndarray:
        """The panel row of each of ``rows`` (by ``branch_id, period``)."""
        frame = self.panel.frame
        pos = frame.index.get_indexer(rows.index)
        if (pos >= 0).all() and (
            np.array_equal(frame["branch_id"].to_numpy()[pos], rows["branch_id"].to_numpy())
            and np.array_equal(frame["period"].to_numpy()[pos], rows["period"].to_numpy())
        ):
            return pos  # rows taken from the panel's frame (the usual case): no lookup
        pos = self._rows.get_indexer(pd.MultiIndex.from_frame(rows[["branch_id", "period"]]))
        if (pos < 0).any():
            raise ValueError("weights: rows not in the panel")
        return pos

    def weights(
        self, rows: pd.DataFrame, component: str, part: str = "joint"
    ) -> dict[str, pd.Series]:
        """Coefficient weights of a mean effect over ``rows`` (``branch_id, period, weight``).

        ``part`` is ``"joint"`` (all programmes together), ``"overlap"`` (the interactions
        only), ``"shapley:<name>"`` (the programme's Shapley share) or ``"main:<name>"`` (its
        cells only, without a share of the interactions).
        """
        columns = self.effects.design.regressors.columns
        pos = self._positions(rows)
        wvec = np.zeros(len(self._rows))
        np.add.at(wvec, pos, rows["weight"].to_numpy(dtype=float))
        kind, _, name = part.partition(":")
        if kind not in ("joint", "overlap", "shapley", "main"):
            raise ValueError(f"part must be joint, overlap, shapley:<name> or main:<name>: {part}")
        out = np.zeros(len(columns))
        mains = self.programmes if kind == "joint" else () if kind == "overlap" else (name,)
        for k in mains:
            out += wvec @ self._main[k]
        if kind != "main":
            for term, x in self._term_x.items():
                if kind == "shapley" and name not in term:
                    continue
                share = 1.0 / len(term) if kind == "shapley" else 1.0
                out[columns.get_loc(_term_label(term))] += share * float(wvec @ x)
        # a pooled set's dividend is fixed at 0 (no coefficient): its weight is carried under
        # its label all the same, so that infer() can give the range of the combination over
        # the dividends the substitutes assumption allows (see dividend_range)
        pooled = {}
        if kind != "main":
            for term, x in self._pooled_x.items():
                if kind == "shapley" and name not in term:
                    continue
                reach = float(wvec @ x)
                if reach:
                    share = 1.0 / len(term) if kind == "shapley" else 1.0
                    pooled[_term_label(term)] = share * reach
        w = pd.Series(out, index=columns)
        if pooled:
            w = pd.concat([w, pd.Series(pooled, dtype=float)])
        if component not in self.effects.fits and component == "net_rate":
            return {c: wc * w for c, wc in self.panel.weights.items()}
        return {component: w}

    def branch_month_effects(self, component: str = "net_rate") -> pd.DataFrame:
        """The modelled effect in every branch-month (the panel's rows): ``branch_id, period,
        combination`` (the programmes active), ``joint`` (all programmes together, the
        outcome minus the world without any programme) and each programme's Shapley part
        (its cells plus an equal share of every estimated interaction it belongs to), and
        ``marginal:<name>``, its effect with the others active there on (its cells plus every
        estimated interaction it belongs to)."""
        fits = self.effects.fits
        comps = {component: 1.0} if component in fits else dict(self.panel.weights)
        columns = self.effects.design.regressors.columns
        out = self.panel.frame[["branch_id", "period"]].copy()
        on = (self.active > 0).to_numpy()
        names = np.asarray(self.programmes)
        out["combination"] = ["+".join(names[r]) for r in on]
        parts = {name: np.zeros(len(out)) for name in self.programmes}
        marginal = {name: np.zeros(len(out)) for name in self.programmes}
        for comp, scale in comps.items():
            params = fits[comp].params.reindex(columns).fillna(0.0).to_numpy()
            for name in self.programmes:
                main = scale * (self._main[name] @ params)
                parts[name] += main
                marginal[name] += main
            for term, x in self._term_x.items():
                d = scale * params[columns.get_loc(_term_label(term))]
                for name in term:
                    parts[name] += d * x / len(term)
                    marginal[name] += d * x
        out["joint"] = sum(parts.values()) if parts else 0.0
        for name in self.programmes:
            out[name] = parts[name]
            out[f"marginal:{name}"] = marginal[name]
        return out

    def infer(self, weights: dict[str, pd.Series]) -> LinearEffect:
        """Estimate and inference of a linear combination (:meth:`JointEffects.infer`).

        Cluster-robust errors are too small for a programme reaching few branches (a pilot;
        Conley & Taber 2011) and do not carry the error of extrapolating a pilot of any size
        to the firm-wide months, and everything the pilot's effect is extrapolated to rests on
        them: on the default world the AI assistant's firm-wide months, hence the month
        effects of the last months and the world without any programme there. A combination
        that reaches a pilot's cells has its estimate re-computed in every placebo draw
        (:attr:`placebo`: the regression with the pilot moved to other branches, every
        coefficient re-fitted); where the variance over the draws exceeds the cluster-robust
        variance of the combination's part on the pilot's cells, the excess is added:
        ``se^2 = se_CR^2 + max(0, var_placebo - se_CR(pilot part)^2)``; the interval then
        takes the smaller of the degrees of freedom and the placebo's.
        """
        res = self._placebo_widened(weights)
        lower, upper = self._pooled_range(weights)
        if lower or upper:
            res = replace(res, lower=lower, upper=upper)
        return res

    def _placebo_widened(self, weights: dict[str, pd.Series]) -> LinearEffect:
        """:meth:`JointEffects.infer`, the standard error widened by the placebo spread."""
        res = self.effects.infer(weights)
        extra, touched = 0.0, False
        for name, draws in self.placebo.items():
            part: dict[str, pd.Series] = {}
            values = np.zeros(len(next(iter(draws.values()))))
            for comp, w in weights.items():
                wp = w[w.index.str.startswith(f"{name}|")]
                if comp in draws and np.any(wp != 0):
                    part[comp] = wp
                if comp in draws:
                    values += draws[comp].reindex(columns=w.index, fill_value=0.0).to_numpy() @ w
            if not part:
                continue
            touched = True
            var_placebo = float(np.var(values, ddof=1))
            # the part's cluster-robust variance (its degrees of freedom are not needed)
            inf = sum(self.effects.fits[c].linear_influence(w).to_numpy() for c, w in part.items())
            extra += max(0.0, var_placebo - float(np.sum(inf**2)))
        if not touched:
            return res
        se = float(np.sqrt(res.se**2 + extra))
        df = float(np.nanmin([res.df, self.placebo_df]))
        influence = res.influence * (se / res.se) if res.se > 0 else res.influence
        return LinearEffect(res.estimate, se, df, influence)

    def dividend_range(self, term: tuple[str, ...], component: str) -> tuple[float, float]:
        """The values a pooled set's interaction (Harsanyi dividend) on ``component`` may
        take under the substitutes assumption, ``(lo, hi)`` with 0 in it.

        The roll-outs do not identify it (too few branches have the set active together);
        the point estimate takes it as 0 (additivity). The programmes overlap as substitutes:
        together they do at most what their parts do (additivity, dividend 0) and at least
        what their best member does alone (perfect substitutes, :func:`substitutes_dividend`).
        The members' effects alone are the model's own, and they depend on the dividend: a
        member's cells absorb the part of a pooled interaction that the design cannot tell
        from them (on a pilot whose branches mostly run two other programmes, most of it), so
        with the dividend fixed at ``d`` and the regression re-fitted, each member's effect
        alone moves. The perfect-substitutes end is the model consistent with perfect
        substitution: the dividends ``d*`` (every pooled set, jointly) with each ``d*_T`` the
        perfect-substitutes dividend of its members' effects alone in the model re-fitted with
        the pooled dividends fixed at ``d*`` (:attr:`_substitutes_ends`, a fixed point),
        capped in magnitude by the set's joint effect at the additive fit (:attr:`_set_effects`:
        under perfect substitution the dividend is at most the smallest member's effect, which
        is at most the set's; uncapped, the fixed point is amplified without bound where the
        members' cells absorb nearly all of the interaction). Taking the members' effects at
        the additive fit instead (one step of the iteration) understates the range by what
        the cells absorbed. When the members' effects differ in sign (no common work to
        substitute) the range is the point 0.

        A quantity's range is not built from these ranges one by one: the perfect-substitutes
        end is one model, every pooled dividend at its ``d*`` together (:meth:`_pooled_range`).
        """
        d = self._substitutes_ends.get(component, {}).get(tuple(term), 0.0)
        return min(0.0, d), max(0.0, d)

    @cached_property
    def _alone_slopes(self) -> dict[str, dict[str, tuple[float, dict[tuple[str, ...], float]]]]:
        """Per fitted component and programme, ``(tau_k(0), {T: s_kT})``: its effect alone
        (its cells' mean over its treated branch-months) at dividends 0 and, per pooled set
        ``T``, its slope: with the set's dividend fixed at ``d`` the re-fitted effect alone is
        ``tau_k(0) - d * s_kT`` (:attr:`_projections`)."""
        frame = self.panel.frame
        out: dict[str, dict[str, tuple[float, dict[tuple[str, ...], float]]]] = {}
        for comp, fit in self.effects.fits.items():
            out[comp] = {}
            for name in self.programmes:
                rows = frame.loc[self.active[name] > 0, ["branch_id", "period"]]
                rows = rows.assign(weight=1.0 / max(len(rows), 1))
                w = self.weights(rows, comp, f"main:{name}")[comp]
                slopes = {}
                for term in self._pooled_x:
                    beta = self._projections[(term, comp)]
                    slopes[term] = float(w.reindex(beta.index, fill_value=0.0) @ beta)
                out[comp][name] = (fit.linear(w)[0], slopes)
        return out

    @cached_property
    def _set_effects(self) -> dict[str, dict[tuple[str, ...], float]]:
        """Per fitted component and pooled set ``T``, ``v_T``: the set's joint effect as the
        additive fit (every pooled dividend 0) states it, the mean over the branch-months with
        every member of ``T`` active of the members' modelled effects there (each member's
        cells times its scale, as :attr:`_main`, plus every estimated interaction among
        them; the other programmes active there are left out).

        It caps the set's perfect-substitutes dividend (:attr:`_substitutes_ends`). What the
        data identify where the whole set is active is the set's joint effect; how it splits
        into the members' cells and the pooled interaction is what they do not identify. So
        ``v_T`` is taken at the additive fit and does not move with the dividends (where the
        members' cells absorb the interaction, re-fitting with ``d_T`` fixed moves them by
        about ``-d_T`` over those branch-months and the joint effect little), and it stays
        finite where they absorb the whole of it, which is where the uncapped fixed point is
        unbounded."""
        columns = self.effects.design.regressors.columns
        out: dict[str, dict[tuple[str, ...], float]] = {}
        for comp, fit in self.effects.fits.items():
            out[comp] = {}
            for term in self._pooled_x:
                on = (self.active[list(term)] > 0).all(axis=1).to_numpy()
                wvec = on / max(int(on.sum()), 1)
                w = np.zeros(len(columns))
                for name in term:
                    w += wvec @ self._main[name]
                for sub, x in self._term_x.items():
                    if set(sub) <= set(term):
                        w[columns.get_loc(_term_label(sub))] += float(wvec @ x)
                out[comp][term] = fit.linear(pd.Series(w, index=columns))[0]
        return out

    @cached_property
    def _substitutes_ends(self) -> dict[str, dict[tuple[str, ...], float]]:
        """Per fitted component, every pooled set's perfect-substitutes dividend ``d*_T``: the
        fixed point ``d*_T = clip(substitutes_dividend(tau_k(d*) for k in T), -|v_T|, |v_T|)``
        over every pooled set jointly, with ``tau_k(d) = tau_k(0) - sum_T d_T s_kT``
        (:attr:`_alone_slopes`) and ``v_T`` the set's joint effect at the additive fit
        (:attr:`_set_effects`; :func:`clipped_fixed_point`).

        Uncapped, the map's slopes are the ``s_kT`` (the fraction of the interaction a
        member's cells absorb) and its fixed point is amplified by ``1 / (1 - s)``: where a
        member's cells absorb nearly all of the interaction (a pilot of a few branches, most
        of them running the other programmes) it is unbounded, and on such worlds it reached
        dividends many times the programmes' effects (README, the old-pilot worlds). Perfect
        substitution itself bounds it: the set then does what its best member does alone,
        ``v(T) = max_k tau_k``, and the dividend of that game is at most ``min_k |tau_k| <=
        |v(T)|`` in magnitude, so ``|d*_T| <= |v_T|``. The capped map has a fixed point within
        the caps; where the iteration (plain, then damped) does not settle on it, its last
        iterate (within the caps) is kept, with a warning."""
        out: dict[str, dict[tuple[str, ...], float]] = {}
        for comp, alone in self._alone_slopes.items():
            tau0 = {k: v[0] for k, v in alone.items()}
            slopes = {k: v[1] for k, v in alone.items()}
            bounds = {t: abs(v) for t, v in self._set_effects[comp].items()}
            ends, converged = clipped_fixed_point(tau0, slopes, bounds)
            if not converged:
                logger.warning(
                    "%s: the perfect-substitutes dividends' iteration, each capped by its set's "
                    "joint effect, did not settle; the bound takes its last iterate (within the "
                    "caps)",
                    comp,
                )
            capped = ["+".join(t) for t, d in ends.items() if bounds[t] > 0 and abs(d) >= bounds[t]]
            if capped:
                logger.info(
                    "%s: perfect-substitutes dividends capped by the set's joint effect: %s",
                    comp,
                    ", ".join(capped),
                )
            out[comp] = ends
        return out

    @cached_property
    def _projections(self) -> dict[tuple[tuple[str, ...], str], pd.Series]:
        """Per pooled set and fitted component, the coefficients of the regression of the
        set's column on the design (branch and month effects absorbed, the fit's rows and
        weights): fixing its dividend at ``d`` instead of 0 moves the fit's coefficients by
        ``-d`` times these (least squares is linear in the outcome)."""
        from snr_models.attribution.regression import fe_ols

        frame = self.panel.frame
        regs = self.effects.design.regressors
        data = pd.concat([frame[["branch_id", "period"]], regs], axis=1)
        out = {}
        for comp in self.effects.fits:
            keep = np.isfinite(frame[comp].to_numpy(dtype=float))
            weight = None
            if self.effects.weighting == "client":
                weight = "__w"
                data["__w"] = frame[DENOMINATORS[comp]].to_numpy(dtype=float)
                keep &= data["__w"].to_numpy() > 0
            for term, x in self._pooled_x.items():
                sub = data.loc[keep].assign(__x=x[keep])
                with _one_blas_thread():
                    fit = fe_ols(
                        sub,
                        "__x",
                        list(regs.columns),
                        fixed_effects=["branch_id", "period"],
                        weights=weight,
                        vcov=False,
                    )
                out[(term, comp)] = fit.params.fillna(0.0)
        return out

    def _pooled_range(self, weights: dict[str, pd.Series]) -> tuple[float, float]:
        """How far a linear combination moves from the additive model (every pooled dividend
        0) to the perfect-substitutes model (every pooled dividend at its end ``d*_T``,
        :attr:`_substitutes_ends`), ``(lower, upper)`` with 0 in it.

        Each dividend moves the combination directly (its weight under the set's label) and
        through the coefficients re-fitted with it (:attr:`_projections`); least squares is
        linear in the outcome, so the model with every dividend at ``d*`` moves it by ``sum
        slope_T * d*_T`` over the pooled sets and the fits (the components of a net-rate
        combination, each at its own ``d*``). The perfect-substitutes end is one model, so
        the range is the segment between the two models, ``[min(0, move), max(0, move)]``:
        dividends moving the combination in opposite directions (a pair's and a triple's, of
        opposite signs) cancel, as they do in that model, rather than each adding its own
        extreme (a box over the dividends, which no single model attains)."""
        move = 0.0
        for comp, w in weights.items():
            ends = self._substitutes_ends.get(comp, {})
            for term in self._pooled_x:
                d = ends.get(term, 0.0)
                beta = self._projections.get((term, comp))
                if beta is None or d == 0.0:
                    continue
                direct = float(w.get(_term_label(term), 0.0))
                slope = direct - float(w.reindex(beta.index, fill_value=0.0) @ beta)
                move += slope * d
        return min(0.0, move), max(0.0, move)

    def pooled_reach(self, rows: pd.DataFrame, name: str | None = None) -> tuple[list[str], int]:
        """The programmes with which ``name`` (or any programme) is active in ``rows`` in a
        pooled set (interaction assumed zero), and the number of such branch-months."""
        pos = self._positions(rows)
        inside = np.zeros(len(self._rows), dtype=bool)
        inside[pos[pos >= 0]] = True
        partners: set[str] = set()
        reached = np.zeros(len(self._rows), dtype=bool)
        for term in self.pooled_terms():
            if name is not None and name not in term:
                continue
            on = (self.active[list(term)] > 0).all(axis=1).to_numpy() & inside
            if on.any():
                partners |= set(term) - ({name} if name else set())
                reached |= on
        return sorted(partners), int(reached.sum())

    def pilot_reach(self, rows: pd.DataFrame) -> dict[str, tuple[int, int]]:
        """Per firm-wide programme active firm-wide in ``rows``: the number of branches of its
        pilot, from which its firm-wide months are extrapolated (every branch has it there, so
        nothing else identifies it), and the number of such branch-months in ``rows``."""
        frame = self.panel.frame
        pos = self._positions(rows)
        out = {}
        for name, start in self.panel.firm_start.items():
            if name not in self.active:
                continue
            early = (frame["period"] < start).to_numpy()
            on = (self.active[name] > 0).to_numpy()
            n_pilot = int(frame.loc[on & early, "branch_id"].nunique())
            n_firm = int((~early[pos] & on[pos]).sum())
            if n_pilot and n_firm:
                out[name] = (n_pilot, n_firm)
        return out

    def combinations(self, component: str = "net_rate") -> pd.DataFrame:
        """Effect of each combination of programmes active together, averaged over its
        branch-months, with its interval: ``combination, n_branch_months, n_branches,
        estimate, se, lo, hi, df, assumed_additive`` (the pooled sets it contains)."""
        frame = self.panel.frame
        on = self.active > 0
        key = on.apply(lambda r: "+".join(np.asarray(self.programmes)[r.to_numpy()]), axis=1)
        rows = []
        for combo, idx in frame.groupby(key.to_numpy()).groups.items():
            if not combo:
                continue
            sub = frame.loc[idx, ["branch_id", "period"]].assign(weight=1.0 / len(idx))
            res = self.infer(self.weights(sub, component))
            lo, hi = res.interval(self.alpha)
            members = set(combo.split("+"))
            pooled = ["+".join(t) for t in self.pooled_terms() if set(t) <= members and len(t) > 1]
            rows.append(
                {
                    "combination": combo,
                    "n_branch_months": len(idx),
                    "n_branches": int(frame.loc[idx, "branch_id"].nunique()),
                    "estimate": res.estimate,
                    "se": res.se,
                    "lo": lo,
                    "hi": hi,
                    "df": res.df,
                    "assumed_additive": ", ".join(pooled),
                }
            )
        return pd.DataFrame(rows).sort_values("n_branch_months", ascending=False, kind="stable")

    def no_programme_path(self, component: str = "net_rate") -> pd.DataFrame:
        """Per month: the firm-wide ``observed`` component and the ``estimate`` (with ``se,
        lo, hi``) of the world without any programme (observed minus the programmes' joint
        effect, denominator-weighted over branches as the firm-wide figure)."""
        frame = self.panel.frame
        comps = list(self.panel.weights) if component == "net_rate" else [component]
        months = {}
        for comp in comps:
            den = DENOMINATORS[comp]
            sub = pd.DataFrame(
                {"branch_id": frame["branch_id"], "period": frame["period"], "y": frame[comp]},
                index=frame.index,
            )[frame[den] > 0]
            sub["weight"] = frame[den] / frame[den][frame[den] > 0].groupby(
                sub["period"]
            ).transform("sum")
            months[comp] = sub.groupby("period").indices
            months[comp + "|rows"] = sub
        rows = []
        for month in self.panel.periods:
            w: dict[str, pd.Series] = {}
            obs = 0.0
            for comp in comps:
                scale = self.panel.weights[comp] if component == "net_rate" else 1.0
                sub = months[comp + "|rows"].iloc[months[comp].get(month, [])]
                obs += scale * float(np.sum(sub["weight"] * sub["y"]))
                for c, s in self.weights(sub, comp).items():
                    w[c] = w[c].add(scale * s, fill_value=0.0) if c in w else scale * s
            res = self.infer(w)
            lo, hi = res.interval(self.alpha)
            if not any(np.any(v.to_numpy() != 0) for v in w.values()):
                lo = hi = 0.0  # no programme active anywhere this month: observed exactly
            est = obs - res.estimate
            rows.append(
                {
                    "period": month,
                    "observed": obs,
                    "estimate": est,
                    "se": res.se,
                    "lo": obs - hi,
                    "hi": obs - lo,
                }
            )
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """The effect of each combination on the net rate (:meth:`combinations`)."""
        return self.combinations()

    def summary(self) -> str:
        """Text: the interactions estimated and pooled, and the combinations' effects."""
        terms = self.terms.to_string(index=False) if len(self.terms) else "(none)"
        return (
            "Imputation (BJS) with programme interactions, branch-clustered CR2\n"
            f"Interactions:\n{terms}\nEffect of each combination on the net rate:\n"
            + self.combinations().to_string(index=False, float_format=lambda v: f"{v:.4f}")
        )

    def plot(self, component: str = "net_rate"):  # noqa: ANN201 - matplotlib imported lazily
        """The observed firm-wide ``component`` and the world without any programme (a Figure)."""
        import matplotlib.pyplot as plt

        path = self.no_programme_path(component)
        fig, ax = plt.subplots(figsize=(8, 3.8))
        ax.plot(path["period"], path["observed"], color="black", label="observed")
        ax.plot(path["period"], path["estimate"], color="tab:blue", label="without programmes")
        ax.fill_between(path["period"], path["lo"], path["hi"], color="tab:blue", alpha=0.2)
        ax.set_title(f"{component}: observed and without any programme")
        ax.legend(loc="best")
        fig.tight_layout()
        return fig


def estimate_overlap(
    panel: BranchPanel,
    *,
    interventions: tuple[str, ...] | None = None,
    components: tuple[str, ...] = COMPONENTS,
    alpha: float = 0.05,
    min_branch_months: int = 12,
    min_branches: int = 8,
    weighting: str = "branch_month",
    se: str = "CR2",
    joint: JointEffects | None = None,
    n_placebo: int = 20,
    random_state: int | None = 0,
    cells: str = "auto",
) -> OverlapEffects:
    """Impute the world without any programme, with programme interactions (see module doc).

    Parameters
    ----------
    panel : BranchPanel
        From :func:`~snr_models.metrics.panel.build_panel`.
    interventions, components, alpha
        As :func:`~snr_models.attribution.joint.estimate_joint` (default: every intervention,
        S, R, E and the net rate, 95% intervals).
    min_branch_months, min_branches : int
        Support an interaction needs to be estimated rather than pooled (in a firm-wide
        programme's pilot months only: its firm-wide months do not identify it). The default
        ``min_branches`` is the joint model's ``min_treated_branches``: with fewer branches,
        cluster-robust errors are too small and the interaction too noisy to trust.
    weighting, se
        As there.
    joint : JointEffects, optional
        The joint model on the same panel (it says which programmes reach too few branches
        for cluster-robust errors, method ``+placebo_se``; estimated when not given).
    n_placebo, random_state
        Placebo draws of each pilot's timing moved to other branches, as the joint model's
        (:meth:`OverlapEffects.infer`): for the programmes with ``+placebo_se`` and for every
        programme whose firm-wide months are extrapolated from a pilot, whatever the pilot's
        size. After the firm-wide start no branch-month is untouched by such a programme, so
        the month effects there, and the world without any programme, rest on the pilot's
        estimate; its cluster-robust error counts the pilot branches' noise as independent
        across branches, while a shock shared by the pilot branches during the pilot moves
        the estimate and, through the extrapolation, every firm-wide month at once. The
        placebo spread measures what such a draw of pilot branches does.
    cells : {"auto", "event_time", "cohort"}
        The programmes' effect cells: one per programme and event time, pooled over its
        cohorts, or one per cohort and event time as the joint model's; ``"auto"`` (default)
        pools them when some month has no branch-month untouched by any programme, the case
        below (otherwise the month effects rest on untouched branch-months and the cells
        stay the joint model's, so that on roll-outs that never overlap the answer is the
        additive waterfall's exactly). On the
        simulator's default world no branch-month is untouched by any programme from the
        19th month on; a cohort's cell at event time ``e`` then sits in one calendar month, so
        the late months' cells are free parameters beside the month effects, which are then
        identified only through the additivity and interaction restrictions across
        combinations of programmes, i.e. through what the roll-outs identify least (the
        README's overlap diagnosis: the joint effect's error sat in the firm-wide months,
        equal across combinations, -0.034 over the last three months). Pooled by event time,
        a late cohort's cells are the earlier cohorts' at the same time since roll-out,
        estimated in months with untouched branches, and the late month effects follow from
        them. The assumption is that a programme's effect depends on the time since it
        arrived (ramp-up, fading, refreshers) and not on the cohort; its interactions with
        the other programmes are modelled separately.

    Returns
    -------
    OverlapEffects

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> from snr_models.metrics.panel import build_panel
    >>> tables = simulate(n_clients=2_000, n_branches=10, n_months=12, seed=2, truth=False).tables
    >>> res = estimate_overlap(build_panel(tables), components=("net_rate",))
    >>> set(res.terms["status"]) <= {"estimated", "pooled"}
    True
    """
    if weighting not in ("branch_month", "client"):
        raise ValueError(f"weighting must be 'branch_month' or 'client', not {weighting!r}")
    names = tuple(interventions or panel.interventions)
    if cells not in ("auto", "event_time", "cohort"):
        raise ValueError(f"cells must be 'auto', 'event_time' or 'cohort', not {cells!r}")
    if cells == "auto":
        untouched = ~(panel.frame[list(names)] > 0).any(axis=1)
        every_month = panel.frame.loc[untouched, "period"].nunique() == len(panel.periods)
        cells = "cohort" if every_month else "event_time"
    design = _design(panel, names)
    if cells == "event_time":
        design = _pool_cohorts(design)
    identified = tuple(n for n in names if design.method[n] != "not_identified")
    scales = _scales(panel, design, identified)
    with _one_blas_thread():
        extra, terms = _admit_terms(
            panel, design, scales, identified, min_branch_months, min_branches
        )
        full = _Design(
            regressors=pd.concat([design.regressors, extra], axis=1),
            cell_of=design.cell_of,
            method=design.method,
        )
        fits = _fit_all(panel, full, components, weighting, vcov=True, se=se)
    for row in terms[terms["status"] == "pooled"].itertuples():
        logger.info("overlap of %s pooled (additivity assumed): %s", row.term, row.reason)
    effects = JointEffects(
        table=pd.DataFrame(),
        fits=fits,
        design=full,
        panel=panel,
        alpha=alpha,
        weighting=weighting,
    )
    joint = joint or estimate_joint(
        panel, interventions=names, components=components, alpha=alpha, weighting=weighting, se=se
    )
    pilots = sorted(
        {r.intervention for r in joint.table.itertuples() if "+placebo_se" in r.method}
        | {n for n in identified if design.method[n] == "did_pilot_scaled"}
    )
    rng = np.random.default_rng(random_state)
    placebo = {
        name: _placebo_draws(
            panel, full, name, tuple(fits), weighting, n_placebo, rng, cells == "event_time"
        )
        for name in pilots
    }
    return OverlapEffects(
        effects=effects,
        terms=terms,
        active=scales,
        alpha=alpha,
        placebo=placebo,
        placebo_df=float(n_placebo - 1) if placebo else float("nan"),
        cells=cells,
    )


def _placebo_draws(
    panel: BranchPanel,
    design: _Design,
    name: str,
    components: tuple[str, ...],
    weighting: str,
    n_placebo: int,
    rng: np.random.Generator,
    pooled: bool = False,
) -> dict[str, pd.DataFrame]:
    """Per component, every coefficient (draws x columns of the design) of the regression with
    ``name``'s timing moved to a random permutation of the branches (the joint model's
    placebo, as :func:`~snr_models.attribution.joint.estimate_joint`); the other columns,
    interactions included, are those of the design. Cells a draw lacks count as 0."""
    own = [c for c in design.regressors.columns if str(c).startswith(f"{name}|")]
    fixed = design.regressors.drop(columns=own)
    columns = design.regressors.columns
    with _one_blas_thread():
        blocks = [_FixedBlock(panel, fixed, comp, weighting) for comp in components]
        blocks = [b for b in blocks if b.usable]
        rows: dict[str, list[pd.Series]] = {b.component: [] for b in blocks}
        for labels, xn, _ in _permuted_cells(panel, name, n_placebo, rng):
            if pooled:
                labels, xn = _pool_columns(labels, xn)
            for b in blocks:
                kept, new = b.coefficients(xn)
                coef = np.concatenate([kept, new])
                index = [*fixed.columns, *labels]
                rows[b.component].append(pd.Series(coef, index=index, dtype=float))
    return {
        comp: pd.DataFrame(draws).reindex(columns=columns).fillna(0.0)
        for comp, draws in rows.items()
    }


def impute_untreated(
    panel: BranchPanel, component: str = "net_rate", interventions: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """The two-stage imputation of BJS (2024) / Gardner (2022), without a model of the effects.

    Stage one fits ``Y = a_b + l_t`` on the branch-months untouched by any programme; stage two
    imputes ``Y0`` for every treated branch-month whose branch and month both have untreated
    branch-months and returns ``tau = Y - Y0``. Branch-months whose month (or branch) has no
    untreated branch-month cannot be imputed this way and are left out (column ``imputable``
    False, ``tau`` NaN): on the simulator's default world that is every month from the 19th.

    Returns
    -------
    DataFrame
        ``branch_id, period, treated, imputable, y0, tau`` for every branch-month with the
        component observed.
    """
    names = tuple(interventions or panel.interventions)
    frame = panel.frame
    y = frame[component].to_numpy(dtype=float)
    treated = (frame[list(names)] > 0).any(axis=1).to_numpy()
    ok = np.isfinite(y)
    untreated = ok & ~treated
    b = _codes(frame["branch_id"])
    t = _codes(frame["period"])
    a, lam = _two_way_effects(y[untreated], b[untreated], t[untreated], b.max() + 1, t.max() + 1)
    imputable = ok & np.isfinite(a[b]) & np.isfinite(lam[t])
    y0 = np.where(imputable, a[b] + lam[t], np.nan)
    y0 = np.where(untreated, y, y0)
    out = frame.loc[ok, ["branch_id", "period"]].copy()
    out["treated"] = treated[ok]
    out["imputable"] = imputable[ok]
    out["y0"] = y0[ok]
    out["tau"] = np.where(treated, y - y0, 0.0)[ok]
    return out.reset_index(drop=True)


def _two_way_effects(
    y: np.ndarray, b: np.ndarray, t: np.ndarray, n_b: int, n_t: int
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares branch and month effects (NaN for levels without observations); the
    fitted values ``a_b + l_t`` are unique for a connected design."""
    x = np.column_stack([np.eye(n_b)[b], np.eye(n_t)[t]])
    coef = np.linalg.lstsq(x, y, rcond=RANK_RTOL)[0]
    a, lam = coef[:n_b].copy(), coef[n_b:].copy()
    a[np.bincount(b, None, n_b) == 0] = np.nan
    lam[np.bincount(t, None, n_t) == 0] = np.nan
    return a, lam
