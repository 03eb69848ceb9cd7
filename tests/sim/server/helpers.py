# Shared by the simulator-server tests: a fast server config, a small static scenario, a server
# started inside the test's event loop, and a Trader that signs requests with polyarb's own
# venue code (L1/L2 headers, V2 orders) over httpx.
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import orjson
import websockets

from polyarb.sim import SimConfig
from polyarb.sim.server import (
    DEV_PRIVATE_KEY,
    ServerConfig,
    SimServer,
    StaticConfig,
    StaticScenario,
)
from polyarb.venues.polymarket import amounts as am
from polyarb.venues.polymarket.credentials import ApiCredentials
from polyarb.venues.polymarket.l2auth import build_l2_headers
from polyarb.venues.polymarket.order_builder import OrderBuilder, order_body, orders_body
from polyarb.venues.polymarket.signing import LocalSigner, build_l1_headers

T = TypeVar("T")
M = 1_000_000
MS = 1_000_000
# Public anvil/hardhat test key #1 (never funded anywhere that matters).
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
FAST_SIM = SimConfig(mine_after_ns=60 * MS, confirm_after_ns=120 * MS, retry_after_ns=60 * MS)


def config(**kw: Any) -> ServerConfig:
    """A server config with fast settlement and a short pump period."""
    base: dict[str, Any] = {"tick_s": 0.005, "sim": FAST_SIM, "subscribe_timeout_s": 5.0}
    base.update(kw)
    return ServerConfig(**base)


def scenario(**kw: Any) -> StaticScenario:
    """Two binary markets and one neg-risk event of two outcomes, ladders resting."""
    base: dict[str, Any] = {"markets": 2, "neg_risk_events": 1, "outcomes_per_event": 2}
    base.update(kw)
    return StaticScenario(StaticConfig(**base))


@contextlib.asynccontextmanager
async def serving(cfg: ServerConfig | None = None,
                  scen: StaticScenario | None = None) -> AsyncIterator[SimServer]:
    """A started server in the current event loop, stopped on exit."""
    server = SimServer(cfg if cfg is not None else config(),
                       scen if scen is not None else scenario())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run one async test body with an overall deadline."""
    async def guarded() -> T:
        return await asyncio.wait_for(main(), 30)
    return asyncio.run(guarded())


def tokens(server: SimServer) -> list[str]:
    """Every token id the server lists, YES then NO per market."""
    return [t.token_id for m in server.venue.exchange.all_markets() for t in m.tokens]


class Trader:
    """A client that authenticates the way the venue's SDKs do."""

    def __init__(self, server: SimServer, http: httpx.AsyncClient,
                 key: str = DEV_PRIVATE_KEY) -> None:
        self.server = server
        self.http = http
        self.signer = LocalSigner.from_hex(key)
        self.builder = OrderBuilder(self.signer)
        self.creds: ApiCredentials | None = None
        self._salt = 0

    @property
    def api_key(self) -> str:
        assert self.creds is not None
        return self.creds.api_key.reveal()

    def l1(self, nonce: int = 0, ts: int | None = None) -> dict[str, str]:
        now = int(time.time()) if ts is None else ts
        return build_l1_headers(self.signer, chain_id=137, timestamp=now, nonce=nonce)

    async def login(self, nonce: int = 0) -> ApiCredentials:
        """Derive (and register) the API key of this wallet."""
        r = await self.http.get("/auth/derive-api-key", headers=self.l1(nonce))
        assert r.status_code == 200, r.text
        body = r.json()
        self.creds = ApiCredentials.of(body["apiKey"], body["secret"], body["passphrase"])
        return self.creds

    def l2(self, method: str, path: str, body: str | None = None,
           ts: int | None = None) -> dict[str, str]:
        assert self.creds is not None
        now = int(time.time()) if ts is None else ts
        return build_l2_headers(self.signer.address, self.creds, timestamp=now, method=method,
                                path=path, body=body)

    async def call(self, method: str, path: str, body: str | None = None,
                   params: dict[str, str] | None = None) -> httpx.Response:
        """An L2-authenticated request."""
        headers = self.l2(method, path, body)
        return await self.http.request(method, path, headers=headers, params=params,
                                       content=body.encode() if body is not None else None)

    def signed(self, token: str, side: str, price: str, size: str, *, neg_risk: bool = False,
               tick: str = "0.01", expiration: int = 0) -> Any:
        self._salt += 1
        return self.builder.build(token, am.limit_amounts(side, price, size, tick),  # type: ignore[arg-type]
                                  neg_risk=neg_risk, salt=self._salt,
                                  timestamp_ms=int(time.time() * 1000), expiration=expiration)

    def body(self, token: str, side: str, price: str, size: str, order_type: str = "GTC",
             **kw: Any) -> str:
        signed = self.signed(token, side, price, size, **kw)
        return order_body(signed, self.api_key, order_type)  # type: ignore[arg-type]

    def batch(self, entries: list[tuple[str, str, str, str]], neg_risk: bool = False) -> str:
        signed = [(self.signed(t, s, p, z, neg_risk=neg_risk), "GTC") for t, s, p, z in entries]
        return orders_body(signed, self.api_key)  # type: ignore[arg-type]

    async def place(self, token: str, side: str, price: str, size: str,
                    order_type: str = "GTC", **kw: Any) -> httpx.Response:
        return await self.call("POST", "/order", self.body(token, side, price, size, order_type,
                                                           **kw))


@contextlib.asynccontextmanager
async def trader(server: SimServer, key: str = DEV_PRIVATE_KEY,
                 login: bool = True) -> AsyncIterator[Trader]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        t = Trader(server, http, key)
        if login:
            await t.login()
        yield t


async def recv_json(ws: Any, timeout: float = 5.0) -> Any:
    """The next frame, decoded (PONG and INVALID OPERATION come back as plain strings)."""
    raw = await asyncio.wait_for(ws.recv(), timeout)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


async def recv_until(ws: Any, pred: Callable[[Any], bool], timeout: float = 5.0) -> list[Any]:
    """Collect event objects until one satisfies `pred`; returns everything seen (flattened)."""
    seen: list[Any] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frame = await recv_json(ws, max(left, 0.01))
        items = frame if isinstance(frame, list) else [frame]
        seen.extend(items)
        if any(pred(i) for i in items):
            return seen


async def market_socket(server: SimServer) -> Any:
    return await websockets.connect(server.ws_url + "/market", max_size=None)


async def user_socket(server: SimServer) -> Any:
    return await websockets.connect(server.ws_url + "/user", max_size=None)
