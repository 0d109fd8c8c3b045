"""The churn label: does the client's ``close_date`` fall within the next ``H`` months?

A client scored at as-of month ``t`` (open at the end of ``t``) churns if its ``close_date``
falls in months ``t + 1 .. t + H``. The label is *observed* only when the data reach month
``t + H`` (or the client closed within the horizon); otherwise it is missing (``NaN``) and the
row is not used for training or evaluation.

Beside ``churn`` the label set holds ``exit_next_month`` (the same with ``H = 1``: the event
of the discrete-time hazard model) and ``months_to_exit`` (``close month - t``; ``NaN`` if the
client has not closed).
"""

from __future__ import annotations

__all__ = ["LABEL_COLUMNS", "label_sql"]

#: Columns added by :func:`label_sql` (and by ``build_features(..., horizon=H)``).
LABEL_COLUMNS: tuple[str, ...] = ("churn", "exit_next_month", "months_to_exit")


def label_sql(horizon: int, last_mi: int, *, close_mi: str = "close_mi", mi: str = "mi") -> str:
    """SQL select-list items computing the label columns from month indices.

    Parameters
    ----------
    horizon : int
        ``H``, months ahead (>= 1).
    last_mi : int
        Month index (``year * 12 + month - 1``) of the last month the data cover.
    close_mi, mi : str
        SQL expressions of the close month index (NULL if open) and the as-of month index.

    Returns
    -------
    str

    Examples
    --------
    >>> "churn" in label_sql(3, 24290)
    True
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 month, got {horizon}")
    return (
        f"CASE WHEN {mi} + {horizon} <= {last_mi} THEN CASE WHEN {close_mi} IS NOT NULL "
        f"AND {close_mi} <= {mi} + {horizon} THEN 1.0 ELSE 0.0 END END::DOUBLE AS churn, "
        f"CASE WHEN {mi} + 1 <= {last_mi} THEN CASE WHEN {close_mi} IS NOT NULL "
        f"AND {close_mi} <= {mi} + 1 THEN 1.0 ELSE 0.0 END END::DOUBLE AS exit_next_month, "
        f"CAST({close_mi} - {mi} AS DOUBLE) AS months_to_exit"
    )
