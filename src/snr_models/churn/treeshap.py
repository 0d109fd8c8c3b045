"""Exact path-dependent TreeSHAP (Lundberg et al. 2018, Algorithm 2) for sklearn's HGB trees.

SHAP values are computed on the numeric design columns the trees split on (one-hot columns
for categoricals: never native categorical splits, for which SHAP would be wrong). For each
row, ``expected_value + values.sum() == raw log-odds`` holds up to rounding: the caller checks
it (see :meth:`snr_models.churn.ChurnBoost.shap_values`).

Reference: S. M. Lundberg, G. G. Erion, S.-I. Lee (2018), "Consistent individualized feature
attribution for tree ensembles", arXiv:1802.03888, Algorithm 2; the recursion below follows
the shap package's C++ ``tree_shap_recursive``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TreeExplainer", "tree_expected_value", "tree_shap_rows"]


def tree_expected_value(nodes: np.ndarray) -> float:
    """Cover-weighted mean leaf value of one HGB tree (``TreePredictor.nodes``)."""
    leaves = nodes["is_leaf"].astype(bool)
    counts = nodes["count"][leaves].astype(np.float64)
    return float((nodes["value"][leaves] * counts).sum() / counts.sum())


def tree_shap_rows(nodes: np.ndarray, Z: np.ndarray, n_columns: int) -> np.ndarray:
    """Exact path-dependent TreeSHAP of one HGB tree for many rows at once.

    The recursion of Algorithm 2 (Lundberg et al. 2018) visits every node whatever the row:
    only the "one fractions" (which child the row takes) differ between rows. Here they, and
    the path weights, are arrays over rows, so one recursion serves all rows.

    Parameters
    ----------
    nodes : structured ndarray
        ``TreePredictor.nodes`` of a fitted HistGradientBoosting model (numeric splits only).
    Z : ndarray, shape (n_rows, n_columns)
        Rows of the design matrix (NaN follows ``missing_go_to_left``).
    n_columns : int
        Design columns.

    Returns
    -------
    ndarray, shape (len(Z), n_columns)

    Examples
    --------
    >>> from sklearn.ensemble import HistGradientBoostingRegressor
    >>> X = np.random.default_rng(0).random((200, 3)); y = X[:, 0] + X[:, 1] * X[:, 2]
    >>> m = HistGradientBoostingRegressor(max_iter=1).fit(X, y)
    >>> nodes = m._predictors[0][0].nodes
    >>> phi = tree_shap_rows(nodes, X[:2], 3)
    >>> raw = m.predict(X[:2]) - m._baseline_prediction.ravel()[0]
    >>> bool(np.allclose(phi.sum(axis=1) + tree_expected_value(nodes), raw))
    True
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


class TreeExplainer:
    """Exact TreeSHAP of a tree ensemble on design rows, fast on many rows.

    In path-dependent TreeSHAP a row enters a tree's values only through the side it takes
    at each split, so rows with the same decisions in a tree share its SHAP values. Each
    tree's values are computed once per distinct decision pattern, for all new patterns
    of a call at once (:func:`tree_shap_rows`), and cached across calls (at most
    ``max_cache`` patterns per tree); the per-row values are then gathered.

    Parameters
    ----------
    trees : list of structured ndarray
        Each tree's ``TreePredictor.nodes``.
    max_cache : int, default 50_000
        Decision patterns kept per tree between calls (0: no cache).
    """

    def __init__(self, trees: list[np.ndarray], max_cache: int = 50_000) -> None:
        self.trees = trees
        self.max_cache = max_cache
        self.caches: list[dict[Any, np.ndarray]] = [{} for _ in self.trees]

    def expected_value(self) -> float:
        """The sum of the trees' cover-weighted mean leaf values."""
        return sum(tree_expected_value(t) for t in self.trees)

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """SHAP values of the design rows ``Z``, shape ``Z.shape``."""
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
                fresh = tree_shap_rows(nodes, Z[first[new]], d)[:, used]
                for row, u in enumerate(new):
                    cache[uniq_keys[u]] = fresh[row]
            table = np.stack([cache[key] for key in uniq_keys])
            if self.max_cache == 0:
                cache.clear()
            phi[:, used] += table[inverse.ravel()]
        return phi
