"""Drivers by segment or branch, and whether they differ between the groups.

:func:`drivers_by_group` runs :func:`~snr_models.drivers.key_drivers` within each group (its
own bootstrap) and tests, for every driver, two hypotheses:

- **equal importance**: a Wald test that the driver's share of R² is the same in every group,
  ``chi2 = sum_g (s_g - s_bar)^2 / v_g`` with ``s_bar`` the inverse-variance weighted mean and
  ``v_g`` the bootstrap variance in group g (the groups are independent samples), ``G - 1``
  degrees of freedom;
- **equal slope**: the F test, in one pooled regression with group intercepts and
  group-specific slopes, that the driver's slope is common to all groups (a Chow test
  restricted to one driver).

p-values are reported raw and Holm-adjusted over the drivers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from snr_models import progress
from snr_models.drivers.importance import DriverImportance, key_drivers
from snr_models.drivers.inputs import prepare
from snr_models.errors import SnrInputError
from snr_models.figures import new_figure

__all__ = ["GROUP_TEST_COLUMNS", "GroupDrivers", "drivers_by_group", "holm"]

GROUP_TEST_COLUMNS = [
    "driver",
    "importance_chi2",
    "importance_df",
    "importance_p",
    "importance_p_holm",
    "slope_f",
    "slope_df1",
    "slope_df2",
    "slope_p",
    "slope_p_holm",
]


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values.

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(3)
    array([0.03, 0.06, 0.06])
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


@dataclass
class GroupDrivers:
    """Key drivers within each group, and tests of their differences.

    Attributes
    ----------
    by : str
        The grouping column.
    results : dict
        Group value -> :class:`~snr_models.drivers.importance.DriverImportance`.
    tests : DataFrame
        Per driver (:data:`GROUP_TEST_COLUMNS`): equal-importance Wald test and equal-slope
        F test, with Holm-adjusted p-values.
    chow : dict
        The joint F test that every slope is common to all groups: ``f, df1, df2, p_value``.
    """

    target: str
    by: str
    results: dict[str, DriverImportance]
    tests: pd.DataFrame
    chow: dict
    skipped: dict[str, int]

    def to_frame(self) -> pd.DataFrame:
        """Long table: one row per group and driver (importance, interval, share, rank, n)."""
        parts = []
        for group, res in self.results.items():
            frame = res.to_frame()
            frame.insert(0, self.by, group)
            frame["n"] = res.n_used
            frame["r2"] = res.r2
            parts.append(frame)
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> str:
        """A printable report: shares by group, then the tests."""
        wide = self.to_frame().pivot(index="driver", columns=self.by, values="share")
        lines = [
            f"Drivers of {self.target!r} by {self.by}: Shapley share of R² per group",
            ", ".join(f"{g}: n {r.n_used}, R2 {r.r2:.3f}" for g, r in self.results.items()),
            "",
            wide.round(4).to_string(),
            "",
            "equal importance (Wald, bootstrap variances) and equal slope (F) across groups:",
            self.tests.round(4).to_string(index=False),
            "",
            f"all slopes equal (Chow): F = {self.chow['f']:.3f} on ({self.chow['df1']}, "
            f"{self.chow['df2']}) df, p = {self.chow['p_value']:.4g}",
        ]
        if self.skipped:
            lines.append(f"groups skipped (too few complete rows): {self.skipped}")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Share of R² with interval, per driver, one marker per group."""
        frame = self.to_frame()
        drivers = list(self.tests["driver"])
        groups = list(self.results)
        fig = new_figure(figsize=(8.0, 0.55 * len(drivers) + 1.8), layout="constrained")
        ax = fig.subplots()
        width = 0.8 / max(1, len(groups))
        for i, group in enumerate(groups):
            rows = frame[frame[self.by] == group].set_index("driver").reindex(drivers)
            ypos = np.arange(len(drivers)) - 0.4 + width * (i + 0.5)
            xerr = None
            if rows["share_lo"].notna().all():
                xerr = [
                    (rows["share"] - rows["share_lo"]).clip(lower=0),
                    (rows["share_hi"] - rows["share"]).clip(lower=0),
                ]
            ax.errorbar(rows["share"], ypos, xerr=xerr, fmt="o", capsize=2, label=str(group))
        ax.set_yticks(np.arange(len(drivers)), drivers)
        ax.invert_yaxis()
        ax.set_xlabel("share of R² (Shapley)")
        ax.set_title(f"Drivers of {self.target} by {self.by}")
        ax.legend(fontsize=8, title=self.by)
        return fig


