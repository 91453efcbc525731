"""Writes of the retailers app, one module per seam: the retailer itself (:mod:`.retailers`),
the header check of CSV files (:mod:`.csv_files`; the reader is :mod:`retailers.csvio`) and
running imports and import jobs (:mod:`.imports`).

Re-exported here so ``from retailers.services import ...`` keeps working.
"""

from retailers.csvio import CHUNK_BYTES, CsvInfo, file_chunks, inspect_csv, read_csv
from retailers.services.csv_files import header_check
from retailers.services.imports import (
    IMPORT,
    JobProgress,
    Progress,
    import_dataset_run,
    import_file_run,
    import_job_create,
    import_job_run,
)
from retailers.services.retailers import retailer_create

__all__ = [
    "CHUNK_BYTES",
    "IMPORT",
    "CsvInfo",
    "JobProgress",
    "Progress",
    "file_chunks",
    "header_check",
    "import_dataset_run",
    "import_file_run",
    "import_job_create",
    "import_job_run",
    "inspect_csv",
    "read_csv",
    "retailer_create",
]
