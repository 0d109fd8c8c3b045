"""What the report says, from the main job's typed results: sections of text, tables, figures.

:func:`build` turns a :class:`snr_models.jobs.results.MainResult` into the plain data the
template renders (strings, rows of formatted cells, PNG data); every number is formatted here,
in the language's words (:class:`~snr_models.report.labels.Labels`), and every interval level
comes from the stage's ``alpha``.

"The change" has one definition: the net-rate stage's decomposition between its two windows
(``netrate.window`` periods at each end), which the attribution's waterfall pools too; the
summary, the headline, the texts, the waterfall and the tables all show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from snr_models.report.figures import encode, relabel
from snr_models.report.labels import Labels, level

__all__ = ["Block", "Section", "build"]


@dataclass
class Block:
    """One block of a section: ``kind`` is ``text``, ``kpis``, ``figure`` or ``table``."""

    kind: str
    text: str = ""
    data: str = ""
    columns: list[tuple[str, bool]] = field(default_factory=list)  # (label, numeric)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Section:
    """A section of the page; ``key`` is its HTML id."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def text(self, text: str) -> Section:
        """A paragraph."""
        self.blocks.append(Block("text", text=text))
        return self

    def figure(self, fig: Any, caption: str, labels: Labels, title: str | None = None) -> None:
        """A figure in ``labels``'s language, titled ``title`` (default: the caption)."""
        data = encode(relabel(fig, labels, title if title is not None else caption))
        self.blocks.append(Block("figure", text=caption, data=data))

    def table(self, caption: str, columns: list[tuple[str, bool]], rows: list[list[str]]) -> None:
        self.blocks.append(Block("table", text=caption, columns=columns, rows=rows))

    def kpis(self, items: dict[str, str]) -> Section:
        """A row of headline figures, ``label -> formatted value``."""
        self.blocks.append(Block("kpis", rows=[[k, v] for k, v in items.items()]))
        return self

    def frame(self, frame: pd.DataFrame, caption: str = "", *, digits: int = 3) -> Section:
        """A table from a DataFrame as it is (column names as headers): numbers right-aligned
        with ``digits`` decimals (integers as integers), missing values blank."""
        columns = [(str(c), pd.api.types.is_numeric_dtype(frame[c])) for c in frame.columns]
        rows = [
            [_cell(v, numeric, digits) for v, (_, numeric) in zip(row, columns, strict=True)]
            for row in frame.itertuples(index=False)
        ]
        self.table(caption, columns, rows)
        return self


def _cell(value: Any, numeric: bool, digits: int) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NA:
        return ""
    if numeric and isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if numeric:
        return Labels._fixed(float(value), digits)
    return str(value)


def _months(window: Any) -> str:
    """``2023-01 – 2023-03`` (or the one month)."""
    months = [f"{pd.Timestamp(m):%Y-%m}" for m in window]
    return months[0] if len(months) == 1 else f"{months[0]} – {months[-1]}"


def build(result: Any, labels: Labels) -> dict[str, Any]:
    """The page's content for one language.

    Parameters
    ----------
    result : snr_models.jobs.results.MainResult
        Every stage's typed result.
    labels : Labels
        The language's words.
    """
    L, nr = labels, result.netrate
    change = nr.change
    w0, w1 = _months(change.start_window), _months(change.end_window)
    latest, conf = nr.latest, level(nr.alpha)
    pct_start = L.text("pct_of_start", value=L.pct(change.total / change.start_value, 1))
    kpis = [
        (L.text("kpi_rate", month=f"{change.end:%Y-%m}"), L.pct(latest["net_rate"])),
        (
            L.text("kpi_interval", level=conf),
            L.text("interval_of", lo=L.pct(latest["net_rate_lo"]), hi=L.pct(latest["net_rate_hi"])),
        ),
        (L.text("kpi_change", w0=w0, w1=w1), L.points(change.total)),
    ]
    sections = [_headline(result, L, w0, w1, pct_start)]
    sections.append(_components(result, L, w0, w1))
    if result.drivers is not None:
        sections.append(_drivers(result, L))
    if result.churn is not None:
        sections.append(_churn(result.churn, L))
    if result.attribution is not None:
        sections.append(_attribution(result.attribution, L))
    if result.forecast is not None:
        sections.append(_forecast(result.forecast, L))
    if getattr(result, "plan", None) is not None:
        sections.append(_plan(result.plan, L))
    sections.append(_provenance(result, L))
    return {
        "lang": L.language,
        "title": L.text("title"),
        "subtitle": L.text("subtitle", month=f"{change.end:%Y-%m}", run=result.run_id),
        "kpis": kpis,
        "summary": _summary(result, L, w0, w1, pct_start),
        "summary_title": L.text("summary"),
        "read_more": L.text("read_more"),
        "sections": sections,
    }


