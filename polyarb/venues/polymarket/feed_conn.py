# One live market-channel connection: the reader that hands frames to the sink and the keeper
# that sends subscriptions and keepalives and runs the watchdog.
#
# Rules:
# 1. The reader does the least possible per frame: receive, stamp, hand to the sink, bump a
#    counter (and, while the per-asset watchdog still misses an asset in the current check
#    period, a text scan for asset ids). The sink gets every frame, PONG and garbage included,
#    before anything looks at it. Nothing is parsed.
# 2. Stamps come from the feed's clock and never go backwards across the whole feed (a wall
#    clock step back is held at the last stamp), so a journal fed by one feed is in ts order.
#    The frames of one socket read share one stamp: they arrived together.
# 3. Every write to the socket happens in the keeper task, in order: the initial frame first,
#    then operation frames, PINGs and probes. A SubscriptionSent event is emitted just before
#    its frame is written; a ConnectionClosed right after it means it may not have arrived (the
#    next connection's initial frame carries the full subscription again).
# 4. The keeper closes the connection with a reason ("silence", "pong_timeout", "no_assets",
#    "client_close"); otherwise the reason is what websockets reports. After a close, frames
#    websockets had already buffered are still delivered before the reader returns.
# 5. An exception from the sink (in either task, or in the fast lane) is never taken for a
#    connection error: it ends the session and propagates to the feed, which stops.
# 6. The reader starts the fast lane (feed_wire.FeedConnection, rule 5 there) before its first
#    recv(): the lane's frames reach the sink from the socket read itself; off the lane (it did
#    not start, or it handed over to websockets) the reader delivers, as before.
from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Literal

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from polyarb.events.base import Input
from polyarb.events.inputs import SubscriptionSent
from polyarb.venues.polymarket.feed_watch import Watchdog, WatchPolicy
from polyarb.venues.polymarket.feed_wire import (
    PING,
    PONG,
    FeedConnection,
    FeedSink,
    Operation,
    describe_close,
    initial_frame,
    operation_frame,
    scan_asset_ids,
)

Op = tuple[Operation, tuple[str, ...]]
SubOp = Literal["initial", "subscribe", "unsubscribe"]


class Stamp:
    """Receive-time stamps from `clock` (ns) that never go backwards (rule 2)."""

    __slots__ = ("clock", "last")

    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock
        self.last = 0

    def now(self) -> int:
        """The next stamp: the clock, or the last stamp if the clock stepped back."""
        ts = self.clock()
        if ts > self.last:
            self.last = ts
            return ts
        return self.last


class Shard:
    """One connection slot (`market-N`): the assets it should carry and changes not yet sent.

    `tokens` is the desired subscription (insertion-ordered). `pending` holds operation frames
    for the live connection; a new connection sends `tokens` in its initial frame instead.
    """

    __slots__ = ("conn", "pending", "session", "task", "tokens", "wake")

    def __init__(self, conn: str) -> None:
        self.conn = conn
        self.tokens: dict[str, None] = {}
        self.pending: list[Op] = []
        self.wake = asyncio.Event()
        self.session: Session | None = None
        self.task: asyncio.Task[None] | None = None

    def change(self, operation: Operation, ids: tuple[str, ...]) -> None:
        """Queue a subscription change for the live connection and wake its keeper."""
        self.pending.append((operation, ids))
        self.wake.set()

    def take_initial(self) -> tuple[str, ...]:
        """The ids of an initial frame; queued changes are folded into it."""
        self.pending.clear()
        return tuple(self.tokens)

    def take_pending(self) -> list[Op]:
        ops, self.pending = self.pending, []
        return ops


