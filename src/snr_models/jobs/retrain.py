"""``snr retrain``: scheduled retraining with a champion/challenger gate.

Steps, each reported as one JSON line (``on_step``) and kept in the summary:

1. ``lock``: take a file lock; a second run meanwhile fails with :class:`RetrainLocked`
   naming the holder (the CLI exits 75).
2. ``load``: load and validate the data (the contract's errors: exit 2).
3. ``drift``: PSI per feature and of the label rate of the rows the challenger will learn
   from (the labelled months before the holdout) against the champion's training profile
   (the same selection when it was trained: identical data give PSI 0); a breach is
   reported, and blocks (exit 3) if the configuration says so.
4. ``run_key``: SHA-256 of the data's content hash, the configuration and the package
   version; if a finished retrain run has that key, nothing more is done (unless ``force``).
5. ``train``: fit the challenger on the labelled months before the holdout (leaving a gap of
   ``horizon`` months so that no training outcome overlaps the holdout's), log it, register
   it with its SHA-256 record and give it the alias ``challenger``. With ``model: auto`` the
   challenger is the model chosen on a rolling-origin backtest within those months (the
   choice and each candidate's score are logged and recorded in the step).
6. ``evaluate``: challenger and champion on the same holdout (the latest labelled months).
7. ``gate``: with a champion, the challenger must not lose more than the configured ROC-AUC
   and EMPC margins (and, when the data hold retention campaigns, the Qini of its risk
   ranking on the latest ones: ``uplift.max_qini_drop``) and must have a calibration slope
   in range; without one, it must meet
   the absolute floors. Passed: ``promote`` (``champion`` moves, the old one keeps
   ``previous``); failed: ``reject`` (version tagged ``rejected`` with the reasons, exit 3).
8. ``summary``: written atomically as JSON and logged to the run.

Safe to kill: the alias ``champion`` only ever moves to a complete, recorded version (see
:mod:`snr_models.tracking.registry`); a killed run is not ``FINISHED``, so its run key does
not count and the next run retrains.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snr_models import progress, threads
from snr_models._version import __version__
from snr_models.data.atomic import atomic_path
from snr_models.errors import SnrInputError
from snr_models.features import build_features, feature_columns
from snr_models.features.drift import drift_report, training_profile
from snr_models.jobs.churn_models import (
    choose_model,
    fit_chosen,
    fit_estimator,
    holdout_split,
    label_column,
    log_choice,
    model_inputs,
)
from snr_models.jobs.config import ChurnConfig
from snr_models.jobs.gate import campaign_qini, gate_reasons, holdout_metrics
from snr_models.jobs.lock import EXIT_LOCKED, RetrainLocked, acquire_lock

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_GATE",
    "EXIT_LOCKED",
    "EXIT_OK",
    "RetrainLocked",
    "RetrainResult",
    "gate_reasons",
    "holdout_metrics",
    "retrain",
    "run_key",
]

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_GATE = 3

MODEL_NAME = "snr-churn"
_PATH_SETTINGS = ("data", "lock", "summary")


@dataclass
class RetrainResult:
    """What :func:`retrain` did; ``summary`` is what was written to the summary file."""

    status: str
    exit_code: int
    summary: dict[str, Any]
    steps: list[dict[str, Any]] = field(default_factory=list)


def run_key(content_hash: str, config: ChurnConfig, version: str = __version__) -> str:
    """SHA-256 of the data snapshot, the configuration (paths excluded) and the version.

    Examples
    --------
    >>> k = run_key("abc", ChurnConfig())
    >>> k == run_key("abc", ChurnConfig(retrain={"data": "elsewhere"}))
    True
    >>> k == run_key("abd", ChurnConfig())
    False
    """
    settings = config.model_dump(mode="json")
    for key in _PATH_SETTINGS:
        settings["retrain"].pop(key, None)
    payload = json.dumps(
        {"data": content_hash, "config": settings, "version": version}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class _Steps:
    """Collects step records and hands each to the caller as soon as it is done."""

    def __init__(self, on_step: Callable[[dict[str, Any]], None] | None) -> None:
        self.records: list[dict[str, Any]] = []
        self._on_step = on_step
        self._t0 = time.monotonic()
        self._last = self._t0

    def __call__(self, step: str, status: str = "ok", **fields: Any) -> None:
        now = time.monotonic()
        record = {
            "step": step,
            "status": status,
            "seconds": round(now - self._last, 3),
            **fields,
        }
        self._last = now
        self.records.append(record)
        logger.info("retrain %s: %s", step, status)
        if self._on_step is not None:
            self._on_step(json.loads(json.dumps(record, default=str)))


def _write_summary(summary: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(summary, indent=1, default=str))


#: The stages ``snr retrain`` reports progress of (its JSON lines on stdout name every step);
#: OpenMP, BLAS and DuckDB use ``config.threads`` threads in each.
RETRAIN_STAGES = ("data", "fit", "evaluate")


@progress.job("retrain", RETRAIN_STAGES)
def retrain(
    config: ChurnConfig,
    *,
    data: str | Path | None = None,
    force: bool = False,
    summary_path: str | Path | None = None,
    config_path: str | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> RetrainResult:
    """Run the retraining steps (see the module docstring).

    Parameters
    ----------
    config : ChurnConfig
        Model, horizon and the ``retrain`` section (data, holdout, lock, gate, floors).
    data : str or Path, optional
        Overrides ``config.retrain.data``.
    force : bool, default False
        Retrain even when a finished run has the same run key.
    summary_path : str or Path, optional
        Overrides ``config.retrain.summary``.
    config_path : str, optional
        Recorded in the lock's holder file and the summary.
    on_step : callable, optional
        Called with each step's record (a JSON-serialisable dict) as soon as it is done.

    Returns
    -------
    RetrainResult
        ``status`` is ``promoted``, ``rejected``, ``blocked`` or ``skipped``; ``exit_code``
        0 or 3.

    Raises
    ------
    RetrainLocked
        If another run holds the lock.
    SnrInputError
        On bad data or configuration.
    """
    from snr_models import tracking
    from snr_models.data.io import load
    from snr_models.tracking import registry
    from snr_models.tracking.models import load_registered_model, log_churn_model

    source = data if data is not None else config.retrain.data
    if source is None:
        raise SnrInputError("retrain: no data source; give --data or retrain.data in the config")
    summary_file = Path(summary_path or config.retrain.summary)
    steps = _Steps(on_step)
    started = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    lock = acquire_lock(Path(config.retrain.lock), config_path)
    try:
        steps("lock", lock=str(config.retrain.lock), pid=os.getpid())

        with progress.stage("data"), threads.limit(config.threads):
            tables = load(source)
            content_hash = tables.content_hash()
            steps("load", rows=tables.row_counts(), content_hash=content_hash)
            frame = build_features(tables, horizon=config.horizon)
            train, holdout = holdout_split(frame, config)
        champion_record = registry.alias_version(MODEL_NAME, registry.CHAMPION)
        champion = load_registered_model(champion_record.uri) if champion_record else None
        drift = None
        if champion is not None and champion.profile is not None:
            d = config.retrain.drift
            # like with like: the rows the challenger learns from against those the champion
            # learned from (the same as-of months of the same data give PSI 0). The latest
            # month alone differs from a pool of training months by design: 12-month
            # windows still filling in the early months, interventions rolled out later.
            drift = drift_report(
                champion.profile,
                train,
                labelled=train,
                psi_threshold=d.psi_threshold,
                label_psi_threshold=d.label_psi_threshold,
                exclude=d.exclude,
            )
            steps(
                "drift",
                "breach" if drift.breached else "ok",
                blocking=bool(drift.breached and d.block),
                **drift.to_dict(),
            )
        else:
            steps("drift", "skipped", reason="no champion with a training profile yet")

        key = run_key(content_hash, config)
        existing = registry.find_finished_run(config.experiment, key)
        summary: dict[str, Any] = {
            "started": started,
            "config": config_path,
            "data": str(source),
            "content_hash": content_hash,
            "run_key": key,
            "package_version": __version__,
            "drift": drift.to_dict() if drift is not None else None,
        }
        if existing and not force:
            steps("run_key", "exists", run_key=key, run_id=existing)
            return _finish("skipped", EXIT_OK, summary | {"run_id": existing}, steps, summary_file)
        steps("run_key", "new" if not existing else "forced", run_key=key)

        tags = {"snr_run_key": key, "snr_job": "retrain"}
        with tracking.start_run(
            config.experiment,
            run_name=tracking.run_name("retrain", tables),
            tags=tags,
            description=(
                f"snr retrain: a challenger {config.model} model trained on the data of "
                f"{source}, checked for drift and compared with the champion on the latest "
                f"{config.retrain.holdout_months} labelled month(s); promoted if it passes the "
                f"gate."
            ),
        ) as run:
            summary["run_id"] = run.run_id
            run.log_params(
                {"config": config.model_dump(mode="json"), "force": force, "data": str(source)}
            )
            run.log_data(tables, source=str(source))
            if drift is not None:
                run.log_frame(drift.table, "drift/psi.csv")
                run.log_dict(drift.to_dict(), "drift/report.json")
            if drift is not None and drift.breached and config.retrain.drift.block:
                reasons = [f"drift: {b}" for b in drift.breaches]
                summary |= {"gate": {"passed": False, "reasons": reasons}}
                run.set_tags({"snr_retrain_outcome": "blocked"})
                steps("gate", "blocked", reasons=reasons)
                return _finish("blocked", EXIT_GATE, summary, steps, summary_file, run)

            with progress.stage("fit"), threads.limit(config.threads):
                chosen, choice_record = config.model, {}
                if config.model == "auto":
                    # chosen on a rolling-origin backtest within the training months only: the
                    # holdout stays unseen until champion and challenger meet on it
                    choice = choose_model(train, config)
                    log_choice(run, choice)
                    chosen = choice.chosen
                    choice_record = {
                        "candidates": choice.scores["score"].round(4).to_dict(),
                        "metric": choice.metric,
                        "nested": (None if choice.nested.empty else round(choice.nested_score, 4)),
                    }
                    model = fit_chosen(train, choice)
                else:
                    model = fit_estimator(train, config)
            profile = training_profile(
                train, feature_columns(train), n_bins=config.retrain.drift.n_bins
            )
            logged = log_churn_model(
                run,
                model,
                train[model_inputs(train)],
                registered_model_name=MODEL_NAME,
                set_champion_if_missing=False,
                profile=profile,
                version_tags={"horizon": config.horizon, "run_key": key, "lifecycle": "challenger"},
            )
            version = str(logged.version)
            registry.set_alias(MODEL_NAME, registry.CHALLENGER, version)
            steps(
                "train",
                version=version,
                n_train_rows=len(train),
                train_from=f"{train['as_of'].min():%Y-%m}",
                train_to=f"{train['as_of'].max():%Y-%m}",
                model=chosen,
                label=label_column(config, chosen),
                **choice_record,
            )

            y = holdout["churn"].to_numpy(dtype=float)
            with progress.stage("evaluate"), threads.limit(config.threads):
                results = {"challenger": holdout_metrics(y, _predict(model, holdout))}
                if champion is not None:
                    p_champion = _predict(champion.estimator, holdout)
                    results["champion"] = holdout_metrics(y, p_champion)
                ranked = {"challenger": model, "champion": getattr(champion, "estimator", None)}
                predict = {w: partial(_predict, m) for w, m in ranked.items() if m is not None}
                for who, qini in campaign_qini(tables, config, predict).items():
                    results[who]["qini"] = qini
            for who, metrics in results.items():
                run.log_metrics({f"holdout.{who}.{k}": v for k, v in metrics.items()})
            holdout_months = [f"{m:%Y-%m}" for m in sorted(holdout["as_of"].unique())]
            steps("evaluate", holdout=holdout_months, **results)
            summary |= {
                "holdout": holdout_months,
                "challenger": {"version": version, "metrics": results["challenger"]},
                "champion": (
                    {"version": champion.version, "metrics": results["champion"]}
                    if champion is not None
                    else None
                ),
            }

            reasons = gate_reasons(results["challenger"], results.get("champion"), config)
            basis = "gate" if champion is not None else "floors"
            summary["gate"] = {"passed": not reasons, "basis": basis, "reasons": reasons}
            steps("gate", "passed" if not reasons else "failed", basis=basis, reasons=reasons)
            if reasons:
                registry.set_version_tags(
                    MODEL_NAME,
                    version,
                    {"lifecycle": "rejected", "rejected_reasons": "; ".join(reasons)},
                )
                run.set_tags({"snr_retrain_outcome": "rejected"})
                steps("reject", version=version)
                return _finish("rejected", EXIT_GATE, summary, steps, summary_file, run)
            old, new = registry.promote(MODEL_NAME, version)
            run.set_tags({"snr_retrain_outcome": "promoted"})
            steps("promote", champion=new, previous=old)
            summary["promoted"] = {"champion": new, "previous": old}
            return _finish("promoted", EXIT_OK, summary, steps, summary_file, run)
    finally:
        lock.release()


def _predict(model: Any, frame: pd.DataFrame) -> np.ndarray:
    from snr_models.churn.scoring import model_columns
    from snr_models.features.signature import align_columns

    return model.predict_proba(align_columns(frame, model_columns(model)))[:, 1]


def _finish(
    status: str,
    code: int,
    summary: dict[str, Any],
    steps: _Steps,
    path: Path,
    run: Any = None,
) -> RetrainResult:
    summary = summary | {
        "status": status,
        "exit_code": code,
        "finished": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    steps("summary", status, path=str(path), exit_code=code)
    summary["steps"] = steps.records
    _write_summary(summary, path)
    if run is not None:
        run.log_dict(summary, "retrain/summary.json")
    return RetrainResult(status=status, exit_code=code, summary=summary, steps=steps.records)
