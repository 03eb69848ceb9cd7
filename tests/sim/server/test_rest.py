# REST routes: public market data in the venue's shapes, listings and cursors, order and cancel
# routes, account reads, the dead-man heartbeat and the trading modes.
from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import orjson

from polyarb.sim import SimConfig
from tests.sim.server.helpers import (
    FAST_SIM,
    OTHER_KEY,
    config,
    run,
    serving,
    tokens,
    trader,
)


def _price(micros: int) -> str:
    return str(Decimal(micros) / 10**6)


def test_rest_public_basics_and_book_shapes() -> None:
    async def main() -> dict[str, Any]:
        async with serving() as server, httpx.AsyncClient(base_url=server.url) as http:
            yes = tokens(server)[0]
            paths = (("ok", "/ok"), ("time", "/time"), ("version", "/version"))
            out: dict[str, Any] = {k: await http.get(p) for k, p in paths}
            out["book"] = await http.get("/book", params={"token_id": yes})
            out["books"] = await http.post("/books", json=[{"token_id": t}
                                                           for t in tokens(server)[:2]])
            out["bid"], out["ask"] = server.venue.exchange.best_prices(yes)
            return out
    out = run(main)
    book = out["book"].json()
    assert out["ok"].text == "OK" and out["version"].json() == {"version": 2}
    assert isinstance(out["time"].json(), int)
    assert set(book) == {"market", "asset_id", "timestamp", "hash", "bids", "asks",
                         "min_order_size", "tick_size", "neg_risk", "last_trade_price"}
    assert Decimal(book["bids"][-1]["price"]) * 10**6 == out["bid"]  # best bid last
    assert Decimal(book["asks"][-1]["price"]) * 10**6 == out["ask"]  # best ask last
    assert [b["asset_id"] for b in out["books"].json()] == [book["asset_id"],
                                                             out["books"].json()[1]["asset_id"]]


def test_rest_prices_midpoints_spreads_and_parameters() -> None:
    async def main() -> tuple[Any, ...]:
        async with serving() as server, httpx.AsyncClient(base_url=server.url) as http:
            yes = tokens(server)[0]
            neg = tokens(server)[-1]
            q = {"token_id": yes}
            got = [await http.get(p, params=q) for p in (
                "/midpoint", "/spread", "/last-trade-price", "/neg-risk", "/fee-rate")]
            got.append(await http.get("/price", params={**q, "side": "BUY"}))
            got.append(await http.get("/price", params={**q, "side": "SELL"}))
            got.append(await http.get("/tick-size", params=q))
            got.append(await http.get(f"/tick-size/{yes}"))
            got.append(await http.get("/neg-risk", params={"token_id": neg}))
            got.append(await http.post("/prices", json=[{"token_id": yes, "side": "BUY"}]))
            return (*got, server.venue.exchange.best_prices(yes), yes)
    (mid, spread, last, neg_risk, fee, buy, sell, tick, tick_path, neg_yes, prices,
     (bid, ask), yes) = run(main)
    assert Decimal(buy.json()["price"]) * 10**6 == bid  # BUY answers the best bid
    assert Decimal(sell.json()["price"]) * 10**6 == ask
    assert Decimal(mid.json()["mid"]) * 10**6 == (bid + ask) // 2
    assert Decimal(spread.json()["spread"]) * 10**6 == ask - bid
    assert last.json() == {"price": "0.5", "side": ""}
    assert neg_risk.json() == {"neg_risk": False} and neg_yes.json() == {"neg_risk": True}
    assert fee.json() == {"base_fee": 0}
    assert tick.content == tick_path.content == b'{"minimum_tick_size":0.01}'
    assert prices.json() == {yes: {"BUY": buy.json()["price"]}}


