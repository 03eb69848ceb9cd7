# The market channel with a plain `websockets` client: snapshots, price changes that rebuild
# the server's book, PING/PONG, dynamic subscribe/unsubscribe, INVALID OPERATION, trades,
# custom-feature events, the asset limit and the subscription deadline.
from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import websockets

from polyarb.sim.server.scenario import MM_OWNER
from tests.sim.server.helpers import (
    config,
    market_socket,
    recv_json,
    recv_until,
    run,
    scenario,
    serving,
    tokens,
    trader,
)


def _sub(ids: list[str], **kw: Any) -> str:
    return orjson.dumps({"assets_ids": ids, "type": "market", **kw}).decode()


def _levels(levels: list[dict[str, str]]) -> dict[Decimal, Decimal]:
    return {Decimal(x["price"]): Decimal(x["size"]) for x in levels}


def test_market_subscribe_sends_one_snapshot_per_known_asset() -> None:
    async def main() -> None:
        async with serving() as server:
            ids = tokens(server)
            async with await market_socket(server) as ws:
                await ws.send(_sub([*ids, "123"]))
                frame = await recv_json(ws)
            books = {b["asset_id"]: b for b in frame}
            rest = server.venue.exchange.book_json(ids[0], 0)
            assert isinstance(frame, list) and set(books) == set(ids)
            assert all(b["event_type"] == "book" for b in frame)
            assert books[ids[0]]["bids"] == rest["bids"] and books[ids[0]]["asks"] == rest["asks"]
    run(main)


def _apply(books: dict[str, Any], frame: dict[str, Any]) -> int:
    """Apply one price_change to rebuilt books; check every entry's best prices after it."""
    changes = frame["price_changes"]
    for c in changes:
        bids, asks = books[c["asset_id"]]
        side = bids if c["side"] == "BUY" else asks
        side[Decimal(c["price"])] = Decimal(c["size"])
        if side[Decimal(c["price"])] == 0:
            del side[Decimal(c["price"])]
    for c in changes:  # best_bid/best_ask describe the book after the whole message
        bids, asks = books[c["asset_id"]]
        assert Decimal(c["best_bid"]) == max(bids, default=Decimal(0))
        assert Decimal(c["best_ask"]) == min(asks, default=Decimal(1))
    return len(changes)


def test_market_price_changes_rebuild_the_book_and_its_best_prices() -> None:
    async def main() -> None:
        async with serving(scen=scenario(churn_per_s=400.0, taker_share=0.0)) as server, \
                await market_socket(server) as ws:
            ids = tokens(server)
            await ws.send(_sub(ids))
            books = {b["asset_id"]: (_levels(b["bids"]), _levels(b["asks"]))
                     for b in await recv_json(ws)}
            changes = 0
            while changes < 60:
                frame = await recv_json(ws)
                assert frame["event_type"] == "price_change"
                changes += _apply(books, frame)
            server.venue.scenario = None  # freeze the books, then drain up to a barrier:
            await ws.send("not json")  # INVALID OPERATION is queued behind the data frames
            while (frame := await recv_json(ws)) != "INVALID OPERATION":
                _apply(books, frame)
            for token, (bids, asks) in books.items():  # the rebuilt book is the server's
                rest = server.venue.exchange.book_json(token, 0)
                assert (bids, asks) == (_levels(rest["bids"]), _levels(rest["asks"]))
    run(main)


def test_market_ping_gets_pong_and_bad_frames_get_invalid_operation() -> None:
    async def main() -> None:
        async with serving() as server:
            ids = tokens(server)
            async with await market_socket(server) as ws:
                await ws.send("PING")
                pong = await recv_json(ws)
                await ws.send(_sub(ids[:1]))
                await recv_json(ws)
                replies = []
                for bad in (_sub(ids[1:2]), "not json", '{"operation":"dance"}', "[1]"):
                    await ws.send(bad)
                    replies.append(await recv_json(ws))
                await ws.send(b"binary")
                replies.append(await recv_json(ws))
            assert pong == "PONG"
            assert replies == ["INVALID OPERATION"] * 5
    run(main)


def test_market_dynamic_subscribe_and_unsubscribe() -> None:
    async def main() -> None:
        async with serving() as server:
            ids = tokens(server)
            async with await market_socket(server) as ws:
                await ws.send(_sub(ids[:1]))
                first = await recv_json(ws)
                await ws.send(orjson.dumps({"operation": "subscribe",
                                            "assets_ids": ids[:3]}).decode())
                second = await recv_json(ws)
                await ws.send(orjson.dumps({"operation": "unsubscribe",
                                            "assets_ids": ids[:3]}).decode())
                await ws.send("PING")
                last = await recv_json(ws)
                conn = next(iter(server.venue.market_hub.conns))
            assert [b["asset_id"] for b in first] == ids[:1]
            assert [b["asset_id"] for b in second] == ids[1:3]  # no repeat of the duplicate
            assert last == "PONG" and not conn.assets
    run(main)


