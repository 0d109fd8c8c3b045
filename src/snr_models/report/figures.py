"""The report's figures: the analyses' own figures, in the report's language, as PNG data.

An analysis draws its figure once (:mod:`snr_models.attribution.plots`, ...); the report takes a
copy, replaces every text that names a code or an English phrase by the language's word for it
(:meth:`Labels.phrases`), sets the title the report wants, and encodes it with the CJK font of
:mod:`snr_models.report.fonts`. The analysis's figure itself is left as it was.
"""

from __future__ import annotations

import base64
import io
import pickle
import re
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.text import Text

from snr_models.report.fonts import figure_style, font_families

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from snr_models.report.labels import Labels

__all__ = ["encode", "relabel"]

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+")
_LEVEL = re.compile(r"\d+(?:\.\d+)?%")


def _translate(text: str, words: dict[str, str]) -> str:
    if text in words:
        return words[text]
    # a text with an interval level in it ("95% interval"), listed as "{level} interval"
    found = _LEVEL.search(text)
    if found and (pattern := words.get(_LEVEL.sub("{level}", text, count=1))) is not None:
        return pattern.format(level=found[0])
    # a code inside a longer text ("What moved the net_rate")
    return _TOKEN.sub(lambda m: words.get(m[0], m[0].replace("_", " ")), text)


def relabel(fig: Figure, labels: Labels, title: str | None = None) -> Figure:
    """A copy of ``fig`` with its texts in ``labels``'s language and, if given, one title
    (the axes' title of a one-axes figure, else the figure's title above the axes' own)."""
    copy = pickle.loads(pickle.dumps(fig))
    words = labels.phrases()
    families = font_families()
    for artist in copy.findobj(Text):
        text = artist.get_text()
        if text and not text.startswith("$"):
            artist.set_text(_translate(text, words))
        # the figure was drawn with the default font; the report's falls back to the CJK one
        artist.set_fontfamily(families)
    if title is not None:
        if len(copy.axes) == 1 and copy._suptitle is None:
            copy.axes[0].set_title(title, fontfamily=families)
        else:
            copy.suptitle(title, fontfamily=families)
    return copy


def encode(fig: Figure) -> str:
    """The figure as base64 PNG (drawn with the report's fonts); the figure is closed."""
    buffer = io.BytesIO()
    with figure_style():
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()
