"""Churn models in MLflow: log in skops format, register ``snr-churn``, load back safely.

A fitted churn estimator is written with :mod:`skops.io` (no pickle: loading never runs
code), logged as an MLflow pyfunc model *from code* (the wrapper below is imported, not
unpickled) with a signature, a synthetic input example (a typical client built from medians
and modes, never a real client's row) and explicit pip requirements, and registered as a new
version of ``snr-churn``. :func:`load_churn_model` reads the skops file back, accepting only
scikit-learn, NumPy, SciPy and ``snr_models`` types.

This is the only module that imports MLflow's model flavours or skops.
"""

from __future__ import annotations

import importlib.metadata
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import skops.io as sio
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from snr_models.errors import SnrInputError
from snr_models.tracking.runs import TrackedRun, tracking_uri

__all__ = [
    "MODEL_NAME",
    "TRUSTED_PREFIXES",
    "ChurnPyfunc",
    "LoggedChurnModel",
    "UntrustedModelError",
    "load_churn_model",
    "load_skops",
    "log_churn_model",
    "pip_requirements",
    "synthetic_input_example",
]

logger = logging.getLogger(__name__)

MODEL_NAME = "snr-churn"
SKOPS_FILE = "model.skops"
#: Module prefixes of the types a churn model file may hold.
TRUSTED_PREFIXES = ("sklearn.", "snr_models.", "numpy.", "scipy.", "builtins.", "collections.")
_IDS = ("client_id", "branch_id")

_CODE = '''"""MLflow model-from-code entry point for a snr-churn model (written by snr_models)."""
import mlflow

from snr_models.tracking.models import ChurnPyfunc

mlflow.models.set_model(ChurnPyfunc())
'''


class UntrustedModelError(SnrInputError):
    """A model file holds types outside the allow-list; it is not loaded."""


def load_skops(path: str | Path) -> Any:
    """Load a skops file, trusting only the allow-listed module prefixes.

    Raises
    ------
    UntrustedModelError
        If the file holds any other type.

    Examples
    --------
    >>> import tempfile, pathlib, skops.io
    >>> from sklearn.linear_model import LogisticRegression
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.skops"
    >>> skops.io.dump(LogisticRegression(), p)
    >>> type(load_skops(p)).__name__
    'LogisticRegression'
    """
    path = Path(path)
    untrusted = sio.get_untrusted_types(file=path)
    bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if bad:
        raise UntrustedModelError(
            f"{path.name} holds type(s) outside the allow-list ({', '.join(sorted(bad)[:5])}); "
            "refusing to load it"
        )
    return sio.load(path, trusted=untrusted)


class ChurnPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc wrapper: loads the skops model, returns ``churn_probability``."""

    def load_context(self, context) -> None:  # noqa: D102
        self.model = load_skops(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: D102
        p = self.model.predict_proba(model_input)[:, 1]
        return pd.DataFrame({"churn_probability": p})


def pip_requirements() -> list[str]:
    """Pinned requirements of a churn model: the packages its skops file needs."""
    out = []
    for dist in (
        "scikit-learn",
        "numpy",
        "scipy",
        "pandas",
        "skops",
        "mlflow",
        "duckdb",
        "pyarrow",
        "statsmodels",
    ):
        try:
            out.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            out.append(dist)
    return out


def synthetic_input_example(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A one-row "typical client": medians of numeric columns, modes of the others.

    Built from aggregates, so that no real client's row is ever logged.

    Examples
    --------
    >>> f = pd.DataFrame({"age": [30.0, 40.0, 50.0], "segment": ["a", "b", "b"]})
    >>> [str(v) for v in synthetic_input_example(f, ["age", "segment"]).iloc[0]]
    ['40.0', 'b']
    """
    row: dict[str, Any] = {}
    for c in columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            row[c] = [s.max()]
        elif pd.api.types.is_numeric_dtype(s):
            med = s.median()
            row[c] = [float(med) if pd.notna(med) else 0.0]
        else:
            mode = s.mode(dropna=True)
            row[c] = [str(mode.iloc[0]) if len(mode) else ""]
    out = pd.DataFrame(row)
    for c in columns:
        if pd.api.types.is_datetime64_any_dtype(frame[c]):
            out[c] = out[c].astype(frame[c].dtype)
    return out


@dataclass(frozen=True)
class LoggedChurnModel:
    """Where a logged churn model lives."""

    model_uri: str
    registered_uri: str | None
    version: str | None
    run_id: str


def log_churn_model(
    run: TrackedRun,
    model: Any,
    training_frame: pd.DataFrame,
    *,
    registered_model_name: str | None = MODEL_NAME,
    set_champion_if_missing: bool = True,
) -> LoggedChurnModel:
    """Log a fitted churn estimator in ``run`` (skops) and register a version.

    Parameters
    ----------
    run : TrackedRun
        The active run.
    model : fitted estimator
        Must expose ``feature_names_in_`` (fitted on a DataFrame).
    training_frame : DataFrame
        Used only for the signature and the synthetic input example (medians and modes).
    registered_model_name : str or None, default "snr-churn"
        Register a new version under this name (None: log only).
    set_champion_if_missing : bool, default True
        Give the new version the ``champion`` alias when the name has none yet (the
        lifecycle job decides later promotions).
    """
    columns = [c for c in map(str, model.feature_names_in_) if c not in _IDS]
    example = synthetic_input_example(training_frame, columns)
    output = pd.DataFrame({"churn_probability": model.predict_proba(example)[:, 1]})
    signature = infer_signature(example, output)
    with tempfile.TemporaryDirectory() as tmp:
        skops_path = Path(tmp) / SKOPS_FILE
        sio.dump(model, skops_path)
        code_path = Path(tmp) / "churn_model_code.py"
        code_path.write_text(_CODE)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(code_path),
            artifacts={"model": str(skops_path)},
            signature=signature,
            input_example=example,
            pip_requirements=pip_requirements(),
            registered_model_name=registered_model_name,
        )
    version = None
    registered_uri = None
    if registered_model_name:
        version = str(info.registered_model_version)
        registered_uri = f"models:/{registered_model_name}/{version}"
        client = MlflowClient(tracking_uri=tracking_uri())
        if set_champion_if_missing:
            try:
                client.get_model_version_by_alias(registered_model_name, "champion")
            except mlflow.exceptions.MlflowException:
                client.set_registered_model_alias(registered_model_name, "champion", version)
                logger.info("%s version %s is the first champion", registered_model_name, version)
    return LoggedChurnModel(
        model_uri=info.model_uri,
        registered_uri=registered_uri,
        version=version,
        run_id=run.run_id,
    )


def load_churn_model(model_uri: str) -> Any:
    """Load the churn estimator behind an MLflow model URI (``models:/snr-churn@champion``).

    Reads the skops file only (no pickle), with :func:`load_skops`'s allow-list.

    Raises
    ------
    SnrInputError
        If the URI cannot be resolved or holds no churn model.
    """
    mlflow.set_tracking_uri(tracking_uri())
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri.rstrip("/"))
    except mlflow.exceptions.MlflowException as exc:
        raise SnrInputError(f"model {model_uri!r} not found: {exc.message}") from exc
    candidates = list(Path(local).rglob(SKOPS_FILE))
    if not candidates:
        raise SnrInputError(f"model {model_uri!r} holds no {SKOPS_FILE}")
    return load_skops(candidates[0])


def model_columns(model: Any) -> list[str]:
    """The input columns a loaded churn model expects (identifiers excluded)."""
    return [c for c in map(str, getattr(model, "feature_names_in_", np.array([]))) if c not in _IDS]
