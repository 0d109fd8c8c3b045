"""The peer of bench_forecast_accuracy.py: statsforecast's AutoETS on the same series and origins.

statsforecast needs pandas < 3, so this runs in its own environment (it does not import
snr_models)::

    uv run --no-project --python 3.11 --with statsforecast==2.1.1 \
        python benchmarks/autoets_peer.py IN.json OUT.json

``IN.json``: ``{"horizon": h, "level": 95, "series": {name: {"values": [...], "origins":
[...]}}}``; ``OUT.json``: per series and origin the mean, lo and hi of the ``h`` months after
the origin (fitted on the values before it), and the seconds spent fitting.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from statsforecast.models import AutoETS


def main() -> None:
    """Fit AutoETS at every origin of every series and write the forecasts."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    h, level = int(spec["horizon"]), int(spec["level"])
    out, t0 = {}, time.perf_counter()
    for name, s in spec["series"].items():
        y = np.asarray(s["values"], dtype=float)
        rows = []
        for o in s["origins"]:
            fc = AutoETS(season_length=12).forecast(y=y[:o], h=h, level=[level])
            rows.append(
                {
                    "origin": o,
                    "mean": fc["mean"].tolist(),
                    "lo": fc[f"lo-{level}"].tolist(),
                    "hi": fc[f"hi-{level}"].tolist(),
                }
            )
        out[name] = rows
    out["_seconds"] = time.perf_counter() - t0
    Path(sys.argv[2]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
