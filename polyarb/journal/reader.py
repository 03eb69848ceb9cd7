# Reading a journal in seq order: raw lines (tail, stats) and typed records (replay, reports).
#
# Rules:
# 1. Readers never lock and never write; they read a snapshot: the days and segments the
#    manifests list when each day is reached. Files are listed before the manifest is read (the
#    writer lists a segment before creating it, so a listed file can be missing but a file on
#    disk is always listed).
# 2. A live or crashed writer's leftovers are tolerated only where they can occur: a half-written
#    last line of the newest segment of the newest day is not yielded, and that segment may be
#    listed before it exists. Anything else (bad checksum, seq gap, incomplete line elsewhere,
#    unlisted file) raises JournalCorrupt naming file, line and seq. Nothing is skipped silently.
# 3. Bulk reading (iter_blocks, iter_records): lines come a scanner chunk at a time and are
#    checked by polyarb.journal.fastscan, which is never looser than the per-line reference
#    check; a line it does not vouch for is checked the reference way, in order, so errors are
#    raised where and as they were: every good line before a bad one is still yielded first.
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from polyarb.events import CodecError, Record, decode_record
from polyarb.events.codec import split_line
from polyarb.journal import layout
from polyarb.journal.errors import JournalCorrupt, JournalUnreadable, Problem
from polyarb.journal.fastscan import checked_run, decode, seq_run
from polyarb.journal.scan import LineScanner, locate, read_manifest_or_none, segment_files


class _Seg:
    """One segment to read, with where it sits in the journal."""

    def __init__(self, root: Path, day: str, info: layout.SegmentInfo, live: bool) -> None:
        self.path = root / day / info.name
        self.name = f"{day}/{info.name}"
        self.info = info
        self.live = live  # the newest segment of the newest day: its tail may be half-written


def _corrupt(file: str, message: str, **where: int | None) -> JournalCorrupt:
    return JournalCorrupt([Problem(file=file, message=message, **where)])


def _day_segments(root: Path, day: str, newest: bool) -> list[_Seg]:
    day_dir = root / day
    on_disk = segment_files(day_dir)  # before the manifest (rule 1)
    m, why = read_manifest_or_none(day_dir)
    where = f"{day}/{layout.MANIFEST_NAME}"
    if m is None:
        if newest and not on_disk:
            return []  # a day roll in progress (or interrupted): nothing written yet
        raise _corrupt(where, str(why))
    unlisted = [n for n in sorted(on_disk - {s.name for s in m.segments}) if (day_dir / n).exists()]
    if unlisted:
        raise _corrupt(f"{day}/{unlisted[0]}", "segment file is not listed in the manifest")
    out = []
    for i, info in enumerate(m.segments):
        last = i == len(m.segments) - 1
        if info.name not in on_disk and not (day_dir / info.name).exists():
            if newest and last and not info.closed:
                continue  # listed just before creation
            raise _corrupt(f"{day}/{info.name}", "segment listed in the manifest is missing")
        out.append(_Seg(root, day, info, newest and last and not info.closed))
    return out


def _segments(path: Path | str, day: str | None) -> Iterator[_Seg]:
    root, days = locate(path)
    all_days = layout.list_days(root)
    newest = all_days[-1] if all_days else None
    if day is not None:
        if day not in days:
            raise JournalUnreadable(f"{root}: no day {day}")
        days = [day]
    for name in days:
        yield from _day_segments(root, name, name == newest)


def _seq_of(line: bytes) -> int:
    try:
        return int(line[7 : line.index(b",", 7)])
    except ValueError:
        return -1


def _lines(
    path: Path | str, from_seq: int, day: str | None, check: bool
) -> Iterator[tuple[_Seg, int, int, bytes]]:
    """(segment, line number, seq, line) of every complete record with seq >= from_seq."""
    for seg, scanner, cursor in _walk(path, day, from_seq):
        expect = cursor.expect
        for line_no, offset, line in scanner:
            seq = _seq_of(line)
            if seq != expect or (check and seq >= from_seq):
                try:
                    split_line(line)
                except CodecError as exc:
                    where = {"line": line_no, "seq": exc.seq, "offset": offset}
                    raise _corrupt(seg.name, exc.reason, **where) from None
            if seq != expect:
                msg = f"seq {seq} where {expect} was expected"
                raise _corrupt(seg.name, msg, line=line_no, seq=seq, offset=offset)
            expect = seq + 1
            if seq >= from_seq:
                yield seg, line_no, seq, line
        cursor.expect = expect


