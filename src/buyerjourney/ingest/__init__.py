"""Importers: CSV, JSON Lines, Segment messages and Parquet files of events, and spend files, into the store.

::

    from buyerjourney.ingest import ImportOptions, import_files
    report = import_files(store, ["crm_deals.csv"], ImportOptions(maps={"entity_id": "Email"}, event="deal"))

Reading is vectorised (pyarrow, DuckDB SQL) except the per-line parsing of JSON; see :mod:`.importer`.
"""

from __future__ import annotations

from buyerjourney.ingest.importer import ImportOptions, import_files
from buyerjourney.ingest.mapping import parse_maps
from buyerjourney.ingest.progress import ImportProgress, NullProgress, RichProgress
from buyerjourney.ingest.rejects import Reject, write_rejects
from buyerjourney.ingest.report import FileReport, ImportReport

__all__ = [
    "FileReport",
    "ImportOptions",
    "ImportProgress",
    "ImportReport",
    "NullProgress",
    "Reject",
    "RichProgress",
    "import_files",
    "parse_maps",
    "write_rejects",
]
