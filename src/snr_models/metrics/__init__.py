"""The net rate: components S, R, E, the composite, confidence intervals and decompositions.

Public API: :class:`MetricSpec`, :func:`net_rate` (returning a :class:`NetRateResult`),
:func:`decompose` (returning a :class:`Decomposition`), :func:`plot_net_rate`.
"""

from snr_models.metrics.decompose import Decomposition, decompose
from snr_models.metrics.netrate import net_rate
from snr_models.metrics.result import NetRateResult, plot_net_rate
from snr_models.metrics.spec import MetricSpec

__all__ = [
    "Decomposition",
    "MetricSpec",
    "NetRateResult",
    "decompose",
    "net_rate",
    "plot_net_rate",
]
