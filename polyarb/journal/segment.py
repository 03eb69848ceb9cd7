# One open segment file of the writer: the file descriptor, its running sha256 and counters.
#
# Rules:
# 1. Bytes go through `write` only, which hashes exactly what it writes: the running sha256 is
#    always the hash of the file's contents, so closing a segment needs no re-read.
# 2. Files are created owner-only (0600) with O_EXCL: a segment is never created twice, and the
#    directory is fsynced so the new name survives a power loss.
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from polyarb.journal import layout
from polyarb.journal.recovery import OpenSegment

_fdatasync = getattr(os, "fdatasync", os.fsync)  # appends: the new size is flushed with the data


class SegmentFile:
    """The writer's open segment. `info` is its manifest entry, finalised by `close()`."""

    def __init__(
        self, path: Path, info: layout.SegmentInfo, fd: int, hasher: Any, size: int, records: int
    ) -> None:
        self.path = path
        self.info = info
        self.size = size
        self.records = records
        self._fd = fd
        self._hasher = hasher

    @classmethod
    def create(cls, path: Path, info: layout.SegmentInfo) -> SegmentFile:
        """Create a new, empty segment file (it must not exist)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        fd = os.open(path, flags, layout.FILE_MODE)
        layout.fsync_dir(path.parent)
        return cls(path, info, fd, hashlib.sha256(), 0, 0)

    @classmethod
    def resume(cls, found: OpenSegment) -> SegmentFile:
        """Continue appending to the segment crash recovery checked (and trimmed)."""
        fd = os.open(found.path, os.O_WRONLY | os.O_APPEND)
        return cls(found.path, found.info, fd, found.hasher, found.size, found.records)

    def write(self, data: bytes, records: int) -> None:
        """Append `data` (holding `records` complete lines) and hash it."""
        written = os.write(self._fd, data)
        if written != len(data):
            view = memoryview(data)[written:]
            while view:
                view = view[os.write(self._fd, view) :]
        self._hasher.update(data)
        self.size += len(data)
        self.records += records

    def sync(self) -> None:
        _fdatasync(self._fd)

    def close(self) -> None:
        """Finalise the manifest entry (the caller fsynced) and close the file."""
        info = self.info
        info.closed = True
        info.records = self.records
        info.last_seq = info.first_seq + self.records - 1
        info.bytes = self.size
        info.sha256 = self._hasher.hexdigest()
        self.abandon()

    def discard(self) -> None:
        """Close and delete an empty segment (the caller then drops it from the manifest)."""
        self.abandon()
        self.path.unlink()
        layout.fsync_dir(self.path.parent)

    def abandon(self) -> None:
        """Close the file without touching the manifest (shutdown after a failure)."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)
