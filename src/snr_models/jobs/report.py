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
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

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
