# Shared by the CLOB and user-channel tests: our recorded-format payloads (the JSON files in this
# directory, see README.md), marker credentials, a fake clock and sleep, and an
# httpx.MockTransport router that serves the payloads and verifies every request's L1/L2 auth
# with polyarb's own verifiers (over the exact body bytes received); and the simulator started
# inside a test's event loop on 127.0.0.1.
from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from polyarb.events.decisions import OrderIntent, PlaceOrders
from polyarb.venues.polymarket import signing as sg
from polyarb.venues.polymarket.clob import ClobClient, RetryPolicy
from polyarb.venues.polymarket.credentials import ApiCredentials, PolymarketCredentials, Secret
from polyarb.venues.polymarket.l2auth import ApiKeyRecord, verify_l2_headers
from polyarb.venues.polymarket.order_builder import parse_wire_order
from polyarb.venues.polymarket.signing import verify_l1_headers
from polyarb.venues.polymarket.venue import PolymarketVenue

RECORDED = Path(__file__).parent
# Marker secrets: tests search every output for these exact strings.
API_KEY = "a7e1c0de-0000-4000-8000-feedfacecafe"
SECRET = base64.urlsafe_b64encode(b"SECRET-MARKER-polyarb-test-0001!").decode()
PASSPHRASE = "PASSPHRASE-MARKER-5d1e7c"
# The public hardhat/anvil key #0 (the protocol reference's test key; never funded).
PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
MARKERS = (API_KEY, SECRET, PASSPHRASE, PRIVATE_KEY, PRIVATE_KEY[2:])
TOKEN_Y = "48815563960393207286340157424640929262302929862431286349541232158375104412931"
TOKEN_N = "90717291548331640151520935577002317094924406005203458891017002412216102838461"
T0_NS = 1_776_000_000 * 10**9
BASE_URL = "https://clob.test"


def api() -> ApiCredentials:
    return ApiCredentials.of(API_KEY, SECRET, PASSPHRASE)


def credentials(*, with_api: bool = True) -> PolymarketCredentials:
    return PolymarketCredentials(private_key=Secret(PRIVATE_KEY),
                                 api=api() if with_api else None)


def payload(name: str, **subs: str) -> bytes:
    """A recorded payload with `{name}` placeholders filled (compact JSON text)."""
    text = (RECORDED / name).read_text()
    for key, value in subs.items():
        text = text.replace("{" + key + "}", value)
    return orjson.dumps(orjson.loads(text))


def has_marker(text: str) -> bool:
    return any(m in text for m in MARKERS)


class FakeClock:
    """Wall clock (ns) and monotonic clock (s) that move only when told."""

    def __init__(self, t_ns: int = T0_NS) -> None:
        self.t_ns = t_ns

    def ns(self) -> int:
        return self.t_ns

    def mono(self) -> float:
        return self.t_ns / 1e9

    def advance(self, seconds: float) -> None:
        self.t_ns += int(seconds * 1e9)


class FakeSleep:
    """An async sleep that records the delay and advances the fake clock instead of waiting."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class Seen:
    """One request the router received."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]
    auth: str  # "l1", "l2", "none" or "BAD: <reason>"


Handler = Callable[[httpx.Request], httpx.Response]
Responder = tuple[int, bytes] | Handler | Exception


def order_hashes(body: bytes, neg_risk: bool = False) -> list[str]:
    """Order hashes of the entries of a POST /order(s) body, as the venue computes them."""
    obj = orjson.loads(body)
    entries = obj if isinstance(obj, list) else [obj]
    domain = sg.order_domain(137, neg_risk)
    return ["0x" + sg.order_digest(parse_wire_order(e["order"])[0], domain).hex()
            for e in entries]


def order_reply(name: str, status: int = 200, neg_risk: bool = False) -> Handler:
    """A responder filling {hashN} from the posted orders (N = position in the request)."""
    def handle(request: httpx.Request) -> httpx.Response:
        subs = {f"hash{i}": h for i, h in enumerate(order_hashes(request.content, neg_risk))}
        return httpx.Response(status, content=payload(name, **subs))
    return handle


