"""snr_models: the client service net rate of a margin-financing business.

Measure it (:func:`net_rate`, :func:`decompose`), load and check data (:func:`load`,
:func:`validate`), simulate a world with known truth (:func:`simulate`), and, in the
subpackages, predict churn (:mod:`snr_models.churn`) and attribute changes to interventions
(:mod:`snr_models.attribution`).
"""

from importlib.metadata import PackageNotFoundError, version

from snr_models.data import ContractError, Tables, load, save, validate
from snr_models.data.simulate import SimulationConfig, simulate, write_simulation
from snr_models.metrics import Decomposition, MetricSpec, decompose, net_rate, plot_net_rate

try:
    __version__ = version("snr_models")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

__all__ = [
    "ContractError",
    "Decomposition",
    "MetricSpec",
    "SimulationConfig",
    "Tables",
    "__version__",
    "decompose",
    "load",
    "net_rate",
    "plot_net_rate",
    "save",
    "simulate",
    "validate",
    "write_simulation",
]