class Session:
    """One open websocket of a shard, from the initial frame to the close.

    Attributes:
        frames / pongs: frames other than PONG, and PONGs, received so far.
        unseen: watched assets no frame has named yet in this check period (rule 1: the scan
            stops once it is empty); `watched` holds them all, in subscription order.
    """

    def __init__(self, ws: ClientConnection, shard: Shard, sink: FeedSink, stamp: Stamp, *,
                 watch: WatchPolicy, custom_feature_enabled: bool, initial_dump: bool) -> None:
        self.ws = ws
        self.shard = shard
        self.reason: str | None = None
        self.frames = 0
        self.pongs = 0
        self.watched: dict[str, None] = {}
        self.unseen: set[str] = set()
        self._sink = sink
        self._batch: Callable[[int, str, list[str | bytes]], None] | None = getattr(
            sink, "on_frames", None)
        self._stamp = stamp
        self._watch = watch
        self._scan_assets = watch.asset_silence_timeout_s is not None
        self._custom = custom_feature_enabled
        self._dump = initial_dump

    async def run(self) -> tuple[str, int | None]:
        """Serve the connection until it closes; return (reason, close code)."""
        keeper = asyncio.create_task(self._keep(), name=f"{self.shard.conn}-keeper")
        keeper.add_done_callback(self._keeper_done)
        try:
            result = await self._read()
        finally:
            keeper.cancel()
            await asyncio.wait({keeper})
        if not keeper.cancelled() and (exc := keeper.exception()) is not None:
            raise exc
        return result

    async def close(self, reason: str) -> None:
        """Close the connection, recording why (the first reason given wins)."""
        if self.reason is None:
            self.reason = reason
        await self.ws.close(1000, reason)

    def abort(self, reason: str) -> None:
        """Drop the connection at once (no close handshake)."""
        if self.reason is None:
            self.reason = reason
        self.ws.transport.abort()

    def _keeper_done(self, task: asyncio.Task[None]) -> None:
        # A failed keeper must end the reader too, or the session would hang on recv().
        if not task.cancelled() and task.exception() is not None:
            self.abort("keeper_failed")

    # --- reader ----------------------------------------------------------------------------

    async def _read(self) -> tuple[str, int | None]:
        ws = self.ws
        if isinstance(ws, FeedConnection):
            ws.start_lane(self._take)
        recv = ws.recv
        stamp = self._stamp
        clock = stamp.clock
        deliver = self._deliver
        while True:
            try:
                data = await recv()
            except ConnectionClosed as exc:
                if isinstance(ws, FeedConnection) and ws.lane_error is not None:
                    raise ws.lane_error from None
                reason, code = describe_close(exc)
                return (self.reason or reason), code
            ts = clock()
            if ts > stamp.last:
                stamp.last = ts
            else:
                ts = stamp.last
            deliver(ts, data)

    def _deliver(self, ts: int, data: str | bytes) -> None:
        """One frame off the lane: to the sink first, then the counters (rule 1)."""
        self._sink.on_frame(ts, self.shard.conn, data)
        if data == PONG:
            self.pongs += 1
            return
        self.frames += 1
        if self.unseen and type(data) is str:
            self.unseen.difference_update(scan_asset_ids(data))

    def _take(self, frames: list[str | bytes]) -> None:
        """The lane's receiver: the frames of one socket read, under one stamp (rules 1, 2)."""
        ts = self._stamp.now()
        if self._batch is not None:
            self._batch(ts, self.shard.conn, frames)
        else:
            on_frame, conn = self._sink.on_frame, self.shard.conn
            for data in frames:
                on_frame(ts, conn, data)
        pongs = frames.count(PONG)
        self.pongs += pongs
        self.frames += len(frames) - pongs
        unseen = self.unseen
        if unseen:
            for data in frames:
                if type(data) is str:
                    unseen.difference_update(scan_asset_ids(data))
                    if not unseen:
                        break

    # --- keeper ----------------------------------------------------------------------------

    def _watch_assets(self, ids: tuple[str, ...]) -> None:
        """Scan frames for just-subscribed assets from now on (rule 1)."""
        if self._scan_assets:
            for asset in ids:
                self.watched[asset] = None
                self.unseen.add(asset)

    def _seen_since_check(self) -> list[str]:
        """The watched assets frames named since the last check; a new period starts."""
        unseen = self.unseen
        seen = [a for a in self.watched if a not in unseen]
        if self._scan_assets:
            self.watched = dict.fromkeys(self.shard.tokens)
            self.unseen = set(self.watched)
        return seen

    async def _keep(self) -> None:
        loop = asyncio.get_running_loop()
        shard = self.shard
        watch = Watchdog(self._watch, loop.time())
        if self.reason is not None:
            return None  # closed before it started (the feed is closing)
        ids = shard.take_initial()
        if not ids:
            return await self.close("no_assets")
        watch.subscribed(ids, loop.time())
        self._watch_assets(ids)
        frame = initial_frame(ids, custom_feature_enabled=self._custom, initial_dump=self._dump)
        if not await self._send(frame, ("initial", ids)):
            return None
        while True:
            await _wait(shard.wake, watch.wait_s(loop.time()))
            now = loop.time()
            verdict = watch.check(now, self.frames, self.pongs, self._seen_since_check())
            if verdict.close is not None:
                return await self.close(verdict.close)
            if verdict.ping and not await self._send(PING):
                return None
            if not await self._send_ops(watch, shard.take_pending(), now):
                return None
            if not shard.tokens:
                return await self.close("no_assets")
            probe = watch.probe(now, shard.tokens)
            if probe and not await self._send_ops(
                    watch, [("unsubscribe", probe), ("subscribe", probe)], now):
                return None

    async def _send_ops(self, watch: Watchdog, ops: list[Op], now: float) -> bool:
        for operation, ids in ops:
            if operation == "subscribe":
                watch.subscribed(ids, now)
                self._watch_assets(ids)
            else:
                watch.forget(ids)
            frame = operation_frame(operation, ids, custom_feature_enabled=self._custom)
            if not await self._send(frame, (operation, ids)):
                return False
        return True

    async def _send(self, frame: str,
                    sub: tuple[SubOp, tuple[str, ...]] | None = None) -> bool:
        """Write one frame (emitting its SubscriptionSent first); False once the socket closed."""
        if sub is not None:
            operation, ids = sub
            self._emit(SubscriptionSent(ts_recv_ns=self._stamp.now(), conn=self.shard.conn,
                                        operation=operation, asset_ids=ids))
        try:
            await self.ws.send(frame)
        except ConnectionClosed:
            return False
        return True

    def _emit(self, event: Input) -> None:
        self._sink.on_event(event)


async def _wait(event: asyncio.Event, timeout_s: float) -> None:
    """Wait until `event` is set or `timeout_s` passes, then clear it."""
    if timeout_s > 0 and not event.is_set():
        try:
            async with asyncio.timeout(timeout_s):
                await event.wait()
        except TimeoutError:
            pass
    event.clear()


def set_nodelay(ws: ClientConnection) -> None:
    """Turn Nagle off: frames we send (PING, operations) are tiny and latency-bound."""
    sock = ws.transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):  # best effort: asyncio already sets it on TCP sockets
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
