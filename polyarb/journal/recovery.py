# Crash recovery: what opening a journal for writing checks, repairs and resumes from.
#
# Rules:
# 1. Crash-only: a clean start and a start after a crash run this same code.
# 2. Only the leftovers a crash produces by design are repaired, each reported:
#    - a torn tail (bytes after the last newline of the newest segment of the newest day,
#      including a zero-filled tail) is truncated and the file fsynced;
#    - the open last segment of the newest day listed in the manifest but not yet created is
#      created (the writer lists a segment before creating it);
#    - a `manifest.json.tmp` left by an interrupted manifest write is removed;
#    - a newest day directory with neither manifest nor segments (a day roll interrupted right
#      after mkdir) is removed.
#    Anything else (bad checksum in a complete line, malformed line, seq gap, missing or unlisted
#    segment, manifest disagreeing with the files, a modified closed segment) raises
#    JournalCorrupt naming file, line and seq. Corruption is never truncated away.
# 3. Cost: every manifest is checked and every closed segment's size is stat()ed; the newest
#    day's closed segments are rehashed and its open segment is read line by line (CRC + seq).
#    Older days' bytes are rehashed only with full_check (or by `verify`).
from __future__ import annotations

import os
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

import msgspec

from polyarb.events import CodecError, DayOpened, RunStarted, decode_record
from polyarb.events.codec import split_line
from polyarb.journal import layout, scan
from polyarb.journal.checks import (
    PREV_UNKNOWN,
    check_closed_hashes,
    check_files,
    check_manifest,
    hash_file,
)
from polyarb.journal.errors import JournalCorrupt, Problem
from polyarb.journal.scan import LineScanner, read_manifest_or_none, segment_files

_RUN_STARTED_TAG = b'"kind":"run_started"'


class RecoveryReport(msgspec.Struct, frozen=True, kw_only=True):
    """What opening a journal for writing repaired (see the module rules for what it may).

    Attributes:
        file: the segment whose torn tail was truncated (relative to the root), if any.
        bytes_dropped: bytes truncated from it.
        zero_filled: the dropped tail was all NUL bytes (a power loss, not a cut record).
        last_good_seq: seq of the last intact record before the tail.
        actions: one human-readable line per repair.
    """

    file: str | None = None
    bytes_dropped: int = 0
    zero_filled: bool = False
    last_good_seq: int = 0
    actions: tuple[str, ...] = ()


@dataclass
class OpenSegment:
    """The newest day's open segment as found on disk, ready to append to."""

    path: Path
    info: layout.SegmentInfo
    size: int
    records: int
    hasher: Any  # hashlib sha256 object over the segment's bytes so far


@dataclass
class Resume:
    """Everything the writer needs to continue after `recover`."""

    next_seq: int = 1
    last_ts_ns: int | None = None
    manifest: layout.Manifest | None = None  # the newest day
    prev: layout.Manifest | None = None  # the day before it
    segment: OpenSegment | None = None
    day_records: int = 0
    lost_checkpoint: bool = False  # the day's last record is a day_opened whose checkpoint is cut
    report: RecoveryReport | None = None
    actions: list[str] = field(default_factory=list)


def recover(root: Path, *, full_check: bool = False) -> Resume:
    """Check the journal at `root`, repair crash leftovers, and say where to continue.

    Must be called with the writer lock held.

    Args:
        root: the journal root (it exists).
        full_check: also rehash the closed segments of every older day.

    Raises:
        JournalCorrupt: anything that is not a crash leftover (nothing is modified then).
    """
    resume = Resume()
    days = layout.list_days(root)
    unfinished = days.pop() if days and _is_unfinished_day(root / days[-1]) else None
    manifests, missing_open = _check_days(root, days, full_check)
    if manifests:  # checks everything before it repairs anything
        _resume_newest(root, days[-1], manifests, missing_open, resume)
    if unfinished is not None:
        _remove_unfinished_day(root, unfinished, resume.actions)
    if resume.actions:
        resume.report = _report(resume)
    return resume


