"""Asymmetric drivers: what makes a detractor is not always what makes a promoter.

Two logits on the same drivers, each against the passives (NPS 7-8 by default): detractors
(0-6) vs passives, and promoters (9-10) vs passives. Leaving the other extreme out of each
model keeps a driver that only separates detractors from everyone else out of the promoter
model, and vice versa. Each model's McFadden pseudo-R² is split into exact Shapley shares
(:func:`~snr_models.drivers.importance.pseudo_r2_shapley`). A driver whose share is much
larger in the detractor model is a *dissatisfier* (a poor rating hurts, a good one is taken
for granted); much larger in the promoter model, a *delighter*; comparable, a *hybrid*; small
in both, *minor*. ``asymmetry = share_promoter / (share_promoter + share_detractor)``:
above ``2/3`` delighter, below ``1/3`` dissatisfier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from snr_models.drivers.importance import DriverImportance, pseudo_r2_shapley
from snr_models.errors import SnrInputError
from snr_models.figures import new_figure

__all__ = ["ASYMMETRIC_COLUMNS", "AsymmetricDrivers", "asymmetric_drivers"]

ASYMMETRIC_COLUMNS = [
    "driver",
    "share_detractor",
    "share_promoter",
    "odds_ratio_detractor",
    "odds_ratio_promoter",
    "asymmetry",
    "kind",
]


@dataclass
class AsymmetricDrivers:
    """Detractor and promoter models side by side, each driver classified.

    Attributes
    ----------
    table : DataFrame
        Per driver: ``share_detractor``, ``share_promoter`` (Shapley shares of each model's
        pseudo-R²), ``odds_ratio_detractor``/``odds_ratio_promoter`` (per one point of
        rating, full model), ``asymmetry`` and ``kind`` (dissatisfier, delighter, hybrid,
        minor).
    detractor, promoter : DriverImportance
        The two decompositions.
    low, high : tuple of float
        The inclusive ranges that define detractors and promoters.
    """

    target: str
    table: pd.DataFrame
    detractor: DriverImportance
    promoter: DriverImportance
    low: tuple[float, float]
    high: tuple[float, float]
    n_used: int
    n_dropped: int

    def to_frame(self) -> pd.DataFrame:
        """One row per driver (:data:`ASYMMETRIC_COLUMNS`)."""
        return self.table.reset_index(names="driver")[ASYMMETRIC_COLUMNS]

    def summary(self) -> str:
        """A printable report."""
        lo, hi = self.low, self.high
        return "\n".join(
            [
                f"Asymmetric drivers of {self.target!r}: detractors {lo[0]:g}-{lo[1]:g} vs "
                f"promoters {hi[0]:g}-{hi[1]:g}",
                f"n used {self.n_used}, dropped {self.n_dropped}; pseudo-R2 detractor model "
                f"{self.detractor.r2:.4f}, promoter model {self.promoter.r2:.4f}",
                "",
                self.table.round(4).to_string(),
            ]
        )

    def plot(self) -> Figure:
        """Each driver's share in the detractor model against its share in the promoter model."""
        fig = new_figure(figsize=(6.5, 6.0), layout="constrained")
        ax = fig.subplots()
        colours = {
            "dissatisfier": "tab:red",
            "delighter": "tab:green",
            "hybrid": "tab:blue",
            "minor": "tab:grey",
        }
        t = self.table
        top = float(max(t["share_detractor"].max(), t["share_promoter"].max(), 0.05)) * 1.1
        for kind, rows in t.groupby("kind"):
            ax.scatter(rows["share_detractor"], rows["share_promoter"], c=colours[kind], label=kind)
        for name, row in t.iterrows():
            ax.annotate(name, (row["share_detractor"], row["share_promoter"]), fontsize=8)
        ax.plot([0, top], [0, top], color="grey", lw=1, ls="--")
        ax.plot([0, top], [0, 2 * top], color="grey", lw=0.5, ls=":")
        ax.plot([0, top], [0, top / 2], color="grey", lw=0.5, ls=":")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_xlabel("share of the detractor model's pseudo-R² (dissatisfier →)")
        ax.set_ylabel("share of the promoter model's pseudo-R² (delighter ↑)")
        ax.set_title(f"Asymmetric drivers of {self.target}")
        ax.legend(loc="upper left", fontsize=8)
        return fig


