# Properties of the writer over random histories: appends of every kind and raw frames, clock
# jumps forwards across midnights and backwards, syncs, polls and reopens, under every policy and
# tiny segments. Whatever the history: the reader gives back exactly what was appended, in order,
# with gapless seqs; each record sits in the right day; verify is clean.
from __future__ import annotations

import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.events import ALL_KINDS, DayOpened, RawFrame
from polyarb.journal import (
    Durability,
    JournalWriter,
    iter_lines,
    iter_records,
    layout,
    verify_journal,
)

KINDS = sorted(k for k, cls in ALL_KINDS.items() if cls.ROLE != "journal")
FRAMES = ['{"a":1}', "PONG", '[{"event_type":"book","bids":[]}]', "not json {"]
HOUR_NS = 3600 * 10**9

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("event"), st.integers(0, len(KINDS) - 1), st.integers(-2, 20)),
        st.tuples(st.just("raw"), st.integers(0, len(FRAMES) - 1), st.integers(-2, 20)),
        st.tuples(st.sampled_from(["sync", "poll", "reopen"]), st.just(0), st.just(0)),
    ),
    max_size=60,
)
POLICIES = st.builds(
    Durability,
    policy=st.sampled_from(["none", "batch", "always"]),
    batch_ms=st.sampled_from([0, 5]),
    batch_records=st.integers(1, 20),
)


def _run(root: Path, kit: ModuleType, ops: list[Any], policy: Durability, seg: int) -> list[Any]:
    """Apply the history; return what was appended as (seq, expected day, kind, payload)."""
    ts = kit.MIDNIGHT_NS
    day: str | None = None
    appended: list[Any] = []
    w = JournalWriter.open(root, durability=policy, segment_max_bytes=seg)
    for op, arg, hours in ops:
        if op in ("event", "raw"):
            ts += hours * HOUR_NS
            day = max(day or "", layout.day_of_ns(ts))  # a day never goes back
            if op == "event":
                event = kit.sample_event(KINDS[arg], ts, len(appended))
                appended.append((w.append(event), day, msgspec.json.encode(event)))
            else:
                appended.append((w.append_raw_frame(ts, "m-0", FRAMES[arg]), day, FRAMES[arg]))
        elif op == "sync":
            assert w.sync() == w.next_seq - 1
        elif op == "poll":
            w.poll()
        else:
            w.close()
            w = JournalWriter.open(root, durability=policy, segment_max_bytes=seg)
            assert w.recovered is None
    w.close()
    return appended


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, policy=POLICIES, seg=st.sampled_from([300, 1000, 1 << 20]))
def test_writer_any_history_reads_back_exactly(
    kit: ModuleType, ops: list[Any], policy: Durability, seg: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "journal"
        appended = _run(root, kit, ops, policy, seg)
        records = {r.seq: r.event for r in iter_records(root)} if appended else {}
        days = {seq: path.parent.name for path, seq, _line in iter_lines(root)} if appended else {}
        assert sorted(records) == list(range(1, len(records) + 1))
        for seq, day, payload in appended:
            event = records.pop(seq)
            assert days[seq] == day
            if isinstance(payload, str):
                assert isinstance(event, RawFrame)
                assert bytes(event.frame) == payload.encode() or event.text == payload
            else:
                assert msgspec.json.encode(event) == payload
        assert all(isinstance(e, DayOpened) for e in records.values())  # only the writer's notes
        if appended:
            assert verify_journal(root).ok
