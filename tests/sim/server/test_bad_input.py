# Bad input gets the venue's error responses and never takes the server down: malformed JSON,
# oversized bodies, wrong types, oversized batches, bad parameters, unknown routes, and an
# unexpected exception inside a handler.
from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from polyarb.sim.server.venue import Venue
from polyarb.venues.polymarket.amounts import OrderAmounts
from polyarb.venues.polymarket.order_builder import order_body
from tests.sim.server.helpers import Trader, config, run, serving, tokens, trader

INVALID = {"error": "Invalid order payload"}


def _mutate(t: Trader, token: str, case: str) -> str:
    body: Any = orjson.loads(t.body(token, "BUY", "0.05", "10"))
    order = body["order"]
    if case == "salt as string":
        order["salt"] = str(order["salt"])
    elif case == "amount not digits":
        order["makerAmount"] = "5e5"
    elif case == "missing signature":
        del order["signature"]
    elif case == "side lowercase":
        order["side"] = "buy"
    elif case == "order type IOC":
        body["orderType"] = "IOC"
    elif case == "postOnly as string":
        body["postOnly"] = "yes"
    elif case == "order is a list":
        body["order"] = [order]
    elif case == "body is a number":
        body = 42
    return orjson.dumps(body).decode()


@pytest.mark.parametrize("case", [
    "salt as string", "amount not digits", "missing signature", "side lowercase",
    "order type IOC", "postOnly as string", "order is a list", "body is a number",
])
def test_bad_order_fields_get_invalid_order_payload(case: str) -> None:
    async def main() -> tuple[Any, Any]:
        async with serving() as server, trader(server) as t:
            r = await t.call("POST", "/order", _mutate(t, tokens(server)[0], case))
            return r, await t.http.get("/ok")
    r, ok = run(main)
    assert (r.status_code, r.json()) == (400, INVALID) and ok.text == "OK"


def test_bad_json_and_huge_body_then_server_keeps_serving() -> None:
    async def main() -> list[Any]:
        async with serving(config(max_body_bytes=4096)) as server, trader(server) as t:
            garbage = await t.call("POST", "/order", '{"order": ')
            huge = await t.call("POST", "/order", '{"pad":"' + "x" * 10_000 + '"}')
            books = await t.http.post("/books", content=b"[{")
            ok = await t.place(tokens(server)[0], "BUY", "0.05", "10")
            return [garbage, huge, books, ok]
    garbage, huge, books, ok = run(main)
    assert (garbage.status_code, garbage.json()) == (400, INVALID)
    assert (huge.status_code, huge.json()) == (413, {"error": "request body too large"})
    assert (books.status_code, books.json()) == (400, {"error": "Invalid payload"})
    assert ok.status_code == 200 and ok.json()["status"] == "live"


def test_bad_batches_and_per_order_errors_inside_a_200() -> None:
    async def main() -> list[Any]:
        async with serving() as server, trader(server) as t:
            yes = tokens(server)[0]
            good = orjson.loads(t.body(yes, "BUY", "0.05", "10"))
            small = orjson.loads(t.body(yes, "BUY", "0.05", "1"))
            broken = orjson.loads(_mutate(t, yes, "salt as string"))
            mixed = await t.call("POST", "/orders", orjson.dumps([good, small, broken]).decode())
            too_many = await t.call("POST", "/orders", orjson.dumps([good] * 16).decode())
            not_list = await t.call("POST", "/orders", orjson.dumps(good).decode())
            empty = await t.call("POST", "/orders", "[]")
            return [mixed, too_many, not_list, empty]
    mixed, too_many, not_list, empty = run(main)
    results = mixed.json()
    assert mixed.status_code == 200 and [r["success"] for r in results] == [True, False, False]
    assert "lower than the minimum: 5" in results[1]["errorMsg"]
    assert results[2]["errorMsg"] == "Invalid order payload"
    assert too_many.json() == {"error": "Too many orders in payload: 16, max allowed: 15"}
    assert (not_list.status_code, empty.status_code) == (400, 400)


def test_bad_amount_precision_and_tick_get_the_venue_messages() -> None:
    async def main() -> list[Any]:
        async with serving() as server, trader(server) as t:
            yes = tokens(server)[0]
            # a signed BUY paying 0.500001 for 10 shares: 6 decimals where the tick allows 4
            signed = t.builder.build(yes, OrderAmounts(0, 500_001, 10_000_000), neg_risk=False,
                                     salt=1, timestamp_ms=1)
            precision = await t.call("POST", "/order", order_body(signed, t.api_key, "GTC"))
            tick = await t.place(yes, "BUY", "0.055", "10", tick="0.001")
            return [precision, tick]
    precision, tick = run(main)
    assert precision.status_code == 400 and precision.json()["error"].startswith(
        "invalid amounts, the buy orders maker amount supports a max accuracy of 4 decimals")
    assert tick.status_code == 400 and tick.json()["error"].endswith(
        "is invalid. Price (0.055) breaks minimum tick size rule: 0.01")


@pytest.mark.parametrize(("method", "path", "params", "status", "error"), [
    ("GET", "/book", {}, 400, "Invalid token id"),
    ("GET", "/book", {"token_id": "12ab"}, 400, "Invalid token id"),
    ("GET", "/book", {"token_id": "123"}, 404, "No orderbook exists for the requested token id"),
    ("GET", "/price", {"token_id": "123", "side": "HOLD"}, 400, "Invalid side"),
    ("GET", "/tick-size/notanumber", {}, 400, "Invalid token id"),
    ("GET", "/markets", {"next_cursor": "%%%"}, 400, "invalid next_cursor"),
    ("GET", "/no/such/route", {}, 404, "not found"),
    ("PUT", "/book", {}, 405, "method not allowed"),
])
def test_bad_public_requests_get_venue_errors(method: str, path: str, params: dict[str, str],
                                              status: int, error: str) -> None:
    async def main() -> Any:
        async with serving() as server, httpx.AsyncClient(base_url=server.url) as http:
            return await http.request(method, path, params=params)
    r = run(main)
    assert (r.status_code, r.json()) == (status, {"error": error})


def test_bad_batch_of_tokens_over_the_limit() -> None:
    async def main() -> Any:
        async with serving() as server, httpx.AsyncClient(base_url=server.url) as http:
            return await http.post("/books", json=[{"token_id": "1"}] * 501)
    r = run(main)
    assert (r.status_code, r.json()) == (400, {"error": "Payload exceeds the limit"})


def test_bad_unexpected_exception_is_a_500_and_the_server_survives(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: Venue) -> None:
        raise RuntimeError("boom")

    async def main() -> list[Any]:
        async with serving() as server, httpx.AsyncClient(base_url=server.url) as http:
            monkeypatch.setattr(Venue, "check_mode", explode, raising=True)
            async with trader(server) as t:
                crashed = await t.place(tokens(server)[0], "BUY", "0.05", "10")
            monkeypatch.undo()
            return [crashed, await http.get("/ok")]
    crashed, ok = run(main)
    assert (crashed.status_code, crashed.json()) == (500, {"error": "Internal server error"})
    assert ok.text == "OK"
