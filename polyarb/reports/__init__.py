# Reports: SQL (DuckDB) over the journal. views.py builds the views, scan.py the file scans,
# schema.py the columns (derived from polyarb.events), sources.py picks the files per day.
#
# Rule: read-only. Reports never write to a journal; sealing lives in polyarb.journal.seal.
from polyarb.reports.schema import JournalSchema, SchemaError, build_schema, journal_schema
from polyarb.reports.sources import DaySource, JournalQueryError, plan_roots
from polyarb.reports.views import EVENTS_VIEW, SOURCES_TABLE, open_journal_db

__all__ = [
    "EVENTS_VIEW",
    "SOURCES_TABLE",
    "DaySource",
    "JournalQueryError",
    "JournalSchema",
    "SchemaError",
    "build_schema",
    "journal_schema",
    "open_journal_db",
    "plan_roots",
]
