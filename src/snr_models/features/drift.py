"""Drift between a model's training data and new data: population stability index (PSI).

At training, :func:`training_profile` keeps, per feature, the shares of training rows in
ten quantile bins (numeric; plus a bin for missing values) or per level (categorical), and
the label rate: aggregates only, never rows. :func:`drift_report` bins new data on the same
edges and computes

``PSI = sum_b (a_b - e_b) * ln(a_b / e_b)``

per feature (``e``: training shares, ``a``: new shares, both floored at ``1e-4``), and the
PSI of the label rate (the two-bin distribution churn / stay). Conventional reading: below
0.1 stable, 0.1-0.25 moderate shift, above 0.25 major shift (Siddiqi 2006, *Credit Risk
Scorecards*, ch. 8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["DriftReport", "drift_report", "psi", "training_profile"]

_FLOOR = 1e-4


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index of two distributions over the same bins.

    Examples
    --------
    >>> psi([0.5, 0.5], [0.5, 0.5])
    0.0
    >>> round(psi([0.9, 0.1], [0.8, 0.2]), 4)
    0.0811
    """
    e = np.clip(np.asarray(expected, dtype=float), _FLOOR, None)
    a = np.clip(np.asarray(actual, dtype=float), _FLOOR, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_shares(values: np.ndarray, edges: np.ndarray) -> list[float]:
    n = len(values)
    if n == 0:
        return [0.0] * (len(edges) + 2)
    missing = np.isnan(values)
    bins = np.searchsorted(edges, values[~missing], side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1).astype(float)
    return [*(counts / n), float(missing.sum()) / n]


def _level_shares(values: pd.Series) -> pd.Series:
    """Share of each level, most frequent first; a missing value is the level ``"nan"``."""
    return values.astype("str").fillna("nan").value_counts(normalize=True)


def training_profile(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    label: str | None = "churn",
    n_bins: int = 10,
) -> dict:
    """Per-feature bin edges and shares, and the label rate, of the training rows.

    Parameters
    ----------
    frame : DataFrame
        Training rows (feature frame of :func:`snr_models.features.build_features`).
    columns : sequence of str
        Features to profile (numeric: quantile bins; other: levels).
    label : str or None, default "churn"
        Label column whose mean is kept as the label rate.
    n_bins : int, default 10

    Returns
    -------
    dict
        ``{"n_rows", "label_rate", "features": {name: {"kind", "edges"|"levels", "shares"}}}``;
        JSON-serialisable, no rows.

    Examples
    --------
    >>> f = pd.DataFrame({"x": np.arange(100.0), "seg": ["a", "b"] * 50, "churn": [0.0] * 100})
    >>> p = training_profile(f, ["x", "seg"])
    >>> p["features"]["seg"]["shares"]
    [0.5, 0.5]
    """
    features: dict[str, dict] = {}
    for col in columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            values = s.to_numpy(dtype=float)
            finite = values[~np.isnan(values)]
            if len(finite):
                qs = np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])
                edges = np.unique(qs)
            else:
                edges = np.array([])
            features[str(col)] = {
                "kind": "numeric",
                "edges": [float(v) for v in edges],
                "shares": _numeric_shares(values, edges),
            }
        else:
            shares = _level_shares(s)
            features[str(col)] = {
                "kind": "categorical",
                "levels": [str(v) for v in shares.index],
                "shares": [float(v) for v in shares.to_numpy()],
            }
    rate = None
    if label is not None and label in frame.columns:
        y = frame[label].dropna()
        rate = float(y.mean()) if len(y) else None
    return {"n_rows": int(len(frame)), "label_rate": rate, "features": features}


@dataclass(frozen=True)
class DriftReport:
    """PSI per feature and of the label rate, with the breaches of the thresholds.

    Attributes
    ----------
    table : DataFrame
        ``feature``, ``psi``, ``breach`` (bool), sorted by PSI, largest first.
    label_psi : float or None
        PSI of the label rate (None without labels on either side).
    label_rate_training, label_rate_new : float or None
    breaches : list of str
        Features (and ``"label_rate"``) past their threshold.
    """

    table: pd.DataFrame
    label_psi: float | None
    label_rate_training: float | None
    label_rate_new: float | None
    breaches: list[str] = field(default_factory=list)

    @property
    def breached(self) -> bool:
        """Whether any threshold was passed."""
        return bool(self.breaches)

    def to_dict(self) -> dict:
        """A JSON-serialisable summary (top ten features by PSI)."""
        top = self.table.head(10)
        return {
            "label_psi": self.label_psi,
            "label_rate_training": self.label_rate_training,
            "label_rate_new": self.label_rate_new,
            "max_feature_psi": float(self.table["psi"].max()) if len(self.table) else None,
            "top": {r.feature: round(float(r.psi), 6) for r in top.itertuples()},
            "breaches": list(self.breaches),
        }


def drift_report(
    profile: dict,
    frame: pd.DataFrame,
    *,
    labelled: pd.DataFrame | None = None,
    label: str = "churn",
    psi_threshold: float = 0.25,
    label_psi_threshold: float = 0.1,
    exclude: Sequence[str] = (),
) -> DriftReport:
    """Compare new data with a training profile.

    Parameters
    ----------
    profile : dict
        From :func:`training_profile`.
    frame : DataFrame
        New feature rows (e.g. the latest as-of month, the population to be scored).
    labelled : DataFrame, optional
        New rows with observed labels (e.g. the most recent labelled months) for the label
        rate; default ``frame``.
    label : str, default "churn"
    psi_threshold, label_psi_threshold : float
        A feature (the label rate) whose PSI exceeds its threshold is a breach.
    exclude : sequence of str, optional
        Features left out (e.g. market context, one value per month).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> old = pd.DataFrame({"x": rng.normal(size=5000), "churn": rng.random(5000) < 0.1})
    >>> new = pd.DataFrame({"x": rng.normal(1.0, 1, 5000), "churn": rng.random(5000) < 0.1})
    >>> drift_report(training_profile(old, ["x"]), new).breaches
    ['x']
    """
    rows = []
    for name, spec in profile["features"].items():
        if name not in frame.columns or name in exclude:
            continue
        s = frame[name]
        if spec["kind"] == "numeric":
            actual = _numeric_shares(s.to_numpy(dtype=float), np.asarray(spec["edges"]))
            expected = spec["shares"]
        else:
            counts = _level_shares(s)
            levels = list(spec["levels"])
            unseen = float(counts.drop(labels=levels, errors="ignore").sum())
            expected = [*spec["shares"], 0.0]
            actual = [float(counts.get(level, 0.0)) for level in levels] + [unseen]
        value = psi(expected, actual)
        rows.append({"feature": name, "psi": value, "breach": value > psi_threshold})
    table = pd.DataFrame(rows, columns=["feature", "psi", "breach"])
    table = table.sort_values("psi", ascending=False, ignore_index=True)
    breaches = [str(f) for f in table.loc[table["breach"], "feature"]]
    rate_old = profile.get("label_rate")
    source = labelled if labelled is not None else frame
    rate_new = None
    if label in source.columns:
        y = source[label].dropna()
        rate_new = float(y.mean()) if len(y) else None
    label_psi = None
    if rate_old is not None and rate_new is not None:
        label_psi = psi([rate_old, 1 - rate_old], [rate_new, 1 - rate_new])
        if label_psi > label_psi_threshold:
            breaches.append("label_rate")
    return DriftReport(
        table=table,
        label_psi=label_psi,
        label_rate_training=rate_old,
        label_rate_new=rate_new,
        breaches=breaches,
    )
