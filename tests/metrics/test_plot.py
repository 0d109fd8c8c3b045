"""Figures: the right number of axes, drawable without pyplot, and clear errors."""

from __future__ import annotations

import io

import pytest
from matplotlib.figure import Figure

from snr_models.data import Tables
from snr_models.errors import SnrInputError
from snr_models.metrics import decompose, net_rate, plot_net_rate


def _renders(fig: Figure) -> bool:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()[:4] == b"\x89PNG"


def test_plot_net_rate_ungrouped(hand: Tables) -> None:
    fig = plot_net_rate(net_rate(hand, n_boot=50).to_frame())
    # the net rate on top, then S, R, E: four axes sharing x
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert [ax.get_ylabel() for ax in fig.axes] == [
        "net rate",
        "S: satisfaction",
        "R: retention",
        "E: service efficiency",
    ]
    assert fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[3])
    assert len(fig.axes[1].lines) == 1  # one line (with its band) per axes
    assert _renders(fig)


def test_plot_net_rate_grouped(hand: Tables) -> None:
    r = net_rate(hand, by="branch_id", n_boot=0).to_frame()
    fig = plot_net_rate(r, group="branch_id")
    assert len(fig.axes) == 4
    assert len(fig.axes[0].lines) == 2  # B1 and B2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["B1", "B2"]
    assert _renders(fig)
    two = net_rate(hand, by=["branch_id", "segment"], n_boot=0).to_frame()
    assert len(plot_net_rate(two).axes[0].lines) == 2  # every combination
    with pytest.raises(SnrInputError, match="not a group column"):
        plot_net_rate(r, group="segment")


def test_decomposition_plot(hand: Tables) -> None:
    d = decompose(net_rate(hand, n_boot=0).to_frame(), "2024-01", "2024-02")
    fig = d.plot()
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    # waterfall: start, S, R, E, end
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["start", "S", "R", "E", "end"]
    assert len(fig.axes[0].patches) == 5
    assert _renders(fig)
    grouped = decompose(net_rate(hand, by="branch_id", n_boot=0).to_frame(), "2024-01", "2024-02")
    assert len(grouped.plot().axes) == 2  # + rate / mix per group


def test_plot_net_rate_draws_the_date_locators_ticks_fixed_once() -> None:
    """The trend's period axis has fixed ticks (drawn twice as fast); expected: the very ticks
    and labels matplotlib's automatic date locator and formatter give the same axis, so the
    image is pixel for pixel the one drawn with the automatic ticks."""
    import numpy as np
    import pandas as pd
    from matplotlib.dates import AutoDateFormatter, AutoDateLocator
    from matplotlib.ticker import FixedLocator
    from PIL import Image

    from snr_models.metrics.result import VALUE_COLUMNS

    frame = pd.DataFrame({"period": pd.date_range("2023-01-01", periods=30, freq="MS")})
    for k, col in enumerate(VALUE_COLUMNS):
        frame[col] = 0.5 + 0.01 * np.sin(np.arange(30) + k)
    fixed = plot_net_rate(frame)
    auto = plot_net_rate(frame)
    for ax in auto.axes:  # back to matplotlib's own date ticks (shared across the axes)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(AutoDateFormatter(locator))
    assert isinstance(fixed.axes[-1].xaxis.get_major_locator(), FixedLocator)

    def pixels(fig: Figure) -> np.ndarray:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=60)
        return np.asarray(Image.open(buffer))

    assert np.array_equal(pixels(fixed), pixels(auto))
