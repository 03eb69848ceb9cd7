# The market-channel feed manager: keeps polyarb subscribed to Polymarket's market websocket
# (or the simulator's) and hands every frame, raw and stamped, to a sink.
#
# This is shell code (sockets, timers, the clock, randomness); the core parses the frames later,
# from the journal. Rules:
# 1. Sharding: assets are spread over connections `market-0`, `market-1`, ... of at most
#    `tokens_per_connection` (default 200; the venue silently stops delivering above 500, so
#    larger values are clamped with a warning). A new asset goes to the lowest-numbered
#    connection with room, or opens a new one. Connection ids are stable per shard for the life
#    of the feed; a shard whose assets were all unsubscribed closes ("no_assets") and reopens
#    when it gets assets again.
# 2. Subscriptions: each connection sends one initial frame, then `operation` frames for changes
#    (feed_wire.py). A reconnect resubscribes with a fresh initial frame; the venue answers every
#    subscribe with `book` snapshots, so no REST resync is needed.
# 3. Liveness (feed_watch.py): text PING every `ping_interval_s` with a PONG timeout, a
#    per-connection data-silence timeout that reconnects, and a per-asset silence probe that
#    resubscribes the silent asset on the same socket. The websocket protocol ping of the
#    `websockets` library runs too (`ws_ping_interval_s`): it catches a dead TCP path even where
#    the venue's text PING handling differs.
# 4. Reconnects wait per backoff.py (1 s doubling to 60 s, jitter, reset after a healthy period),
#    each connection on its own schedule.
# 5. Every lifecycle fact reaches the sink as an event, in order: ConnectionOpened,
#    SubscriptionSent (initial / subscribe / unsubscribe), ConnectionClosed (with a reason; a
#    failed connect is a ConnectionClosed "connect_failed: ..." with no Opened before it),
#    ReconnectScheduled (attempt, delay).
# 6. Bad input never stops the feed: binary frames, garbage and `INVALID OPERATION` go to the
#    sink like any frame, and any connection error leads to a reconnect. An exception raised by
#    the sink does stop it: `run()` closes every connection and re-raises it.
# 7. `close()` closes every socket with a close handshake and lets each reader deliver what was
#    already received; cancelling `run()` instead aborts the sockets at once.
# Call subscribe / unsubscribe / close from the event loop's thread.
from __future__ import annotations

import asyncio
import functools
import random
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidURI, WebSocketException
from websockets.uri import parse_uri

from polyarb.events.base import Input
from polyarb.events.inputs import ConnectionClosed, ConnectionOpened, ReconnectScheduled
from polyarb.venues.polymarket.backoff import Backoff, BackoffPolicy
from polyarb.venues.polymarket.feed_conn import Session, Shard, Stamp, set_nodelay
from polyarb.venues.polymarket.feed_watch import WatchPolicy
from polyarb.venues.polymarket.feed_wire import (
    MAX_ASSETS_PER_CONNECTION,
    FeedConnection,
    FeedSink,
    Operation,
    describe_error,
)

MARKET_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
_CONNECT_ERRORS = (OSError, TimeoutError, EOFError, WebSocketException)