# the executive summary ---------------------------------------------------------------------
def _summary(result: Any, L: Labels, w0: str, w1: str, pct: str) -> list[tuple[str, str]]:
    """Three or four sentences, each with the id of the section it summarises."""
    nr = result.netrate
    latest = nr.latest
    out = [
        (
            L.text(
                "sum_rate",
                month=f"{nr.change.end:%Y-%m}",
                rate=L.pct(latest["net_rate"]),
                level=level(nr.alpha),
                lo=L.pct(latest["net_rate_lo"]),
                hi=L.pct(latest["net_rate_hi"]),
            ),
            "components",
        )
    ]
    moved = L.text("sum_change", w0=w0, w1=w1, change=L.points(nr.change.total), pct=pct)
    if result.attribution is not None:
        wf = result.attribution.waterfall
        steps = wf[(wf["component"] == "net_rate") & ~wf["kind"].isin(["level", "mix"])]
        top = steps.reindex(steps["value"].abs().sort_values(ascending=False).index).head(2)
        items = [
            L.text(
                "sum_moved_item",
                name=L.name(r.step),
                value=L.points(r.value),
                lo=L.points(r.lo, words=False),
                hi=L.points(r.hi, words=False),
            )
            if np.isfinite(r.lo) and np.isfinite(r.hi)
            else f"{L.name(r.step)} {L.points(r.value)}"  # no interval: a world too small
            for r in top.itertuples()
        ]
        moved += L.text("sum_moved", items=L.text("sum_sep").join(items))
    out.append((moved.rstrip(";；") + ("" if moved.endswith(("。", ".")) else "."), "headline"))
    if result.forecast is not None:
        out.append((_forecast_sentence(result.forecast, L), "forecast"))
    churn = result.churn
    if churn is not None and churn.call_list is not None and len(churn.call_list):
        p = churn.call_list["churn_probability"]
        base = churn.metrics.set_index("metric")["value"].get("base_rate", np.nan)
        out.append(
            (
                L.text(
                    "sum_calls",
                    n=len(p),
                    h=churn.horizon,
                    lo=L.pct(p.min()),
                    hi=L.pct(p.max()),
                    lift=L.number(p.mean() / base, 1) if base > 0 else "—",
                ),
                "churn",
            )
        )
    return out


def _forecast_sentence(fc: Any, L: Labels) -> str:
    table = fc.to_frame()
    firm = table[(table["series"] == "firm") & (table["component"] == "net_rate")]
    last = firm[firm["period"] == firm["period"].max()].set_index("scenario")
    base = last.loc["baseline"]
    others = [s for s in last.index if s != "baseline"]
    scenario = "".join(
        L.text(
            "sum_forecast_scenario",
            name=L.name(s, "scenarios"),
            value=L.pct(last.loc[s, "forecast"]),
        )
        for s in others[:1]
    )
    return L.text(
        "sum_forecast",
        month=f"{pd.Timestamp(firm['period'].max()):%Y-%m}",
        value=L.pct(base["forecast"]),
        level=level(fc.params.get("alpha", 0.05)),
        lo=L.pct(base["lo"]),
        hi=L.pct(base["hi"]),
        scenario=scenario,
    )


