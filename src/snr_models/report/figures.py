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
from matplotlib.ticker import ScalarFormatter

from snr_models.report.fonts import figure_style, font_families

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from snr_models.report.labels import Labels

__all__ = ["encode", "relabel", "tight_png"]

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+")
_BRACKETED = re.compile(r"\((\w+)\)")
_LEVEL = re.compile(r"\d+(?:\.\d+)?%")


def _translate(text: str, words: dict[str, str]) -> str:
    core = text.strip()
    if core in words:  # " fix first" keeps its padding
        return text.replace(core, words[core])
    # a text with shares in it ("95% interval", "top 5%: 12%"), listed with "{level}" for each
    found = _LEVEL.findall(text)
    if found and (pattern := words.get(_LEVEL.sub("{level}", text))) is not None:
        for value in found:
            pattern = pattern.replace("{level}", value, 1)
        return pattern
    # a name in brackets ("net rate (firm)") or a code inside a longer text
    text = _BRACKETED.sub(lambda m: f"({words.get(m[1], m[1])})", text)
    return _TOKEN.sub(lambda m: words.get(m[0], m[0].replace("_", " ")), text)


def relabel(fig: Figure, labels: Labels, title: str | None = None) -> Figure:
    """A copy of ``fig`` with its texts in ``labels``'s language and, for a figure of one
    axes, ``title`` as its title (the caption below says what a figure of several shows)."""
    copy = pickle.loads(pickle.dumps(fig))
    words = labels.phrases()
    families = font_families()
    for artist in copy.findobj(Text):
        text = artist.get_text()
        if text and not text.startswith("$"):
            artist.set_text(_translate(text, words))
        # the figure was drawn with the default font; the report's falls back to the CJK one
        artist.set_fontfamily(families)
    for ax in copy.axes:
        # tick labels given as names are redrawn from the formatter: translate them there
        for axis in (ax.xaxis, ax.yaxis):
            if isinstance(axis.get_major_formatter(), ScalarFormatter):
                continue
            texts = axis.get_majorticklabels()
            before = [t.get_text() for t in texts]
            after = [_translate(t, words) for t in before]
            if after != before:
                style = {"rotation": texts[0].get_rotation(), "ha": texts[0].get_ha()}
                axis.set_ticks(axis.get_majorticklocs(), labels=after, fontfamily=families, **style)
    # a one-axes figure takes the report's title; a figure of several keeps the axes' own
    if title is not None and len(copy.axes) == 1 and copy._suptitle is None:
        copy.axes[0].set_title(title, fontfamily=families)
    return copy


def tight_png(fig: Figure, dpi: float = 100, pad: float = 0.1) -> bytes:
    """The figure as PNG, cropped to its drawn content plus ``pad`` inches, drawn once.

    What ``fig.savefig(..., bbox_inches="tight", pad_inches=pad)`` gives, without its second
    drawing: the figure is drawn once at its size, its tight box measured with the same
    renderer (whose text extents are cached) and the image cropped to it, the padding that
    falls beyond the figure filled with its face colour. A figure whose content reaches beyond
    its own edges (a legend placed outside) is saved by ``savefig`` itself.

    Examples
    --------
    >>> from snr_models.figures import new_figure
    >>> fig = new_figure(figsize=(3, 2))
    >>> _ = fig.subplots().plot([0, 1], [0, 1])
    >>> tight_png(fig)[:4]
    b'\\x89PNG'
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    original = fig.dpi
    fig.set_dpi(dpi)
    try:
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        box = fig.get_tightbbox(canvas.get_renderer())  # inches
        width, height = fig.get_size_inches()
        buffer = io.BytesIO()
        if box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
            fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=pad)
            return buffer.getvalue()
        image = np.asarray(canvas.buffer_rgba())
        # pixel rows count from the top; the padded box may pass the figure's edges
        x0, x1 = round((box.x0 - pad) * dpi), round((box.x1 + pad) * dpi)
        y0, y1 = round((height - box.y1 - pad) * dpi), round((height - box.y0 + pad) * dpi)
        face = np.array(fig.patch.get_facecolor()) * 255
        out = np.empty((y1 - y0, x1 - x0, 4), dtype=np.uint8)
        out[...] = np.round(face).astype(np.uint8)
        sy, sx = (
            slice(max(y0, 0), min(y1, image.shape[0])),
            slice(max(x0, 0), min(x1, image.shape[1])),
        )
        out[sy.start - y0 : sy.stop - y0, sx.start - x0 : sx.stop - x0] = image[sy, sx]
        Image.fromarray(out, "RGBA").save(buffer, format="png", dpi=(dpi, dpi))
        return buffer.getvalue()
    finally:
        fig.set_dpi(original)


def encode(fig: Figure) -> str:
    """The figure as base64 PNG (drawn with the report's fonts, :func:`tight_png`); the figure
    is closed."""
    with figure_style():
        data = tight_png(fig)
    plt.close(fig)
    return base64.b64encode(data).decode()
