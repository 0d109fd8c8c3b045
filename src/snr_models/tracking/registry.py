"""The model registry as the lifecycle sees it: versions, aliases, records and run keys.

Every write that decides which model is served is a single alias move in the registry's
database, done only after the version it points to is complete (its artifacts uploaded and
its SHA-256 recorded), so that ``models:/snr-churn@champion`` always resolves to a loadable
model, whatever moment a job is killed at:

- :func:`promote` first gives the current champion the alias ``previous``, then moves
  ``champion`` to the new version: killed between the two, both aliases name the old
  champion, which is still complete.
- :func:`rollback` moves ``champion`` back to ``previous`` (and ``previous`` to the demoted
  version).

A version's tags hold its record: ``sha256`` of the model file, ``horizon``, ``run_key``,
``lifecycle`` (``challenger``, ``champion``, ``previous``, ``rejected``, ``retired``) and,
for a rejected challenger, ``rejected_reasons``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from snr_models.errors import SnrInputError
from snr_models.tracking.runs import tracking_uri

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "PREVIOUS",
    "RegistryUnavailableError",
    "VersionRecord",
    "alias_version",
    "find_finished_run",
    "list_versions",
    "parse_model_uri",
    "promote",
    "resolve_model_uri",
    "rollback",
    "set_alias",
    "set_version_tags",
    "version_record",
]

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous"
#: MLflow's version word for the newest version: ``models:/snr-churn/latest``.
LATEST = "latest"


class RegistryUnavailableError(RuntimeError):
    """The tracking server cannot be reached (after MLflow's bounded retries)."""


@dataclass(frozen=True)
class VersionRecord:
    """A registered model version and the record the registry keeps of it."""

    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict[str, str]
    aliases: tuple[str, ...]

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``: pinned, unlike an alias."""
        return f"models:/{self.name}/{self.version}"

    @property
    def sha256(self) -> str | None:
        """The SHA-256 of the model file recorded at registration."""
        return self.tags.get("sha256")


def _client() -> MlflowClient:
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    return MlflowClient(tracking_uri=uri)


def _unreachable(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(
        s in text
        for s in ("Max retries exceeded", "Connection refused", "ConnectionError", "timed out")
    )


def _guard(exc: BaseException) -> None:
    if _unreachable(exc):
        raise RegistryUnavailableError(
            f"the tracking server {tracking_uri()} cannot be reached: {str(exc).splitlines()[0]}"
        ) from exc


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None] | None:
    """Split ``models:/name/version`` or ``models:/name@alias``; None for other URIs.

    Returns
    -------
    (name, version, alias) or None

    Examples
    --------
    >>> parse_model_uri("models:/snr-churn@champion")
    ('snr-churn', None, 'champion')
    >>> parse_model_uri("models:/snr-churn/3")
    ('snr-churn', '3', None)
    >>> parse_model_uri("models:/snr-churn/latest")
    ('snr-churn', 'latest', None)
    >>> parse_model_uri("runs:/abc/model") is None
    True
    """
    if not uri.startswith("models:/"):
        return None
    rest = uri[len("models:/") :].strip("/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, None, alias
    name, _, version = rest.partition("/")
    return name, version or None, None


def _record(mv) -> VersionRecord:
    return VersionRecord(
        name=mv.name,
        version=str(mv.version),
        run_id=mv.run_id,
        source=mv.source,
        tags=dict(mv.tags or {}),
        aliases=tuple(getattr(mv, "aliases", ()) or ()),
    )


def version_record(
    name: str, version: str | None = None, alias: str | None = None
) -> VersionRecord:
    """The record of a version, given by number (or ``"latest"``, the newest) or by alias.

    Raises
    ------
    SnrInputError
        If no such version or alias exists.
    RegistryUnavailableError
        If the tracking server cannot be reached.
    """
    client = _client()
    try:
        if alias is not None:
            mv = client.get_model_version_by_alias(name, alias)
        elif str(version).lower() == LATEST:
            mv = _latest(client, name)
        else:
            mv = client.get_model_version(name, str(version))
    except MlflowException as exc:
        _guard(exc)
        what = f"@{alias}" if alias is not None else f"version {version}"
        raise SnrInputError(f"registered model {name!r} has no {what}") from exc
    except Exception as exc:  # requests' errors surface unwrapped after the retries
        _guard(exc)
        raise
    return _record(mv)


def _latest(client: MlflowClient, name: str):
    """The newest version of ``name`` (MLflow's ``models:/NAME/latest``)."""
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        raise MlflowException(f"registered model {name!r} has no versions")
    return client.get_model_version(name, str(max(int(mv.version) for mv in versions)))


def resolve_model_uri(uri: str) -> VersionRecord:
    """The registered version an MLflow model URI names, in any of MLflow's forms.

    ``models:/NAME/VERSION``, ``models:/NAME/latest``, ``models:/NAME@ALIAS`` and
    ``runs:/RUN_ID/model`` (the version registered from that run).

    Raises
    ------
    SnrInputError
        If the URI names no registered version.
    RegistryUnavailableError
        If the tracking server cannot be reached.
    """
    uri = uri.strip().rstrip("/")
    if uri.startswith("runs:/"):
        run_id = uri[len("runs:/") :].split("/", 1)[0]
        try:
            versions = _client().search_model_versions(f"run_id = '{run_id}'")
        except MlflowException as exc:
            _guard(exc)
            raise
        if not versions:
            raise SnrInputError(
                f"model {uri!r}: run {run_id} has no registered model version (only a "
                "registered version carries the SHA-256 record checked before loading)"
            )
        newest = max(versions, key=lambda mv: int(mv.version))
        return version_record(newest.name, version=str(newest.version))
    parsed = parse_model_uri(uri)
    if parsed is None or (parsed[1] is None and parsed[2] is None):
        raise SnrInputError(
            f"model {uri!r}: expected a registered model, models:/NAME@ALIAS, "
            "models:/NAME/VERSION, models:/NAME/latest or runs:/RUN_ID/model"
        )
    name, version, alias = parsed
    return version_record(name, version=version, alias=alias)


def alias_version(name: str, alias: str) -> VersionRecord | None:
    """The version holding ``alias``, or None if the alias (or the model) does not exist."""
    try:
        return version_record(name, alias=alias)
    except SnrInputError:
        return None


def set_alias(name: str, alias: str, version: str) -> None:
    """Point ``alias`` at ``version`` (one registry write)."""
    _client().set_registered_model_alias(name, alias, str(version))


def set_version_tags(name: str, version: str, tags: Mapping[str, object]) -> None:
    """Set tags on a model version."""
    client = _client()
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, str(value))


def promote(name: str, version: str) -> tuple[str | None, str]:
    """Make ``version`` the champion; the old champion keeps the alias ``previous``.

    Safe to kill at any moment: ``previous`` is moved first, then ``champion`` (each a single
    registry write), and both only ever name complete versions.

    Returns
    -------
    (old, new)
        The former champion's version (None if there was none) and ``version``.

    Raises
    ------
    SnrInputError
        If ``version`` does not exist or has no SHA-256 record.
    """
    target = version_record(name, version=str(version))
    if not target.sha256:
        raise SnrInputError(
            f"{name} version {version} has no SHA-256 record; it cannot be promoted"
        )
    old = alias_version(name, CHAMPION)
    if old is not None and old.version == target.version:
        return old.version, target.version
    if old is not None:
        set_alias(name, PREVIOUS, old.version)
    set_alias(name, CHAMPION, target.version)
    tags = {"lifecycle": "champion"}
    set_version_tags(name, target.version, tags)
    if old is not None:
        set_version_tags(name, old.version, {"lifecycle": "previous"})
    logger.info("%s: version %s is champion (was %s)", name, target.version, old and old.version)
    return (old.version if old else None), target.version


def rollback(name: str) -> tuple[str, str]:
    """Swap ``champion`` and ``previous``: the previous champion serves again.

    Returns
    -------
    (demoted, restored)

    Raises
    ------
    SnrInputError
        If there is no ``previous`` version to roll back to.
    """
    previous = alias_version(name, PREVIOUS)
    if previous is None:
        raise SnrInputError(f"{name} has no @{PREVIOUS} version to roll back to")
    champion = alias_version(name, CHAMPION)
    set_alias(name, CHAMPION, previous.version)
    if champion is not None and champion.version != previous.version:
        set_alias(name, PREVIOUS, champion.version)
        set_version_tags(name, champion.version, {"lifecycle": "previous"})
    set_version_tags(name, previous.version, {"lifecycle": "champion"})
    return (champion.version if champion else ""), previous.version


def list_versions(name: str) -> pd.DataFrame:
    """Every version of ``name``: version, aliases, lifecycle tag, run, creation time.

    Returns an empty frame (with the columns) when the model is not registered yet.
    """
    client = _client()
    columns = ["version", "aliases", "lifecycle", "created", "run_id", "sha256", "reasons"]
    try:
        versions = client.search_model_versions(f"name = '{name}'")
    except MlflowException as exc:
        _guard(exc)
        raise
    rows = []
    for mv in versions:
        full = client.get_model_version(mv.name, mv.version)  # aliases are on the full record
        tags = dict(full.tags or {})
        rows.append(
            {
                "version": int(full.version),
                "aliases": ",".join(getattr(full, "aliases", []) or []),
                "lifecycle": tags.get("lifecycle", ""),
                "created": pd.Timestamp(int(full.creation_timestamp), unit="ms"),
                "run_id": full.run_id,
                "sha256": (tags.get("sha256") or "")[:12],
                "reasons": tags.get("rejected_reasons", ""),
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("version", ignore_index=True)


def find_finished_run(experiment: str, run_key: str) -> str | None:
    """The id of a finished retrain run with tag ``snr_run_key == run_key``, if any."""
    client = _client()
    try:
        exp = client.get_experiment_by_name(experiment)
    except MlflowException as exc:
        _guard(exc)
        raise
    except Exception as exc:
        _guard(exc)
        raise
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.snr_run_key = '{run_key}' and attributes.status = 'FINISHED'",
        max_results=1,
        order_by=["attributes.start_time DESC"],
    )
    return runs[0].info.run_id if runs else None
