"""The package version, in one place: read by the build (hatch), the package and MLflow tags."""

__version__ = "0.1.0"