# sections ----------------------------------------------------------------------------------
def _headline(result: Any, L: Labels, w0: str, w1: str, pct: str) -> Section:
    nr, attribution = result.netrate, result.attribution
    section = Section("headline", L.text("headline"))
    if attribution is None:
        section.figure(nr.figures["change_by_component.png"], L.text("waterfall_caption"), L)
        return section
    tot = attribution.totals
    tot = tot[tot["component"] == "net_rate"].set_index("quantity")
    together, without = tot.loc["programmes_total"], tot.loc["no_programme_change"]
    section.text(
        L.text(
            "change_intro" if np.isfinite(together["lo"]) else "change_intro_no_interval",
            w0=w0,
            w1=w1,
            change=L.points(nr.change.total),
            pct=pct,
            together=L.points(together["value"]),
            tlo=L.points(together["lo"], words=False),
            thi=L.points(together["hi"], words=False),
            without=L.points(without["value"]),
        )
    )
    wf = attribution.waterfall
    rows = wf[wf["component"] == "net_rate"]
    # the assumptions the steps' notes name: additivity where programmes were rarely active
    # together, and a firm-wide programme's effect extrapolated from its pilot
    for marker, key in (
        ("additivity assumed", "additive_note"),
        ("extrapolated from its pilot", "pilot_note"),
    ):
        names = [
            L.name(r.step, "interventions")
            for r in rows.itertuples()
            if isinstance(r.note, str) and marker in r.note
        ]
        if names:
            section.text(L.text(key) + " " + L.text("sum_sep").join(names))
    section.figure(attribution.figures["waterfall.png"], L.text("waterfall_caption"), L)
    a_conf = level(attribution.design["alpha"])
    table = []
    for r in rows.itertuples():
        is_level = r.kind == "level"
        value = L.pct(r.value) if is_level else L.points(r.value, words=False)
        lo = "" if is_level else L.points(r.lo, words=False)
        hi = "" if is_level else L.points(r.hi, words=False)
        table.append([L.name(r.step), value, lo, hi])
    columns = [(L.text("col_step"), False), (L.text("col_contribution"), True)]
    columns += [(L.text("col_lo"), True), (L.text("col_hi"), True)]
    section.table(L.text("change_table", level=a_conf), columns, table)
    return section


def _components(result: Any, L: Labels, w0: str, w1: str) -> Section:
    nr = result.netrate
    section = Section("components", L.text("components"))
    formula = " + ".join(f"{w:g} × {L.name(c)}" for c, w in nr.spec.weights.items())
    section.text(L.text("formula", formula=formula, level=level(nr.alpha)))
    title = L.phrase("Net rate with {level} intervals").format(level=level(nr.alpha))
    section.figure(nr.figures["netrate_trend.png"], L.text("trend_caption"), L, title)
    rows = [
        [
            L.name(r.component),
            L.number(r.weight, 2),
            L.pct(r.start),
            L.pct(r.end),
            L.points(r.change, words=False),
            L.points(r.contribution, words=False),
        ]
        for r in nr.change.by_component.itertuples()
    ]
    columns = [
        (L.text(c), c != "col_component")
        for c in (
            "col_component",
            "col_weight",
            "col_start",
            "col_end",
            "col_change",
            "col_contribution",
        )
    ]
    section.table(L.text("component_table", w0=w0, w1=w1), columns, rows)
    for key, group in nr.groups.items():
        frame = group.frame[group.frame["period"] == group.frame["period"].max()]
        name = " / ".join(L.name(c, "terms") for c in group.columns)
        table = [
            [
                " / ".join(L.name(r[c], "segments") for c in group.columns),
                L.pct(r["net_rate"]),
                L.text("interval_of", lo=L.pct(r["net_rate_lo"]), hi=L.pct(r["net_rate_hi"])),
                L.pct(r["S"]),
                L.pct(r["R"]),
                L.pct(r["E"]),
                f"{int(r['n_open']):,}",
            ]
            for _, r in frame.iterrows()
        ]
        columns = [(name, False), (L.text("col_rate"), True)]
        columns += [(L.text("kpi_interval", level=level(nr.alpha)), True)]
        columns += [(L.name(c), True) for c in ("S", "R", "E")]
        columns += [(L.text("col_open"), True)]
        section.table(L.text("group_table", group=name), columns, table)
        caption = L.text("group_change", group=name)
        section.figure(nr.figures[f"change_by_{key}.png"], caption, L)
    return section


