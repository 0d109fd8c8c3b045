"""Churn evaluation metrics as free functions of labels and scores.

Discrimination (ROC-AUC, PR-AUC), accuracy of probabilities (Brier score, calibration
intercept and slope, reliability curve), targeting (lift and capture at the top fractions),
profit (EMPC of Verbraken et al. 2013 with its optimal contact fraction; expected retained
value at a contact budget), and a bootstrap interval for any of them.

Reference: T. Verbraken, W. Verbeke, B. Baesens (2013), "A novel profit maximizing metric for
measuring classification performance of customer churn prediction models", IEEE TKDE 25(5),
961-973. Churners are the positive class here (class 0 in the paper).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import special
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from snr_models import progress

__all__ = [
    "EMPC",
    "bootstrap_interval",
    "brier",
    "calibration_intercept_slope",
    "empc",
    "evaluate",
    "expected_retained_value",
    "lift_table",
    "plot_lift",
    "plot_reliability",
    "plot_roc",
    "pr_auc",
    "reliability_curve",
    "roc_auc",
]


def _arrays(y_true: object, y_score: object) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.asarray(y_score, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true has {y.size} values but y_score has {p.size}")
    if np.isnan(y).any() or np.isnan(p).any():
        raise ValueError("labels and scores must not be missing")
    return y, p


@dataclass(frozen=True)
class _Scores:
    """Clients grouped by distinct score, highest first: per group its score, its clients and
    its churners (weighted counts).

    A bootstrap resample is the same clients drawn with multiplicities, so it only changes
    the per-group counts; every metric then follows from cumulative sums over the groups and
    no replicate is sorted again.
    """

    score: np.ndarray
    clients: np.ndarray
    churners: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray) -> _Scores:
        neg, group = np.unique(-p, return_inverse=True)
        return cls.drawn(-neg, group, y, np.arange(len(y)))

    @classmethod
    def drawn(cls, score: np.ndarray, group: np.ndarray, y: np.ndarray, idx: np.ndarray) -> _Scores:
        """The groups' counts among the clients drawn at rows ``idx``."""
        g = group[idx]
        clients = np.bincount(g, minlength=len(score)).astype(np.float64)
        return cls(score, clients, np.bincount(g, weights=y[idx], minlength=len(score)))

    @cached_property
    def cum(self) -> tuple[np.ndarray, np.ndarray]:
        """Clients and churners scored at or above each distinct score."""
        return np.cumsum(self.clients), np.cumsum(self.churners)

    @property
    def n(self) -> float:
        return float(self.cum[0][-1])

    @property
    def positives(self) -> float:
        return float(self.cum[1][-1])

    def top(self, k: float, per_group: np.ndarray | None = None) -> float:
        """Churners (or ``per_group`` totals) among the ``k`` highest-scored clients; a group of
        tied scores straddling the cut contributes its mean times the places left."""
        cum_w = self.cum[0]
        cum_q = self.cum[1] if per_group is None else np.cumsum(per_group)
        g = min(int(np.searchsorted(cum_w, k - 1e-9)), len(cum_w) - 1)
        w0 = cum_w[g - 1] if g else 0.0
        q0 = cum_q[g - 1] if g else 0.0
        return float(q0 + (min(k, cum_w[g]) - w0) * (cum_q[g] - q0) / (cum_w[g] - w0))


