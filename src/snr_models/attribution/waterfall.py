"""``attribute_change()``: the change of the firm-wide net rate between two windows, split into
each intervention's contribution, the branch mix and the remainder, with intervals.

The firm-wide component ``C`` in a window is the denominator-weighted mean of its branch-months
(``n_responses`` for S, ``n_open`` for R, ``n_tickets`` for E). An intervention's contribution
to ``C`` in a window is the same weighted mean of its estimated effects over the branch-months
it had reached (zero elsewhere); its contribution to the *change* is the end window's minus the
start window's. The net rate's contribution is the weighted sum of the components' (the net
rate is linear in S, R, E). The between-branch mix part is the shift-share term of
:func:`snr_models.metrics.decompose`-style decomposition (changes in the branches' shares of
each denominator); the remainder (market, trend, and what the model misses) is what is left.

Because the effects are estimated jointly and additively, the Shapley split over interventions
coincides with the one-at-a-time contributions (every marginal contribution of an intervention
is the same whatever the coalition); the table says so in its ``note`` column.
Intervals come from the joint regression's branch-clustered influence functions, combined
across components and windows, with t degrees of freedom (column ``df``) from Bell and
McCaffrey (the smallest of the components' for the net rate's); where the
regression has no residual degrees of freedom (a world of a few branches and months) they are
missing and the ``note`` column says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from snr_models.attribution.joint import JointEffects, LinearEffect, estimate_joint
from snr_models.attribution.overlap import OverlapEffects, estimate_overlap
from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.metrics.panel import DENOMINATORS, BranchPanel, build_panel
from snr_models.metrics.periods import to_timestamp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Waterfall:
    """The attributed change of the firm-wide net rate.

    Attributes
    ----------
    table : DataFrame
        One row per step and component: ``step`` (``start``, each intervention, ``mix``,
        ``remainder``, ``end``), ``component`` (S, R, E, net_rate), ``value``, ``se``, ``lo``,
        ``hi``, ``kind`` (level / intervention / mix / remainder).
    start_window, end_window : list of Timestamp
        The months compared.
    effects : JointEffects
        The estimates behind the contributions.
    """

    table: pd.DataFrame
    start_window: list[pd.Timestamp]
    end_window: list[pd.Timestamp]
    effects: JointEffects | OverlapEffects
    alpha: float
    totals: pd.DataFrame | None = None

    def together(self, component: str = "net_rate") -> pd.Series:
        """What the programmes did together and the change without any (overlap waterfall
        only): ``value, se, lo, hi, df`` of ``programmes_total`` and ``no_programme_change``."""
        if self.totals is None:
            raise ValueError("only attribute_change(..., overlap=...) estimates the totals")
        tab = self.totals[self.totals["component"] == component]
        return tab.set_index("quantity")

    def to_frame(self) -> pd.DataFrame:
        """The waterfall table."""
        return self.table.copy()

    def contributions(self, component: str = "net_rate") -> pd.Series:
        """Each intervention's contribution to the change of ``component``."""
        tab = self.table[
            (self.table["component"] == component) & (self.table["kind"] == "intervention")
        ]
        return tab.set_index("step")["value"]

    def summary(self) -> str:
        """Text: the net-rate waterfall."""
        tab = self.table[self.table["component"] == "net_rate"]
        s0 = f"{self.start_window[0]:%Y-%m}..{self.start_window[-1]:%Y-%m}"
        s1 = f"{self.end_window[0]:%Y-%m}..{self.end_window[-1]:%Y-%m}"
        return f"Net rate change {s0} -> {s1}\n" + tab.drop(columns="component").to_string(
            index=False, float_format=lambda v: f"{v:.4f}"
        )

    def plot(self, component: str = "net_rate"):  # noqa: ANN201 - matplotlib imported lazily
        """Waterfall chart of ``component`` (a Figure)."""
        from snr_models.attribution.plots import plot_waterfall

        tab = self.table[self.table["component"] == component]
        return plot_waterfall(tab, title=f"What moved the {component}")


def _window(label: Any, months: pd.DatetimeIndex, size: int, at_end: bool) -> list[pd.Timestamp]:
    ts = to_timestamp(label).to_period("M").start_time
    if ts not in months:
        raise SnrInputError(
            f"attribution: month {ts:%Y-%m} is not in the data "
            f"({months[0]:%Y-%m}..{months[-1]:%Y-%m})"
        )
    i = months.get_loc(ts)
    idx = range(i - size + 1, i + 1) if at_end else range(i, i + size)
    if min(idx) < 0 or max(idx) >= len(months):
        raise SnrInputError(f"attribution: a {size}-month window at {ts:%Y-%m} leaves the data")
    return [months[j] for j in idx]