def _is_unfinished_day(day_dir: Path) -> bool:
    names = set(os.listdir(day_dir))
    return not names - {layout.MANIFEST_NAME + ".tmp"}


def _remove_unfinished_day(root: Path, day: str, actions: list[str]) -> None:
    tmp = root / day / (layout.MANIFEST_NAME + ".tmp")
    if tmp.exists():
        tmp.unlink()
    (root / day).rmdir()
    layout.fsync_dir(root)
    actions.append(f"removed {day}/, a day directory whose creation was interrupted")


def _check_days(
    root: Path, days: list[str], full_check: bool
) -> tuple[list[layout.Manifest], str | None]:
    problems: list[Problem] = []
    manifests: list[layout.Manifest] = []
    missing_open = None
    prev: layout.Manifest | None = None
    for i, day in enumerate(days):
        newest = i == len(days) - 1
        day_dir = root / day
        on_disk = segment_files(day_dir)
        m, why = read_manifest_or_none(day_dir)
        if m is None:
            problems.append(Problem(file=f"{day}/{layout.MANIFEST_NAME}", message=str(why)))
            prev = PREV_UNKNOWN
            continue
        problems += check_manifest(m, day, prev, newest=newest)
        file_problems, missing = check_files(day_dir, m, on_disk, newest=newest)
        problems += file_problems
        if newest or full_check:
            problems += check_closed_hashes(day_dir, m)
        if newest:
            missing_open = missing
        manifests.append(m)
        prev = m
    if problems:
        raise JournalCorrupt(problems)
    return manifests, missing_open


def _resume_newest(
    root: Path,
    day: str,
    manifests: list[layout.Manifest],
    missing_open: str | None,
    resume: Resume,
) -> None:
    day_dir = root / day
    m = manifests[-1]
    resume.manifest = m
    resume.prev = manifests[-2] if len(manifests) > 1 else None
    resume.day_records = sum(seg.records for seg in m.segments if seg.closed)
    resume.next_seq = _first_unclosed_seq(m, resume.prev)
    seg = m.segments[-1] if m.segments and not m.segments[-1].closed else None
    scanner = None
    if seg is not None and missing_open is None:
        scanner = LineScanner(day_dir / seg.name, hash_all=True)
        last_line = _check_open_lines(scanner, f"{day}/{seg.name}", seg.first_seq, m)
        _note_last_record(resume, m, day_dir, seg, scanner.lines, last_line)
    # Everything is checked: from here on, only the documented repairs.
    tmp = day_dir / (layout.MANIFEST_NAME + ".tmp")
    if tmp.exists():
        tmp.unlink()
        resume.actions.append(f"removed {day}/{tmp.name} left by an interrupted manifest write")
    if seg is None:
        return
    path = day_dir / seg.name
    if scanner is None:  # listed, never created
        _create_missing(path, resume.actions, f"{day}/{seg.name}")
        resume.segment = OpenSegment(path=path, info=seg, size=0, records=0, hasher=sha256())
    else:
        resume.segment = _repair_segment(path, seg, scanner, resume)


def _first_unclosed_seq(m: layout.Manifest, prev: layout.Manifest | None) -> int:
    closed = [seg for seg in m.segments if seg.closed]
    if closed and closed[-1].last_seq is not None:
        return closed[-1].last_seq + 1
    if m.first_seq is not None:
        return m.first_seq
    return 1 if prev is None or prev.last_seq is None else prev.last_seq + 1


def _create_missing(path: Path, actions: list[str], name: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, layout.FILE_MODE)
    os.close(fd)
    layout.fsync_dir(path.parent)
    actions.append(f"created {name}, listed in the manifest but not created before the crash")


