"""snr_models (public API assembled at integration; see /tmp/init_final.py)."""

__version__ = "0.1.0"
