"""A font for Chinese text in the report's figures, installed with the package.

The machine needs no CJK system font: ``pylopdf-fonts-zh-cn`` (a dependency) ships Noto Sans
SC (SIL Open Font License). :func:`figure_style` registers it with matplotlib's font manager
and puts it after matplotlib's default sans-serif font, so Latin text keeps its usual look
and Chinese characters fall back to Noto Sans SC.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import matplotlib as mpl
from matplotlib import font_manager

__all__ = ["cjk_font_name", "figure_style", "font_families"]


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
