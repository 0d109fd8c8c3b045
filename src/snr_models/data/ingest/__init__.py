"""From a broker's exports and databases into the data contract (``snr ingest``).

``sources.yaml`` (:mod:`~snr_models.data.ingest.config`) says where each contract table comes
from; :func:`extract` reads the sources (:mod:`~snr_models.data.ingest.read`: CSV in any of
UTF-8, UTF-8 with BOM, GBK/GB18030, Excel sheets, Parquet, SQL through SQLAlchemy) and converts
codes, units and dates (:mod:`~snr_models.data.ingest.convert`), keeping every row it cannot
convert, with its source, line and reason, for quarantine; each source file is staged in DuckDB
as it is converted. :mod:`~snr_models.data.ingest.dataset` merges the staged extract into the
existing dataset (a month replaced, snapshots as of its end), checks the contract naming rows
by source file and line, and :func:`snr_models.data.io.publish` writes it. The job that
orchestrates these steps, month by month, is :func:`snr_models.jobs.ingest.ingest`.
"""

from snr_models.data.ingest.config import SourcesConfig, TableSource, load_sources
from snr_models.data.ingest.extract import Extract, SourceStats, extract
from snr_models.data.ingest.read import IngestError, SourceUnavailable, detect_encoding

__all__ = [
    "Extract",
    "IngestError",
    "SourceStats",
    "SourceUnavailable",
    "SourcesConfig",
    "TableSource",
    "detect_encoding",
    "extract",
    "load_sources",
]
