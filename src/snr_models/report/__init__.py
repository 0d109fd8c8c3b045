"""The manager's report: one self-contained HTML page per language, from the main job's results.

:func:`render` fills the Jinja2 template ``templates/report.html.j2`` (package data) with the
content :func:`~snr_models.report.content.build` writes from a
:class:`snr_models.jobs.results.MainResult`: an executive summary, then one section per stage,
in Chinese (``zh-CN``) or English (``en``), in the business words of
:class:`~snr_models.report.labels.Labels`. Figures are embedded as PNG data and the style is
inline (a print style gives clean A4 pages), so the page opens offline and loads nothing.
Client identifiers never reach the page: :func:`pseudonymise` replaces them first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import pandas as pd

from snr_models.report.content import Section, build
from snr_models.report.fonts import font_face
from snr_models.report.labels import LANGUAGES, Labels, level

__all__ = [
    "LANGUAGES",
    "Labels",
    "Section",
    "file_names",
    "level",
    "pseudonymise",
    "render",
    "render_page",
]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("snr_models.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=False,
)


def file_names(languages: Sequence[str]) -> dict[str, str]:
    """The page of each language: the first is ``index.html``, the others
    ``index.<language>.html`` beside it."""
    return {
        lang: "index.html" if i == 0 else f"index.{lang}.html" for i, lang in enumerate(languages)
    }


def render(
    result: Any,
    language: str = "zh-CN",
    *,
    labels: Mapping[str, Mapping[str, str]] | None = None,
    languages: Sequence[str] | None = None,
) -> str:
    """The report page of one language, as an HTML string.

    Parameters
    ----------
    result : snr_models.jobs.results.MainResult
        The main job's typed results.
    language : {"zh-CN", "en"}
    labels : mapping, optional
        Overrides of the language's words (``{section: {code: word}}``).
    languages : sequence of str, optional
        Every language written beside it (the page links to the others; see
        :func:`file_names`).
    """
    words = Labels(language, labels)
    context = build(result, words)
    names = file_names(languages or [language])
    context["others"] = [
        ((Labels(lang).text("lang_name"), lang), href)
        for lang, href in names.items()
        if lang != language
    ]
    return _with_font(_ENV.get_template("report.html.j2").render(**context))


def _with_font(html: str) -> str:
    """The page with the CJK glyphs it uses embedded (see :func:`fonts.font_face`)."""
    return html.replace("/*cjk-font-face*/", font_face(html), 1)


def render_page(title: str, subtitle: str, sections: list[Section], *, lang: str = "en") -> str:
    """A plain page of sections (no summary), e.g. ``snr ingest``'s data-quality page."""
    context = {"lang": lang, "title": title, "subtitle": subtitle, "summary": [], "kpis": []}
    context.update(sections=sections, others=[], summary_title="", read_more="")
    return _with_font(_ENV.get_template("report.html.j2").render(**context))


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
