# The simulator's HTTP + websocket server: one aiohttp application on one port serving the
# REST routes, /ws/market and /ws/user, plus the pump task that drives time.
#
# Rules:
# 1. `SimServer` runs inside any asyncio program (`await start()` / `await stop()`; `polyarb
#    run` embeds it this way), `run()` blocks for the CLI and stops cleanly on Ctrl-C/SIGTERM,
#    and `ServerThread` runs it on a private loop in a thread for synchronous callers (tests,
#    notebooks, the official sync client).
# 2. It binds 127.0.0.1 by default; binding anything else prints a loud warning to stderr: the
#    simulator accepts a publicly known dev key.
# 3. The pump calls Venue.tick every `tick_s` (sooner when the scenario has something due, at
#    once when it is behind), so expiry, settlement and scenario actions happen on schedule.
# 4. The error middleware turns ApiError, aiohttp's own HTTP errors (404, 405, 413) and any
#    unexpected exception into the venue's `{"error": ...}` body; one bad request never takes
#    the server down. HTTP faults fire here, before the handler (nothing happens on the venue).
# 5. GET /sim/stats (no auth, never faulted: it is the simulator's, not the venue's) reports
#    the faults injected so far per class, for chaos drivers and benches.
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import WSCloseCode, web

from polyarb.sim.server import rest_account, rest_public, rest_trading
from polyarb.sim.server.config import ServerConfig
from polyarb.sim.server.http import INTERNAL_ERROR, ApiError, error_response
from polyarb.sim.server.outbox import Outbox
from polyarb.sim.server.scenario import Scenario
from polyarb.sim.server.sockets import read_loop
from polyarb.sim.server.venue import VENUE, Venue
from polyarb.sim.server.ws_market import MarketConn
from polyarb.sim.server.ws_user import UserConn

log = logging.getLogger("polyarb.sim.server")
T = TypeVar("T")
SOCKETS: web.AppKey[dict[web.WebSocketResponse, None]] = web.AppKey("polyarb_sim_sockets")
_UNAUTHORIZED = b"Unauthorized/Invalid api key"


@web.middleware
async def _errors(request: web.Request,
                  handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    venue = request.app[VENUE]
    if not request.path.startswith(("/ws/", "/sim/")):
        fault = venue.faults.http(trading=request.path in rest_trading.TRADING_PATHS)
        if fault is not None:
            return error_response(fault.status, fault.message, fault.reason)
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.reason)
    except web.HTTPException as exc:
        return error_response(exc.status, (exc.reason or "error").lower(), "http")
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, INTERNAL_ERROR, "unhandled")


def _socket(request: web.Request) -> tuple[Venue, web.WebSocketResponse]:
    venue = request.app[VENUE]
    # no compression (per-frame cost is what matters on loopback); a short close handshake
    # so a stop never waits long for an unresponsive client
    ws = web.WebSocketResponse(compress=False, max_msg_size=venue.config.max_body_bytes,
                               timeout=2.0)
    return venue, ws


async def _market_ws(request: web.Request) -> web.WebSocketResponse:
    venue, ws = _socket(request)
    await ws.prepare(request)
    outbox = Outbox(ws, request, limit=venue.config.outbox_limit, faults=venue.faults)
    conn = MarketConn(outbox)
    hub = venue.market_hub
    hub.conns[conn] = None
    request.app[SOCKETS][ws] = None
    outbox.start()
    try:
        await read_loop(ws, outbox, lambda text: hub.on_text(conn, text, venue.clock()),
                        conn.subscribed, venue.config.subscribe_timeout_s)
    finally:
        hub.drop(conn)
        outbox.close()
        request.app[SOCKETS].pop(ws, None)
    return ws


