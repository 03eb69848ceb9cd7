# The user channel against polyarb's simulator on loopback: our fill's settlement progression,
# a maker fill on a resting order, and a reconnect whose REST sweep recovers what happened
# while the socket was down, without duplicates.
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from polyarb.events.inputs import OrderUpdated, RestSnapshot, TradeUpdated
from polyarb.sim import OrderRequest
from polyarb.sim.server.scenario import TAKER_OWNER
from polyarb.venues.base import sweep
from polyarb.venues.polymarket.backoff import BackoffPolicy
from polyarb.venues.polymarket.user_feed import Connection, UserFeed, websocket_connect
from polyarb.venues.polymarket.venue import PolymarketVenue
from tests.venues.polymarket.recorded.harness import batch, intent, run, sim_server, sim_venue


class Sink:
    def __init__(self) -> None:
        self.frames: list[str | bytes] = []
        self.events: list[Any] = []

    def on_frame(self, ts_recv_ns: int, conn: str, data: str | bytes) -> None:
        assert conn == "user-0"
        self.frames.append(data)

    def on_event(self, event: Any) -> None:
        self.events.append(event)

    def trades(self, trade_id: str | None = None) -> list[TradeUpdated]:
        return [e for e in self.events if isinstance(e, TradeUpdated)
                and (trade_id is None or e.trade_id == trade_id)]


async def wait_for(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not pred():
            await asyncio.sleep(0.005)
    await asyncio.wait_for(poll(), timeout)


def _feed(server: Any, venue: PolymarketVenue, sink: Sink, **kw: Any) -> UserFeed:
    return UserFeed(api=venue.client.api, identity=venue.identity(), markets=[], sink=sink,
                    sweep=lambda since: sweep(venue, since), url=server.ws_url + "/user",
                    backoff=BackoffPolicy(initial_s=0.01, max_s=0.05, jitter=0.0), **kw)


def test_user_sim_taker_fill_progresses_to_confirmed() -> None:
    async def main() -> None:
        async with sim_server() as server:
            venue = await sim_venue(server)
            sink = Sink()
            feed = _feed(server, venue, sink)
            task = asyncio.get_running_loop().create_task(feed.run())
            await wait_for(lambda: feed.stats["sweeps"] == 1)
            yes = server.venue.exchange.all_markets()[0].tokens[0].token_id
            _, ask = server.venue.exchange.best_prices(yes)
            [acc] = list[Any](await venue.place(batch(intent("t1", token=yes, price=ask,
                                                   size=10_000_000, order_type="FOK"))))
            await wait_for(lambda: any(t.status == "CONFIRMED" for t in sink.trades()))
            await feed.stop()
            await task
            trades = sink.trades()
            assert [t.status for t in trades] == ["MATCHED", "MINED", "CONFIRMED"]
            assert {t.venue_order_id for t in trades} == {acc.venue_order_id}
            assert trades[0].transaction_hash == "" and trades[2].transaction_hash
            assert all(t.trader_side == "TAKER" and t.size_micros == 10_000_000 for t in trades)
            updates = [e for e in sink.events if isinstance(e, OrderUpdated)]
            assert [(u.update_type, u.status) for u in updates] == [("UPDATE", "MATCHED")]
            assert len(sink.frames) >= 4
            await venue.close()
    run(main)


def test_user_sim_maker_fill_on_resting_order() -> None:
    async def main() -> None:
        async with sim_server() as server:
            venue = await sim_venue(server)
            sink = Sink()
            feed = _feed(server, venue, sink)
            task = asyncio.get_running_loop().create_task(feed.run())
            await wait_for(lambda: feed.stats["sweeps"] == 1)
            market = server.venue.exchange.all_markets()[0]
            yes, no = (t.token_id for t in market.tokens)
            bid, _ = server.venue.exchange.best_prices(yes)
            price = bid + 10_000  # inside the spread: first in line
            [acc] = list[Any](await venue.place(batch(intent("m1", token=yes, price=price,
                                                             size=10_000_000))))
            # another account buys NO at 1 - p: a YES ask at p that meets our bid (a mint)
            server.venue.exchange.place(OrderRequest(
                owner=TAKER_OWNER, token_id=no, side="BUY", price_micros=1_000_000 - price,
                size_micros=5_000_000, order_type="FAK"), server.venue.clock())
            server.venue.publish()
            await wait_for(lambda: any(t.status == "MINED" for t in sink.trades()))
            await feed.stop()
            await task
            fill = sink.trades()[0]
            assert (fill.trader_side, fill.venue_order_id, fill.token_id, fill.side) == (
                "MAKER", acc.venue_order_id, yes, "BUY")
            assert (fill.price_micros, fill.size_micros, fill.fee_micros) == (
                price, 5_000_000, 0)
            partial = [e for e in sink.events if isinstance(e, OrderUpdated)
                       and e.update_type == "UPDATE"]
            assert partial[0].size_matched_micros == 5_000_000 and partial[0].status == "LIVE"
            await venue.close()
    run(main)


def test_user_sim_reconnect_sweep_recovers_the_gap_without_duplicates() -> None:
    async def main() -> None:
        async with sim_server() as server:
            venue = await sim_venue(server)
            sink = Sink()
            sockets: list[Connection] = []
            gate = asyncio.Event()

            async def connect(url: str) -> Connection:
                ws = await websocket_connect(url)
                sockets.append(ws)
                return ws

            async def held_sleep(seconds: float) -> None:
                await gate.wait()  # the test decides when the feed may reconnect

            feed = _feed(server, venue, sink, connect=connect, sleep=held_sleep)
            task = asyncio.get_running_loop().create_task(feed.run())
            await wait_for(lambda: feed.stats["sweeps"] == 1)
            yes = server.venue.exchange.all_markets()[1].tokens[0].token_id
            _, ask = server.venue.exchange.best_prices(yes)

            await sockets[0].close()  # the channel drops...
            await wait_for(lambda: feed.stats["sessions"] == 1 and not feed._ws)
            # ...while it is down our order fills and another one starts resting
            [fok, rest] = list[Any](await venue.place(batch(
                intent("gap-fok", token=yes, price=ask, size=6_000_000, order_type="FOK"),
                intent("gap-rest", token=yes, price=20_000, size=7_000_000))))
            await asyncio.sleep(0.3)  # settles to CONFIRMED with nobody listening
            gate.set()
            await wait_for(lambda: feed.stats["sweeps"] == 2)
            await feed.stop()
            await task

            snaps = [e for e in sink.events if isinstance(e, RestSnapshot)]
            trades_page = orjson.loads(bytes(snaps[-1].body))
            assert snaps[-1].endpoint == "/data/trades" and len(trades_page["data"]) == 1
            fills = sink.trades()
            assert [(f.venue_order_id, f.status, f.ts_recv_ns) for f in fills] == [
                (fok.venue_order_id, "CONFIRMED", snaps[-1].ts_recv_ns)]
            resting = [e for e in sink.events if isinstance(e, OrderUpdated)
                       and e.venue_order_id == rest.venue_order_id]
            assert [(u.status, u.ts_recv_ns) for u in resting] == [
                ("LIVE", snaps[-2].ts_recv_ns)]
            keys = [(e.trade_id, e.status) for e in fills] + [
                (e.venue_order_id, e.status, e.size_matched_micros)
                for e in sink.events if isinstance(e, OrderUpdated)]
            assert len(keys) == len(set(keys))
            await venue.close()
    run(main)
