"""Data layer: the contract's schemas, loading and saving, and the simulator."""

from snr_models.data.tables import TABLE_NAMES, Tables

__all__ = ["TABLE_NAMES", "Tables"]
