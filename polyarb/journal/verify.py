# `verify`: check a whole journal (or one day) byte by byte, and report every problem found.
#
# Rules:
# 1. Never modifies anything, never locks. Memory stays bounded on garbage (chunked scanner, a
#    cap on listed problems).
# 2. "Unreadable" (not a journal, missing, no permission) raises JournalUnreadable; everything
#    wrong inside a journal is a Problem in the report. A torn tail is a problem too, with a hint
#    that opening the journal for writing truncates it.
# 3. Checked: every line's layout, CRC and decode (known kind, readable version); seq continuity
#    across segments and days; manifests against themselves, the previous day and the files
#    (sizes, sha256, the digest chain, unlisted or missing segments); each day starting with
#    day_opened that links to the previous day, and a checkpoint where day_opened says; run_ids.
from __future__ import annotations

from pathlib import Path

import msgspec

from polyarb.events import (
    CodecError,
    DayOpened,
    Event,
    JournalRecovered,
    RunStarted,
    StateCheckpoint,
    decode_record,
)
from polyarb.journal import layout
from polyarb.journal.checks import PREV_UNKNOWN, check_files, check_manifest, hash_file
from polyarb.journal.errors import JournalUnreadable, Problem
from polyarb.journal.scan import LineScanner, locate, read_manifest_or_none, segment_files

MAX_PROBLEMS = 1000
_TORN_HINT = "opening the journal for writing truncates it (or a writer is running right now)"


class VerifyReport(msgspec.Struct, kw_only=True):
    """What `verify_journal` found. `ok` is True when there is no problem at all.

    Attributes:
        root: the journal root checked.
        days: the days checked, oldest first.
        records: complete records read.
        segments: segment files read.
        bytes: bytes read.
        problems: every problem, in journal order (at most MAX_PROBLEMS; `omitted` counts more).
        torn_tail: the torn-tail problem of the newest segment, if any (also in `problems`).
        repairable: the problems that are crash leftovers which opening the journal for writing
            repairs (a torn tail, an open segment listed but not created, a day directory
            without manifest); they are also in `problems`.
    """

    root: str
    days: list[str]
    records: int = 0
    segments: int = 0
    bytes: int = 0
    problems: list[Problem] = msgspec.field(default_factory=list)
    torn_tail: Problem | None = None
    repairable: list[Problem] = msgspec.field(default_factory=list)
    omitted: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and self.omitted == 0

    def add(self, problem: Problem, *, repairable: bool = False) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.omitted += 1
        if repairable:
            self.repairable.append(problem)


class _DayState:
    """What the line checks of one day need to remember."""

    def __init__(self, day: str, m: layout.Manifest, prev: layout.Manifest | None) -> None:
        self.day = day
        self.m = m
        self.prev = prev  # PREV_UNKNOWN when only this day is checked
        self.records = 0
        self.checkpoint_seq: int | None = None
        self.run_ids: list[str] = []


def verify_journal(path: Path | str) -> VerifyReport:
    """Check a journal root (or one day directory) and report every problem.

    Raises:
        JournalUnreadable: missing, not a directory, not a journal, or no permission.
    """
    root, days = locate(path)
    all_days = layout.list_days(root)
    report = VerifyReport(root=str(root), days=list(days))
    day_mode = len(all_days) != len(days)
    prev: layout.Manifest | None = PREV_UNKNOWN if day_mode and days != all_days[:1] else None
    expect: int | None = None if prev is PREV_UNKNOWN else 1
    try:
        for day in days:
            prev, expect = _verify_day(report, root, day, prev, expect, day == all_days[-1])
    except PermissionError as exc:
        raise JournalUnreadable(f"{root}: {exc}") from exc
    return report


def _verify_day(
    report: VerifyReport,
    root: Path,
    day: str,
    prev: layout.Manifest | None,
    expect: int | None,
    newest: bool,
) -> tuple[layout.Manifest | None, int | None]:
    """Check one day; returns (its manifest or PREV_UNKNOWN, the seq expected next)."""
    day_dir = root / day
    on_disk = segment_files(day_dir)
    m, why = read_manifest_or_none(day_dir)
    if m is None:
        msg = str(why)
        leftover = newest and not on_disk and why == "manifest is missing"
        if leftover:
            msg += " (an interrupted day roll; opening the journal for writing removes the day)"
        report.add(Problem(file=f"{day}/{layout.MANIFEST_NAME}", message=msg), repairable=leftover)
        return PREV_UNKNOWN, None
    for problem in check_manifest(m, day, prev, newest=newest):
        report.add(problem)
    file_problems, missing_open = check_files(day_dir, m, on_disk, newest=newest)
    for problem in file_problems:
        report.add(problem)
    if missing_open is not None:
        msg = "open segment listed but not created (a crash; opening for writing creates it)"
        report.add(Problem(file=f"{day}/{missing_open}", message=msg), repairable=True)
    state = _DayState(day, m, prev)
    for i, info in enumerate(m.segments):
        if (day_dir / info.name).exists():
            live = newest and i == len(m.segments) - 1 and not info.closed
            expect = _verify_segment(report, root, state, info, expect, live)
    _check_day_records(report, state, newest)
    _check_seal(report, day_dir, m)
    return m, expect


