"""Model files cannot run code: the skops allow-list is exact and pinned.

The allow-list is re-derived here by fitting each of the package's estimators once (every
estimator ``snr churn train`` / ``snr retrain`` can log) and must equal the pinned set. Model
files built by an attacker (a reduce node naming ``builtins.exec`` or ``builtins.eval``, an
``operator.attrgetter`` chain, a ``functools.partial`` wrapping a callable) are registered
with a matching SHA-256, exactly as the package registers its own, and must be refused by the
loader and by ``snr score`` (exit 2, the untrusted type named) without running anything.
"""

from __future__ import annotations

import io
import json
import operator
import os
import typing
import warnings
import zipfile
from functools import partial
from pathlib import Path

import pytest
import skops.io as sio

from snr_models.features import build_features
from snr_models.jobs.churn_models import (
    label_column,
    labelled_rows,
    make_estimator,
    model_inputs,
    model_names,
)
from snr_models.jobs.config import AutoSettings, ChurnConfig
from snr_models.simulate import simulate, write_simulation
from snr_models.tracking import models as tracking_models
from snr_models.tracking.models import (
    LEGACY_TYPES,
    TRUSTED_TYPES,
    UntrustedModelError,
    load_registered_model,
    load_skops_bytes,
    log_churn_model,
)
from snr_models.tracking.runs import start_run
from tests.lifecycle.cli import run_snr

#: Every estimator configuration the churn jobs can fit and log.
CONFIGS = [
    {"model": "boost", "boost": {"calibration": "sigmoid"}},
    {"model": "boost", "boost": {"calibration": "isotonic"}},
    {"model": "boost", "boost": {"calibration": None}},
    {"model": "logit"},
    {"model": "hazard"},
]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    result = simulate(n_clients=600, n_branches=2, n_months=12, seed=1, truth=False)
    return write_simulation(result, tmp_path_factory.mktemp("safety") / "world")


@pytest.fixture(scope="module")
def fitted(world) -> dict[str, object]:
    """Each estimator fitted once on the world's features, as the churn job fits it."""
    frame = build_features(world, horizon=3)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for raw in CONFIGS:
            boost = {"max_iter": 5, "min_samples_leaf": 20, **raw.get("boost", {})}
            cfg = ChurnConfig.model_validate({**raw, "boost": boost})
            lab = labelled_rows(frame, cfg)
            est = make_estimator(cfg).fit(lab[model_inputs(lab)], lab[label_column(cfg)])
            out[json.dumps(raw)] = (est, lab[model_inputs(lab)])
    return out


def test_allow_list_is_exactly_what_the_estimators_produce(fitted):
    derived = set()
    for est, _ in fitted.values():
        derived |= set(sio.get_untrusted_types(data=sio.dumps(est)))
    # beyond what today's estimators produce, only the types of models from earlier versions
    assert derived | LEGACY_TYPES == set(TRUSTED_TYPES)
    assert not derived & LEGACY_TYPES
    for est, frame in fitted.values():  # and each one loads back with it
        loaded = load_skops_bytes(sio.dumps(est))
        assert (loaded.predict_proba(frame) == est.predict_proba(frame)).all()


def test_configs_cover_every_model_auto_can_pick():
    """``model: auto`` registers whichever candidate it chooses: each one is fitted above."""
    (item,) = typing.get_args(AutoSettings.model_fields["candidates"].annotation)
    can_pick = set(typing.get_args(item))
    assert can_pick == {"boost", "logit", "hazard"}
    assert set(model_names(ChurnConfig())) <= can_pick
    assert can_pick <= {raw["model"] for raw in CONFIGS}


def test_allow_list_holds_no_callable():
    forbidden = ("builtins.", "os.", "posix.", "subprocess.", "pickle.", "operator.", "functools.")
    assert not [t for t in TRUSTED_TYPES if t.startswith(forbidden)]
    assert "numpy.load" not in TRUSTED_TYPES


def _json(value) -> dict:
    return {
        "__class__": type(value).__name__,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": id(value),
    }


def _reduce(module: str, name: str, *args) -> dict:
    """A skops reduce node: ``module.name(*args)`` is called while loading."""
    return {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": [_json(a) for a in args],
        },
    }


def _node_of(obj) -> dict:
    """The schema node skops itself writes for ``obj``."""
    with zipfile.ZipFile(io.BytesIO(sio.dumps({"x": obj}))) as z:
        return json.loads(z.read("schema.json"))["content"]["x"]


def _payloads(marker: Path) -> dict[str, tuple[dict, str]]:
    code = f"open({str(marker)!r}, 'w').write('pwned')"
    return {
        "exec": (_reduce("builtins", "exec", code), "builtins.exec"),
        "eval": (_reduce("builtins", "eval", code), "builtins.eval"),
        "attrgetter": (
            _node_of(operator.attrgetter("__class__.__init__.__globals__")),
            "operator.attrgetter",
        ),
        "partial": (_node_of(partial(os.system, f"touch {marker}")), "functools.partial"),
    }


def _inject(data: bytes, node: dict) -> bytes:
    """The model file with one extra attribute ``evil_`` holding ``node``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            content = src.read(name)
            if name == "schema.json":
                schema = json.loads(content)
                schema["content"]["content"]["evil_"] = node
                content = json.dumps(schema).encode()
            dst.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["exec", "eval", "attrgetter", "partial"])
def test_malicious_file_is_refused_by_the_loader(fitted, kind, tmp_path):
    marker = tmp_path / "marker"
    node, name = _payloads(marker)[kind]
    est, _ = fitted[json.dumps(CONFIGS[0])]
    with pytest.raises(UntrustedModelError, match=name.replace(".", r"\.")):
        load_skops_bytes(_inject(sio.dumps(est), node))
    assert not marker.exists()


def test_malicious_registered_model_is_refused_by_snr_score(
    fitted, world, mlflow_store, tmp_path, monkeypatch, capsys
):
    """Each malicious file registered as the package registers a model: through
    :func:`log_churn_model`, whose ``sha256`` tag then matches the file."""
    marker = tmp_path / "marker"
    est, frame = fitted[json.dumps(CONFIGS[0])]
    real_dump = sio.dump
    versions = {}
    with start_run("snr-churn", "attacker") as run:
        for kind, (node, name) in _payloads(marker).items():

            def evil_dump(obj, path, node=node):
                Path(path).write_bytes(_inject(sio.dumps(obj), node))

            monkeypatch.setattr(tracking_models.sio, "dump", evil_dump)
            logged = log_churn_model(run, est, frame, set_champion_if_missing=False)
            monkeypatch.setattr(tracking_models.sio, "dump", real_dump)
            versions[kind] = (logged.registered_uri, name)
    for kind, (uri, name) in versions.items():
        with pytest.raises(UntrustedModelError, match=name.replace(".", r"\.")):
            load_registered_model(uri)  # the hash matches: only the allow-list stops it
        out = tmp_path / f"{kind}.parquet"
        args = ["score", "--model", uri, "--data", world, "--as-of", "2023-10", "--output", out]
        result = run_snr(args, monkeypatch, capsys)
        assert result.code == 2, (kind, result.text)
        assert name in result.text and "untrusted" in result.text
        assert "Traceback" not in result.text and not out.exists()
    assert not marker.exists()