class MarketFeed:
    """Subscriptions to the market channel over one or more websocket connections.

    Args:
        url: `wss://.../ws/market` (MARKET_URL) or the simulator's `ws://127.0.0.1:PORT/ws/market`.
        sink: receives every frame (`on_frame`) and lifecycle event (`on_event`).
        tokens_per_connection: assets per connection (clamped to 500, see rule 1).
        ping_interval_s: text PING cadence.
        pong_timeout_s: longest wait for PONG.
        silence_timeout_s: reconnect after this long without data (None: never).
        asset_silence_timeout_s: resubscribe an asset silent this long (None: never).
        backoff: the reconnect schedule (includes the healthy-period reset).
        clock: nanoseconds since the epoch for `ts_recv_ns` (default time.time_ns).
        rng: randomness for backoff jitter (default: a fresh random.Random()).
        custom_feature_enabled: ask for best_bid_ask / new_market / market_resolved.
        initial_dump: the initial frame's `initial_dump`.
        ws_ping_interval_s: websocket protocol ping cadence (None: off).
        ws_ping_timeout_s: protocol pong timeout (None: off).
        open_timeout_s: TCP + TLS + handshake timeout.
        close_timeout_s: longest wait for the close handshake.
        max_frame_bytes: largest frame accepted (an initial dump of 200 deep books is large).
        max_queue: frames websockets buffers before it stops reading the socket.
        proxy: websockets' proxy setting (True: from the environment; None: direct).
        compression: "deflate" (permessage-deflate if the server agrees) or None.
        fast_lane: cut whole data frames from socket reads (feed_wire.py rule 5); a connection
            that negotiated compression never uses it.
    """

    def __init__(
        self,
        url: str,
        sink: FeedSink,
        *,
        tokens_per_connection: int = 200,
        ping_interval_s: float = 10.0,
        pong_timeout_s: float = 30.0,
        silence_timeout_s: float | None = 60.0,
        asset_silence_timeout_s: float | None = 300.0,
        backoff: BackoffPolicy | None = None,
        clock: Callable[[], int] = time.time_ns,
        rng: random.Random | None = None,
        custom_feature_enabled: bool = True,
        initial_dump: bool = True,
        ws_ping_interval_s: float | None = 20.0,
        ws_ping_timeout_s: float | None = 20.0,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 2.0,
        max_frame_bytes: int | None = 64 * 2**20,
        max_queue: int = 64,
        proxy: str | Literal[True] | None = True,
        compression: str | None = "deflate",
        fast_lane: bool = True,
    ) -> None:
        _check_url(url)
        self.url = url
        self._sink = sink
        self.tokens_per_connection = _clamp_per_connection(tokens_per_connection)
        self._watch = WatchPolicy(ping_interval_s, pong_timeout_s, silence_timeout_s,
                                  asset_silence_timeout_s)
        self._backoff = backoff if backoff is not None else BackoffPolicy()
        self._rng = rng if rng is not None else random.Random()
        self._stamp = Stamp(clock)
        self._custom = custom_feature_enabled
        self._dump = initial_dump
        self._close_timeout_s = close_timeout_s
        self._connect = functools.partial(
            connect, url, ping_interval=ws_ping_interval_s, ping_timeout=ws_ping_timeout_s,
            open_timeout=open_timeout_s, close_timeout=close_timeout_s,
            max_size=max_frame_bytes, max_queue=max_queue, proxy=proxy,
            compression=compression,
            create_connection=FeedConnection if fast_lane else ClientConnection)
        self._shards: list[Shard] = []
        self._where: dict[str, Shard] = {}
        self._started = False
        self._closing = False
        self._closing_ev = asyncio.Event()
        self._stop = asyncio.Event()
        self._finished = asyncio.Event()
        self._failure: BaseException | None = None

    # --- subscriptions -----------------------------------------------------------------------

    @property
    def assignment(self) -> dict[str, tuple[str, ...]]:
        """The assets of each connection id, in subscription order."""
        return {s.conn: tuple(s.tokens) for s in self._shards}

    def subscribe(self, token_ids: Iterable[str]) -> None:
        """Subscribe to assets not yet subscribed (others are ignored), sharding per rule 1.

        Raises:
            TypeError: `token_ids` is a single string or holds a non-string.
            ValueError: an empty token id.
            RuntimeError: the feed is closed.
        """
        self._check_open()
        added: dict[Shard, list[str]] = {}
        for token in _ids(token_ids):
            if token not in self._where:
                shard = self._room()
                shard.tokens[token] = None
                self._where[token] = shard
                added.setdefault(shard, []).append(token)
        for shard, ids in added.items():
            self._change(shard, "subscribe", ids)

    def unsubscribe(self, token_ids: Iterable[str]) -> None:
        """Unsubscribe from assets (ids not subscribed are ignored).

        Raises:
            TypeError: `token_ids` is a single string or holds a non-string.
            ValueError: an empty token id.
            RuntimeError: the feed is closed.
        """
        self._check_open()
        removed: dict[Shard, list[str]] = {}
        for token in _ids(token_ids):
            shard = self._where.pop(token, None)
            if shard is not None:
                del shard.tokens[token]
                removed.setdefault(shard, []).append(token)
        for shard, ids in removed.items():
            self._change(shard, "unsubscribe", ids)

    def _room(self) -> Shard:
        for shard in self._shards:
            if len(shard.tokens) < self.tokens_per_connection:
                return shard
        shard = Shard(f"market-{len(self._shards)}")
        self._shards.append(shard)
        return shard

    def _change(self, shard: Shard, operation: Operation, ids: list[str]) -> None:
        if shard.session is not None:
            shard.change(operation, tuple(ids))
        shard.wake.set()
        if self._started and shard.task is None:
            self._start(shard)

    def _check_open(self) -> None:
        if self._closing:
            raise RuntimeError("the feed is closed")

    # --- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep every connection up until `close()` (or cancellation).

        Raises:
            RuntimeError: `run()` was already called.
            Exception: whatever the sink raised (the feed stopped because of it).
        """
        if self._started:
            raise RuntimeError("MarketFeed.run() can only be called once")
        self._started = True
        for shard in self._shards:
            self._start(shard)
        graceful = False
        try:
            await self._stop.wait()
            graceful = self._failure is None
        finally:
            await self._shutdown(graceful)
            self._finished.set()
        if self._failure is not None:
            raise self._failure

    async def close(self) -> None:
        """Close every connection ("client_close") and wait for `run()` to return."""
        if not self._closing:
            self._closing = True
            self._closing_ev.set()
            sessions = [s.session for s in self._shards if s.session is not None]
            for shard in self._shards:
                shard.wake.set()
            await asyncio.gather(*(s.close("client_close") for s in sessions),
                                 return_exceptions=True)
            self._stop.set()
        if self._started:
            await self._finished.wait()

    def _start(self, shard: Shard) -> None:
        shard.task = asyncio.create_task(self._serve(shard), name=f"{shard.conn}-feed")

    async def _shutdown(self, graceful: bool) -> None:
        self._closing = True
        self._closing_ev.set()
        for shard in self._shards:
            shard.wake.set()
        tasks = {s.task for s in self._shards if s.task is not None}
        if graceful and tasks:
            _, tasks = await asyncio.wait(tasks, timeout=self._close_timeout_s + 1.0)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _fail(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc
        self._stop.set()

    # --- one shard ---------------------------------------------------------------------------

    async def _serve(self, shard: Shard) -> None:
        """Connect, serve, back off and reconnect until the feed closes (rules 2-4)."""
        backoff = Backoff(self._backoff, self._rng)
        try:
            while not self._closing:
                if not shard.tokens:
                    await shard.wake.wait()
                    shard.wake.clear()
                    continue
                reason = await self._attempt(shard, backoff)
                if self._closing or reason == "no_assets" or (reason and not shard.tokens):
                    continue
                delay = backoff.next_delay()
                self._emit(ReconnectScheduled(ts_recv_ns=self._stamp.now(), conn=shard.conn,
                                              attempt=backoff.attempt,
                                              delay_ms=round(delay * 1000)))
                await _sleep_unless(self._closing_ev, delay)
        except Exception as exc:  # the sink failed (or a bug): stop the whole feed
            self._fail(exc)

    async def _attempt(self, shard: Shard, backoff: Backoff) -> str | None:
        """One connection: returns why it closed, or None when it never opened."""
        conn = shard.conn
        try:
            ws: ClientConnection = await self._connect()
        except _CONNECT_ERRORS as exc:
            self._emit(ConnectionClosed(ts_recv_ns=self._stamp.now(), conn=conn,
                                        reason=describe_error("connect_failed", exc)))
            return None
        loop = asyncio.get_running_loop()
        backoff.opened(loop.time())
        set_nodelay(ws)
        session = Session(ws, shard, self._sink, self._stamp, watch=self._watch,
                          custom_feature_enabled=self._custom, initial_dump=self._dump)
        shard.session = session
        try:
            self._emit(ConnectionOpened(ts_recv_ns=self._stamp.now(), conn=conn, url=self.url))
            if self._closing:
                await session.close("client_close")
            reason, code = await session.run()
        except asyncio.CancelledError:
            session.abort("cancelled")
            self._emit(ConnectionClosed(ts_recv_ns=self._stamp.now(), conn=conn,
                                        reason="cancelled"))
            raise
        except BaseException:
            session.abort("feed_failed")
            raise
        finally:
            shard.session = None
        backoff.closed(loop.time())
        self._emit(ConnectionClosed(ts_recv_ns=self._stamp.now(), conn=conn, reason=reason,
                                    code=code))
        return reason

    def _emit(self, event: Input) -> None:
        self._sink.on_event(event)


async def _sleep_unless(event: asyncio.Event, delay_s: float) -> None:
    """Sleep `delay_s`, or less if `event` gets set."""
    try:
        async with asyncio.timeout(delay_s):
            await event.wait()
    except TimeoutError:
        pass


def _ids(token_ids: Iterable[str]) -> list[str]:
    if isinstance(token_ids, str | bytes):
        raise TypeError("pass an iterable of token ids, not a single string")
    out: dict[str, None] = {}
    for token in token_ids:
        if not isinstance(token, str):
            raise TypeError(f"token ids are strings, got {type(token).__name__}: {token!r}")
        if not token:
            raise ValueError("empty token id")
        out[token] = None
    return list(out)


def _clamp_per_connection(n: int) -> int:
    if n < 1:
        raise ValueError(f"tokens_per_connection must be >= 1, got {n}")
    if n > MAX_ASSETS_PER_CONNECTION:
        warnings.warn(
            f"tokens_per_connection={n} is above the venue's limit of "
            f"{MAX_ASSETS_PER_CONNECTION} assets per connection (above it the venue silently "
            f"sends nothing); using {MAX_ASSETS_PER_CONNECTION}",
            stacklevel=3,
        )
        return MAX_ASSETS_PER_CONNECTION
    return n


def _check_url(url: str) -> None:
    try:
        parse_uri(url)
    except InvalidURI as exc:
        raise ValueError(f"not a websocket URL (ws:// or wss://): {url!r}") from exc
