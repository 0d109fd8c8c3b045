"""Scoring, first simple form: features as of a month, one probability per open client.

The lifecycle work makes it stream, safe and distributed; this version builds the month's
features with the same code as training, predicts and writes the Parquet file atomically.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from snr_models.data.atomic import write_frame
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.features import build_features, parse_month

__all__ = ["ScoreResult", "align_columns", "score"]

logger = logging.getLogger(__name__)


def align_columns(frame: pd.DataFrame, model) -> pd.DataFrame:
    """The model's input columns from a feature frame.

    An ``exposure_<intervention>`` column the model knows but the data lack (an
    intervention absent from these data) is filled with 0, with a warning; any other
    missing column is an error.

    Raises
    ------
    SnrInputError
        If a non-exposure feature the model needs is missing.
    """
    from snr_models.tracking.models import model_columns

    columns = model_columns(model)
    missing = [c for c in columns if c not in frame.columns]
    fill = [c for c in missing if c.startswith("exposure_")]
    hard = [c for c in missing if c not in fill]
    if hard:
        raise SnrInputError(
            f"the data lack feature(s) the model was trained on: {', '.join(hard[:10])}"
        )
    if fill:
        message = (
            f"intervention exposure(s) {', '.join(fill)} absent from the data; scored as 0 "
            "(not rolled out)"
        )
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=2)
        frame = frame.assign(**{c: 0.0 for c in fill})
    return frame[columns]


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score` wrote."""

    output: Path
    n_clients: int
    as_of: pd.Timestamp


def score(
    model_uri: str,
    data: str | Path | Tables,
    as_of: str,
    output: str | Path,
) -> ScoreResult:
    """Score every client open at the end of ``as_of`` and write ``client_id``,
    ``as_of``, ``churn_probability`` to a Parquet file (atomically).

    Raises
    ------
    SnrInputError
        If the output is not ``.parquet``, the as-of month lies outside the data, or the
        model cannot be loaded.
    """
    from snr_models.tracking.models import load_churn_model

    output = Path(output)
    if output.suffix.lower() != ".parquet":
        raise SnrInputError(f"--output {output}: expected a .parquet file name")
    month = parse_month(as_of)
    if isinstance(data, Tables):
        source = data
    else:
        path = Path(data)
        if path.is_dir():
            source = path  # features read the Parquet files directly
        else:
            from snr_models.data.io import load

            source = load(path)
    model = load_churn_model(model_uri)
    frame = build_features(source, as_of=month)
    X = align_columns(frame, model)
    p = model.predict_proba(X)[:, 1]
    out = pd.DataFrame(
        {
            "client_id": frame["client_id"].to_numpy(),
            "as_of": frame["as_of"].to_numpy(),
            "churn_probability": p,
        }
    )
    write_frame(out, output)
    logger.info("scored %d clients as of %s", len(out), f"{month:%Y-%m}")
    return ScoreResult(output=output, n_clients=len(out), as_of=month)
