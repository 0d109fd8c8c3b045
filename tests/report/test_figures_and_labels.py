"""The report's figures in Chinese without a system CJK font, and its words and numbers."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pytest

from snr_models.report import Labels, file_names, level
from snr_models.report.figures import encode, relabel

CHINESE = "客户服务净率 员工培训"


def _glyph_warnings(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        draw()
    return [str(w.message) for w in caught if "Glyph" in str(w.message)]


def test_without_the_report_font_chinese_glyphs_are_missing() -> None:
    # the control: this machine has no CJK system font, so the check below can fail
    fig, ax = plt.subplots()
    ax.set_title(CHINESE)
    found = _glyph_warnings(lambda: fig.savefig(__import__("io").BytesIO(), format="png"))
    plt.close(fig)
    assert found and all("missing from font" in m for m in found)


def test_report_figures_draw_every_chinese_glyph() -> None:
    fig, ax = plt.subplots()
    ax.bar(["start", "staff_training", "market_and_trend"], [1, 2, 3])
    ax.set_xlabel("period")
    ax.legend(["net rate"])
    labels = Labels("zh-CN")
    copy = relabel(fig, labels, title=CHINESE)
    ticks = [t.get_text() for t in copy.axes[0].get_xticklabels()]
    assert ticks == ["起点", "员工培训", "市场与趋势"]  # labels/zh-CN.yaml
    assert copy.axes[0].get_xlabel() == "月份"
    assert copy.axes[0].get_title() == CHINESE
    assert _glyph_warnings(lambda: encode(copy)) == []
    # the analysis's own figure is left as it was
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()][1] == "staff_training"
    plt.close(fig)


def test_numbers_for_a_manager() -> None:
    zh, en = Labels("zh-CN"), Labels("en")
    assert en.pct(0.8123) == "81.2%"
    assert en.points(0.129) == "+12.9 points" and zh.points(0.129) == "+12.9 个百分点"
    # no negative zero, a dash for a missing number
    assert en.points(-0.00001, words=False) == "0.0"
    assert en.number(-0.0004, 3) == "0.000"
    assert en.number(float("nan")) == "—"
    assert level(0.05) == "95%" and level(0.1) == "90%" and level(0.025) == "97.5%"


def test_labels_come_from_the_configuration_over_the_defaults() -> None:
    labels = Labels("en", {"interventions": {"staff_training": "coaching"}})
    assert labels.name("staff_training") == "coaching"
    assert labels.name("process_reengineering") == "process re-engineering"
    assert labels.name("an_unknown_code") == "an unknown code"  # never snake_case on a page
    assert Labels("zh-CN").name("ai_assistant") == "智能客服"
    with pytest.raises(ValueError, match="zh-CN, en"):
        Labels("fr")


def test_file_names_link_the_languages() -> None:
    assert file_names(["zh-CN", "en"]) == {"zh-CN": "index.html", "en": "index.en.html"}
    assert file_names(["en"]) == {"en": "index.html"}


def test_the_page_embeds_the_cjk_glyphs_it_uses() -> None:
    """A Chinese page carries a subset of Noto Sans SC with every CJK character it shows, so it
    reads and prints on a machine without a CJK font; an English page carries none."""
    import base64
    import io
    import re

    from fontTools.ttLib import TTFont

    from snr_models.report.fonts import font_face

    page = "<p>客户服务净率 88.0%（95% 置信区间）</p>"
    face = font_face(page)
    encoded = re.search(r"base64,([A-Za-z0-9+/=]+)\)", face).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(encoded))).getBestCmap()
    wanted = {ord(c) for c in page if ord(c) >= 0x2E80}
    assert wanted and wanted <= set(cmap)
    assert len(cmap) < 100  # a subset, not the whole font (tens of thousands of glyphs)
    assert font_face("<p>Net rate 88.0%</p>") == ""


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_headline_names_the_steps_that_rest_on_a_pilot(lang: str) -> None:
    """The waterfall's notes (attribution.waterfall: 'extrapolated from its pilot') reach the
    headline as the label ``pilot_note`` followed by the programmes' names in the report's
    words; without such a note the paragraph is absent."""
    from types import SimpleNamespace

    import pandas as pd

    from snr_models.report.content import _headline

    pilot = "Shapley share; its firm-wide months (40 of the windows' branch-months) extrapolated "
    pilot += "from its pilot in 4 branches (effect scaled by intensity)"
    steps = [("start", "level", ""), ("staff_training", "intervention", "Shapley share")]
    steps += [("ai_assistant", "intervention", pilot), ("end", "level", "")]
    waterfall = pd.DataFrame(
        [
            {"step": s, "component": "net_rate", "kind": k, "note": n, "value": 0.1}
            | {"lo": 0.0, "hi": 0.2}
            for s, k, n in steps
        ]
    )
    totals = pd.DataFrame(
        {
            "component": "net_rate",
            "quantity": ["programmes_total", "no_programme_change"],
            "value": [0.1, 0.0],
            "lo": [0.05, -0.05],
            "hi": [0.15, 0.05],
        }
    )
    labels = Labels(lang)

    def paragraphs(table: pd.DataFrame) -> list[str]:
        fig, _ = plt.subplots()
        attribution = SimpleNamespace(
            totals=totals, waterfall=table, figures={"waterfall.png": fig}, design={"alpha": 0.05}
        )
        result = SimpleNamespace(netrate=SimpleNamespace(change=SimpleNamespace(total=0.1)))
        result.attribution = attribution
        section = _headline(result, labels, "2022-01", "2024-12", "")
        plt.close(fig)
        return [b.text for b in section.blocks if b.kind == "text"]

    expected = labels.text("pilot_note") + " " + labels.name("ai_assistant", "interventions")
    assert expected in paragraphs(waterfall)
    plain = waterfall.assign(note=waterfall["note"].str.replace(pilot, "Shapley share"))
    assert not any(labels.text("pilot_note") in p for p in paragraphs(plain))


def test_tight_png_crops_as_savefig_tight_does() -> None:
    """Expected: matplotlib's own ``savefig(bbox_inches="tight")`` of the same figure: the
    same size to a pixel of rounding, and the same picture (the crop may sit a fraction of a
    pixel apart, so a few anti-aliased edge pixels differ)."""
    import io

    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    from snr_models.figures import new_figure
    from snr_models.report.figures import tight_png

    def figure() -> Figure:
        fig = new_figure(figsize=(5, 3))
        ax = fig.subplots()
        ax.bar(["a", "b", "c"], [3, 1, 2])
        ax.set_title("a title")
        ax.set_ylabel("a long label on the y axis")
        return fig

    buffer = io.BytesIO()
    figure().savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    reference = np.asarray(Image.open(buffer)).astype(int)
    ours = np.asarray(Image.open(io.BytesIO(tight_png(figure(), dpi=80)))).astype(int)
    assert abs(ours.shape[0] - reference.shape[0]) <= 1
    assert abs(ours.shape[1] - reference.shape[1]) <= 1
    h, w = min(ours.shape[0], reference.shape[0]), min(ours.shape[1], reference.shape[1])
    differing = (np.abs(ours[:h, :w] - reference[:h, :w]) > 60).any(axis=2).mean()
    assert differing < 0.03
    # the whole figure is white beyond its content: what savefig's crop leaves blank
    assert ours.shape[0] < 3 * 80 and ours.shape[1] < 5 * 80
