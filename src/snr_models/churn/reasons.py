"""Why a client is at risk: global drivers and per-client reasons in the team's language.

- Global: :func:`permutation_importance_frame` (drop in ROC-AUC when a feature is shuffled,
  with an interval over repeats and backtest origins) and :func:`partial_dependence`.
- Per client: :func:`explain` gives additive log-odds contributions per input feature, exact
  for the logistic and hazard models and exact TreeSHAP (additivity checked) for boosting;
  :func:`top_reasons` turns the three largest risk-raising ones into sentences such as
  "2 forced liquidations in the last 3 months" or "rate 1.4 points above market".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

__all__ = [
    "describe",
    "describer",
    "explain",
    "partial_dependence",
    "permutation_importance_frame",
    "plot_importance",
    "plot_partial_dependence",
    "reason_concept",
    "summarise_importance",
    "top_reasons",
]


def permutation_importance_frame(
    estimator,
    X: pd.DataFrame,
    y: object,
    *,
    features: Sequence[str] | None = None,
    n_repeats: int = 5,
    random_state: int | None = 0,
    raw: bool = False,
) -> pd.DataFrame:
    """Permutation importance: the drop in ROC-AUC when one input column is shuffled.

    Parameters
    ----------
    estimator : fitted classifier with ``predict_proba``
    X : DataFrame
    y : array-like
    features : sequence of str, optional
        Columns to permute (default: every column of ``X`` except ``client_id``/``as_of``).
    n_repeats : int, default 5
    raw : bool, default False
        Return one row per (feature, repeat) instead of the summary.

    Returns
    -------
    DataFrame
        ``feature``, ``importance``, ``lo``, ``hi`` (2.5% and 97.5% of repeats), sorted by
        importance; with ``raw``, ``feature``, ``repeat``, ``importance``.

    Examples
    --------
    >>> from snr_models.churn import ChurnLogit
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=800), "b": rng.normal(size=800)})
    >>> y = (rng.random(800) < 1 / (1 + np.exp(-2 * X["a"]))).astype(int)
    >>> imp = permutation_importance_frame(ChurnLogit().fit(X, y), X, y, n_repeats=3)
    >>> imp["feature"].iloc[0]
    'a'
    """
    y = np.asarray(y, dtype=float)
    cols = (
        list(features)
        if features is not None
        else [c for c in X.columns if c not in ("client_id", "branch_id", "as_of")]
    )
    rng = np.random.default_rng(random_state)
    baseline = roc_auc_score(y, estimator.predict_proba(X)[:, 1])
    rows = []
    for col in cols:
        for r in range(n_repeats):
            shuffled = X.assign(**{col: X[col].to_numpy()[rng.permutation(len(X))]})
            score = roc_auc_score(y, estimator.predict_proba(shuffled)[:, 1])
            rows.append({"feature": col, "repeat": r, "importance": baseline - score})
    frame = pd.DataFrame(rows)
    return frame if raw else summarise_importance(frame)


def summarise_importance(raw: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Mean importance per feature with the central ``1 - alpha`` range of its repeats."""
    g = raw.groupby("feature")["importance"]
    lo, hi = g.quantile(alpha / 2), g.quantile(1 - alpha / 2)
    out = pd.DataFrame({"importance": g.mean(), "lo": lo, "hi": hi}).reset_index()
    return out.sort_values("importance", ascending=False, ignore_index=True)


def plot_importance(importance: pd.DataFrame, top: int = 15):
    """Horizontal bar chart of the ``top`` importances with their intervals (a Figure)."""
    import matplotlib.pyplot as plt

    data = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(data) + 1.2))
    err = np.vstack([data["importance"] - data["lo"], data["hi"] - data["importance"]])
    ax.barh(data["feature"], data["importance"], xerr=np.clip(err, 0, None), color="#4c72b0")
    ax.set_xlabel("drop in ROC-AUC when shuffled")
    ax.set_title("Permutation importance")
    fig.tight_layout()
    return fig


