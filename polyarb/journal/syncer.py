# The writer's background fsync (policy "batch"): one worker thread, at most one fsync in flight.
#
# Rules:
# 1. The writer's thread writes a batch (page cache) and hands the syncer a target: the open
#    segment and the last seq written to it. The worker fsyncs that segment, and only once the
#    fsync has returned publishes `durable_seq`: every published seq was written before an fsync
#    that started after it and completed.
# 2. At most one fsync in flight. Targets handed in meanwhile coalesce (the newest wins, since
#    seqs only grow) into the next fsync, which starts as soon as the one in flight returns.
# 3. The worker only fsyncs: it never writes, hashes, closes a file or touches a manifest. The
#    writer drains the syncer (in-flight and queued fsync finished) before it fsyncs on its own
#    thread, rolls a segment or a day, or closes: so no fsync runs on a closed fd and no manifest
#    calls a segment complete before its fsync returned.
# 4. Crash-only: a failed fsync is kept, nothing is published after it, and it is raised on the
#    writer's thread at its next request or drain.
# 5. The thread starts at the first request (a forked child starts its own) and ends at `stop`.
#    os.fsync releases the GIL, so the writer's thread keeps running during the fsync.
from __future__ import annotations

import threading
from typing import Protocol


class Syncable(Protocol):
    """What the worker fsyncs (SegmentFile)."""

    def sync(self) -> None:
        """fsync the file."""


class Syncer:
    """A single fsync worker for one writer (rules 1-5).

    Args:
        durable_seq: the highest seq already durable when the writer opened.

    Attributes:
        durable_seq: the highest seq known to be fsynced. Written by the worker after an fsync
            returns, or by `publish` while the worker is idle; read by anyone.
    """

    def __init__(self, durable_seq: int) -> None:
        self.durable_seq = durable_seq
        self._cond = threading.Condition(threading.Lock())
        self._target: tuple[Syncable, int] | None = None
        self._busy = False
        self._stopping = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def request(self, segment: Syncable, seq: int) -> None:
        """Have `segment` fsynced so that `seq` (already written to it) becomes durable.

        Returns at once; the fsync starts now, or when the one in flight returns.

        Raises:
            BaseException: the error of an earlier background fsync (rule 4).
        """
        with self._cond:
            self._raise_failure()
            self._target = (segment, seq)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="journal-fsync", daemon=True
                )
                self._thread.start()
            else:
                self._cond.notify()

    def drain(self) -> None:
        """Wait until no fsync is in flight or queued.

        Raises:
            BaseException: the error of a background fsync (rule 4).
        """
        with self._cond:
            while (self._busy or self._target is not None) and self._error is None:
                self._cond.wait()
            self._raise_failure()

    def publish(self, seq: int) -> None:
        """Record an fsync the writer did on its own thread (after `drain`)."""
        with self._cond:
            if seq > self.durable_seq:
                self.durable_seq = seq

    def stop(self) -> None:
        """Let the fsync in flight finish, drop a queued one and end the thread (idempotent)."""
        with self._cond:
            self._stopping = True
            self._target = None
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while self._target is None and not self._stopping:
                    cond.wait()
                if self._target is None:
                    return
                segment, seq = self._target
                self._target = None
                self._busy = True
            try:
                segment.sync()
            except BaseException as exc:  # kept for the writer's thread (rule 4)
                with cond:
                    self._error = exc
                    self._busy = False
                    cond.notify_all()
                return
            with cond:
                if seq > self.durable_seq:
                    self.durable_seq = seq
                self._busy = False
                cond.notify_all()
