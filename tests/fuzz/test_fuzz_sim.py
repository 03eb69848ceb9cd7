# Fuzzing the simulator's REST routes and websocket channels over loopback: bad JSON, bodies over
# max_body_bytes, wrong types, missing and unknown fields, odd query parameters and headers get
# the venue's error responses (4xx with {"error": ...}), never a 500 from an exception, and the
# server keeps serving (a good request succeeds after the bad ones).
#
# Rules: one real server (ServerThread) per module; requests are properly L2-signed wherever a
# route authenticates, so the fuzzed bodies reach the handlers instead of stopping at 401.
# tests/sim/server/test_bad_input.py covers the named cases; this file covers the space
# around them. Each test runs its hypothesis loop, then checks the server with good requests.
# Settings from strategies.fuzz.
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from polyarb.sim.server import DEV_PRIVATE_KEY, ServerThread, SimServer
from polyarb.venues.polymarket import amounts as am
from polyarb.venues.polymarket import contracts
from polyarb.venues.polymarket.credentials import ApiCredentials
from polyarb.venues.polymarket.l2auth import build_l2_headers, hmac_signature
from polyarb.venues.polymarket.order_builder import OrderBuilder, order_body
from polyarb.venues.polymarket.signing import LocalSigner, build_l1_headers
from tests.fuzz.strategies import JSON, LEAF, NUMBERISH, ODD_TEXT, encodable, fuzz
from tests.sim.server.helpers import config, scenario

MAX_BODY = 8192


class Client:
    """A synchronous, authenticated client of the module's server."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=10)
        self.signer = LocalSigner.from_hex(DEV_PRIVATE_KEY)
        self.builder = OrderBuilder(self.signer)
        self.creds = self.login()
        self.tokens = [t.token_id for m in server.venue.exchange.all_markets() for t in m.tokens]
        self._salt = 0

    def login(self) -> ApiCredentials:
        """Derive (and register again, after a fuzzed DELETE /auth/api-key) our API key."""
        l1 = build_l1_headers(self.signer, chain_id=137, timestamp=int(time.time()), nonce=0)
        body = self.http.get("/auth/derive-api-key", headers=l1).json()
        self.creds = ApiCredentials.of(body["apiKey"], body["secret"], body["passphrase"])
        return self.creds

    def signed(self, method: str, path: str, body: bytes, **kw: Any) -> httpx.Response:
        """A request whose L2 headers sign exactly `body`."""
        now = int(time.time())
        headers = build_l2_headers(self.signer.address, self.creds, timestamp=now,
                                   method=method, path=path)
        # signed here: build_l2_headers refuses bodies with a quote, the server accepts them
        key = self.creds.hmac_key
        headers[contracts.POLY_SIGNATURE] = hmac_signature(key, now, method, path, body)
        return self.http.request(method, path, headers=headers, content=body, **kw)

    def order(self, price: str = "0.05", size: str = "10") -> dict[str, Any]:
        """A valid POST /order body (a resting BUY far from the market)."""
        self._salt += 1
        signed = self.builder.build(self.tokens[0], am.limit_amounts("BUY", price, size, "0.01"),
                                    neg_risk=False, salt=self._salt,
                                    timestamp_ms=int(time.time() * 1000))
        parsed: dict[str, Any] = orjson.loads(order_body(signed, self.creds.api_key.reveal(),
                                                         "GTC"))
        return parsed


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    thread = ServerThread(SimServer(config(max_body_bytes=MAX_BODY), scenario()))
    server = thread.start()
    c = Client(server)
    try:
        yield c
    finally:
        c.http.close()
        thread.stop()


def assert_venue_answer(r: httpx.Response) -> None:
    """Never a 500 from an exception; an error is the venue's {"error": message}."""
    assert r.status_code != 500, (r.request.method, r.request.url, r.text)
    event(f"{r.status_code} {r.headers.get('X-Polyarb-Sim-Reason', '')}")  # statistics
    assert r.headers.get("X-Polyarb-Sim-Reason") != "unhandled"
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
        assert r.status_code in (400, 401, 404, 405, 413, 425, 429, 503), r.status_code


