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
import pandas as pd

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


def _pattern_codes(tree: _TreeCache, Zt: np.ndarray, nan: np.ndarray) -> tuple[np.ndarray, list]:
    """Each row's decision pattern in ``tree``, factorised: codes and the distinct keys.

    Up to 52 splits, a row's decisions are the bits of one integer (summed exactly in
    float64) and a hash table factorises the keys in one pass (:func:`pandas.factorize`);
    more splits fall back to sorting the rows' packed bits.
    """
    n, m = Zt.shape[1], len(tree.columns)
    if m <= 52:
        keys = np.zeros(n)
        for j, (column, threshold) in enumerate(zip(tree.columns, tree.thresholds, strict=True)):
            left = Zt[column] <= threshold
            if tree.missing_left[j]:
                left |= nan[column]
            keys += left * 2.0**j
        codes, uniq = pd.factorize(keys.astype(np.int64))
        return codes, uniq.tolist()
    left = Zt[tree.columns] <= tree.thresholds[:, None]
    left |= nan[tree.columns] & tree.missing_left[:, None]
    rows = np.ascontiguousarray(np.packbits(left, axis=0).T)
    uniq, codes = np.unique(
        rows.view(np.dtype((np.void, rows.shape[1]))).ravel(), return_inverse=True
    )
    return codes.ravel(), uniq.tolist()


class _TreeCache:
    """One tree's splits and its SHAP values per decision pattern met so far."""

    def __init__(self, nodes: np.ndarray) -> None:
        self.nodes = nodes
        inner = np.flatnonzero(~nodes["is_leaf"].astype(bool))
        self.columns = nodes["feature_idx"][inner].astype(np.intp)
        self.thresholds = nodes["num_threshold"][inner]
        self.missing_left = nodes["missing_go_to_left"][inner].astype(bool)
        self.used = np.unique(self.columns)
        self.clear()

    def clear(self) -> None:
        self.slots: dict[Any, int] = {}
        self.table = np.zeros((len(self.used), 64))  # one column per pattern, grown by doubling

    def add(self, values: np.ndarray) -> np.ndarray:
        """Store the columns of ``values`` (shape (len(used), k)); return their slots."""
        size, k = len(self.slots), values.shape[1]
        if size + k > self.table.shape[1]:
            grown = np.zeros((len(self.used), max(2 * self.table.shape[1], size + k)))
            grown[:, :size] = self.table[:, :size]
            self.table = grown
        self.table[:, size : size + k] = values
        return np.arange(size, size + k)


class TreeExplainer:
    """Exact TreeSHAP of a tree ensemble on design rows, fast on many rows.

    In path-dependent TreeSHAP a row enters a tree's values only through the side it takes
    at each split, so rows with the same decisions in a tree share its SHAP values. Per tree,
    the rows' decisions are factorised into patterns (one ``uint64`` key per row, hashed); the
    values of patterns not met before are computed for all of them at once
    (:func:`tree_shap_rows`, the exact recursion) and cached across calls (at most
    ``max_cache`` patterns per tree); the rows' values are then gathered from the cache.

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
        self.caches = [_TreeCache(nodes) for nodes in trees]

    def expected_value(self) -> float:
        """The sum of the trees' cover-weighted mean leaf values."""
        return sum(tree_expected_value(t) for t in self.trees)

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """SHAP values of the design rows ``Z``, shape ``Z.shape``."""
        n, d = Z.shape
        Zt = np.asfortranarray(Z).T  # one design column per contiguous row
        nan = np.isnan(Zt)
        phi = np.zeros((d, n))
        for tree in self.caches:
            codes, keys = _pattern_codes(tree, Zt, nan)
            slots = np.fromiter((tree.slots.get(k, -1) for k in keys), np.intp, len(keys))
            new = np.flatnonzero(slots < 0)
            if len(tree.slots) + len(new) > max(self.max_cache, len(keys)):
                tree.clear()  # bounded memory: start the cache afresh
                new = np.arange(len(keys))
            if len(new):
                first = np.empty(len(keys), dtype=np.intp)
                first[codes] = np.arange(n)  # a row of each pattern (any: they agree)
                fresh = tree_shap_rows(tree.nodes, Z[first[new]], d)[:, tree.used]
                slots[new] = tree.add(fresh.T)
                tree.slots.update(zip([keys[u] for u in new], slots[new].tolist(), strict=True))
            rows = slots[codes]
            for column, values in zip(tree.used, tree.table, strict=True):
                phi[column] += values[rows]
            if self.max_cache == 0:
                tree.clear()
        return phi.T
