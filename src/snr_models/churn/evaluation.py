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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

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
    lp = special.logit(np.clip(p, 1e-10, 1 - 1e-10))
    ones = np.ones((len(y), 1))
    slope = _logistic_mle(y.astype(float), np.c_[ones, lp], np.zeros(len(y)))[1]
    intercept = _logistic_mle(y.astype(float), ones, lp)[0]
    return float(intercept), float(slope)


def _logistic_mle(
    y: np.ndarray, X: np.ndarray, offset: np.ndarray, max_iter: int = 100
) -> np.ndarray:
    """Maximum-likelihood logistic coefficients by Newton's method with step halving.

    Two coefficients at most here, so this is a few passes over the data, where a GLM
    object costs a hundred times more inside the bootstrap.
    """

    def loglik(beta: np.ndarray) -> float:
        eta = X @ beta + offset
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    beta = np.zeros(X.shape[1])
    current = loglik(beta)
    for _ in range(max_iter):
        mu = special.expit(X @ beta + offset)
        hessian = (X * (mu * (1 - mu))[:, None]).T @ X
        step = np.linalg.lstsq(hessian, X.T @ (y - mu), rcond=None)[0]
        for _ in range(30):  # halve until the likelihood does not fall
            candidate = loglik(beta + step)
            if candidate >= current - 1e-12:
                break
            step = step / 2
        beta, previous, current = beta + step, current, candidate
        if np.max(np.abs(step)) < 1e-10 or abs(current - previous) < 1e-12:
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
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    base = y.mean()
    rows = []
    for f in fractions:
        k = max(1, int(round(f * len(y))))
        rate = ys[:k].mean()
        rows.append(
            {
                "fraction": float(f),
                "n_contacted": k,
                "churn_rate": float(rate),
                "lift": float(rate / base) if base > 0 else np.nan,
                "capture": float(ys[:k].sum() / y.sum()) if y.sum() > 0 else np.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class EMPC:
    """Expected maximum profit for churn: per client (``value``), and the contact fraction."""

    value: float
    fraction: float


def _roc_hull(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convex hull of the ROC curve: arrays (FPR, TPR) from (0, 0) to (1, 1)."""
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    distinct = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tps = np.cumsum(ys)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / max(ys.sum(), 1)]
    fpr = np.r_[0.0, fps / max(len(ys) - ys.sum(), 1)]
    # Only the points where the curve turns clockwise can be hull vertices: keep them (and
    # the ends) before the monotone-chain pass, which is then short.
    d_f, d_t = np.diff(fpr), np.diff(tpr)
    turns = d_f[:-1] * d_t[1:] - d_t[:-1] * d_f[1:] < 0
    candidates = np.flatnonzero(np.r_[True, turns, True])
    fpr, tpr = fpr[candidates], tpr[candidates]
    hull: list[int] = []
    for i in range(len(fpr)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (fpr[b] - fpr[a]) * (tpr[i] - tpr[a]) - (tpr[b] - tpr[a]) * (fpr[i] - fpr[a])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return fpr[hull], tpr[hull]


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
    pi0 = y.mean()
    pi1 = 1 - pi0
    delta, phi = incentive / clv, contact_cost / clv
    fpr, tpr = _roc_hull(y, p)
    # gamma thresholds at which the optimum moves from hull point i to i + 1
    d_tpr, d_fpr = np.diff(tpr), np.diff(fpr)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope_term = np.where(d_tpr > 0, (delta + phi) * pi1 * d_fpr / (pi0 * d_tpr), np.inf)
    g = (slope_term + phi) / (1 - delta)
    bounds = np.r_[0.0, np.clip(g, 0, 1), 1.0]
    beta_cdf = stats.beta(alpha, beta).cdf
    beta1_cdf = stats.beta(alpha + 1, beta).cdf
    mean_gamma = alpha / (alpha + beta)
    value, frac = 0.0, 0.0
    for i in range(len(fpr)):
        lo, hi = bounds[i], bounds[i + 1]
        if hi <= lo:
            continue
        mass = beta_cdf(hi) - beta_cdf(lo)
        gamma_mass = mean_gamma * (beta1_cdf(hi) - beta1_cdf(lo))
        value += clv * (
            (1 - delta) * pi0 * tpr[i] * gamma_mass
            - (phi * pi0 * tpr[i] + (delta + phi) * pi1 * fpr[i]) * mass
        )
        frac += (pi0 * tpr[i] + pi1 * fpr[i]) * mass
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
    v = np.ones_like(y) if value is None else np.asarray(value, dtype=float).ravel()
    budget = int(min(max(budget, 0), len(y)))
    top = np.argsort(-p, kind="stable")[:budget]
    return float(acceptance * (y[top] * v[top]).sum() - budget * contact_cost)


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
    rng = np.random.default_rng(random_state)
    rows = []
    n = len(y)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        yb = y[idx]
        if yb.min() == yb.max():
            continue
        rows.append(metrics(yb, p[idx]))
    return pd.DataFrame(rows)


def _ranking_metrics(
    y: np.ndarray, p: np.ndarray, fractions: Sequence[float], budget: int
) -> dict[str, float]:
    """Every metric of :func:`evaluate` but the calibration ones, from one resample."""
    profit = empc(y, p)
    values = {
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "brier": brier(y, p),
        "empc": profit.value,
        "empc_fraction": profit.fraction,
        "retained_value": expected_retained_value(y, p, budget),
        "base_rate": float(np.mean(y)),
    }
    table = lift_table(y, p, fractions)
    for f, lift, capture in zip(fractions, table["lift"], table["capture"], strict=True):
        tag = f"{int(round(f * 100))}pct"
        values[f"lift_{tag}"] = float(lift)
        values[f"capture_{tag}"] = float(capture)
    return values


def _calibration_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    intercept, slope = calibration_intercept_slope(y, p)
    return {"calibration_intercept": intercept, "calibration_slope": slope}


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
    values = _ranking_metrics(y, p, fractions, k) | _calibration_metrics(y, p)
    # one resample serves every ranking metric; the calibration fits are dearer: 50 at most
    replicates = pd.concat(
        [
            _replicates(
                lambda a, b: _ranking_metrics(a, b, fractions, k), y, p, n_boot, random_state
            ),
            _replicates(_calibration_metrics, y, p, min(n_boot, 50), random_state),
        ],
        axis=1,
    )
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
