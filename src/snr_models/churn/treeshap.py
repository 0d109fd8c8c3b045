"""Exact path-dependent TreeSHAP (Lundberg et al. 2018, Algorithm 2) for sklearn's HGB trees.

SHAP values are computed on the numeric design columns the trees split on (one-hot columns
for categoricals: never native categorical splits, for which SHAP would be wrong). For each
row, ``expected_value + values.sum() == raw log-odds`` holds up to rounding: the caller checks
it (see :meth:`snr_models.churn.ChurnBoost.shap_values`).

Algorithm 2 sums, over the leaves, what each leaf adds to each feature on its path. That
depends on the row only through the path's "one fractions": per feature on the path, 1 if the
row takes every split on it towards the leaf, else 0. So each leaf's additions are tabulated
once for all ``2 ** k`` combinations of its ``k`` path features (the EXTEND / UNWOUND-SUM
polynomial of Algorithm 2, vectorised over the combinations), and a row's values are table
look-ups ("Fast TreeSHAP v2", Yang 2021).

References: S. M. Lundberg, G. G. Erion, S.-I. Lee (2018), "Consistent individualized feature
attribution for tree ensembles", arXiv:1802.03888, Algorithm 2 (the arithmetic below follows
the shap package's C++ ``extend_path`` / ``unwound_path_sum``); J. Yang (2021), "Fast
TreeSHAP: Accelerating SHAP value computation for trees", arXiv:2109.09847.
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


#: Leaves with more path features than this are not tabulated (2 ** k rows) but evaluated
#: on the patterns met (the same arithmetic, on their one fractions).
MAX_TABULATED = 12


def _leaf_values(zero: np.ndarray, value: np.ndarray, one: np.ndarray) -> np.ndarray:
    """What leaves add to each of their ``k`` path features, for given one fractions.

    Parameters
    ----------
    zero : ndarray, shape (leaves, k)
        Per leaf and path feature, the share of training rows (cover) that follow the path at
        the splits on that feature.
    value : ndarray, shape (leaves,)
        The leaves' values.
    one : ndarray, shape (combinations, k)
        One fractions (1: the row takes every split on the feature towards the leaf).

    Returns
    -------
    ndarray, shape (leaves, combinations, k)
    """
    n_leaves, k = zero.shape
    # EXTEND: the path weights after the root's dummy element and each path feature
    pw = np.zeros((n_leaves, len(one), k + 1))
    pw[..., 0] = 1.0
    for depth in range(1, k + 1):
        pz, po = zero[:, depth - 1, None], one[None, :, depth - 1]
        for i in range(depth - 1, -1, -1):
            pw[..., i + 1] += po * pw[..., i] * (i + 1) / (depth + 1)
            pw[..., i] = pz * pw[..., i] * (depth - i) / (depth + 1)
    # UNWOUND-SUM per path feature, times (one - zero) * leaf value
    table = np.zeros((n_leaves, len(one), k))
    for f in range(k):
        o, z = one[None, :, f], zero[:, f, None]
        nonzero = o != 0
        safe_o = np.where(nonzero, o, 1.0)
        safe_z = np.where(z != 0, z, 1.0)
        nxt = pw[..., k].copy()
        total = np.zeros((n_leaves, len(one)))
        for i in range(k - 1, -1, -1):
            by_one = nxt * (k + 1) / ((i + 1) * safe_o)
            by_zero = np.where(z != 0, (pw[..., i] / safe_z) / ((k - i) / (k + 1)), 0.0)
            total += np.where(nonzero, by_one, by_zero)
            nxt = np.where(nonzero, pw[..., i] - by_one * z * (k - i) / (k + 1), nxt)
        table[..., f] = total * (o - z) * value[:, None]
    return table


def _combinations(k: int) -> np.ndarray:
    """Every one-fraction combination of ``k`` path features: row ``c`` is ``(c >> i) & 1``."""
    return (np.arange(2**k)[:, None] >> np.arange(k) & 1).astype(np.float64)


def _tabulate(leaves: list[_Leaf]) -> None:
    """Fill the tables of ``leaves`` (up to :data:`MAX_TABULATED` path features), by size."""
    by_size: dict[int, list[_Leaf]] = {}
    for leaf in leaves:
        if len(leaf.zero) <= MAX_TABULATED:
            by_size.setdefault(len(leaf.zero), []).append(leaf)
    for k, group in by_size.items():
        zero = np.array([leaf.zero for leaf in group]).reshape(len(group), k)
        value = np.array([leaf.value for leaf in group])
        for leaf, table in zip(group, _leaf_values(zero, value, _combinations(k)), strict=True):
            leaf.table = table


class _Leaf:
    """A leaf: its path features (positions in the tree's ``used``), for each the splits on it
    (split position, goes left), their zero fractions, its value and its table."""

    def __init__(
        self, features: dict[int, list[tuple[int, bool]]], zero: list[float], value: float
    ):
        self.features = np.array(list(features), dtype=np.intp)
        self.splits = list(features.values())
        self.zero = np.array(zero)
        self.value = value
        self.table: np.ndarray | None = None

    def add_to(self, phi: np.ndarray, left: np.ndarray) -> None:
        """Add this leaf's values for the decision patterns ``left`` (splits, rows) to ``phi``."""
        follows = np.ones((left.shape[1], len(self.splits)), dtype=bool)
        for i, on_feature in enumerate(self.splits):
            for j, went_left in on_feature:
                follows[:, i] &= left[j] if went_left else ~left[j]
        if self.table is not None:
            combination = follows.astype(np.intp) @ (1 << np.arange(len(self.splits)))
            phi[:, self.features] += self.table[combination]
        else:  # too many path features to tabulate: these patterns only
            one = follows.astype(np.float64)
            phi[:, self.features] += _leaf_values(self.zero[None], np.array([self.value]), one)[0]


class _Tree:
    """One HGB tree: its splits, per-leaf tables, and its SHAP values per decision pattern met."""

    def __init__(self, nodes: np.ndarray) -> None:
        self.nodes = nodes
        leaf = nodes["is_leaf"].astype(bool)
        inner = np.flatnonzero(~leaf)
        self.columns = nodes["feature_idx"][inner].astype(np.intp)
        self.thresholds = nodes["num_threshold"][inner]
        self.missing_left = nodes["missing_go_to_left"][inner].astype(bool)
        self.used = np.unique(self.columns)
        position = {int(node): j for j, node in enumerate(inner)}
        counts = nodes["count"].astype(np.float64)
        self.leaves: list[_Leaf] = []
        stack: list[tuple[int, list[tuple[int, int, bool]]]] = [(0, [])]
        while stack:
            node, path = stack.pop()
            if leaf[node]:
                features: dict[int, list[tuple[int, bool]]] = {}
                zero: dict[int, float] = {}
                for parent, child, went_left in path:
                    f = int(np.searchsorted(self.used, nodes["feature_idx"][parent]))
                    features.setdefault(f, []).append((position[parent], went_left))
                    zero[f] = zero.get(f, 1.0) * counts[child] / counts[parent]
                self.leaves.append(
                    _Leaf(features, list(zero.values()), float(nodes["value"][node]))
                )
                continue
            for child, went_left in ((nodes["left"][node], True), (nodes["right"][node], False)):
                stack.append((int(child), [*path, (node, int(child), went_left)]))
        self.clear()

    def decisions(self, Zt: np.ndarray, nan: np.ndarray) -> np.ndarray:
        """Whether each row (column of ``Zt``) goes left at each split, shape (splits, rows)."""
        left = Zt[self.columns] <= self.thresholds[:, None]
        left |= nan[self.columns] & self.missing_left[:, None]
        return left

    def shap(self, left: np.ndarray) -> np.ndarray:
        """SHAP values on the ``used`` columns of the decision patterns ``left`` (splits, rows)."""
        phi = np.zeros((left.shape[1], len(self.used)))
        for leaf in self.leaves:
            leaf.add_to(phi, left)
        return phi

    def clear(self) -> None:
        """Forget the decision patterns met."""
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


def _pattern_codes(tree: _Tree, Zt: np.ndarray, nan: np.ndarray) -> tuple[np.ndarray, list]:
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
            np.add(keys, 2.0**j, out=keys, where=left)
        codes, uniq = pd.factorize(keys)
        return codes, uniq.tolist()
    rows = np.ascontiguousarray(np.packbits(tree.decisions(Zt, nan), axis=0).T)
    uniq, codes = np.unique(
        rows.view(np.dtype((np.void, rows.shape[1]))).ravel(), return_inverse=True
    )
    return codes.ravel(), uniq.tolist()


def tree_shap_rows(nodes: np.ndarray, Z: np.ndarray, n_columns: int) -> np.ndarray:
    """Exact path-dependent TreeSHAP of one HGB tree for many rows at once.

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
    tree = _Tree(nodes)
    _tabulate(tree.leaves)
    Zt = np.asarray(Z, dtype=np.float64).T
    phi = np.zeros((len(Z), n_columns))
    phi[:, tree.used] = tree.shap(tree.decisions(Zt, np.isnan(Zt)))
    return phi


class TreeExplainer:
    """Exact TreeSHAP of a tree ensemble on design rows, fast on many rows.

    In path-dependent TreeSHAP a row enters a tree's values only through the side it takes
    at each split, so rows with the same decisions in a tree share its SHAP values. Per tree,
    the rows' decisions are factorised into patterns (one integer key per row, hashed); the
    values of patterns not met before are looked up in the tree's leaf tables (see the module
    docstring) and cached across calls (at most ``max_cache`` patterns per tree); the rows'
    values are then gathered from the cache.

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
        self.caches = [_Tree(nodes) for nodes in trees]
        _tabulate([leaf for tree in self.caches for leaf in tree.leaves])

    def expected_value(self) -> float:
        """The sum of the trees' cover-weighted mean leaf values."""
        return sum(tree_expected_value(t) for t in self.trees)

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """SHAP values of the design rows ``Z``, shape ``Z.shape``."""
        n, d = Z.shape
        Zt = np.asfortranarray(Z, dtype=np.float64).T  # one design column per contiguous row
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
                rows = first[new]
                fresh = tree.shap(tree.decisions(Zt[:, rows], nan[:, rows]))
                slots[new] = tree.add(fresh.T)
                tree.slots.update(zip([keys[u] for u in new], slots[new].tolist(), strict=True))
            rows = slots[codes]
            for column, values in zip(tree.used, tree.table, strict=True):
                phi[column] += values[rows]
            if self.max_cache == 0:
                tree.clear()
        return phi.T
