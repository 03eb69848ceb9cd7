# ClobClient over httpx.MockTransport with our recorded payloads: L1/L2 auth on the exact bytes,
# every endpoint, error mapping at the boundary, pagination, rate limiting, and secrets that
# never leak (marker values). Retries are in test_clob_retry.py.
from __future__ import annotations

import logging
from typing import Any

import httpx
import msgspec
import orjson
import pytest

from polyarb.events.codec import decode_record, encode_record
from polyarb.venues.polymarket import clob as clob_mod
from polyarb.venues.polymarket.clob import ClobError, rest_snapshot
from polyarb.venues.polymarket.outcomes import Reply
from polyarb.venues.polymarket.ratelimit import GENERAL, Limit, RateLimiter
from tests.venues.polymarket.recorded.harness import (
    ADDRESS,
    API_KEY,
    PASSPHRASE,
    SECRET,
    TOKEN_Y,
    FakeClock,
    FakeSleep,
    Router,
    has_marker,
    make_client,
    payload,
    run,
)


def _router() -> Router:
    return Router(FakeClock())


def test_clob_l2_get_signs_path_without_query() -> None:
    router = _router().reply("GET", "/data/orders", 200, "open_orders_page2.json")
    client = make_client(router)
    run(lambda: client.pages("/data/orders", {"market": "0xabc"}))
    [seen] = router.seen
    assert seen.auth == "l2"
    assert seen.query == {"market": "0xabc", "next_cursor": "MA=="}
    assert seen.headers["poly_address"] == ADDRESS and seen.headers["poly_api_key"] == API_KEY


def test_clob_l2_post_signs_the_exact_body_sent() -> None:
    router = _router().reply("POST", "/order", 200, "order_live.json", hash0="0x01")
    client = make_client(router)
    body = '{"order":{"salt":1},"owner":"x","orderType":"GTC"}'
    reply = run(lambda: client.post_order(body))
    assert reply.status == 200
    [seen] = router.seen
    assert seen.body == body.encode() and seen.auth == "l2"
    assert seen.headers["content-type"] == "application/json"


def test_clob_create_api_key_first_try_keeps_credentials() -> None:
    router = _router().reply("POST", "/auth/api-key", 200, "api_key.json",
                             api_key=API_KEY, secret=SECRET, passphrase=PASSPHRASE)
    client = make_client(router, with_api=False)
    api = run(client.create_or_derive_api_key)
    assert api.api_key.reveal() == API_KEY and client.api.secret.reveal() == SECRET
    assert [s.auth for s in router.seen] == ["l1"]


def test_clob_create_api_key_existing_key_falls_back_to_derive() -> None:
    router = (_router().reply("POST", "/auth/api-key", 400, "error_api_key_exists.json")
              .reply("GET", "/auth/derive-api-key", 200, "api_key.json", api_key=API_KEY,
                     secret=SECRET, passphrase=PASSPHRASE))
    client = make_client(router, with_api=False)
    api = run(lambda: client.create_or_derive_api_key(nonce=3))
    assert api.passphrase.reveal() == PASSPHRASE
    assert [(s.method, s.auth, s.headers["poly_nonce"]) for s in router.seen] == [
        ("POST", "l1", "3"), ("GET", "l1", "3")]


def test_clob_create_api_key_both_fail_raises_without_echoing_body() -> None:
    router = (_router().reply("POST", "/auth/api-key", 400, "error_api_key_exists.json")
              .add("GET", "/auth/derive-api-key",
                   (200, orjson.dumps({"apiKey": API_KEY, "secret": SECRET}))))
    client = make_client(router, with_api=False)
    with pytest.raises(ClobError) as info:
        run(client.create_or_derive_api_key)
    assert not has_marker(str(info.value)) and info.value.__context__ is None


def test_clob_get_non_json_body_raises() -> None:
    router = _router().add("GET", "/version", (200, b"<html>"))
    with pytest.raises(ClobError, match="not JSON"):
        run(make_client(router).version)


def test_clob_public_endpoints_parse_exactly() -> None:
    router = (_router().reply("GET", "/version", 200, "version_3.json")
              .reply("GET", "/time", 200, "time.json")
              .reply("GET", "/tick-size", 200, "tick_size.json")
              .reply("GET", "/neg-risk", 200, "neg_risk.json")
              .reply("GET", "/fee-rate", 200, "fee_rate.json"))
    client = make_client(router)

    async def main() -> tuple[Any, ...]:
        return (await client.version(), await client.server_time(),
                await client.tick_size(TOKEN_Y), await client.neg_risk(TOKEN_Y),
                await client.fee_rate_bps(TOKEN_Y))

    assert run(main) == (3, 1_776_000_000, 1_000, True, 1000)
    assert all(s.auth == "none" and s.query.get("token_id", TOKEN_Y) == TOKEN_Y
               for s in router.seen)