def _slope_tests(
    y: np.ndarray, X: np.ndarray, g: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, int, dict]:
    """F tests of a common slope per driver, and of all slopes jointly (Chow)."""
    n, p = X.shape
    levels = np.unique(g)
    G = len(levels)
    D = (g[:, None] == levels[None, :]).astype(np.float64)  # group intercepts
    inter = np.concatenate([D[:, [k]] * X for k in range(G)], axis=1)  # slopes per group

    def rss(design: np.ndarray) -> tuple[float, int]:
        beta, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ beta
        return float(resid @ resid), int(np.linalg.matrix_rank(design))

    rss_full, k_full = rss(np.column_stack([D, inter]))
    df2 = n - k_full
    f_values, p_values = np.empty(p), np.empty(p)
    for j in range(p):
        cols = [k * p + jj for k in range(G) for jj in range(p) if jj != j]
        restricted = np.column_stack([D, inter[:, cols], X[:, j]])
        rss_r, _ = rss(restricted)
        f_values[j] = ((rss_r - rss_full) / (G - 1)) / (rss_full / df2)
        p_values[j] = stats.f.sf(f_values[j], G - 1, df2)
    rss_r, _ = rss(np.column_stack([D, X]))
    df1 = p * (G - 1)
    f_all = ((rss_r - rss_full) / df1) / (rss_full / df2)
    chow = {"f": f_all, "df1": df1, "df2": df2, "p_value": float(stats.f.sf(f_all, df1, df2))}
    return f_values, p_values, G - 1, df2, chow


def drivers_by_group(
    data: pd.DataFrame,
    target: str,
    drivers: Sequence[str],
    by: str,
    *,
    n_boot: int = 200,
    alpha: float = 0.05,
    min_rows: int = 100,
    random_state: int | None = 0,
) -> GroupDrivers:
    """Key drivers within each group of ``by``, with tests of the differences between groups.

    Parameters
    ----------
    data : DataFrame
        Not modified; rows with a missing target, driver or group are dropped.
    target, drivers
        As in :func:`~snr_models.drivers.key_drivers`.
    by : str
        The grouping column (``segment``, ``branch_id``, ...).
    n_boot : int
        Bootstrap replicates per group (at least 2: the importance test needs variances).
    alpha : float
        ``1 - alpha`` intervals.
    min_rows : int
        Groups with fewer complete rows are skipped (reported in ``skipped``).
    random_state : int or None
        Seed of the bootstraps.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame(rng.normal(size=(2000, 2)), columns=["a", "b"])
    >>> frame["g"] = np.repeat(["x", "y"], 1000)
    >>> slope = np.where(frame["g"] == "x", 1.0, 0.2)
    >>> frame["y"] = slope * frame["a"] + 0.5 * frame["b"] + rng.normal(size=2000)
    >>> res = drivers_by_group(frame, "y", ["a", "b"], "g", n_boot=100)
    >>> res.tests.set_index("driver")["slope_p"].lt(0.01).to_dict()
    {'a': True, 'b': False}
    """
    drivers = list(drivers)
    if by not in data.columns:
        raise SnrInputError(f"group column {by!r} not in the data")
    if n_boot < 2:
        raise SnrInputError("n_boot must be at least 2 to test differences of importance")
    frame = data[[target, *drivers, by]].dropna()
    counts = frame[by].value_counts()
    keep = sorted(counts[counts >= min_rows].index.astype(str))
    skipped = {str(k): int(v) for k, v in counts[counts < min_rows].items()}
    if len(keep) < 2:
        raise SnrInputError(
            f"{by!r}: fewer than two groups with at least {min_rows} complete rows "
            f"(counts {counts.to_dict()})"
        )
    frame = frame[frame[by].astype(str).isin(keep)]
    labels = frame[by].astype(str).to_numpy()
    results = {
        group: key_drivers(
            frame[labels == group],
            target,
            drivers,
            n_boot=n_boot,
            alpha=alpha,
            random_state=None if random_state is None else random_state + i,
        )
        for i, group in enumerate(progress.track(keep, "groups", describe=str))
    }
    shares = np.array([r.table["share"].to_numpy() for r in results.values()])  # (G, p)
    variances = np.array(
        [
            (r.replicates / r.replicates.sum(axis=1, keepdims=True)).var(axis=0, ddof=1)
            for r in results.values()
        ]
    )
    wts = 1.0 / variances
    pooled = (wts * shares).sum(axis=0) / wts.sum(axis=0)
    chi2 = (wts * (shares - pooled) ** 2).sum(axis=0)
    df = len(keep) - 1
    p_imp = stats.chi2.sf(chi2, df)
    d = prepare(frame, target, drivers)
    f_values, p_slope, df1, df2, chow = _slope_tests(d.y, d.X, labels)
    tests = pd.DataFrame(
        {
            "driver": drivers,
            "importance_chi2": chi2,
            "importance_df": df,
            "importance_p": p_imp,
            "importance_p_holm": holm(p_imp),
            "slope_f": f_values,
            "slope_df1": df1,
            "slope_df2": df2,
            "slope_p": p_slope,
            "slope_p_holm": holm(p_slope),
        }
    )[GROUP_TEST_COLUMNS]
    return GroupDrivers(
        target=target, by=by, results=results, tests=tests, chow=chow, skipped=skipped
    )
