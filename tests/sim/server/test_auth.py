# Authentication failures get the venue's answers: 401 `Unauthorized/Invalid api key` for
# every L2 problem, 401 `Invalid L1 Request headers` for L1, 400 with the venue's words for
# orders whose owner, signer or signature is wrong. The precise cause is in the simulator's
# X-Polyarb-Sim-Reason header.
from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from polyarb.venues.polymarket.order_builder import order_body
from tests.sim.server.helpers import OTHER_KEY, Trader, run, serving, tokens, trader

L2 = "Unauthorized/Invalid api key"
L1 = "Invalid L1 Request headers"


def _check(response: Any, status: int, error: str, reason: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": error}
    if reason is not None:
        assert response.headers["X-Polyarb-Sim-Reason"] == reason


def _l2_case(t: Trader, case: str) -> dict[str, str]:
    headers = t.l2("GET", "/data/orders")
    if case.startswith("missing "):
        del headers[case.removeprefix("missing ")]
    elif case == "wrong hmac":
        headers = {**headers, "POLY_SIGNATURE": t.l2("GET", "/data/trades")["POLY_SIGNATURE"]}
    elif case == "stale timestamp":
        headers = t.l2("GET", "/data/orders", ts=int(time.time()) - 120)
    elif case == "unknown key":
        headers["POLY_API_KEY"] = "00000000-0000-4000-8000-000000000000"
    elif case == "wrong passphrase":
        headers["POLY_PASSPHRASE"] = "nope"
    elif case == "other address":
        headers["POLY_ADDRESS"] = Trader(t.server, t.http, OTHER_KEY).signer.address
    return headers


L2_CASES = [
    ("missing POLY_API_KEY", "missing_header"),
    ("missing POLY_SIGNATURE", "missing_header"),
    ("missing POLY_TIMESTAMP", "missing_header"),
    ("missing POLY_PASSPHRASE", "missing_header"),
    ("missing POLY_ADDRESS", "missing_header"),
    ("wrong hmac", "bad_signature"),
    ("stale timestamp", "stale_timestamp"),
    ("unknown key", "unknown_api_key"),
    ("wrong passphrase", "bad_passphrase"),
    ("other address", "address_mismatch"),
]


@pytest.mark.parametrize(("case", "reason"), L2_CASES)
def test_auth_l2_bad_headers_get_401(case: str, reason: str) -> None:
    async def main() -> Any:
        async with serving() as server, trader(server) as t:
            return await t.http.get("/data/orders", headers=_l2_case(t, case))
    _check(run(main), 401, L2, reason)


def test_auth_l2_query_string_is_not_signed_and_hmac_covers_the_body() -> None:
    async def main() -> tuple[Any, Any]:
        async with serving() as server, trader(server) as t:
            ok = await t.http.get("/data/orders", params={"market": "0x01"},
                                  headers=t.l2("GET", "/data/orders"))
            body = orjson.dumps({"orderID": "0x" + "00" * 32}).decode()
            headers = t.l2("DELETE", "/order", body)
            tampered = await t.http.request("DELETE", "/order", headers=headers,
                                            content=body.replace("00", "11", 1).encode())
            return ok, tampered
    ok, tampered = run(main)
    assert ok.status_code == 200 and ok.json()["data"] == []
    _check(tampered, 401, L2, "bad_signature")


@pytest.mark.parametrize("case", ["bad signature", "missing signature", "stale", "bad nonce"])
def test_auth_l1_bad_headers_get_401(case: str) -> None:
    async def main() -> Any:
        async with serving() as server, trader(server, login=False) as t:
            headers = t.l1()
            if case == "bad signature":
                other = Trader(server, t.http, OTHER_KEY).l1()
                headers["POLY_SIGNATURE"] = other["POLY_SIGNATURE"]
            elif case == "missing signature":
                del headers["POLY_SIGNATURE"]
            elif case == "stale":
                headers = t.l1(ts=int(time.time()) - 3_600)
            else:
                headers["POLY_NONCE"] = "-1"
            return await t.http.get("/auth/derive-api-key", headers=headers)
    _check(run(main), 401, L1)


def test_auth_create_key_twice_is_400_and_derive_is_stable() -> None:
    async def main() -> list[Any]:
        async with serving() as server, trader(server, OTHER_KEY, login=False) as t:
            first = await t.http.post("/auth/api-key", headers=t.l1(nonce=7))
            second = await t.http.post("/auth/api-key", headers=t.l1(nonce=7))
            derived = await t.http.get("/auth/derive-api-key", headers=t.l1(nonce=7))
            other_nonce = await t.http.get("/auth/derive-api-key", headers=t.l1(nonce=8))
            return [first, second, derived, other_nonce]
    first, second, derived, other_nonce = run(main)
    assert first.status_code == 200 and set(first.json()) == {"apiKey", "secret", "passphrase"}
    _check(second, 400, "Could not create api key", "key_exists")
    assert derived.json() == first.json()
    assert other_nonce.json()["apiKey"] != first.json()["apiKey"]


def _order_case(t: Trader, other: Trader, token: str, case: str) -> str:
    if case == "signed by another key":
        return other.body(token, "BUY", "0.05", "10").replace(other.api_key, t.api_key)
    body = orjson.loads(t.body(token, "BUY", "0.05", "10"))
    if case == "owner mismatch":
        body["owner"] = other.api_key
    elif case == "forged signature":
        body["order"]["signature"] = other.signed(token, "BUY", "0.05", "10").signature
    elif case == "wrong exchange":  # signed for the neg-risk exchange, sent for a binary market
        return order_body(t.signed(token, "BUY", "0.05", "10", neg_risk=True), t.api_key, "GTC")
    return orjson.dumps(body).decode()


@pytest.mark.parametrize(("case", "error", "reason"), [
    ("signed by another key", "the order signer address has to be the address of the API KEY",
     "signer_mismatch"),
    ("owner mismatch", "the order owner has to be the owner of the API KEY", "owner_mismatch"),
    ("forged signature", "invalid signature", "signer_mismatch"),
    ("wrong exchange", "invalid signature", "signer_mismatch"),
])
def test_auth_order_identity_failures_get_400(case: str, error: str, reason: str) -> None:
    async def main() -> Any:
        async with serving() as server, trader(server) as t, \
                trader(server, OTHER_KEY) as other:
            body = _order_case(t, other, tokens(server)[0], case)
            response = await t.call("POST", "/order", body)
            assert server.venue.exchange.open_orders(t.api_key) == []
            return response
    _check(run(main), 400, error, reason)
