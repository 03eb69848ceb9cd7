# polyarb's durable journal: the append-only, hash-chained record of every input and decision.
#
# docs/journal-format.md is the normative description of the bytes on disk. This package writes
# it (writer.py: one writer per root, group commit, crash recovery on open), reads it (reader.py:
# never locks, tolerates a live writer's half-written last line) and checks it (verify.py: never
# modifies anything). Everything public is re-exported here; the CLI wraps these functions.
from polyarb.journal.errors import (
    JournalClosed,
    JournalCorrupt,
    JournalError,
    JournalLocked,
    JournalUnreadable,
    Problem,
)
from polyarb.journal.reader import iter_lines, iter_records
from polyarb.journal.recovery import RecoveryReport
from polyarb.journal.stats import DayStats, JournalStats, journal_stats
from polyarb.journal.verify import VerifyReport, verify_journal
from polyarb.journal.writer import CheckpointHook, Durability, JournalWriter

__all__ = [
    "CheckpointHook",
    "DayStats",
    "Durability",
    "JournalClosed",
    "JournalCorrupt",
    "JournalError",
    "JournalLocked",
    "JournalStats",
    "JournalUnreadable",
    "JournalWriter",
    "Problem",
    "RecoveryReport",
    "VerifyReport",
    "iter_lines",
    "iter_records",
    "journal_stats",
    "verify_journal",
]
