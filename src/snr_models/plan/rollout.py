"""Will a planned roll-out be measurable? Design diagnosis by simulation on the team's own panel.

:func:`plan_rollout` answers, before anything is rolled out, what :func:`estimate_joint` (the
estimator of ``snr attribute``) will be able to say about a new intervention rolled out to
``branches`` branches over ``months`` months in a given design, if its true effect on a
component is ``effect``:

1. The history's structure. The joint regression of every existing intervention on the
   component is fitted once on the branch x month panel: its fitted values hold the branch
   effects, the months' common shocks (seasonality, market) and the interventions' fitted
   effects; its residuals, rescaled to the errors' variance (``n / residual dof``), hold each
   branch's own noise and autocorrelation.
2. Each replicate draws ``branches`` whole branches of the history (a block bootstrap of
   branches: a branch's months stay together; without replacement up to the history's number
   of branches, beyond it with replacement), each with its fitted values, its past roll-outs
   and its residual series multiplied by a random sign (a wild bootstrap, so that a repeated
   branch does not carry the same noise; its second copy's series is also reversed in time).
   The planned roll-out is assigned at random in the last ``months`` months (``design``:
   ``staggered``, ``K`` cohorts at evenly spaced months and a last wave after the window as
   the never-treated controls; ``pilot``, a share of the branches halfway through;
   ``firmwide``, a pilot at a third and every branch at two thirds, identified through its
   pilot as in ``snr attribute``), ``effect`` is added to the treated branch-months, and
   :func:`~snr_models.attribution.joint.estimate_joint` is applied with every intervention in
   the regression (CR2 errors, Bell-McCaffrey degrees of freedom, the placebo spread when fewer
   than eight branches are treated).
3. Over the replicates: the power (share of intervals excluding 0), the bias and coverage of
   the interval, its expected width, and the minimum detectable effect at the target power.

The estimate is linear in the injected effect and the standard error does not depend on it
(the saturated cells absorb a constant shift exactly when every treated cell has data:
``tests/plan/test_rollout.py`` checks it), so each replicate's estimate minus the injected
effect gives the power at any other effect without refitting (:meth:`RolloutPlan.power_at`);
for a design on the placebo spread (a pilot on fewer than eight branches) that curve is an
approximation, exact at the stated effect.

The effect is injected additively into the branch-month component; what a real intervention
does to clients, and through them to the component, may be noisier. Validated against the
simulator in ``benchmarks/plan_power.py`` (README): the power planned on each world's history
against the share of significant estimates when the roll-out then happens in its future.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from snr_models.attribution.inference import t_value
from snr_models.attribution.joint import (
    JointEffects,
    _n_branch_level_treated,
    effect_for_outcomes,
    estimate_joint,
)
from snr_models.errors import SnrInputError
from snr_models.metrics.panel import COMPONENTS, DENOMINATORS, BranchPanel

logger = logging.getLogger(__name__)

Design = Literal["staggered", "pilot", "firmwide"]
DESIGNS: tuple[str, ...] = ("staggered", "pilot", "firmwide")
PLANNED = "planned"  # the planned intervention's column in the simulated panels


@dataclass(frozen=True)
class PlannedDesign:
    """A planned roll-out: who gets the intervention when, within a window of ``months``.

    Attributes
    ----------
    design : {"staggered", "pilot", "firmwide"}
    branches : int
        Branches in the evaluation.
    months : int
        Months of the evaluation window.
    cohorts : int
        Staggered: the waves inside the window (a last wave after it gives the controls).
    pilot_share : float
        Pilot and firm-wide: the share of branches in the pilot (at least one).
    """

    design: str = "staggered"
    branches: int = 20
    months: int = 12
    cohorts: int = 2
    pilot_share: float = 0.25

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise SnrInputError(f"plan: design must be one of {DESIGNS}, not {self.design!r}")
        if self.branches < 2:
            raise SnrInputError(f"plan: branches must be at least 2, not {self.branches}")
        if self.months < 3:
            raise SnrInputError(f"plan: months must be at least 3, not {self.months}")
        if self.cohorts < 1 or (self.design == "staggered" and self.cohorts >= self.months):
            raise SnrInputError(
                f"plan: cohorts must be between 1 and months - 1 ({self.months - 1}), "
                f"not {self.cohorts}"
            )
        if not 0 < self.pilot_share < 1:
            raise SnrInputError(f"plan: pilot_share must be in (0, 1), not {self.pilot_share}")

    def assignment(self, rng: np.random.Generator) -> tuple[np.ndarray, int | None]:
        """A random assignment: the dose (``branches x months``, 0 or 1) and, for a firm-wide
        roll-out, the month index it reaches every branch."""
        n, m = self.branches, self.months
        dose = np.zeros((n, m))
        order = rng.permutation(n)
        if self.design == "staggered":
            groups = np.array_split(order, self.cohorts + 1)  # the last: after the window
            for k, members in enumerate(groups[:-1], start=1):
                dose[members, int(round(m * k / (self.cohorts + 1))) :] = 1.0
            return dose, None
        pilot = order[: max(1, int(round(n * self.pilot_share)))]
        if self.design == "pilot":
            dose[pilot, m // 2 :] = 1.0
            return dose, None
        start, firm = max(1, m // 3), max(2, (2 * m) // 3)
        dose[pilot, start:] = 1.0
        dose[:, firm:] = 1.0
        return dose, firm

    def label(self) -> str:
        """Short description, e.g. ``staggered 20 branches x 12 months, 2 cohorts``."""
        extra = f", {self.cohorts} cohorts" if self.design == "staggered" else ""
        if self.design != "staggered":
            extra = f", pilot {self.pilot_share:.0%}"
        return f"{self.design} {self.branches} branches x {self.months} months{extra}"


@dataclass(frozen=True)
class _History:
    """The history's branch x month arrays that a replicate resamples."""

    periods: pd.DatetimeIndex
    columns: dict[str, np.ndarray]  # components and denominators, branches x months
    fitted: np.ndarray  # the component's fitted values (branch, month, cells), branches x months
    resid: np.ndarray  # and its residuals (NaN where the component is missing)
    dose: dict[str, np.ndarray]  # per existing intervention, branches x months
    firm_start: dict[str, pd.Timestamp]
    weights: dict[str, float]

    @classmethod
    def from_panel(cls, panel: BranchPanel, component: str) -> _History:
        frame = panel.frame
        n_b, n_t = frame["branch_id"].nunique(), len(panel.periods)
        if len(frame) != n_b * n_t:
            raise SnrInputError("plan: the panel must be the full branch x month product")
        cols = [*COMPONENTS, *DENOMINATORS.values()]
        y = frame[component].to_numpy(dtype=float)
        resid = np.full(len(y), np.nan)
        ok = np.isfinite(y)
        n_par = 0
        if panel.interventions:
            fit = estimate_joint(panel, components=(component,), report=()).fits[component]
            resid[ok] = fit.residuals
            n_par = int(fit.params.notna().sum())
        else:  # the two-way fixed effects alone
            from snr_models.attribution.regression import demean

            codes = [pd.factorize(frame.loc[ok, c])[0] for c in ("branch_id", "period")]
            resid[ok] = demean(y[ok], codes)
        # residuals are smaller than the errors by the parameters fitted: rescale to the
        # errors' variance (RSS / residual degrees of freedom)
        dof = int(ok.sum()) - n_par - (n_b + n_t - 1)
        if dof <= 0:
            raise SnrInputError(
                f"plan: the history's regression of {component} leaves no residual degrees of "
                f"freedom ({int(ok.sum())} branch-months, {n_par} effect cells)"
            )
        scale = np.sqrt(ok.sum() / dof)
        return cls(
            periods=panel.periods,
            columns={c: frame[c].to_numpy(dtype=float).reshape(n_b, n_t) for c in cols},
            fitted=(y - resid).reshape(n_b, n_t),
            resid=(scale * resid).reshape(n_b, n_t),
            dose={n: frame[n].to_numpy(dtype=float).reshape(n_b, n_t) for n in panel.interventions},
            firm_start=dict(panel.firm_start),
            weights=dict(panel.weights),
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.columns["net_rate"].shape

    def draw(
        self, n: int, rng: np.random.Generator, n_draws: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` branches of the history (without replacement up to its number, beyond it
        with) and ``n_draws`` draws of each one's residual series (``n_draws x n x months``),
        signed at random and, for a branch's second, fourth... copy, reversed in time (a
        repeated branch must not carry the same noise)."""
        n_hist = self.resid.shape[0]
        if n <= n_hist:
            idx = rng.permutation(n_hist)[:n]
        else:
            idx = np.concatenate([rng.permutation(n_hist), rng.integers(n_hist, size=n - n_hist)])
        copy = pd.Series(idx).groupby(idx).cumcount().to_numpy()
        u = self.resid[idx]
        u = np.where((copy % 2 == 1)[:, None], u[:, ::-1], u)
        return idx, u[None] * rng.choice([-1.0, 1.0], size=(n_draws, n))[:, :, None]

    def planned(self, dose: np.ndarray) -> np.ndarray:
        """The planned roll-out ``dose`` placed in the history's last months."""
        planned = np.zeros((dose.shape[0], self.shape[1]))
        planned[:, self.shape[1] - dose.shape[1] :] = dose
        return planned

    def replicate(
        self,
        idx: np.ndarray,
        resid: np.ndarray,
        dose: np.ndarray,
        firm: int | None,
        effect: float,
        component: str,
    ) -> BranchPanel:
        """The panel of the branches ``idx`` (their fitted history, existing roll-outs and the
        residuals ``resid``) and the planned roll-out ``dose`` over the last months, ``effect``
        added to ``component``."""
        n, (_, n_t) = len(idx), self.shape
        planned = self.planned(dose)
        ids = np.array([f"P{i:03d}" for i in range(n)])
        data: dict[str, Any] = {
            "branch_id": np.repeat(ids, n_t),
            "period": np.tile(self.periods.to_numpy(), n),
        }
        for c, arr in self.columns.items():
            data[c] = arr[idx].ravel() if c == component or c in DENOMINATORS.values() else np.nan
        data[component] = (self.fitted[idx] + resid + effect * planned).ravel()
        doses = {name: d[idx] for name, d in self.dose.items()} | {PLANNED: planned}
        for name, d in doses.items():
            data[name] = d.ravel()
            first = np.where(
                d.any(axis=1), self.periods.to_numpy()[d.argmax(axis=1)], np.datetime64("NaT")
            ).astype("datetime64[us]")
            data[f"{name}__first"] = np.repeat(first, n_t)
        firm_start = dict(self.firm_start)
        if firm is not None:
            firm_start[PLANNED] = self.periods[n_t - dose.shape[1] + firm]
        return BranchPanel(
            frame=pd.DataFrame(data),
            interventions=(*self.dose, PLANNED),
            firm_start=firm_start,
            weights=self.weights,
        )


def simulate_design(
    panel: BranchPanel | _History,
    design: PlannedDesign,
    effect: float,
    *,
    n_reps: int = 200,
    component: str = "net_rate",
    alpha: float = 0.05,
    rng: np.random.Generator | None = None,
    progress: Callable[[int], None] | None = None,
    outcomes_per_design: int = 10,
) -> pd.DataFrame:
    """Replicates of the planned roll-out on the history (see the module doc).

    Returns one row per replicate: ``estimate, se, df, lo, hi`` of the planned intervention's
    effect as :func:`~snr_models.attribution.joint.estimate_joint` gives it, ``method``, and
    ``design`` (the number of the design it was drawn in, from 0).
    The replicates come in groups of ``outcomes_per_design`` sharing a design (the branches
    drawn and the assignment) and differing in their residuals' signs: a group's regressions
    share their design matrix, so they are solved at once (exactly the estimator's numbers;
    ``tests/plan/test_rollout.py``). ``1`` draws a new design for every replicate.
    """
    if outcomes_per_design < 1:
        raise SnrInputError(
            f"plan: outcomes_per_design must be at least 1, not {outcomes_per_design}"
        )
    if component not in COMPONENTS:
        raise SnrInputError(f"plan: component must be one of {COMPONENTS}, not {component!r}")
    hist = panel if isinstance(panel, _History) else _History.from_panel(panel, component)
    rng = rng or np.random.default_rng(0)
    n_hist, t_hist = hist.shape
    if design.months > t_hist - 2:
        raise SnrInputError(
            f"plan: {design.months} months planned but the history has {t_hist}; the planned "
            f"roll-out is placed in the history's last months (at most {t_hist - 2})"
        )
    rows: list[dict[str, Any]] = []
    n_designs = 0
    while len(rows) < n_reps:
        k = min(outcomes_per_design, n_reps - len(rows))
        idx, resids = hist.draw(design.branches, rng, k)
        dose, firm = design.assignment(rng)
        seeds = rng.integers(2**31, size=k)
        found = _estimate_design(hist, idx, resids, dose, firm, effect, component, alpha, seeds)
        rows += [r | {"design": n_designs} for r in found]
        n_designs += 1
        if progress is not None:
            progress(k)
    return pd.DataFrame(rows)


_NOT_ESTIMABLE = {"estimate": np.nan, "se": np.nan, "df": np.nan, "lo": np.nan, "hi": np.nan}


def _estimate_design(
    hist: _History,
    idx: np.ndarray,
    resids: np.ndarray,
    dose: np.ndarray,
    firm: int | None,
    effect: float,
    component: str,
    alpha: float,
    seeds: np.ndarray,
) -> list[dict[str, Any]]:
    """The planned effect's estimate for each residual draw of one design (branches ``idx``
    and assignment ``dose``): the first draw through :func:`estimate_joint`, the others as
    columns of the same regression (:func:`effect_for_outcomes`) unless the effect rests on
    the placebo spread, which permutes per outcome (then each through :func:`estimate_joint`).
    """

    def one(j: int) -> tuple[dict[str, Any], JointEffects | None]:
        sim = hist.replicate(idx, resids[j], dose, firm, effect, component)
        try:
            res = estimate_joint(
                sim,
                components=(component,),
                alpha=alpha,
                random_state=int(seeds[j]),
                report=(PLANNED,),
            )
        except SnrInputError as exc:  # no residual degrees of freedom: nothing measurable
            logger.debug("plan replicate not estimable: %s", exc)
            return _NOT_ESTIMABLE | {"method": "not_estimable"}, None
        tab = res.table.iloc[0]
        return {k: tab[k] for k in ("estimate", "se", "df", "lo", "hi", "method")}, res

    first, res = one(0)
    if len(resids) == 1:
        return [first]
    if res is None or "+placebo_se" in res.design.method[PLANNED]:
        if (
            res is None
            and _n_branch_level_treated(
                hist.replicate(idx, resids[0], dose, firm, effect, component), PLANNED
            )
            >= 8
        ):
            # the design has no residual degrees of freedom, whatever the outcome
            return [first] * len(resids)
        return [first, *(one(j)[0] for j in range(1, len(resids)))]
    base = hist.fitted[idx] + effect * hist.planned(dose)
    outcomes = np.stack([(base + r).ravel() for r in resids[1:]], axis=1)
    rest = effect_for_outcomes(res, PLANNED, component, outcomes)
    return [first, *rest.to_dict("records")]


def power_curve(reps: pd.DataFrame, effect: float, effects: np.ndarray, alpha: float) -> np.ndarray:
    """Power at each of ``effects`` from replicates simulated at ``effect`` (estimates shifted
    by the difference; the module doc says when that is exact). A replicate without an estimate
    counts as not significant."""
    e0 = reps["estimate"].to_numpy(dtype=float) - effect
    half = np.array([t_value(alpha, d) for d in reps["df"]]) * reps["se"].to_numpy(dtype=float)
    est = e0[None, :] + np.asarray(effects, dtype=float)[:, None]
    sig = np.abs(est) > half[None, :]
    return np.where(np.isfinite(est) & np.isfinite(half[None, :]), sig, False).mean(axis=1)


def minimum_detectable_effect(
    reps: pd.DataFrame, effect: float, alpha: float, power: float = 0.8
) -> float:
    """Smallest positive effect with at least ``power`` (NaN when none up to ten interval
    half-widths reaches it)."""
    se = reps["se"].to_numpy(dtype=float)
    if not np.isfinite(se).any():
        return float("nan")
    top = 10 * float(np.nanmedian(se)) * t_value(alpha, float(np.nanmedian(reps["df"])))
    grid = np.linspace(0.0, top, 2001)[1:]
    reached = power_curve(reps, effect, grid, alpha) >= power
    return float(grid[np.argmax(reached)]) if reached.any() else float("nan")


def diagnose_replicates(
    reps: pd.DataFrame, effect: float, alpha: float, target: float
) -> dict[str, float]:
    """Power, MDE at ``target``, mean interval width, bias and coverage of the replicates, and
    their numbers of replicates and of distinct designs."""
    ok = reps["estimate"].notna() & reps["se"].notna()
    good = reps[ok]
    cover = (good["lo"] <= effect) & (effect <= good["hi"])
    return {
        "power": float(power_curve(reps, effect, np.array([effect]), alpha)[0]),
        "mde": minimum_detectable_effect(reps, effect, alpha, target),
        "width": float((good["hi"] - good["lo"]).mean()) if len(good) else float("nan"),
        "bias": float(good["estimate"].mean() - effect) if len(good) else float("nan"),
        "coverage": float(cover.mean()) if len(good) else float("nan"),
        "estimable": float(ok.mean()),
        "n_reps": len(reps),
        "n_designs": int(reps["design"].nunique()) if "design" in reps else len(reps),
    }


@dataclass(frozen=True)
class RolloutPlan:
    """What a planned roll-out will let :func:`estimate_joint` see (from :func:`plan_rollout`).

    Attributes
    ----------
    design : PlannedDesign
        The stated design.
    effect : float
        The stated true effect.
    component : str
    alpha, target : float
        Level of the intervals; the power sought.
    replicates : DataFrame
        The stated design's replicates (``estimate, se, df, lo, hi, method``).
    grid : DataFrame
        ``branches, months, power, mde, width, bias, coverage, estimable, n_reps, n_designs,
        stated``: the stated design and the designs around it.
    """

    design: PlannedDesign
    effect: float
    component: str
    alpha: float
    target: float
    replicates: pd.DataFrame = field(repr=False)
    grid: pd.DataFrame = field(repr=False)
    intervention: str = "planned"

    @property
    def stated(self) -> pd.Series:
        """The stated design's row of :attr:`grid`."""
        return self.grid.loc[self.grid["stated"]].iloc[0]

    @property
    def smallest(self) -> pd.Series | None:
        """The design with the fewest branch-months reaching the target power (None if none)."""
        ok = self.grid[self.grid["power"] >= self.target]
        if ok.empty:
            return None
        size = ok["branches"] * ok["months"]
        return ok.loc[size.sort_values(kind="stable").index[0]]

    def power_at(self, effects: Sequence[float] | np.ndarray) -> np.ndarray:
        """The stated design's power at other true effects (see the module doc)."""
        return power_curve(self.replicates, self.effect, np.asarray(effects), self.alpha)

    def to_frame(self) -> pd.DataFrame:
        """The grid of designs with their diagnosis."""
        return self.grid.copy()

    def summary(self) -> str:
        """Text: the stated design's diagnosis, the grid, and the smallest design reaching the
        target power."""
        s = self.stated
        lines = [
            f"Roll-out plan for {self.intervention}: {self.design.label()}",
            f"stated effect on {self.component}: {self.effect:+.4f}; {1 - self.alpha:.0%} "
            f"intervals; {int(s['n_reps'])} replicates",
            f"power {s['power']:.2f}   MDE at {self.target:.0%} power {s['mde']:.4f}   "
            f"interval width {s['width']:.4f}   bias {s['bias']:+.4f}   coverage "
            f"{s['coverage']:.2f}",
            "",
            self.grid.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
            "",
        ]
        best = self.smallest
        if best is None:
            lines.append(f"no design in the grid reaches {self.target:.0%} power")
        else:
            lines.append(
                f"smallest design reaching {self.target:.0%} power: {int(best['branches'])} "
                f"branches x {int(best['months'])} months (power {best['power']:.2f})"
            )
        return "\n".join(lines)

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """Power against branches (one line per window length) and against months (one line
        per number of branches), the target dashed (a Figure)."""
        from snr_models.figures import new_figure

        g = self.grid
        fig = new_figure(figsize=(9, 3.6))
        axes = fig.subplots(1, 2, sharey=True)
        for ax, x, by, unit in (
            (axes[0], "branches", "months", "months"),
            (axes[1], "months", "branches", "branches"),
        ):
            for value, sub in g.groupby(by):
                sub = sub.sort_values(x)
                ax.plot(sub[x], sub["power"], marker="o", label=f"{value}")
            s = self.stated
            ax.plot([s[x]], [s["power"]], marker="*", ms=14, color="black", ls="none")
            ax.axhline(self.target, color="grey", ls="--", lw=0.8)
            ax.set_xlabel(x)
            ax.set_ylim(0, 1.02)
            ax.legend(title=unit, fontsize=8, title_fontsize=8)
        # plain words and codes only, so that the report can put them in its language
        axes[0].set_ylabel("power")
        fig.suptitle(self.intervention)
        fig.tight_layout()
        return fig


def design_grid(design: PlannedDesign, max_months: int) -> list[PlannedDesign]:
    """The stated design and its neighbours: branches x {1/2, 1, 2}, months -6 / +0 / +6
    (within 6 and the history's length)."""
    import dataclasses

    out = []
    months = sorted(
        {m for m in (design.months - 6, design.months, design.months + 6) if 6 <= m <= max_months}
        | {design.months}
    )
    branches = sorted({max(4, design.branches // 2), design.branches, design.branches * 2})
    for b in branches:
        for m in months:
            cohorts = min(design.cohorts, m - 1)
            out.append(dataclasses.replace(design, branches=b, months=m, cohorts=cohorts))
    return out


def plan_rollout(
    panel: BranchPanel,
    effect: float,
    *,
    design: PlannedDesign | None = None,
    component: str = "net_rate",
    intervention: str = "planned",
    alpha: float = 0.05,
    target: float = 0.8,
    n_reps: int = 200,
    n_reps_grid: int = 60,
    grid: bool = True,
    random_state: int | None = 0,
    progress: Callable[[int], None] | None = None,
    outcomes_per_design: int = 10,
    grid_outcomes_per_design: int = 5,
) -> RolloutPlan:
    """Diagnose a planned roll-out on the panel's history (see the module doc).

    Parameters
    ----------
    panel : BranchPanel
        The history (:func:`~snr_models.metrics.panel.build_panel`).
    effect : float
        The true effect to inject (on ``component``, e.g. 0.01 on the net rate).
    design : PlannedDesign, optional
        Default: staggered, two cohorts, all of the history's branches, twelve months (or the
        history's length if shorter).
    component : {"S", "R", "E", "net_rate"}
    intervention : str
        The planned intervention's name (a label).
    alpha : float
        ``1 - alpha`` intervals, as ``snr attribute``'s.
    target : float
        Power sought (for the MDE and the smallest design).
    n_reps, n_reps_grid : int
        Replicates of the stated design, and of each other design of the grid.
    grid : bool
        Also diagnose the designs around the stated one (:func:`design_grid`).
    progress : callable, optional
        Called with the number of replicates done, after each design.
    outcomes_per_design, grid_outcomes_per_design : int
        Replicates sharing a design, solved at once (:func:`simulate_design`), for the stated
        design and for the grid's. A design costs about a hundred times a further outcome on
        it, but the power varies mostly between designs: the grid's few replicates are spread
        over more designs (25 replicates: 5 designs, where 10 per design gave 3 and a power
        not monotone in the months).

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> from snr_models.metrics.panel import build_panel
    >>> panel = build_panel(simulate(n_clients=2_000, n_branches=10, n_months=12, seed=1,
    ...     truth=False).tables)
    >>> plan = plan_rollout(panel, 0.05, design=PlannedDesign(branches=10, months=8),
    ...     n_reps=20, grid=False)
    >>> 0.0 <= plan.stated["power"] <= 1.0
    True
    """
    if not np.isfinite(effect):
        raise SnrInputError(f"plan: effect must be a finite number, not {effect!r}")
    if not 0 < target < 1:
        raise SnrInputError(f"plan: target power must be in (0, 1), not {target}")
    hist = _History.from_panel(panel, component)
    n_b, n_t = hist.shape
    design = design or PlannedDesign(branches=n_b, months=min(12, n_t - 2))
    rng = np.random.default_rng(random_state)
    kwargs: dict[str, Any] = {"component": component, "alpha": alpha, "progress": progress}
    reps = simulate_design(
        hist,
        design,
        effect,
        n_reps=n_reps,
        rng=rng,
        outcomes_per_design=outcomes_per_design,
        **kwargs,
    )
    rows = [
        {"branches": design.branches, "months": design.months}
        | diagnose_replicates(reps, effect, alpha, target)
        | {"stated": True}
    ]
    if grid:
        for d in design_grid(design, n_t - 2):
            if (d.branches, d.months) == (design.branches, design.months):
                continue
            r = simulate_design(
                hist,
                d,
                effect,
                n_reps=n_reps_grid,
                rng=rng,
                outcomes_per_design=grid_outcomes_per_design,
                **kwargs,
            )
            rows.append(
                {"branches": d.branches, "months": d.months}
                | diagnose_replicates(r, effect, alpha, target)
                | {"stated": False}
            )
    table = pd.DataFrame(rows).sort_values(["branches", "months"], ignore_index=True)
    return RolloutPlan(
        design=design,
        effect=float(effect),
        component=component,
        alpha=alpha,
        target=target,
        replicates=reps,
        grid=table,
        intervention=intervention,
    )


__all__ = [
    "DESIGNS",
    "PlannedDesign",
    "RolloutPlan",
    "design_grid",
    "minimum_detectable_effect",
    "plan_rollout",
    "power_curve",
    "simulate_design",
]
