# The loop's frame path: one classification and one decode per frame, and still exactly what
# replay decodes. frame_record with the engine's prime == frame_record alone; the
# line the writer journals from its payload decodes back to the event the engine applied. The
# Inbox (the loop's queue) wakes its one consumer and keeps order.
from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core.marketdata import MarketData
from polyarb.events import ClockTick, RawFrame, decode_record, encode_raw_frame
from polyarb.events.codec import EmbeddedFrame
from polyarb.journal import iter_records
from polyarb.runtime.loop import Frame, Inbox, frame_record
from tests.core.engine_helpers import T0
from tests.runtime.helpers import basket_frames, open_loop

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=8,
).map(lambda v: msgspec.json.encode(v).decode())
_WIRE = st.sampled_from([
    '{"event_type":"book","asset_id":"1","bids":[{"price":"0.4","size":"5"}],"asks":[]}',
    '[{"event_type":"price_change","price_changes":[{"asset_id":"1","price":"0.4",'
    '"size":"5","side":"BUY"}]}]',
    ' {"event_type":"last_trade_price","asset_id":"1","price":"0.5"}',
    '{"event_type":"tick_size_change","asset_id":"1","new_tick_size":"0.001","x":' + "[" * 600
    + "]" * 600 + "}",
    "PONG",
])
FRAMES = st.one_of(st.text(max_size=40), st.binary(max_size=40), _JSON, _WIRE)


@settings(max_examples=150, deadline=None)
@given(data=FRAMES, channel=st.sampled_from(["market", "user"]))
def test_frame_record_primed_equals_unprimed_and_replay(data: str | bytes, channel: str) -> None:
    frame = Frame(T0, "market-0", data, channel)  # type: ignore[arg-type]
    event, payload = frame_record(frame, MarketData().prime)
    plain, plain_payload = frame_record(frame)
    try:
        line = encode_raw_frame(7, T0, "market-0", payload, channel=channel, embeddable=False)
    except (UnicodeEncodeError, TypeError):  # lone surrogates: websockets never delivers them
        return

    assert event == plain
    assert type(payload) is type(plain_payload)
    assert decode_record(line).event == event
    assert line == encode_raw_frame(7, T0, "market-0", data, channel=channel)
    if isinstance(payload, EmbeddedFrame):
        assert event.frame is not None and bytes(event.frame) == payload.raw


def test_loop_handle_journals_frames_verbatim(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")
    frames = basket_frames(T0 + 1)
    for frame in frames:
        loop.handle(frame)
    loop.writer.close()

    journaled = [r.event for r in iter_records(tmp_path / "j") if isinstance(r.event, RawFrame)]
    assert [bytes(e.frame) for e in journaled] == [str(f.data).encode() for f in frames]
    assert loop.counters.market_frames == len(frames)


def test_inbox_wakes_the_consumer_for_items_queued_later_in_order(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(loop.run())
        for i in range(6):
            await asyncio.sleep(0)  # the consumer is waiting again between items
            loop.submit(ClockTick(ts_recv_ns=T0 + i))
        loop.stop_consumer()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    loop.writer.close()
    ticks = [r.event.ts_recv_ns for r in iter_records(tmp_path / "j")
             if isinstance(r.event, ClockTick)]
    assert ticks == [T0 + i for i in range(6)]


def test_inbox_cancelled_wait_leaves_no_waiter_and_empty_get_raises() -> None:
    inbox = Inbox()

    async def main() -> None:
        waiting = asyncio.get_running_loop().create_task(inbox.wait())
        await asyncio.sleep(0)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        inbox.put_nowait("x")  # no waiter left to wake: must not raise
        await asyncio.wait_for(inbox.wait(), 1)  # returns at once: an item is queued

    asyncio.run(main())
    assert inbox.get_nowait() == "x" and inbox.empty()
    with pytest.raises(asyncio.QueueEmpty):
        inbox.get_nowait()
