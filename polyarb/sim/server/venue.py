# The server's synchronous core: the exchange, its accounts and keys, the scenario, the faults,
# and `publish`, which turns the exchange's events into frames for the websocket hubs.
#
# Rules:
# 1. No I/O and no awaits: everything here runs to completion on the event loop thread, so
#    the exchange, the hubs and the key store need no locks. The aiohttp handlers and the pump
#    (app.py) call in; the hubs' outboxes do the sending.
# 2. Every change to the exchange is followed by `publish()` before control returns to the
#    event loop, so subscribers see events in exchange order and a snapshot taken on subscribe
#    never precedes an event it already contains.
# 3. API keys open exchange accounts on first registration (owner = the API key, address = the
#    wallet), funded with start_collateral_micros and optionally split into pairs.
# 4. Trading modes model the venue's maintenance answers: `cancel_only` and `disabled` (503
#    with the venue's messages) and `restarting` (425 on order entry and cancels).
from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from polyarb.sim import (
    Exchange,
    LastTradePrice,
    MarketStatusChange,
    OrderEvent,
    OrderRequest,
    PlaceResult,
    PriceChange,
    TickSizeChange,
    TradeEvent,
)
from polyarb.sim.server.auth import KeyStore
from polyarb.sim.server.config import DEV_ADDRESS, ServerConfig
from polyarb.sim.server.faults import TOO_EARLY, TRADING_DISABLED, Faults
from polyarb.sim.server.http import ApiError
from polyarb.sim.server.scenario import Scenario
from polyarb.sim.server.ws_market import MarketHub
from polyarb.sim.server.ws_user import UserHub
from polyarb.venues.polymarket.credentials import ApiCredentials

log = logging.getLogger("polyarb.sim.server")

CANCEL_ONLY = (
    "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
)
MODES = ("normal", "cancel_only", "disabled", "restarting")


