# Test support for the market feed: a scriptable loopback venue (websockets server on
# 127.0.0.1, port 0), a recording sink and fast feed settings. The few tests at the bottom check
# the fake venue itself, so the feed tests can trust it.
#
# The fake venue speaks the market channel's subscription protocol: one initial frame, then
# `operation` frames (a second initial frame gets `INVALID OPERATION`), a `book` array on each
# subscribe, text PING answered PONG. Knobs let a test make it stall, ignore PING or drop sockets.
from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import orjson
import websockets
from websockets.asyncio.server import Server, ServerConnection, serve

from polyarb.events.base import Input
from polyarb.events.inputs import ConnectionClosed, ConnectionOpened, SubscriptionSent
from polyarb.venues.polymarket.backoff import BackoffPolicy
from polyarb.venues.polymarket.feed import MarketFeed

T = TypeVar("T")
FAST_BACKOFF = BackoffPolicy(initial_s=0.01, factor=2.0, max_s=0.05, jitter=0.0,
                             healthy_reset_s=60.0)


def book(asset: str) -> dict[str, Any]:
    """A small `book` snapshot of our own making."""
    return {"event_type": "book", "asset_id": asset, "market": "0x" + "ab" * 32,
            "bids": [{"price": "0.48", "size": "30"}], "asks": [{"price": "0.52", "size": "25"}],
            "timestamp": "1766800000000", "hash": "0" * 40}


class VenueConn:
    """The server side of one accepted connection."""

    def __init__(self, ws: ServerConnection, index: int) -> None:
        self.ws = ws
        self.index = index
        self.received: list[str | bytes] = []
        self.assets: dict[str, None] = {}
        self.initialized = False
        self.closed = asyncio.Event()

    @property
    def json_received(self) -> list[Any]:
        """Received frames that are JSON (subscriptions), parsed."""
        return [orjson.loads(m) for m in self.received if m not in ("PING", b"PING")]

    async def send(self, data: str | bytes) -> None:
        await self.ws.send(data)

    def drop(self) -> None:
        """Cut the TCP connection without a close frame."""
        self.ws.transport.abort()


