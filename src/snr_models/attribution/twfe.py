"""Two-way fixed effects: the static estimate with its known bias made visible, and the
event study with a joint pre-trend test.

With staggered adoption and effects that vary over time, the static TWFE coefficient is a
weighted sum of cell effects in which some weights can be negative (de Chaisemartin &
D'Haultfoeuille 2020): the weight of treated cell ``(i, t)`` is proportional to the residual
of the treatment dummy on unit and period fixed effects. :func:`twfe` reports those weights
and the share that is negative, so the analyst sees why :func:`~snr_models.attribution.
staggered.att_gt` is preferred.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from snr_models.attribution.inference import wald_test, z_value
from snr_models.attribution.regression import OLSFit, _codes, demean, fe_ols
from snr_models.errors import SnrInputError


@dataclass(frozen=True)
class TWFEResult:
    """The static two-way fixed-effects estimate and its weights diagnostic.

    Attributes
    ----------
    estimate, se : float
        Coefficient of the treatment dummy; standard error clustered by ``cluster``.
    weights : DataFrame
        ``unit, time, weight`` for each treated cell (they sum to 1).
    negative_share : float
        Share of treated cells with a negative weight.
    negative_weight_sum : float
        Sum of the negative weights.
    """

    estimate: float
    se: float
    alpha: float
    weights: pd.DataFrame
    negative_share: float
    negative_weight_sum: float
    fit: OLSFit
    outcome: str

    def to_frame(self) -> pd.DataFrame:
        """One row: ``estimate, se, lo, hi, negative_share, negative_weight_sum``."""
        z = z_value(self.alpha)
        return pd.DataFrame(
            {
                "estimate": [self.estimate],
                "se": [self.se],
                "lo": [self.estimate - z * self.se],
                "hi": [self.estimate + z * self.se],
                "negative_share": [self.negative_share],
                "negative_weight_sum": [self.negative_weight_sum],
            }
        )

    def summary(self) -> str:
        """Text: the estimate and the weights diagnostic."""
        return (
            f"TWFE estimate ({self.outcome}): {self.estimate:.4f} (s.e. {self.se:.4f}), "
            f"n = {self.fit.n_obs}, clusters = {self.fit.n_clusters}\n"
            f"treated cells with negative weight: {self.negative_share:.1%} "
            f"(sum of negative weights {self.negative_weight_sum:.3f})"
        )

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """Histogram of the treated cells' weights (a Figure)."""
        from snr_models.figures import new_figure

        fig = new_figure(figsize=(6, 3.5))
        ax = fig.add_subplot()
        ax.hist(self.weights["weight"], bins=30, color="C0")
        ax.axvline(0, color="C3")
        ax.set_title(f"TWFE weights on treated cells ({self.negative_share:.0%} negative)")
        ax.set_xlabel("weight")
        fig.tight_layout()
        return fig


