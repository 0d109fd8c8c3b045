"""Evaluating an uplift ranking on a randomised campaign: Qini, AUUC, deciles, calls.

The outcome counted is a *kept* client (``1 - exit``), so that every curve counts exits
prevented: the Qini curve at the top ``k`` clients is
``kept_T(k) - kept_C(k) N_T(k) / N_C(k)`` (= ``exits_C(k) N_T(k) / N_C(k) - exits_T(k)``),
the uplift curve is ``(kept_T(k) / N_T(k) - kept_C(k) / N_C(k)) k``; clients with equal
scores enter together. The normalised coefficients follow Radcliffe (2007) and scikit-uplift:
the area between the curve and the straight line to its end point, divided by the same area of
the perfect ranking (for the Qini coefficient, the ranking that puts the treated who stayed
first and the holdout who stayed last, negative effects included; for the AUUC, that of
scikit-uplift's ``perfect_uplift_curve``). 0 is a random ranking, 1 the perfect one.

Intervals: the Qini coefficient and the AUUC by a bootstrap over clients (percentile, resamples
with both arms); a difference of exit rates (the campaign's average effect, a decile's, the
exits prevented per 1,000 calls of a call list) by the normal approximation with the two arms'
binomial variances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from snr_models.churn.evaluation import _resamples

__all__ = [
    "UpliftEvaluation",
    "auuc_score",
    "difference_in_exit_rates",
    "evaluate_uplift",
    "qini_coefficient",
    "qini_curve",
    "uplift_curve",
]


def _arrays(y_exit: object, score: object, treatment: object) -> tuple[np.ndarray, ...]:
    y = np.asarray(y_exit, dtype=float)
    s = np.asarray(score, dtype=float)
    t = np.asarray(treatment, dtype=float)
    if not y.shape == s.shape == t.shape or y.ndim != 1:
        raise ValueError("y_exit, score and treatment must be 1-d arrays of the same length")
    if np.isnan(y).any() or np.isnan(s).any():
        raise ValueError("y_exit and score must not hold missing values")
    if not (np.isin(y, (0, 1)).all() and np.isin(t, (0, 1)).all()):
        raise ValueError("y_exit and treatment must be 0/1")
    return y, s, t


def _cumulative(y: np.ndarray, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """Counts at each distinct score, best first: k, N_T, N_C, kept_T, kept_C (from 0)."""
    order = np.argsort(-s, kind="stable")
    kept, t, s = 1.0 - y[order], t[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    n_t = np.r_[0.0, np.cumsum(t)[last]]
    kept_t = np.r_[0.0, np.cumsum(kept * t)[last]]
    kept_c = np.r_[0.0, np.cumsum(kept * (1 - t))[last]]
    k = np.r_[0.0, last + 1.0]
    return k, n_t, k - n_t, kept_t, kept_c


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a), where=b != 0)


def qini_curve(y_exit: object, score: object, treatment: object) -> tuple[np.ndarray, np.ndarray]:
    """Exits prevented among the top ``k`` clients by ``score``: ``(k, qini)`` from ``(0, 0)``.

    Examples
    --------
    >>> k, q = qini_curve([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.2], [0, 1, 1, 0])
    >>> k.tolist(), q.tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 1.0, 1.0, 2.0])
    """
    k, n_t, n_c, kept_t, kept_c = _cumulative(*_arrays(y_exit, score, treatment))
    return k, kept_t - kept_c * _ratio(n_t, n_c)


def uplift_curve(y_exit: object, score: object, treatment: object) -> tuple[np.ndarray, np.ndarray]:
    """The top ``k`` clients' difference in kept rates (called - holdout) times ``k``."""
    k, n_t, n_c, kept_t, kept_c = _cumulative(*_arrays(y_exit, score, treatment))
    return k, (_ratio(kept_t, n_t) - _ratio(kept_c, n_c)) * k


def _area_above_line(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.trapezoid(y, x) - x[-1] * y[-1] / 2)


def _perfect_qini(y: np.ndarray, t: np.ndarray) -> float:
    kept = 1.0 - y
    return _area_above_line(*qini_curve(y, kept * t - kept * (1 - t), t))


def _perfect_uplift(y: np.ndarray, t: np.ndarray) -> float:
    kept = 1.0 - y
    kept_holdout = np.sum((kept == 1) & (t == 0))
    lost_treated = np.sum((kept == 0) & (t == 1))
    summand = kept if kept_holdout > lost_treated else t
    return _area_above_line(*uplift_curve(y, 2 * (kept == t) + summand, t))


def qini_coefficient(y_exit: object, score: object, treatment: object) -> float:
    """Area between the Qini curve and the random line, over the perfect ranking's.

    Examples
    --------
    >>> y, t = np.array([1, 0, 0, 1, 0, 1]), np.array([0, 1, 1, 0, 1, 1])
    >>> round(qini_coefficient(y, [0.9, 0.8, 0.7, 0.6, 0.5, 0.1], t), 3)  # sklift: 0.111
    0.111
    """
    y, s, t = _arrays(y_exit, score, treatment)
    return _area_above_line(*qini_curve(y, s, t)) / _perfect_qini(y, t)


