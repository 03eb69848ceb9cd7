# The supervisor of `polyarb run`: builds the run, starts its tasks, watches them, and stops it.
#
# Rules:
# 1. Start (polyarb/runtime/startup.py): journal, backend (simulator or live venue), markets,
#    live confirmation, engine rebuilt from the journal, RunStarted, MarketsLoaded,
#    reconciliation; only then the feeds, the ticker, the heartbeater and the status display.
# 2. Tasks: one engine loop consuming the queue; the market feed and the user channel putting
#    frames and events on it (paper: the paper venue's own updates instead of a user channel);
#    a ticker (ClockTick every run.tick_ms); a journal poller (group commit); the book resync
#    (resubscribes books the engine declared broken); the heartbeater (while orders rest); the
#    lookup of orders whose outcome stays unknown (polyarb/runtime/reconcile.py rule 5); the
#    status display. If the loop or a feed dies, the run stops (a feed dies only when its
#    sink, i.e. the journal, failed).
# 3. Graceful stop (first signal, --duration, a failed task): close the market feed (no new
#    market data, hence no new opportunities), let the loop drain what was queued, wait up to
#    shutdown.response_timeout_s for outstanding venue calls, refuse further placements, cancel
#    our resting orders (shutdown.cancel_resting), wait again, stop the user channel and the
#    heartbeater, journal RunStopped, sync. A second signal forces: outstanding calls are
#    cancelled (their orders journaled as outcome unknown, for the next start to reconcile),
#    whatever is queued is journaled, then RunStopped.
# 4. The journal is closed on every path; a journal failure is never papered over.
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyarb.config import RunConfig
from polyarb.core.stats import render
from polyarb.events.inputs import RunStopped
from polyarb.runtime import startup
from polyarb.runtime.backends import Backend, BackendError, open_backend, preflight
from polyarb.runtime.counters import Counters
from polyarb.runtime.executor import Executor
from polyarb.runtime.loop import EngineLoop, poll_forever, tick_forever
from polyarb.runtime.markets import load_markets
from polyarb.runtime.resync import Resync
from polyarb.runtime.signals import StopRequest
from polyarb.runtime.sinks import QueueSink
from polyarb.runtime.status import Status, show_forever

log = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 5


@dataclass
class RunOptions:
    """How to run: the effective config and the shell's choices.

    Attributes:
        config: the effective config (file + command-line overrides).
        env: where live credentials are read from (the CLI passes os.environ).
        duration_s: stop gracefully after this long (None: until a signal).
        panel: show the rich panel (else periodic log lines).
        confirm: asked before live trading with the plan text; None means `--yes`.
        clock: ns since the epoch (stamps inputs).
    """

    config: RunConfig
    env: Mapping[str, str] = field(default_factory=dict)
    duration_s: float | None = None
    panel: bool = False
    confirm: Callable[[str], bool] | None = None
    clock: Callable[[], int] = time.time_ns


@dataclass
class RunResult:
    """How the run ended; the CLI prints it and exits with `exit_code`."""

    exit_code: int
    reason: str
    run_id: str = ""
    journal_dir: Path = Path()
    first_seq: int = 0
    last_seq: int = 0
    stats_line: str = ""
    counters: Counters | None = None
    markets: str = ""


