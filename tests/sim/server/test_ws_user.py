# The user channel: the raw-credential auth frame, order events (PLACEMENT, UPDATE,
# CANCELLATION), trade events through MATCHED -> MINED -> CONFIRMED, per-key delivery and the
# market filter.
from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
import pytest
import websockets

from polyarb.sim.server.scenario import MM_OWNER
from tests.sim.server.helpers import (
    OTHER_KEY,
    Trader,
    recv_json,
    recv_until,
    run,
    serving,
    tokens,
    trader,
    user_socket,
)


def _auth(t: Trader, markets: list[str] | None = None, *, override: dict[str, str] | None = None
          ) -> str:
    assert t.creds is not None
    auth = {"apiKey": t.api_key, "secret": t.creds.secret.reveal(),
            "passphrase": t.creds.passphrase.reveal(), **(override or {})}
    return orjson.dumps({"type": "user", "auth": auth, "markets": markets or []}).decode()


def _price(micros: int) -> str:
    return str(Decimal(micros) / 10**6)


def test_user_order_events_for_placement_and_cancellation() -> None:
    async def main() -> None:
        async with serving() as server, trader(server) as t:
            yes = tokens(server)[0]
            async with await user_socket(server) as ws:
                await ws.send(_auth(t))
                placed = (await t.place(yes, "BUY", "0.05", "10")).json()
                await t.call("DELETE", "/order", orjson.dumps({"orderID": placed["orderID"]})
                             .decode())
                first = await recv_json(ws)
                second = await recv_json(ws)
            assert (first["event_type"], first["type"], first["status"]) == (
                "order", "PLACEMENT", "LIVE")
            assert (second["type"], second["status"]) == ("CANCELLATION", "CANCELED")
            assert first["id"] == second["id"] == placed["orderID"]
            assert first["owner"] == first["order_owner"] == t.api_key
            assert first["price"] == "0.05" and first["original_size"] == "10"
            assert len(first["timestamp"]) == 13 and len(first["created_at"]) == 10
    run(main)


def test_user_trade_events_progress_to_confirmed_for_taker_only() -> None:
    async def main() -> None:
        async with serving() as server, trader(server) as t:
            yes = tokens(server)[0]
            _, ask = server.venue.exchange.best_prices(yes)
            async with await user_socket(server) as ws:
                await ws.send(_auth(t))
                r = (await t.place(yes, "BUY", _price(ask), "10")).json()
                seen = await recv_until(ws, lambda e: e.get("status") == "CONFIRMED")
            trades = [e for e in seen if e["event_type"] == "trade"]
            orders = [e for e in seen if e["event_type"] == "order"]
            assert [e["status"] for e in trades] == ["MATCHED", "MINED", "CONFIRMED"]
            assert {e["id"] for e in trades} == set(r["tradeIDs"])
            assert trades[0]["transaction_hash"] == "" and trades[1]["transaction_hash"]
            assert all(e["trader_side"] == "TAKER" and e["owner"] == t.api_key for e in trades)
            assert trades[0]["maker_orders"][0]["owner"] == MM_OWNER
            assert [(o["type"], o["status"]) for o in orders] == [("UPDATE", "MATCHED")]
    run(main)


def test_user_maker_sees_its_fill_and_taker_sees_only_its_own() -> None:
    async def main() -> None:
        async with serving() as server, trader(server) as maker, \
                trader(server, OTHER_KEY) as taker:
            yes, no = tokens(server)[:2]
            best_bid, _ = server.venue.exchange.best_prices(yes)
            price = best_bid + 10_000  # inside the spread: first in line
            async with await user_socket(server) as wm, await user_socket(server) as wt:
                await wm.send(_auth(maker))
                await wt.send(_auth(taker))
                bid = (await maker.place(yes, "BUY", _price(price), "10")).json()
                # BUY NO at 1 - p is a YES ask at p: it meets the maker's bid (a mint)
                await taker.place(no, "BUY", _price(1_000_000 - price), "5", "FAK")
                maker_seen = await recv_until(wm, lambda e: e.get("type") == "UPDATE")
                taker_seen = await recv_until(wt, lambda e: e["event_type"] == "trade")
            fill = next(e for e in maker_seen if e["event_type"] == "trade")
            update = next(e for e in maker_seen if e.get("type") == "UPDATE")
            assert fill["trader_side"] == "MAKER" and fill["owner"] == maker.api_key
            assert fill["maker_orders"][0]["order_id"] == bid["orderID"]
            assert fill["maker_orders"][0]["matched_amount"] == "5"
            assert (update["status"], update["size_matched"]) == ("LIVE", "5")
            taker_trade = next(e for e in taker_seen if e["event_type"] == "trade")
            assert taker_trade["trader_side"] == "TAKER" and taker_trade["asset_id"] == no
            assert all(e["owner"] == taker.api_key for e in taker_seen)
    run(main)


def test_user_market_filter_and_operation_frames() -> None:
    async def main() -> None:
        async with serving() as server, trader(server) as t:
            infos = server.venue.exchange.all_markets()
            a, b = infos[0], infos[1]
            async with await user_socket(server) as ws:
                await ws.send(_auth(t, [a.condition_id]))
                await t.place(b.tokens[0].token_id, "BUY", "0.05", "5")  # filtered out
                await t.place(a.tokens[0].token_id, "BUY", "0.05", "5")
                first = await recv_json(ws)
                await ws.send(orjson.dumps({"operation": "subscribe",
                                            "markets": [b.condition_id]}).decode())
                await ws.send(_auth(t))  # a second auth frame
                invalid = await recv_json(ws)
                await t.place(b.tokens[0].token_id, "BUY", "0.04", "5")
                second = await recv_json(ws)
            assert first["market"] == a.condition_id
            assert invalid == "INVALID OPERATION"
            assert second["market"] == b.condition_id and second["price"] == "0.04"
    run(main)


@pytest.mark.parametrize("override", [
    {"secret": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
    {"passphrase": "wrong"},
    {"apiKey": "00000000-0000-4000-8000-000000000000"},
])
def test_user_bad_credentials_close_the_socket(override: dict[str, str]) -> None:
    async def main() -> Any:
        async with serving() as server, trader(server) as t, await user_socket(server) as ws:
            await ws.send(_auth(t, override=override))
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except websockets.ConnectionClosed as exc:
                return exc.rcvd
    rcvd = run(main)
    assert rcvd is not None and rcvd.code == 1008 and "Invalid api key" in rcvd.reason
