"""Data layer: the contract's schemas, loading and saving, and the simulator."""

from snr_models.data.contract import SCHEMAS, ContractError, Problem, validate
from snr_models.data.io import load, save
from snr_models.data.tables import TABLE_NAMES, Tables

__all__ = [
    "SCHEMAS",
    "TABLE_NAMES",
    "ContractError",
    "Problem",
    "Tables",
    "load",
    "save",
    "validate",
]
