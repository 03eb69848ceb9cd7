# Structural checks of a day: its manifest against itself, the previous day and the files on disk.
# Shared by crash recovery (which refuses to open on any problem) and verify (which reports all).
#
# Rules:
# 1. Pure over what it is given, except for stat() and hashing of the files it checks; it never
#    writes. Every problem names the file it is about (relative to the journal root).
# 2. The only manifest/file disagreement that is not a problem is the one a crash leaves by
#    design: the open last segment of the newest day listed but not created yet. It is returned
#    separately so recovery can create it and verify can say so.
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from polyarb.events import CodecError
from polyarb.events.codec import split_line
from polyarb.journal import layout
from polyarb.journal.errors import Problem
from polyarb.journal.scan import LineScanner

PREV_UNKNOWN = layout.Manifest(day="unknown")
"""Pass as `prev` when the previous day is not being checked (verify of one day directory)."""


def check_manifest(
    m: layout.Manifest, dir_name: str, prev: layout.Manifest | None, *, newest: bool
) -> list[Problem]:
    """Problems of one day's manifest in itself and against the previous day's (None: first day)."""
    where = f"{dir_name}/{layout.MANIFEST_NAME}"
    out = [Problem(file=where, message=msg) for msg in _header_problems(m, dir_name)]
    out += [Problem(file=where, message=msg) for msg in _link_problems(m, prev)]
    out += [Problem(file=where, message=msg) for msg in _segment_list_problems(m)]
    if m.closed:
        out += [Problem(file=where, message=msg) for msg in _closed_day_problems(m)]
    elif not newest:
        out.append(Problem(file=where, message="day is not closed but a later day exists"))
    return out


def _header_problems(m: layout.Manifest, dir_name: str) -> list[str]:
    out = []
    if m.format != layout.JOURNAL_FORMAT:
        out.append(f"format is {m.format!r}, expected {layout.JOURNAL_FORMAT!r}")
    if m.format_version != layout.JOURNAL_FORMAT_VERSION:
        out.append(f"format_version {m.format_version} is not readable by this polyarb (v1)")
    if m.day != dir_name:
        out.append(f"manifest is for day {m.day!r}, directory is {dir_name!r}")
    return out


def _link_problems(m: layout.Manifest, prev: layout.Manifest | None) -> list[str]:
    if prev is PREV_UNKNOWN:
        return []
    want_digest = None if prev is None else prev.digest
    want_first = 1 if prev is None else (prev.last_seq or 0) + 1
    out = []
    if m.prev_digest != want_digest:
        out.append(f"prev_digest {m.prev_digest} is not the previous day's digest {want_digest}")
    if m.first_seq is not None and m.first_seq != want_first:
        out.append(f"first_seq {m.first_seq} does not follow the previous day (want {want_first})")
    return out


def _segment_list_problems(m: layout.Manifest) -> list[str]:
    out = []
    expect = m.first_seq
    for i, seg in enumerate(m.segments):
        if seg.name != layout.segment_name(seg.first_seq):
            out.append(f"segment {seg.name} does not match its first_seq {seg.first_seq}")
        if expect is not None and seg.first_seq != expect:
            out.append(f"segment {seg.name} starts at seq {seg.first_seq}, expected {expect}")
        if not seg.closed:
            if i != len(m.segments) - 1:
                out.append(f"segment {seg.name} is open but is not the last segment")
            expect = None
            continue
        if seg.records < 1 or seg.sha256 is None or seg.last_seq is None:
            out.append(f"closed segment {seg.name} has no records, last_seq or sha256")
            expect = None
        elif seg.last_seq != seg.first_seq + seg.records - 1:
            out.append(f"segment {seg.name}: last_seq {seg.last_seq} != first_seq + records - 1")
            expect = None
        else:
            expect = seg.last_seq + 1
    return out


def _closed_day_problems(m: layout.Manifest) -> list[str]:
    out = []
    if not m.segments:
        return ["closed day has no segments"]
    if any(not seg.closed for seg in m.segments):
        out.append("day is closed but has an open segment")
        return out
    if m.digest != layout.day_digest(m):
        out.append(f"digest {m.digest} does not match the hash chain of its segments")
    last = m.segments[-1].last_seq
    total = sum(seg.records for seg in m.segments)
    if m.last_seq != last or m.records != total:
        got = f"{m.last_seq}/{m.records}"
        out.append(f"last_seq/records {got} disagree with the segments' {last}/{total}")
    return out


def check_files(
    day_dir: Path, m: layout.Manifest, on_disk: set[str], *, newest: bool
) -> tuple[list[Problem], str | None]:
    """Compare the manifest's segments with the segment files `on_disk` (names, sizes).

    Returns:
        (problems, name of the missing open last segment of the newest day, or None).
    """
    listed = {seg.name for seg in m.segments}
    out = [
        Problem(file=f"{day_dir.name}/{name}", message="segment file is not listed in the manifest")
        for name in sorted(on_disk - listed)
    ]
    missing_open = None
    for i, seg in enumerate(m.segments):
        where = f"{day_dir.name}/{seg.name}"
        if seg.name not in on_disk:
            if newest and not seg.closed and i == len(m.segments) - 1:
                missing_open = seg.name
            else:
                out.append(Problem(file=where, message="segment listed in the manifest is missing"))
            continue
        if seg.closed:
            size = os.stat(day_dir / seg.name).st_size
            if size != seg.bytes:
                out.append(Problem(file=where, message=_size_message(size, seg.bytes)))
    return out, missing_open


def _size_message(size: int, expected: int) -> str:
    what = "truncated" if size < expected else "has bytes appended"
    return f"closed segment is {size} bytes, manifest says {expected} ({what})"


def check_closed_hashes(day_dir: Path, m: layout.Manifest) -> list[Problem]:
    """Rehash every closed segment of a day and compare with the manifest."""
    out = []
    for seg in m.segments:
        if not seg.closed:
            continue
        path = day_dir / seg.name
        if not path.exists() or os.stat(path).st_size != seg.bytes:
            continue  # reported by check_files
        if hash_file(path).hexdigest() != seg.sha256:
            out.append(_locate_damage(path, f"{day_dir.name}/{seg.name}", seg.first_seq))
    return out


def _locate_damage(path: Path, name: str, first_seq: int) -> Problem:
    """The first bad line of a segment whose sha256 does not match (only on that failure path)."""
    message = "closed segment was modified: sha256 does not match the manifest"
    expect = first_seq
    for line_no, offset, line in LineScanner(path):
        try:
            seq, _v, _body = split_line(line)
        except CodecError as exc:
            return Problem(
                file=name, line=line_no, seq=exc.seq, offset=offset, message=f"{message}; {exc}"
            )
        if seq != expect:
            return Problem(
                file=name,
                line=line_no,
                seq=seq,
                offset=offset,
                message=f"{message}; seq {seq} where {expect} was expected",
            )
        expect += 1
    return Problem(file=name, message=message)


def hash_file(path: Path, limit: int | None = None) -> hashlib._Hash:
    """sha256 over the first `limit` bytes of a file (all of it when None)."""
    h = hashlib.sha256()
    left = limit
    with open(path, "rb") as f:
        while left is None or left > 0:
            chunk = f.read(1 << 20 if left is None else min(1 << 20, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
    return h