def attribute_change(
    data: Tables | BranchPanel,
    start: Any = None,
    end: Any = None,
    *,
    window: int = 3,
    effects: JointEffects | OverlapEffects | None = None,
    alpha: float = 0.05,
    overlap: str | None = None,
) -> Waterfall:
    """Split the change of the firm-wide net rate (and of S, R, E) between two windows.

    Parameters
    ----------
    data : Tables or BranchPanel
        The contract's tables (a panel is built) or a panel from
        :func:`~snr_models.metrics.panel.build_panel`.
    start, end : month labels, optional
        The start window begins at ``start`` and the end window ends at ``end`` (default: the
        first and the last months of the data).
    window : int
        Months in each window (3: quarters, as the simulator's truth).
    effects : JointEffects or OverlapEffects, optional
        Reuse estimates from :func:`~snr_models.attribution.joint.estimate_joint` (or, with
        ``overlap``, :func:`~snr_models.attribution.overlap.estimate_overlap`).
    alpha : float
        ``1 - alpha`` intervals.
    overlap : {None, "shapley", "separate"}
        ``None``: the additive joint model (each intervention's contribution, and the
        remainder). Otherwise the imputation estimator with programme interactions
        (:mod:`~snr_models.attribution.overlap`): the steps are each programme's share,
        ``market_and_trend`` (the change of the world without any programme, imputed, net of
        the mix), ``mix``; with ``"shapley"`` each programme's step is its Shapley share
        (the interactions split equally among the programmes active together), with
        ``"separate"`` its own cells and one ``overlap`` step for the interactions.
        :meth:`Waterfall.together` gives the programmes' total and the no-programme change.

    Returns
    -------
    Waterfall

    Examples
    --------
    >>> from snr_models.simulate import simulate
    >>> tables = simulate(n_clients=2_000, n_branches=10, n_months=12, seed=2, truth=False).tables
    >>> wf = attribute_change(tables)
    >>> tab = wf.table[wf.table.component == "net_rate"].set_index("step")["value"]
    >>> bool(abs(tab["start"] + tab.drop(["start", "end"]).sum() - tab["end"]) < 1e-9)
    True
    """
    panel = data if isinstance(data, BranchPanel) else build_panel(data)
    months = panel.periods
    w0 = _window(start if start is not None else months[0], months, window, at_end=False)
    w1 = _window(end if end is not None else months[-1], months, window, at_end=True)
    if overlap is not None:
        if overlap not in ("shapley", "separate"):
            raise ValueError(f"overlap must be None, 'shapley' or 'separate', not {overlap!r}")
        ov = effects if isinstance(effects, OverlapEffects) else None
        ov = ov or estimate_overlap(panel, alpha=alpha)
        return _overlap_waterfall(ov, w0, w1, alpha, overlap)
    eff = effects or estimate_joint(panel, alpha=alpha)
    weights = panel.weights
    rows: list[dict[str, Any]] = []
    level, parts, mix = _levels_and_mix(panel, w0, w1)
    # each contribution as weights on the fits' coefficients: {component: Series}
    combo: dict[tuple[str, str], dict[str, pd.Series]] = {}
    for comp in DENOMINATORS:
        for tag in ("start", "end"):
            for name in panel.interventions:
                if eff.design.method.get(name, "not_identified") == "not_identified":
                    continue
                w = eff.effect_weights(
                    name, comp, parts[(comp, tag)][["branch_id", "period", "weight"]]
                )
                sign = 1.0 if tag == "end" else -1.0
                combo[(name, comp)] = _add(combo.get((name, comp), {}), w, sign)
    comps = [*DENOMINATORS, "net_rate"]
    for comp in comps:
        if comp == "net_rate":
            start_v = sum(weights[c] * level[(c, "start")] for c in DENOMINATORS)
            end_v = sum(weights[c] * level[(c, "end")] for c in DENOMINATORS)
            mix_v = sum(weights[c] * mix[c] for c in DENOMINATORS)
        else:
            start_v, end_v, mix_v = level[(comp, "start")], level[(comp, "end")], mix[comp]
        rows.append(_row("start", comp, start_v, "level", alpha))
        explained_w: dict[str, pd.Series] = {}
        explained = 0.0
        for name in panel.interventions:
            keys = [(name, c) for c in DENOMINATORS] if comp == "net_rate" else [(name, comp)]
            if not all(k in combo for k in keys):
                rows.append(_row(name, comp, np.nan, "intervention", alpha))
                continue
            w: dict[str, pd.Series] = {}
            for _, c in keys:
                w = _add(w, combo[(name, c)], weights[c] if comp == "net_rate" else 1.0)
            res = eff.infer(w)
            rows.append(_row(name, comp, res.estimate, "intervention", alpha, res))
            explained += res.estimate
            explained_w = _add(explained_w, w, 1.0)
        rem = end_v - start_v - explained - mix_v
        # the remainder's uncertainty is that of the contributions it is net of
        rem_res = eff.infer(explained_w) if explained_w else None
        rows.append(_row("mix", comp, mix_v, "mix", alpha))
        rows.append(_row("remainder", comp, rem, "remainder", alpha, rem_res))
        rows.append(_row("end", comp, end_v, "level", alpha))
    table = pd.DataFrame(rows)
    table["note"] = np.where(
        table["kind"] == "intervention",
        "additive joint model: Shapley share = contribution",
        "",
    )
    no_se = table["kind"].isin(["intervention", "remainder"]) & table["value"].notna()
    no_se &= table["se"].isna()
    if no_se.any():
        # a saturated regression (few branches and months) has no residual degrees of freedom
        fit = next(iter(eff.fits.values()))
        why = (
            f"no interval: the regression on {fit.n_obs} branch-months of {fit.n_clusters} "
            "branches leaves no residual degrees of freedom"
        )
        table.loc[no_se, "note"] = why
        logger.warning("attribution waterfall: %s", why)
    return Waterfall(table=table, start_window=w0, end_window=w1, effects=eff, alpha=alpha)


