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
    effects: JointEffects
    alpha: float

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
    effects: JointEffects | None = None,
    alpha: float = 0.05,
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
    effects : JointEffects, optional
        Reuse estimates from :func:`~snr_models.attribution.joint.estimate_joint`.
    alpha : float
        ``1 - alpha`` intervals.

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
    eff = effects or estimate_joint(panel, alpha=alpha)
    frame = panel.frame
    weights = panel.weights
    rows: list[dict[str, Any]] = []
    level = {}
    # each contribution as weights on the fits' coefficients: {component: Series}
    combo: dict[tuple[str, str], dict[str, pd.Series]] = {}
    mix: dict[str, float] = {}
    for comp, den in DENOMINATORS.items():
        parts = {}
        for tag, win in (("start", w0), ("end", w1)):
            sub = frame[frame["period"].isin(win) & (frame[den] > 0)]
            wts = sub[den] / sub[den].sum()
            level[(comp, tag)] = float(np.sum(wts * sub[comp]))
            parts[tag] = sub.assign(weight=wts.to_numpy())
            for name in panel.interventions:
                if eff.design.method.get(name) == "not_identified":
                    continue
                w = eff.effect_weights(name, comp, parts[tag][["branch_id", "period", "weight"]])
                sign = 1.0 if tag == "end" else -1.0
                combo[(name, comp)] = _add(combo.get((name, comp), {}), w, sign)
        # mix: shift-share between branches (shares of the denominator), symmetric form
        sh = {}
        for tag in ("start", "end"):
            part = parts[tag].assign(wy=parts[tag]["weight"] * parts[tag][comp])
            sums = part.groupby("branch_id")[["weight", "wy"]].sum()
            sh[tag] = pd.DataFrame({"w": sums["weight"], "r": sums["wy"] / sums["weight"]})
        both = sh["start"].add_suffix("0").join(sh["end"].add_suffix("1"), how="outer")
        both["r0"] = both["r0"].fillna(both["r1"])
        both["r1"] = both["r1"].fillna(both["r0"])
        both = both.fillna(0.0)
        mix[comp] = float(np.sum((both["w1"] - both["w0"]) * (both["r0"] + both["r1"]) / 2))
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
) -> dict[str, Any]:
    """One waterfall row; ``res`` carries the standard error and degrees of freedom of
    ``value`` (the remainder's are those of the contributions it is net of)."""
    half = res.half_width(alpha) if res is not None else np.nan
    return {
        "step": step,
        "component": comp,
        "value": value,
        "se": res.se if res is not None else np.nan,
        "lo": value - half,
        "hi": value + half,
        "df": res.df if res is not None else np.nan,
        "kind": kind,
    }