def _drivers(result: Any, L: Labels) -> Section:
    drivers, stage = result.drivers, result.config.drivers
    section = Section("drivers", L.text("drivers"))
    section.text(L.text("drivers_intro", target=L.name(stage.target, "attributes")))
    section.figure(drivers.figures["ipa.png"], L.text("ipa_caption"), L)
    actions = drivers.tables["actions.csv"]
    rows = [
        [
            str(r.rank),
            L.name(r.driver, "attributes"),
            L.name(r.quadrant, "quadrants"),
            L.pct(r.importance),
            L.text("interval_of", lo=L.pct(r.importance_lo), hi=L.pct(r.importance_hi)),
            L.number(r.performance, 2),
            L.name(r.quadrant, "actions"),
        ]
        for r in actions.itertuples()
    ]
    columns = [(L.text("col_rank"), True), (L.text("col_driver"), False)]
    columns += [(L.text("col_quadrant"), False), (L.text("col_importance"), True)]
    columns += [(L.text("kpi_interval", level=level(stage.alpha)), True)]
    columns += [(L.text("col_performance"), True), (L.text("col_action"), False)]
    section.table(L.text("actions_table"), columns, rows)
    caption = L.text("importance_caption", level=level(stage.alpha))
    section.figure(drivers.figures["importance.png"], caption, L)
    return section


def _churn(churn: Any, L: Labels) -> Section:
    section = Section("churn", L.text("churn"))
    conf = level(churn.alpha)
    section.text(L.text("churn_intro", h=churn.horizon, level=conf))
    if churn.model:
        sep = "、" if L.language.startswith("zh") else ", "
        section.text(
            L.text(
                "churn_choice",
                model=L.name(churn.model, "churn_models"),
                candidates=sep.join(L.name(c, "churn_models") for c in churn.candidates),
                nested=L.number(churn.nested_auc, 3),
            )
        )
    metrics = churn.metrics.set_index("metric")
    auc = float(metrics.loc["roc_auc", "value"])
    section.text(
        L.text(
            "auc_words",
            auc=L.number(auc, 2),
            auc_pct=L.pct(auc, 0),
            capture=L.pct(metrics["value"].get("capture_10pct", np.nan), 0),
            lift=L.number(metrics["value"].get("lift_10pct", np.nan), 1),
        )
    )
    rows = [
        [L.name(m, "metrics"), L.number(r.value, 3), L.number(r.lo, 3), L.number(r.hi, 3)]
        for m, r in metrics.iterrows()
    ]
    columns = [(L.text("col_metric"), False), (L.text("col_value"), True)]
    columns += [(L.text("col_lo"), True), (L.text("col_hi"), True)]
    section.table(L.text("metrics_table", level=conf), columns, rows)
    section.figure(churn.figures["churn_lift.png"], L.text("lift_caption"), L)
    section.figure(churn.figures["churn_calibration.png"], L.text("calibration_caption"), L)
    calls = churn.call_list
    if calls is not None:
        reasons = [c for c in calls.columns if c.startswith("reason_")]
        if L.language in churn.reasons:  # the reasons in the page's language
            calls = calls.assign(**churn.reasons[L.language][reasons])
        rows = [
            [
                str(r["client (pseudonym)"]),
                str(r["branch_id"]),
                L.pct(r["churn_probability"]),
                str(int(r["risk_decile"])),
                L.number(r["expected_months_to_exit"], 1),
                *[
                    r[c] if isinstance(r[c], str) and r[c] else L.text("reason_none")
                    for c in reasons
                ],
            ]
            for _, r in calls.iterrows()
        ]
        columns = [(L.text("col_client"), False), (L.text("col_branch"), False)]
        columns += [(L.text("col_probability"), True), (L.text("col_decile"), True)]
        columns += [(L.text("col_months"), True)]
        columns += [(L.text("col_reason", i=i + 1), False) for i in range(len(reasons))]
        caption = L.text("calls_table", month=f"{churn.call_list_as_of:%Y-%m}")
        section.table(caption, columns, rows)
    if churn.uplift is not None:
        _uplift(section, churn.uplift, L, conf)
    return section