def assert_still_serving(c: Client) -> None:
    """A good public request and a good order after the bad ones."""
    assert c.http.get("/ok").text == "OK"
    book = c.http.get("/book", params={"token_id": c.tokens[0]})
    assert book.status_code == 200 and book.json()["asset_id"] == c.tokens[0]
    placed = c.signed("POST", "/order", orjson.dumps(c.order()))
    assert placed.status_code == 200 and placed.json()["status"] == "live", placed.text


# --- REST: query parameters and path segments ----------------------------------------------

GET_PATHS = [
    "/", "/ok", "/time", "/version", "/book", "/price", "/midpoint", "/spread",
    "/last-trade-price", "/tick-size", "/neg-risk", "/fee-rate", "/markets", "/sampling-markets",
    "/simplified-markets", "/sampling-simplified-markets", "/data/orders", "/data/trades",
    "/auth/api-keys", "/auth/ban-status/closed-only", "/balance-allowance",
    "/balance-allowance/update",
]  # fmt: skip
PATH_ROUTES = ["/tick-size/", "/fee-rate/", "/markets/", "/clob-markets/", "/data/order/"]
PARAM_NAMES = ["token_id", "side", "next_cursor", "market", "asset_id", "id", "asset_type",
               "signature_type", "before", "after", "maker_address", "x"]
PARAM_VALUE = st.one_of(ODD_TEXT, NUMBERISH, st.sampled_from([
    "1" * 78, "1" * 79, "0", "-1", "BUY", "SELL", "MA==", "LTE=", "LTI=", "%%%", "AAAA",
    "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "LTk5", "COLLATERAL", "CONDITIONAL", "0x" + "0" * 64,
]))
HTTP_SAFE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=40)


