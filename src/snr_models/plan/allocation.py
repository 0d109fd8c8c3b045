"""Spend the budget: which branches get which intervention next.

Each candidate (a branch an intervention has not reached yet) has an expected effect on its
net rate with a standard error: the intervention's shrunken effect in each client segment
(:func:`~snr_models.attribution.shrinkage.segment_effects`) averaged over the branch's segment
mix (:func:`candidate_effects`). Treating it adds ``weight_b x effect`` to the firm-wide net
rate (``weight_b``: the branch's share of the firm's clients) and costs the intervention's cost
per branch. :func:`allocate` chooses the candidates that maximise the expected gain within the
budget (exactly: with one cost per intervention, the best choice takes each intervention's
best branches, and the numbers per intervention are enumerated), and compares it with the
uniform roll-out (the budget split evenly across the interventions, branches chosen at
random) over joint draws of the effects from their posteriors (:func:`effect_draws`: the error
of an intervention's pooled mean is shared by all its branches): the probability that the
chosen allocation gains more, and the interval of its gain. Effects are assumed additive across
interventions, as in the joint estimator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from snr_models.errors import SnrInputError

CANDIDATE_COLUMNS = ["intervention", "branch_id", "effect", "se", "weight"]


def candidate_effects(
    segments: pd.DataFrame, mix: pd.DataFrame, treated: pd.DataFrame
) -> pd.DataFrame:
    """Expected effect of each intervention in each branch it has not reached.

    Parameters
    ----------
    segments : DataFrame
        ``intervention, segment, estimate, se`` (shrunken segment effects).
    mix : DataFrame
        ``branch_id, segment, clients``: each branch's clients by segment.
    treated : DataFrame
        ``intervention, branch_id`` already reached (excluded).

    Returns
    -------
    DataFrame
        ``intervention, branch_id, effect, se, weight`` (``weight``: the branch's share of the
        firm's clients). The standard error treats the segments' errors as independent.
    """
    for col in ("branch_id", "segment", "clients"):
        if col not in mix.columns:
            raise SnrInputError(f"allocation: segment mix lacks column {col!r}")
    shares = mix.pivot_table(
        index="branch_id", columns="segment", values="clients", aggfunc="sum", fill_value=0
    )
    weight = shares.sum(axis=1) / shares.to_numpy().sum()
    shares = shares.div(shares.sum(axis=1), axis=0)
    done = set(zip(treated["intervention"], treated["branch_id"], strict=True))
    rows = []
    for name, sub in segments.groupby("intervention", sort=False):
        eff = sub.set_index("segment")["estimate"].reindex(shares.columns).fillna(0.0)
        var = (sub.set_index("segment")["se"] ** 2).reindex(shares.columns).fillna(0.0)
        mean = shares.to_numpy() @ eff.to_numpy()
        se = np.sqrt((shares.to_numpy() ** 2) @ var.to_numpy())
        for b, m, s, w in zip(shares.index, mean, se, weight, strict=True):
            if (name, b) not in done:
                rows.append(
                    {"intervention": name, "branch_id": b, "effect": m, "se": s, "weight": w}
                )
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def effect_draws(
    candidates: pd.DataFrame,
    segments: pd.DataFrame,
    mix: pd.DataFrame,
    n_draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Joint draws (``n_draws x candidates``) of the candidates' effects from the segments'
    posteriors: per intervention, the error shared through the pooled mean (``shared_se``) is
    one draw for every segment and branch, the rest one per segment; a branch's effect is its
    segment mix times its segments' draws."""
    shares = mix.pivot_table(
        index="branch_id", columns="segment", values="clients", aggfunc="sum", fill_value=0
    )
    shares = shares.div(shares.sum(axis=1), axis=0)
    out = np.zeros((n_draws, len(candidates)))
    for name, pos in candidates.groupby("intervention", sort=False).indices.items():
        seg = segments[segments["intervention"] == name].set_index("segment")
        seg = seg.reindex(shares.columns)
        est = seg["estimate"].fillna(0.0).to_numpy()
        shared = seg["shared_se"].fillna(0.0).to_numpy() if "shared_se" in seg else 0.0 * est
        own = np.sqrt(np.maximum(seg["se"].fillna(0.0).to_numpy() ** 2 - shared**2, 0.0))
        z = rng.standard_normal((n_draws, 1))
        draws = est + shared * z + own * rng.standard_normal((n_draws, len(est)))
        w = shares.reindex(candidates["branch_id"].to_numpy()[pos]).fillna(0.0).to_numpy()
        out[:, pos] = draws @ w.T
    return out


def _best_counts(
    gains: dict[str, np.ndarray], costs: Mapping[str, float], budget: float, max_combos: int
) -> dict[str, int]:
    """Numbers of branches per intervention maximising the sum of each one's best gains."""
    names = list(gains)
    prefix = {n: np.concatenate([[0.0], np.cumsum(g)]) for n, g in gains.items()}
    if not names:
        return {}
    caps = [min(len(gains[n]), int(budget // costs[n])) for n in names]
    head, last = names[:-1], names[-1]
    n_combos = int(np.prod([c + 1 for c in caps[:-1]])) if head else 1
    if n_combos > max_combos:
        raise SnrInputError(
            f"allocation: {n_combos} combinations of branch numbers to compare (more than "
            f"{max_combos}); give fewer interventions or candidates"
        )
    grids = np.indices([c + 1 for c in caps[:-1]]).reshape(len(head), -1) if head else None
    spent = (sum(grids[i] * costs[n] for i, n in enumerate(head)) if head else np.zeros(1)).astype(
        float
    )
    value = sum(prefix[n][grids[i]] for i, n in enumerate(head)) if head else np.zeros(1)
    left = np.floor((budget - spent) / costs[last] + 1e-9).astype(int)
    feasible = left >= 0
    take_last = np.clip(left, 0, caps[-1])
    value = np.where(feasible, value + prefix[last][take_last], -np.inf)
    best = int(np.argmax(value))
    out = {n: int(grids[i][best]) for i, n in enumerate(head)} if head else {}
    out[last] = int(take_last[best])
    return out


@dataclass(frozen=True)
class Allocation:
    """The chosen roll-out within the budget (from :func:`allocate`).

    Attributes
    ----------
    chosen : DataFrame
        ``intervention, branch_id, effect, se, weight, cost, gain`` of the chosen candidates
        (``gain`` = weight x effect, the expected addition to the firm-wide net rate).
    by_intervention : DataFrame
        Per intervention: branches chosen, cost, expected gain.
    expected_gain, gain_lo, gain_hi : float
        Expected gain of the firm-wide net rate and its interval (over posterior draws).
    uniform_gain : float
        Expected gain of the uniform roll-out with the same budget.
    p_beats_uniform : float
        Probability (over the effects' posterior) that the chosen allocation gains more.
    baseline : float or None
        The firm-wide net rate expected without the roll-out (the forecast's), when given.
    """

    chosen: pd.DataFrame
    by_intervention: pd.DataFrame
    expected_gain: float
    gain_lo: float
    gain_hi: float
    uniform_gain: float
    p_beats_uniform: float
    budget: float
    spent: float
    alpha: float = 0.05
    baseline: float | None = None
    candidates: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The chosen branches per intervention."""
        return self.chosen.copy()

    def summary(self) -> str:
        """Text: what to roll out where, the expected gain, and the comparison with uniform."""
        lines = [
            f"Budget {self.budget:,.0f}, spent {self.spent:,.0f}",
            f"expected gain of the firm-wide net rate {self.expected_gain:+.4f} "
            f"({1 - self.alpha:.0%} interval {self.gain_lo:+.4f} to {self.gain_hi:+.4f}); "
            f"uniform roll-out {self.uniform_gain:+.4f}; P(beats uniform) "
            f"{self.p_beats_uniform:.2f}",
        ]
        if self.baseline is not None:
            lines.append(
                f"net rate: {self.baseline:.4f} expected without, "
                f"{self.baseline + self.expected_gain:.4f} with the roll-out"
            )
        lines += [
            "",
            self.by_intervention.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
        ]
        return "\n".join(lines)

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """Expected gain per chosen branch, by intervention (a Figure)."""
        from snr_models.figures import new_figure

        c = self.chosen.sort_values("gain")
        fig = new_figure(figsize=(6, 0.22 * max(len(c), 4) + 1.5))
        ax = fig.subplots()
        for name, sub in c.groupby("intervention", sort=False):
            ax.barh(sub["intervention"] + " / " + sub["branch_id"], sub["gain"], label=name)
        ax.set_xlabel("expected gain of the firm-wide net rate")
        ax.set_title(
            f"gain {self.expected_gain:+.4f} [{self.gain_lo:+.4f}, {self.gain_hi:+.4f}], "
            f"P(> uniform) {self.p_beats_uniform:.2f}",
            fontsize=9,
        )
        fig.tight_layout()
        return fig


def allocate(
    candidates: pd.DataFrame,
    costs: Mapping[str, float],
    budget: float,
    *,
    baseline: float | None = None,
    alpha: float = 0.05,
    n_draws: int = 2000,
    draws: np.ndarray | None = None,
    random_state: int | None = 0,
    max_combos: int = 2_000_000,
) -> Allocation:
    """The allocation of ``budget`` maximising the expected gain of the net rate (module doc).

    Parameters
    ----------
    candidates : DataFrame
        ``intervention, branch_id, effect, se, weight`` (:func:`candidate_effects`).
    costs : mapping
        Cost of rolling each intervention out to one branch (interventions without a cost are
        not considered).
    budget : float
    baseline : float, optional
        The firm-wide net rate expected without the roll-out (e.g. the forecast's), reported
        beside the gain.
    n_draws : int
        Draws of the effects for the interval and the comparison with uniform.
    draws : ndarray, optional
        Joint draws of the candidates' effects (``n x candidates``, rows of ``candidates``;
        :func:`effect_draws`); default: independent normal draws from ``effect`` and ``se``.

    Examples
    --------
    >>> cand = pd.DataFrame({"intervention": ["a", "a", "b"], "branch_id": ["B1", "B2", "B1"],
    ...     "effect": [0.05, 0.01, 0.03], "se": [0.01, 0.01, 0.01], "weight": [0.5, 0.5, 0.5]})
    >>> alloc = allocate(cand, {"a": 1.0, "b": 1.0}, budget=2.0)
    >>> sorted(alloc.chosen["intervention"] + alloc.chosen["branch_id"])
    ['aB1', 'bB1']
    """
    missing = [c for c in CANDIDATE_COLUMNS if c not in candidates.columns]
    if missing:
        raise SnrInputError(f"allocation: candidates lack column(s) {missing}")
    if not np.isfinite(budget) or budget < 0:
        raise SnrInputError(f"allocation: budget must be a non-negative number, not {budget!r}")
    bad = {k: v for k, v in costs.items() if not (np.isfinite(v) and v > 0)}
    if bad:
        raise SnrInputError(f"allocation: costs must be positive numbers; bad: {bad}")
    keep = candidates["intervention"].isin(list(costs)).to_numpy()
    cand = candidates[keep].copy()
    if draws is not None:
        if draws.shape[1] != len(candidates):
            raise SnrInputError("allocation: draws must have one column per candidate")
        draws = draws[:, keep]
    cand["_draw"] = np.arange(len(cand))
    cand["cost"] = cand["intervention"].map(costs).astype(float)
    cand["gain"] = cand["weight"] * cand["effect"]
    cand = cand.sort_values(["intervention", "gain"], ascending=[True, False], ignore_index=True)
    positive = cand[cand["gain"] > 0]
    gains = {n: g["gain"].to_numpy() for n, g in positive.groupby("intervention", sort=True)}
    counts = _best_counts(gains, costs, budget, max_combos)
    chosen = pd.concat(
        [positive[positive["intervention"] == n].head(k) for n, k in counts.items() if k]
        or [positive.head(0)],
        ignore_index=True,
    )
    # posterior draws of every candidate's gain
    rng = np.random.default_rng(random_state)
    if draws is None:
        draws = cand["effect"].to_numpy() + cand["se"].to_numpy() * rng.standard_normal(
            (n_draws, len(cand))
        )
    else:
        draws = draws[:, cand["_draw"].to_numpy()]
    n_draws = draws.shape[0]
    draws = cand["weight"].to_numpy() * draws
    key = cand["intervention"] + "\x00" + cand["branch_id"]
    pick = key.isin(chosen["intervention"] + "\x00" + chosen["branch_id"]).to_numpy()
    g_opt = draws[:, pick].sum(axis=1)
    # uniform: the budget split evenly across the interventions, branches at random
    names = sorted(set(cand["intervention"]))
    g_uni = np.zeros(n_draws)
    uniform_mean = 0.0
    for n in names:
        pos = np.flatnonzero((cand["intervention"] == n).to_numpy())
        k = min(len(pos), int(budget / len(names) // costs[n]))
        if k == 0:
            continue
        order = rng.permuted(np.tile(pos, (n_draws, 1)), axis=1)[:, :k]
        g_uni += np.take_along_axis(draws, order, axis=1).sum(axis=1)
        uniform_mean += k * float(cand.loc[pos, "gain"].mean())
    by = (
        chosen.groupby("intervention", sort=True)
        .agg(branches=("branch_id", "size"), cost=("cost", "sum"), gain=("gain", "sum"))
        .reset_index()
    )
    q = [alpha / 2, 1 - alpha / 2]
    lo, hi = np.quantile(g_opt, q) if len(chosen) else (0.0, 0.0)
    return Allocation(
        chosen=chosen,
        by_intervention=by,
        expected_gain=float(chosen["gain"].sum()),
        gain_lo=float(lo),
        gain_hi=float(hi),
        uniform_gain=uniform_mean,
        p_beats_uniform=float(np.mean(g_opt > g_uni)),
        budget=float(budget),
        spent=float(chosen["cost"].sum()),
        alpha=alpha,
        baseline=baseline,
        candidates=cand.drop(columns="_draw"),
    )


__all__ = ["Allocation", "allocate", "candidate_effects", "effect_draws"]
