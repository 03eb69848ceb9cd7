# One websocket's outgoing stream: frames are queued synchronously by whoever produces them
# (the pump, a subscribe) and written in order by one sender task per connection.
#
# Rules:
# 1. `push` never awaits and never blocks the producer: a slow client only grows its own queue,
#    and past `limit` queued frames it is dropped (transport aborted) instead of holding up the
#    feed for everyone.
# 2. Frames are ready-made UTF-8 JSON bytes sent as text frames (no per-client re-encoding, no
#    compression: the hot path is one deque append here and one transport write in the task).
# 3. Websocket faults act at push time on data frames only (control answers such as PONG and
#    INVALID OPERATION are never faulted): a stalled connection drops data while its reader
#    keeps answering PING; a delay holds the stream for a while, keeping order; malformed and
#    unknown frames are sent before the real one; a disconnect aborts the TCP connection.
# 4. The sender task ends when the connection dies; `close` is idempotent.
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial

from aiohttp import WSMsgType, web

from polyarb.sim.server.faults import Faults

log = logging.getLogger("polyarb.sim.server")

_TEXT = WSMsgType.TEXT
UNKNOWN_FRAME = b'{"event_type":"sim_unknown_event","detail":"fault injection","timestamp":"0"}'


class _Pause:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Outbox:
    """Queued frames of one websocket and the task that sends them."""

    __slots__ = ("_faults", "_task", "_transport", "_wake", "dead", "limit", "queue", "sent",
                 "stalled_until", "ws")

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, *, limit: int,
                 faults: Faults | None) -> None:
        self.ws = ws
        self._transport = request.transport
        self.limit = limit
        self._faults = faults if faults is not None and faults.cfg.ws_enabled() else None
        self.queue: deque[bytes | _Pause] = deque()
        self._wake = asyncio.Event()
        self.dead = False
        self.sent = 0
        self.stalled_until = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sender task (call once, from the connection's handler)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def push(self, frame: bytes) -> None:
        """Queue a data frame (rule 1, with the websocket faults of rule 3)."""
        if self.dead:
            return
        if self._faults is not None:
            self._push_faulty(frame)
            return
        self.queue.append(frame)
        if len(self.queue) > self.limit:
            self._slow()
        elif not self._wake.is_set():
            self._wake.set()

    def push_control(self, frame: bytes) -> None:
        """Queue a control answer (INVALID OPERATION): in order, never faulted."""
        if not self.dead:
            self._append(frame)

    def _append(self, item: bytes | _Pause) -> None:
        self.queue.append(item)
        if len(self.queue) > self.limit:
            self._slow()
        elif not self._wake.is_set():
            self._wake.set()

    def _push_faulty(self, frame: bytes) -> None:
        f = self._faults
        assert f is not None
        now = time.monotonic()
        if now < self.stalled_until:
            return
        if f.hit("disconnect"):
            self.abort()
        elif f.hit("stall"):
            self.stalled_until = now + f.cfg.stall_s
        else:
            if f.hit("delay"):
                self._append(_Pause(f.cfg.delay_s))
            if f.hit("malformed"):
                self._append(frame[: max(1, len(frame) // 2)])
            if f.hit("unknown"):
                self._append(UNKNOWN_FRAME)
            self._append(frame)

    def _slow(self) -> None:
        log.warning("websocket dropped: slow consumer with %d frames queued", len(self.queue))
        self.abort()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (a network failure, as seen)."""
        self.dead = True
        self.queue.clear()
        self._wake.set()
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        """Stop sending (the connection is gone or closing)."""
        self.dead = True
        self.queue.clear()
        self._wake.set()

    async def _run(self) -> None:
        queue, wake = self.queue, self._wake
        send = _sender(self.ws)
        try:
            while not self.dead:
                while queue:
                    item = queue.popleft()
                    if isinstance(item, bytes):
                        await send(item)
                        self.sent += 1
                    else:
                        await asyncio.sleep(item.seconds)
                wake.clear()
                await wake.wait()
        except (ConnectionError, RuntimeError):
            self.dead = True  # the peer went away mid-write; the reader cleans up


def _sender(ws: web.WebSocketResponse) -> Callable[[bytes], Awaitable[None]]:
    """A text-frame writer for UTF-8 bytes: send_frame (aiohttp >= 3.11) skips a decode."""
    send_frame = getattr(ws, "send_frame", None)
    if send_frame is not None:
        return partial(send_frame, opcode=_TEXT)

    async def send_text(frame: bytes) -> None:
        await ws.send_str(frame.decode())

    return send_text