def _overlap_waterfall(
    ov: OverlapEffects,
    w0: list[pd.Timestamp],
    w1: list[pd.Timestamp],
    alpha: float,
    mode: str,
) -> Waterfall:
    """The waterfall of :func:`attribute_change` with ``overlap`` (see there)."""
    panel = ov.panel
    level, parts, mix = _levels_and_mix(panel, w0, w1)
    both = pd.concat([parts[(c, t)] for c in DENOMINATORS for t in ("start", "end")])
    reach = both[["branch_id", "period"]].drop_duplicates()
    prog_part = "shapley" if mode == "shapley" else "main"
    steps = [(name, f"{prog_part}:{name}", "intervention") for name in ov.programmes]
    if mode == "separate" and ov.estimated_terms():
        steps.append(("overlap", "overlap", "overlap"))
    rows: list[dict[str, Any]] = []
    totals: list[dict[str, Any]] = []
    for comp in [*DENOMINATORS, "net_rate"]:
        comps = list(DENOMINATORS) if comp == "net_rate" else [comp]
        scale = {c: (panel.weights[c] if comp == "net_rate" else 1.0) for c in comps}
        start_v = sum(scale[c] * level[(c, "start")] for c in comps)
        end_v = sum(scale[c] * level[(c, "end")] for c in comps)
        mix_v = sum(scale[c] * mix[c] for c in comps)

        def change(part: str, comps=comps, scale=scale) -> dict[str, pd.Series]:
            w: dict[str, pd.Series] = {}
            for c in comps:
                for tag, sign in (("start", -1.0), ("end", 1.0)):
                    sub = parts[(c, tag)][["branch_id", "period", "weight"]]
                    w = _add(w, ov.weights(sub, c, part), sign * scale[c])
            return w

        rows.append(_row("start", comp, start_v, "level", alpha))
        for step, part, kind in steps:
            res = ov.infer(change(part))
            row = _row(step, comp, res.estimate, kind, alpha, res)
            row["note"] = _overlap_note(ov, reach, step, mode)
            rows.append(row)
        joint = ov.infer(change("joint"))
        no_prog = end_v - start_v - joint.estimate
        market = _row(
            "market_and_trend", comp, no_prog - mix_v, "no_programme", alpha, joint, sign=-1.0
        )
        market["note"] = (
            "change of the world without any programme (imputed), net of the mix; "
            "its interval is the programmes' total's"
        ) + "".join(
            f"; in {name}'s firm-wide months it rests on {name}'s pilot in {k} branches"
            for name, (k, _) in ov.pilot_reach(reach).items()
        )
        rows.append(market)
        rows.append(_row("mix", comp, mix_v, "mix", alpha))
        rows.append(_row("end", comp, end_v, "level", alpha))
        for quantity, value, sign in (
            ("programmes_total", joint.estimate, 1.0),
            ("no_programme_change", no_prog, -1.0),
        ):
            tot = _row(quantity, comp, value, "total", alpha, joint, sign)
            tot["quantity"] = tot.pop("step")
            totals.append(tot)
    table = pd.DataFrame(rows)
    table["note"] = table["note"].fillna("")
    return Waterfall(
        table=table,
        start_window=w0,
        end_window=w1,
        effects=ov,
        alpha=alpha,
        totals=pd.DataFrame(totals).drop(columns="kind"),
    )


