# The engine loop: journal -> apply -> journal decisions -> act, with order actions durable
# before they leave; frames applied exactly as replay decodes them; the queue consumer.
from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.engine import Engine
from polyarb.events import ClockTick, MarketsLoaded, RawFrame, StateCheckpoint, decode_record
from polyarb.events.codec import encode_raw_frame
from polyarb.events.decisions import OpportunityDetected, PlaceOrders
from polyarb.journal import JournalWriter, iter_records
from polyarb.runtime.counters import Counters
from polyarb.runtime.loop import EngineLoop, Frame, frame_record
from polyarb.runtime.startup import HookTarget
from tests.core.engine_helpers import T0
from tests.runtime.helpers import basket, basket_frames, open_loop


def _loaded() -> MarketsLoaded:
    return MarketsLoaded(ts_recv_ns=T0, source="test", markets=tuple(basket()))


def test_loop_order_intent_is_durable_before_it_is_acted_on(tmp_path: Path) -> None:
    loop, acts = open_loop(tmp_path / "j")
    loop.handle(_loaded())

    for frame in basket_frames(T0 + 1):
        loop.handle(frame)

    assert acts.actions and isinstance(acts.actions[0], PlaceOrders)
    placed_seq = loop.last_seq
    assert acts.durable_at_act[0] >= placed_seq  # fsynced up to the PlaceOrders itself
    loop.writer.close()


def test_loop_journal_holds_input_then_its_decisions_in_order(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")
    loop.handle(_loaded())
    for frame in basket_frames(T0 + 1):
        loop.handle(frame)
    loop.writer.close()

    records = list(iter_records(tmp_path / "j"))
    kinds = [type(r.event).__name__ for r in records if r.event.ROLE != "journal"]
    assert kinds == ["MarketsLoaded", "RawFrame", "RawFrame", "RawFrame",
                     "OpportunityDetected", "PlaceOrders"]
    frame_seq = [r.seq for r in records if isinstance(r.event, RawFrame)][-1]
    decisions = [r.event for r in records
                 if isinstance(r.event, OpportunityDetected | PlaceOrders)]
    assert all(d.cause_seq == frame_seq for d in decisions)


def test_loop_counts_what_it_journals(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")
    loop.handle(_loaded())
    for frame in basket_frames(T0 + 1):
        loop.handle(frame)

    c = loop.counters
    assert (c.market_frames, c.opportunities, len(c.taken), c.orders_sent) == (3, 1, 1, 3)
    loop.writer.close()


@settings(max_examples=60, deadline=None)
@given(st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                 lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c,
                                                                      max_size=3),
                 max_leaves=8).map(lambda v: msgspec.json.encode(v).decode()),
))
def test_loop_frame_record_is_what_replay_decodes(data: str | bytes) -> None:
    frame = Frame(T0, "market-0", data)
    event, payload = frame_record(frame)
    try:
        line = encode_raw_frame(7, T0, "market-0", payload, embeddable=False)
    except (UnicodeEncodeError, TypeError):  # lone surrogates: websockets never delivers them
        return

    assert decode_record(line).event == event


def test_loop_consumer_drains_the_queue_until_stopped(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(loop.run())
        for i in range(5):
            loop.submit(ClockTick(ts_recv_ns=T0 + i))
        loop.stop_consumer()
        loop.submit(ClockTick(ts_recv_ns=T0 + 99))  # after the marker: left queued
        await task
        loop.handle_pending()

    asyncio.run(main())
    loop.writer.close()

    ticks = [r.event for r in iter_records(tmp_path / "j") if isinstance(r.event, ClockTick)]
    assert [t.ts_recv_ns - T0 for t in ticks] == [0, 1, 2, 3, 4, 99]


def test_loop_day_roll_checkpoint_holds_the_state_before_the_rolling_input(
        tmp_path: Path) -> None:
    hook = HookTarget()
    writer = JournalWriter.open(tmp_path / "j", checkpoint_hook=hook)  # type: ignore[arg-type]
    loop = EngineLoop(writer, Engine(), lambda d: None, Counters())
    hook.loop = loop
    loop.handle(_loaded())
    state_before = loop.engine.state_hash()
    next_day = T0 + 86_400 * 1_000_000_000
    loop.handle(ClockTick(ts_recv_ns=next_day))
    writer.close()

    checkpoints = [r for r in iter_records(tmp_path / "j")
                   if isinstance(r.event, StateCheckpoint)]
    last = checkpoints[-1].event
    assert last.state_hash == state_before and last.ts_recv_ns == next_day


def test_loop_redacts_our_api_key_from_user_frames_and_rest_bodies(tmp_path: Path) -> None:
    # Arrange: the venue echoes our API key as `owner` in user-channel frames and REST bodies
    from polyarb.events import RestSnapshot

    key = "acb0ad94-1a88-4f23-9b28-3fbf9ebacfa0"
    loop, _ = open_loop(tmp_path / "j")
    loop.redact(key)
    frame = '[{"event_type":"order","owner":"KEY","id":"0x1"}]'.replace("KEY", key)

    # Act
    loop.handle(Frame(T0 + 1, "user-0", frame, "user"))
    loop.handle(Frame(T0 + 2, "user-0", frame.encode(), "user"))
    body = b'{"data":[{"owner":"KEY"}]}'.replace(b"KEY", key.encode())
    loop.handle(RestSnapshot(ts_recv_ns=T0 + 3, endpoint="/data/orders", status_code=200,
                             body=msgspec.Raw(body)))
    loop.writer.close()

    # Assert: the key is nowhere on disk, the records are still there and readable
    data = b"".join(p.read_bytes() for p in (tmp_path / "j").rglob("*.ndjson"))
    assert key.encode() not in data
    assert data.count(b"REDACTED_API_KEY") == 2  # the text frame and the REST body
    binary = [r.event for r in iter_records(tmp_path / "j")
              if isinstance(r.event, RawFrame) and r.event.binary]
    assert len(binary) == 1 and binary[0].text is not None
    assert b"REDACTED_API_KEY" in base64.b64decode(binary[0].text)  # the binary frame too


def test_loop_market_frames_are_never_rewritten(tmp_path: Path) -> None:
    key = "acb0ad94-1a88-4f23-9b28-3fbf9ebacfa0"
    loop, _ = open_loop(tmp_path / "j")
    loop.redact(key)
    frame = '{"event_type":"book","asset_id":"KEY","bids":[],"asks":[]}'.replace("KEY", key)

    loop.handle(Frame(T0 + 1, "market-0", frame, "market"))
    loop.writer.close()

    data = b"".join(p.read_bytes() for p in (tmp_path / "j").rglob("*.ndjson"))
    assert frame.encode() in data
