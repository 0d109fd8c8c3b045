"""Input handling of every driver analysis: missing ratings, constant columns, collinearity.

One function, :func:`prepare`, turns an analyst's frame into the numeric matrix the methods
use: it keeps the target and driver columns, drops incomplete rows (listwise, the default,
with the number used and dropped reported) or refuses them (``missing="raise"``), rejects a
constant column or an exactly collinear set by name, and reports variance inflation factors,
warning (:class:`CollinearityWarning`) when one exceeds a threshold.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from snr_models.errors import SnrInputError

__all__ = ["CollinearityWarning", "DriverData", "prepare", "vif_from_corr"]

#: A variance inflation factor above this triggers :class:`CollinearityWarning`.
VIF_WARN = 10.0


class CollinearityWarning(UserWarning):
    """Drivers are strongly collinear: importances are still defined, coefficients unstable."""


@dataclass(frozen=True)
class DriverData:
    """The complete rows of a driver analysis.

    Attributes
    ----------
    target : str
        The outcome column.
    drivers : tuple of str
        The driver columns, in the caller's order.
    y : ndarray, shape (n,)
        The outcome.
    X : ndarray, shape (n, p)
        The drivers.
    n_total, n_used : int
        Rows given and rows used (complete on the target and every driver).
    vif : pandas.Series
        Variance inflation factor of each driver.
    """

    target: str
    drivers: tuple[str, ...]
    y: np.ndarray
    X: np.ndarray
    n_total: int
    n_used: int
    vif: pd.Series

    @property
    def n_dropped(self) -> int:
        """Rows dropped for a missing value."""
        return self.n_total - self.n_used

    @property
    def corr(self) -> np.ndarray:
        """Correlation matrix of ``[y, X]`` (the target first)."""
        return np.corrcoef(np.column_stack([self.y, self.X]), rowvar=False)


def vif_from_corr(corr_xx: np.ndarray) -> np.ndarray:
    """Variance inflation factors: the diagonal of the inverse correlation matrix of the drivers.

    Examples
    --------
    >>> vif_from_corr(np.array([[1.0, 0.5], [0.5, 1.0]])).round(4)
    array([1.3333, 1.3333])
    """
    return np.diag(np.linalg.inv(corr_xx))


def prepare(
    data: pd.DataFrame,
    target: str,
    drivers: Sequence[str],
    *,
    missing: Literal["listwise", "raise"] = "listwise",
    vif_warn: float = VIF_WARN,
    min_rows: int | None = None,
) -> DriverData:
    """Check and extract the complete rows of ``target`` and ``drivers`` from ``data``.

    Parameters
    ----------
    data : DataFrame
        One row per response. Not modified.
    target : str
        The outcome column (numeric).
    drivers : sequence of str
        The driver columns (numeric, e.g. attribute ratings 1-5).
    missing : {"listwise", "raise"}
        ``"listwise"`` drops every row with a missing target or driver (``n_used`` and
        ``n_dropped`` report it); ``"raise"`` refuses any missing value.
    vif_warn : float
        Warn with :class:`CollinearityWarning` when a variance inflation factor exceeds it.
    min_rows : int, optional
        Fewest complete rows accepted (default ``p + 2``).

    Raises
    ------
    SnrInputError
        A column is absent or not numeric, the target is a driver, a driver is constant
        (named), drivers are exactly collinear (named), missing values with
        ``missing="raise"``, or too few complete rows.

    Examples
    --------
    >>> frame = pd.DataFrame(
    ...     {"y": [1, 2, 3, 4, 5.0], "a": [1, 3, 2, 5, None], "b": [2, 1, 2, 4, 5]}
    ... )
    >>> d = prepare(frame, "y", ["a", "b"])
    >>> d.n_used, d.n_dropped
    (4, 1)
    """
    drivers = tuple(drivers)
    if not drivers:
        raise SnrInputError("no driver columns given")
    if target in drivers:
        raise SnrInputError(f"the target {target!r} is also listed as a driver")
    if len(set(drivers)) != len(drivers):
        dup = sorted({d for d in drivers if drivers.count(d) > 1})
        raise SnrInputError(f"driver columns listed twice: {dup}")
    absent = [c for c in (target, *drivers) if c not in data.columns]
    if absent:
        raise SnrInputError(f"columns not in the data: {absent}; it has {list(data.columns)}")
    frame = data[[target, *drivers]]
    not_numeric = [c for c in frame.columns if not (pd.api.types.is_numeric_dtype(frame[c].dtype))]
    if not_numeric:
        raise SnrInputError(f"columns must be numeric: {not_numeric}")
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    complete = np.isfinite(values).all(axis=1)
    if missing == "raise" and not complete.all():
        counts = frame.isna().sum()
        raise SnrInputError(f"missing values (missing='raise'): {counts[counts > 0].to_dict()}")
    if missing not in ("listwise", "raise"):
        raise SnrInputError(f"missing must be 'listwise' or 'raise', got {missing!r}")
    values = values[complete]
    n_total, n_used = len(frame), int(complete.sum())
    need = min_rows if min_rows is not None else len(drivers) + 2
    if n_used < need:
        raise SnrInputError(
            f"{n_used} complete rows of {n_total} (listwise on {target!r} and {len(drivers)} "
            f"drivers); at least {need} are needed"
        )
    sd = values.std(axis=0)
    constant = [c for c, s in zip((target, *drivers), sd, strict=True) if not s > 0]
    if constant:
        what = "the target" if constant == [target] else "column(s)"
        raise SnrInputError(
            f"{what} {constant} constant over the {n_used} complete rows: a constant column "
            "explains nothing; drop it"
        )
    X = values[:, 1:]
    corr_xx = np.atleast_2d(np.corrcoef(X, rowvar=False))
    eig = np.linalg.eigvalsh(corr_xx)
    if eig[0] < 1e-10 * max(1.0, eig[-1]):
        # the drivers loading on the null direction are the collinear set
        _, vecs = np.linalg.eigh(corr_xx)
        null = vecs[:, 0]
        members = [d for d, w in zip(drivers, null, strict=True) if abs(w) > 1e-6]
        raise SnrInputError(
            f"drivers {members} are exactly collinear (one is a linear combination of the "
            "others): drop one of them"
        )
    vif = pd.Series(vif_from_corr(corr_xx), index=list(drivers), name="vif")
    high = vif[vif > vif_warn]
    if len(high):
        warnings.warn(
            f"strong collinearity: variance inflation factor above {vif_warn:g} for "
            f"{high.round(1).to_dict()}; importances are shared among correlated drivers and "
            "single coefficients are unstable",
            CollinearityWarning,
            stacklevel=2,
        )
    return DriverData(
        target=target,
        drivers=drivers,
        y=values[:, 0].copy(),
        X=X.copy(),
        n_total=n_total,
        n_used=n_used,
        vif=vif,
    )