async def _user_ws(request: web.Request) -> web.WebSocketResponse:
    venue, ws = _socket(request)
    await ws.prepare(request)
    outbox = Outbox(ws, request, limit=venue.config.outbox_limit, faults=venue.faults)
    conn = UserConn(outbox)
    hub = venue.user_hub
    request.app[SOCKETS][ws] = None
    outbox.start()
    try:
        await read_loop(ws, outbox, lambda text: hub.on_text(conn, text), conn.subscribed,
                        venue.config.subscribe_timeout_s, _UNAUTHORIZED)
    finally:
        hub.drop(conn)
        outbox.close()
        request.app[SOCKETS].pop(ws, None)
    return ws


async def _close_sockets(app: web.Application) -> None:
    sockets: dict[web.WebSocketResponse, None] = app[SOCKETS]
    await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
                           for ws in list(sockets.keys())), return_exceptions=True)


async def _stats(request: web.Request) -> web.Response:
    """GET /sim/stats (rule 5): {"faults": {class: count}}."""
    return web.json_response({"faults": dict(request.app[VENUE].faults.counts)})


def make_app(venue: Venue) -> web.Application:
    """The aiohttp application serving `venue` (REST + both websocket channels)."""
    app = web.Application(middlewares=[_errors], client_max_size=venue.config.max_body_bytes)
    app[VENUE] = venue
    app[SOCKETS] = {}
    for method, path, handler in (*rest_public.ROUTES, *rest_trading.ROUTES,
                                  *rest_account.ROUTES):
        app.router.add_route(method, path, handler)
    app.router.add_get("/ws/market", _market_ws)
    app.router.add_get("/ws/user", _user_ws)
    app.router.add_get("/sim/stats", _stats)
    app.on_shutdown.append(_close_sockets)
    return app


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SimServer:
    """The simulated Polymarket CLOB on one port (rule 1)."""

    def __init__(self, config: ServerConfig | None = None, scenario: Scenario | None = None,
                 *, clock: Callable[[], int] = time.time_ns) -> None:
        self.config = config if config is not None else ServerConfig()
        self.venue = Venue(self.config, scenario, clock)
        self.app = make_app(self.venue)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._pump: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Base URL of the REST API."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base URL of the websockets (append /market or /user)."""
        return f"ws://{self.config.host}:{self.port}/ws"

    async def start(self) -> None:
        """Set up the scenario, bind (reporting the port) and start the pump."""
        if not _is_loopback(self.config.host):
            print(f"WARNING: polyarb simulator bound to non-loopback address "
                  f"{self.config.host}: anyone who can reach it can trade with the public "
                  "dev key", file=sys.stderr)
        self.venue.setup()
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    async def stop(self) -> None:
        """Stop the pump, close every websocket (1001) and release the port."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _run_pump(self) -> None:
        venue, clock = self.venue, self.venue.clock
        tick_ns = int(self.config.tick_s * 1e9)
        while True:
            venue.tick(clock())
            due = venue.scenario.next_due_ns() if venue.scenario is not None else None
            wait_ns = tick_ns if due is None else min(tick_ns, max(0, due - clock()))
            await asyncio.sleep(wait_ns / 1e9)

    def run(self, ready: Callable[[SimServer], None] | None = None) -> None:
        """Serve until Ctrl-C or SIGTERM (blocking); `ready` is called once bound."""
        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                # not possible off the main thread or on Windows: Ctrl-C still works there
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, stop.set)
            await self.start()
            try:
                if ready is not None:
                    ready(self)
                await stop.wait()
            finally:
                await self.stop()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())


class ServerThread:
    """A SimServer on its own event loop in a daemon thread (rule 1)."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="polyarb-sim", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def start(self) -> SimServer:
        """Start and wait until bound; re-raises a start failure."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.server

    def call(self, fn: Callable[[SimServer], T], timeout: float = 10.0) -> T:
        """Run `fn(server)` on the server's loop (the only safe way to touch its state)."""
        async def run() -> T:
            return fn(self.server)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        """Stop the server and join the thread."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
