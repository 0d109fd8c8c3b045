"""Churn models in MLflow: log in skops format, register ``snr-churn``, load back safely.

A fitted churn estimator is written with :mod:`skops.io` (no pickle: loading never runs
code), logged as an MLflow pyfunc model *from code* (the wrapper below is imported, not
unpickled) with a signature, a synthetic input example (a typical client built from medians
and modes, never a real client's row) and explicit pip requirements, and registered as a new
version of ``snr-churn`` whose record (model-version tags) holds the SHA-256 of the skops
file. :func:`load_registered_model` resolves a registry URI to one version, downloads it,
checks the file's SHA-256 against that record and reads it back accepting, beyond skops' own
defaults (scikit-learn estimators, NumPy arrays and ufuncs, built-in containers), only the
exact type names in :data:`TRUSTED_TYPES`; a model that fails either check is refused.

This is the only module that imports MLflow's model flavours or skops.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import skops.io as sio
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types.schema import AnyType, ColSpec, DataType, Schema

from snr_models import __version__
from snr_models.churn.scoring import model_columns
from snr_models.errors import SnrInputError
from snr_models.tracking.registry import (
    CHAMPION,
    RegistryUnavailableError,
    VersionRecord,
    _guard,
    alias_version,
    resolve_model_uri,
    set_alias,
)
from snr_models.tracking.runs import TrackedRun, tracking_uri
from snr_models.tracking.verbosity import mlflow_prints

__all__ = [
    "MODEL_NAME",
    "RegistryUnavailableError",
    "LEGACY_TYPES",
    "TRUSTED_TYPES",
    "ChurnPyfunc",
    "LoadedChurnModel",
    "LoggedChurnModel",
    "TamperedModelError",
    "UntrustedModelError",
    "file_sha256",
    "load_churn_model",
    "load_registered_model",
    "load_skops",
    "load_skops_bytes",
    "log_churn_model",
    "pip_requirements",
    "synthetic_input_example",
]

logger = logging.getLogger(__name__)

MODEL_NAME = "snr-churn"
#: The registered model's description in the registry.
MODEL_DESCRIPTION = (
    "Churn model of the margin-financing clients: the probability that a client closes the "
    "account within the horizon, from service, financing and survey features (one row per "
    "client-month). The champion alias serves `snr score`; versions are skops files whose "
    "SHA-256 is checked before loading. Score a CSV of features with `mlflow models predict "
    "-m models:/snr-churn@champion -i features.csv -t csv --env-manager local`."
)
SKOPS_FILE = "model.skops"
PROFILE_FILE = "profile.json"
#: The types a churn model file may hold beyond skops' defaults: exact names, never a prefix
#: and never a callable. The set the package's estimators produce (ChurnBoost with each
#: calibration, ChurnLogit, HazardModel); ``tests/churn/test_model_safety.py`` re-derives it by
#: fitting each one and checks it equals this set.
#: Types only models written by earlier versions hold: their median imputer was scikit-learn's
#: ``SimpleImputer``, which keeps the dtype it was fitted on. Kept so that a champion
#: registered before the upgrade still loads.
LEGACY_TYPES = frozenset({"numpy.dtype"})

TRUSTED_TYPES = frozenset(
    {
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "snr_models.churn.boost.ChurnBoost",
        "snr_models.churn.design.MedianImputer",
        "snr_models.churn.hazard.HazardModel",
        "snr_models.churn.logit.ChurnLogit",
    }
    | LEGACY_TYPES
)

_CODE = '''"""MLflow model-from-code entry point for a snr-churn model (written by snr_models)."""
import mlflow

from snr_models.tracking.models import ChurnPyfunc

mlflow.models.set_model(ChurnPyfunc())
'''


class UntrustedModelError(SnrInputError):
    """A model file holds types outside the allow-list; it is not loaded."""


class TamperedModelError(UntrustedModelError):
    """A model file's SHA-256 differs from the registry's record; it is not loaded."""


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_skops(path: str | Path) -> Any:
    """Load a skops file, trusting only skops' defaults and :data:`TRUSTED_TYPES`.

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
    return load_skops_bytes(path.read_bytes(), name=path.name)


