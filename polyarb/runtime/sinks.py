# The feeds' sink: turns what a websocket feed delivers into engine-loop inputs.
#
# Rules: called synchronously on the event loop's thread (polyarb/venues/polymarket/feed_wire.py
# FeedSink, BatchSink); it only queues, so a feed never waits on the journal. Frames keep the
# feed's receive stamp and exact payload, in the order given; lifecycle and parsed events are
# queued as they are.
from __future__ import annotations

from typing import Literal

from polyarb.events.base import Input
from polyarb.runtime.loop import EngineLoop, Frame


class QueueSink:
    """A FeedSink putting frames (on `channel`) and events on an engine loop's queue."""

    def __init__(self, loop: EngineLoop, channel: Literal["market", "user"]) -> None:
        self._loop = loop
        self.channel: Literal["market", "user"] = channel

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        """One frame exactly as received."""
        self._loop.submit(Frame(ts_recv_ns, conn, data, self.channel))

    def on_frames(self, ts_recv_ns: int, conn: str, frames: list[str | bytes]) -> None:
        """Frames received together, in order (one queue wake-up for all of them)."""
        channel = self.channel
        self._loop.submit_many([Frame(ts_recv_ns, conn, data, channel) for data in frames])

    def on_event(self, event: Input) -> None:
        """A lifecycle fact or a parsed user-channel event."""
        self._loop.submit(event)
