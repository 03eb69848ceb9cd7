# The public API of polyarb.journal is pinned: the CLI, DuckDB views and sealing build on it.
from __future__ import annotations

import inspect

import polyarb.journal as journal


def test_api_exported_names_are_pinned() -> None:
    assert sorted(journal.__all__) == [
        "CheckpointHook",
        "DayStats",
        "Durability",
        "JournalClosed",
        "JournalCorrupt",
        "JournalError",
        "JournalLocked",
        "JournalStats",
        "JournalUnreadable",
        "JournalWriter",
        "Problem",
        "RecoveryReport",
        "VerifyReport",
        "iter_lines",
        "iter_records",
        "journal_stats",
        "verify_journal",
    ]
    assert all(hasattr(journal, name) for name in journal.__all__)


def test_api_writer_signatures_are_pinned() -> None:
    w = journal.JournalWriter
    assert list(inspect.signature(w.open).parameters) == [
        "root",
        "durability",
        "segment_max_bytes",
        "checkpoint_hook",
        "full_check",
    ]
    assert list(inspect.signature(w.append_raw_frame).parameters) == [
        "self",
        "ts_recv_ns",
        "conn",
        "data",
        "channel",
        "embeddable",
    ]
    for name in ["append", "append_durable", "sync", "poll", "close", "__enter__", "__exit__"]:
        assert callable(getattr(w, name))
    assert list(inspect.signature(journal.iter_records).parameters) == ["path", "from_seq", "day"]
    default = journal.Durability(policy="batch", batch_ms=5, batch_records=1000)
    assert journal.Durability() == default


def test_api_errors_share_a_base() -> None:
    for exc in [journal.JournalCorrupt, journal.JournalLocked, journal.JournalUnreadable]:
        assert issubclass(exc, journal.JournalError)
