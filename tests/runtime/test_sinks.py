# QueueSink's batch path (a feed's frames of one socket read): order, channel, one stamp, and one
# wake-up of a waiting consumer; EngineLoop.run handles a batch in order.
from __future__ import annotations

import asyncio
from pathlib import Path

from polyarb.runtime.loop import Frame
from polyarb.runtime.sinks import QueueSink
from tests.core.engine_helpers import T0
from tests.runtime.helpers import open_loop


def test_queue_sink_on_frames_queues_in_order_with_one_stamp(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")
    QueueSink(loop, "market").on_frames(T0, "market-0", ["a", b"\x00", "PONG"])
    QueueSink(loop, "market").on_frames(T0 + 1, "market-1", [])
    items = list(loop.queue.items)
    loop.writer.close()

    assert items == [Frame(T0, "market-0", "a"), Frame(T0, "market-0", b"\x00"),
                     Frame(T0, "market-0", "PONG")]


def test_queue_sink_on_frames_wakes_a_waiting_consumer_once(tmp_path: Path) -> None:
    loop, _ = open_loop(tmp_path / "j")
    handled: list[object] = []

    async def main() -> None:
        waiter = asyncio.create_task(loop.queue.wait())
        await asyncio.sleep(0)  # the consumer is waiting now
        QueueSink(loop, "user").on_frames(T0, "user-0", ["x", "y"])
        await asyncio.wait_for(waiter, 1)
        loop.handle = handled.append  # type: ignore[method-assign,assignment]
        loop.stop_consumer()
        await asyncio.wait_for(loop.run(), 1)

    asyncio.run(main())
    loop.writer.close()

    assert handled == [Frame(T0, "user-0", "x", "user"), Frame(T0, "user-0", "y", "user")]
