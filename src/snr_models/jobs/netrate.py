"""The net-rate stage: used by the main job (``snr run``) and by ``snr netrate``.

:func:`analyse_net_rate` computes the firm-wide net rate by period with its intervals, the
decomposition of its change between two periods, and the same per grouping (a clients column
such as ``branch_id``, or several jointly); :func:`log_net_rate` logs the result to MLflow
(aggregates only); :func:`run_netrate` loads, analyses and writes one table atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from snr_models import progress
from snr_models.data import Tables, load
from snr_models.data.atomic import write_frame
from snr_models.errors import SnrInputError
from snr_models.metrics import Decomposition, MetricSpec, decompose, net_rate, plot_net_rate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["NetRateGroup", "NetRateStageResult", "analyse_net_rate", "log_net_rate", "run_netrate"]


def _key(grouping: str | Sequence[str]) -> str:
    return grouping if isinstance(grouping, str) else "+".join(grouping)


@dataclass(frozen=True)
class NetRateGroup:
    """The net rate by period within each group of one grouping, and its change."""

    columns: list[str]
    frame: pd.DataFrame
    change: Decomposition


@dataclass(frozen=True)
class NetRateStageResult:
    """What :func:`analyse_net_rate` computed.

    Attributes
    ----------
    spec : MetricSpec
        The metric specification (components, weights).
    alpha : float
        Every interval is a ``1 - alpha`` interval.
    firm : DataFrame
        The firm-wide net rate by period (:func:`snr_models.metrics.net_rate`).
    change : Decomposition
        The change of the firm-wide net rate between ``change.start`` and ``change.end``.
    groups : dict of str to NetRateGroup
        Per grouping (``"branch_id"``, or ``"branch_id+segment"`` for a joint one).
    """

    spec: MetricSpec
    alpha: float
    firm: pd.DataFrame
    change: Decomposition
    groups: dict[str, NetRateGroup] = field(default_factory=dict)

    @property
    def latest(self) -> pd.Series:
        """The firm-wide row of the last period."""
        return self.firm.iloc[-1]

    def metrics(self) -> dict[str, float]:
        """Headline figures: the latest net rate with its interval, S, R, E and the change."""
        latest = self.latest
        return {
            "net_rate_latest": float(latest["net_rate"]),
            "net_rate_latest_lo": float(latest["net_rate_lo"]),
            "net_rate_latest_hi": float(latest["net_rate_hi"]),
            **{f"{c}_latest": float(latest[c]) for c in self.spec.weights},
            "net_rate_change": float(self.change.total),
        }

    def change_by_component(self) -> dict[str, float]:
        """Each component's contribution (weight x change) to the change of the net rate."""
        parts = self.change.by_component
        return {str(r.component): float(r.contribution) for r in parts.itertuples()}

    def tables(self) -> dict[str, pd.DataFrame]:
        """The stage's tables by file name."""
        out = {"netrate_firm.csv": self.firm, "change_by_component.csv": self.change.to_frame()}
        for key, group in self.groups.items():
            out[f"netrate_by_{key}.csv"] = group.frame
            out[f"change_by_{key}.csv"] = group.change.to_frame()
        return out

    @cached_property
    def figures(self) -> dict[str, Figure]:
        """The trend, the waterfall of the change, and rate and mix per grouping."""
        out = {
            "netrate_trend.png": plot_net_rate(self.firm),
            "change_by_component.png": self.change.plot(),
        }
        out.update({f"change_by_{k}.png": g.change.plot() for k, g in self.groups.items()})
        return out