def roc_auc(y_true: object, y_score: object) -> float:
    """Area under the ROC curve.

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y, p = _arrays(y_true, y_score)
    return float(roc_auc_score(y, p))


def pr_auc(y_true: object, y_score: object) -> float:
    """Area under the precision-recall curve (average precision).

    Examples
    --------
    >>> round(pr_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    y, p = _arrays(y_true, y_score)
    return float(average_precision_score(y, p))


def brier(y_true: object, y_prob: object) -> float:
    """Brier score, the mean squared error of the probabilities.

    Examples
    --------
    >>> brier([0, 1], [0.2, 0.6])
    0.1
    """
    y, p = _arrays(y_true, y_prob)
    return float(brier_score_loss(y, p))


def calibration_intercept_slope(y_true: object, y_prob: object) -> tuple[float, float]:
    """Calibration intercept (calibration-in-the-large) and slope.

    The slope is ``b`` in ``logit P(y=1) = a + b * logit(p)``; the intercept is ``a`` in
    ``logit P(y=1) = a + logit(p)`` (slope fixed at 1, as an offset). Perfect calibration
    gives ``(0, 1)``; a slope below 1 means too extreme predictions (Van Calster et al. 2016,
    J. Clin. Epidemiol. 74, 167-176).

    Examples
    --------
    >>> rng = np.random.default_rng(0); p = rng.uniform(0.05, 0.95, 20000)
    >>> a, b = calibration_intercept_slope(rng.random(20000) < p, p)
    >>> abs(a) < 0.05 and abs(b - 1) < 0.05
    True
    """
    y, p = _arrays(y_true, y_prob)
    return _calibration(_Scores.of(y, p))


def _calibration(s: _Scores) -> tuple[float, float]:
    """Calibration intercept and slope.

    The likelihood depends on the clients only through each distinct score's clients and
    churners, so the fits run on the distinct scores (binomial rows): the same estimates."""
    drawn = s.clients > 0
    rate, clients = s.churners[drawn] / s.clients[drawn], s.clients[drawn]
    lp = special.logit(np.clip(s.score[drawn], 1e-10, 1 - 1e-10))
    ones = np.ones((len(lp), 1))
    slope = _logistic_mle(rate, np.c_[ones, lp], np.zeros(len(lp)), clients)[1]
    intercept = _logistic_mle(rate, ones, lp, clients)[0]
    return float(intercept), float(slope)


def _logistic_mle(
    y: np.ndarray, X: np.ndarray, offset: np.ndarray, w: np.ndarray, max_iter: int = 100
) -> np.ndarray:
    """Maximum-likelihood logistic coefficients by Newton's method with step halving.

    Two coefficients at most here, so this is a few passes over the data, where a GLM
    object costs a hundred times more inside the bootstrap.
    """

    def loglik(beta: np.ndarray) -> float:
        eta = X @ beta + offset
        return float(w @ (y * eta - np.logaddexp(0.0, eta)))

    beta = np.zeros(X.shape[1])
    current = loglik(beta)
    for _ in range(max_iter):
        mu = special.expit(X @ beta + offset)
        hessian = (X * (w * mu * (1 - mu))[:, None]).T @ X
        step = np.linalg.lstsq(hessian, X.T @ (w * (y - mu)), rcond=None)[0]
        for _ in range(30):  # halve until the likelihood does not fall
            candidate = loglik(beta + step)
            if candidate >= current - 1e-12:
                break
            step = step / 2
        beta, previous, current = beta + step, current, candidate
        # the Newton step is the distance to the optimum: stop on it, not on the likelihood,
        # whose last changes are rounding (1e-12 in it is 1e-7 in the coefficients)
        if np.max(np.abs(step)) < 1e-10 or current <= previous:
            break
    return beta


def reliability_curve(y_true: object, y_prob: object, n_bins: int = 10) -> pd.DataFrame:
    """Observed churn rate against mean predicted probability in quantile bins.

    Returns
    -------
    DataFrame
        ``bin``, ``n``, ``mean_predicted``, ``observed_rate``.

    Examples
    --------
    >>> reliability_curve([0, 1, 0, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)["n"].tolist()
    [2, 2]
    """
    y, p = _arrays(y_true, y_prob)
    ranks = pd.Series(p).rank(method="first").to_numpy()
    bins = np.minimum((ranks - 1) * n_bins // len(p), n_bins - 1).astype(int)
    frame = pd.DataFrame({"bin": bins, "p": p, "y": y})
    out = frame.groupby("bin").agg(
        n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean")
    )
    return out.reset_index()


def plot_reliability(y_true: object, y_prob: object, n_bins: int = 10, ax=None):
    """Reliability plot: observed rate against predicted probability, with the diagonal.

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    curve = reliability_curve(y_true, y_prob, n_bins)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    else:
        fig = ax.figure
    hi = float(max(curve["mean_predicted"].max(), curve["observed_rate"].max()) * 1.05)
    ax.plot([0, hi], [0, hi], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.plot(curve["mean_predicted"], curve["observed_rate"], marker="o", label="model")
    a, b = calibration_intercept_slope(y_true, y_prob)
    ax.set_title(f"Calibration: intercept {a:.2f}, slope {b:.2f}")
    ax.set_xlabel("predicted churn probability")
    ax.set_ylabel("observed churn rate")
    ax.legend()
    return fig


def lift_table(
    y_true: object, y_score: object, fractions: Sequence[float] = (0.05, 0.10, 0.20)
) -> pd.DataFrame:
    """Lift and capture in the top fractions of clients by score.

    Clients whose scores tie at the cut count by the tied group's mean churn rate (the
    expectation over the order of the tie), so the figures do not depend on row order.

    Returns
    -------
    DataFrame
        ``fraction``, ``n_contacted``, ``churn_rate``, ``lift`` (rate / overall rate),
        ``capture`` (share of all churners found).

    Examples
    --------
    >>> lift_table([1, 0, 0, 0, 1, 0, 0, 0, 0, 0], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], [0.1, 0.5])
       fraction  n_contacted  churn_rate  lift  capture
    0       0.1            1         1.0   5.0      0.5
    1       0.5            5         0.4   2.0      1.0
    """
    y, p = _arrays(y_true, y_score)
    return pd.DataFrame(_lift_rows(_Scores.of(y, p), fractions))


def _lift_rows(s: _Scores, fractions: Sequence[float]) -> list[dict[str, float]]:
    n, churners = s.n, s.positives
    base = churners / n
    rows = []
    for f in fractions:
        k = max(1, int(round(f * n)))
        found = s.top(k)
        rows.append(
            {
                "fraction": float(f),
                "n_contacted": k,
                "churn_rate": found / k,
                "lift": found / k / base if base > 0 else np.nan,
                "capture": found / churners if churners > 0 else np.nan,
            }
        )
    return rows


@dataclass(frozen=True)
class EMPC:
    """Expected maximum profit for churn: per client (``value``), and the contact fraction."""

    value: float
    fraction: float


def _roc_hull(tps: np.ndarray, fps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convex hull of the ROC curve through the cumulative counts: (FPR, TPR), (0,0) to (1,1)."""
    tpr = np.r_[0.0, tps / max(tps[-1], 1)]
    fpr = np.r_[0.0, fps / max(fps[-1], 1)]
    # scores no resampled client holds repeat the point before them: drop the repeats
    moved = np.r_[True, (np.diff(fpr) != 0) | (np.diff(tpr) != 0)]
    fpr, tpr = fpr[moved], tpr[moved]
    # A point where the curve does not turn clockwise lies on or under the chord of its
    # neighbours, so it is no hull vertex: drop all such points, repeat until none is left.
    while len(fpr) > 2:
        d_f, d_t = np.diff(fpr), np.diff(tpr)
        keep = np.r_[True, d_f[:-1] * d_t[1:] - d_t[:-1] * d_f[1:] < 0, True]
        if keep.all():
            break
        fpr, tpr = fpr[keep], tpr[keep]
    return fpr, tpr


