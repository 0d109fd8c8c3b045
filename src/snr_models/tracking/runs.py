"""MLflow runs: open a run in a named experiment and log what is safe to log.

One way to open a run in a named experiment, and helpers that log what is safe to log:
parameters, metrics, figures, aggregate tables, the data's schema and content hash, and the
package version. Client rows and identifiers are never logged: :meth:`TrackedRun.log_frame`
refuses a frame that carries an identifier column.

The tracking store defaults to ``sqlite:///mlflow.db`` in the working directory, with
artifacts under ``./mlruns``; ``MLFLOW_TRACKING_URI`` overrides the store and
``SNR_ARTIFACT_ROOT`` the artifact root (both are read when a run starts, not at import).

Examples
--------
>>> from snr_models import tracking
>>> with tracking.start_run("snr-example", run_name="demo") as run:  # doctest: +SKIP
...     run.log_params({"freq": "M"})
...     run.log_metrics({"net_rate": 0.81})
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import pandas as pd
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param
from mlflow.tracking import MlflowClient
from mlflow.types.schema import ColSpec, DataType, Schema
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from snr_models._version import __version__

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from snr_models.data import Tables

logger = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACT_ROOT = "mlruns"

#: Columns that identify a client or an event; a frame holding one is never logged.
IDENTIFIER_COLUMNS = frozenset({"client_id", "ticket_id", "response_id"})
#: The tag MLflow's UI shows as a run's description.
DESCRIPTION_TAG = "mlflow.note.content"


def tracking_uri() -> str:
    """The tracking store in force: ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def artifact_root() -> str:
    """Where new experiments keep their artifacts, as a URI (``SNR_ARTIFACT_ROOT`` or ./mlruns)."""
    root = os.environ.get("SNR_ARTIFACT_ROOT") or DEFAULT_ARTIFACT_ROOT
    if "://" in root:
        return root
    return Path(root).resolve().as_uri()


def _client() -> MlflowClient:
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri)


def ensure_experiment(name: str) -> str:
    """Return the id of experiment ``name``, creating it (artifacts under the root) if needed."""
    client = _client()
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    location = f"{artifact_root().rstrip('/')}/{name}"
    return client.create_experiment(name, artifact_location=location)


