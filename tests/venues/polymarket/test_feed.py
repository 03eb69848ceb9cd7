# MarketFeed against the loopback fake venue (test_feed_support.py): subscription frames,
# sharding, dynamic changes, lifecycle events, clean close and bad input. Keepalive, silence
# and reconnects are in test_feed_liveness.py.
from __future__ import annotations

import asyncio
import itertools
import warnings

import orjson
import pytest

from polyarb.events.base import Input
from polyarb.events.inputs import (
    ConnectionClosed,
    ConnectionOpened,
    ReconnectScheduled,
    SubscriptionSent,
)
from polyarb.venues.polymarket.feed import MarketFeed
from tests.venues.polymarket.test_feed_support import (
    Recorder,
    fast_feed,
    initial_of,
    run,
    running,
    until,
    venue,
)

BIG = [str(10**76 + i) for i in range(500)]  # 77-digit ids, like the venue's


def test_feed_initial_frame_shape_and_lifecycle_events() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(BIG[:2])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
            conn = server.conns[0]
            assert conn.received[0] == (f'{{"assets_ids":["{BIG[0]}","{BIG[1]}"],"type":"market",'
                                        f'"initial_dump":true,"custom_feature_enabled":true}}')
            kinds = [type(e) for e in rec.events]
            assert kinds == [ConnectionOpened, SubscriptionSent, ConnectionClosed]
            opened, sent, closed = rec.events
            assert isinstance(opened, ConnectionOpened) and opened.url == server.url
            assert sent == SubscriptionSent(ts_recv_ns=sent.ts_recv_ns, conn="market-0",
                                            operation="initial", asset_ids=tuple(BIG[:2]))
            assert isinstance(closed, ConnectionClosed)
            assert (closed.conn, closed.reason, closed.code) == ("market-0", "client_close", 1000)
    run(main)


def test_feed_flags_reach_the_initial_frame() -> None:
    async def main() -> None:
        async with venue() as server:
            feed = fast_feed(server.url, Recorder(), custom_feature_enabled=False,
                             initial_dump=False)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: bool(server.conns and server.conns[0].received))
            first = initial_of(server.conns[0])
            assert first["custom_feature_enabled"] is False and first["initial_dump"] is False
    run(main)


def test_feed_450_tokens_at_200_shard_onto_3_disjoint_connections() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(BIG[:450])
            async with running(feed):
                await until(lambda: len(rec.data()) == 3)
                by_conn = {c: set(ids) for c, ids in feed.assignment.items()}
            assert sorted(by_conn) == ["market-0", "market-1", "market-2"]
            assert [len(by_conn[c]) for c in sorted(by_conn)] == [200, 200, 50]
            sent = [set(initial_of(c)["assets_ids"]) for c in server.conns]
            assert sorted(map(len, sent)) == [50, 200, 200]
            assert set().union(*sent) == set(BIG[:450])
            assert sum(map(len, sent)) == 450  # disjoint
            for c in server.conns:
                assert len(c.json_received) == 1  # one initial frame, nothing else
            per_conn = {e.conn: set(e.asset_ids) for e in rec.of(SubscriptionSent)}
            assert per_conn == by_conn
    run(main)