@st.composite
def get_request(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    if draw(st.booleans()):
        path = draw(st.sampled_from(GET_PATHS))
    else:
        path = draw(st.sampled_from(PATH_ROUTES)) + draw(st.one_of(
            HTTP_SAFE.filter(lambda s: "/" not in s and "?" not in s and "#" not in s),
            st.sampled_from(["1" * 78, "1" * 200, "0x" + "a" * 64, "%00", "%ff", "..", "%2e"])))
    params = draw(st.dictionaries(st.sampled_from(PARAM_NAMES), PARAM_VALUE, max_size=3))
    return path, params


def test_fuzz_sim_get_routes_any_params_get_venue_answers(client: Client) -> None:
    @fuzz(200)
    @given(get_request())
    @example(("/markets", {"next_cursor": "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"}))
    @example(("/book", {"token_id": "1" * 78}))
    def run(request: tuple[str, dict[str, str]]) -> None:
        path, params = request
        r = client.signed("GET", path, b"", params=params)
        assert_venue_answer(r)

    run()
    assert_still_serving(client)


# --- REST: bodies ----------------------------------------------------------------------------

BATCH_PATHS = ["/books", "/prices", "/midpoints", "/spreads", "/last-trades-prices"]
BODY_ROUTES = [("POST", p) for p in BATCH_PATHS] + [
    ("POST", "/order"), ("POST", "/orders"), ("POST", "/v1/heartbeats"), ("POST", "/auth/api-key"),
    ("DELETE", "/order"), ("DELETE", "/orders"), ("DELETE", "/cancel-market-orders"),
    ("DELETE", "/auth/api-key"), ("PUT", "/order"),
]
BATCH_ITEM = st.fixed_dictionaries({}, optional={
    "token_id": st.one_of(LEAF, st.sampled_from(["1" * 78, "123", "1" * 79])),
    "side": st.one_of(LEAF, st.sampled_from(["BUY", "SELL", "buy"])),
    "extra": LEAF,
})
ORDER_FIELDS = ["salt", "maker", "signer", "taker", "tokenId", "makerAmount", "takerAmount",
                "side", "expiration", "nonce", "feeRateBps", "signatureType", "signature",
                "timestamp", "metadata", "builder", "unknown"]


@st.composite
def body_for(draw: st.DrawFn, c: Client, path: str) -> bytes:
    """Any body, most often near-valid for the route: batches, cancels or signed orders."""
    kind = draw(st.integers(0, 4))
    if kind == 4:
        kind = {"/order": 5, "/orders": 6}.get(path, 3 if path in BATCH_PATHS else 4)
    if kind == 0:
        return draw(st.binary(max_size=60))
    if kind == 1:  # over max_body_bytes
        return b'{"pad":"' + b"x" * draw(st.integers(MAX_BODY, 3 * MAX_BODY)) + b'"}'
    if kind == 2:
        return encodable(draw(JSON)) or b"["
    if kind == 3:
        return encodable(draw(st.lists(BATCH_ITEM, max_size=5))) or b"[{"
    if kind == 4:  # cancels: ids and filters of every type
        value = draw(st.one_of(st.lists(st.one_of(LEAF, st.just("0x" + "ab" * 32)), max_size=4),
                               st.fixed_dictionaries({}, optional={
                                   "orderID": LEAF, "market": LEAF, "asset_id": LEAF,
                                   "heartbeat_id": LEAF})))
        return encodable(value) or b"{"
    entry = c.order()  # a valid signed order, then damaged
    for _ in range(draw(st.integers(0, 3))):
        target = draw(st.sampled_from(["order", "entry"]))
        if target == "order" and isinstance(entry["order"], dict):
            entry["order"][draw(st.sampled_from(ORDER_FIELDS))] = draw(st.one_of(LEAF, NUMBERISH))
        else:
            entry[draw(st.sampled_from(["owner", "orderType", "postOnly", "deferExec", "order",
                                        "x"]))] = draw(LEAF)
    return encodable([entry] * draw(st.integers(1, 3)) if kind == 6 else entry) or b"{"


def test_fuzz_sim_bodies_any_shape_get_venue_answers(client: Client) -> None:
    @fuzz(200)
    @given(st.sampled_from(BODY_ROUTES), st.data())
    @example(("POST", "/orders"), None)
    def run(route: tuple[str, str], data: st.DataObject | None) -> None:
        method, path = route
        body = b"[1, {}]" if data is None else data.draw(body_for(client, path))
        r = client.signed(method, path, body)
        assert_venue_answer(r)
        if len(body) > MAX_BODY and r.status_code != 405 and path != "/auth/api-key":
            assert r.status_code == 413  # (API-key routes check L1 headers before the body)
        if (method, path, r.status_code) == ("DELETE", "/auth/api-key", 200):
            client.login()

    run()
    assert_still_serving(client)


# --- REST: headers ---------------------------------------------------------------------------

AUTH_HEADERS = ["POLY_ADDRESS", "POLY_SIGNATURE", "POLY_TIMESTAMP", "POLY_API_KEY",
                "POLY_PASSPHRASE", "POLY_NONCE", "Content-Type", "Accept-Encoding", "X-Odd"]
HEADER_VALUE = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=60).map(str.strip),
    st.sampled_from(["", "0", "-1", "99999999999999999999999", "1e3", "nan", "0x", "gzip, br",
                     "application/x-www-form-urlencoded", "text/plain; charset=latin-1"]),
)


def test_fuzz_sim_odd_auth_headers_get_venue_answers(client: Client) -> None:
    @fuzz(120)
    @given(st.sampled_from(["/data/orders", "/order", "/cancel-all", "/auth/derive-api-key",
                            "/auth/api-key"]),
           st.dictionaries(st.sampled_from(AUTH_HEADERS), HEADER_VALUE, max_size=5),
           st.booleans())
    def run(path: str, odd: dict[str, str], keep_valid: bool) -> None:
        method = {"/order": "POST", "/cancel-all": "DELETE", "/auth/api-key": "POST"}.get(
            path, "GET")
        headers = build_l2_headers(client.signer.address, client.creds,
                                   timestamp=int(time.time()), method=method, path=path,
                                   body=None) if keep_valid else {}
        headers.update(odd)
        r = client.http.request(method, path, headers=headers)
        assert_venue_answer(r)

    run()
    assert_still_serving(client)


# --- websockets ------------------------------------------------------------------------------

SUBSCRIPTION_KEYS = ["assets_ids", "type", "initial_dump", "custom_feature_enabled",
                     "operation", "markets", "auth", "level"]


