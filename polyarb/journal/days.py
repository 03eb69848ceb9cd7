# The writer's files: the current day's manifest and its open segment, from creation to close.
#
# Rules:
# 1. Ordering on disk, so that every crash point leaves a state crash recovery understands:
#    a segment is listed in the manifest before its file is created; a segment's bytes are
#    fsynced (by the caller) before the manifest marks it closed; a day is closed (final manifest
#    with its digest) before the next day's directory is created; an empty segment's file is
#    deleted before it is unlisted (a listed, missing open segment is a recoverable leftover).
# 2. Only seq numbers come in from the writer; records never pass through here.
from __future__ import annotations

from pathlib import Path

from polyarb.journal import layout
from polyarb.journal.segment import SegmentFile


class DayFiles:
    """The current day (manifest, directory) and its open segment, if any."""

    def __init__(
        self, root: Path, manifest: layout.Manifest | None, segment: SegmentFile | None
    ) -> None:
        self.root = root
        self.manifest = manifest
        self.segment = segment

    @property
    def day_end(self) -> int:
        """First nanosecond after the current day."""
        assert self.manifest is not None
        return layout.day_end_ns(self.manifest.day)

    def _day_dir(self) -> Path:
        assert self.manifest is not None
        return self.root / self.manifest.day

    def begin_day(self, day: str, first_seq: int) -> layout.Manifest | None:
        """Create `day` with its first segment (the current day must be closed already).

        Returns:
            The previous day's manifest, or None for the journal's first day.
        """
        prev = self.manifest
        layout.make_dir(self.root / day)
        layout.fsync_dir(self.root)
        digest = None if prev is None else prev.digest
        self.manifest = layout.Manifest(day=day, first_seq=first_seq, prev_digest=digest)
        self.open_segment(first_seq)
        return prev

    def reopen_day(self, first_seq: int) -> None:
        """Continue the newest day after a restart on its UTC day: a new segment, no seal."""
        m = self.manifest
        assert m is not None
        sealed = m.sealed
        m.closed, m.digest, m.sealed = False, None, None
        self.open_segment(first_seq)
        if sealed is not None:  # the Parquet copy no longer covers the day
            (self._day_dir() / sealed.file).unlink(missing_ok=True)

    def open_segment(self, first_seq: int) -> None:
        """List a new segment in the manifest (one atomic write), then create its file."""
        m = self.manifest
        assert m is not None and self.segment is None
        info = layout.SegmentInfo(name=layout.segment_name(first_seq), first_seq=first_seq)
        m.segments.append(info)
        layout.write_manifest(self._day_dir(), m)
        self.segment = SegmentFile.create(self._day_dir() / info.name, info)

    def close_segment(self) -> None:
        """Finalise the open segment in the manifest (in memory); drop it when empty.

        The caller has written and fsynced every record of it.
        """
        seg, m = self.segment, self.manifest
        if seg is None or m is None:
            return
        self.segment = None
        if seg.records == 0:
            seg.discard()
            m.segments.remove(seg.info)
        else:
            seg.close()
        closed = [s for s in m.segments if s.closed]
        m.records = sum(s.records for s in closed)
        m.last_seq = closed[-1].last_seq if closed else None

    def roll_segment(self, first_seq: int) -> None:
        """Close the full segment and start the next; one manifest write records both."""
        self.close_segment()
        self.open_segment(first_seq)

    def close_day(self) -> None:
        """Close the segment and the day: final manifest with the day's digest."""
        m = self.manifest
        if m is None or (m.closed and self.segment is None):
            return
        self.close_segment()
        m.closed = True
        m.digest = layout.day_digest(m)
        layout.write_manifest(self._day_dir(), m)

    def note_run(self, run_id: str) -> None:
        m = self.manifest
        if m is not None and run_id not in m.run_ids:
            m.run_ids.append(run_id)

    def abandon(self) -> None:
        """Close the segment's file without touching the manifest (after a failure)."""
        if self.segment is not None:
            self.segment.abandon()
            self.segment = None
