# UserFeed with scripted fake connections and a fake clock and sleep: the auth frame (never
# sunk or logged), raw frames and deduplicated events, lifecycle events, reconnect backoff, the
# REST sweep after every connect, sink failures that stop the feed, and no leaked secrets.
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import orjson
import pytest
import websockets
from websockets.frames import Close

from polyarb.events.inputs import (
    ConnectionClosed,
    ConnectionOpened,
    OrderUpdated,
    ReconnectScheduled,
    RestSnapshot,
    SubscriptionSent,
    TradeUpdated,
)
from polyarb.venues.polymarket.backoff import BackoffPolicy
from polyarb.venues.polymarket.clob import ClobError
from polyarb.venues.polymarket.user_feed import UserFeed
from polyarb.venues.polymarket.user_parse import UserIdentity, parse_rows
from tests.venues.polymarket.recorded.harness import (
    ADDRESS,
    API_KEY,
    PASSPHRASE,
    SECRET,
    T0_NS,
    FakeClock,
    FakeSleep,
    api,
    has_marker,
    payload,
    run,
    texts,
)

MARKET = "0x5f1b6a6e3c3b0b8f9f5a2d0c4e7a1b2c3d4e5f60718293a4b5c6d7e8f9011223"
Step = str | bytes | BaseException | Callable[[], Awaitable[None]]


def closed(code: int = 1011, reason: str = "bye") -> websockets.ConnectionClosed:
    return websockets.ConnectionClosed(Close(code, reason), None)


