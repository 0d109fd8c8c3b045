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

import numpy as np

__all__ = ["tree_expected_value", "tree_shap"]


def _extend(feat, zero, one, pw, depth, pz, po, pi):
    feat[depth], zero[depth], one[depth] = pi, pz, po
    pw[depth] = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        pw[i + 1] += po * pw[i] * (i + 1) / (depth + 1)
        pw[i] = pz * pw[i] * (depth - i) / (depth + 1)


def _unwind(feat, zero, one, pw, depth, idx):
    o, z = one[idx], zero[idx]
    nxt = pw[depth]
    for i in range(depth - 1, -1, -1):
        if o != 0:
            tmp = pw[i]
            pw[i] = nxt * (depth + 1) / ((i + 1) * o)
            nxt = tmp - pw[i] * z * (depth - i) / (depth + 1)
        else:
            pw[i] = pw[i] * (depth + 1) / (z * (depth - i))
    for i in range(idx, depth):
        feat[i], zero[i], one[i] = feat[i + 1], zero[i + 1], one[i + 1]


def _unwound_sum(zero, one, pw, depth, idx):
    o, z = one[idx], zero[idx]
    nxt = pw[depth]
    total = 0.0
    for i in range(depth - 1, -1, -1):
        if o != 0:
            tmp = nxt * (depth + 1) / ((i + 1) * o)
            total += tmp
            nxt = pw[i] - tmp * z * (depth - i) / (depth + 1)
        else:
            total += (pw[i] / z) / ((depth - i) / (depth + 1))
    return total


def tree_expected_value(nodes: np.ndarray) -> float:
    """Cover-weighted mean leaf value of one HGB tree (``TreePredictor.nodes``)."""
    leaves = nodes["is_leaf"].astype(bool)
    counts = nodes["count"][leaves].astype(np.float64)
    return float((nodes["value"][leaves] * counts).sum() / counts.sum())


def tree_shap(nodes: np.ndarray, x: np.ndarray, phi: np.ndarray) -> None:
    """Add one tree's SHAP values for the row ``x`` to ``phi`` (in place).

    Parameters
    ----------
    nodes : structured ndarray
        ``TreePredictor.nodes`` of a fitted HistGradientBoosting model (numeric splits only).
    x : ndarray
        One row of the design matrix (NaN follows ``missing_go_to_left``).
    phi : ndarray
        Accumulator, one entry per design column.

    Examples
    --------
    >>> from sklearn.ensemble import HistGradientBoostingRegressor
    >>> X = np.random.default_rng(0).random((200, 3)); y = X[:, 0] + X[:, 1] * X[:, 2]
    >>> m = HistGradientBoostingRegressor(max_iter=1).fit(X, y)
    >>> nodes = m._predictors[0][0].nodes
    >>> phi = np.zeros(3); tree_shap(nodes, X[0], phi)
    >>> raw = m.predict(X[:1])[0] - m._baseline_prediction.ravel()[0]
    >>> bool(np.isclose(phi.sum() + tree_expected_value(nodes), raw))
    True
    """
    max_depth = int(nodes["depth"].max()) + 2
    size = (max_depth + 1) * (max_depth + 2) // 2 + max_depth + 2
    feat = np.full(size * 2, -1, dtype=np.int64)
    zero = np.zeros(size * 2)
    one = np.zeros(size * 2)
    pw = np.zeros(size * 2)
    values = nodes["value"]
    counts = nodes["count"].astype(np.float64)
    features = nodes["feature_idx"]
    thresholds = nodes["num_threshold"]
    left = nodes["left"]
    right = nodes["right"]
    leaf = nodes["is_leaf"].astype(bool)
    missing_left = nodes["missing_go_to_left"].astype(bool)

    def recurse(node, offset, depth, pz, po, pi):
        # copy the parent's path into a fresh slice [offset, offset + depth + 1)
        f = feat[offset : offset + depth + 1]
        z = zero[offset : offset + depth + 1]
        o = one[offset : offset + depth + 1]
        w = pw[offset : offset + depth + 1]
        _extend(f, z, o, w, depth, pz, po, pi)
        if leaf[node]:
            for i in range(1, depth + 1):
                s = _unwound_sum(z, o, w, depth, i)
                phi[f[i]] += s * (o[i] - z[i]) * values[node]
            return
        d = features[node]
        v = x[d]
        goes_left = missing_left[node] if np.isnan(v) else v <= thresholds[node]
        hot, cold = (left[node], right[node]) if goes_left else (right[node], left[node])
        iz, io = 1.0, 1.0
        k = 0
        while k <= depth and f[k] != d:
            k += 1
        if k <= depth:
            iz, io = z[k], o[k]
            _unwind(f, z, o, w, depth, k)
            depth -= 1
        nxt = offset + depth + 1 + 1
        for target, frac, one_frac in (
            (hot, counts[hot] / counts[node], io),
            (cold, counts[cold] / counts[node], 0.0),
        ):
            n = depth + 1
            feat[nxt : nxt + n] = f[:n]
            zero[nxt : nxt + n] = z[:n]
            one[nxt : nxt + n] = o[:n]
            pw[nxt : nxt + n] = w[:n]
            recurse(target, nxt, depth + 1, frac * iz, one_frac, d)

    recurse(0, 0, 0, 1.0, 1.0, -1)