def asymmetric_drivers(
    data: pd.DataFrame,
    target: str,
    drivers: Sequence[str],
    *,
    low: tuple[float, float] = (0, 6),
    high: tuple[float, float] = (9, 10),
    minor_share: float | None = None,
    missing: str = "listwise",
) -> AsymmetricDrivers:
    """Separate models for detractors (``low``) and promoters (``high``), each against the
    passives in between; classify each driver.

    Parameters
    ----------
    data : DataFrame
        Not modified.
    target : str
        The score (NPS 0-10 by default; for CSAT 1-5 pass ``low=(1, 2), high=(4, 5)``).
    drivers : sequence of str
        Numeric drivers.
    low, high : (float, float)
        Inclusive ranges of the target defining detractors and promoters.
    minor_share : float, optional
        A driver whose share is below this in both models is ``minor`` (default ``1 / (2p)``).
    missing : {"listwise", "raise"}
        Missing-value policy.

    Cost: two pseudo-R² decompositions, ``2 x 2^p`` logit fits.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame(rng.integers(1, 6, size=(3000, 2)), columns=["a", "b"])
    >>> latent = 1.5 * np.minimum(frame["a"] - 3, 0) + 1.5 * np.maximum(frame["b"] - 3, 0)
    >>> frame["nps"] = np.clip(np.round(7 + latent + rng.normal(size=3000)), 0, 10)
    >>> asymmetric_drivers(frame, "nps", ["a", "b"]).table["kind"].to_dict()
    {'a': 'dissatisfier', 'b': 'delighter'}
    """
    drivers = list(drivers)
    if target not in data.columns:
        raise SnrInputError(f"column {target!r} not in the data")
    score = pd.to_numeric(data[target], errors="coerce")
    frame = data[drivers].copy()
    is_low, is_high = score.between(*low), score.between(*high)
    # each model against the passives only: detractors vs passives, promoters vs passives
    frame["_detractor"] = np.where(score.isna() | is_high, np.nan, is_low.astype(float))
    frame["_promoter"] = np.where(score.isna() | is_low, np.nan, is_high.astype(float))
    det = pseudo_r2_shapley(frame, "_detractor", drivers, missing=missing)
    pro = pseudo_r2_shapley(frame, "_promoter", drivers, missing=missing)
    det.target, pro.target = f"{target} in {low}", f"{target} in {high}"
    table = pd.DataFrame(
        {
            "share_detractor": det.table["share"],
            "share_promoter": pro.table["share"],
        }
    )
    # the coefficients are per standard deviation; per rating point divide by the sd
    sd = data.loc[frame.dropna().index, drivers].std(ddof=0).to_numpy()
    table["odds_ratio_detractor"] = np.exp(det.table["std_coef"].to_numpy() / sd)
    table["odds_ratio_promoter"] = np.exp(pro.table["std_coef"].to_numpy() / sd)
    total = table["share_detractor"] + table["share_promoter"]
    table["asymmetry"] = table["share_promoter"] / total.where(total > 0)
    floor = minor_share if minor_share is not None else 1.0 / (2 * len(drivers))
    kind = np.select(
        [
            (table["share_detractor"] < floor) & (table["share_promoter"] < floor),
            table["asymmetry"] >= 2 / 3,
            table["asymmetry"] <= 1 / 3,
        ],
        ["minor", "delighter", "dissatisfier"],
        default="hybrid",
    )
    table["kind"] = kind
    return AsymmetricDrivers(
        target=target,
        table=table,
        detractor=det,
        promoter=pro,
        low=tuple(low),
        high=tuple(high),
        n_used=det.n_used,
        n_dropped=det.n_dropped,
    )
