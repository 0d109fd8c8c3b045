"""Batch scoring: the call list from a registered churn model, streamed with bounded memory.

:func:`score` builds the as-of month's point-in-time features with the same code as training
(:func:`snr_models.features.write_features` streams them to a temporary Parquet file, in
client buckets, within DuckDB's memory limit), then reads them back in chunks of
``chunk_size`` clients and writes per client:

- ``churn_probability``: the probability of exit within the model's horizon, exactly the
  model's ``predict_proba`` (what a notebook gets);
- ``risk_decile``: 1 (lowest) to 10 (highest), on the deciles of this scoring run's
  probabilities;
- ``expected_months_to_exit``: the hazard model's restricted mean (120 months); for a
  classifier, the same restricted mean under the constant monthly hazard its horizon
  probability implies, ``h = 1 - (1 - p) ** (1 / horizon)``;
- ``reason_1..3``: the three features that raise the client's risk most, in words (exact
  per-client contributions; see :func:`snr_models.churn.explain`);
- ``model_version``.

The model is loaded with :func:`snr_models.tracking.models.load_registered_model` (SHA-256
checked against the registry's record, skops allow-list; no pickle) and the features are
checked against its signature before any row is scored. The output is written to a
temporary sibling and renamed: a failure leaves no partial file and never harms an existing
one. Memory is bounded by ``chunk_size`` (plus 8 bytes per client for the deciles).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from snr_models.data.atomic import atomic_path, staging_dir
from snr_models.data.tables import Tables
from snr_models.errors import SnrInputError
from snr_models.features import CATEGORICAL_FEATURES, build_features, parse_month

__all__ = [
    "OUTPUT_COLUMNS",
    "ScoreResult",
    "align_columns",
    "call_list",
    "check_signature",
    "expected_months_to_exit",
    "feature_chunks",
    "reason_frame",
    "risk_deciles",
    "score",
    "score_chunks",
    "score_frame",
    "signature_fill",
    "write_as_of_features",
    "write_scored",
    "write_with_deciles",
]

logger = logging.getLogger(__name__)

#: Columns of the scoring output, in order.
OUTPUT_COLUMNS: tuple[str, ...] = (
    "client_id",
    "branch_id",
    "as_of",
    "churn_probability",
    "risk_decile",
    "expected_months_to_exit",
    "reason_1",
    "reason_2",
    "reason_3",
    "model_version",
)
MAX_MONTHS = 120
_NUMERIC_TYPES = {"double", "float", "long", "integer", "boolean"}


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


def _kind_ok(expected: str, series: pd.Series) -> bool:
    if expected in _NUMERIC_TYPES:
        return pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    if expected == "string":
        return pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)
    if expected == "datetime":
        return pd.api.types.is_datetime64_any_dtype(series)
    return True


def check_signature(frame: pd.DataFrame, inputs: list[tuple[str, str]]) -> list[str]:
    """Check a feature frame against a model signature's inputs; return exposure fills.

    Parameters
    ----------
    frame : DataFrame
        Features (a chunk is enough: the schema is the same for every chunk).
    inputs : list of (name, type)
        The signature's input columns and MLflow types.

    Returns
    -------
    list of str
        ``exposure_*`` columns the model knows but the data lack (scored as 0: the
        intervention was not rolled out in these data).

    Raises
    ------
    SnrInputError
        Naming every missing column and every column of the wrong type.

    Examples
    --------
    >>> check_signature(pd.DataFrame({"a": [1.0]}), [("a", "double"), ("exposure_x", "double")])
    ['exposure_x']
    """
    missing = [n for n, _ in inputs if n not in frame.columns and not n.startswith("exposure_")]
    fill = [n for n, _ in inputs if n not in frame.columns and n.startswith("exposure_")]
    wrong = [
        f"{n} (expected {t}, got {frame[n].dtype})"
        for n, t in inputs
        if n in frame.columns and not _kind_ok(t, frame[n])
    ]
    if missing or wrong:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing[:10])}")
        if wrong:
            parts.append(f"wrong type(s) {', '.join(wrong[:10])}")
        raise SnrInputError(
            "the data do not match the model's signature: " + "; ".join(parts) + " (were the "
            "features built with the same version of snr_models as the model?)"
        )
    return fill


def risk_deciles(p: np.ndarray) -> np.ndarray:
    """Risk decile 1 (lowest) to 10 (highest) of each probability within ``p``.

    Cut at the 10th..90th percentiles of ``p``; ties go to the higher decile, so the result
    depends only on the values, not on their order.

    Examples
    --------
    >>> risk_deciles(np.arange(20) / 20).tolist()[:4]
    [1, 1, 2, 2]
    """
    p = np.asarray(p, dtype=float)
    if len(p) == 0:
        return np.zeros(0, dtype=np.int8)
    edges = np.quantile(p, np.linspace(0.1, 0.9, 9))
    return (np.searchsorted(edges, p, side="right") + 1).astype(np.int8)


def expected_months_to_exit(model: Any, X: pd.DataFrame, p: np.ndarray, horizon: int) -> np.ndarray:
    """Restricted mean months to exit (at most 120).

    The hazard model's own :meth:`~snr_models.churn.HazardModel.expected_months_to_exit`;
    for a classifier, ``sum_{k=0}^{119} (1 - h) ** k`` with the constant monthly hazard
    ``h = 1 - (1 - p) ** (1 / horizon)`` implied by its ``horizon``-month probability ``p``.

    Examples
    --------
    >>> expected_months_to_exit(None, pd.DataFrame(index=[0, 1]), np.array([0.0, 1.0]), 3)
    array([120.,   1.])
    """
    if hasattr(model, "expected_months_to_exit"):
        return np.asarray(model.expected_months_to_exit(X), dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    h = 1.0 - (1.0 - p) ** (1.0 / horizon)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = (1.0 - (1.0 - h) ** MAX_MONTHS) / h
    return np.where(h > 0, mean, float(MAX_MONTHS))


def _tree_shap_rows(nodes: np.ndarray, Z: np.ndarray, n_columns: int) -> np.ndarray:
    """Exact path-dependent TreeSHAP of one HGB tree for many rows at once.

    The recursion of :func:`snr_models.churn.treeshap.tree_shap` (Lundberg et al. 2018,
    Algorithm 2) visits every node whatever the row: only the "one fractions" (which child
    the row takes) differ between rows. Here they, and the path weights, are arrays over
    rows, so one recursion serves all rows.

    Returns
    -------
    ndarray, shape (len(Z), n_columns)
    """
    n = len(Z)
    phi = np.zeros((n, n_columns))
    values = nodes["value"]
    counts = nodes["count"].astype(np.float64)
    features = nodes["feature_idx"]
    thresholds = nodes["num_threshold"]
    left, right = nodes["left"], nodes["right"]
    leaf = nodes["is_leaf"].astype(bool)
    missing_left = nodes["missing_go_to_left"].astype(bool)

    def extend(feat, zero, one, pw, depth, pz, po, pi):
        feat[depth], zero[depth] = pi, pz
        one[:, depth] = po
        pw[:, depth] = 1.0 if depth == 0 else 0.0
        for i in range(depth - 1, -1, -1):
            pw[:, i + 1] += po * pw[:, i] * (i + 1) / (depth + 1)
            pw[:, i] = pz * pw[:, i] * (depth - i) / (depth + 1)

    def unwind(feat, zero, one, pw, depth, idx):
        o, z = one[:, idx].copy(), zero[idx]
        nonzero = o != 0
        safe_o = np.where(nonzero, o, 1.0)
        nxt = pw[:, depth].copy()
        for i in range(depth - 1, -1, -1):
            tmp = pw[:, i].copy()
            by_one = nxt * (depth + 1) / ((i + 1) * safe_o)
            by_zero = tmp * (depth + 1) / (z * (depth - i)) if z != 0 else tmp
            pw[:, i] = np.where(nonzero, by_one, by_zero)
            nxt = np.where(nonzero, tmp - by_one * z * (depth - i) / (depth + 1), nxt)
        for i in range(idx, depth):
            feat[i], zero[i] = feat[i + 1], zero[i + 1]
            one[:, i] = one[:, i + 1]

    def unwound_sum(zero, one, pw, depth, idx):
        o, z = one[:, idx], zero[idx]
        nonzero = o != 0
        safe_o = np.where(nonzero, o, 1.0)
        nxt = pw[:, depth].copy()
        total = np.zeros(n)
        for i in range(depth - 1, -1, -1):
            by_one = nxt * (depth + 1) / ((i + 1) * safe_o)
            by_zero = (pw[:, i] / z) / ((depth - i) / (depth + 1)) if z != 0 else 0.0
            total += np.where(nonzero, by_one, by_zero)
            nxt = np.where(nonzero, pw[:, i] - by_one * z * (depth - i) / (depth + 1), nxt)
        return total

    def recurse(node, feat, zero, one, pw, depth, pz, po, pi):
        # a fresh copy of the parent's path (length ``depth``) with room for this node
        feat, zero = [*feat, 0], [*zero, 0.0]
        one = np.concatenate([one, np.zeros((n, 1))], axis=1)
        pw = np.concatenate([pw, np.zeros((n, 1))], axis=1)
        extend(feat, zero, one, pw, depth, pz, po, pi)
        if leaf[node]:
            for i in range(1, depth + 1):
                s = unwound_sum(zero, one, pw, depth, i)
                phi[:, feat[i]] += s * (one[:, i] - zero[i]) * values[node]
            return
        d = features[node]
        v = Z[:, d]
        goes_left = np.where(np.isnan(v), missing_left[node], v <= thresholds[node])
        iz, io = 1.0, np.ones(n)
        k = next((j for j in range(depth + 1) if feat[j] == d), None)
        if k is not None:
            iz, io = zero[k], one[:, k].copy()
            unwind(feat, zero, one, pw, depth, k)
            depth -= 1
        for child, go in ((left[node], goes_left), (right[node], ~goes_left)):
            recurse(
                child,
                feat[: depth + 1],
                zero[: depth + 1],
                one[:, : depth + 1],
                pw[:, : depth + 1],
                depth + 1,
                counts[child] / counts[node] * iz,
                np.where(go, io, 0.0),
                d,
            )

    recurse(0, [], [], np.zeros((n, 0)), np.zeros((n, 0)), 0, 1.0, np.ones(n), -1)
    return phi


def _pattern_keys(decisions: np.ndarray) -> np.ndarray:
    """One sortable key per row of a boolean matrix (uint64 up to 64 columns, else bytes)."""
    packed = np.packbits(decisions, axis=1)
    if packed.shape[1] <= 8:
        wide = np.zeros((len(packed), 8), dtype=np.uint8)
        wide[:, : packed.shape[1]] = packed
        return wide.view(np.uint64).ravel()
    packed = np.ascontiguousarray(packed)
    return packed.view(np.dtype((np.void, packed.shape[1]))).ravel()


class _BoostContributions:
    """Exact TreeSHAP of a :class:`~snr_models.churn.ChurnBoost`, fast on many rows.

    In path-dependent TreeSHAP a row enters a tree's values only through the side it takes
    at each split, so rows with the same decisions in a tree share its SHAP values. Each
    tree's values are computed once per distinct decision pattern, for all new patterns
    of a chunk at once (:func:`_tree_shap_rows`), and cached across chunks; the per-row
    values are then gathered. The result equals :meth:`ChurnBoost.shap_values`.
    """

    def __init__(self, model: Any, max_cache: int = 50_000) -> None:
        self.model = model
        self.max_cache = max_cache
        self.trees = [p[0].nodes for p in model.model_._predictors]
        self.caches: list[dict[Any, np.ndarray]] = [{} for _ in self.trees]
        sources = list(model.design_sources_)
        self.features = [*model.numeric_features_, *model.categorical_features_]
        index = {f: i for i, f in enumerate(self.features)}
        self.group = np.zeros((len(sources), len(self.features)))
        for j, s in enumerate(sources):
            if s in index:
                self.group[j, index[s]] = 1.0

    def __call__(self, X: pd.DataFrame) -> pd.DataFrame:
        frame = self.model._prepare_predict(X)
        Z = self.model._design(frame)
        n, d = Z.shape
        phi = np.zeros((n, d))
        for nodes, cache in zip(self.trees, self.caches, strict=True):
            inner = np.flatnonzero(~nodes["is_leaf"].astype(bool))
            cols = nodes["feature_idx"][inner]
            used = np.unique(cols)
            values = Z[:, cols]
            left = np.where(
                np.isnan(values),
                nodes["missing_go_to_left"][inner].astype(bool),
                values <= nodes["num_threshold"][inner],
            )
            uniq, first, inverse = np.unique(
                _pattern_keys(left), return_index=True, return_inverse=True
            )
            uniq_keys = uniq.tolist()
            new = [u for u, key in enumerate(uniq_keys) if key not in cache]
            if len(cache) + len(new) > self.max_cache:
                cache.clear()  # bounded memory: start the cache afresh
                new = list(range(len(uniq_keys)))
            if new:
                fresh = _tree_shap_rows(nodes, Z[first[new]], d)[:, used]
                for row, u in enumerate(new):
                    cache[uniq_keys[u]] = fresh[row]
            table = np.stack([cache[key] for key in uniq_keys])
            phi[:, used] += table[inverse.ravel()]
        return pd.DataFrame(phi @ self.group, columns=self.features, index=X.index)


def _contributions(model: Any, X: pd.DataFrame, explainer: Any) -> pd.DataFrame:
    if explainer is not None:
        return explainer(X)
    from snr_models.churn import explain

    contrib, _ = explain(model, X)
    return contrib


def reason_frame(contributions: pd.DataFrame, X: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """The ``n`` largest risk-raising contributions of each row, in the team's words.

    Like :func:`snr_models.churn.top_reasons` (same sentences, same order, only positive
    contributions count), vectorised over rows.

    Examples
    --------
    >>> X = pd.DataFrame({"forced_liquidations_3m": [2.0, 0.0], "tenure_months": [5.0, 9.0]})
    >>> c = pd.DataFrame({"forced_liquidations_3m": [0.8, -0.1], "tenure_months": [0.1, -0.2]})
    >>> reason_frame(c, X, n=2)["reason_1"].tolist()
    ['2 forced liquidations in the last 3 months', None]
    """
    from snr_models.churn import describe

    values = contributions.to_numpy(dtype=float)
    names = np.asarray(contributions.columns)
    order = np.argsort(-values, axis=1, kind="stable")[:, :n]
    out: dict[str, list] = {}
    cache: dict[tuple[str, Any], str] = {}
    rows = np.arange(len(values))
    for j in range(n):
        if j >= values.shape[1]:
            out[f"reason_{j + 1}"] = [None] * len(values)
            continue
        k = order[:, j]
        positive = values[rows, k] > 0
        reasons: list[str | None] = [None] * len(values)
        for f in np.unique(k[positive]):
            feat = str(names[f])
            idx = np.flatnonzero(positive & (k == f))
            column = X[feat].to_numpy()
            for i in idx:
                value = column[i]
                key = (feat, "nan" if pd.isna(value) else value)
                text = cache.get(key)
                if text is None:
                    text = describe(feat, float(value) if _is_number(value) else value)
                    cache[key] = text
                reasons[i] = text
        out[f"reason_{j + 1}"] = reasons
    return pd.DataFrame(out, index=X.index, dtype=object)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating | bool | np.bool_)


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """The dtypes :func:`~snr_models.features.build_features` returns (str ids, us dates)."""
    updates = {
        c: frame[c].astype("str")
        for c in ("client_id", "branch_id", *CATEGORICAL_FEATURES)
        if c in frame.columns and not pd.api.types.is_string_dtype(frame[c])
    }
    if "as_of" in frame.columns and frame["as_of"].dtype != "datetime64[us]":
        updates["as_of"] = frame["as_of"].astype("datetime64[us]")
    return frame.assign(**updates) if updates else frame


def score_frame(
    loaded: Any,
    frame: pd.DataFrame,
    *,
    fill: list[str] | None = None,
    explainer: Any = None,
    reasons: bool = True,
) -> pd.DataFrame:
    """Score one chunk of features (everything but the risk decile).

    Parameters
    ----------
    loaded : LoadedChurnModel
        From :func:`snr_models.tracking.models.load_registered_model`.
    frame : DataFrame
        Features of :func:`~snr_models.features.build_features` (one as-of month).
    fill : list of str, optional
        Exposure columns to score as 0 (from :func:`check_signature`).
    explainer : callable, optional
        Reused between chunks (caches the boosting model's per-tree values).
    reasons : bool, default True
        Compute ``reason_1..3`` (else they are empty).

    Returns
    -------
    DataFrame
        The output columns but ``risk_decile``.
    """
    from snr_models.tracking.models import model_columns

    model = loaded.estimator
    frame = _normalise(frame)
    if fill:
        frame = frame.assign(**{c: 0.0 for c in fill})
    X = frame[model_columns(model)]
    p = model.predict_proba(X)[:, 1]
    out = pd.DataFrame(
        {
            "client_id": frame["client_id"].to_numpy(),
            "branch_id": frame["branch_id"].to_numpy(),
            "as_of": frame["as_of"].to_numpy(),
            "churn_probability": p,
            "expected_months_to_exit": expected_months_to_exit(model, X, p, loaded.horizon),
        },
        index=frame.index,
    )
    if reasons and len(X):
        text = reason_frame(_contributions(model, X, explainer), X, n=3)
    else:
        text = pd.DataFrame(
            {f"reason_{j}": [None] * len(X) for j in (1, 2, 3)}, index=X.index, dtype=object
        )
    out = pd.concat([out, text], axis=1)
    out["model_version"] = str(loaded.version)
    return out.reset_index(drop=True)


def call_list(loaded: Any, features: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The top of the call list: the ``n`` clients most at risk, scored as ``snr score`` does.

    Every client of ``features`` is scored (probabilities and risk deciles over all of
    them); the three reasons are computed for the top ``n`` only.

    Parameters
    ----------
    loaded : LoadedChurnModel
        From :func:`snr_models.tracking.models.load_registered_model`.
    features : DataFrame
        One as-of month of :func:`~snr_models.features.build_features`.
    n : int, default 20
        Clients returned, highest probability first.

    Returns
    -------
    DataFrame
        :data:`OUTPUT_COLUMNS` for the top ``n`` clients (with identifiers: pseudonymise
        before showing them).
    """
    fill = check_signature(_normalise(features), loaded.inputs) if loaded.inputs else []
    scored = score_frame(loaded, features, fill=fill, reasons=False)
    scored["risk_decile"] = risk_deciles(scored["churn_probability"].to_numpy())
    top = scored.nlargest(n, "churn_probability", keep="first").index
    explained = score_frame(
        loaded,
        features.iloc[top],
        fill=fill,
        explainer=_make_explainer(loaded.estimator),
        reasons=True,
    )
    explained["risk_decile"] = scored.loc[top, "risk_decile"].to_numpy()
    return explained[list(OUTPUT_COLUMNS)]


def _make_explainer(model: Any) -> Any:
    from snr_models.churn import ChurnBoost

    return _BoostContributions(model) if isinstance(model, ChurnBoost) else None


@dataclass(frozen=True)
class ScoreResult:
    """What :func:`score` wrote."""

    output: Path
    n_clients: int
    as_of: pd.Timestamp
    model_version: str = ""


def _chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    # one row group at a time: ``iter_batches`` reads ahead and holds ~1 GB per million rows
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    for file in files:
        handle = pq.ParquetFile(file)
        for group in range(handle.num_row_groups):
            table = handle.read_row_group(group)
            for start in range(0, table.num_rows, chunk_size):
                yield table.slice(start, chunk_size).to_pandas()
            del table


_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("branch_id", pa.string()),
        ("as_of", pa.timestamp("us")),
        ("churn_probability", pa.float64()),
        ("risk_decile", pa.int8()),
        ("expected_months_to_exit", pa.float64()),
        ("reason_1", pa.string()),
        ("reason_2", pa.string()),
        ("reason_3", pa.string()),
        ("model_version", pa.string()),
    ]
)