@dataclass
class Router:
    """MockTransport handler: queued responders per (method, path); the last one repeats."""

    clock: FakeClock
    routes: dict[tuple[str, str], list[Responder]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def add(self, method: str, path: str, *responders: Responder) -> Router:
        self.routes.setdefault((method, path), []).extend(responders)
        return self

    def reply(self, method: str, path: str, status: int, name: str, **subs: str) -> Router:
        return self.add(method, path, (status, payload(name, **subs)))

    def _auth(self, request: httpx.Request) -> str:
        headers = dict(request.headers)
        now_s = self.clock.ns() // 10**9
        try:
            if "poly_api_key" in headers:
                verify_l2_headers(headers, method=request.method, path=request.url.path,
                                  body=request.content or None, now_s=now_s,
                                  lookup=lambda k: ApiKeyRecord(ADDRESS, api())
                                  if k == API_KEY else None)
                return "l2"
            if "poly_signature" in headers:
                verify_l1_headers(headers, chain_id=137, now_s=now_s)
                return "l1"
        except sg.SignatureError as exc:
            return f"BAD: {exc}"
        return "none"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(Seen(request.method, request.url.path, dict(request.url.params),
                              request.content, dict(request.headers), self._auth(request)))
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            return httpx.Response(404, json={"error": "no route in test"})
        responder = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(responder, Exception):
            raise responder
        if isinstance(responder, tuple):
            return httpx.Response(responder[0], content=responder[1])
        return responder(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]


def make_client(router: Router, *, sleep: FakeSleep | None = None, with_api: bool = True,
                attempts: int = 4, clock: FakeClock | None = None) -> ClobClient:
    """A client on the router; its clock is the router's unless given."""
    clock = clock if clock is not None else router.clock
    return ClobClient(credentials(with_api=with_api), base_url=BASE_URL,
                      transport=router.transport(), clock_ns=clock.ns, monotonic=clock.mono,
                      sleep=sleep if sleep is not None else FakeSleep(clock),
                      retry=RetryPolicy(attempts=attempts, initial_s=1.0, max_s=30.0))


def make_venue(router: Router, **kw: Any) -> PolymarketVenue:
    salts = iter(range(1, 10**6))
    return PolymarketVenue(make_client(router, **kw), salt=lambda: next(salts))


def intent(cid: str, *, side: str = "BUY", price: int = 500_000, size: int = 10_000_000,
           order_type: str = "GTC", tick: int = 10_000, token: str = TOKEN_Y,
           neg_risk: bool = False) -> OrderIntent:
    return OrderIntent(client_order_id=cid, token_id=token, side=side,  # type: ignore[arg-type]
                       price_micros=price, size_micros=size,
                       order_type=order_type,  # type: ignore[arg-type]
                       tick_size_micros=tick, neg_risk=neg_risk)


def batch(*intents: OrderIntent) -> PlaceOrders:
    return PlaceOrders(ts_recv_ns=0, cause_seq=0, batch_id="b-1", opp_id="opp-1",
                       orders=tuple(intents))


def run(main: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Run one async test body with an overall deadline (Any: tests inspect event fields)."""
    async def guarded() -> Any:
        return await asyncio.wait_for(main(), timeout)
    return asyncio.run(guarded())


def texts(events: Sequence[Any]) -> str:
    """Everything an event list would put in a journal, as text (for marker searches)."""
    from polyarb.events.codec import encode_record
    return b"".join(encode_record(i, e) for i, e in enumerate(events)).decode()


# --- the simulator on loopback ----------------------------------------------------------------

OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil #1


def sim_config(**faults: float) -> Any:
    """A fast simulator: 5 ms pump, settlement MINED after 60 ms and CONFIRMED 120 ms later."""
    from polyarb.sim import SimConfig
    from polyarb.sim.server import FaultConfig, ServerConfig
    ms = 1_000_000
    return ServerConfig(tick_s=0.005, subscribe_timeout_s=5.0,
                        faults=FaultConfig(**faults),  # type: ignore[arg-type]
                        sim=SimConfig(mine_after_ns=60 * ms, confirm_after_ns=120 * ms,
                                      retry_after_ns=60 * ms))


@contextlib.asynccontextmanager
async def sim_server(**faults: float) -> AsyncIterator[Any]:
    """Two binary markets and a two-outcome neg-risk event with resting ladders."""
    from polyarb.sim.server import SimServer, StaticConfig, StaticScenario
    server = SimServer(sim_config(**faults), StaticScenario(StaticConfig(
        markets=2, neg_risk_events=1, outcomes_per_event=2)))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def sim_venue(server: Any, key: str = PRIVATE_KEY, **kw: Any) -> PolymarketVenue:
    """A PolymarketVenue on the simulator (real clock), API key created or derived."""
    client = ClobClient(PolymarketCredentials(private_key=Secret(key)), base_url=server.url,
                        **kw)
    await client.create_or_derive_api_key()
    return PolymarketVenue(client)
