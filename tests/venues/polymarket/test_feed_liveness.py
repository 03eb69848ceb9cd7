# MarketFeed keepalive, watchdogs and reconnects against the loopback fake venue, with
# test-speed intervals (tens of milliseconds) and a fast backoff. Assertions are on what
# happened (frames, events, their order), never on how long it took.
from __future__ import annotations

import asyncio
import socket

import orjson

from polyarb.events.inputs import (
    ConnectionClosed,
    ConnectionOpened,
    ReconnectScheduled,
    SubscriptionSent,
)
from polyarb.venues.polymarket.backoff import BackoffPolicy
from tests.venues.polymarket.test_feed_support import (
    FAST_BACKOFF,
    Recorder,
    fast_feed,
    initial_of,
    run,
    running,
    until,
    venue,
)


def test_feed_sends_text_ping_on_cadence_and_pong_reaches_sink() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, ping_interval_s=0.02)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: bool(server.conns)
                            and server.conns[0].received.count("PING") >= 3)
                await until(lambda: sum(d == "PONG" for _, _, d in rec.frames) >= 3)
            assert server.conns[0].received[0] != "PING"  # the initial frame goes first
            assert rec.closes() == ["client_close"]
    run(main)


def test_feed_unanswered_ping_reconnects_with_pong_timeout() -> None:
    async def main() -> None:
        async with venue(answer_ping=False) as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, ping_interval_s=0.02, pong_timeout_s=0.06)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(server.conns) >= 2 and bool(server.conns[1].received))
            assert rec.closes()[0] == "pong_timeout"
            assert initial_of(server.conns[1])["assets_ids"] == ["1"]
    run(main)


def test_feed_silent_stall_with_pongs_answered_reconnects_and_resubscribes() -> None:
    async def main() -> None:
        async with venue(send_books=False) as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, ping_interval_s=0.01, silence_timeout_s=0.1)
            feed.subscribe(["1", "2"])
            async with running(feed):
                await until(lambda: len(server.conns) >= 3 and bool(server.conns[2].received))
            closes = rec.of(ConnectionClosed)
            assert [c.reason for c in closes[:2]] == ["silence", "silence"]
            for conn in server.conns[:3]:
                assert initial_of(conn)["assets_ids"] == ["1", "2"]
            assert any(d == "PONG" for _, _, d in rec.frames)  # PONG alone did not count
            seq = [type(e).__name__ for e in rec.events[:6]]
            assert seq == ["ConnectionOpened", "SubscriptionSent", "ConnectionClosed",
                           "ReconnectScheduled", "ConnectionOpened", "SubscriptionSent"]
    run(main)


def test_feed_data_keeps_silence_watchdog_quiet() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, silence_timeout_s=0.25)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                for i in range(40):  # 0.6 s of data, never 0.25 s apart
                    await server.conns[0].send(f'{{"n":{i}}}')
                    await asyncio.sleep(0.015)
            assert rec.closes() == ["client_close"]
    run(main)


def test_feed_silent_asset_is_probed_by_resubscribe_without_reconnect() -> None:
    async def main() -> None:
        async with venue(send_books=False) as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, asset_silence_timeout_s=0.3)
            feed.subscribe(["loud", "quiet"])
            async with running(feed):
                await until(lambda: bool(server.conns))
                conn = server.conns[0]

                def probed() -> bool:
                    return any(m.get("operation") == "subscribe" and "quiet" in m["assets_ids"]
                               for m in conn.json_received)

                while not probed():
                    await conn.send(orjson.dumps({"event_type": "last_trade_price",
                                                  "asset_id": "loud"}).decode())
                    await asyncio.sleep(0.005)
            ops = [(m.get("operation"), m["assets_ids"]) for m in conn.json_received]
            i = ops.index(("unsubscribe", ["quiet"]))
            assert ops[i + 1] == ("subscribe", ["quiet"])
            assert ("unsubscribe", ["loud"]) not in ops
            assert len(server.conns) == 1 and rec.closes() == ["client_close"]
            sent = [(e.operation, e.asset_ids) for e in rec.of(SubscriptionSent)]
            assert ("unsubscribe", ("quiet",)) in sent and ("subscribe", ("quiet",)) in sent
    run(main)


def test_feed_server_drop_reconnects_with_growing_backoff_and_resubscribes() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1", "2"])
            async with running(feed):
                for n in range(1, 4):
                    await until(lambda: len(rec.data()) == n)  # noqa: B023 (awaited at once)
                    server.conns[-1].drop()
                await until(lambda: len(rec.data()) == 4)
            scheduled = rec.of(ReconnectScheduled)
            assert [e.attempt for e in scheduled] == [1, 2, 3]
            assert [e.delay_ms for e in scheduled] == [10, 20, 40]
            assert [c.reason for c in rec.of(ConnectionClosed)[:3]] == ["connection_lost"] * 3
            assert len(rec.of(ConnectionOpened)) == 4
            for conn in server.conns:
                assert initial_of(conn)["assets_ids"] == ["1", "2"]
    run(main)


def test_feed_remote_close_code_is_reported() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                await server.conns[0].ws.close(1001, "maintenance")
                await until(lambda: len(rec.data()) == 2)
            first = rec.of(ConnectionClosed)[0]
            assert (first.reason, first.code) == ("remote_close: maintenance", 1001)
    run(main)


def test_feed_healthy_connection_resets_backoff() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            policy = BackoffPolicy(initial_s=0.01, max_s=0.05, jitter=0.0,
                                   healthy_reset_s=0.5)
            feed = fast_feed(server.url, rec, backoff=policy)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                server.conns[-1].drop()  # at once: not healthy yet
                await until(lambda: len(rec.data()) == 2)
                server.conns[-1].drop()
                await until(lambda: len(rec.data()) == 3)
                await asyncio.sleep(0.6)  # stays up past healthy_reset_s
                server.conns[-1].drop()
                await until(lambda: len(rec.of(ReconnectScheduled)) == 3)
            assert [e.attempt for e in rec.of(ReconnectScheduled)] == [1, 2, 1]
    run(main)


def test_feed_connect_refused_schedules_retries_until_venue_appears() -> None:
    async def main() -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        rec = Recorder()
        feed = fast_feed(f"ws://127.0.0.1:{port}/ws/market", rec)
        feed.subscribe(["1"])
        async with running(feed):
            await until(lambda: len(rec.of(ReconnectScheduled)) >= 4)
        closes = rec.of(ConnectionClosed)
        assert closes and all(c.reason.startswith("connect_failed: ") for c in closes)
        assert rec.of(ConnectionOpened) == []
        attempts = [e.attempt for e in rec.of(ReconnectScheduled)]
        assert attempts == list(range(1, len(attempts) + 1))
        assert max(e.delay_ms for e in rec.of(ReconnectScheduled)) == 50  # the cap
    run(main)


def test_feed_subscribe_during_backoff_lands_in_next_initial_frame() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            slow = BackoffPolicy(initial_s=0.2, jitter=0.0, max_s=1.0)
            feed = fast_feed(server.url, rec, backoff=slow)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                server.conns[0].drop()
                await until(lambda: bool(rec.of(ReconnectScheduled)))
                feed.subscribe(["2"])
                feed.unsubscribe(["1"])
                await until(lambda: len(server.conns) == 2 and len(rec.data()) == 2)
            assert server.conns[1].json_received[0]["assets_ids"] == ["2"]
            assert len(server.conns[1].json_received) == 1
    run(main)


def test_feed_fast_backoff_constant_is_fast() -> None:
    assert FAST_BACKOFF.max_s <= 0.05 and FAST_BACKOFF.jitter == 0.0
