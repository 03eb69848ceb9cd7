# The user channel (/ws/user): our orders' and fills' updates, with reconnects and the REST
# sweep that covers what a disconnect hid.
#
# Rules (protocol reference sections 1.4 and 2, pain points 1, 11, 12 of section 9):
# 1. After connecting, the first frame authenticates with the RAW apiKey/secret/passphrase and
#    subscribes the markets' condition ids. That frame is built at send time, kept nowhere,
#    never passed to the sink, a log or an event: SubscriptionSent records only the condition
#    ids (in its asset_ids field).
# 2. Every received frame goes to `sink.on_frame(ts_recv_ns, "user-0", data)` verbatim (the
#    runtime journals it as RawFrame channel "user"), then through user_parse into
#    OrderUpdated / TradeUpdated, deduplicated, to `sink.on_event`. Unparseable elements are
#    counted and logged; their frame is already journaled.
# 3. Text PING every ping_interval_s; no frame at all (PONG included) for idle_timeout_s means
#    a dead connection: reconnect. Reconnects follow backoff.py (shared with the market feed:
#    doubling, jitter, reset after a healthy period). Lifecycle events follow the market feed's
#    conventions: ConnectionOpened, SubscriptionSent, ConnectionClosed (remote_close /
#    local_close / connection_lost / idle / connect_failed: ...), ReconnectScheduled.
# 4. After every (re)connect the `sweep` (normally polyarb.venues.base.sweep over the venue)
#    reads open orders and trades since the last disconnect minus sweep_lookback_s. Its
#    RestSnapshots always pass; its typed events pass the same dedupe as the channel's. A
#    failed sweep is retried with backoff, a few times, while frames keep flowing.
# 5. The sink is called synchronously on the event loop's thread. An exception from the sink
#    stops the feed (`run()` closes the socket and re-raises it): a sink that cannot journal
#    must halt the engine rather than lose input. Any other error ends only the session.
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, Literal, Protocol

import orjson
import websockets

from polyarb.events.base import Input
from polyarb.events.inputs import (
    ConnectionClosed,
    ConnectionOpened,
    ReconnectScheduled,
    SubscriptionSent,
)
from polyarb.venues.polymarket.backoff import Backoff, BackoffPolicy
from polyarb.venues.polymarket.credentials import ApiCredentials
from polyarb.venues.polymarket.feed_wire import FeedSink, describe_close, describe_error
from polyarb.venues.polymarket.outcomes import Redactor, clip
from polyarb.venues.polymarket.user_parse import Deduper, UserIdentity, parse_user_frame

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "wss://ws-subscriptions-clob.polymarket.com/ws/user"
CONN: Final = "user-0"


class Connection(Protocol):
    """The part of a websocket client connection the feed uses."""

    async def send(self, message: str) -> None: ...
    async def recv(self) -> str | bytes: ...
    async def close(self) -> None: ...


Connect = Callable[[str], Awaitable[Connection]]
Sweep = Callable[[int | None], Awaitable[list[Input]]]


# Largest user-channel frame accepted, as the market feed's: well under the journal readers'
# line limit (journal/scan.MAX_LINE), so every frame journaled reads back. A larger frame closes
# the connection (1009), which reconnects and sweeps like any other drop.
MAX_FRAME_BYTES = 64 * 2**20


async def websocket_connect(url: str) -> Connection:
    """Open a websocket with the library's own ping frames on top of our text PING."""
    conn: Connection = await websockets.connect(url, max_size=MAX_FRAME_BYTES, open_timeout=10,
                                                close_timeout=5)
    return conn


class _Idle(Exception):
    """Internal: the idle watchdog fired (rule 3)."""


class _SinkFailed(Exception):
    """Internal: the sink raised; `UserFeed.failure` holds its exception (rule 5)."""


