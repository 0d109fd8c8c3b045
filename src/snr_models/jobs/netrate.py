"""The net-rate job behind ``snr netrate``: load, compute, write atomically, optionally track."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from snr_models.data import load
from snr_models.data.atomic import write_frame
from snr_models.errors import SnrInputError
from snr_models.metrics import MetricSpec, net_rate, plot_net_rate


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

    The output is written atomically, and only after the whole computation succeeded.
    """
    output = Path(output)
    if output.suffix.lower() not in {".csv", ".parquet"}:
        raise SnrInputError(f"--output {output}: expected a .csv or .parquet file name")
    tables = load(data)
    metric_spec = MetricSpec.from_yaml(spec) if spec else MetricSpec.default()
    frame = net_rate(
        tables, metric_spec, freq=freq, by=by, alpha=alpha, n_boot=n_boot, random_state=random_state
    )
    run_id = None
    if track:
        from snr_models import tracking

        with tracking.start_run("snr-netrate", run_name=f"netrate-{freq}") as run:
            run.log_params(
                {
                    "freq": freq,
                    "by": by or [],
                    "n_boot": n_boot,
                    "alpha": alpha,
                    "spec": metric_spec.model_dump(),
                }
            )
            run.log_data(tables)
            run.log_frame(frame, f"netrate/{output.with_suffix('.csv').name}")
            if by is None:
                latest = frame.iloc[-1]
                run.log_metrics({c: latest[c] for c in ("S", "R", "E", "net_rate")})
                run.log_figure(plot_net_rate(frame), "netrate/trend.png")
            run_id = run.run_id
    write_frame(frame, output)
    return NetRateJobResult(frame=frame, output=output, run_id=run_id)