class TrackedRun:
    """A thin, safe view of one active MLflow run.

    Parameters
    ----------
    run : mlflow.ActiveRun
        The run this object logs into.
    """

    def __init__(self, run: mlflow.ActiveRun) -> None:
        self._run = run
        self._client = _client()

    @property
    def run_id(self) -> str:
        """The MLflow run id."""
        return self._run.info.run_id

    @property
    def experiment_id(self) -> str:
        """The MLflow experiment id."""
        return self._run.info.experiment_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters; nested values are flattened to ``a.b`` keys and stringified."""
        flat = _flatten(params)
        if flat:
            self._client.log_batch(
                self.run_id, params=[Param(k, _short(v)) for k, v in flat.items()]
            )

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log numeric metrics; NaN and None are skipped (MLflow cannot chart them)."""
        clean = {
            _metric_key(k): float(v) for k, v in metrics.items() if v is not None and pd.notna(v)
        }
        if clean:
            now = int(time.time() * 1000)
            self._client.log_batch(
                self.run_id, metrics=[Metric(k, v, now, step or 0) for k, v in clean.items()]
            )

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set run tags."""
        for key, value in tags.items():
            self._client.set_tag(self.run_id, key, str(value))

    def log_dict(self, data: Mapping[str, Any], artifact_file: str) -> None:
        """Log a JSON-serialisable mapping as an artifact file."""
        self._client.log_dict(self.run_id, json.loads(json.dumps(data, default=str)), artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Log text (a summary table, a report) as an artifact file."""
        self._client.log_text(self.run_id, text, artifact_file)

    def log_figure(self, figure: Figure, artifact_file: str) -> None:
        """Log a matplotlib figure as an image artifact."""
        self._client.log_figure(self.run_id, figure, artifact_file)

    def log_frame(self, frame: pd.DataFrame, artifact_file: str) -> None:
        """Log an aggregate table (CSV or Parquet by the file's suffix).

        Raises
        ------
        ValueError
            If the frame holds an identifier column (``client_id``, ``ticket_id``,
            ``response_id``): client rows are never logged.
        """
        leaked = IDENTIFIER_COLUMNS.intersection(map(str, frame.columns))
        leaked |= IDENTIFIER_COLUMNS.intersection(map(str, frame.index.names))
        if leaked:
            raise ValueError(
                f"refusing to log {artifact_file!r}: it holds identifier column(s) "
                f"{sorted(leaked)}; log aggregates only"
            )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_file).name
            if path.suffix == ".parquet":
                frame.to_parquet(path)
            else:
                frame.to_csv(path, index=False)
            subdir = str(Path(artifact_file).parent)
            self._client.log_artifact(
                self.run_id, str(path), artifact_path=None if subdir == "." else subdir
            )

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Log a local file or directory that the caller knows holds no client rows."""
        path = Path(path)
        if path.is_dir():
            self._client.log_artifacts(self.run_id, str(path), artifact_path=artifact_path)
        else:
            self._client.log_artifact(self.run_id, str(path), artifact_path=artifact_path)

    def set_name(self, name: str) -> None:
        """Rename the run (once its data are known, the name says what it did)."""
        self._client.update_run(self.run_id, name=name)

    def set_description(self, text: str) -> None:
        """Set the run's description (the text the MLflow UI shows on the run's page)."""
        self._client.set_tag(self.run_id, DESCRIPTION_TAG, text)

    def log_data(self, tables: Tables, name: str = "data", *, source: str | None = None) -> None:
        """Log the data's profile: content hash, row counts and schema; never rows.

        Each table is also logged as an MLflow dataset input (name ``<name>.<table>``, the
        content hash as digest, the columns and types as schema, ``source`` as source), so
        that the UI's Datasets column shows what the run read. No row is logged.

        Parameters
        ----------
        tables : Tables
        name : str, default "data"
            Prefix of the tags, metrics, artifact folder and dataset names.
        source : str, optional
            Where the data were read from (a folder or URI); "in-memory" if not given.
        """
        digest = tables.content_hash()
        self.set_tags({f"{name}.content_hash": digest})
        self.log_metrics({f"{name}.rows.{t}": n for t, n in tables.row_counts().items()})
        self.log_dict({"schema": tables.schema()}, f"{name}/schema.json")
        self._client.log_inputs(self.run_id, datasets=_dataset_inputs(tables, name, source))


@contextmanager
def start_run(
    experiment: str,
    run_name: str | None = None,
    *,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    description: str | None = None,
) -> Iterator[TrackedRun]:
    """Open a run in the named experiment (created if needed) and yield a :class:`TrackedRun`.

    Every run is tagged with the package version. A run that raises is ended as FAILED.

    Parameters
    ----------
    experiment : str
        Experiment name, e.g. ``"snr-netrate"``.
    run_name : str, optional
        A readable name for the run.
    tags : mapping, optional
        Extra tags.
    nested : bool, default False
        Open the run as a child of the currently active run.
    description : str, optional
        The run's description, shown on its page in the MLflow UI.
    """
    experiment_id = ensure_experiment(experiment)
    all_tags = {"snr_models.version": __version__, **{k: str(v) for k, v in (tags or {}).items()}}
    if description:
        all_tags[DESCRIPTION_TAG] = description
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags=all_tags, nested=nested
    ) as active:
        yield TrackedRun(active)


def _dataset_inputs(tables: Tables, name: str, source: str | None) -> list[DatasetInput]:
    """One metadata-only MLflow dataset per table: name, digest, schema, source; no rows."""
    where = str(source) if source is not None else "in-memory"
    with warnings.catch_warnings():  # a local path matches two equivalent source classes
        warnings.simplefilter("ignore", UserWarning)
        resolved = resolve_dataset_source(where)
    inputs = []
    digests = tables.table_digests()
    for table, frame in tables.items():
        schema = Schema(
            [ColSpec(_mlflow_type(frame[c]), str(c), required=False) for c in frame.columns]
        )
        dataset = MetaDataset(
            source=resolved,
            name=f"{name}.{table}",
            digest=digests[table],
            schema=schema,
        )
        tag = InputTag(key=MLFLOW_DATASET_CONTEXT, value="input")
        inputs.append(DatasetInput(dataset=dataset._to_mlflow_entity(), tags=[tag]))
    return inputs


def _mlflow_type(series: pd.Series) -> DataType:
    if pd.api.types.is_bool_dtype(series):
        return DataType.boolean
    if pd.api.types.is_integer_dtype(series):
        return DataType.long
    if pd.api.types.is_float_dtype(series):
        return DataType.double
    if pd.api.types.is_datetime64_any_dtype(series):
        return DataType.datetime
    return DataType.string


def run_name(
    job: str,
    tables: Tables | None = None,
    month_column: str = "month",
    *,
    config: Mapping[str, Any] | None = None,
) -> str:
    """A parent run's name that says what it did: job, the data's last month, short hash.

    Parameters
    ----------
    job : str
        What ran, e.g. ``"main"``, ``"churn train"``, ``"retrain"``.
    tables : Tables, optional
        The data the run read; without them the name is the job alone.
    month_column : str, default "month"
        The ``client_months`` column that dates the data.
    config : mapping, optional
        The job's settings: hashed with the data, so that the same data analysed with other
        settings gets another name.

    Examples
    --------
    >>> import snr_models as snr
    >>> tables = snr.simulate(n_clients=50, n_branches=1, n_months=3, seed=1).tables
    >>> name = run_name("main", tables)
    >>> name.split()[:2], len(name.split()[2])
    (['main', '2023-03'], 6)
    >>> run_name("main", tables, config={"n_boot": 100}) != name
    True
    """
    if tables is None:
        return job
    months = tables.client_months.get(month_column)
    last = months.max() if months is not None and len(months) else None
    period = f" {pd.Timestamp(last):%Y-%m}" if last is not None and pd.notna(last) else ""
    digest = tables.content_hash()
    if config is not None:
        settings = json.dumps(config, sort_keys=True, default=str)
        digest = hashlib.sha256(f"{digest}\n{settings}".encode()).hexdigest()
    return f"{job}{period} {digest[:6]}"


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, prefix=f"{full}."))
        else:
            flat[full] = value
    return flat


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 6000 else text[:5997] + "..."


def _metric_key(key: str) -> str:
    # MLflow metric names allow letters, digits and _ - . / and spaces only.
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in str(key))