def auuc_score(y_exit: object, score: object, treatment: object) -> float:
    """Area between the uplift curve and the random line, over the perfect ranking's."""
    y, s, t = _arrays(y_exit, score, treatment)
    return _area_above_line(*uplift_curve(y, s, t)) / _perfect_uplift(y, t)


def difference_in_exit_rates(
    y_exit: object, treatment: object, *, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Holdout exit rate minus called exit rate (exits prevented per call), ``(est, lo, hi)``.

    Normal approximation with the two arms' binomial variances; NaN when an arm is empty.

    Examples
    --------
    >>> est, lo, hi = difference_in_exit_rates([1, 0, 0, 0, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0])
    >>> est, lo < est < hi
    (0.25, True)
    """
    y = np.asarray(y_exit, dtype=float)
    t = np.asarray(treatment, dtype=float)
    n1, n0 = t.sum(), (1 - t).sum()
    if n1 == 0 or n0 == 0:
        return np.nan, np.nan, np.nan
    p1, p0 = (y * t).sum() / n1, (y * (1 - t)).sum() / n0
    se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    z = stats.norm.ppf(1 - alpha / 2)
    est = float(p0 - p1)
    return est, float(est - z * se), float(est + z * se)


@dataclass(frozen=True)
class UpliftEvaluation:
    """An uplift ranking judged on a randomised campaign (:func:`evaluate_uplift`).

    Attributes
    ----------
    metrics : DataFrame
        Rows ``qini``, ``auuc``, ``average_effect`` (exits prevented per targeted client),
        columns ``estimate``, ``lo``, ``hi`` (and ``truth`` for the average effect when the
        true uplift was given).
    deciles : DataFrame
        By decile of the score (1 = highest): clients per arm, exit rates, the observed uplift
        with ``lo``/``hi``, the mean score, and the mean true uplift if given.
    calls : DataFrame
        For each ranking and share of the targeted clients called: exits prevented per 1,000
        calls (``estimate``, ``lo``, ``hi`` from the experiment; ``truth`` from the true uplift).
    curves : dict of str to (ndarray, ndarray)
        The Qini curve of each ranking.
    """

    metrics: pd.DataFrame
    deciles: pd.DataFrame
    calls: pd.DataFrame
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    alpha: float = 0.05
    n_treatment: int = 0
    n_holdout: int = 0

    def summary(self) -> str:
        """The metrics and the calls table as text."""
        level = f"{1 - self.alpha:.0%}"
        return (
            f"Uplift on a randomised campaign: {self.n_treatment:,} called, "
            f"{self.n_holdout:,} held out ({level} intervals)\n"
            f"{self.metrics.round(4).to_string()}\n\n"
            f"Exits prevented per 1,000 calls\n{self.calls.round(1).to_string(index=False)}"
        )

    def to_frame(self) -> pd.DataFrame:
        """The metrics (``estimate``, ``lo``, ``hi``), one row each."""
        return self.metrics.copy()

    def plot(self):
        """Qini curves of the rankings, and the observed uplift by decile (a Figure)."""
        import matplotlib.pyplot as plt

        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
        for name, (k, q) in self.curves.items():
            left.plot(k, q, label=name)
        k_end, q_end = next(iter(self.curves.values()))
        left.plot([0, k_end[-1]], [0, q_end[-1]], color="grey", linestyle=":", label="random")
        left.set_xlabel("clients called, best first")
        left.set_ylabel("exits prevented (Qini)")
        left.legend(frameon=False)
        d = self.deciles
        right.bar(d["decile"], d["uplift"], color="tab:blue", alpha=0.7, label="observed")
        right.errorbar(
            d["decile"],
            d["uplift"],
            yerr=[d["uplift"] - d["lo"], d["hi"] - d["uplift"]],
            fmt="none",
            color="black",
            capsize=2,
        )
        if "true_uplift" in d:
            right.plot(d["decile"], d["true_uplift"], "o", color="tab:red", label="true")
        right.axhline(0, color="grey", linewidth=0.8)
        right.set_xlabel("decile of predicted uplift (1 = highest)")
        right.set_ylabel("exits prevented per call")
        right.legend(frameon=False)
        fig.tight_layout()
        return fig


def _deciles(
    y: np.ndarray, s: np.ndarray, t: np.ndarray, truth: np.ndarray | None, alpha: float
) -> pd.DataFrame:
    rank = pd.Series(-s).rank(method="first").to_numpy()
    decile = np.minimum((10 * (rank - 1) / len(s)).astype(int) + 1, 10)
    rows = []
    for d in range(1, 11):
        sel = decile == d
        est, lo, hi = difference_in_exit_rates(y[sel], t[sel], alpha=alpha)
        row = {
            "decile": d,
            "n_treatment": int(t[sel].sum()),
            "n_holdout": int((1 - t[sel]).sum()),
            "exit_rate_treatment": float(y[sel & (t == 1)].mean())
            if (sel & (t == 1)).any()
            else np.nan,
            "exit_rate_holdout": float(y[sel & (t == 0)].mean())
            if (sel & (t == 0)).any()
            else np.nan,
            "uplift": est,
            "lo": lo,
            "hi": hi,
            "predicted": float(s[sel].mean()),
        }
        if truth is not None:
            row["true_uplift"] = float(truth[sel].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _calls(
    y: np.ndarray,
    t: np.ndarray,
    rankings: dict[str, np.ndarray],
    shares: Sequence[float],
    truth: np.ndarray | None,
    alpha: float,
) -> pd.DataFrame:
    rows = []
    for name, score in rankings.items():
        order = np.argsort(-score, kind="stable")
        for share in shares:
            top = order[: max(int(round(share * len(order))), 1)]
            est, lo, hi = difference_in_exit_rates(y[top], t[top], alpha=alpha)
            row = {
                "ranking": name,
                "share_called": float(share),
                "calls": len(top),
                "estimate": 1000 * est,
                "lo": 1000 * lo,
                "hi": 1000 * hi,
            }
            if truth is not None:
                row["truth"] = 1000 * float(truth[top].mean())
            rows.append(row)
    return pd.DataFrame(rows)


def evaluate_uplift(
    y_exit: object,
    uplift: object,
    treatment: object,
    *,
    risk: object = None,
    true_uplift: object = None,
    shares: Sequence[float] = (0.1, 0.3, 0.5),
    n_boot: int = 200,
    alpha: float = 0.05,
    random_state: int | None = 0,
) -> UpliftEvaluation:
    """Judge a predicted uplift on a randomised campaign's clients (out of time).

    Parameters
    ----------
    y_exit : array of 0/1
        The churn label of each targeted client (an exit within the horizon).
    uplift : array
        Predicted exits prevented per call (higher: call first).
    treatment : array of 0/1
        1 called, 0 held out (the recorded, randomised assignment).
    risk : array, optional
        A risk score; the ``calls`` table then compares calling by risk with calling by uplift.
    true_uplift : array, optional
        The true uplift (from a simulation's ``truth.json``): adds ``truth`` columns.
    shares : sequence of float
        Shares of the targeted clients called, for the ``calls`` table.
    n_boot, alpha, random_state
        Bootstrap replicates, ``1 - confidence level``, seed.

    Examples
    --------
    >>> rng = np.random.default_rng(0); n = 4_000
    >>> x = rng.normal(size=n); t = (rng.random(n) < 0.8).astype(int)
    >>> y = (rng.random(n) < 0.2 - 0.1 * t * (x > 0)).astype(int)
    >>> ev = evaluate_uplift(y, x, t, n_boot=50)
    >>> bool(ev.metrics.loc["qini", "lo"] > 0)
    True
    """
    y, s, t = _arrays(y_exit, uplift, treatment)
    truth = None if true_uplift is None else np.asarray(true_uplift, dtype=float)
    qini, auuc = qini_coefficient(y, s, t), auuc_score(y, s, t)
    reps = np.array(
        [
            (qini_coefficient(y[i], s[i], t[i]), auuc_score(y[i], s[i], t[i]))
            for i in _resamples(t, n_boot, random_state)
        ]
    )
    q = [alpha / 2, 1 - alpha / 2]
    q_lo, q_hi = np.quantile(reps[:, 0], q) if len(reps) else (np.nan, np.nan)
    a_lo, a_hi = np.quantile(reps[:, 1], q) if len(reps) else (np.nan, np.nan)
    ate = difference_in_exit_rates(y, t, alpha=alpha)
    metrics = pd.DataFrame(
        {"estimate": [qini, auuc, ate[0]], "lo": [q_lo, a_lo, ate[1]], "hi": [q_hi, a_hi, ate[2]]},
        index=pd.Index(["qini", "auuc", "average_effect"], name="metric"),
    )
    if truth is not None:
        metrics["truth"] = [np.nan, np.nan, float(truth.mean())]
    rankings = {"uplift": s}
    if risk is not None:
        rankings["risk"] = np.asarray(risk, dtype=float)
    curves = {name: qini_curve(y, score, t) for name, score in rankings.items()}
    return UpliftEvaluation(
        metrics=metrics,
        deciles=_deciles(y, s, t, truth, alpha),
        calls=_calls(y, t, rankings, shares, truth, alpha),
        curves=curves,
        alpha=alpha,
        n_treatment=int(t.sum()),
        n_holdout=int((1 - t).sum()),
    )