def analyse_net_rate(
    tables: Tables,
    spec: MetricSpec | None = None,
    *,
    freq: str = "M",
    by: Sequence[str | Sequence[str]] = (),
    alpha: float = 0.05,
    n_boot: int = 1000,
    random_state: int | None = 0,
    compare: tuple[Any, Any] | None = None,
    window: int = 1,
) -> NetRateStageResult:
    """The net rate by period, firm-wide and per grouping, and the decomposition of its change.

    Parameters
    ----------
    tables : Tables
        The contract's tables.
    spec : MetricSpec, optional
        Default: DESIGN.md's specification.
    freq, alpha, n_boot, random_state
        See :func:`snr_models.metrics.net_rate`.
    by : sequence
        Groupings: each a clients column, or a list of columns grouped jointly.
    compare : (start, end), optional
        The two periods whose change is decomposed; default the first and the last.
    window : int, default 1
        Periods pooled at each end of the change: from ``start`` on and up to ``end``
        (:func:`~snr_models.metrics.decompose`); the main job's attribution uses the same.
    """
    spec = spec or MetricSpec.default()
    common = dict(freq=freq, alpha=alpha, n_boot=n_boot, random_state=random_state)
    firm = net_rate(tables, spec, **common).table
    if compare is None:
        start, end = firm["period"].iloc[0], firm["period"].iloc[-1]
    else:
        start, end = (pd.Timestamp(p) for p in compare)
    groups = {}
    for grouping in by:
        columns = [grouping] if isinstance(grouping, str) else list(grouping)
        frame = net_rate(tables, spec, by=columns, **common).table
        change = decompose(frame, start, end, by=columns, spec=spec, window=window)
        groups[_key(grouping)] = NetRateGroup(columns=columns, frame=frame, change=change)
    return NetRateStageResult(
        spec=spec,
        alpha=alpha,
        firm=firm,
        change=decompose(firm, start, end, spec=spec, window=window),
        groups=groups,
    )


def log_net_rate(run: Any, result: NetRateStageResult, params: dict[str, Any]) -> None:
    """Log a :class:`NetRateStageResult` (aggregates only) into an open tracked run."""
    run.log_params({**params, "alpha": result.alpha, "spec": result.spec.model_dump()})
    for name, frame in result.tables().items():
        run.log_frame(frame, f"netrate/{name}")
    for name, fig in result.figures.items():
        run.log_figure(fig, f"netrate/{name}")
    run.log_metrics(result.metrics())


@dataclass(frozen=True)
class NetRateJobResult:
    """What :func:`run_netrate` produced."""

    frame: pd.DataFrame
    output: Path
    run_id: str | None


def run_netrate(
    data: str | Path,
    output: str | Path,
    *,
    by: list[str] | None = None,
    freq: str = "M",
    spec: str | Path | None = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    random_state: int | None = 0,
    track: bool = False,
) -> NetRateJobResult:
    """Compute the net rate of a dataset and write it to ``output`` (CSV or Parquet).

    ``by`` columns are grouped jointly; the output is the firm-wide table without them. It is
    written atomically, and only after the whole computation succeeded.
    """
    output = Path(output)
    if output.suffix.lower() not in {".csv", ".parquet"}:
        raise SnrInputError(f"--output {output}: expected a .csv or .parquet file name")
    stages = ("data", "netrate", *(("log",) if track else ()), "write")
    with progress.job("netrate", stages):
        return _run_netrate(data, output, by, freq, spec, n_boot, alpha, random_state, track)


def _run_netrate(
    data: str | Path,
    output: Path,
    by: list[str] | None,
    freq: str,
    spec: str | Path | None,
    n_boot: int,
    alpha: float,
    random_state: int | None,
    track: bool,
) -> NetRateJobResult:
    with progress.stage("data"):
        tables = load(data)
    with progress.stage("netrate"):
        result = analyse_net_rate(
            tables,
            MetricSpec.from_yaml(spec) if spec else None,
            freq=freq,
            by=[by] if by else (),
            alpha=alpha,
            n_boot=n_boot,
            random_state=random_state,
        )
    frame = result.groups[_key(by)].frame if by else result.firm
    run_id = None
    if track:
        from snr_models import tracking

        settings = {"freq": freq, "by": by or [], "n_boot": n_boot}
        with (
            progress.stage("log"),
            tracking.start_run(
                "snr-netrate",
                run_name=tracking.run_name("netrate", tables, config=settings | {"alpha": alpha}),
                tags={"job": "netrate"},
                description=(
                    f"snr netrate: the net rate and its components S, R and E by period ({freq})"
                    f"{f' and {by}' if by else ''}, with {1 - alpha:.0%} bootstrap intervals "
                    f"({n_boot} replicates)."
                ),
            ) as run,
        ):
            log_net_rate(run, result, settings)
            run.log_data(tables)
            run_id = run.run_id
    with progress.stage("write"):
        write_frame(frame, output)
    return NetRateJobResult(frame=frame, output=output, run_id=run_id)
