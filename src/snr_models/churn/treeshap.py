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

    def add_to(self, phi: np.ndarray, follows: np.ndarray) -> None:
        """Add this leaf's values to ``phi`` (rows, used) given its ``follows`` (path features,
        rows): whether each row takes every split on the feature towards the leaf."""
        if self.table is not None:
            combination = (1 << np.arange(len(self.splits))) @ follows.astype(np.intp)
            phi[:, self.features] += self.table[combination]
        else:  # too many path features to tabulate: these patterns only
            one = follows.T.astype(np.float64)
            phi[:, self.features] += _leaf_values(self.zero[None], np.array([self.value]), one)[0]


#: Trees with up to this many splits keep their decision patterns in a dense table indexed by
#: the pattern's bits (``2 ** splits`` slots); larger ones hash them.
DENSE_SPLITS = 16
#: Trees with up to this many splits have one integer key per decision pattern; larger ones
#: sort their rows' packed decisions.
KEY_SPLITS = 64


class _Tree:
    """One HGB tree: its splits, per-leaf tables, and its SHAP values per decision pattern met.

    ``groups`` maps each design column to an output column (e.g. one-hot columns to their
    categorical feature): the values of a tree's design columns are summed per output column
    once per pattern, so that rows gather one value per output column the tree uses.
    """

    def __init__(self, nodes: np.ndarray, groups: np.ndarray) -> None:
        self.nodes = nodes
        leaf = nodes["is_leaf"].astype(bool)
        inner = np.flatnonzero(~leaf)
        self.columns = nodes["feature_idx"][inner].astype(np.intp)
        self.thresholds = nodes["num_threshold"][inner]
        self.missing_left = nodes["missing_go_to_left"][inner].astype(bool)
        self.used = np.unique(self.columns)
        self.outputs, self.merge = np.unique(groups[self.used], return_inverse=True)
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
        # every leaf's splits, grouped by leaf and path feature, for :meth:`shap`
        split_of: list[int] = []
        wanted: list[bool] = []
        self.starts: list[int] = []
        self.spans: list[tuple[int, int]] = []
        for leaf_ in self.leaves:
            self.spans.append((len(self.starts), len(self.starts) + len(leaf_.splits)))
            for on_feature in leaf_.splits:
                self.starts.append(len(split_of))
                split_of += [j for j, _ in on_feature]
                wanted += [went_left for _, went_left in on_feature]
        self.split_of = np.array(split_of, dtype=np.intp)
        self.wanted = np.array(wanted, dtype=bool)
        m = len(self.columns)
        sizes = (np.uint16, np.uint32, np.uint64)
        self.key_type = next(
            (t for t in sizes if m <= min(8 * np.dtype(t).itemsize, KEY_SPLITS)), None
        )
        self.dense = m <= DENSE_SPLITS
        self.clear()

    def decisions(self, Zt: np.ndarray, nan: np.ndarray) -> np.ndarray:
        """Whether each row (column of ``Zt``) goes left at each split, shape (splits, rows)."""
        left = Zt[self.columns] <= self.thresholds[:, None]
        left |= nan[self.columns] & self.missing_left[:, None]
        return left

    def shap(self, left: np.ndarray) -> np.ndarray:
        """SHAP values per output column of the decision patterns ``left`` (splits, rows),
        shape (len(outputs), rows)."""
        phi = np.zeros((left.shape[1], len(self.used)))
        if len(self.wanted):
            # per leaf and path feature: the row takes each of its splits the leaf's way
            takes = left[self.split_of] == self.wanted[:, None]
            follows = np.logical_and.reduceat(takes, self.starts, axis=0)
            for leaf, (a, b) in zip(self.leaves, self.spans, strict=True):
                leaf.add_to(phi, follows[a:b])
        if len(self.outputs) == len(self.used):
            return phi.T
        out = np.zeros((len(self.outputs), left.shape[1]))
        for j, o in enumerate(self.merge):
            out[o] += phi[:, j]
        return out

    def patterns(self, Zt: np.ndarray, nan: np.ndarray, has_nan: np.ndarray) -> np.ndarray:
        """Each row's decision pattern: bit ``j`` of its key says it goes left at split ``j``.

        Trees with more than :data:`KEY_SPLITS` splits get codes of their sorted distinct
        patterns instead.
        """
        if self.key_type is None:
            rows = np.ascontiguousarray(np.packbits(self.decisions(Zt, nan), axis=0).T)
            _, codes = np.unique(
                rows.view(np.dtype((np.void, rows.shape[1]))).ravel(), return_inverse=True
            )
            return codes.ravel()
        keys = np.zeros(Zt.shape[1], dtype=self.key_type)
        for j, (column, threshold) in enumerate(zip(self.columns, self.thresholds, strict=True)):
            left = Zt[column] <= threshold
            if self.missing_left[j] and has_nan[column]:
                left |= nan[column]
            # a product and a sum, not ``where=``: masked ufuncs are ten times slower
            keys += left * self.key_type(1 << j)
        return keys

    def slots(self, Zt: np.ndarray, nan: np.ndarray, has_nan: np.ndarray, cap: int) -> np.ndarray:
        """Each row's column in :attr:`table`; the values of patterns not met before are added
        (all patterns are forgotten first when more than ``cap`` would be kept)."""
        keys = self.patterns(Zt, nan, has_nan)
        if self.dense:
            slots = np.take(self.slot_of, keys)  # take: twice as fast as indexing
            missing = np.flatnonzero(slots < 0)
            if not len(missing):
                return slots
            first = np.full(len(self.slot_of), -1, dtype=np.intp)
            first[keys[missing]] = missing  # a row of each new pattern (any: they agree)
            new = np.flatnonzero(first >= 0)
            if self.size + len(new) > max(cap, len(new)):
                self.clear()  # bounded memory: start the cache afresh
                first[keys] = np.arange(len(keys))
                new = np.flatnonzero(first >= 0)
            self.slot_of[new] = self.add(first[new], Zt, nan)
            return np.take(self.slot_of, keys)
        codes, uniq = pd.factorize(keys)
        known = uniq.tolist() if self.key_type is not None else range(len(uniq))
        if self.key_type is None:
            self.clear()  # sorted codes name patterns of this call only
        slot = np.fromiter((self.slot_map.get(k, -1) for k in known), np.intp, len(uniq))
        new = np.flatnonzero(slot < 0)
        if self.size + len(new) > max(cap, len(uniq)):
            self.clear()
            new = np.arange(len(uniq))
        if len(new):
            first = np.empty(len(uniq), dtype=np.intp)
            first[codes] = np.arange(len(codes))
            slot[new] = self.add(first[new], Zt, nan)
            self.slot_map.update(zip([known[u] for u in new], slot[new].tolist(), strict=True))
        return slot[codes]

    def clear(self) -> None:
        """Forget the decision patterns met."""
        self.size = 0
        self.slot_map: dict[Any, int] = {}
        self.slot_of = np.full(2 ** len(self.columns) if self.dense else 0, -1, dtype=np.intp)
        self.table = np.zeros((len(self.outputs), 64))  # one column per pattern, grown by doubling

    def add(self, rows: np.ndarray, Zt: np.ndarray, nan: np.ndarray) -> np.ndarray:
        """Store the values of the patterns of ``rows`` (one row each); return their slots."""
        values = self.shap(self.decisions(Zt[:, rows], nan[:, rows]))
        size, k = self.size, values.shape[1]
        if size + k > self.table.shape[1]:
            grown = np.zeros((len(self.outputs), max(2 * self.table.shape[1], size + k)))
            grown[:, :size] = self.table[:, :size]
            self.table = grown
        self.table[:, size : size + k] = values
        self.size += k
        return np.arange(size, size + k)


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
    Zt = np.asarray(Z, dtype=np.float64).T
    tree = _Tree(nodes, np.arange(Zt.shape[0]))
    _tabulate(tree.leaves)
    phi = np.zeros((len(Z), n_columns))
    phi[:, tree.used] = tree.shap(tree.decisions(Zt, np.isnan(Zt))).T
    return phi