def test_rest_markets_listing_paginates_with_venue_cursors() -> None:
    async def main() -> list[Any]:
        async with serving(config(page_limit=3)) as server, \
                httpx.AsyncClient(base_url=server.url) as http:
            first = (await http.get("/markets", params={"next_cursor": "MA=="})).json()
            second = (await http.get("/markets", params={"next_cursor": first["next_cursor"]}
                                     )).json()
            done = (await http.get("/markets", params={"next_cursor": "LTE="})).json()
            simple = (await http.get("/simplified-markets")).json()
            return [first, second, done, simple]
    first, second, done, simple = run(main)
    assert (first["count"], first["next_cursor"]) == (3, "Mw==")
    assert (second["count"], second["next_cursor"]) == (1, "LTE=")
    assert done == {"limit": 3, "count": 0, "next_cursor": "LTE=", "data": []}
    market = first["data"][0]
    assert market["minimum_tick_size"] == 0.01 and market["minimum_order_size"] == 5
    assert [t["outcome"] for t in market["tokens"]] == ["Yes", "No"]
    assert set(simple["data"][0]) == {"condition_id", "rewards", "tokens", "active", "closed",
                                      "archived", "accepting_orders"}


def test_rest_market_lookups_by_condition_and_token() -> None:
    async def main() -> list[Any]:
        async with serving() as server, httpx.AsyncClient(base_url=server.url) as http:
            infos = server.venue.exchange.all_markets()
            cid, neg = infos[0].condition_id, infos[-1].condition_id
            return [await http.get(f"/markets/{cid}"), await http.get(f"/clob-markets/{cid}"),
                    await http.get(f"/clob-markets/{neg}"),
                    await http.get(f"/markets-by-token/{infos[0].tokens[1].token_id}"),
                    await http.get("/markets/0x1234"), infos[0]]
    market, clob, clob_neg, by_token, missing, info = run(main)
    assert market.json()["condition_id"] == info.condition_id
    assert clob.json()["t"] == [{"t": t.token_id, "o": t.outcome} for t in info.tokens]
    assert clob.json()["mts"] == 0.01 and "nr" not in clob.json()
    assert clob_neg.json()["nr"] is True
    assert by_token.json()["condition_id"] == info.condition_id
    assert missing.status_code == 404 and missing.json() == {"error": "market not found"}


def test_rest_orders_listing_lookup_cancels_and_pagination() -> None:
    async def main() -> dict[str, Any]:
        async with serving(config(page_limit=2)) as server, trader(server) as t, \
                trader(server, OTHER_KEY) as other:
            yes, no = tokens(server)[:2]
            ids = [(await t.place(yes, "BUY", p, "5")).json()["orderID"]
                   for p in ("0.01", "0.02", "0.03")]
            theirs = (await other.place(no, "BUY", "0.01", "5")).json()["orderID"]
            out: dict[str, Any] = {"ids": ids, "theirs_id": theirs}
            out["page1"] = (await t.call("GET", "/data/orders")).json()
            out["page2"] = (await t.call("GET", "/data/orders", params={
                "next_cursor": out["page1"]["next_cursor"]})).json()
            out["one"] = (await t.call("GET", f"/data/order/{ids[0]}")).json()
            out["theirs"] = (await t.call("GET", f"/data/order/{theirs}")).json()
            out["cancel_theirs"] = (await t.call("DELETE", "/orders", orjson.dumps(
                [theirs, ids[0], ids[0]]).decode())).json()
            out["by_market"] = (await t.call("DELETE", "/cancel-market-orders", orjson.dumps(
                {"asset_id": yes}).decode())).json()
            out["again"] = (await t.call("DELETE", "/order", orjson.dumps(
                {"orderID": ids[1]}).decode())).json()
            return out
    out = run(main)
    ids = out["ids"]
    assert [o["id"] for o in out["page1"]["data"]] == ids[:2]
    assert [o["id"] for o in out["page2"]["data"]] == ids[2:]
    assert out["page2"]["next_cursor"] == "LTE="
    assert out["one"]["id"] == ids[0] and out["theirs"] is None
    assert out["cancel_theirs"]["canceled"] == [ids[0]]
    assert out["cancel_theirs"]["not_canceled"] == {out["theirs_id"]: "order not found"}
    assert sorted(out["by_market"]["canceled"]) == sorted(ids[1:])
    assert out["again"] == {"canceled": [], "not_canceled": {
        ids[1]: "already canceled or matched"}}


