# Reading segment files and finding journal directories, for recovery, verify and the readers.
#
# Rules:
# 1. Files are read in fixed-size chunks: memory stays bounded on garbage (a 1 GB "line" with no
#    newline is counted, never held). A line longer than MAX_LINE is reported, not yielded; a
#    line is held while it is assembled only up to HOLD bytes, beyond that it is re-read from
#    the file once its newline arrives (so a 200 MB tail without newline costs HOLD, not 200 MB).
# 2. Bytes after the last newline of a file are its "tail": the scanner reports their size and
#    whether they are all zero (a power loss can leave a zero-filled tail); it never yields them.
# 3. Nothing here writes. Locating a journal distinguishes "not a journal" (JournalUnreadable)
#    from a journal with problems, which the callers report. A file that cannot be read (a
#    directory in its place, an I/O error) is JournalUnreadable naming it; a manifest naming a
#    segment that is no segment file name (a path) or a sha256 that is no hex digest is
#    unreadable, so no reader follows it outside its day directory.
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from polyarb.journal import layout
from polyarb.journal.errors import JournalUnreadable

CHUNK = 1 << 20
MAX_LINE = 256 << 20  # a record may embed a large REST body; anything longer is garbage
HOLD = 4 << 20  # a longer line is re-read from the file once complete (rule 1)
_HEX = frozenset("0123456789abcdef")


class LineScanner:
    """Iterate over the complete lines of one file: `(line_no, offset, line)` with the newline.

    After iteration: `size` (bytes read), `complete` (offset just after the last newline),
    `tail` (bytes after it), `tail_zero` (the tail is all NUL bytes), `lines` (complete lines),
    `overlong` (line numbers and offsets of lines longer than MAX_LINE, skipped) and `hasher` /
    `sha256` (over every byte read, when `hash_all`).
    """

    def __init__(self, path: Path, *, hash_all: bool = False, missing_ok: bool = False) -> None:
        self.path = path
        self.missing_ok = missing_ok  # a live writer may delete an empty open segment at close
        self.size = 0
        self.complete = 0
        self.tail = 0
        self.tail_zero = True
        self.lines = 0
        self.overlong: list[tuple[int, int]] = []
        self.hasher = hashlib.sha256() if hash_all else None

    @property
    def sha256(self) -> str | None:
        return None if self.hasher is None else self.hasher.hexdigest()

    def _chunks(self) -> Iterator[bytes]:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 (closed below; a missing file may be fine)
        except FileNotFoundError:
            if not self.missing_ok:
                raise
            return
        except OSError as exc:  # a directory in the file's place, no permission, ...
            raise JournalUnreadable(f"{self.path}: cannot read: {exc.strerror}") from exc
        with f:
            while chunk := f.read(CHUNK):
                self.size += len(chunk)
                if self.hasher is not None:
                    self.hasher.update(chunk)
                yield chunk

    def _reread(self, offset: int, length: int) -> bytes:
        """A complete line longer than HOLD, read again from the file (rule 1)."""
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def __iter__(self) -> Iterator[tuple[int, int, bytes]]:
        for line_no, offset, lines in self.blocks():
            for line in lines:
                yield line_no, offset, line + b"\n"
                line_no += 1
                offset += len(line) + 1

    def blocks(self) -> Iterator[tuple[int, int, list[bytes]]]:
        """The complete lines chunk by chunk: `(line_no, offset, lines)` of the first line.

        Lines come without their newline; an overlong line is left out (and the numbering of
        the block starts after it). One `bytes.split` per chunk instead of a Python step per
        line: the readers' hot path.
        """
        line_no, offset = 1, 0
        partial: list[bytes] = []  # pieces of the line being assembled, up to HOLD (rule 1)
        partial_len, zero = 0, True
        for chunk in self._chunks():
            pieces = chunk.split(b"\n")
            rest = pieces.pop()
            if pieces:
                first = len(pieces[0]) + partial_len
                if first > MAX_LINE:  # only the first can be: CHUNK <= MAX_LINE
                    self.overlong.append((line_no, offset))
                    pieces[0] = b""
                elif partial_len > HOLD:
                    pieces[0] = self._reread(offset, first)
                elif partial:
                    pieces[0] = b"".join(partial) + pieces[0]
                if first <= MAX_LINE:
                    yield line_no, offset, pieces
                elif len(pieces) > 1:
                    yield line_no + 1, offset + first + 1, pieces[1:]
                line_no += len(pieces)
                offset = self.size - len(rest)  # just after this chunk's last newline
                partial.clear()
                partial_len, zero = 0, True
            if rest:
                partial_len += len(rest)
                if partial_len <= HOLD:  # beyond it the line is only counted, never held
                    partial.append(rest)
                else:
                    partial.clear()
                zero = zero and rest.count(0) == len(rest)
        self.complete, self.tail, self.lines = offset, partial_len, line_no - 1
        self.tail_zero = zero and partial_len > 0