class TreeExplainer:
    """Exact TreeSHAP of a tree ensemble on design rows, fast on many rows.

    In path-dependent TreeSHAP a row enters a tree's values only through the side it takes
    at each split, so rows with the same decisions in a tree share its SHAP values. Per tree,
    each row's decisions make one integer key (bit ``j``: left at split ``j``); the values of
    keys not met before are looked up in the tree's leaf tables (see the module docstring),
    summed per output column and cached across calls (at most ``max_cache`` patterns per
    tree; a tree of up to :data:`DENSE_SPLITS` splits finds its patterns in a table indexed
    by the key, a larger one hashes the keys); each row then gathers one value per output
    column the tree uses.

    Parameters
    ----------
    trees : list of structured ndarray
        Each tree's ``TreePredictor.nodes``.
    max_cache : int, default 50_000
        Decision patterns kept per tree between calls (0: no cache).
    groups : array of int, optional
        The output column of each design column (e.g. one-hot columns to their feature):
        values are summed per output column. Default: one output column per design column.
    """

    def __init__(
        self, trees: list[np.ndarray], max_cache: int = 50_000, groups: np.ndarray | None = None
    ) -> None:
        self.trees = trees
        self.max_cache = max_cache
        width = 1 + max((int(t["feature_idx"].max()) for t in trees), default=-1)
        self.groups = np.arange(width) if groups is None else np.asarray(groups, dtype=np.intp)
        self.width = None if groups is None else int(self.groups.max(initial=-1)) + 1
        self.caches = [_Tree(nodes, self.groups) for nodes in trees]
        _tabulate([leaf for tree in self.caches for leaf in tree.leaves])

    def expected_value(self) -> float:
        """The sum of the trees' cover-weighted mean leaf values."""
        return sum(tree_expected_value(t) for t in self.trees)

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        """SHAP values of the design rows ``Z``: shape ``Z.shape`` without ``groups``, else
        ``(len(Z), max(groups) + 1)``."""
        n, d = Z.shape
        width = self.width or d
        Zt = np.asfortranarray(Z, dtype=np.float64).T  # one design column per contiguous row
        nan = np.isnan(Zt)
        has_nan = nan.any(axis=1)
        phi = np.zeros((width, n))
        for tree in self.caches:
            slots = tree.slots(Zt, nan, has_nan, self.max_cache)
            for column, values in zip(tree.outputs, tree.table, strict=True):
                np.add(phi[column], values.take(slots), out=phi[column])
            if self.max_cache == 0:
                tree.clear()
        return phi.T