@pytest.mark.parametrize(("path", "body", "call"), [
    ("/version", b'{"version":"2"}', lambda c: c.version()),
    ("/time", b"1.5", lambda c: c.server_time()),
    ("/tick-size", b'{"minimum_tick_size":"abc"}', lambda c: c.tick_size(TOKEN_Y)),
    ("/neg-risk", b'{"neg_risk":1}', lambda c: c.neg_risk(TOKEN_Y)),
    ("/fee-rate", b'{"base_fee":"0"}', lambda c: c.fee_rate_bps(TOKEN_Y)),
    ("/balance-allowance", b'{"balance":"-1"}', lambda c: c.balance_allowance()),
])
def test_clob_malformed_public_values_raise_clob_error(path: str, body: bytes, call: Any) -> None:
    router = _router().add("GET", path, (200, body))
    with pytest.raises(ClobError):
        run(lambda: call(make_client(router)))


def test_clob_book_snapshot_keeps_body_verbatim_and_journals() -> None:
    router = _router().reply("GET", "/book", 200, "book.json")
    client = make_client(router)
    snap = run(lambda: client.book(TOKEN_Y))
    assert bytes(snap.body) == payload("book.json")
    assert snap.endpoint == "/book" and snap.params == f"token_id={TOKEN_Y}"
    assert decode_record(encode_record(1, snap)).event == snap


def test_clob_books_posts_token_list() -> None:
    router = _router().add("POST", "/books", (200, b"[]"))
    snap = run(lambda: make_client(router).books(["1", "2"]))
    assert orjson.loads(router.seen[0].body) == [{"token_id": "1"}, {"token_id": "2"}]
    assert snap.status_code == 200


@pytest.mark.parametrize(("reply", "stored"), [
    (Reply(502, b"<html>bad\ngateway</html>"), b'"<html>bad\\ngateway</html>"'),
    (Reply(200, b'{\n "a": 1\n}'), b'"{\\n \\"a\\": 1\\n}"'),
    (Reply(None, b"", "timeout: ReadTimeout"), b'"timeout: ReadTimeout"'),
    (Reply(200, b'{"a":1}'), b'{"a":1}'),
])
def test_rest_snapshot_unembeddable_body_is_stored_as_json_text(reply: Reply,
                                                                stored: bytes) -> None:
    snap = rest_snapshot("/x", {"b": "2", "a": "1"}, reply, 5)
    assert bytes(snap.body) == stored and snap.params == "a=1&b=2"
    assert decode_record(encode_record(1, snap)).event == snap


def test_clob_pages_follow_cursor_to_the_end() -> None:
    router = (_router().reply("GET", "/data/orders", 200, "open_orders_page1.json")
              .reply("GET", "/data/orders", 200, "open_orders_page2.json"))
    pages = run(lambda: make_client(router).pages("/data/orders"))
    assert [len(rows) for _, rows in pages] == [2, 2]
    assert [s.query["next_cursor"] for s in router.seen] == ["MA==", "Mg=="]
    assert [snap.params for snap, _ in pages] == ["next_cursor=MA%3D%3D", "next_cursor=Mg%3D%3D"]


def test_clob_pages_endless_cursor_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clob_mod, "MAX_PAGES", 3)
    router = _router().reply("GET", "/data/trades", 200, "open_orders_page1.json")
    with pytest.raises(ClobError, match="more than 3 pages"):
        run(lambda: make_client(router).pages("/data/trades"))


@pytest.mark.parametrize("body", [b'{"data":"x"}', b"[]"])
def test_clob_pages_malformed_page_raises(body: bytes) -> None:
    router = _router().add("GET", "/data/trades", (200, body))
    with pytest.raises(ClobError):
        run(lambda: make_client(router).pages("/data/trades"))


