"""The main job's report: one self-contained HTML page a manager can read.

Each stage of the main job contributes a :class:`Section` (text, tables, figures); the page
embeds figures as base64 PNG and its style inline, so it opens offline and makes no network
request. Client identifiers never reach the page: :func:`pseudonymise` replaces them with a
keyed hash before a table is added.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import pandas as pd

if TYPE_CHECKING:
    from snr_models.jobs.results import ChurnStageResult, MainResult

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #1f2933; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.8rem; margin-bottom: .2rem; }
h2 { border-bottom: 2px solid #d9e2ec; padding-bottom: .3rem; margin-top: 2.4rem; }
.headline { display: flex; gap: 1.2rem; flex-wrap: wrap; margin: 1rem 0; }
.kpi { background: #f0f4f8; border-radius: 8px; padding: .8rem 1.2rem; min-width: 10rem; }
.kpi .value { font-size: 1.6rem; font-weight: 600; }
.kpi .label { font-size: .85rem; color: #52606d; }
table { border-collapse: collapse; font-size: .85rem; margin: .8rem 0; }
th, td { border-bottom: 1px solid #e4e7eb; padding: .25rem .6rem; text-align: right; }
th { background: #f5f7fa; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e7eb; }
figcaption { font-size: .85rem; color: #52606d; }
.note { font-size: .85rem; color: #52606d; }
"""


