"""snr_models: the client service net rate of a margin-financing business.

Measure it (:func:`net_rate`, :func:`decompose`), load and check data (:func:`load`,
:func:`validate`), simulate a world with known truth (:func:`simulate`), and, in the
subpackages, predict churn (:mod:`snr_models.churn`) and attribute changes to interventions
(:mod:`snr_models.attribution`).
"""

import warnings
from importlib.metadata import PackageNotFoundError, version

# With pyspark installed (the extra ``spark``), importing pandera imports pyspark.pandas,
# whose import warns that PySpark does not yet fully support pandas 3 (it then fails and
# pandera goes on without it). snr_models uses only pyspark.sql (``snr score --engine
# spark``), which works with pandas 3 (tests/lifecycle/test_score_spark.py); this one
# warning is silenced, no other.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

from snr_models.data import ContractError, Tables, load, save, validate
from snr_models.metrics import Decomposition, MetricSpec, decompose, net_rate, plot_net_rate
from snr_models.simulate import SimulationConfig, simulate, write_simulation

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