def load_skops_bytes(data: bytes, *, name: str = SKOPS_FILE) -> Any:
    """Load a skops file's bytes, trusting only skops' defaults and :data:`TRUSTED_TYPES`.

    The file is audited before anything in it is constructed: a type (or function, such as
    ``builtins.exec`` in a reduce node) outside the allow-list refuses the whole file.

    Parameters
    ----------
    data : bytes
        The content of a skops file.
    name : str, default "model.skops"
        Named in the error message.

    Raises
    ------
    UntrustedModelError
        If the bytes hold any other type.

    Examples
    --------
    >>> import skops.io
    >>> from sklearn.linear_model import LogisticRegression
    >>> type(load_skops_bytes(skops.io.dumps(LogisticRegression()))).__name__
    'LogisticRegression'
    """
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as exc:  # not a zip, no schema, an unknown node: not a model file
        raise UntrustedModelError(f"{name} is not a readable skops file ({exc})") from exc
    bad = sorted(untrusted - TRUSTED_TYPES)
    if bad:
        raise UntrustedModelError(
            f"{name} holds untrusted type(s) outside the allow-list ({', '.join(bad[:5])}); "
            "refusing to load it"
        )
    return sio.loads(data, trusted=sorted(untrusted))


class ChurnPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc wrapper: loads the skops model, returns ``churn_probability``."""

    def load_context(self, context) -> None:  # noqa: D102
        self.model = load_skops(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # noqa: D102
        p = self.model.predict_proba(_parse_dates(model_input, self.model))[:, 1]
        return pd.DataFrame({"churn_probability": p})


def _parse_dates(frame: pd.DataFrame, model: Any) -> pd.DataFrame:
    """The model's time column as datetimes (a CSV or JSON request carries it as text)."""
    column = getattr(model, "time_column", "as_of")
    if column in frame.columns and not pd.api.types.is_datetime64_any_dtype(frame[column]):
        return frame.assign(**{column: pd.to_datetime(frame[column])})
    return frame


def _text_friendly_signature(example: pd.DataFrame, output: pd.DataFrame) -> ModelSignature:
    """The inferred signature, with datetime inputs typed ``Any``.

    MLflow would reject the dates of a CSV or JSON request (text, which pandas 3 reads as
    ``str``, not ``object``); :class:`ChurnPyfunc` parses them instead.
    """
    signature = infer_signature(example, output)
    columns = [
        ColSpec(AnyType(), c.name, required=c.required) if c.type == DataType.datetime else c
        for c in signature.inputs.inputs
    ]
    return ModelSignature(inputs=Schema(columns), outputs=signature.outputs)


def pip_requirements() -> list[str]:
    """Pinned requirements of a churn model: ``snr_models`` and the packages it needs.

    ``snr_models`` is listed so that ``mlflow models predict`` (or serve) with a virtualenv
    can rebuild the environment; the skops file names its classes.
    """
    out = [f"snr_models=={__version__}"]
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


def _conda_env() -> dict[str, Any]:
    """The model's environment: this Python, an unpinned ``pip`` and :func:`pip_requirements`.

    Given whole, so that MLflow does not look up the installed pip's version (a uv
    environment has no pip, and MLflow warned in every job's log that it could not find it).
    """
    return {
        "name": "snr-churn",
        "channels": ["conda-forge"],
        "dependencies": [f"python={platform.python_version()}", "pip", {"pip": pip_requirements()}],
    }


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


def _version_description(model: Any, frame: pd.DataFrame, tags: dict, run_id: str) -> str:
    horizon = tags.get("horizon")
    ahead = f" within {horizon} months" if horizon is not None else ""
    return (
        f"{type(model).__name__} predicting each client's probability of leaving{ahead}, "
        f"fitted on {len(frame):,} client-months with {len(frame.columns)} inputs in run "
        f"{run_id} (snr_models {__version__})."
    )