class FakeWs:
    """A scripted connection: recv() plays the steps (frames, exceptions, actions), then waits
    until close() (which makes recv raise a normal closure)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.sent: list[str] = []
        self.closed = asyncio.Event()

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str | bytes:
        while self.steps:
            step = self.steps.pop(0)
            if isinstance(step, BaseException):
                raise step
            if callable(step):
                await step()
                continue
            return step
        await self.closed.wait()
        raise closed(1000, "closed by client")

    async def close(self) -> None:
        self.closed.set()


class Sink:
    def __init__(self, fail_on: type | None = None) -> None:
        self.frames: list[tuple[int, str, str | bytes]] = []
        self.events: list[Any] = []
        self.fail_on = fail_on

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        if self.fail_on is bytes:
            raise OSError("journal disk full")
        self.frames.append((ts_recv_ns, conn, data))

    def on_event(self, event: Any) -> None:
        if self.fail_on is not None and isinstance(event, self.fail_on):
            raise OSError("journal disk full")
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.events]


class Harness:
    def __init__(self, *sessions: FakeWs | BaseException, sweep: Any = None,
                 sink: Sink | None = None, **kw: Any) -> None:
        self.clock = FakeClock()
        self.sleep = FakeSleep(self.clock)
        self.sink = sink if sink is not None else Sink()
        self.sessions = list(sessions)
        self.urls: list[str] = []
        policy = BackoffPolicy(initial_s=1.0, max_s=8.0, jitter=0.0, healthy_reset_s=30.0)
        self.feed = UserFeed(api=api(), identity=UserIdentity(API_KEY, [ADDRESS]),
                             markets=[MARKET, MARKET], sink=self.sink, sweep=sweep,
                             url="ws://venue.test/ws/user", clock_ns=self.clock.ns,
                             connect=self.connect, sleep=self.sleep, backoff=policy, **kw)

    async def connect(self, url: str) -> Any:
        self.urls.append(url)
        if not self.sessions:
            self.feed._stopped = True  # script over: the run loop ends
            raise OSError("script over")
        item = self.sessions.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def run(self) -> None:
        run(self.feed.run, timeout=10)


def test_user_feed_auth_frame_first_with_raw_credentials_and_markets() -> None:
    ws = FakeWs(closed())
    h = Harness(ws)
    h.run()
    auth = orjson.loads(ws.sent[0])
    assert auth == {"type": "user", "auth": {"apiKey": API_KEY, "secret": SECRET,
                                             "passphrase": PASSPHRASE},
                    "markets": [MARKET], "assets_ids": [], "initial_dump": True}
    sub = h.sink.events[1]
    assert isinstance(sub, SubscriptionSent) and sub.asset_ids == (MARKET,)
    assert not any(SECRET in str(e) or PASSPHRASE in str(e) for e in h.sink.events)


def test_user_feed_frames_sunk_raw_and_events_deduplicated() -> None:
    placement = payload("user_order_placement.json").decode()
    trade = payload("user_trade_taker.json")
    ws = FakeWs(placement, placement, trade, "PONG", closed())
    h = Harness(ws)
    h.run()
    assert [f[2] for f in h.sink.frames] == [placement, placement, trade, "PONG"]
    assert all(f[0] == T0_NS and f[1] == "user-0" for f in h.sink.frames)
    assert h.sink.kinds()[:5] == ["ConnectionOpened", "SubscriptionSent", "OrderUpdated",
                                  "TradeUpdated", "ConnectionClosed"]
    assert h.feed.dedupe.dropped == 1 and h.feed.stats["frames"] == 4


def test_user_feed_unparseable_elements_counted_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    h = Harness(FakeWs(payload("user_batch.json"), "INVALID OPERATION", closed()))
    h.run()
    assert h.feed.stats["issues"] == 4
    assert "unknown event_type 'last_trade_price'" in caplog.text
    assert sum(isinstance(e, OrderUpdated) for e in h.sink.events) == 1


def test_user_feed_reconnects_with_backoff_and_lifecycle_events() -> None:
    h = Harness(FakeWs(closed(1011, "internal")), OSError("refused"), FakeWs(closed(1000, "")))
    h.run()
    assert h.sink.kinds() == [
        "ConnectionOpened", "SubscriptionSent", "ConnectionClosed", "ReconnectScheduled",
        "ConnectionClosed", "ReconnectScheduled",
        "ConnectionOpened", "SubscriptionSent", "ConnectionClosed", "ReconnectScheduled",
        "ConnectionClosed"]
    closes = [e for e in h.sink.events if isinstance(e, ConnectionClosed)]
    assert (closes[0].reason, closes[0].code) == ("remote_close: internal", 1011)
    assert closes[1].reason == "connect_failed: OSError: refused" and closes[1].code is None
    sched = [e for e in h.sink.events if isinstance(e, ReconnectScheduled)]
    assert [(e.attempt, e.delay_ms) for e in sched] == [(1, 1000), (2, 2000), (3, 4000)]
    assert h.sleep.delays == [1.0, 2.0, 4.0]


def test_user_feed_backoff_resets_after_a_healthy_session() -> None:
    h = Harness()

    async def long_session() -> None:
        h.clock.advance(31)

    h.sessions = [OSError("a"), FakeWs(long_session, closed()), OSError("b")]
    h.run()
    sched = [e.delay_ms for e in h.sink.events if isinstance(e, ReconnectScheduled)]
    assert sched == [1000, 1000, 2000]


def test_user_feed_idle_connection_is_dropped() -> None:
    h = Harness(FakeWs(), idle_timeout_s=0.01)
    h.run()
    closes = [e for e in h.sink.events if isinstance(e, ConnectionClosed)]
    assert closes[0].reason == "idle: no frame for 0.01 s"


def test_user_feed_sends_text_ping() -> None:
    ws = FakeWs()
    h = Harness(ws, ping_interval_s=0.001)

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(h.feed.run())
        while "PING" not in ws.sent:
            await asyncio.sleep(0.001)
        await h.feed.stop()
        await task

    run(main)
    assert ws.sent[0].startswith('{"type":"user"') and "ReconnectScheduled" not in h.sink.kinds()


def test_user_feed_subscribe_changes_are_sent_and_kept_for_reconnects() -> None:
    other = "0x" + "ab" * 32
    first = FakeWs()
    second = FakeWs(closed())
    h = Harness(first, second)

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(h.feed.run())
        while not first.sent:
            await asyncio.sleep(0)
        await h.feed.subscribe([other, MARKET])
        await h.feed.subscribe([MARKET], unsubscribe=True)
        await h.feed.subscribe([MARKET], unsubscribe=True)  # not subscribed: nothing sent
        await first.close()
        await task

    run(main)
    assert [orjson.loads(m) for m in first.sent[1:]] == [
        {"operation": "subscribe", "markets": [other]},
        {"operation": "unsubscribe", "markets": [MARKET]}]
    assert orjson.loads(second.sent[0])["markets"] == [other]
    ops = [(e.operation, e.asset_ids) for e in h.sink.events if isinstance(e, SubscriptionSent)]
    assert ops[1:3] == [("subscribe", (other,)), ("unsubscribe", (MARKET,))]


def _sweep_pages(calls: list[int | None], fail_first: int = 0) -> Any:
    rows = orjson.loads(payload("open_orders_page1.json"))["data"]
    me = UserIdentity(API_KEY, [ADDRESS])

    async def sweep(since_s: int | None) -> list[Any]:
        calls.append(since_s)
        if len(calls) <= fail_first:
            raise ClobError(f"http 503: down {SECRET}", 503)
        snap = RestSnapshot(ts_recv_ns=1, endpoint="/data/orders", status_code=200,
                            body=msgspec.Raw(orjson.dumps({"data": rows})))
        return [snap, *parse_rows(rows, "order", 1, me).events]
    return sweep


def test_user_feed_sweeps_after_every_connect_and_dedupes_against_channel() -> None:
    calls: list[int | None] = []

    async def gap() -> None:
        h.clock.advance(100)

    placement = payload("user_order_placement.json").decode()
    h = Harness(FakeWs(placement, gap, closed()), FakeWs(closed()),
                sweep=_sweep_pages(calls), sweep_lookback_s=60)
    h.run()
    t0 = T0_NS // 10**9
    assert calls == [t0 - 60, t0 + 100 - 60]
    snaps = [e for e in h.sink.events if isinstance(e, RestSnapshot)]
    updates = [e for e in h.sink.events if isinstance(e, OrderUpdated)]
    assert len(snaps) == 2
    # A1 LIVE/0 came on the channel first: the sweep's copies are dropped; A2 passes once.
    assert [u.venue_order_id[-2:] for u in updates] == ["a1", "a2"]
    assert h.feed.stats["sweeps"] == 2


def test_user_feed_failed_sweep_is_retried_without_leaking(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    calls: list[int | None] = []

    async def settle() -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    h = Harness(FakeWs(settle, closed()), sweep=_sweep_pages(calls, fail_first=2))
    h.run()
    assert len(calls) == 3 and h.feed.stats["sweep_failures"] == 2
    assert h.feed.stats["sweeps"] == 1 and h.sleep.delays[:2] == [1.0, 2.0]
    assert "http 503: down <redacted>" in caplog.text and not has_marker(caplog.text)


@pytest.mark.parametrize("fail_on", [bytes, OrderUpdated, ConnectionOpened])
def test_user_feed_sink_failure_stops_the_feed(fail_on: type) -> None:
    ws = FakeWs(payload("user_order_placement.json").decode())
    h = Harness(ws, FakeWs(), sink=Sink(fail_on=fail_on))
    with pytest.raises(OSError, match="journal disk full"):
        h.run()
    assert ws.closed.is_set() and len(h.urls) == 1
    assert "ReconnectScheduled" not in h.sink.kinds()


def test_user_feed_sink_failure_during_sweep_stops_the_feed() -> None:
    calls: list[int | None] = []
    h = Harness(FakeWs(), sweep=_sweep_pages(calls), sink=Sink(fail_on=RestSnapshot))
    with pytest.raises(OSError, match="journal disk full"):
        h.run()
    assert len(h.urls) == 1


def test_user_feed_stop_ends_run_without_reconnect() -> None:
    ws = FakeWs()
    h = Harness(ws)

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(h.feed.run())
        while not ws.sent:
            await asyncio.sleep(0)
        await h.feed.stop()
        await task

    run(main)
    assert h.sink.kinds()[-1] == "ConnectionClosed" and len(h.urls) == 1


def test_user_feed_never_leaks_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    leak = f"{SECRET} {PASSPHRASE} {API_KEY}"
    h = Harness(FakeWs(f"garbage {leak}", closed(1008, leak)), OSError(leak))
    h.run()
    journal = texts(h.sink.events)
    assert "<redacted>" in journal and not has_marker(journal)
    assert not has_marker(caplog.text) and not has_marker(repr(h.feed))
    sent_to_sink = [f[2] for f in h.sink.frames]
    assert sent_to_sink == [f"garbage {leak}"]  # a received frame is journaled verbatim
    assert all(isinstance(e, ConnectionOpened | SubscriptionSent | ConnectionClosed
                          | ReconnectScheduled | TradeUpdated) for e in h.sink.events)


def test_user_feed_frame_limit_stays_below_the_journal_line_limit() -> None:
    from polyarb.journal.scan import MAX_LINE
    from polyarb.venues.polymarket.user_feed import MAX_FRAME_BYTES

    # a frame is embedded in one journal line with an envelope of well under 1 MiB
    assert MAX_FRAME_BYTES + (1 << 20) < MAX_LINE
