"""The net rate: components S, R, E, the composite, confidence intervals and decompositions.

Public API: :class:`MetricSpec`, :func:`net_rate`, :func:`decompose`, :class:`Decomposition`,
:func:`plot_net_rate`.
"""

from snr_models.metrics.decompose import Decomposition, decompose
from snr_models.metrics.netrate import net_rate
from snr_models.metrics.plot import plot_net_rate
from snr_models.metrics.spec import MetricSpec

__all__ = ["Decomposition", "MetricSpec", "decompose", "net_rate", "plot_net_rate"]
