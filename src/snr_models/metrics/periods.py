"""Calendar periods (month, quarter, year) as integer indices, and the window of periods.

A period is ``[first day, next period's first day)``. Internally a period is numbered by
``floor(months since 1970-01 / k)`` with ``k`` = 1, 3 or 12 months; a window is a run of
consecutive period numbers. Vectorised over numpy ``datetime64`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from snr_models.errors import SnrInputError

#: Months per period for each supported frequency.
MONTHS_PER_PERIOD: dict[str, int] = {"M": 1, "Q": 3, "Y": 12}

_NAT_INT = np.iinfo(np.int64).min


def months_per_period(freq: str) -> int:
    """``k``, the number of months in a period of frequency ``freq`` ("M", "Q" or "Y")."""
    try:
        return MONTHS_PER_PERIOD[freq]
    except (KeyError, TypeError):
        raise SnrInputError(f"freq must be one of 'M', 'Q', 'Y', got {freq!r}") from None


def period_numbers(values: pd.Series | np.ndarray, k: int) -> np.ndarray:
    """The period number of each timestamp (int64); ``NaT`` gives the int64 minimum.

    Examples
    --------
    >>> period_numbers(np.array(["2024-03-31T23:00"], dtype="datetime64[us]"), 3)
    array([216])
    """
    months = np.asarray(values, dtype="datetime64[us]").astype("datetime64[M]")
    nat = np.isnat(months)
    out = months.astype(np.int64) // k
    out[nat] = _NAT_INT
    return out


def period_start(numbers: np.ndarray | int, k: int) -> np.ndarray:
    """First day (midnight, ``datetime64[us]``) of each period number."""
    return (
        (np.asarray(numbers, dtype=np.int64) * k).astype("datetime64[M]").astype("datetime64[us]")
    )


def to_timestamp(label: Any) -> pd.Timestamp:
    """Parse a period label: ``"2024-03"``, ``"2024Q1"``, a date, a Timestamp or a Period."""
    if isinstance(label, pd.Period):
        return label.start_time
    try:
        ts = pd.Timestamp(label)
    except (ValueError, TypeError) as exc:
        raise SnrInputError(f"cannot read {label!r} as a period or date") from exc
    if ts is pd.NaT:
        raise SnrInputError(f"cannot read {label!r} as a period or date")
    return ts


@dataclass(frozen=True)
class Window:
    """A run of consecutive periods: numbers ``first .. first + n - 1`` of ``k`` months each."""

    first: int
    n: int
    k: int

    @property
    def starts(self) -> np.ndarray:
        """The first day of each period in the window, plus the exclusive end (``n + 1`` values)."""
        return period_start(np.arange(self.first, self.first + self.n + 1), self.k)

    def index(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Index (0..n-1) of each timestamp's period in the window; -1 if outside or ``NaT``."""
        idx = period_numbers(values, self.k) - self.first
        idx[(idx < 0) | (idx >= self.n)] = -1
        return idx

    @classmethod
    def between(cls, first: pd.Timestamp, last: pd.Timestamp, k: int) -> Window:
        """The window from the period containing ``first`` to the one containing ``last``."""
        lo, hi = period_numbers(np.array([first, last], dtype="datetime64[us]"), k)
        if hi < lo:
            raise SnrInputError(f"start {first} is after end {last}")
        return cls(first=int(lo), n=int(hi - lo + 1), k=k)