def _read(f: Any, path: Path) -> bytes:
    """The next chunk of an open file; an I/O error is JournalUnreadable naming it (rule 3)."""
    try:
        data: bytes = f.read(CHUNK)
    except OSError as exc:
        raise JournalUnreadable(f"{path}: cannot read: {exc.strerror}") from exc
    return data


def last_line(path: Path) -> bytes | None:
    """The last complete line of a file (which must end with a newline), read from the end."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        window = 4096
        while True:
            start = max(0, end - window)
            f.seek(start)
            data = f.read(end - start)
            if not data.endswith(b"\n"):
                return None
            cut = data.rfind(b"\n", 0, len(data) - 1)
            if cut >= 0 or start == 0:
                return data[cut + 1 :]
            if window > MAX_LINE:
                return None
            window *= 4


def segment_files(day_dir: Path) -> set[str]:
    """Names of the segment files in a day directory."""
    return {p.name for p in day_dir.iterdir() if layout.is_segment_name(p.name)}


def read_manifest_or_none(day_dir: Path) -> tuple[layout.Manifest | None, str | None]:
    """A day's manifest, or (None, reason) when it is missing or undecodable.

    Raises:
        JournalUnreadable: permission denied.
    """
    try:
        manifest = layout.read_manifest(day_dir)
    except FileNotFoundError:
        return None, "manifest is missing"
    except PermissionError as exc:
        raise JournalUnreadable(f"cannot read {day_dir / layout.MANIFEST_NAME}: {exc}") from exc
    except (OSError, msgspec.DecodeError) as exc:
        return None, f"manifest is unreadable: {exc}"
    why = _bad_segment_entry(manifest)
    return (manifest, None) if why is None else (None, f"manifest is unreadable: {why}")


def _bad_segment_entry(m: layout.Manifest) -> str | None:
    """Why a manifest's segment list cannot be followed safely (rule 3), or None."""
    for i, seg in enumerate(m.segments):
        if not layout.is_segment_name(seg.name):
            return f"segments[{i}].name {seg.name[:80]!r} is not a segment file name"
        if seg.sha256 is not None and (len(seg.sha256) != 64 or not _HEX.issuperset(seg.sha256)):
            return f"segments[{i}].sha256 is not a hex sha256"
    return None


def locate(path: Path | str) -> tuple[Path, list[str]]:
    """Resolve a journal root or one day directory to `(root, days to read)`.

    A day directory is a directory named `YYYY-MM-DD` holding a manifest or segments; anything
    else must be a journal root (a directory with day directories or a writer.lock).

    Raises:
        JournalUnreadable: missing, not a directory, no permission, or not a journal.
    """
    p = Path(path)
    try:
        if not p.exists():
            raise JournalUnreadable(f"{p}: no such directory")
        if not p.is_dir():
            raise JournalUnreadable(f"{p}: not a directory")
        names = os.listdir(p)
    except PermissionError as exc:
        raise JournalUnreadable(f"{p}: {exc}") from exc
    if layout.is_day_name(p.name) and (
        layout.MANIFEST_NAME in names or any(layout.is_segment_name(n) for n in names)
    ):
        return p.parent, [p.name]
    days = layout.list_days(p)
    if not days and layout.LOCK_NAME not in names:
        raise JournalUnreadable(f"{p}: not a polyarb journal (no day directories, no writer.lock)")
    return p, days


_TS_KEY = b'"ts_recv_ns":'


def ts_of_line(line: bytes) -> int | None:
    """The ts_recv_ns of a CRC-checked line, read from its fixed envelope without a JSON parse."""
    start = line.find(_TS_KEY, 0, 200)
    if start < 0:
        return None
    start += len(_TS_KEY)
    end = start
    while end < len(line) and line[end] in b"-0123456789":
        end += 1
    try:
        return int(line[start:end])
    except ValueError:
        return None


def kind_of_line(line: bytes) -> str | None:
    """The kind of a CRC-checked line, read from its fixed envelope without a JSON parse."""
    start = line.find(b'"kind":"', 0, 120)
    if start < 0:
        return None
    start += 8
    end = line.find(b'"', start)
    return line[start:end].decode("utf-8", "replace") if end > 0 else None
