# The simulated exchange core: order entry, matching, cancels, expiry and settlement, with
# every state change reported as an event for the server to publish.
#
# Rules:
# 1. Sans-I/O and deterministic: no clock (every call takes `now_ns`), no randomness (ids
#    from polyarb/sim/markets.Ids), no set iteration. The same calls give the same results,
#    events and ids, so replays and paper trading can run it too.
# 2. Order entry: validate (polyarb/sim/validation.py) -> duplicate id -> reserve balance ->
#    post-only cross check -> match-delay parking (DELAYED) -> FOK liquidity check -> match
#    (polyarb/sim/matching.py) -> settle fills (polyarb/sim/fills.py) -> rest the remainder
#    (GTC/GTD) or close the order (FOK/FAK never rest). Rejections come back as PlaceResult;
#    only misuse of the API raises (SimError).
# 3. Events are queued in order and drained with `take_events()`: trades first, then order
#    updates (makers, then the taker), then market data (price_change per market once per
#    call, last_trade_price per trade bucket).
# 4. Order user-channel events: PLACEMENT when an order starts resting (LIVE, or UNMATCHED
#    after a match delay) or is parked (DELAYED); UPDATE when it matched (a maker on every
#    fill, a taker once if it does not rest); CANCELLATION on cancel, expiry, dead-man
#    heartbeat, market close, or a killed FOK/FAK (with the venue's words in `reason`).
# 5. Time-driven work happens only in `advance(now_ns)` (and `expire`): heartbeat lapses
#    (accounts that sent at least one heartbeat and then none for heartbeat_timeout_ns lose all
#    their orders), GTD expiry, delayed orders coming due, settlement transitions.
# 6. Closed orders are kept for lookups up to `order_retention`, then forgotten (bounded
#    memory); open orders are always kept.
from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable

from polyarb.events.inputs import MarketInfo, OrderUpdateType, Side
from polyarb.sim import errors as E
from polyarb.sim import fills as F
from polyarb.sim.accounts import COLLATERAL, Ledger
from polyarb.sim.market_admin import retick
from polyarb.sim.markets import Ids, MarketRegistry
from polyarb.sim.model import (
    MICROS,
    SECOND_NS,
    Market,
    Order,
    OrderRequest,
    OrderStatus,
    SimConfig,
)
from polyarb.sim.queries import Queries
from polyarb.sim.records import (
    CancelResult,
    LastTradePrice,
    MarketStatusChange,
    OrderEvent,
    PlaceResult,
    SimEvent,
    TradeEvent,
)
from polyarb.sim.settlement import Settlement
from polyarb.sim.validation import Rejection, validate
from polyarb.sim.views import order_view, price_change

__all__ = ["Exchange", "SimConfig"]

_Pick = Callable[[Order], bool]