@st.composite
def ws_text(draw: st.DrawFn, tokens: list[str]) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.one_of(ODD_TEXT, st.text(max_size=40)))
    if kind == 1:
        return (encodable(draw(JSON)) or b"[").decode()
    frame: dict[str, Any] = draw(st.sampled_from([
        {"assets_ids": tokens[:2], "type": "market"},
        {"operation": "subscribe", "assets_ids": tokens[2:4]},
        {"operation": "unsubscribe", "assets_ids": tokens[:1]},
        {"type": "user", "markets": [], "auth": {"apiKey": "k", "secret": "s", "passphrase": "p"}},
    ]))
    frame = dict(frame)
    for _ in range(draw(st.integers(1, 3))):
        frame[draw(st.sampled_from(SUBSCRIPTION_KEYS))] = draw(st.one_of(
            LEAF, JSON, st.lists(st.one_of(st.sampled_from(tokens), LEAF), max_size=3),
            st.integers(600, 1200).map(lambda n: [str(10**20 + i) for i in range(n)])))
    value = [frame] * draw(st.integers(1, 2)) if kind == 3 else frame
    return (encodable(value) or b"{").decode()


def _exchange(ws: ClientConnection, frames: list[str | bytes]) -> int | None:
    """Send the frames, then PING: None when PONG came back (the connection lives), else the
    server's close code (0 when our sends raced its close and its close frame was not read)."""
    try:
        for frame in frames:
            ws.send(frame)
        ws.send("PING")
        while ws.recv(timeout=10) != "PONG":
            pass
    except ConnectionClosed as closed:
        return 0 if closed.rcvd is None else closed.rcvd.code
    return None


def _too_big(frames: list[str | bytes]) -> bool:
    return any(len(f.encode() if isinstance(f, str) else f) > MAX_BODY for f in frames)


def test_fuzz_sim_market_socket_any_frames_keeps_the_connection(client: Client) -> None:
    url = client.server.ws_url + "/market"

    @fuzz(40)
    @given(st.lists(st.one_of(ws_text(client.tokens), st.binary(max_size=20)), min_size=1,
                    max_size=6))
    def run(frames: list[str | bytes]) -> None:
        with connect(url, max_size=None, close_timeout=1) as ws:
            closed = _exchange(ws, frames)
        # only a frame over max_body_bytes ends the connection (1009, message too big)
        assert closed is None or (_too_big(frames) and closed in (0, 1009)), closed

    run()
    with connect(url, max_size=None, close_timeout=1) as ws:  # a good subscription still works
        ws.send(orjson.dumps({"assets_ids": client.tokens[:1], "type": "market"}).decode())
        first = orjson.loads(ws.recv(timeout=10))
        assert first[0]["event_type"] == "book" and first[0]["asset_id"] == client.tokens[0]
    assert_still_serving(client)


def test_fuzz_sim_user_socket_any_frames_answers_or_closes_cleanly(client: Client) -> None:
    url = client.server.ws_url + "/user"
    auth = {"apiKey": client.creds.api_key.reveal(), "secret": client.creds.secret.reveal(),
            "passphrase": client.creds.passphrase.reveal()}

    @fuzz(40)
    @given(st.booleans(), st.lists(st.one_of(ws_text(client.tokens), st.binary(max_size=20)),
                                   min_size=1, max_size=6))
    def run(authenticated: bool, frames: list[str | bytes]) -> None:
        login: list[str | bytes] = [orjson.dumps({"type": "user", "markets": [],
                                                  "auth": auth}).decode()]
        with connect(url, max_size=None, close_timeout=1) as ws:
            closed = _exchange(ws, (login if authenticated else []) + frames)
        if closed is not None and not _too_big(frames):  # else 1009, message too big
            assert not authenticated and closed in (0, 1008), closed  # bad auth: 1008

    run()
    with connect(url, max_size=None, close_timeout=1) as ws:  # a good login still works
        assert _exchange(ws, [orjson.dumps({"type": "user", "markets": [], "auth": auth}).decode()
                              ]) is None
    assert_still_serving(client)