class _Cursor:
    """The seq the next line must carry; the consumer of `_walk` advances it."""

    __slots__ = ("expect",)

    def __init__(self, expect: int) -> None:
        self.expect = expect


def _walk(path: Path | str, day: str | None,
          from_seq: int) -> Iterator[tuple[_Seg, LineScanner, _Cursor]]:
    """The segments to scan, with seq continuity across them and each one's end checked.

    Segments wholly before from_seq are skipped by their manifest range. The consumer reads the
    scanner and advances `cursor.expect` past every line it consumed before asking for the next
    segment; the segment's end is then checked against it (_check_end).
    """
    expect: int | None = None
    for seg in _segments(path, day):
        info = seg.info
        if expect is not None and info.first_seq != expect:
            raise _corrupt(seg.name, f"segment starts at seq {info.first_seq}, expected {expect}")
        if info.closed and info.last_seq is not None and info.last_seq < from_seq:
            expect = info.last_seq + 1
            continue
        cursor = _Cursor(info.first_seq)
        scanner = LineScanner(seg.path, missing_ok=seg.live)
        yield seg, scanner, cursor
        expect = cursor.expect
        _check_end(seg, scanner, expect)


def _check_end(seg: _Seg, scanner: LineScanner, expect: int) -> None:
    if scanner.overlong:
        line_no, offset = scanner.overlong[0]
        raise _corrupt(seg.name, "line too long to be a record", line=line_no, offset=offset)
    if scanner.tail and not seg.live:
        msg = f"segment ends with an incomplete line ({scanner.tail} bytes)"
        raise _corrupt(seg.name, msg, line=scanner.lines + 1, offset=scanner.complete)
    last = seg.info.last_seq
    if seg.info.closed and last is not None and expect - 1 != last:
        raise _corrupt(seg.name, f"closed segment ends at seq {expect - 1}, manifest says {last}")


def iter_lines(
    path: Path | str, from_seq: int = 1, *, day: str | None = None, check: bool = True
) -> Iterator[tuple[Path, int, bytes]]:
    """Yield `(segment path, seq, line)` of every complete record with seq >= from_seq, in order.

    Args:
        path: a journal root or one day directory.
        from_seq: first seq wanted; closed segments before it are skipped without reading.
        day: only this day (`YYYY-MM-DD`) of the root.
        check: verify each yielded line's layout and CRC (seq continuity is always checked).

    Raises:
        JournalUnreadable: not a journal, missing, no permission.
        JournalCorrupt: a bad line, a seq gap or a manifest/file mismatch (names file and line).
    """
    for seg, _line_no, seq, line in _lines(path, from_seq, day, check):
        yield seg.path, seq, line


class LineBlock:
    """Consecutive checked records of one segment: `lines[i]` is seq `first_seq + i`.

    Lines come without their newline. Each has the right seq and (unless read with
    check=False) a good envelope and CRC. Decoding is left to the caller: when `fast`,
    fastscan vouched for every line and `fastscan.decode(line)` is its event unless it raises;
    otherwise (and when it raises) `record(i)` is the reference decode, with the reader's error.
    """

    __slots__ = ("fast", "first_line", "first_seq", "lines", "name", "path")

    def __init__(self, seg: _Seg, first_seq: int, first_line: int, lines: list[bytes],
                 fast: bool) -> None:
        self.name = seg.name  # `day/seg-....ndjson`, as errors name it
        self.path = seg.path
        self.first_seq = first_seq
        self.first_line = first_line
        self.lines = lines
        self.fast = fast

    def records(self) -> Iterator[Record]:
        """Every line decoded: the fast decode where it holds, the reference one elsewhere."""
        if not self.fast:
            yield from map(self.record, range(len(self.lines)))
            return
        seq = self.first_seq
        for i, line in enumerate(self.lines):
            try:
                record = Record(seq + i, decode(line))
            except Exception:  # the reference decode names the reason
                record = self.record(i)
            yield record

    def record(self, i: int) -> Record:
        """Decode lines[i] the reference way (upcasts included).

        Raises:
            JournalCorrupt: the line does not decode; names file, line and seq.
        """
        try:
            return decode_record(self.lines[i])
        except CodecError as exc:
            seq = self.first_seq + i
            raise _corrupt(self.name, exc.reason, line=self.first_line + i, seq=seq) from None