class FakeVenue:
    """A loopback market-channel server with knobs.

    Attributes:
        answer_ping: reply PONG to text PING.
        send_books: push a `book` array on every subscribe (off: a silent stall).
        conns: accepted connections, in accept order.
    """

    def __init__(self, *, answer_ping: bool = True, send_books: bool = True) -> None:
        self.answer_ping = answer_ping
        self.send_books = send_books
        self.conns: list[VenueConn] = []
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws/market"

    async def start(self) -> None:
        self._server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None,
                                   max_size=None, compression=None)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def live(self) -> list[VenueConn]:
        """Connections not yet closed."""
        return [c for c in self.conns if not c.closed.is_set()]

    async def _handle(self, ws: ServerConnection) -> None:
        conn = VenueConn(ws, len(self.conns))
        self.conns.append(conn)
        try:
            async for msg in ws:
                conn.received.append(msg)
                await self._on_message(conn, msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            conn.closed.set()

    async def _on_message(self, conn: VenueConn, msg: str | bytes) -> None:
        if msg == "PING":
            if self.answer_ping:
                await conn.send("PONG")
            return
        try:
            frame = orjson.loads(msg)
        except orjson.JSONDecodeError:
            await conn.send("INVALID OPERATION")
            return
        op = frame.get("operation")
        if op is None and conn.initialized:
            await conn.send("INVALID OPERATION")
            return
        ids = frame["assets_ids"]
        if op == "unsubscribe":
            for asset in ids:
                conn.assets.pop(asset, None)
            return
        conn.initialized = True
        new = [a for a in ids if a not in conn.assets]
        conn.assets.update(dict.fromkeys(new))
        if self.send_books and new:
            await conn.send(orjson.dumps([book(a) for a in new]).decode())


class Recorder:
    """A sink that keeps everything, in arrival order."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, str, str | bytes]] = []
        self.events: list[Input] = []
        self.log: list[Input | tuple[int, str, str | bytes]] = []

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        self.frames.append((ts_recv_ns, conn, data))
        self.log.append((ts_recv_ns, conn, data))

    def on_event(self, event: Input) -> None:
        self.events.append(event)
        self.log.append(event)

    def of(self, kind: type[T], conn: str | None = None) -> list[T]:
        return [e for e in self.events
                if isinstance(e, kind) and (conn is None or getattr(e, "conn", None) == conn)]

    def closes(self, conn: str | None = None) -> list[str]:
        return [e.reason for e in self.of(ConnectionClosed, conn)]

    def data(self, conn: str | None = None) -> list[str | bytes]:
        return [d for _, c, d in self.frames if (conn is None or c == conn) and d != "PONG"]


def fast_feed(url: str, sink: Recorder, **kw: Any) -> MarketFeed:
    """A feed with test-speed timers and backoff, a counting clock and no proxy."""
    base: dict[str, Any] = {
        "ping_interval_s": 5.0, "pong_timeout_s": 5.0, "silence_timeout_s": None,
        "asset_silence_timeout_s": None, "backoff": FAST_BACKOFF,
        "clock": itertools.count(1_000).__next__, "proxy": None, "ws_ping_interval_s": None,
        "close_timeout_s": 1.0,
    }
    base.update(kw)
    return MarketFeed(url, sink, **base)


@contextlib.asynccontextmanager
async def venue(**kw: Any) -> AsyncIterator[FakeVenue]:
    server = FakeVenue(**kw)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def running(feed: MarketFeed) -> AsyncIterator[asyncio.Task[None]]:
    """Run the feed in a task; close it (and surface its errors) on exit."""
    task = asyncio.create_task(feed.run())
    try:
        yield task
    finally:
        await feed.close()
        await task


async def until(cond: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll `cond` until true; fail the test after `timeout_s` (a deadline, not a timing check)."""
    async with asyncio.timeout(timeout_s):
        while not cond():
            await asyncio.sleep(0.002)


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run one async test body with an overall deadline."""
    async def guarded() -> T:
        return await asyncio.wait_for(main(), 20)
    return asyncio.run(guarded())


def initial_of(conn: VenueConn) -> dict[str, Any]:
    """The connection's first (initial) subscription frame."""
    first: dict[str, Any] = conn.json_received[0]
    return first


# --- the fake venue itself -------------------------------------------------------------------


def test_fake_venue_initial_twice_answers_invalid_operation() -> None:
    async def main() -> None:
        async with venue() as server, websockets.connect(server.url) as ws:
            await ws.send(orjson.dumps({"assets_ids": ["1"], "type": "market"}).decode())
            assert orjson.loads(await ws.recv())[0]["asset_id"] == "1"
            await ws.send(orjson.dumps({"assets_ids": ["2"], "type": "market"}).decode())
            assert await ws.recv() == "INVALID OPERATION"
            await ws.send("PING")
            assert await ws.recv() == "PONG"
    run(main)


def test_fake_venue_operations_track_assets() -> None:
    async def main() -> None:
        async with venue() as server, websockets.connect(server.url) as ws:
            await ws.send(orjson.dumps({"assets_ids": ["1"], "type": "market"}).decode())
            await ws.recv()
            await ws.send(orjson.dumps({"operation": "subscribe", "assets_ids": ["2"]}).decode())
            await ws.recv()
            await ws.send(orjson.dumps({"operation": "unsubscribe", "assets_ids": ["1"]}).decode())
            await until(lambda: list(server.conns[0].assets) == ["2"])
    run(main)


def test_recorder_filters_events_by_conn() -> None:
    rec = Recorder()
    rec.on_event(ConnectionOpened(ts_recv_ns=1, conn="market-0", url="ws://x"))
    rec.on_event(SubscriptionSent(ts_recv_ns=2, conn="market-1", operation="initial",
                                  asset_ids=("1",)))
    assert len(rec.of(ConnectionOpened, "market-0")) == 1
    assert rec.of(SubscriptionSent, "market-0") == []