def _note_last_record(
    resume: Resume,
    m: layout.Manifest,
    day_dir: Path,
    seg: layout.SegmentInfo,
    records: int,
    last_line: bytes | None,
) -> None:
    """Seq, last timestamp and a cut checkpoint, from the open segment's last complete record."""
    resume.next_seq = seg.first_seq + records
    resume.day_records += records
    if last_line is None:  # nothing in the open segment yet: the day's previous segment
        closed = [s for s in m.segments if s.closed]
        last_line = scan.last_line(day_dir / closed[-1].name) if closed else None
    if last_line is None:
        return
    resume.last_ts_ns = scan.ts_of_line(last_line)
    resume.lost_checkpoint = _promises_checkpoint(last_line)
    if resume.lost_checkpoint:
        seq = resume.next_seq - 1
        resume.actions.append(f"the crash cut the checkpoint that day_opened (seq {seq}) names")
        resume.report = RecoveryReport(file=f"{m.day}/{seg.name}", last_good_seq=seq)


def _repair_segment(
    path: Path, seg: layout.SegmentInfo, scanner: LineScanner, resume: Resume
) -> OpenSegment:
    """Truncate a torn tail (if any) and fsync; the segment to append to."""
    hasher = scanner.hasher
    if scanner.tail:
        name = f"{path.parent.name}/{path.name}"
        what = "zero-filled tail" if scanner.tail_zero else "torn tail"
        resume.actions.append(f"truncated a {what} of {scanner.tail} bytes from {name}")
        resume.report = RecoveryReport(
            file=name,
            bytes_dropped=scanner.tail,
            zero_filled=scanner.tail_zero,
            last_good_seq=resume.next_seq - 1,
        )
        hasher = hash_file(path, scanner.complete)
    _truncate_and_sync(path, scanner.complete)
    size, records = scanner.complete, scanner.lines
    return OpenSegment(path=path, info=seg, size=size, records=records, hasher=hasher)


def _check_open_lines(
    scanner: LineScanner, name: str, first_seq: int, m: layout.Manifest
) -> bytes | None:
    """Check CRC and seq of every complete line; collect run ids. Returns the last line."""
    expect = first_seq
    last = None
    for line_no, offset, line in scanner:
        try:
            seq, _v, _body = split_line(line)
        except CodecError as exc:
            raise JournalCorrupt(
                [Problem(file=name, line=line_no, seq=exc.seq, offset=offset, message=exc.reason)]
            ) from None
        where = Problem(file=name, line=line_no, seq=seq, offset=offset, message="")
        if seq != expect:
            msg = f"seq {seq} where {expect} was expected (gap or reordering)"
            raise JournalCorrupt([msgspec.structs.replace(where, message=msg)])
        if _RUN_STARTED_TAG in line[:80]:
            _note_run_id(m, line, where)
        expect += 1
        last = line
    if scanner.overlong:
        line_no, offset = scanner.overlong[0]
        msg = "line is longer than the scanner's limit: not a journal record"
        raise JournalCorrupt([Problem(file=name, line=line_no, offset=offset, message=msg)])
    return last


def _promises_checkpoint(line: bytes) -> bool:
    if scan.kind_of_line(line) != "day_opened":
        return False
    record = decode_record(line)
    return isinstance(record.event, DayOpened) and record.event.checkpoint_seq is not None


def _note_run_id(m: layout.Manifest, line: bytes, where: Problem) -> None:
    try:
        event = decode_record(line).event
    except CodecError as exc:
        raise JournalCorrupt([msgspec.structs.replace(where, message=exc.reason)]) from None
    if isinstance(event, RunStarted) and event.run_id not in m.run_ids:
        m.run_ids.append(event.run_id)


def _truncate_and_sync(path: Path, size: int) -> None:
    # Also fsyncs when nothing is cut: a killed writer's last batch may sit only in the page cache.
    fd = os.open(path, os.O_WRONLY)
    try:
        if os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def _report(resume: Resume) -> RecoveryReport:
    base = resume.report or RecoveryReport(last_good_seq=resume.next_seq - 1)
    return msgspec.structs.replace(base, actions=tuple(resume.actions))
