# The journal writer's cold parts: its configuration (Durability, CheckpointHook), creating the
# root, taking the lock with crash recovery, and building the records the writer writes on its
# own (day_opened, journal_recovered). writer.py holds the hot path and the file decisions.
#
# Rules:
# 1. Nothing here runs per appended record: only on open, at a day boundary or after a crash.
# 2. The lock is never left held by a failed open: when recovery raises, it is released before
#    the error propagates (the caller releases it if its own construction fails afterwards).
# 3. The record builders are pure (no clock: times are the caller's event times), so a day's
#    first lines are the same whatever path (clean start, day roll, recovery) wrote them.
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import msgspec

from polyarb.events import DayOpened, JournalRecovered, StateCheckpoint
from polyarb.journal import layout
from polyarb.journal.errors import JournalUnreadable
from polyarb.journal.lock import WriterLock
from polyarb.journal.recovery import Resume, recover

CheckpointHook = Callable[[int], StateCheckpoint | None]


class Durability(msgspec.Struct, frozen=True, kw_only=True):
    """When appended records are fsynced.

    Attributes:
        policy: "none" (page cache only, until `sync()`), "batch" (group commit: a record waits
            at most `batch_ms` or `batch_records` records for its fsync) or "always" (every
            append returns after its fsync).
        batch_ms: under "batch", longest wait of a buffered record for its write and the start
            of its fsync, provided the writer is called (append, or `poll()` on a timer). The
            fsync runs in the background; it starts at once, or when the fsync in flight
            returns, so a record is durable within about batch_ms + two fsyncs.
        batch_records: most records buffered before a write (and, under "batch", an fsync in
            the caller's thread).
    """

    policy: Literal["none", "batch", "always"] = "batch"
    batch_ms: int = 5
    batch_records: int = 1000


DEFAULT_DURABILITY = Durability()


def locked_recovery(root: Path | str, *, full_check: bool) -> tuple[Path, WriterLock, Resume]:
    """Create the root if needed, take the writer lock and run crash recovery (rule 2).

    Args:
        root: the journal root directory (created 0700 if missing).
        full_check: also rehash every older day's segments.

    Returns:
        The root as a Path, the held lock and where to resume.

    Raises:
        JournalLocked: another writer holds the journal.
        JournalCorrupt: corruption that is not a crash leftover (nothing is modified).
        JournalUnreadable: the root cannot be created or opened.
    """
    path = Path(root)
    _make_root(path)
    lock = WriterLock.acquire(path)
    try:
        return path, lock, recover(path, full_check=full_check)
    except BaseException:
        lock.release()
        raise


def recovery_note(resume: Resume, ts: int) -> JournalRecovered | None:
    """The journal_recovered record owed after recovery dropped bytes or a cut checkpoint."""
    report = resume.report
    if report is None or not (report.bytes_dropped > 0 or resume.lost_checkpoint):
        return None
    return JournalRecovered(
        ts_recv_ns=ts,
        file=report.file or "",
        bytes_dropped=report.bytes_dropped,
        last_good_seq=report.last_good_seq,
    )


def day_opened(day: str, prev: layout.Manifest | None, ts: int,
               checkpoint_seq: int | None) -> DayOpened:
    """The first record of `day`, linking the previous day (None for the journal's first)."""
    return DayOpened(
        ts_recv_ns=ts,
        day=day,
        prev_day=None if prev is None else prev.day,
        prev_digest=None if prev is None else prev.digest,
        prev_last_seq=None if prev is None else prev.last_seq,
        checkpoint_seq=checkpoint_seq,
    )


def _make_root(path: Path) -> None:
    try:
        if not path.is_dir():
            layout.make_dir(path)
    except OSError as exc:
        raise JournalUnreadable(f"cannot create journal root {path}: {exc}") from exc


__all__ = [
    "DEFAULT_DURABILITY",
    "CheckpointHook",
    "Durability",
    "day_opened",
    "locked_recovery",
    "recovery_note",
]
