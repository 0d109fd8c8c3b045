"""snr_models: the client service net rate of a margin-financing business.

Here, at the top level: measure the net rate (:func:`net_rate` and its
:class:`NetRateResult`, :func:`decompose`, :func:`plot_net_rate`, :class:`MetricSpec`), load
and check data (:func:`load`, :func:`validate`, :func:`save`), and simulate a world with known
truth (:func:`simulate`).

The capabilities, one subpackage each (none imports another):

- :mod:`snr_models.churn` -- who will leave: estimators (``ChurnBoost``, ``ChurnLogit``,
  ``HazardModel``), backtests, evaluation, reasons per client, scoring.
- :mod:`snr_models.drivers` -- what drives satisfaction: ``key_drivers``, ``ordinal_logit``,
  ``asymmetric_drivers``, ``importance_performance``, ``drivers_by_group``.
- :mod:`snr_models.attribution` -- what the interventions did: ``estimate_joint``,
  ``attribute_change`` (the waterfall), ``att_gt``, ``twfe``, ``diagnose``,
  ``synthetic_control``, ``structural_impact``.
- :mod:`snr_models.forecast` -- the net rate ahead, by scenario: ``forecast``.
- :mod:`snr_models.simulate` -- a realistic client world and its ground truth: ``simulate``.

Beneath them: :mod:`snr_models.data` (the contract, io), :mod:`snr_models.metrics` (the net
rate, the branch panel), :mod:`snr_models.features` (point-in-time client features, drift).
Above them: :mod:`snr_models.tracking` (MLflow), :mod:`snr_models.jobs` (``snr run``, scoring,
retraining) and :mod:`snr_models.cli` (the ``snr`` command).
"""

import sys
import types
import warnings

# With pyspark installed (the extra ``spark``), importing pandera imports pyspark.pandas,
# whose import warns that PySpark does not yet fully support pandas 3 (it then fails and
# pandera goes on without it). snr_models uses only pyspark.sql (``snr score --engine
# spark``), which works with pandas 3 (tests/lifecycle/test_score_spark.py); this one
# warning is silenced, no other.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)

from snr_models._version import __version__ as __version__

# What each public name is, imported on first use (PEP 562): ``import snr_models`` and
# ``snr --help`` stay fast, and pandera, the simulator and matplotlib load only when needed.
_LAZY = {
    "ContractError": "snr_models.data",
    "Tables": "snr_models.data",
    "load": "snr_models.data",
    "save": "snr_models.data",
    "validate": "snr_models.data",
    "Decomposition": "snr_models.metrics",
    "MetricSpec": "snr_models.metrics",
    "NetRateResult": "snr_models.metrics",
    "decompose": "snr_models.metrics",
    "net_rate": "snr_models.metrics",
    "plot_net_rate": "snr_models.metrics",
    "SimulationConfig": "snr_models.simulate",
    "simulate": "snr_models.simulate",
    "write_simulation": "snr_models.simulate",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'snr_models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


class _Package(types.ModuleType):
    """The package module, keeping ``snr_models.simulate`` the function.

    The function :func:`simulate` shares its name with the subpackage that defines it. When a
    submodule such as ``snr_models.simulate.exports`` is imported first, the import system
    binds the subpackage to the package's attribute ``simulate``; with the function loaded
    lazily, ``snr_models.simulate(...)`` would then be the module. The subpackage stays
    importable (``sys.modules``, ``import snr_models.simulate``); the attribute stays the
    function, as it was when the package imported it eagerly.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "simulate" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
