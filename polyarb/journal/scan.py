# Reading segment files and finding journal directories, for recovery, verify and the readers.
#
# Rules:
# 1. Files are read in fixed-size chunks: memory stays bounded on garbage (a 1 GB "line" with no
#    newline is counted, never held). A line longer than MAX_LINE is reported, not yielded.
# 2. Bytes after the last newline of a file are its "tail": the scanner reports their size and
#    whether they are all zero (a power loss can leave a zero-filled tail); it never yields them.
# 3. Nothing here writes. Locating a journal distinguishes "not a journal" (JournalUnreadable)
#    from a journal with problems, which the callers report.
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec

from polyarb.journal import layout
from polyarb.journal.errors import JournalUnreadable

CHUNK = 1 << 20
MAX_LINE = 256 << 20  # a record may embed a large REST body; anything longer is garbage


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
        with f:
            while chunk := f.read(CHUNK):
                self.size += len(chunk)
                if self.hasher is not None:
                    self.hasher.update(chunk)
                yield chunk

    def __iter__(self) -> Iterator[tuple[int, int, bytes]]:
        line_no, offset = 1, 0
        partial: list[bytes] = []  # pieces of the line being assembled
        partial_len, zero = 0, True
        for chunk in self._chunks():
            pieces = chunk.split(b"\n")
            for piece in pieces[:-1]:
                length = partial_len + len(piece) + 1
                if length > MAX_LINE + 1:
                    self.overlong.append((line_no, offset))
                elif partial:
                    partial.append(piece)
                    yield line_no, offset, b"".join(partial) + b"\n"
                else:
                    yield line_no, offset, piece + b"\n"
                partial.clear()
                partial_len, zero = 0, True
                line_no += 1
                offset += length
            rest = pieces[-1]
            if rest:
                if partial_len <= MAX_LINE:  # beyond it the line is only counted, never held
                    partial.append(rest)
                partial_len += len(rest)
                zero = zero and rest.count(0) == len(rest)
        self.complete, self.tail, self.lines = offset, partial_len, line_no - 1
        self.tail_zero = zero and partial_len > 0


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
        return layout.read_manifest(day_dir), None
    except FileNotFoundError:
        return None, "manifest is missing"
    except PermissionError as exc:
        raise JournalUnreadable(f"cannot read {day_dir / layout.MANIFEST_NAME}: {exc}") from exc
    except (OSError, msgspec.DecodeError) as exc:
        return None, f"manifest is unreadable: {exc}"


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