def write_scored(parts: Iterator[pd.DataFrame], output: Path, staging: Path | None = None) -> int:
    """Write scored chunks to ``output`` atomically, adding the risk decile (two passes).

    The chunks go to a temporary file first (in ``staging``, default: a
    :func:`~snr_models.data.atomic.staging_dir` of its own); the deciles need every
    probability (8 bytes a client), then the file is rewritten row group by row group with
    ``risk_decile``.

    Returns
    -------
    int
        Rows written.
    """
    output = Path(output)
    with contextlib.ExitStack() as stack:
        stage = Path(staging) if staging else stack.enter_context(staging_dir(output))
        staged = stage / "scored.parquet"
        writer = None
        schema = _SCHEMA.remove(_SCHEMA.get_field_index("risk_decile"))
        for part in parts:
            table = pa.Table.from_pandas(
                part[[f.name for f in schema]], schema=schema, preserve_index=False
            )
            if writer is None:
                writer = pq.ParquetWriter(staged, schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
        return write_with_deciles([staged] if writer is not None else [], output, stage)


def write_with_deciles(staged: list[Path], output: Path, staging: Path | None = None) -> int:
    """Combine staged scored Parquet files into ``output`` atomically, adding the decile.

    The second pass of :func:`write_scored`, shared with the Spark engine: the risk deciles
    are cut on every probability of the run (:func:`risk_deciles`; 8 bytes a client), then
    the files are copied row group by row group, in the given order, with ``risk_decile``
    added and the columns cast to the output schema.

    Parameters
    ----------
    staged : list of Path
        Parquet files with every output column but ``risk_decile``.
    output : Path
        The final ``.parquet`` file (an existing one is replaced only on success).
    staging : Path, optional
        The run's staging folder, where the output is assembled before its rename.

    Returns
    -------
    int
        Rows written.
    """
    schema = _SCHEMA.remove(_SCHEMA.get_field_index("risk_decile"))
    probs = [
        pq.read_table(file, columns=["churn_probability"])["churn_probability"].to_numpy()
        for file in staged
    ]
    p = np.concatenate(probs) if probs else np.zeros(0)
    deciles = risk_deciles(p)
    with atomic_path(output, staging=staging) as final:
        out = pq.ParquetWriter(final, _SCHEMA)
        start = 0
        for file in staged:
            handle = pq.ParquetFile(file)
            for g in range(handle.num_row_groups):
                table = handle.read_row_group(g).select(schema.names).cast(schema)
                stop = start + table.num_rows
                table = table.add_column(
                    _SCHEMA.get_field_index("risk_decile"),
                    _SCHEMA.field("risk_decile"),
                    pa.array(deciles[start:stop], type=pa.int8()),
                )
                out.write_table(table)
                start = stop
        out.close()
    return len(p)


def score(
    model_uri: str,
    data: str | Path | Tables,
    as_of: str,
    output: str | Path,
    *,
    chunk_size: int = 100_000,
    reasons: bool = True,
    memory_limit: str | None = "2GB",
) -> ScoreResult:
    """Score every client open at the end of ``as_of`` and write the call list (Parquet).

    Parameters
    ----------
    model_uri : str
        A registry URI, e.g. ``models:/snr-churn@champion``.
    data : str, Path or Tables
        A Parquet folder (features stream from disk), a DuckDB file, or tables.
    as_of : str
        ``YYYY-MM``.
    output : str or Path
        A ``.parquet`` file, written atomically.
    chunk_size : int, default 100_000
        Clients scored at a time.
    reasons : bool, default True
        Compute the three reasons per client.
    memory_limit : str, optional
        DuckDB's memory limit for the feature build.

    Raises
    ------
    SnrInputError
        If the output is not ``.parquet``, the as-of month lies outside the data, the model
        cannot be found or fails its checks, or the data do not match its signature.
    """
    from snr_models.tracking.models import load_registered_model

    output = Path(output)
    if output.suffix.lower() != ".parquet":
        raise SnrInputError(f"--output {output}: expected a .parquet file name")
    if chunk_size < 1:
        raise SnrInputError(f"chunk size must be at least 1, got {chunk_size}")
    month = parse_month(as_of)
    loaded = load_registered_model(model_uri)
    with staging_dir(output) as stage:
        features = write_as_of_features(
            data, month, stage / "features.parquet", chunk_size, memory_limit
        )
        n = write_scored(score_chunks(loaded, features, chunk_size, reasons), output, stage)
    logger.info("scored %d clients as of %s with version %s", n, f"{month:%Y-%m}", loaded.version)
    return ScoreResult(output=output, n_clients=n, as_of=month, model_version=str(loaded.version))


def write_as_of_features(
    data: str | Path | Tables,
    month: pd.Timestamp,
    path: Path,
    chunk_size: int = 100_000,
    memory_limit: str | None = "2GB",
) -> Path:
    """Write the as-of month's point-in-time features for scoring to ``path`` (Parquet).

    A Parquet folder is first checked against the data contract in DuckDB
    (:func:`~snr_models.data.contract_sql.validate_parquet`: the messages of ``snr validate``,
    within ``memory_limit``), then streams through DuckDB
    (:func:`~snr_models.features.write_features`, in client buckets; ``path`` may become a
    folder of parts); tables or a DuckDB file are validated when loaded and go through
    :func:`~snr_models.features.build_features`.

    Raises
    ------
    ContractError
        If the data break the contract.

    Returns
    -------
    Path
        The features file or folder.
    """
    from snr_models.data.contract_sql import validate_parquet
    from snr_models.features import write_features

    if isinstance(data, Tables) or not Path(data).is_dir():
        tables = data if isinstance(data, Tables) else _load(data)
        frame = build_features(tables, as_of=month)
        frame.to_parquet(path, index=False)
        return path
    validate_parquet(data, memory_limit=memory_limit)
    return write_features(
        Path(data),
        path,
        as_of=month,
        memory_limit=memory_limit,
        clients_per_chunk=max(chunk_size, 250_000),
    )


def feature_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """A features Parquet file (or folder of parts) in chunks of at most ``chunk_size`` rows.

    Read one row group at a time, with the dtypes of
    :func:`~snr_models.features.build_features` (str ids, microsecond dates).
    """
    for chunk in _chunks(path, chunk_size):
        yield _normalise(chunk)


def signature_fill(loaded: Any, chunk: pd.DataFrame, stacklevel: int = 2) -> list[str]:
    """Check the first chunk of features against the model's signature; warn of fills.

    Returns
    -------
    list of str
        The ``exposure_*`` columns to score as 0 (see :func:`check_signature`).

    Raises
    ------
    SnrInputError
        If the chunk does not match the signature.
    """
    fill = check_signature(chunk, loaded.inputs) if loaded.inputs else []
    if fill:
        message = (
            f"intervention exposure(s) {', '.join(fill)} absent from the data; "
            "scored as 0 (not rolled out)"
        )
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
    return fill


def _load(path: str | Path) -> Tables:
    from snr_models.data.io import load

    return load(path)


def score_chunks(
    loaded: Any, features: Path, chunk_size: int, reasons: bool = True
) -> Iterator[pd.DataFrame]:
    """Score a features Parquet file (or folder of parts) chunk by chunk.

    The first chunk is checked against the model's signature; the boosting explainer's
    per-tree cache is shared by all chunks.

    Yields
    ------
    DataFrame
        Scored chunks (see :func:`score_frame`), ready for :func:`write_scored`.
    """
    explainer = _make_explainer(loaded.estimator) if reasons else None
    fill: list[str] | None = None
    for chunk in feature_chunks(features, chunk_size):
        if fill is None:
            fill = signature_fill(loaded, chunk, stacklevel=3)
        yield score_frame(loaded, chunk, fill=fill, explainer=explainer, reasons=reasons)