def _uplift(section: Section, compared: Any, L: Labels, conf: str) -> None:
    """Calls by risk against calls by uplift: exits prevented per 1,000 calls, intervals."""
    ev = compared.evaluation
    calls = ev.calls
    effect = ev.metrics.loc["average_effect"]
    # exits prevented per 1,000; when negative, said as extra exits (no "prevented -22")
    est, lo, hi = (1000 * effect[k] for k in ("estimate", "lo", "hi"))
    key, sign = ("uplift_prevented", 1) if est >= 0 else ("uplift_pushed", -1)
    lo, hi = sorted((sign * lo, sign * hi))
    sentence = L.text(
        key, effect=L.number(sign * est, 1), lo=L.number(lo, 1), hi=L.number(hi, 1), level=conf
    )
    section.text(
        L.text(
            "uplift_intro",
            campaigns=len(compared.test_campaigns),
            clients=f"{compared.n_test:,}",
            effect_sentence=sentence,
        )
    )
    rows = [
        [
            L.text(f"ranking_{r['ranking']}"),
            L.pct(r["share_called"], 0),
            f"{int(r['calls']):,}",
            L.number(r["estimate"], 1),
            L.number(r["lo"], 1),
            L.number(r["hi"], 1),
        ]
        for _, r in calls.iterrows()
    ]
    columns = [(L.text("col_ranking"), False), (L.text("col_share_called"), True)]
    columns += [(L.text("col_calls"), True), (L.text("col_prevented"), True)]
    columns += [(L.text("col_lo"), True), (L.text("col_hi"), True)]
    section.table(L.text("uplift_table", level=conf), columns, rows)


def _attribution(attribution: Any, L: Labels) -> Section:
    alpha = attribution.design["alpha"]
    conf = level(alpha)
    section = Section("attribution", L.text("attribution"))
    section.text(L.text("effects_intro", level=conf))
    effects = attribution.effects
    comps = ["S", "R", "E", "net_rate"]
    rows = []
    for name, sub in effects.groupby("intervention", sort=False):
        sub = sub.set_index("component")
        cells = [L.name(name, "interventions")]
        for c in comps:
            r = sub.loc[c] if c in sub.index else None
            if r is None or not np.isfinite(r["estimate"]):
                cells.append("—")  # not estimable in these data
            elif np.isfinite(r["lo"]) and np.isfinite(r["hi"]):
                cells.append(
                    f"{L.points(r['estimate'], words=False)} "
                    f"[{L.points(r['lo'], words=False)}, {L.points(r['hi'], words=False)}]"
                )
            else:
                cells.append(L.points(r["estimate"], words=False))
        rows.append(cells)
    columns = [(L.text("col_intervention"), False)] + [(L.name(c), True) for c in comps]
    section.table(L.text("effects_table"), columns, rows)
    section.figure(attribution.figures["effects.png"], L.text("effects_caption", level=conf), L)
    for name, fig in attribution.figures.items():
        if name.startswith("event_"):
            code = name.removeprefix("event_").removesuffix(".png")
            caption = L.text("event_caption", name=L.name(code, "interventions"))
            section.figure(fig, caption, L)
    section.text(L.text("pretrend_intro", alpha=L.number(alpha, 2)))
    diag = attribution.diagnostics
    rows = []
    for r in diag.itertuples():
        p = r.pretrend_p_value
        verdict = (
            "verdict_na" if not np.isfinite(p) else ("verdict_warn" if p < alpha else "verdict_ok")
        )
        rows.append([L.name(r.intervention, "interventions"), L.number(p, 2), L.text(verdict)])
    columns = [(L.text("col_intervention"), False), (L.text("col_pretrend"), True)]
    columns += [(L.text("col_verdict"), False)]
    section.table(L.text("diagnostics_table"), columns, rows)
    return section