def _overlap_note(ov: OverlapEffects, reach: pd.DataFrame, step: str, mode: str) -> str:
    """The note of a programme's (or the overlap's) step: how it is split, and where it
    assumes additivity (a pooled set of programmes active in the windows)."""
    if step == "overlap":
        note = "interactions of the programmes active together"
        partners, n = ov.pooled_reach(reach)
    else:
        note = (
            "Shapley share: interactions split equally among the programmes active together"
            if mode == "shapley"
            else "own cells only; interactions in the overlap step"
        )
        partners, n = ov.pooled_reach(reach, step)
    if partners:
        note += (
            f"; interaction with {', '.join(partners)} not identified ({n} of the windows' "
            "branch-months): the value has additivity assumed, range_lo to range_hi is the "
            "range from additive to perfect substitutes (each pooled set doing what its best "
            "member does alone), and the interval covers that range"
        )
    pilot = ov.pilot_reach(reach).get(step)
    if pilot is not None:
        note += (
            f"; its firm-wide months ({pilot[1]} of the windows' branch-months) extrapolated "
            f"from its pilot in {pilot[0]} branches (effect scaled by intensity)"
        )
    return note


def window_rows(panel: BranchPanel, months: list[pd.Timestamp]) -> dict[str, pd.DataFrame]:
    """Per component, the panel's branch-months of ``months`` with a denominator, each with its
    ``weight`` in the firm-wide figure (its share of the denominator over the window)."""
    frame = panel.frame
    out = {}
    for comp, den in DENOMINATORS.items():
        sub = frame[frame["period"].isin(months) & (frame[den] > 0)]
        out[comp] = sub.assign(weight=(sub[den] / sub[den].sum()).to_numpy())
    return out


def _levels_and_mix(
    panel: BranchPanel, w0: list[pd.Timestamp], w1: list[pd.Timestamp]
) -> tuple[dict, dict, dict]:
    """Firm-wide level of each component in both windows, the windows' weighted rows, and the
    between-branch mix term of each component's change (shift-share, symmetric form)."""
    level, parts, mix = {}, {}, {}
    rows = {"start": window_rows(panel, w0), "end": window_rows(panel, w1)}
    for comp in DENOMINATORS:
        sh = {}
        for tag in ("start", "end"):
            part = rows[tag][comp]
            parts[(comp, tag)] = part
            level[(comp, tag)] = float(np.sum(part["weight"] * part[comp]))
            part = part.assign(wy=part["weight"] * part[comp])
            sums = part.groupby("branch_id")[["weight", "wy"]].sum()
            sh[tag] = pd.DataFrame({"w": sums["weight"], "r": sums["wy"] / sums["weight"]})
        both = sh["start"].add_suffix("0").join(sh["end"].add_suffix("1"), how="outer")
        both["r0"] = both["r0"].fillna(both["r1"])
        both["r1"] = both["r1"].fillna(both["r0"])
        both = both.fillna(0.0)
        mix[comp] = float(np.sum((both["w1"] - both["w0"]) * (both["r0"] + both["r1"]) / 2))
    return level, parts, mix


def _add(a: dict[str, pd.Series], b: dict[str, pd.Series], scale: float) -> dict[str, pd.Series]:
    """``a + scale * b`` for coefficient weights per fit."""
    out = dict(a)
    for comp, w in b.items():
        out[comp] = out[comp].add(scale * w, fill_value=0.0) if comp in out else scale * w
    return out


def _row(
    step: str,
    comp: str,
    value: float,
    kind: str,
    alpha: float,
    res: LinearEffect | None = None,
    sign: float = 1.0,
) -> dict[str, Any]:
    """One waterfall row; ``res`` carries the standard error and degrees of freedom of
    ``value`` (the remainder's are those of the contributions it is net of; ``sign`` -1 when
    ``value`` moves against ``res``'s estimate, as the change without any programme against
    the programmes' total). ``range_lo, range_hi`` are the values consistent with the data
    under the assumption that bounds a pooled interaction (a point when it is identified);
    ``lo, hi`` the interval (Imbens & Manski's around that range)."""
    if res is None:
        lo = hi = range_lo = range_hi = np.nan
    else:
        half = res.half_width(alpha)
        below, above = sorted((sign * res.lower, sign * res.upper))
        range_lo, range_hi = value + below, value + above
        lo, hi = range_lo - half, range_hi + half
    return {
        "step": step,
        "component": comp,
        "value": value,
        "se": res.se if res is not None else np.nan,
        "lo": lo,
        "hi": hi,
        "df": res.df if res is not None else np.nan,
        "kind": kind,
        "range_lo": range_lo,
        "range_hi": range_hi,
    }
