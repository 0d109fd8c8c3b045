"""A font for Chinese text in the report's figures and page, installed with the package.

The machine needs no CJK system font: ``pylopdf-fonts-zh-cn`` (a dependency) ships Noto Sans
SC (SIL Open Font License). :func:`figure_style` registers it with matplotlib's font manager
and puts it after matplotlib's default sans-serif font, so Latin text keeps its usual look
and Chinese characters fall back to Noto Sans SC. :func:`font_face` embeds the glyphs a page
uses in the page itself (a subset, tens of kB), so the page reads and prints the same on a
machine without a CJK font.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import matplotlib as mpl
from matplotlib import font_manager

__all__ = ["cjk_font_name", "figure_style", "font_face", "font_families"]

#: The family name the page's style sheet gives the embedded subset.
PAGE_FAMILY = "SNR Noto Sans SC"
_CJK_FROM = 0x2E80  # CJK radicals onwards: ideographs, CJK and full-width punctuation


@cache
def cjk_font_name() -> str:
    """Register Noto Sans SC with matplotlib (once per process) and return its family name."""
    import pylopdf_fonts_zh_cn

    path = str(pylopdf_fonts_zh_cn.sans_path())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


def font_families() -> list[str]:
    """Matplotlib's default font, then Noto Sans SC for the glyphs it lacks."""
    return [mpl.rcParamsDefault["font.sans-serif"][0], cjk_font_name()]


@contextmanager
def figure_style() -> Iterator[None]:
    """Matplotlib settings for figures drawn for the report: the CJK font as a fallback.

    Matplotlib falls back from font to font along ``font.family`` (not along the list of a
    generic family such as ``sans-serif``), so the list goes there.
    """
    with mpl.rc_context({"font.family": font_families()}):
        yield


def font_face(html: str) -> str:
    """A CSS ``@font-face`` embedding Noto Sans SC's glyphs for the CJK characters of
    ``html`` (a subset, base64 in a ``data:`` URI); empty when the page has none."""
    chars = sorted(ord(c) for c in set(html) if ord(c) >= _CJK_FROM)
    if not chars:
        return ""
    import base64
    import io

    import pylopdf_fonts_zh_cn
    from fontTools import subset
    from fontTools.ttLib import TTFont

    # tables are read as the subsetter needs them, and the bounding boxes of the font are
    # kept, not recomputed from every glyph kept (each CharString executed): 2x faster
    font = TTFont(str(pylopdf_fonts_zh_cn.sans_path()), lazy=True, recalcBBoxes=False)
    options = subset.Options()
    options.name_IDs = ["*"]  # keep the licence and names with the glyphs
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=chars)
    subsetter.subset(font)
    data = io.BytesIO()
    font.save(data)
    encoded = base64.b64encode(data.getvalue()).decode("ascii")
    return (
        f'@font-face {{ font-family: "{PAGE_FAMILY}"; '
        f'src: url(data:font/otf;base64,{encoded}) format("opentype"); }}'
    )