def _check_seal(report: VerifyReport, day_dir: Path, m: layout.Manifest) -> None:
    # A missing copy is harmless (queries fall back to the segments); a different one is not.
    sealed = m.sealed
    if sealed is None or not (path := day_dir / Path(sealed.file).name).exists():
        return
    if hash_file(path).hexdigest() != sealed.sha256:
        msg = "sha256 does not match the manifest's seal record: the Parquet copy was modified"
        report.add(Problem(file=f"{day_dir.name}/{path.name}", message=msg))
    if not m.closed:
        msg = "an open day has a seal record"
        report.add(Problem(file=f"{day_dir.name}/{layout.MANIFEST_NAME}", message=msg))


def _verify_segment(
    report: VerifyReport,
    root: Path,
    state: _DayState,
    info: layout.SegmentInfo,
    expect: int | None,
    live: bool,
) -> int | None:
    name = f"{state.day}/{info.name}"
    scanner = LineScanner(root / state.day / info.name, hash_all=True)
    if expect is None:
        expect = info.first_seq
    for line_no, offset, line in scanner:
        try:
            record = decode_record(line)
        except CodecError as exc:
            where = {"line": line_no, "seq": exc.seq, "offset": offset}
            report.add(Problem(file=name, message=exc.reason, **where))
            expect = None if exc.seq is None else exc.seq + 1
            continue
        if expect is not None and record.seq != expect:
            msg = f"seq {record.seq} where {expect} was expected (gap or reordering)"
            report.add(Problem(file=name, line=line_no, seq=record.seq, offset=offset, message=msg))
        expect = record.seq + 1
        _check_record(report, state, name, line_no, record.seq, record.event)
    report.records += scanner.lines
    report.segments += 1
    report.bytes += scanner.size
    _check_segment_end(report, name, info, scanner, live)
    return expect


def _check_segment_end(
    report: VerifyReport, name: str, info: layout.SegmentInfo, scanner: LineScanner, live: bool
) -> None:
    for line_no, offset in scanner.overlong:
        report.add(Problem(file=name, line=line_no, offset=offset, message="line too long"))
    if scanner.tail:
        what = "zero-filled tail" if scanner.tail_zero else "torn tail"
        if live:
            msg = f"{what}: {scanner.tail} bytes after the last complete record; {_TORN_HINT}"
        else:
            msg = f"segment ends with an incomplete line ({scanner.tail} bytes)"
        problem = Problem(file=name, line=scanner.lines + 1, offset=scanner.complete, message=msg)
        report.add(problem, repairable=live)
        if live:
            report.torn_tail = problem
    if info.closed and scanner.size == info.bytes:
        if scanner.sha256 != info.sha256:
            msg = "sha256 does not match the manifest: the closed segment was modified"
            report.add(Problem(file=name, message=msg))
        if scanner.lines != info.records:
            msg = f"holds {scanner.lines} records, manifest says {info.records}"
            report.add(Problem(file=name, message=msg))


def _check_record(
    report: VerifyReport, state: _DayState, name: str, line_no: int, seq: int, event: Event
) -> None:
    state.records += 1
    messages = _day_opened_problems(state, event, seq) if state.records == 1 else []
    if state.records > 1 and isinstance(event, DayOpened):
        messages.append("day_opened that is not the first record of its day")
    if state.checkpoint_seq == seq:
        state.checkpoint_seq = None  # found
        # journal_recovered stands in for a checkpoint a crash cut (recovery writes it)
        if not isinstance(event, StateCheckpoint | JournalRecovered):
            messages.append("day_opened names this seq as its checkpoint; it is not one")
    for msg in messages:
        report.add(Problem(file=name, line=line_no, seq=seq, message=msg))
    if isinstance(event, RunStarted) and event.run_id not in state.run_ids:
        state.run_ids.append(event.run_id)


def _day_opened_problems(state: _DayState, event: Event, seq: int) -> list[str]:
    if not isinstance(event, DayOpened):
        return ["the first record of a day is not day_opened"]
    state.checkpoint_seq = event.checkpoint_seq
    out = []
    if event.day != state.day:
        out.append(f"day_opened is for day {event.day!r}")
    if event.checkpoint_seq is not None and event.checkpoint_seq != seq + 1:
        out.append(f"checkpoint_seq {event.checkpoint_seq} is not the next record ({seq + 1})")
    prev = state.prev
    if prev is not PREV_UNKNOWN:
        want = (None, None, None) if prev is None else (prev.day, prev.digest, prev.last_seq)
        got = (event.prev_day, event.prev_digest, event.prev_last_seq)
        if got != want:
            out.append(f"day_opened links to {got}, the previous day is {want}")
    return out


def _check_day_records(report: VerifyReport, state: _DayState, newest: bool) -> None:
    where = f"{state.day}/{layout.MANIFEST_NAME}"
    m = state.m
    if m.closed and state.run_ids != m.run_ids:
        msg = f"run_ids {m.run_ids} differ from the day's run_started records {state.run_ids}"
        report.add(Problem(file=where, message=msg))
    elif not m.closed and not set(m.run_ids) <= set(state.run_ids):
        msg = f"run_ids {m.run_ids} name runs with no run_started record {state.run_ids}"
        report.add(Problem(file=where, message=msg))
    if state.records == 0 and not newest:
        report.add(Problem(file=where, message="day has no records"))
    if state.checkpoint_seq is not None:
        msg = f"day_opened names checkpoint seq {state.checkpoint_seq}, which is missing"
        if newest:
            msg += " (a crash cut it; opening the journal for writing records that)"
        report.add(Problem(file=where, seq=state.checkpoint_seq, message=msg), repairable=newest)
