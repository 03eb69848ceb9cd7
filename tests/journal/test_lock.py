# The single-writer lock: a second writer fails at once naming the holder; a dead holder (however
# it died) never blocks the next writer; readers never need the lock.
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from polyarb.journal import JournalLocked, JournalWriter, iter_records, layout

_HOLD = """
import sys
from polyarb.journal import JournalWriter
w = JournalWriter.open(sys.argv[1])
print("holding", flush=True)
sys.stdin.readline()  # hold the lock until the parent says so (or kills us)
w.close()
"""

_TRY = """
import sys
from polyarb.journal import JournalLocked, JournalWriter
try:
    JournalWriter.open(sys.argv[1])
except JournalLocked as exc:
    print(exc.pid, "|", exc, flush=True)
"""


def _holder(root: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"holding\n"
    return proc


def test_lock_second_process_gets_journal_locked_naming_the_holder(journal_root: Path) -> None:
    holder = _holder(journal_root)
    try:
        with pytest.raises(JournalLocked) as caught:
            JournalWriter.open(journal_root)
        assert caught.value.pid == holder.pid
        assert f"locked by pid {holder.pid} on host " in str(caught.value)
        assert str(journal_root) in str(caught.value)
    finally:
        holder.communicate(b"\n")


def test_lock_holder_pid_is_named_to_another_process(journal_root: Path) -> None:
    with JournalWriter.open(journal_root):
        out = subprocess.run(
            [sys.executable, "-c", _TRY, str(journal_root)], capture_output=True, check=True
        ).stdout.decode()
    assert out.startswith(f"{os.getpid()} | journal {journal_root} is locked by pid {os.getpid()}")


def test_lock_second_open_in_the_same_process_is_refused(journal_root: Path) -> None:
    with JournalWriter.open(journal_root), pytest.raises(JournalLocked):
        JournalWriter.open(journal_root)


def test_lock_is_released_by_close(journal_root: Path) -> None:
    JournalWriter.open(journal_root).close()
    JournalWriter.open(journal_root).close()
    assert (journal_root / layout.LOCK_NAME).read_bytes() == b""


def test_lock_of_a_killed_holder_is_free(journal_root: Path) -> None:
    holder = _holder(journal_root)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    JournalWriter.open(journal_root).close()


def test_lock_readers_do_not_need_it(journal_root: Path, kit: ModuleType) -> None:
    with JournalWriter.open(journal_root) as w:
        w.append_durable(kit.sample_event("clock_tick", kit.MIDNIGHT_NS))
        assert [r.seq for r in iter_records(journal_root)] == [1, 2]