def _plan(est: Any, L: Labels) -> Section:
    """What to do next: the next roll-out's power, where programmes pay, the budget."""
    plan = est.plan
    conf = level(plan.alpha)
    s = plan.stated
    section = Section("plan", L.text("plan"))
    section.text(
        L.text(
            "plan_intro",
            name=L.name(plan.intervention, "interventions"),
            branches=int(s["branches"]),
            months=int(s["months"]),
            design=L.text(f"design_{plan.design.design}"),
            reps=int(s["n_reps"]),
            effect=L.points(plan.effect),
            power=L.pct(s["power"], 0),
            mde=L.points(s["mde"]),
            level=conf,
            width=L.points(s["width"]).lstrip("+"),
        )
    )
    best = plan.smallest
    target = L.pct(plan.target, 0)
    if best is None:
        section.text(L.text("plan_none", effect=L.points(plan.effect), target=target))
    else:
        section.text(
            L.text(
                "plan_smallest",
                effect=L.points(plan.effect),
                target=target,
                branches=int(best["branches"]),
                months=int(best["months"]),
            )
        )
    section.figure(est.figures["power.png"], L.text("plan_power_caption"), L)
    section.figure(
        est.figures["branch_effects.png"], L.text("plan_branches_caption", level=conf), L
    )
    alloc = est.allocation
    if alloc is not None:
        section.text(
            L.text(
                "plan_allocation",
                budget=L.number(alloc.budget, 0),
                gain=L.points(alloc.expected_gain),
                level=conf,
                lo=L.points(alloc.gain_lo),
                hi=L.points(alloc.gain_hi),
                p=L.pct(alloc.p_beats_uniform, 0),
            )
        )
        rows = [
            [
                L.name(r.intervention, "interventions"),
                str(int(r.branches)),
                L.number(r.cost, 0),
                L.points(r.gain, 2, words=False),
            ]
            for r in alloc.by_intervention.itertuples()
        ]
        columns = [(L.text("col_intervention"), False), (L.text("col_branches"), True)]
        columns += [(L.text("col_cost"), True), (L.text("col_gain"), True)]
        section.table(L.text("plan_allocation_table"), columns, rows)
    return section


def _forecast(fc: Any, L: Labels) -> Section:
    conf = level(fc.params.get("alpha", 0.05))
    section = Section("forecast", L.text("forecast"))
    section.text(L.text("forecast_intro", level=conf))
    section.figure(fc.plot(), L.text("fan_caption"), L)
    table = fc.to_frame()
    firm = table[(table["series"] == "firm") & (table["component"] == "net_rate")]
    rows = [
        [
            f"{pd.Timestamp(r.period):%Y-%m}",
            L.name(r.scenario, "terms", "scenarios"),
            L.pct(r.forecast),
            L.text("interval_of", lo=L.pct(r.lo), hi=L.pct(r.hi)),
        ]
        for r in firm.sort_values(["period", "scenario"]).itertuples()
    ]
    columns = [(L.text("col_period"), False), (L.text("col_scenario"), False)]
    columns += [(L.text("col_forecast"), True), (L.text("kpi_interval", level=conf), True)]
    section.table(L.text("forecast_table", level=conf), columns, rows)
    return section


def _provenance(result: Any, L: Labels) -> Section:
    section = Section("provenance", L.text("provenance"))
    tables = result.data.tables
    text = L.text(
        "provenance_text",
        source=L.text(f"source_{result.data.source}"),
        hash=tables.content_hash(),
        version=result.package_version,
        run=result.run_id,
        experiment=result.config.experiment,
    )
    if result.churn is not None:
        text += " " + L.text(
            "provenance_model", uri=result.churn.model_uri, version=result.churn.model_version
        )
    section.text(text)
    rows = [[L.name(k, "tables"), f"{v:,}"] for k, v in tables.row_counts().items()]
    section.table(
        L.text("rows_table"), [(L.text("col_table"), False), (L.text("col_rows"), True)], rows
    )
    return section