def twfe(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treatment: str,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> TWFEResult:
    """Static TWFE ``outcome ~ treatment | unit + time`` with its negative-weights diagnostic.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"u": np.repeat(np.arange(3), 4), "t": np.tile(np.arange(4), 3)})
    >>> df["d"] = ((df.u == 0) & (df.t >= 1) | (df.u == 1) & (df.t >= 3)).astype(float)
    >>> df["y"] = df.d * (1 + df.t)  # effects growing with time
    >>> res = twfe(df, outcome="y", unit="u", time="t", treatment="d")
    >>> bool(res.negative_share > 0)
    True
    """
    fit = fe_ols(data, outcome, [treatment], fixed_effects=[unit, time], cluster=cluster or unit)
    frame = data.loc[data[[outcome, treatment, unit, time]].notna().all(axis=1)]
    d = frame[treatment].to_numpy(dtype=float)
    resid = demean(d, [_codes(frame[unit]), _codes(frame[time])])
    treated = d > 0
    w = d[treated] * resid[treated]
    w = w / w.sum()
    weights = pd.DataFrame(
        {
            "unit": frame.loc[treated, unit].to_numpy(),
            "time": frame.loc[treated, time].to_numpy(),
            "weight": w,
        }
    )
    return TWFEResult(
        estimate=float(fit.params[treatment]),
        se=float(fit.se[treatment]),
        alpha=alpha,
        weights=weights,
        # no treated cell (an intervention absent from the window): no weights, no share
        negative_share=float(np.mean(w < 0)) if w.size else float("nan"),
        negative_weight_sum=float(w[w < 0].sum()),
        fit=fit,
        outcome=outcome,
    )


@dataclass(frozen=True)
class EventStudyResult:
    """Dynamic TWFE coefficients by event time (reference ``e = -1``) and the pre-trend test.

    Attributes
    ----------
    table : DataFrame
        ``label`` (event time), ``estimate, se, lo, hi``.
    pretrend : dict
        ``statistic, df, p_value`` of the joint Wald test that all ``e < -1`` are zero.
    """

    table: pd.DataFrame
    pretrend: dict[str, float]
    fit: OLSFit
    outcome: str
    alpha: float = 0.05

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table."""
        return self.table.copy()

    def summary(self) -> str:
        """Text table and pre-trend test."""
        p = self.pretrend
        return (
            f"TWFE event study ({self.outcome}), reference e = -1\n"
            + self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
            + f"\npre-trend test: chi2({p['df']}) = {p['statistic']:.2f}, p = {p['p_value']:.3f}"
        )

    def plot(self):  # noqa: ANN201 - matplotlib is imported lazily
        """Coefficients with pointwise intervals (a Figure)."""
        from snr_models.attribution.plots import plot_coefficients

        return plot_coefficients(
            self.table,
            title=f"TWFE event study ({self.outcome})",
            xlabel="event time",
            vline=-0.5,
            alpha=self.alpha,
        )


def event_study(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    group: str,
    window: tuple[int, int] | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
) -> EventStudyResult:
    """Dynamic TWFE event study: ``outcome ~ sum_e 1{t - g = e} | unit + time``, ``e != -1``.

    ``time`` and ``group`` are integers or timestamps of the same kind; ``group`` null or 0 for
    never treated. Event times outside ``window`` are binned into its end points.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"u": np.repeat(np.arange(100), 6), "t": np.tile(np.arange(6), 100)})
    >>> df["g"] = np.where(df.u < 50, 3, 0)
    >>> df["y"] = rng.normal(size=600) + np.where((df.g > 0) & (df.t >= df.g), 1.0, 0.0)
    >>> res = event_study(df, outcome="y", unit="u", time="t", group="g")
    >>> res.table.set_index("label").loc[0, "estimate"].round(0)
    np.float64(1.0)
    """
    for c in (outcome, unit, time, group):
        if c not in data.columns:
            raise SnrInputError(f"event study: missing column {c!r}")
    periods = np.sort(data[time].dropna().unique())
    tpos = np.searchsorted(periods, data[time].to_numpy())
    graw = data[group]
    never = graw.isna() | (graw == 0) if graw.dtype.kind != "M" else graw.isna()
    gpos = np.where(never, -(10**9), np.searchsorted(periods, graw.where(~never, periods[0])))
    e = np.where(never, np.iinfo(np.int64).min, tpos - gpos)
    lo, hi = window if window is not None else (int(e[~never].min()), int(e[~never].max()))
    e_b = np.where(never, np.iinfo(np.int64).min, np.clip(e, lo, hi))
    names = []
    frame = data[[outcome, unit, time]].copy()
    for ev in range(lo, hi + 1):
        if ev == -1:
            continue
        name = f"e{ev}"
        frame[name] = (e_b == ev).astype(float)
        if frame[name].any():
            names.append(name)
    frame["_cl"] = data[cluster or unit].to_numpy()
    fit = fe_ols(frame, outcome, names, fixed_effects=[unit, time], cluster="_cl")
    z = z_value(alpha)
    est = fit.params.to_numpy()
    se = fit.se.to_numpy()
    labels = [int(n[1:]) for n in names]
    table = pd.DataFrame(
        {"label": labels, "estimate": est, "se": se, "lo": est - z * se, "hi": est + z * se}
    )
    table = pd.concat(
        [
            table,
            pd.DataFrame({"label": [-1], "estimate": [0.0], "se": [0.0], "lo": [0.0], "hi": [0.0]}),
        ]
    ).sort_values("label", ignore_index=True)
    pre = [n for n, lab in zip(names, labels, strict=True) if lab < -1]
    ok = [n for n in pre if np.isfinite(fit.params[n])]
    stat, df, p = wald_test(fit.params[ok].to_numpy(), fit.vcov.loc[ok, ok].to_numpy())
    return EventStudyResult(
        table=table,
        pretrend={"statistic": stat, "df": df, "p_value": p},
        fit=fit,
        outcome=outcome,
        alpha=alpha,
    )