def test_feed_dynamic_subscribe_uses_operation_frames_and_fills_room_first() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, tokens_per_connection=3)
            feed.subscribe(["1", "2"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                feed.subscribe(["2", "3", "4"])  # "2" already subscribed: ignored
                await until(lambda: len(server.conns) == 2 and len(rec.data()) == 3)
                assert feed.assignment == {"market-0": ("1", "2", "3"), "market-1": ("4",)}
            c0, c1 = server.conns
            assert c0.json_received[1] == {"operation": "subscribe", "assets_ids": ["3"],
                                           "custom_feature_enabled": True}
            assert initial_of(c1)["assets_ids"] == ["4"]
            ops = [(e.conn, e.operation, e.asset_ids) for e in rec.of(SubscriptionSent)]
            assert ("market-0", "subscribe", ("3",)) in ops
            assert ("market-1", "initial", ("4",)) in ops
    run(main)


def test_feed_unsubscribe_sends_operation_and_empty_shard_closes_then_reopens() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1", "2"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                feed.unsubscribe(["2", "never-subscribed"])
                await until(lambda: list(server.conns[0].assets) == ["1"])
                assert server.conns[0].json_received[1] == {
                    "operation": "unsubscribe", "assets_ids": ["2"],
                    "custom_feature_enabled": True}
                feed.unsubscribe(["1"])
                await until(lambda: rec.closes("market-0") == ["no_assets"])
                feed.subscribe(["5"])
                await until(lambda: len(server.conns) == 2 and len(rec.data()) == 2)
            assert feed.assignment == {"market-0": ("5",)}
            assert initial_of(server.conns[1])["assets_ids"] == ["5"]
            assert rec.of(ReconnectScheduled) == []  # a deliberate close is not a failure
    run(main)


def test_feed_subscribe_unsubscribe_before_connect_fold_into_initial_frame() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1", "2", "3"])
            feed.unsubscribe(["2"])
            feed.subscribe(["4"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
            assert server.conns[0].json_received == [
                {"assets_ids": ["1", "3", "4"], "type": "market", "initial_dump": True,
                 "custom_feature_enabled": True}]
    run(main)


def test_feed_every_frame_reaches_sink_in_order_with_monotonic_ts() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                sent = [orjson.dumps({"event_type": "n", "n": i}).decode() for i in range(300)]
                for frame in sent:
                    await server.conns[0].send(frame)
                await until(lambda: len(rec.data()) == 301)
            assert rec.data()[1:] == sent
            stamps = [ts for ts, _, _ in rec.frames]
            assert stamps == sorted(stamps)  # frames of one socket read share a stamp
            log_ts = [x[0] if isinstance(x, tuple) else x.ts_recv_ns for x in rec.log]
            assert log_ts == sorted(log_ts)  # frames and events share one clock
    run(main)


def test_feed_clock_stepping_back_is_held_at_last_stamp() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            ticks = itertools.chain([100, 200, 300], itertools.repeat(150))
            feed = fast_feed(server.url, rec, clock=ticks.__next__)
            feed.subscribe(["1"])
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                await server.conns[0].send("x")
                await until(lambda: len(rec.data()) == 2)
            stamps = [x[0] if isinstance(x, tuple) else x.ts_recv_ns for x in rec.log]
            assert stamps[:3] == [100, 200, 300]
            assert all(ts == 300 for ts in stamps[3:])
    run(main)


def test_feed_bad_input_reaches_sink_verbatim_and_keeps_connection() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1"])
            bad: list[str | bytes] = [b"\x00\xffbinary", "INVALID OPERATION", "{not json",
                                      "", "line\nbreak", '{"event_type":"unknown"}']
            async with running(feed):
                await until(lambda: len(rec.data()) == 1)
                for frame in bad:
                    await server.conns[0].send(frame)
                await until(lambda: len(rec.data()) == 1 + len(bad))
                await server.conns[0].send("after")
                await until(lambda: rec.data()[-1] == "after")
            assert rec.data()[1:-1] == bad
            assert len(server.conns) == 1
            assert rec.closes() == ["client_close"]
    run(main)


def test_feed_close_closes_every_connection_cleanly_and_run_returns() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec, tokens_per_connection=2)
            feed.subscribe([str(i) for i in range(6)])
            task = asyncio.create_task(feed.run())
            await until(lambda: len(rec.data()) == 3)
            await feed.close()
            await asyncio.wait_for(task, 5)
            assert sorted(rec.closes()) == ["client_close"] * 3
            assert all(c.ws.close_code == 1000 for c in server.conns)
            await until(lambda: not server.live())
            with pytest.raises(RuntimeError):
                feed.subscribe(["9"])
            await feed.close()  # idempotent
    run(main)


def test_feed_sink_error_stops_the_feed_and_run_raises_it() -> None:
    class Boom(Exception):
        pass

    class Failing(Recorder):
        def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
            super().on_frame(ts_recv_ns, conn, data)
            if data == "poison":
                raise Boom("disk full")

    async def main() -> None:
        async with venue() as server:
            rec = Failing()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1"])
            task = asyncio.create_task(feed.run())
            await until(lambda: len(rec.data()) == 1)
            await server.conns[0].send("poison")
            with pytest.raises(Boom):
                await asyncio.wait_for(task, 5)
            await until(lambda: not server.live())
            assert rec.of(ReconnectScheduled) == []
    run(main)


def test_feed_cancelled_run_aborts_and_reports_cancelled() -> None:
    async def main() -> None:
        async with venue() as server:
            rec = Recorder()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1"])
            task = asyncio.create_task(feed.run())
            await until(lambda: len(rec.data()) == 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert rec.closes() == ["cancelled"]
            await until(lambda: not server.live())
    run(main)


def test_feed_run_twice_raises() -> None:
    async def main() -> None:
        async with venue() as server:
            feed = fast_feed(server.url, Recorder())
            async with running(feed):
                await asyncio.sleep(0)
                with pytest.raises(RuntimeError):
                    await feed.run()
    run(main)


def test_feed_tokens_per_connection_above_500_clamps_with_warning() -> None:
    with pytest.warns(UserWarning, match="500"):
        feed = MarketFeed("ws://127.0.0.1:1/ws/market", Recorder(), tokens_per_connection=900)
    assert feed.tokens_per_connection == 500
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert MarketFeed("ws://127.0.0.1:1/", Recorder()).tokens_per_connection == 200


def test_feed_1000_tokens_at_default_use_5_connections() -> None:
    feed = MarketFeed("ws://127.0.0.1:1/", Recorder())
    feed.subscribe(str(i) for i in range(1000))
    assert [len(v) for v in feed.assignment.values()] == [200] * 5


@pytest.mark.parametrize(("ids", "error"), [
    ("123", TypeError), ([123], TypeError), ([""], ValueError), ([b"1"], TypeError),
])
def test_feed_subscribe_bad_ids_raise(ids: object, error: type[Exception]) -> None:
    feed = MarketFeed("ws://127.0.0.1:1/", Recorder())
    with pytest.raises(error):
        feed.subscribe(ids)  # type: ignore[arg-type]
    assert feed.assignment == {}


@pytest.mark.parametrize("kw", [{"tokens_per_connection": 0}, {"ping_interval_s": 0.0}])
def test_feed_bad_settings_raise(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        MarketFeed("ws://127.0.0.1:1/", Recorder(), **kw)  # type: ignore[arg-type]


def test_feed_bad_url_raises() -> None:
    with pytest.raises(ValueError, match="websocket URL"):
        MarketFeed("https://example.com/ws/market", Recorder())


def test_feed_sink_error_on_a_keeper_event_stops_the_feed() -> None:
    class Refuses(Recorder):
        def on_event(self, event: Input) -> None:
            if isinstance(event, SubscriptionSent) and event.operation == "subscribe":
                raise OSError("journal refused")
            super().on_event(event)

    async def main() -> None:
        async with venue() as server:
            rec = Refuses()
            feed = fast_feed(server.url, rec)
            feed.subscribe(["1"])
            task = asyncio.create_task(feed.run())
            await until(lambda: len(rec.data()) == 1)
            feed.subscribe(["2"])
            with pytest.raises(OSError, match="journal refused"):
                await asyncio.wait_for(task, 5)
            await until(lambda: not server.live())
            assert ["2"] not in [m["assets_ids"] for m in server.conns[0].json_received]
    run(main)