def iter_blocks(
    path: Path | str, from_seq: int = 1, *, day: str | None = None, check: bool = True
) -> Iterator[LineBlock]:
    """Yield the complete records with seq >= from_seq as LineBlocks, in seq order (rule 3).

    Checks what iter_records checks (seq continuity, layout and CRC of every line yielded,
    manifest/file agreement) and tolerates a live writer the same way. With check=False only
    seq continuity is checked, as iter_lines(check=False): no block is `fast` then, so
    `record(i)` checks the CRC of any line the caller decodes.

    Raises:
        JournalUnreadable: not a journal, missing, no permission.
        JournalCorrupt: a bad line, a seq gap or a manifest/file mismatch (names file and line).
    """
    runs = _runs if check else _seq_runs
    for seg, scanner, cursor in _walk(path, day, from_seq):
        for line_no, offset, lines in scanner.blocks():
            yield from runs(seg, line_no, offset, lines, cursor.expect, from_seq)
            cursor.expect += len(lines)


def _runs(seg: _Seg, line_no: int, offset: int, lines: list[bytes], expect: int,
          from_seq: int) -> Iterator[LineBlock]:
    """One scanner chunk as runs of lines fastscan vouches for, the others checked one by one."""
    i, n, at = 0, len(lines), offset
    while i < n and expect + i < from_seq:  # before from_seq: seq continuity only, as _lines
        _check_line(seg, line_no + i, at, lines[i], expect + i, False)
        at += len(lines[i]) + 1  # _offset(offset, lines, i + 1), without its O(i) sum per line
        i += 1
    while i < n:
        j = checked_run(lines, i, expect + i)
        if j > i:
            run = lines if i == 0 and j == n else lines[i:j]
            yield LineBlock(seg, expect + i, line_no + i, run, True)
        if j < n:  # the reference check raises, or takes a valid but unusual line
            _check_line(seg, line_no + j, _offset(offset, lines, j), lines[j], expect + j, True)
            yield LineBlock(seg, expect + j, line_no + j, lines[j : j + 1], False)
        i = j + 1


def _seq_runs(seg: _Seg, line_no: int, offset: int, lines: list[bytes], expect: int,
              from_seq: int) -> Iterator[LineBlock]:
    """_runs for check=False: seq continuity only, every block left to the reference decode."""
    i, n = 0, len(lines)
    while i < n:
        j = seq_run(lines, i, expect + i)
        k = max(i, from_seq - expect)
        if j > k:
            yield LineBlock(seg, expect + k, line_no + k, lines[k:j], False)
        if j < n:  # the reference check raises, or takes a valid but unusual seq
            _check_line(seg, line_no + j, _offset(offset, lines, j), lines[j], expect + j, False)
            if expect + j >= from_seq:
                yield LineBlock(seg, expect + j, line_no + j, lines[j : j + 1], False)
        i = j + 1


def _offset(offset: int, lines: list[bytes], i: int) -> int:
    return offset + sum(map(len, lines[:i])) + i


def _check_line(seg: _Seg, line_no: int, offset: int, line: bytes, expect: int,
                crc: bool) -> None:
    """The reference check of one line: the errors _lines and iter_records raise."""
    seq = _seq_of(line)
    if seq != expect:
        try:
            split_line(line)
        except CodecError as exc:
            where = {"line": line_no, "seq": exc.seq, "offset": offset}
            raise _corrupt(seg.name, exc.reason, **where) from None
        msg = f"seq {seq} where {expect} was expected"
        raise _corrupt(seg.name, msg, line=line_no, seq=seq, offset=offset)
    if crc:
        try:
            split_line(line)
        except CodecError as exc:  # raised by decode_record in iter_records: no offset
            raise _corrupt(seg.name, exc.reason, line=line_no, seq=seq) from None


def iter_records(
    path: Path | str, from_seq: int = 1, *, day: str | None = None
) -> Iterator[Record]:
    """Yield every complete record with seq >= from_seq, decoded and typed, in seq order.

    Tolerates a live writer: a half-written last line of the newest segment is not yielded.

    Raises:
        JournalUnreadable: not a journal, missing, no permission.
        JournalCorrupt: a line that does not decode (bad CRC, unknown kind, newer schema), a seq
            gap or a manifest/file mismatch; the problem names the file, line and seq.
    """
    for block in iter_blocks(path, from_seq, day=day):
        yield from block.records()