@dataclass
class Section:
    """One section of the report, in reading order.

    Parameters
    ----------
    key : str
        A stable identifier, used as the HTML id (tests find sections by it).
    title : str
        The heading.
    """

    key: str
    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def text(self, paragraph: str) -> Section:
        """Add a paragraph of plain text."""
        self.blocks.append(("text", paragraph))
        return self

    def kpis(self, items: dict[str, str]) -> Section:
        """Add a row of headline figures, ``label -> formatted value``."""
        self.blocks.append(("kpis", dict(items)))
        return self

    def table(self, frame: pd.DataFrame, caption: str = "", *, digits: int = 3) -> Section:
        """Add a table (rendered as HTML, numbers rounded to ``digits``)."""
        numeric = frame.select_dtypes("number").columns
        self.blocks.append(("table", (frame.round(dict.fromkeys(numeric, digits)), caption)))
        return self

    def figure(self, fig: Any, caption: str = "") -> Section:
        """Add a matplotlib figure, embedded as a base64 PNG (the figure is then closed)."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        self.blocks.append(("figure", (base64.b64encode(buffer.getvalue()).decode(), caption)))
        return self


def pseudonymise(values: pd.Series, key: str) -> pd.Series:
    """Replace identifiers by a keyed, truncated SHA-256 (stable within one report only).

    Parameters
    ----------
    values : Series
        Identifiers, e.g. ``client_id``.
    key : str
        A secret of the run (e.g. its run id): without it the pseudonyms cannot be reversed
        by hashing candidate identifiers.
    """
    return values.astype(str).map(
        lambda v: "C-" + hashlib.sha256(f"{key}:{v}".encode()).hexdigest()[:10]
    )


def render(title: str, subtitle: str, sections: list[Section]) -> str:
    """Return the whole page as one HTML string."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # A strict policy: the page may load nothing from anywhere; images are data: URIs.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p class='note'>{html.escape(subtitle)}</p>",
    ]
    for section in sections:
        parts.append(f'<section id="{html.escape(section.key)}">')
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        for kind, content in section.blocks:
            parts.append(_block(kind, content))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _block(kind: str, content: Any) -> str:
    if kind == "text":
        return f"<p>{html.escape(content)}</p>"
    if kind == "kpis":
        cells = "".join(
            f"<div class='kpi'><div class='value'>{html.escape(v)}</div>"
            f"<div class='label'>{html.escape(k)}</div></div>"
            for k, v in content.items()
        )
        return f"<div class='headline'>{cells}</div>"
    if kind == "table":
        frame, caption = content
        table = frame.to_html(index=False, border=0, na_rep="", escape=True)
        note = f"<p class='note'>{html.escape(caption)}</p>" if caption else ""
        return note + table
    if kind == "figure":
        data, caption = content
        alt = html.escape(caption or "figure")
        return (
            f"<figure><img alt='{alt}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    raise ValueError(f"unknown block kind {kind!r}")


def level(alpha: float) -> str:
    """An interval's confidence level in words: ``level(0.05) == "95%"``, ``"97.5%"``, ..."""
    return f"{100 * (1 - alpha):.4g}%"


def _months(window: list[str]) -> str:
    """``2023-01 to 2023-03`` (or the one month)."""
    return window[0] if len(window) == 1 else f"{window[0]} to {window[-1]}"


def main_sections(result: MainResult) -> list[Section]:
    """The main job's report, section by section, from its typed results."""
    config, nr = result.config, result.netrate
    latest, conf = nr.latest, level(nr.alpha)
    headline = Section("headline", "Headline").kpis(
        {
            f"net rate, {nr.change.end:%Y-%m}": f"{latest['net_rate']:.1%}",
            f"{conf} interval": f"{latest['net_rate_lo']:.1%} – {latest['net_rate_hi']:.1%}",
            f"change since {nr.change.start:%Y-%m}": f"{100 * nr.change.total:+.1f} points",
        }
    )
    attribution = result.attribution
    if attribution is not None:
        wf = attribution.waterfall
        rows = wf[wf["component"] == "net_rate"][["step", "value", "lo", "hi", "kind"]]
        steps = rows.set_index("step")["value"]
        rows = rows.assign(step=rows["step"].str.replace("_", " "))
        w0, w1 = attribution.design["start_window"], attribution.design["end_window"]
        tot = attribution.totals
        tot = tot[tot["component"] == "net_rate"].set_index("quantity")
        together, without = tot.loc["programmes_total"], tot.loc["no_programme_change"]
        headline.text(
            "What explains the change: the programmes together, and each one's share of what "
            "they did together (a Shapley share: where programmes overlap, their common part is "
            "split equally), estimated by comparing branches at different stages of the "
            "roll-outs; 'market and trend' is how the rate would have moved with no programme "
            "at all, net of the change in the branches' mix. The waterfall compares the "
            f"averages of {_months(w0)} and {_months(w1)}, steadier than single months: "
            f"{100 * (steps['end'] - steps['start']):+.1f} points, of which the programmes "
            f"together {100 * together['value']:+.1f} points (interval "
            f"{100 * together['lo']:+.1f} to {100 * together['hi']:+.1f}) and the world without "
            f"them {100 * without['value']:+.1f} points."
        )
        notes = wf.loc[rows.index, "note"].fillna("")
        assumed = [
            f"{step}: {note.split('additivity assumed')[1].strip()}"
            for step, note in zip(rows["step"], notes, strict=True)
            if "additivity assumed" in note
        ]
        if assumed:
            headline.text(
                "Where programmes were rarely active together, their joint effect is assumed to "
                "be the sum of their own: " + "; ".join(assumed)
            )
        headline.figure(attribution.figures["waterfall.png"], "Waterfall of the change")
        a_conf = level(attribution.design["alpha"])
        headline.table(
            rows, f"Contributions to the change of the net rate, with {a_conf} intervals"
        )
    else:
        headline.figure(nr.figures["change_by_component.png"], "Change by component")

    components = Section("components", "Components and branches")
    components.text(f"Net rate = {nr.spec.formula()}; each with its {conf} confidence interval.")
    components.figure(nr.figures["netrate_trend.png"], "Net rate and components by month")
    components.table(nr.change.to_frame(), "Change by component")
    for key, group in nr.groups.items():
        last = group.frame[group.frame["period"] == group.frame["period"].max()]
        cols = [*group.columns, "net_rate", "net_rate_lo", "net_rate_hi", "S", "R", "E", "n_open"]
        components.table(last[cols], f"Latest period by {key}")
        components.figure(nr.figures[f"change_by_{key}.png"], f"Change by {key}: rate and mix")

    sections = [headline, components]
    if result.drivers is not None:
        drivers, target = result.drivers, config.drivers.target.upper()
        section = Section("drivers", f"What drives satisfaction ({target})")
        section.text(
            "Importance is each attribute's exact Shapley share of the explained variance "
            "(LMG), with bootstrap intervals; the map sets it against the mean rating. Fix "
            "first: important and rated low."
        )
        section.figure(drivers.figures["ipa.png"], "Importance-performance map")
        section.table(drivers.tables["actions.csv"], "Ranked actions")
        section.figure(
            drivers.figures["importance.png"],
            f"Importance with {level(config.drivers.alpha)} intervals",
        )
        sections.append(section)
    if result.churn is not None:
        sections.append(_churn_section(result.churn))
    if attribution is not None:
        a_conf = level(attribution.design["alpha"])
        attr = Section("attribution", "Interventions: effects and event studies")
        attr.table(attribution.effects, "Effects on each component, estimated jointly")
        attr.figure(attribution.figures["effects.png"], f"Effects with {a_conf} intervals")
        for name, fig in attribution.figures.items():
            if name.startswith("event_"):
                label = name.removeprefix("event_").removesuffix(".png")
                attr.figure(fig, f"Event study of {label} on the net rate")
        attr.table(attribution.diagnostics, "Pre-trend tests and the TWFE weights diagnostic")
        sections.append(attr)
    if result.forecast is not None:
        ahead = Section("forecast", "Outlook: the net rate ahead, by scenario")
        ahead.text(
            "Monthly forecasts with 80% and 95% intervals; each scenario adds its roll-outs, "
            "with the estimated effects and their uncertainty carried into the intervals."
        )
        ahead.figure(result.forecast.plot(), "Fan chart per scenario")
        side_by_side = result.forecast.compare()
        side_by_side["period"] = pd.to_datetime(side_by_side["period"]).dt.strftime("%Y-%m")
        ahead.table(side_by_side, "Scenarios side by side: forecast and 95% interval")
        sections.append(ahead)
    sections.append(_provenance_section(result))
    return sections


def _churn_section(churn: ChurnStageResult) -> Section:
    section = Section("churn", "Who may leave: the churn model and the call list")
    section.text(
        f"Probability that a client closes the account within {churn.horizon} months, from a "
        "model trained on point-in-time features and checked by a rolling-origin "
        f"backtest (metrics pooled over origins, {level(churn.alpha)} bootstrap intervals). "
        "Lift: how many times the base rate the top of the list catches; calibration: "
        "predicted against observed exit rates."
    )
    section.table(churn.metrics, "Backtest metrics")
    section.figure(churn.figures["churn_lift.png"], "Lift by share of clients called")
    section.figure(churn.figures["churn_calibration.png"], "Calibration (reliability)")
    if churn.call_list is not None:
        section.table(
            churn.call_list,
            f"Top of the call list as of {churn.call_list_as_of:%Y-%m}, with the three "
            "reasons that raise each client's risk most (clients pseudonymised)",
        )
    return section


def _provenance_section(result: MainResult) -> Section:
    provenance = Section("provenance", "Data, models and versions")
    tables = result.data.tables
    counts = pd.DataFrame([{"table": k, "rows": v} for k, v in tables.row_counts().items()])
    churn = result.churn
    provenance.text(
        f"Data: {result.data.source}; content hash {tables.content_hash()}. "
        f"Package snr_models {result.package_version}. MLflow run {result.run_id} "
        f"in experiment {result.config.experiment}."
        + (
            f" Churn model {churn.model_uri} (version {churn.model_version})."
            if churn is not None
            else ""
        )
    )
    provenance.table(counts, "Rows per table")
    return provenance
