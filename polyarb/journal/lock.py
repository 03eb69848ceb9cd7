# The single-writer lock: an exclusive, non-blocking flock on `<root>/writer.lock`.
#
# Rules:
# 1. flock (not a pid file) so the kernel releases the lock when the holder dies, however it dies:
#    a crashed writer never blocks the next one.
# 2. The holder writes its pid, host and start time into the file (one JSON object) so that a
#    second writer can say who holds the journal. Those contents are information only; the
#    flock is the lock.
# 3. Readers never touch this file.
# 4. A world-writable root or day directory is refused before the lock file is even created
#    (layout.check_not_world_writable): every writer (JournalWriter.open, seal) locks first.
from __future__ import annotations

import datetime as _dt
import fcntl
import os
import socket
from pathlib import Path

import msgspec

from polyarb.journal import layout
from polyarb.journal.errors import JournalLocked, JournalUnreadable


class LockHolder(msgspec.Struct, frozen=True, kw_only=True):
    """Who holds a journal: written into writer.lock by the holder."""

    pid: int
    host: str
    since: str


class WriterLock:
    """An acquired writer lock. Release it with `release()` (idempotent)."""

    def __init__(self, path: Path, fd: int, holder: LockHolder) -> None:
        self.path = path
        self.holder = holder
        self._fd = fd

    @classmethod
    def acquire(cls, root: Path) -> WriterLock:
        """Take the exclusive lock of the journal at `root` without waiting.

        Raises:
            JournalLocked: another open file description holds it (names the holder).
            JournalUnreadable: the lock file cannot be opened (permissions, not a directory).
            JournalInsecure: the root or a day directory is world-writable.
        """
        layout.check_not_world_writable(root)
        path = root / layout.LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, layout.FILE_MODE)
        except OSError as exc:
            raise JournalUnreadable(f"cannot open {path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _read_holder(fd)
            os.close(fd)
            raise JournalLocked(
                str(root),
                other.pid if other else None,
                other.host if other else None,
                other.since if other else None,
            ) from None
        holder = LockHolder(
            pid=os.getpid(),
            host=socket.gethostname(),
            since=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, msgspec.json.encode(holder) + b"\n", 0)
        return cls(path, fd, holder)

    def release(self) -> None:
        """Clear the holder details and release the lock."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the last descriptor releases the flock


def _read_holder(fd: int) -> LockHolder | None:
    try:
        data = os.pread(fd, 4096, 0)
        return msgspec.json.decode(data.strip(), type=LockHolder)
    except (OSError, msgspec.DecodeError):
        return None  # the holder is between taking the lock and writing its details