def test_market_trade_sends_last_trade_price_and_book_snapshots() -> None:
    async def main() -> None:
        async with serving() as server:
            yes, no = tokens(server)[:2]
            _, ask = server.venue.exchange.best_prices(yes)
            async with await market_socket(server) as ws, trader(server) as t:
                await ws.send(_sub([yes, no]))
                await recv_json(ws)
                r = await t.place(yes, "BUY", str(Decimal(ask) / 10**6), "10")
                seen = await recv_until(ws, lambda e: e["event_type"] == "book")
                seen += await recv_until(ws, lambda e: e["event_type"] == "book")
            kinds = [e["event_type"] for e in seen]
            last = [e for e in seen if e["event_type"] == "last_trade_price"]
            assert r.json()["status"] == "matched"
            assert kinds.index("last_trade_price") < kinds.index("price_change") < kinds.index(
                "book")
            assert {e["asset_id"] for e in last} >= {yes}
            assert last[0]["side"] == "BUY" and last[0]["size"] == "10"
    run(main)


def test_market_custom_features_best_bid_ask_tick_size_new_market_and_resolution() -> None:
    async def main() -> None:
        async with serving() as server:
            ex = server.venue.exchange
            info = ex.all_markets()[0]
            yes = info.tokens[0].token_id
            async with await market_socket(server) as ws:
                await ws.send(_sub([yes], custom_feature_enabled=True))
                await recv_json(ws)
                order = ex.open_orders(MM_OWNER, asset_id=yes)[0]
                ex.cancel(MM_OWNER, order.id, server.venue.clock())
                ex.set_tick_size(info.condition_id, 1_000, server.venue.clock())
                extra = scenario(markets=1, neg_risk_events=0, seed="other").markets()[0]
                ex.add_market(extra)
                server.venue.publish()
                seen = await recv_until(ws, lambda e: e["event_type"] == "new_market")
                server.venue.resolve_market(info.condition_id, yes)
                seen += await recv_until(ws, lambda e: e["event_type"] == "market_resolved")
            by_kind = {e["event_type"]: e for e in seen}
            assert set(by_kind) >= {"price_change", "best_bid_ask", "tick_size_change",
                                    "new_market", "market_resolved"}
            bba = by_kind["best_bid_ask"]
            assert Decimal(bba["spread"]) == Decimal(bba["best_ask"]) - Decimal(bba["best_bid"])
            assert by_kind["tick_size_change"]["new_tick_size"] == "0.001"
            assert by_kind["new_market"]["market"] == extra.condition_id
            assert by_kind["market_resolved"]["winning_asset_id"] == yes
            assert by_kind["market_resolved"]["winning_outcome"] == "Yes"
    run(main)


def test_market_without_custom_features_gets_no_custom_events() -> None:
    async def main() -> None:
        async with serving() as server:
            ex = server.venue.exchange
            yes = tokens(server)[0]
            async with await market_socket(server) as ws:
                await ws.send(_sub([yes]))
                await recv_json(ws)
                order = ex.open_orders(MM_OWNER, asset_id=yes)[0]
                ex.cancel(MM_OWNER, order.id, server.venue.clock())
                server.venue.publish()
                frame = await recv_json(ws)
                await ws.send("PING")
                after = await recv_json(ws)
            assert frame["event_type"] == "price_change" and after == "PONG"
    run(main)


def test_market_more_assets_than_the_limit_silently_mutes_the_connection() -> None:
    async def main() -> None:
        async with serving(config(max_assets_per_conn=3)) as server:
            ids = tokens(server)
            async with await market_socket(server) as ws:
                await ws.send(_sub(ids))
                await ws.send("PING")
                reply = await recv_json(ws)
            assert reply == "PONG"  # no snapshot came first
    run(main)


def test_market_socket_that_never_subscribes_is_closed() -> None:
    async def main() -> None:
        async with serving(config(subscribe_timeout_s=0.2)) as server:
            async with await market_socket(server) as ws:
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except websockets.ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd is not None else None
            assert code == 1008
    run(main)


def test_market_muted_connection_stops_recording_assets() -> None:
    async def main() -> int:
        async with serving(config(max_assets_per_conn=2)) as server, \
                await market_socket(server) as ws:
            await ws.send(_sub(["1", "2", "3"]))
            for n in range(5):
                await ws.send(orjson.dumps({"operation": "subscribe",
                                            "assets_ids": [str(10 + n)]}).decode())
            await ws.send("PING")
            await recv_json(ws)
            conn = next(iter(server.venue.market_hub.conns))
            return len(conn.assets)
    assert run(main) == 3


def test_market_server_stop_closes_sockets_with_going_away() -> None:
    async def main() -> int | None:
        async with serving() as server:
            ws = await market_socket(server)
            await ws.send(_sub(tokens(server)[:1]))
            await recv_json(ws)
            await server.stop()
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd is not None else None
        return -1
    assert run(main) == 1001