def partial_dependence(
    estimator,
    X: pd.DataFrame,
    feature: str,
    *,
    grid_size: int = 20,
    max_rows: int = 2000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Mean predicted churn probability with ``feature`` set to each grid value.

    The grid is the feature's quantiles (numeric) or its levels (categorical).

    Returns
    -------
    DataFrame
        ``value``, ``mean_probability``.

    Examples
    --------
    >>> from snr_models.churn import ChurnLogit
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=500)})
    >>> y = (rng.random(500) < 1 / (1 + np.exp(-2 * X["a"]))).astype(int)
    >>> pd_ = partial_dependence(ChurnLogit().fit(X, y), X, "a", grid_size=5)
    >>> bool(pd_["mean_probability"].is_monotonic_increasing)
    True
    """
    sample = X if len(X) <= max_rows else X.sample(max_rows, random_state=random_state)
    col = sample[feature]
    if pd.api.types.is_numeric_dtype(col):
        grid = np.unique(np.nanquantile(col.to_numpy(dtype=float), np.linspace(0, 1, grid_size)))
    else:
        grid = np.array(sorted(col.dropna().unique()), dtype=object)
    means = [
        float(estimator.predict_proba(sample.assign(**{feature: v}))[:, 1].mean()) for v in grid
    ]
    return pd.DataFrame({"value": grid, "mean_probability": means})


def plot_partial_dependence(estimator, X: pd.DataFrame, features: Sequence[str], **kwargs):
    """Partial dependence plots of several features side by side (a Figure)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(features), figsize=(3.2 * len(features), 3), squeeze=False)
    for ax, feat in zip(axes[0], features, strict=True):
        pdp = partial_dependence(estimator, X, feat, **kwargs)
        if pd.api.types.is_numeric_dtype(pdp["value"]):
            ax.plot(pdp["value"], pdp["mean_probability"], marker=".")
        else:
            ax.bar(pdp["value"].astype(str), pdp["mean_probability"])
        ax.set_title(feat, fontsize=9)
        ax.set_ylabel("mean churn probability")
    fig.tight_layout()
    return fig


