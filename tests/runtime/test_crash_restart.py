# Crash and restart: `polyarb run` killed with SIGKILL mid-run, then started again on the same
# journal. The journal verifies clean, seqs continue (never reused), the engine is rebuilt from
# the journal and the open orders are reconciled with the venue before trading resumes.
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from polyarb.events import PlaceOrders, RunStarted, RunStopped
from polyarb.journal import iter_records, verify_journal
from tests.runtime.conftest import clean_env, polyarb

START_TIMEOUT_S = 30.0


def _wait_for_orders(journal: Path, proc: subprocess.Popen[str], timeout_s: float) -> None:
    """Poll the live journal (readers never lock) until a place_orders is on disk."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        if journal.exists() and any(isinstance(r.event, PlaceOrders)
                                    for r in iter_records(journal)):
            return
        time.sleep(0.25)
    raise AssertionError("the run placed no order in time")


def test_crash_kill_9_then_restart_continues_the_same_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyarb", "run", "--journal-dir", str(journal), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=clean_env(),
        cwd=tmp_path)
    try:
        _wait_for_orders(journal, proc, START_TIMEOUT_S)
        time.sleep(0.5)  # let fills and frames arrive: a crash in the middle of the stream
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = [r.seq for r in iter_records(journal)]
    assert verify_journal(journal).ok

    done = polyarb("run", "--journal-dir", str(journal), "--duration", "3", "--quiet",
                   cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "rebuilt the engine from" in done.stderr
    report = verify_journal(journal)
    assert report.ok, report.problems
    records = list(iter_records(journal))
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    starts = [r for r in records if isinstance(r.event, RunStarted)]
    assert len(starts) == 2 and starts[1].seq > max(before)
    stops = [r.event for r in records if isinstance(r.event, RunStopped)]
    assert [s.run_id for s in stops] == [starts[1].event.run_id]  # the crashed run has none


def test_sigterm_stops_gracefully_with_run_stopped_and_a_clean_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyarb", "run", "--journal-dir", str(journal), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
        cwd=tmp_path)
    try:
        _wait_for_orders(journal, proc, START_TIMEOUT_S)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err
    assert "stopped: SIGTERM" in out
    records = list(iter_records(journal))
    assert isinstance(records[-1].event, RunStopped) and records[-1].event.reason == "SIGTERM"
    assert verify_journal(journal).ok


def test_run_on_a_journal_held_by_another_writer_exits_2(tmp_path: Path) -> None:
    from polyarb.journal import JournalWriter

    journal = tmp_path / "journal"
    with JournalWriter.open(journal):
        done = polyarb("run", "--journal-dir", str(journal), "--duration", "1", "--quiet",
                       cwd=tmp_path)

    assert done.returncode == 2
    assert "locked" in done.stderr


def test_second_sigint_forces_in_flight_orders_unknown_then_restart_reconciles(
        tmp_path: Path) -> None:
    from polyarb.events import OrderOutcomeUnknown
    from polyarb.runtime.rebuild import rebuild

    # Arrange: the simulator holds every order's answer (fault `timeout`), so orders are in
    # flight when the first Ctrl-C comes, and the graceful stop would wait for them
    journal = tmp_path / "journal"
    (tmp_path / "polyarb.toml").write_text(
        '[sim]\nfaults = "timeout=1"\n[shutdown]\nresponse_timeout_s = 60\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyarb", "run", "--journal-dir", str(journal), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(),
        cwd=tmp_path)
    try:
        _wait_for_orders(journal, proc, START_TIMEOUT_S)
        proc.send_signal(signal.SIGINT)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()

    # Assert: forced (130), the in-flight orders journaled as unknown, RunStopped last
    assert proc.returncode == 130, err
    records = list(iter_records(journal))
    unknown = [r.event for r in records if isinstance(r.event, OrderOutcomeUnknown)]
    assert unknown and all("in flight" in e.reason for e in unknown)
    assert isinstance(records[-1].event, RunStopped)
    assert verify_journal(journal).ok

    # Act: a restart; whatever the user channel did not already settle (it often reports the
    # fills before the held answer) is reconciled with the venue before trading resumes
    done = polyarb("run", "--journal-dir", str(journal), "--duration", "2", "--quiet",
                   cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    rebuilt = rebuild(journal)
    assert rebuilt.engine is not None and rebuilt.mismatches == 0
    ids = {e.client_order_id for e in unknown}
    still_open = {o.client_order_id for o in rebuilt.engine.execution.orders.open_orders()}
    assert not ids & still_open
    assert verify_journal(journal).ok