class UserFeed:
    """One user-channel connection with reconnects and sweeps (rules 1-5)."""

    def __init__(
        self,
        *,
        api: ApiCredentials,
        identity: UserIdentity,
        markets: Sequence[str],
        sink: FeedSink,
        sweep: Sweep | None = None,
        url: str = DEFAULT_URL,
        conn: str = CONN,
        clock_ns: Callable[[], int] = time.time_ns,
        connect: Connect = websocket_connect,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        ping_interval_s: float = 10.0,
        idle_timeout_s: float = 30.0,
        sweep_lookback_s: int = 300,
        sweep_attempts: int = 3,
    ) -> None:
        self.url = url
        self.conn = conn
        self.markets = list(dict.fromkeys(markets))
        self._api = api
        self._me = identity
        self._sink = sink
        self._sweep = sweep
        self._clock_ns = clock_ns
        self._connect = connect
        self._sleep = sleep
        self.backoff = Backoff(backoff, rng)
        self.ping_interval_s = ping_interval_s
        self.idle_timeout_s = idle_timeout_s
        self.sweep_lookback_s = sweep_lookback_s
        self.sweep_attempts = sweep_attempts
        self.dedupe = Deduper()
        self._redact = Redactor((api.api_key.reveal(), api.secret.reveal(),
                                 api.passphrase.reveal()))
        self._ws: Connection | None = None
        self._stopped = False
        self._since_s: int | None = None
        self.failure: BaseException | None = None
        self.stats = dict.fromkeys(("sessions", "frames", "events", "issues", "sweeps",
                                    "sweep_failures"), 0)

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, read and reconnect until stop() or cancellation.

        Raises:
            Exception: whatever the sink raised (rule 5), after the socket is closed.
        """
        self._since_s = self._now_s() - self.sweep_lookback_s
        while not self._stopped:
            await self._session()
            if self.failure is not None:
                raise self.failure
            self._since_s = self._now_s() - self.sweep_lookback_s
            if self._stopped:
                break
            delay = self.backoff.next_delay()
            self._emit(ReconnectScheduled(ts_recv_ns=self._clock_ns(), conn=self.conn,
                                          attempt=self.backoff.attempt,
                                          delay_ms=int(delay * 1000)))
            await self._sleep(delay)

    async def stop(self) -> None:
        """Stop after the current session (closes the socket)."""
        self._stopped = True
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def subscribe(self, markets: Sequence[str], *, unsubscribe: bool = False) -> None:
        """Change the market filter on the live socket (kept for reconnects too)."""
        new = [m for m in dict.fromkeys(markets) if (m in self.markets) == unsubscribe]
        if not new:
            return
        op: Literal["subscribe", "unsubscribe"] = "unsubscribe" if unsubscribe else "subscribe"
        self.markets = ([m for m in self.markets if m not in new] if unsubscribe
                        else [*self.markets, *new])
        ws = self._ws
        if ws is not None:
            await ws.send(orjson.dumps({"operation": op, "markets": new}).decode())
            self._emit(SubscriptionSent(ts_recv_ns=self._clock_ns(), conn=self.conn,
                                        operation=op, asset_ids=tuple(new)))

    # --- one session -----------------------------------------------------------------------

    def _now_s(self) -> int:
        return self._clock_ns() // 1_000_000_000

    def _deliver(self, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as exc:  # rule 5: keep it, end the session, re-raise from run()
            self.failure = exc
            raise _SinkFailed from None

    def _emit(self, event: Input) -> None:
        self.stats["events"] += 1
        self._deliver(lambda: self._sink.on_event(event))

    def _auth_frame(self) -> str:
        api = self._api
        return orjson.dumps({
            "type": "user",
            "auth": {"apiKey": api.api_key.reveal(), "secret": api.secret.reveal(),
                     "passphrase": api.passphrase.reveal()},
            "markets": self.markets, "assets_ids": [], "initial_dump": True,
        }).decode()

    async def _session(self) -> None:
        """One connection from connect to close (rules 1-3)."""
        try:
            ws = await self._connect(self.url)
        except Exception as exc:  # a failed connect is a closed connection that never opened
            self._closed(describe_error("connect_failed", exc), None)
            return
        self._ws = ws
        self.stats["sessions"] += 1
        self.backoff.opened(self._clock_ns() / 1e9)
        tasks: list[asyncio.Task[None]] = []
        try:
            self._emit(ConnectionOpened(ts_recv_ns=self._clock_ns(), conn=self.conn,
                                        url=self.url))
            await ws.send(self._auth_frame())
            self._emit(SubscriptionSent(ts_recv_ns=self._clock_ns(), conn=self.conn,
                                        operation="initial", asset_ids=tuple(self.markets)))
            loop = asyncio.get_running_loop()
            tasks.append(loop.create_task(self._pinger(ws)))
            if self._sweep is not None:
                tasks.append(loop.create_task(self._sweeper(ws, self._since_s)))
            await self._read(ws)
        except _SinkFailed:
            reason, code = "sink_failed", None
        except websockets.ConnectionClosed as exc:
            reason, code = describe_close(exc)
        except _Idle as exc:
            reason, code = str(exc), None
        except Exception as exc:  # any other socket trouble ends this session only
            reason, code = describe_error("error", exc), None
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._ws = None
            with contextlib.suppress(Exception):
                await ws.close()
        self.backoff.closed(self._clock_ns() / 1e9)
        if self.failure is None:
            self._closed(reason, code)

    def _closed(self, reason: str, code: int | None) -> None:
        reason = self._redact(clip(reason))
        log.info("user channel %s closed: %s", self.conn, reason)
        with contextlib.suppress(_SinkFailed):
            self._emit(ConnectionClosed(ts_recv_ns=self._clock_ns(), conn=self.conn,
                                        reason=reason, code=code))

    async def _read(self, ws: Connection) -> None:
        while True:
            try:
                data = await asyncio.wait_for(ws.recv(), self.idle_timeout_s)
            except TimeoutError:
                raise _Idle(f"idle: no frame for {self.idle_timeout_s:g} s") from None
            self.receive(data)
            if self.failure is not None:  # the sweeper's sink call failed
                raise _SinkFailed

    def receive(self, data: str | bytes) -> None:
        """Handle one received frame (rule 2): sink it raw, parse, dedupe, emit."""
        ts = self._clock_ns()
        self.stats["frames"] += 1
        self._deliver(lambda: self._sink.on_frame(ts, self.conn, data))
        parsed = parse_user_frame(data, ts, self._me)
        for issue in parsed.issues:
            self.stats["issues"] += 1
            log.warning("user frame: %s", self._redact(issue))
        for event in self.dedupe.fresh(parsed.events):
            self._emit(event)

    async def _pinger(self, ws: Connection) -> None:
        while True:
            await asyncio.sleep(self.ping_interval_s)
            await ws.send("PING")

    async def _sweeper(self, ws: Connection, since_s: int | None) -> None:
        assert self._sweep is not None
        backoff = Backoff(BackoffPolicy(initial_s=1.0, max_s=30.0, jitter=0.0))
        for attempt in range(1, self.sweep_attempts + 1):
            try:
                events = await self._sweep(since_s)
            except Exception as exc:  # a failed read must not end the session
                self.stats["sweep_failures"] += 1
                log.warning("user sweep %d/%d failed: %s", attempt, self.sweep_attempts,
                            self._redact(clip(f"{type(exc).__name__}: {exc}")))
                if attempt < self.sweep_attempts:
                    await self._sleep(backoff.next_delay())
                continue
            self.stats["sweeps"] += 1
            try:
                for event in self.dedupe.fresh(events):
                    self._emit(event)
            except _SinkFailed:
                await ws.close()  # wakes the reader, which ends the session (rule 5)
            return

    def __repr__(self) -> str:
        return f"UserFeed(url={self.url!r}, conn={self.conn!r}, markets={len(self.markets)})"