def explain(estimator, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Additive log-odds contributions of each input feature, per row of ``X``.

    Exact for :class:`ChurnLogit` and :class:`HazardModel` (of the monthly hazard's
    log-odds); exact TreeSHAP for :class:`ChurnBoost` (of its raw, uncalibrated log-odds; the
    calibration is monotone, so the reasons rank the same). ``base + contributions.sum(axis=1)``
    equals the explained log-odds.

    Returns
    -------
    (DataFrame, float)
        Contributions (index of ``X``, one column per input feature) and the base value.
    """
    from snr_models.churn.boost import ChurnBoost
    from snr_models.churn.hazard import HazardModel
    from snr_models.churn.logit import ChurnLogit

    model = estimator
    if hasattr(model, "steps"):  # a Pipeline ending in one of ours
        *pre, (_, model) = model.steps
        for _, step in pre:
            X = step.transform(X)
    if isinstance(model, ChurnLogit):
        return model.contributions(X)
    if isinstance(model, HazardModel):
        return model.hazard_model_.contributions(X)
    if isinstance(model, ChurnBoost):
        return model.shap_values(X)
    raise TypeError(f"no exact explanation for {type(model).__name__}")


_WINDOW = re.compile(r"^(?P<stem>.+)_(?P<w>\d+)m$")


def _n(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _plural(v: float, word: str, plural: str | None = None) -> str:
    return f"{_n(v)} {word if v == 1 else (plural or word + 's')}"


def _ago(months: float) -> str:
    return "this month" if months == 0 else f"{_plural(months, 'month')} ago"


# Features that say the same thing in different windows or units: a client's reasons name each
# concept once (one reason about the SLA, not three windows of it).
_CONCEPTS = {
    "sla_misses": "sla",
    "median_resolution_hours": "sla",
    "failed_tickets": "failed_tickets",
    "open_tickets": "failed_tickets",
    "forced_liquidations": "forced_liquidation",
    "months_since_forced_liquidation": "forced_liquidation",
    "maintenance_ratio_min": "maintenance_ratio",
    "financing_rate": "pricing",
    "rate_gap_market_pts": "pricing",
    "rate_gap_branch_pts": "pricing",
    "financing_balance": "balance",
    "log_financing_balance": "balance",
    "financing_balance_trend": "balance",
    "logins": "logins",
    "logins_trend": "logins",
    "trades": "trades",
    "trades_trend": "trades",
    "latest_csat": "survey",
    "latest_nps": "survey",
    "months_since_survey": "survey",
    "surveys": "survey",
}


def reason_concept(feature: str) -> str:
    """The concept a feature speaks of: its windows and variants share one.

    Examples
    --------
    >>> features = ("sla_misses_1m", "sla_misses_6m", "median_resolution_hours_3m")
    >>> {reason_concept(f) for f in features}
    {'sla'}
    >>> reason_concept("tickets_complaint_3m"), reason_concept("tenure_months")
    ('tickets_complaint', 'tenure_months')
    """
    m = _WINDOW.match(feature)
    stem = m["stem"] if m else feature
    return _CONCEPTS.get(stem, stem)


def describe(
    feature: str,
    value: object,
    language: str = "en",
    names: Mapping[str, str] | None = None,
) -> str:
    """One feature's value in the team's words, in English (``"en"``) or Chinese (``"zh-CN"``).

    ``names`` gives the words for codes that appear in values and feature names (an
    intervention such as ``ai_assistant``, a channel, a segment); a code without one is
    written with spaces for ``_``.

    Examples
    --------
    >>> describe("sla_misses_3m", 2.0, "zh-CN")
    '近3个月有2张工单超时'
    >>> describe("months_since_forced_liquidation", 0.0, "zh-CN")
    '本月被强制平仓'

    >>> describe("forced_liquidations_3m", 2.0)
    '2 forced liquidations in the last 3 months'
    >>> describe("rate_gap_market_pts", 1.4)
    'rate 1.4 points above market'
    >>> describe("latest_csat", float("nan"))
    'no survey response yet'
    """
    return describer(feature, language, names)(value)


def describer(
    feature: str, language: str = "en", names: Mapping[str, str] | None = None
) -> Callable[[object], str]:
    """:func:`describe` of one feature as a function of the value (the wording chosen once).

    Examples
    --------
    >>> text = describer("sla_misses_3m")
    >>> text(1.0), text(3.0)
    ('1 ticket past SLA in the last 3 months', '3 tickets past SLA in the last 3 months')
    """
    names = names or {}
    if language == "zh-CN":
        missing, numeric = _missing_zh(feature), _numeric_zh(feature, names)
        label = _ZH_NAMES.get(feature, feature.replace("_", " "))

        def word(value: str) -> str:
            return f"{label}：{_word(value, names)}"
    elif language == "en":
        missing, numeric = _missing_en(feature), _numeric_en(feature, names)
        label = feature.replace("_", " ")

        def word(value: str) -> str:
            return f"{label}: {_word(value, names)}"
    else:
        raise ValueError(f"language {language!r}: expected 'en' or 'zh-CN'")

    def text(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return missing
        if isinstance(value, str):
            return word(value)
        return numeric(float(value))

    return text


def _missing_en(feature: str) -> str:
    if feature in ("latest_csat", "latest_nps", "months_since_survey"):
        return "no survey response yet"
    if feature == "months_since_forced_liquidation":
        return "never force-liquidated"
    return f"{feature.replace('_', ' ')} unknown (history too short)"


def _numeric_en(feature: str, names: Mapping[str, str]) -> Callable[[float], str]:
    m = _WINDOW.match(feature)
    if m:
        stem, w = m["stem"], int(m["w"])
        span = "in the last month" if w == 1 else f"in the last {w} months"
        if stem == "forced_liquidations":
            return lambda v: f"{_plural(v, 'forced liquidation')} {span}"
        if stem == "margin_calls":
            return lambda v: f"{_plural(v, 'margin call')} {span}"
        if stem == "sla_misses":
            return lambda v: f"{_plural(v, 'ticket')} past SLA {span}"
        if stem == "failed_tickets":
            return lambda v: f"{_plural(v, 'ticket')} escalated or reopened {span}"
        if stem == "tickets":
            return lambda v: f"{_plural(v, 'ticket')} {span}"
        if stem.startswith("tickets_"):
            cat = stem[len("tickets_") :].replace("_", " ")
            return lambda v: f"{_plural(v, cat + ' ticket')} {span}"
        if stem == "median_resolution_hours":
            return lambda v: f"tickets took {_n(v)} hours to resolve (median, {span[3:]})"
        if stem in ("logins", "trades"):
            return lambda v: f"{_n(v)} {stem} a month {span}"
        if stem == "surveys":
            return lambda v: f"{_plural(v, 'survey response')} {span}"
    if feature in ("rate_gap_market_pts", "rate_gap_branch_pts"):
        ref = "market" if feature.endswith("market_pts") else "the branch average"
        return lambda v: f"rate {abs(v):.1f} points {'above' if v >= 0 else 'below'} {ref}"
    if feature == "financing_rate":
        return lambda v: f"financing rate {v:.2%}"
    if feature == "latest_csat":
        return lambda v: f"last CSAT {_n(v)}/5"
    if feature == "latest_nps":
        return lambda v: f"last NPS score {_n(v)}/10"
    if feature == "months_since_survey":
        return lambda v: f"last survey response {_ago(v)}"
    if feature == "months_since_forced_liquidation":
        return lambda v: f"forced liquidation {_ago(v)}"
    if feature == "dormant":
        return lambda v: "dormant account" if v >= 0.5 else "active account"
    if feature == "tenure_months":
        return lambda v: f"client for {_plural(v, 'month')}"
    if feature == "open_tickets":
        return lambda v: f"{_plural(v, 'open ticket')}"
    if feature in ("maintenance_ratio_min", "maintenance_ratio_min_3m"):
        span = "this month" if feature.endswith("min") else "in 3 months"
        return lambda v: f"maintenance ratio down to {v:.0%} {span}"
    if feature == "financing_balance_trend":
        return lambda v: (
            f"financing balance {'down' if v < 0 else 'up'} {abs(np.expm1(v)):.0%} on 3 months"
        )
    if feature in ("logins_trend", "trades_trend"):
        what = feature.split("_")[0]
        return lambda v: f"{what} {'down' if v < 0 else 'up'} by {abs(v):.1f} a month"
    if feature.startswith("exposure_"):
        name = _word(feature[len("exposure_") :], names)
        return lambda v: (
            f"{name} in place at the branch" if v > 0 else f"no {name} at the branch yet"
        )
    if feature in ("financing_balance", "collateral_value", "short_balance"):
        label = feature.replace("_", " ")
        return lambda v: f"{label} {v:,.0f} RMB"
    if feature == "log_financing_balance":
        return lambda v: f"financing balance {np.expm1(v):,.0f} RMB"
    if feature == "age":
        return lambda v: f"age {_n(v)}"
    label = feature.replace("_", " ")
    return lambda v: f"{label} {_n(v)}"


_ZH_COUNTS = {
    "forced_liquidations": "被强制平仓{n}次",
    "margin_calls": "收到{n}次追保通知",
    "sla_misses": "有{n}张工单超时",
    "failed_tickets": "有{n}张工单升级或重开",
    "tickets": "提交{n}张工单",
    "surveys": "回复{n}次问卷",
}
_ZH_CATEGORIES = {
    "fund_transfer": "资金划转",
    "account_opening": "开户",
    "contract_rollover": "合约展期",
    "credit_line_change": "授信额度调整",
    "margin_call": "追保",
    "complaint": "投诉",
    "app_issue": "APP问题",
    "other": "其他",
}
_ZH_NAMES = {
    "financing_balance": "融资余额",
    "collateral_value": "担保品市值",
    "short_balance": "融券余额",
    "age": "年龄",
    "segment": "客户类型",
    "risk_level": "风险等级",
    "acquisition_channel": "获客渠道",
}


def _word(code: str, names: Mapping[str, str]) -> str:
    return names.get(code, code.replace("_", " "))


def _missing_zh(feature: str) -> str:
    if feature in ("latest_csat", "latest_nps", "months_since_survey"):
        return "尚无问卷回复"
    if feature == "months_since_forced_liquidation":
        return "从未被强制平仓"
    return f"{_ZH_NAMES.get(feature, feature.replace('_', ' '))}未知（历史太短）"


def _numeric_zh(feature: str, names: Mapping[str, str]) -> Callable[[float], str]:
    """The Chinese wording of a numeric value of ``feature``."""
    name = _ZH_NAMES.get(feature, feature.replace("_", " "))
    m = _WINDOW.match(feature)
    if m:
        stem, w = m["stem"], int(m["w"])
        span = "本月" if w == 1 else f"近{w}个月"
        if stem in _ZH_COUNTS:
            count = _ZH_COUNTS[stem]
            return lambda v: span + count.format(n=_n(v))
        if stem.startswith("tickets_"):
            category = stem[len("tickets_") :]
            label = _ZH_CATEGORIES.get(category, category.replace("_", " "))
            return lambda v: f"{span}提交{_n(v)}张{label}类工单"
        if stem == "median_resolution_hours":
            return lambda v: f"{span}工单处理时长中位数{_n(v)}小时"
        if stem in ("logins", "trades"):
            what = "登录" if stem == "logins" else "交易"
            return lambda v: f"{span}月均{what}{_n(v)}次"
    if feature in ("rate_gap_market_pts", "rate_gap_branch_pts"):
        ref = "市场" if feature.endswith("market_pts") else "营业部平均"
        return lambda v: f"利率{'高于' if v >= 0 else '低于'}{ref}{abs(v):.1f}个百分点"
    if feature == "financing_rate":
        return lambda v: f"融资利率{v:.2%}"
    if feature == "latest_csat":
        return lambda v: f"最近一次满意度评分{_n(v)}/5"
    if feature == "latest_nps":
        return lambda v: f"最近一次推荐度评分{_n(v)}/10"
    if feature in ("months_since_survey", "months_since_forced_liquidation"):
        what = "回复问卷" if feature == "months_since_survey" else "被强制平仓"
        return lambda v: f"本月{what}" if v == 0 else f"{_n(v)}个月前{what}"
    if feature == "dormant":
        return lambda v: "账户休眠" if v >= 0.5 else "账户活跃"
    if feature == "tenure_months":
        return lambda v: f"开户{_n(v)}个月"
    if feature == "open_tickets":
        return lambda v: f"{_n(v)}张工单未解决"
    if feature in ("maintenance_ratio_min", "maintenance_ratio_min_3m"):
        span = "本月" if feature.endswith("min") else "近3个月"
        return lambda v: f"{span}维持担保比例最低{v:.0%}"
    if feature == "financing_balance_trend":
        return lambda v: f"融资余额近3个月{'下降' if v < 0 else '上升'}{abs(np.expm1(v)):.0%}"
    if feature in ("logins_trend", "trades_trend"):
        what = "登录" if feature.startswith("logins") else "交易"
        return lambda v: f"月均{what}{'减少' if v < 0 else '增加'}{abs(v):.1f}次"
    if feature.startswith("exposure_"):
        what = _word(feature[len("exposure_") :], names)
        return lambda v: f"营业部已实施{what}" if v > 0 else f"营业部尚未实施{what}"
    if feature in ("financing_balance", "collateral_value", "short_balance"):
        return lambda v: f"{name}{v:,.0f}元"
    if feature == "log_financing_balance":
        return lambda v: f"融资余额{np.expm1(v):,.0f}元"
    return lambda v: f"{name} {_n(v)}"


def top_reasons(
    estimator,
    X: pd.DataFrame,
    n: int = 3,
    *,
    contributions: tuple[pd.DataFrame, float] | None = None,
    language: str = "en",
    names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The ``n`` concepts that raise each client's risk most, in words (:func:`describe`,
    with ``language`` and ``names``).

    Features that speak of one concept (the windows of SLA misses, the rate gaps, ...:
    :func:`reason_concept`) are summed into one contribution and described by the one of them
    that raises the risk most, so a client's reasons are distinct. Only risk-raising (positive)
    contributions count; a client with fewer gets empty cells.

    Returns
    -------
    DataFrame
        Index of ``X`` (with ``client_id`` if ``X`` has it), ``reason_1..n``,
        ``feature_1..n`` (the feature described), ``contribution_1..n`` (the concept's, in
        log-odds).

    Examples
    --------
    >>> from snr_models.churn import ChurnLogit
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"forced_liquidations_3m": rng.poisson(0.3, 800).astype(float),
    ...                   "tenure_months": rng.integers(1, 60, 800).astype(float)})
    >>> y = (rng.random(800) < 0.1 * (1 + 3 * X["forced_liquidations_3m"])).astype(int)
    >>> model = ChurnLogit().fit(X, y)
    >>> x = X[X["forced_liquidations_3m"] == 2].head(1)
    >>> top_reasons(model, x, n=1)["reason_1"].iloc[0]
    '2 forced liquidations in the last 3 months'
    """
    contrib, _ = contributions if contributions is not None else explain(estimator, X)
    values = contrib.to_numpy(dtype=float)
    columns = np.asarray(contrib.columns)
    # contributions are additive: a concept's is the sum of its features'; it is described by
    # its feature that raises the risk most
    concepts = pd.Index([reason_concept(str(f)) for f in columns])
    keys = concepts.unique()
    codes = keys.get_indexer(concepts)
    summed = np.zeros((len(values), len(keys)))
    lead = np.zeros((len(values), len(keys)), dtype=np.intp)
    for c in range(len(keys)):
        cols = np.flatnonzero(codes == c)
        summed[:, c] = values[:, cols].sum(axis=1)
        lead[:, c] = cols[np.argmax(values[:, cols], axis=1)]
    order = np.argsort(-summed, axis=1, kind="stable")[:, :n]
    rows = np.arange(len(values))
    out: dict[str, list] = {}
    if "client_id" in X.columns:
        out["client_id"] = X["client_id"].tolist()
    for j in range(n):
        reasons = np.full(len(values), None, dtype=object)
        feats = np.full(len(values), None, dtype=object)
        vals = np.full(len(values), np.nan)
        if j < summed.shape[1]:
            c = order[:, j]
            k = lead[rows, c]
            # only what raises this client's risk: the concept's sum and the feature named
            positive = (summed[rows, c] > 0) & (values[rows, k] > 0)
            vals[positive] = summed[rows[positive], c[positive]]
            for f in np.unique(k[positive]):
                feat = str(columns[f])
                at = np.flatnonzero(positive & (k == f))
                # each distinct value described once
                codes, distinct = pd.factorize(X[feat].to_numpy()[at], use_na_sentinel=False)
                text = describer(feat, language, names)
                words = np.array([text(value) for value in distinct.tolist()], dtype=object)
                reasons[at], feats[at] = words[codes], feat
        out[f"reason_{j + 1}"] = reasons.tolist()
        out[f"feature_{j + 1}"] = feats.tolist()
        out[f"contribution_{j + 1}"] = vals.tolist()
    return pd.DataFrame(out, index=X.index)
