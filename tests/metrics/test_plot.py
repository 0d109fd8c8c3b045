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