def _describe(name: str, version: str, text: str) -> None:
    """Describe the version, and the registered model if it has no description yet."""
    client = MlflowClient(tracking_uri=tracking_uri())
    if not client.get_registered_model(name).description:
        client.update_registered_model(name, description=MODEL_DESCRIPTION)
    client.update_model_version(name, version, description=text)


@dataclass(frozen=True)
class LoggedChurnModel:
    """Where a logged churn model lives."""

    model_uri: str
    registered_uri: str | None
    version: str | None
    run_id: str
    sha256: str = ""


def log_churn_model(
    run: TrackedRun,
    model: Any,
    training_frame: pd.DataFrame,
    *,
    registered_model_name: str | None = MODEL_NAME,
    set_champion_if_missing: bool = True,
    profile: dict | None = None,
    version_tags: dict[str, Any] | None = None,
    description: str | None = None,
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
        Register a new version under this name (None: log only). The version is created
        with its record in one write: tag ``sha256`` (of the skops file) and
        ``version_tags``.
    set_champion_if_missing : bool, default True
        Give the new version the ``champion`` alias when the name has none yet (the
        lifecycle job passes False and decides promotions itself).
    profile : dict, optional
        The training profile (aggregates only: bin edges and shares, the label rate) that
        drift reports compare new data with; stored beside the model as ``profile.json``.
    version_tags : dict, optional
        More tags for the registered version (e.g. ``horizon``, ``run_key``).
    description : str, optional
        The version's description in the registry; by default one naming the estimator,
        its horizon, the number of training rows and the run. The registered model gets
        :data:`MODEL_DESCRIPTION` when it has none.
    """
    columns = model_columns(model)
    example = synthetic_input_example(training_frame, columns)
    output = pd.DataFrame({"churn_probability": model.predict_proba(example)[:, 1]})
    signature = _text_friendly_signature(example, output)
    with tempfile.TemporaryDirectory() as tmp:
        skops_path = Path(tmp) / SKOPS_FILE
        sio.dump(model, skops_path)
        digest = file_sha256(skops_path)
        code_path = Path(tmp) / "churn_model_code.py"
        code_path.write_text(_CODE)
        artifacts = {"model": str(skops_path)}
        if profile is not None:
            profile_path = Path(tmp) / PROFILE_FILE
            profile_path.write_text(json.dumps(profile, default=str))
            artifacts["profile"] = str(profile_path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(code_path),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            conda_env=_conda_env(),
        )
    run.set_tags({"model.sha256": digest})
    version = None
    registered_uri = None
    if registered_model_name:
        tags = {"sha256": digest, **{k: str(v) for k, v in (version_tags or {}).items()}}
        with mlflow_prints():
            mv = mlflow.register_model(info.model_uri, registered_model_name, tags=tags)
        version = str(mv.version)
        _describe(
            registered_model_name,
            version,
            description
            or _version_description(model, training_frame, version_tags or {}, run.run_id),
        )
        registered_uri = f"models:/{registered_model_name}/{version}"
        if set_champion_if_missing and alias_version(registered_model_name, CHAMPION) is None:
            set_alias(registered_model_name, CHAMPION, version)
            logger.info("%s version %s is the first champion", registered_model_name, version)
    return LoggedChurnModel(
        model_uri=info.model_uri,
        registered_uri=registered_uri,
        version=version,
        run_id=run.run_id,
        sha256=digest,
    )


@dataclass(frozen=True)
class LoadedChurnModel:
    """A churn estimator loaded from the registry, with what the registry says of it.

    Attributes
    ----------
    estimator : fitted estimator
    record : VersionRecord
        Name, version, tags (``sha256``, ``horizon``, ...), aliases.
    inputs : list of (str, str)
        The signature's input columns and MLflow types (``double``, ``string``, ...).
    profile : dict or None
        The training profile stored with the model (for drift reports).
    skops : bytes
        The verified skops file the estimator was loaded from (its SHA-256 is the
        registry's record), for re-loading elsewhere with :func:`load_skops_bytes`, e.g. on
        Spark executors; empty if unknown.
    """

    estimator: Any
    record: VersionRecord
    inputs: list[tuple[str, str]]
    profile: dict | None
    skops: bytes = field(default=b"", repr=False)

    @property
    def version(self) -> str:
        """The registered version number."""
        return self.record.version

    @property
    def horizon(self) -> int:
        """Months ahead the churn probability covers (tag ``horizon``; 3 if unrecorded)."""
        return int(self.record.tags.get("horizon", 3))


def _download(uri: str) -> Path:
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except MlflowException as exc:
        _guard(exc)
        raise SnrInputError(f"model {uri!r} not found: {exc.message}") from exc
    except Exception as exc:  # requests' errors surface unwrapped after the retries
        _guard(exc)
        raise


def load_registered_model(model_uri: str) -> LoadedChurnModel:
    """Resolve a registry URI to one version, verify and load it safely.

    The alias (if any) is resolved to a version first, and that pinned version is
    downloaded, so that an alias moved meanwhile cannot mix two versions. The skops file's
    SHA-256 must equal the version's ``sha256`` tag, and its types must pass
    :func:`load_skops`'s allow-list.

    Parameters
    ----------
    model_uri : str
        Any of MLflow's forms: ``models:/snr-churn@champion``, ``models:/snr-churn/3``,
        ``models:/snr-churn/latest`` or ``runs:/RUN_ID/model``.

    Raises
    ------
    SnrInputError
        If the URI is not a registered model version or names none.
    TamperedModelError
        If the file's SHA-256 differs from the record (or there is no record).
    UntrustedModelError
        If the file holds types outside the allow-list.
    RegistryUnavailableError
        If the tracking server cannot be reached.
    """
    mlflow.set_tracking_uri(tracking_uri())
    record = resolve_model_uri(model_uri)
    local = _download(record.uri)
    candidates = list(local.rglob(SKOPS_FILE))
    if not candidates:
        raise SnrInputError(f"model {model_uri!r} holds no {SKOPS_FILE}")
    if not record.sha256:
        raise TamperedModelError(
            f"{record.name} version {record.version} has no SHA-256 record in the registry; "
            "refusing to load it"
        )
    # hash and load the same bytes: the file cannot change between the check and the load
    data = candidates[0].read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != record.sha256:
        raise TamperedModelError(
            f"{record.name} version {record.version}: the model file's SHA-256 "
            f"({actual[:12]}...) differs from the registry's record ({record.sha256[:12]}...); "
            "the artifact was altered, refusing to load it"
        )
    estimator = load_skops_bytes(data, name=candidates[0].name)
    inputs: list[tuple[str, str]] = []
    mlmodel = next(iter(local.rglob("MLmodel")), None)
    if mlmodel is not None:
        signature = mlflow.models.Model.load(str(mlmodel)).signature
        if signature is not None and signature.inputs is not None:
            inputs = [
                (str(c.name), getattr(c.type, "name", str(c.type))) for c in signature.inputs.inputs
            ]
    profile_path = next(iter(local.rglob(PROFILE_FILE)), None)
    profile = json.loads(profile_path.read_text()) if profile_path is not None else None
    return LoadedChurnModel(
        estimator=estimator, record=record, inputs=inputs, profile=profile, skops=data
    )


def load_churn_model(model_uri: str) -> Any:
    """Load the churn estimator behind a registry URI (``models:/snr-churn@champion``).

    Shorthand for ``load_registered_model(model_uri).estimator``: the SHA-256 record and
    the skops allow-list are checked; no pickle.

    Raises
    ------
    SnrInputError
        If the URI cannot be resolved, holds no churn model, or fails a check.
    """
    return load_registered_model(model_uri).estimator
