"""Import public facilities from CSV, GeoJSON or an OpenStreetMap PBF extract, upserting by
(source, external_id).

Each format is read into records with the CSV column names (:mod:`.readers`), every record is
checked completely before anything is written, so a bad row is never half-imported: it comes back
as (row, field, reason) (:mod:`.validate`); good records are written batch by batch
(:mod:`.write`); :mod:`.run` drives one import. Columns missing from a file leave the stored
values alone; a status set by staff (removed) is never changed by an import.
"""

from services_nearby.importing.readers import detect_format
from services_nearby.importing.records import (
    ImportFileError,
    ImportResult,
    RowError,
    write_error_report,
)
from services_nearby.importing.run import import_facilities

__all__ = [
    "ImportFileError",
    "ImportResult",
    "RowError",
    "detect_format",
    "import_facilities",
    "write_error_report",
]