def empc(
    y_true: object,
    y_score: object,
    *,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact_cost: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> EMPC:
    """Expected maximum profit measure for churn (EMPC; Verbraken et al. 2013).

    A contacted would-be churner accepts the retention offer with probability ``gamma ~
    Beta(alpha, beta)``; an accepted offer keeps ``clv`` and costs ``incentive``; every
    contact costs ``contact_cost``; a contacted non-churner takes the incentive. For each
    ``gamma`` the best cut-off on the ROC convex hull is chosen, and the profit per client is
    averaged over ``gamma``. Defaults are the paper's (``CLV = 200, d = 10, f = 1, alpha = 6,
    beta = 14``).

    Returns
    -------
    EMPC
        ``value``: expected maximum profit per client (currency of ``clv``); ``fraction``:
        the expected share of clients contacted at the optimum.

    Examples
    --------
    >>> r = empc([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [.9, .8, .7, .1, .1, .1, .1, .1, .1, .1])
    >>> round(r.fraction, 2)
    0.2
    """
    y, p = _arrays(y_true, y_score)
    return _empc(_Scores.of(y, p), clv, incentive, contact_cost, alpha, beta)


def _empc(
    s: _Scores,
    clv: float = 200.0,
    incentive: float = 10.0,
    contact_cost: float = 1.0,
    alpha: float = 6.0,
    beta: float = 14.0,
) -> EMPC:
    cum_n, tps = s.cum
    fps = cum_n - tps
    pi0 = s.positives / s.n
    pi1 = 1 - pi0
    delta, phi = incentive / clv, contact_cost / clv
    fpr, tpr = _roc_hull(tps, fps)
    # gamma thresholds at which the optimum moves from hull point i to i + 1
    d_tpr, d_fpr = np.diff(tpr), np.diff(fpr)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope_term = np.where(d_tpr > 0, (delta + phi) * pi1 * d_fpr / (pi0 * d_tpr), np.inf)
    g = (slope_term + phi) / (1 - delta)
    bounds = np.r_[0.0, np.clip(g, 0, 1), 1.0]
    # the Beta(alpha, beta) and Beta(alpha + 1, beta) masses between consecutive bounds
    mass = np.diff(special.betainc(alpha, beta, bounds))
    gamma_mass = alpha / (alpha + beta) * np.diff(special.betainc(alpha + 1, beta, bounds))
    live = bounds[1:] > bounds[:-1]
    mass, gamma_mass = np.where(live, mass, 0.0), np.where(live, gamma_mass, 0.0)
    value = clv * np.sum(
        (1 - delta) * pi0 * tpr * gamma_mass - (phi * pi0 * tpr + (delta + phi) * pi1 * fpr) * mass
    )
    frac = np.sum((pi0 * tpr + pi1 * fpr) * mass)
    return EMPC(value=float(value), fraction=float(frac))


def expected_retained_value(
    y_true: object,
    y_score: object,
    budget: int,
    *,
    value: object | None = None,
    acceptance: float = 0.3,
    contact_cost: float = 0.0,
) -> float:
    """Expected value retained by contacting the ``budget`` highest-scored clients.

    ``sum over contacted churners of acceptance * value - budget * contact_cost``: each
    contacted client who would have left stays with probability ``acceptance``.

    Clients whose scores tie at the cut count by the tied group's mean.

    Parameters
    ----------
    y_true, y_score : array-like
    budget : int
        Number of clients the team can contact.
    value : array-like, optional
        Value of keeping each client (default 1: the count of clients kept).
    acceptance : float, default 0.3
    contact_cost : float, default 0

    Examples
    --------
    >>> expected_retained_value([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1], budget=2, acceptance=0.5)
    0.5
    """
    y, p = _arrays(y_true, y_score)
    neg, group = np.unique(-p, return_inverse=True)
    s = _Scores.drawn(-neg, group, y, np.arange(len(y)))
    kept = None
    if value is not None:
        kept = np.bincount(group, weights=y * np.asarray(value, dtype=float).ravel())
    return _retained(s, budget, kept, acceptance, contact_cost)


def _retained(
    s: _Scores,
    budget: int,
    kept: np.ndarray | None = None,
    acceptance: float = 0.3,
    contact_cost: float = 0.0,
) -> float:
    """``acceptance`` times the churners (or ``kept`` value per group) in the top ``budget``."""
    budget = int(min(max(budget, 0), s.n))
    found = s.top(budget, kept) if budget else 0.0
    return float(acceptance * found - budget * contact_cost)


def bootstrap_interval(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: object,
    y_score: object,
    *,
    n_boot: int = 200,
    alpha: float = 0.05,
    random_state: int | None = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap interval of ``metric(y, p)`` over resampled clients.

    Returns ``(estimate, lo, hi)``. Resamples without both classes are redrawn-skipped.

    Examples
    --------
    >>> rng = np.random.default_rng(1); y = rng.random(500) < .3; p = y + rng.normal(0, 1, 500)
    >>> est, lo, hi = bootstrap_interval(roc_auc, y, p, n_boot=100)
    >>> lo < est < hi
    True
    """
    y, p = _arrays(y_true, y_score)
    estimate = float(metric(y, p))
    replicates = _replicates(lambda a, b: {"m": metric(a, b)}, y, p, n_boot, random_state)
    if replicates.empty:
        return estimate, np.nan, np.nan
    lo, hi = np.quantile(replicates["m"], [alpha / 2, 1 - alpha / 2])
    return estimate, float(lo), float(hi)


def _replicates(
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, float]],
    y: np.ndarray,
    p: np.ndarray,
    n_boot: int,
    random_state: int | None,
) -> pd.DataFrame:
    """``metrics`` on ``n_boot`` resamples of the clients (one row each; single-class skipped)."""
    rows = [metrics(y[idx], p[idx]) for idx in _resamples(y, n_boot, random_state)]
    return pd.DataFrame(rows)


def _resamples(y: np.ndarray, n_boot: int, random_state: int | None) -> Iterator[np.ndarray]:
    """Row indices of ``n_boot`` resamples of the clients, skipping those with one class."""
    rng = np.random.default_rng(random_state)
    n = len(y)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        yb = y[idx]
        if yb.min() != yb.max():
            yield idx


def _ranking_metrics(s: _Scores, fractions: Sequence[float], budget: int) -> dict[str, float]:
    """Every metric of :func:`evaluate` but the calibration ones, from the grouped counts."""
    cum_n, tps = s.cum
    fps = cum_n - tps
    n_pos, n_neg = tps[-1], fps[-1]
    # ROC-AUC: the trapezoids under (FPR, TPR) through every distinct score
    d_fps = np.diff(fps, prepend=0.0)
    auc = np.sum(d_fps * (tps + np.r_[0.0, tps[:-1]])) / (2 * n_pos * n_neg)
    # average precision: precision at each distinct score times the recall it adds
    precision = np.divide(tps, cum_n, out=np.zeros_like(tps), where=cum_n > 0)
    ap = np.sum(s.churners * precision) / n_pos
    # Brier: sum of (p - y)^2 = n p^2 - 2 p churners + churners within a group of score p
    sq = s.clients * s.score**2 - 2 * s.score * s.churners + s.churners
    profit = _empc(s)
    values = {
        "roc_auc": float(auc),
        "pr_auc": float(ap),
        "brier": float(sq.sum() / s.n),
        "empc": profit.value,
        "empc_fraction": profit.fraction,
        "retained_value": _retained(s, budget),
        "base_rate": float(n_pos / s.n),
    }
    for row in _lift_rows(s, fractions):
        tag = f"{int(round(row['fraction'] * 100))}pct"
        values[f"lift_{tag}"] = float(row["lift"])
        values[f"capture_{tag}"] = float(row["capture"])
    return values


def _calibration_metrics(s: _Scores) -> dict[str, float]:
    intercept, slope = _calibration(s)
    return {"calibration_intercept": intercept, "calibration_slope": slope}


def _bootstrap(
    y: np.ndarray,
    p: np.ndarray,
    fractions: Sequence[float],
    budget: int,
    n_boot: int,
    random_state: int | None,
) -> pd.DataFrame:
    """Replicates of every metric of :func:`evaluate` (calibration on the first 50 only).

    The scores are grouped once; each resample only changes the groups' counts of clients and
    churners, from which every metric follows by cumulative sums (the calibration fits run on
    the distinct scores as binomial rows): the numbers of the resampled rows, without them.
    """
    neg, group = np.unique(-p, return_inverse=True)
    rows = [
        _ranking_metrics(_Scores.drawn(-neg, group, y, idx), fractions, budget)
        for idx in progress.track(_resamples(y, n_boot, random_state), "bootstrap", total=n_boot)
    ]
    calibration = [
        _calibration_metrics(_Scores.drawn(-neg, group, y, idx))
        for idx in _resamples(y, min(n_boot, 50), random_state)
    ]
    return pd.concat([pd.DataFrame(rows), pd.DataFrame(calibration)], axis=1)


def evaluate(
    y_true: object,
    y_prob: object,
    *,
    fractions: Sequence[float] = (0.05, 0.10, 0.20),
    budget: int | None = None,
    n_boot: int = 200,
    alpha: float = 0.05,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Every metric of this module with its bootstrap interval.

    Returns
    -------
    DataFrame
        Index ``metric``; columns ``value``, ``lo``, ``hi``. Metrics: ``roc_auc``,
        ``pr_auc``, ``brier``, ``calibration_intercept``, ``calibration_slope``,
        ``lift_<p>``, ``capture_<p>`` for each fraction, ``empc``, ``empc_fraction``,
        ``retained_value`` (at ``budget`` contacts, default the top 10%), ``base_rate``.

    Examples
    --------
    >>> rng = np.random.default_rng(0); p = rng.uniform(0, .5, 2000); y = rng.random(2000) < p
    >>> evaluate(y, p, n_boot=20).loc["roc_auc", "value"] > 0.6
    np.True_
    """
    y, p = _arrays(y_true, y_prob)
    k = budget if budget is not None else max(1, int(round(0.1 * len(y))))
    scores = _Scores.of(y, p)
    values = _ranking_metrics(scores, fractions, k) | _calibration_metrics(scores)
    # one resample serves every ranking metric; the calibration fits are dearer: 50 at most
    replicates = _bootstrap(y, p, fractions, k, n_boot, random_state)
    order = ["roc_auc", "pr_auc", "brier", "calibration_intercept", "calibration_slope"]
    order += ["empc", "empc_fraction", "retained_value", "base_rate"]
    order += [m for m in values if m.startswith(("lift_", "capture_"))]
    rows = {}
    for name in order:
        reps = replicates[name].dropna() if name in replicates else pd.Series(dtype=float)
        if reps.empty:
            lo = hi = np.nan
        else:
            lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
        rows[name] = {"value": float(values[name]), "lo": float(lo), "hi": float(hi)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("metric")


def plot_roc(y_true: object, y_score: object, ax=None):
    """ROC curve with its AUC (a matplotlib Figure)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    y, p = _arrays(y_true, y_score)
    fpr, tpr, _ = roc_curve(y, p)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    else:
        fig = ax.figure
    ax.plot(fpr, tpr, label=f"model (AUC {roc_auc(y, p):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate (churners found)")
    ax.set_title("ROC")
    ax.legend(loc="lower right")
    return fig


def plot_lift(y_true: object, y_score: object, ax=None):
    """Cumulative capture (gains) curve against the share of clients contacted (a Figure)."""
    import matplotlib.pyplot as plt

    y, p = _arrays(y_true, y_score)
    ys = y[np.argsort(-p, kind="stable")]
    share = np.arange(1, len(y) + 1) / len(y)
    capture = np.cumsum(ys) / max(ys.sum(), 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
    else:
        fig = ax.figure
    ax.plot(share, capture, label="model")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="random")
    for f in (0.05, 0.10, 0.20):
        k = max(1, int(round(f * len(y))))
        ax.scatter([share[k - 1]], [capture[k - 1]], color="C3", zorder=3)
        ax.annotate(
            f"top {f:.0%}: {capture[k - 1]:.0%}",
            (share[k - 1], capture[k - 1]),
            textcoords="offset points",
            xytext=(6, -10),
            fontsize=8,
        )
    ax.set_xlabel("share of clients contacted (highest risk first)")
    ax.set_ylabel("share of churners captured")
    ax.set_title("Lift / capture")
    ax.legend(loc="lower right")
    return fig