def test_clob_balance_allowance_exact_base_units() -> None:
    router = _router().reply("GET", "/balance-allowance", 200, "balance.json")
    got = run(lambda: make_client(router).balance_allowance("CONDITIONAL", TOKEN_Y))
    assert got.balance_micros == 1_234_567_890
    assert got.allowances["0xe2222d279d744050d28e00520010520000310F59"] == 0
    assert got.allowances["0xE111180000d2663C0091e4f400237545B87B996B"] == 2**256 - 1
    assert router.seen[0].query == {"asset_type": "CONDITIONAL", "signature_type": "0",
                                    "token_id": TOKEN_Y}
    assert router.seen[0].auth == "l2"


def test_clob_balance_allowance_update_uses_update_path() -> None:
    router = _router().reply("GET", "/balance-allowance/update", 200, "balance.json")
    run(lambda: make_client(router).balance_allowance(update=True))
    assert router.seen[0].path == "/balance-allowance/update"


def test_clob_cancel_variants_use_documented_bodies() -> None:
    router = (_router().reply("DELETE", "/orders", 200, "cancel_mixed.json")
              .reply("DELETE", "/cancel-all", 200, "cancel_all.json")
              .add("DELETE", "/cancel-market-orders", (200, b'{"canceled":[]}')))
    client = make_client(router)

    async def main() -> None:
        await client.cancel(["0x1", "0x2"])
        await client.cancel_all()
        await client.cancel_market(market="0xabc")

    run(main)
    assert [orjson.loads(s.body) if s.body else None for s in router.seen] == [
        ["0x1", "0x2"], None, {"market": "0xabc"}]
    assert all(s.auth == "l2" for s in router.seen)


def test_clob_order_lookup_returns_json() -> None:
    router = _router().add("GET", "/data/order/0xabc", (200, b"null"))
    assert run(lambda: make_client(router).order("0xabc")) is None


def test_clob_sync_time_offsets_auth_timestamps() -> None:
    server = FakeClock()
    server.advance(42)  # the server's clock runs 42 s ahead of ours (beyond the 30 s window)
    router = Router(server).add("GET", "/time", (200, str(server.ns() // 10**9).encode()))
    router.reply("GET", "/data/orders", 200, "open_orders_page2.json")
    client = make_client(router, clock=FakeClock())
    run(lambda: client.pages("/data/orders"))
    assert router.seen[-1].auth.startswith("BAD: stale_timestamp")
    assert run(client.sync_time) == 42
    run(lambda: client.pages("/data/orders"))
    assert router.seen[-1].auth == "l2"
    assert router.seen[-1].headers["poly_timestamp"] == str(server.ns() // 10**9)


def test_clob_rate_limiter_delays_instead_of_refusing() -> None:
    router = _router().reply("GET", "/version", 200, "version_2.json")
    sleep = FakeSleep(router.clock)
    client = make_client(router, sleep=sleep)
    client.limiter = RateLimiter(clock=router.clock.mono, sleep=sleep,
                                 limits={GENERAL: (Limit(2, 10.0),)})

    async def main() -> None:
        for _ in range(4):
            await client.version()

    run(main)
    assert len(router.seen) == 4 and sleep.delays == [5.0, 5.0]


def test_clob_secrets_never_leak_from_failures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    leak = f"key {API_KEY} pass {PASSPHRASE} secret {SECRET}"
    router = (_router().add("POST", "/order", httpx.ConnectError(leak))
              .add("GET", "/version", httpx.ReadTimeout(leak))
              .add("GET", "/neg-risk", (400, orjson.dumps({"error": leak}))))
    client = make_client(router, attempts=2)
    reply = run(lambda: client.post_order("{}"))
    with pytest.raises(ClobError) as timeout_info:
        run(client.version)
    with pytest.raises(ClobError) as bad_info:
        run(lambda: client.neg_risk(TOKEN_Y))
    outputs = [reply.error, str(timeout_info.value), str(bad_info.value), repr(client),
               repr(client.redact), caplog.text]
    assert "<redacted>" in reply.error
    assert not any(has_marker(text) for text in outputs)
    for info in (timeout_info, bad_info):
        assert info.value.__cause__ is None and info.value.__context__ is None


def test_clob_repr_shows_address_only() -> None:
    client = make_client(_router())
    assert repr(client) == (f"ClobClient(base_url='https://clob.test', address={ADDRESS}, "
                            "api=<set>)")


def test_clob_aclose_closes_http_client() -> None:
    client = make_client(_router())
    run(client.aclose)
    assert client._http.is_closed


def test_rest_snapshot_is_a_msgspec_raw() -> None:
    snap = rest_snapshot("/book", None, Reply(200, b"{}"), 1)
    assert isinstance(snap.body, msgspec.Raw) and snap.params == ""