class Venue:
    """Exchange + accounts + scenario + faults + fan-out, on one thread (rule 1)."""

    def __init__(self, config: ServerConfig, scenario: Scenario | None,
                 clock: Callable[[], int]) -> None:
        self.config = config
        self.clock = clock
        self.exchange = Exchange(config.sim)
        self.keys = KeyStore(config.seed)
        self.faults = Faults(config.faults, config.seed)
        self.market_hub = MarketHub(self.exchange, config.max_assets_per_conn)
        self.user_hub = UserHub(self.keys)
        self.scenario = scenario
        self.winners: dict[str, str] = {}
        self.mode = "normal"
        self.max_lag_ns = 0
        self.steps = 0
        self.step_errors = 0
        self._announced = 0

    # --- lifecycle -------------------------------------------------------------------------

    def setup(self) -> None:
        """Run the scenario's setup, register any market it left out, open the dev account."""
        now = self.clock()
        if self.scenario is not None:
            self.scenario.setup(self.exchange, now)
            for info in self.scenario.markets():
                if info.condition_id not in self.exchange.markets.by_id:
                    self.exchange.add_market(info)
        self._announced = len(self.exchange.markets.by_id)  # no one to announce them to yet
        if self.config.dev_account:
            self.open_key(DEV_ADDRESS, 0)
        self.exchange.take_events()  # setup happened before anyone could subscribe

    def open_key(self, address: str, nonce: int) -> ApiCredentials:
        """Register (address, nonce)'s API key and open its account if new (rule 3)."""
        fresh = not self.keys.exists(address, nonce)
        creds = self.keys.derive(address, nonce)
        owner = creds.api_key.reveal()
        if fresh and owner not in self.exchange.ledger.accounts:
            cfg = self.config
            record = self.keys.lookup(owner)
            assert record is not None
            self.exchange.open_account(owner, address=record.address,
                                       collateral_micros=cfg.start_collateral_micros)
            if cfg.start_pairs_micros > 0:
                for cid in self.exchange.markets.by_id:
                    self.exchange.split(owner, cid, cfg.start_pairs_micros)
        return creds

    def tick(self, now_ns: int) -> None:
        """One pump cycle: time-driven exchange work, settlement faults, scenario, publish."""
        self.exchange.advance(now_ns)
        self.faults.apply_settlement(self.exchange, now_ns)
        scenario = self.scenario
        if scenario is not None:
            due = scenario.next_due_ns()
            if due is not None and due <= now_ns:
                self.max_lag_ns = max(self.max_lag_ns, now_ns - due)
                self.steps += 1
                try:
                    scenario.step(self.exchange, now_ns)
                except Exception:  # a scenario bug must not kill the feed: log it loudly
                    self.step_errors += 1
                    log.exception("scenario step failed")
        self.publish()

    # --- order entry -----------------------------------------------------------------------

    def check_mode(self, *, new_order: bool) -> None:
        """Refuse order entry (and cancels, when disabled/restarting) per the trading mode."""
        if self.mode == "disabled":
            raise ApiError(503, TRADING_DISABLED, "mode_disabled")
        if self.mode == "restarting":
            raise ApiError(425, TOO_EARLY, "mode_restarting")
        if self.mode == "cancel_only" and new_order:
            raise ApiError(503, CANCEL_ONLY, "mode_cancel_only")

    def place(self, req: OrderRequest) -> PlaceResult:
        """Place one decoded order (after the partial-fill fault may thin its liquidity)."""
        now = self.clock()
        if self.faults.thin(self.exchange, req, now):
            self.publish()
        result = self.exchange.place(req, now)
        self.publish()
        return result

    def resolve_market(self, condition_id: str, winning_token_id: str | None) -> None:
        """Close a market (cancelling its orders) and announce market_resolved with the winner.

        Raises:
            SimError: unknown market.
        """
        if winning_token_id is not None:
            self.winners[condition_id] = winning_token_id
        self.exchange.set_market_status(condition_id, self.clock(), accepting_orders=False,
                                        closed=True)
        self.publish()

    # --- fan-out ---------------------------------------------------------------------------

    def publish(self) -> None:
        """Drain the exchange's events into the hubs (rule 2)."""
        if len(self.exchange.markets.by_id) != self._announced:
            self._announce_new_markets()
        events = self.exchange.take_events()
        if not events:
            return
        market_hub, user_hub = self.market_hub, self.user_hub
        for ev in events:
            if type(ev) is PriceChange:
                market_hub.price_change(ev)
            elif type(ev) is OrderEvent:
                user_hub.order(ev)
            elif type(ev) is TradeEvent:
                if ev.trade.status == "MATCHED":
                    self.faults.on_new_trade(ev.trade.id, ev.ts_ns)
                user_hub.trade(ev)
            elif type(ev) is LastTradePrice:
                market_hub.last_trade(ev)
            elif type(ev) is TickSizeChange:
                market_hub.tick_size(ev)
            elif type(ev) is MarketStatusChange:
                self._status(ev)
            else:  # pragma: no cover - a new exchange event kind must be wired here
                raise TypeError(f"unhandled exchange event {type(ev).__name__}")
        # A snapshot shows the exchange as it is now, i.e. after the whole batch: sent before
        # the batch's later price_changes, it would not match the bests they carry.
        market_hub.flush_books()

    def _status(self, ev: MarketStatusChange) -> None:
        if ev.closed:
            m = self.exchange.markets.by_id[ev.market]
            self.market_hub.announce(m, self.market_number(ev.market), ev.ts_ns, ev=ev,
                                     winner=self.winners.get(ev.market))

    def _announce_new_markets(self) -> None:
        ids = list(self.exchange.markets.by_id)
        now = self.clock()
        for number, cid in enumerate(ids[self._announced:], start=self._announced + 1):
            self.market_hub.announce(self.exchange.markets.by_id[cid], number, now)
        self._announced = len(ids)

    def market_number(self, condition_id: str) -> int:
        """The market's numeric id (registration order, from 1), like Gamma's market ids."""
        for number, cid in enumerate(self.exchange.markets.by_id, start=1):
            if cid == condition_id:
                return number
        raise KeyError(condition_id)


VENUE: web.AppKey[Venue] = web.AppKey("polyarb_sim_venue", Venue)