class Supervisor:
    """One `polyarb run` (rules 1-4)."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.config = options.config
        self.clock = options.clock
        self.stop = StopRequest()
        self.counters = Counters()
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        self.result = RunResult(exit_code=0, reason="")
        self.loop: EngineLoop | None = None
        self.executor: Executor | None = None
        self.user_feed: Any = None
        self.market_feed: Any = None
        self.heartbeater: Any = None

    async def main(self) -> RunResult:
        """Run until stopped; the journal is closed on every path (rule 4)."""
        preflight(self.config, self.options.env)  # before the journal is touched
        hook = startup.HookTarget()
        writer = startup.open_writer(self.config, hook)
        self.result.journal_dir = writer.root
        self.result.first_seq = writer.next_seq
        try:
            backend = await open_backend(self.config, self.options.env)
            try:
                await self._run(writer, backend, hook)
            finally:
                await self._close_backend(backend)
        finally:
            self.result.last_seq = writer.next_seq - 1
            writer.close()
        return self.result

    @staticmethod
    async def _close_backend(backend: Backend) -> None:
        # bounded: the embedded simulator waits for requests it still holds (fault injection)
        try:
            await asyncio.wait_for(backend.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.warning("closing the %s venue took over %d s; left behind", backend.name,
                        CLOSE_TIMEOUT_S)

    async def _run(self, writer: Any, backend: Backend, hook: startup.HookTarget) -> None:
        gamma = self.config.venue.gamma_url if backend.name != "sim" else None
        loaded = await load_markets(self.config.markets, backend.clob_url, gamma,
                                    self.config.venue.request_timeout_s)
        markets = loaded.markets
        self.result.markets = startup.describe_markets(markets)
        if not self._confirmed(backend, markets):
            self.result.exit_code, self.result.reason = 1, "not confirmed"
            return
        rebuilt = startup.rebuild_engine(writer)
        executor = Executor(backend.venue, lambda ev: loop.submit(ev), self.clock)
        loop = EngineLoop(writer, startup.engine_of(rebuilt, self.config), executor.dispatch,
                          self.counters)
        self.loop, self.executor, hook.loop = loop, executor, loop
        if backend.name == "paper" and backend.venue is not None:
            backend.venue.on_event = loop.submit
            for cid, why in backend.venue.load_markets(markets):
                log.warning("paper venue refused market %s: %s", cid, why)
        self.result.run_id = startup.new_run_id(self.clock)
        self.result.counters = self.counters
        startup.start_run(loop, rebuilt, self.config, self.result.run_id, backend.name,
                          self.clock)
        startup.load_into(loop, markets, "sim" if backend.name == "sim" else loaded.source,
                          self.clock)
        if backend.venue is not None and rebuilt.engine is not None:
            await self._reconcile(loop, backend)
        with self.stop:
            self._start_tasks(backend, [m.condition_id for m in markets],
                              [t.token_id for m in markets for t in m.tokens])
            await self._supervise()
            await self._shutdown(backend)
        self.result.stats_line = render(loop.engine.stats())

    async def _reconcile(self, loop: EngineLoop, backend: Backend) -> None:
        """Restart reconciliation; a venue that cannot answer stops the run before trading."""
        from polyarb.runtime.reconcile import reconcile
        from polyarb.venues.base import VenueError

        try:
            await reconcile(loop, backend.venue, self.clock)
        except VenueError as exc:
            reason = f"error: reconciliation failed: {exc}"
            loop.handle(RunStopped(ts_recv_ns=self.clock(), run_id=self.result.run_id,
                                   reason=reason))
            raise BackendError(f"{reason}; nothing was traded") from None

    def _confirmed(self, backend: Backend, markets: Any) -> bool:
        confirm = self.options.confirm
        if backend.name != "live" or backend.venue is None or confirm is None:
            return True
        account = backend.venue.client.credentials.maker
        return confirm(startup.plan_text(self.config, markets, account))

    # --- tasks ------------------------------------------------------------------------------

    def _spawn(self, name: str, coro: Any) -> None:
        self.tasks[name] = asyncio.get_running_loop().create_task(coro, name=name)

    def _start_tasks(self, backend: Backend, condition_ids: list[str],
                     tokens: list[str]) -> None:
        from polyarb.venues.polymarket.feed import MarketFeed

        loop, cfg = self.loop, self.config
        assert loop is not None
        self._spawn("engine-loop", loop.run())
        sink: Any = QueueSink(loop, "market")
        if backend.name == "paper" and backend.venue is not None:
            from polyarb.venues.paper import PaperTap

            sink = PaperTap(sink, backend.venue)  # the paper books follow every frame
        self.market_feed = MarketFeed(backend.ws_market_url, sink,
                                      tokens_per_connection=cfg.venue.tokens_per_connection)
        self.market_feed.subscribe(tokens)
        self._spawn("market-feed", self.market_feed.run())
        resync = Resync(self.market_feed)
        loop.observers.append(resync.observe)
        self._spawn("book-resync", resync.run_forever(cfg.run.tick_ms / 1000))
        if backend.venue is not None:
            self._start_trading_tasks(backend, condition_ids)
        advance = backend.venue.advance if backend.name == "paper" and backend.venue else None
        self._spawn("ticker", tick_forever(loop, cfg.run.tick_ms / 1000, self.clock, advance))
        self._spawn("journal-poll", poll_forever(loop.writer, cfg.journal.batch_ms / 1000))
        if self.options.duration_s is not None:
            self._spawn("duration", self._stop_after(self.options.duration_s))
        status = Status(lambda: loop.engine, self.counters, lambda: loop.last_seq)
        self._spawn("status", show_forever(
            status, f"polyarb {self.result.run_id} on {backend.name}",
            panel=self.options.panel, hz=cfg.run.status_hz,
            log_interval_s=cfg.run.log_interval_s, log=lambda line: log.info("%s", line)))

    def _start_trading_tasks(self, backend: Backend, condition_ids: list[str]) -> None:
        from polyarb.runtime.reconcile import resolve_unknown_forever
        from polyarb.venues.base import sweep
        from polyarb.venues.polymarket.user_feed import UserFeed
        from polyarb.venues.polymarket.venue import Heartbeater

        loop, venue = self.loop, backend.venue
        assert loop is not None
        api = getattr(getattr(venue, "client", None), "api", None)
        if api is not None:
            loop.redact(api.api_key.reveal())
        if backend.user_channel:
            self.user_feed = UserFeed(api=venue.client.api, identity=venue.identity(),
                                      markets=condition_ids, sink=QueueSink(loop, "user"),
                                      sweep=lambda since: sweep(venue, since),
                                      url=backend.ws_user_url, clock_ns=self.clock)
            self._spawn("user-feed", self.user_feed.run())
        self._spawn("unknown-outcomes", resolve_unknown_forever(loop, venue, self.clock))
        self.heartbeater = Heartbeater(
            venue, loop.submit, interval_s=self.config.venue.heartbeat_interval_s,
            active=lambda: loop.engine.execution.orders.resting_orders() > 0)
        self.heartbeater.start()

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.stop.request("duration")

    async def _supervise(self) -> None:
        """Wait for a stop request or for a critical task to end (rule 2)."""
        critical = [self.tasks[n] for n in ("engine-loop", "market-feed", "user-feed")
                    if n in self.tasks]
        stopping = asyncio.get_running_loop().create_task(self.stop.stopping.wait())
        done, _ = await asyncio.wait([stopping, *critical], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        for task in critical:
            if task in done:
                exc = task.exception()
                why = f"{type(exc).__name__}: {exc}" if exc is not None else "ended"
                log.error("%s stopped: %s", task.get_name(), why)
                self.result.exit_code = 1
                self.stop.request(f"error: {task.get_name()} {why}")

    # --- stopping ---------------------------------------------------------------------------

    async def _shutdown(self, backend: Backend) -> None:
        """Graceful stop, or forced on a second signal (rule 3)."""
        graceful = asyncio.get_running_loop().create_task(self._graceful(backend))
        forced = asyncio.get_running_loop().create_task(self.stop.wait_forced())
        done, _ = await asyncio.wait([graceful, forced], return_when=asyncio.FIRST_COMPLETED)
        if graceful not in done:
            graceful.cancel()
            await asyncio.gather(graceful, return_exceptions=True)
            self.result.exit_code = 130
        forced.cancel()
        await self._finish()
        if graceful in done and graceful.exception() is not None:
            raise graceful.exception()  # type: ignore[misc]

    def _loop_alive(self) -> bool:
        task = self.tasks.get("engine-loop")
        return task is not None and not task.done()

    async def _graceful(self, backend: Backend) -> None:
        loop, executor = self.loop, self.executor
        assert loop is not None and executor is not None
        timeout = self.config.shutdown.response_timeout_s
        if self.market_feed is not None:
            await self.market_feed.close()
        if not self._loop_alive():
            return
        await loop.drain()
        await executor.wait_idle(timeout)
        executor.close_placements("run stopping")
        await loop.drain()
        if self.config.shutdown.cancel_resting and backend.venue is not None:
            await self._cancel_resting(backend.venue, timeout)
        await executor.wait_idle(timeout)
        await loop.drain()

    async def _cancel_resting(self, venue: Any, timeout: float) -> None:
        loop = self.loop
        assert loop is not None
        ids = [r.client_order_id for r in loop.engine.execution.orders.open_orders()]
        if not ids:
            return
        log.info("cancelling %d open order(s) of ours", len(ids))
        try:
            events = await asyncio.wait_for(venue.cancel(ids), timeout)
        except TimeoutError:
            log.warning("cancel of %d order(s) timed out; the next start reconciles", len(ids))
            return
        for event in events:
            loop.submit(event)
        await loop.drain()

    async def _finish(self) -> None:
        """Stop every task, journal what is queued and RunStopped, sync (rule 3)."""
        if self.executor is not None:
            self.executor.close_placements("run stopped")
            await self.executor.abort()
        if self.heartbeater is not None:
            await self.heartbeater.stop()
        if self.user_feed is not None:
            await self.user_feed.stop()
        for name, task in self.tasks.items():
            if name != "engine-loop":
                task.cancel()
        await asyncio.gather(*(t for n, t in self.tasks.items() if n != "engine-loop"),
                             return_exceptions=True)
        loop = self.loop
        assert loop is not None
        if not self._loop_alive():
            return  # the loop failed: the journal cannot take more (rule 4)
        loop.stop_consumer()
        await self.tasks["engine-loop"]
        loop.handle_pending()  # items queued after the stop marker (forced paths)
        reason = self.stop.reason or "stopped"
        self.result.reason = reason
        loop.handle(RunStopped(ts_recv_ns=self.clock(), run_id=self.result.run_id,
                               reason=reason))
        loop.writer.sync()


def run(options: RunOptions) -> RunResult:
    """Run `polyarb run` to completion (blocking).

    Raises:
        ConfigError, CredentialsError, BackendError, MarketLoadError, JournalError: the run
            could not start (nothing traded); the CLI maps them to messages and exit codes.
    """
    return asyncio.run(Supervisor(options).main())