class Exchange(Queries):
    """A deterministic Polymarket-compatible matching engine with accounts (see rules)."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = cfg = config if config is not None else SimConfig()
        self.markets = MarketRegistry()
        self.ledger = Ledger(cfg.default_collateral_micros, cfg.fee_account)
        self.ids = Ids(cfg.seed)
        self.settlement = Settlement(
            self.ledger, mine_after_ns=cfg.mine_after_ns, confirm_after_ns=cfg.confirm_after_ns,
            retry_after_ns=cfg.retry_after_ns, retention=cfg.trade_retention,
            new_tx_hash=self.ids.tx)
        self.orders: dict[str, Order] = {}
        self.open_by_owner: dict[str, dict[str, Order]] = {}
        self.last_trade: dict[str, LastTradePrice] = {}  # token id -> its latest trade
        self._events: list[SimEvent] = []
        self._seq = 0
        self._closed: deque[str] = deque()
        self._gtd: list[tuple[int, int, Order]] = []
        self._delayed: list[tuple[int, int, Order]] = []
        self._heartbeats: dict[str, int] = {}
        self._dirty: dict[str, tuple[Market, str, bool]] = {}

    # --- markets ------------------------------------------------------------------------------

    def add_market(self, info: MarketInfo, *, match_delay_ns: int = 0) -> Market:
        """Register a binary market (first token YES). See MarketRegistry.add.

        Raises:
            SimError: malformed or clashing market.
        """
        return self.markets.add(info, match_delay_ns)

    def set_tick_size(self, condition_id: str, tick_micros: int, now_ns: int) -> None:
        """Change a market's tick (the scenario decides when); emits tick_size_change per token.

        Raises:
            SimError: unknown market or a tick the venue does not use.
        """
        self._events.extend(retick(self.markets.get(condition_id), tick_micros, now_ns))

    def set_market_status(self, condition_id: str, now_ns: int, *, accepting_orders: bool,
                          closed: bool = False) -> None:
        """Open/pause/close a market. Closing cancels every order in it.

        Raises:
            SimError: unknown market.
        """
        market = self.markets.get(condition_id)
        market.accepting_orders, market.closed = accepting_orders, closed
        self._events.append(MarketStatusChange(
            market=condition_id, accepting_orders=accepting_orders, closed=closed, ts_ns=now_ns))
        if closed:
            for owner in list(self.open_by_owner):
                self._cancel_where(owner, now_ns, E.MARKET_CLOSED_CANCEL_MSG,
                                   lambda o: o.market is market)
            self._flush(now_ns)

    # --- order entry --------------------------------------------------------------------------

    def place(self, req: OrderRequest, now_ns: int) -> PlaceResult:
        """Accept, match and/or rest one order (rule 2).

        Args:
            req: the decoded order.
            now_ns: the current time.

        Returns:
            success with status live/matched/delayed and what moved, or the rejection.
        """
        market = self.markets.by_token.get(req.token_id) if isinstance(req.token_id, str) else None
        order_id = req.order_id if isinstance(req.order_id, str) else self.ids.order()
        why = self._validate(req, market, order_id, now_ns)
        if why is not None or market is None:
            code, msg = why or (E.NOT_FOUND, "")
            return PlaceResult(success=False, order_id=order_id, code=code, error_msg=msg)
        account = self.ledger.get(req.owner)
        self._seq += 1
        order = Order(req, order_id, req.maker_address or account.address, market, self._seq,
                      now_ns)
        if not self._reserve(order):
            return _reject(order, E.NOT_ENOUGH_BALANCE, E.NOT_ENOUGH_BALANCE_MSG)
        crosses = market.book.crosses(order)
        if order.post_only and crosses:
            self._release(order)
            return _reject(order, E.POST_ONLY_CROSSES, E.crosses_msg(order_id))
        self.orders[order_id] = order
        if crosses and market.match_delay_ns > 0:
            return self._park(order, now_ns)
        result = self._execute(order, now_ns, delayed=False)
        self._flush(now_ns)
        return result

    def place_many(self, reqs: Iterable[OrderRequest], now_ns: int) -> list[PlaceResult]:
        """POST /orders: each order in turn, one result each."""
        return [self.place(req, now_ns) for req in reqs]

    def _validate(self, req: OrderRequest, market: Market | None, order_id: str,
                  now_ns: int) -> Rejection | None:
        why = validate(req, market, order_id, now_ns,
                       gtd_threshold_ns=self.config.gtd_threshold_ns,
                       min_notional_micros=self.config.min_marketable_notional_micros)
        if why is None and order_id in self.orders:
            why = E.DUPLICATED, E.duplicated_msg(order_id)
        return why

    def _reserve(self, order: Order) -> bool:
        if order.is_buy:
            amount = -(-order.size * order.price // MICROS)
            ok = self.ledger.reserve(self.ledger.accounts[order.owner], COLLATERAL, amount)
        else:
            amount = order.size
            ok = self.ledger.reserve(self.ledger.accounts[order.owner], order.token_id, amount)
        order.reserved = amount if ok else 0
        return ok

    def _release(self, order: Order) -> None:
        asset = COLLATERAL if order.is_buy else order.token_id
        self.ledger.release(self.ledger.accounts[order.owner], asset, order.reserved)
        order.reserved = 0

    def _park(self, order: Order, now_ns: int) -> PlaceResult:
        order.status = "DELAYED"
        self._open(order)
        due = now_ns + order.market.match_delay_ns
        heapq.heappush(self._delayed, (due, order.seq, order))
        self._order_event("PLACEMENT", order, now_ns)
        return PlaceResult(success=True, order_id=order.id, status="delayed")

    def _execute(self, order: Order, now_ns: int, *, delayed: bool) -> PlaceResult:
        book = order.market.book
        if order.order_type == "FOK" and book.available(order, order.remaining) < order.size:
            return self._kill(order, now_ns, E.FOK_NOT_FILLED, E.FOK_MSG, E.FOK_KILLED_STATUS_MSG)
        fills = book.match(order, order.remaining)
        if not fills and order.order_type == "FAK":
            return self._kill(order, now_ns, E.FAK_NO_MATCH, E.FAK_MSG, E.FAK_MSG)
        out = self._settle(order, fills, now_ns) if fills else F.FillOutcome()
        if order.remaining and order.order_type in ("GTC", "GTD"):
            order.status = "UNMATCHED" if delayed and not fills else "LIVE"
            book.add(order)
            self._open(order)
            if order.order_type == "GTD":
                heapq.heappush(self._gtd, (order.expiration_s * SECOND_NS, order.seq, order))
            self._order_event("PLACEMENT", order, now_ns)
        else:
            self._close(order, "MATCHED")
            self._order_event("UPDATE", order, now_ns)
        self._last_trades(order, out, now_ns)
        self._touch(order.market, order.id, bool(fills))
        return PlaceResult(
            success=True, order_id=order.id, status="matched" if fills else "live",
            making_amount_micros=out.making, taking_amount_micros=out.taking,
            trade_ids=tuple(order.trades[-len(out.buckets):]) if out.buckets else ())

    def _settle(self, taker: Order, fills: list[tuple[Order, int]], now_ns: int) -> F.FillOutcome:
        out = F.settle(self.ledger, taker, fills, self.config.max_makers_per_trade)
        trades = F.trades_for(taker, out, now_ns, self.ids.trade)
        for trade, bucket in zip(trades, out.buckets, strict=True):
            self.settlement.add(trade, bucket.deltas, bucket.pairs)
            self._events.append(TradeEvent(trade=trade, ts_ns=now_ns))
        for maker in dict.fromkeys(m for m, _ in fills):
            if maker.remaining == 0:
                self._close(maker, "MATCHED")
            else:
                maker.status = "LIVE"  # an UNMATCHED (ex-delayed) order has matched now
            self._order_event("UPDATE", maker, now_ns)
        return out

    def _last_trades(self, taker: Order, out: F.FillOutcome, now_ns: int) -> None:
        market = taker.market
        other = market.other(taker.token_id)
        flipped: Side = "SELL" if taker.is_buy else "BUY"  # BUY YES at p == SELL NO at 1 - p
        for b in out.buckets:
            entries = [(taker.token_id, b.price, taker.side)]
            if b.pairs:  # a mint or merge also traded the other token, at 1 - p
                entries.append((other, MICROS - b.price, flipped))
            for token, price, side in entries:
                event = LastTradePrice(
                    market=market.condition_id, asset_id=token, price_micros=price,
                    size_micros=b.size, side=side, ts_ns=now_ns,
                    fee_rate_bps=market.fee_rate_bps if b.fee_coll or b.fee_shares else 0)
                self.last_trade[token] = event
                self._events.append(event)

    def _kill(self, order: Order, now_ns: int, code: str, msg: str, reason: str) -> PlaceResult:
        self._close(order, "CANCELED")
        self._order_event("CANCELLATION", order, now_ns, reason)
        return _reject(order, code, msg)

    # --- order state ----------------------------------------------------------------------------

    def _open(self, order: Order) -> None:
        if not order.open:
            order.open = True
            self.open_by_owner.setdefault(order.owner, {})[order.id] = order

    def _close(self, order: Order, status: OrderStatus) -> None:
        order.status = status
        if order.open:
            order.open = False
            mine = self.open_by_owner[order.owner]
            del mine[order.id]
            if not mine:
                del self.open_by_owner[order.owner]
        if order.reserved:
            self._release(order)
        self._closed.append(order.id)
        while len(self._closed) > self.config.order_retention:
            self.orders.pop(self._closed.popleft(), None)

    def _order_event(self, kind: OrderUpdateType, order: Order, now_ns: int,
                     reason: str = "") -> None:
        self._events.append(OrderEvent(type=kind, order=order_view(order), ts_ns=now_ns,
                                       reason=reason))

    def _touch(self, market: Market, order_id: str, traded: bool) -> None:
        prior = self._dirty.get(market.condition_id)
        self._dirty[market.condition_id] = (market, order_id, traded or (
            prior is not None and prior[2]))

    def _flush(self, now_ns: int) -> None:
        for market, order_id, traded in self._dirty.values():
            event = price_change(market, order_id, traded, now_ns)
            if event is not None:
                self._events.append(event)
        self._dirty.clear()

    # --- cancels ------------------------------------------------------------------------------

    def cancel(self, owner: str, order_id: str, now_ns: int) -> CancelResult:
        """DELETE /order: cancel one of the owner's open orders."""
        return self.cancel_many(owner, (order_id,), now_ns)

    def cancel_many(self, owner: str, order_ids: Iterable[str], now_ns: int) -> CancelResult:
        """DELETE /orders: cancel several (duplicates ignored); unknown ids are reported."""
        canceled: list[str] = []
        failed: dict[str, str] = {}
        for order_id in dict.fromkeys(order_ids):
            order = self.orders.get(order_id)
            if order is None or order.owner != owner:
                failed[order_id] = E.CANCEL_NOT_FOUND_MSG
            elif not order.open:
                failed[order_id] = E.CANCEL_DONE_MSG
            else:
                self._cancel(order, now_ns, "")
                canceled.append(order_id)
        self._flush(now_ns)
        return CancelResult(canceled=tuple(canceled), not_canceled=failed)

    def cancel_all(self, owner: str, now_ns: int) -> CancelResult:
        """DELETE /cancel-all: every open order of the owner."""
        done = self._cancel_where(owner, now_ns, "", lambda o: True)
        self._flush(now_ns)
        return CancelResult(canceled=done)

    def cancel_market(self, owner: str, now_ns: int, *, market: str | None = None,
                      asset_id: str | None = None) -> CancelResult:
        """DELETE /cancel-market-orders: the owner's orders in a market and/or on a token."""
        done = self._cancel_where(owner, now_ns, "", lambda o: (
            (market is None or o.market.condition_id == market)
            and (asset_id is None or o.token_id == asset_id)))
        self._flush(now_ns)
        return CancelResult(canceled=done)

    def _cancel_where(self, owner: str, now_ns: int, reason: str, pick: _Pick) -> tuple[str, ...]:
        mine = self.open_by_owner.get(owner, {})
        chosen = sorted((o for o in mine.values() if pick(o)), key=_by_seq)
        for order in chosen:
            self._cancel(order, now_ns, reason)
        return tuple(o.id for o in chosen)

    def _cancel(self, order: Order, now_ns: int, reason: str) -> None:
        if order.in_book:
            order.market.book.remove(order)
            self._touch(order.market, order.id, False)
        self._close(order, "CANCELED")
        self._order_event("CANCELLATION", order, now_ns, reason)

    # --- time -----------------------------------------------------------------------------------

    def heartbeat(self, owner: str, now_ns: int) -> None:
        """Record a dead-man heartbeat; from now on a lapse cancels the owner's orders."""
        self._heartbeats[owner] = now_ns

    def expire(self, now_ns: int) -> None:
        """Cancel orders of lapsed heartbeats and expired GTD orders (rule 5)."""
        timeout = self.config.heartbeat_timeout_ns
        for owner, last in list(self._heartbeats.items()):
            if now_ns - last > timeout:
                del self._heartbeats[owner]  # a new heartbeat re-arms the switch
                self._cancel_where(owner, now_ns, E.HEARTBEAT_CANCEL_MSG, lambda o: True)
        while self._gtd and self._gtd[0][0] <= now_ns:
            order = heapq.heappop(self._gtd)[2]
            if order.open:
                self._cancel(order, now_ns, E.EXPIRED_MSG)
        self._flush(now_ns)

    def advance(self, now_ns: int) -> None:
        """All time-driven work due at `now_ns`: expiry, delayed orders, settlement."""
        self.expire(now_ns)
        while self._delayed and self._delayed[0][0] <= now_ns:
            due, _, order = heapq.heappop(self._delayed)
            if order.open and order.status == "DELAYED":
                self._execute(order, due, delayed=True)
                self._flush(due)
        for trade in self.settlement.advance(now_ns):
            self._events.append(TradeEvent(trade=trade, ts_ns=trade.last_update_ns))

    def retry_trade(self, trade_id: str, now_ns: int) -> None:
        """Inject RETRYING on a trade (raises SimError when not MATCHED/MINED)."""
        trade = self.settlement.retry(trade_id, now_ns)
        self._events.append(TradeEvent(trade=trade, ts_ns=now_ns))

    def fail_trade(self, trade_id: str, now_ns: int) -> None:
        """Inject FAILED on a trade, reversing its balances (raises SimError if impossible)."""
        trade = self.settlement.fail(trade_id, now_ns)
        self._events.append(TradeEvent(trade=trade, ts_ns=now_ns))

    # --- output ---------------------------------------------------------------------------------

    def take_events(self) -> list[SimEvent]:
        """Drain the queued events (rule 3), oldest first."""
        events, self._events = self._events, []
        return events


def _reject(order: Order, code: str, msg: str) -> PlaceResult:
    return PlaceResult(success=False, order_id=order.id, code=code, error_msg=msg)


def _by_seq(order: Order) -> int:
    return order.seq