def test_rest_trades_filters_and_balances_after_a_fill() -> None:
    async def main() -> dict[str, Any]:
        async with serving() as server, trader(server) as t:
            yes = tokens(server)[0]
            _, ask = server.venue.exchange.best_prices(yes)
            q = {"asset_type": "COLLATERAL"}
            out: dict[str, Any] = {"before": (await t.call("GET", "/balance-allowance",
                                                           params=q)).json()}
            fill = (await t.place(yes, "BUY", _price(ask), "10")).json()
            out["fill"] = fill
            out["all"] = (await t.call("GET", "/data/trades")).json()
            out["by_id"] = (await t.call("GET", "/data/trades",
                                         params={"id": fill["tradeIDs"][0]})).json()
            out["after_now"] = (await t.call("GET", "/data/trades",
                                             params={"after": "9999999999"})).json()
            out["coll"] = (await t.call("GET", "/balance-allowance", params=q)).json()
            out["shares"] = (await t.call("GET", "/balance-allowance/update", params={
                "asset_type": "CONDITIONAL", "token_id": yes})).json()
            out["bad"] = await t.call("GET", "/balance-allowance", params={
                "asset_type": "CONDITIONAL"})
            out["ask"] = ask
            return out
    out = run(main)
    assert len(out["all"]["data"]) == 1 and out["by_id"]["data"] == out["all"]["data"]
    assert out["after_now"]["data"] == []
    spent = int(out["before"]["balance"]) - int(out["coll"]["balance"])
    assert spent == out["ask"] * 10 and out["shares"]["balance"] == "10000000"
    assert set(out["coll"]["allowances"]) == {"0xE111180000d2663C0091e4f400237545B87B996B",
                                              "0xe2222d279d744050d28e00520010520000310F59",
                                              "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"}
    assert out["bad"].status_code == 400


def test_rest_heartbeat_lapse_cancels_every_open_order() -> None:
    async def main() -> tuple[Any, int, int]:
        sim = SimConfig(mine_after_ns=FAST_SIM.mine_after_ns, heartbeat_timeout_ns=300_000_000)
        async with serving(config(sim=sim)) as server, trader(server) as t:
            await t.place(tokens(server)[0], "BUY", "0.05", "10")
            hb = await t.call("POST", "/v1/heartbeats", '{"heartbeat_id":""}')
            armed = len(server.venue.exchange.open_orders(t.api_key))
            for _ in range(100):  # the switch fires 0.3 s after the last heartbeat
                await asyncio.sleep(0.05)
                if not server.venue.exchange.open_orders(t.api_key):
                    break
            return hb, armed, len(server.venue.exchange.open_orders(t.api_key))
    hb, armed, left = run(main)
    assert hb.status_code == 200 and len(hb.json()["heartbeat_id"]) == 32
    assert (armed, left) == (1, 0)


def test_rest_trading_modes_answer_503_and_425() -> None:
    async def main() -> list[int]:
        async with serving() as server, trader(server) as t:
            yes = tokens(server)[0]
            codes = []
            for mode in ("cancel_only", "disabled", "restarting", "normal"):
                server.venue.mode = mode
                codes.append((await t.place(yes, "BUY", "0.05", "5")).status_code)
                codes.append((await t.call("DELETE", "/cancel-all")).status_code)
            return codes
    assert run(main) == [503, 200, 503, 503, 425, 425, 200, 200]


def test_rest_start_pairs_let_a_new_account_sell() -> None:
    async def main() -> Any:
        async with serving(config(start_pairs_micros=50_000_000)) as server, \
                trader(server, OTHER_KEY) as t:
            return await t.place(tokens(server)[0], "SELL", "0.99", "50")
    r = run(main)
    assert r.status_code == 200 and r.json()["status"] == "live"
