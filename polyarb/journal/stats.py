# `stats`: a summary of a journal (days, records per kind, bytes, seq and time range, run ids).
#
# Rules: read-only, through the same reader as everything else (reader.py), so the numbers count
# exactly the records a replay would see. Kinds and timestamps come from the fixed envelope of
# each line, without a JSON parse; only run_started records are decoded.
from __future__ import annotations

import datetime as _dt
from pathlib import Path

import msgspec

from polyarb.events import RunStarted, decode_record
from polyarb.journal.reader import iter_lines
from polyarb.journal.scan import kind_of_line, locate, ts_of_line


class DayStats(msgspec.Struct, kw_only=True):
    """One day of a journal."""

    day: str
    records: int = 0
    bytes: int = 0
    first_seq: int | None = None
    last_seq: int | None = None


class JournalStats(msgspec.Struct, kw_only=True):
    """Summary of a journal root (or one day), from `journal_stats`."""

    root: str
    days: list[DayStats] = msgspec.field(default_factory=list)
    records: int = 0
    bytes: int = 0
    records_per_kind: dict[str, int] = msgspec.field(default_factory=dict)
    first_seq: int | None = None
    last_seq: int | None = None
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    run_ids: list[str] = msgspec.field(default_factory=list)

    def render(self) -> str:
        """A human-readable, multi-line summary."""
        lines = [
            f"journal {self.root}: {self.records} records, {self.bytes} bytes, "
            f"{len(self.days)} day(s)",
            f"seq {self.first_seq}..{self.last_seq}, "
            f"time {_fmt_ts(self.first_ts_ns)} .. {_fmt_ts(self.last_ts_ns)}",
            f"runs: {', '.join(self.run_ids) or '-'}",
            "days:",
        ]
        lines += [
            f"  {d.day}  {d.records:>10} records  {d.bytes:>12} bytes  "
            f"seq {d.first_seq}..{d.last_seq}"
            for d in self.days
        ]
        lines.append("records per kind:")
        lines += [f"  {kind:<24} {n:>10}" for kind, n in self.records_per_kind.items()]
        return "\n".join(lines)


def _fmt_ts(ts: int | None) -> str:
    if ts is None:
        return "-"
    return _dt.datetime.fromtimestamp(ts / 1e9, _dt.UTC).isoformat(timespec="milliseconds")


def journal_stats(path: Path | str) -> JournalStats:
    """Summarise a journal root or one day directory.

    Raises:
        JournalUnreadable: not a journal, missing, no permission.
        JournalCorrupt: as iter_lines (a bad line, a seq gap, a manifest/file mismatch).
    """
    root, _days = locate(path)
    stats = JournalStats(root=str(root))
    kinds: dict[str, int] = {}
    day: DayStats | None = None
    for seg_path, seq, line in iter_lines(path):
        if day is None or day.day != seg_path.parent.name:
            day = DayStats(day=seg_path.parent.name, first_seq=seq)
            stats.days.append(day)
        day.records += 1
        day.bytes += len(line)
        day.last_seq = seq
        kind = kind_of_line(line) or "?"
        kinds[kind] = kinds.get(kind, 0) + 1
        _note_line(stats, seq, line, kind)
    stats.records = sum(d.records for d in stats.days)
    stats.bytes = sum(d.bytes for d in stats.days)
    stats.records_per_kind = dict(sorted(kinds.items()))
    return stats


def _note_line(stats: JournalStats, seq: int, line: bytes, kind: str) -> None:
    ts = ts_of_line(line)
    if stats.first_seq is None:
        stats.first_seq, stats.first_ts_ns = seq, ts
    stats.last_seq, stats.last_ts_ns = seq, ts
    if kind == "run_started":
        event = decode_record(line).event
        if isinstance(event, RunStarted) and event.run_id not in stats.run_ids:
            stats.run_ids.append(event.run_id)
