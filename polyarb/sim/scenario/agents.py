# The scenario's participants: resting quote sets (market makers, the journal book source) and
# noise takers.
#
# Rules:
# 1. Agents act only through the Exchange's public order API (place / cancel_many /
#    set_tick_size). To see whether a resting order is still whole they keep the exchange's
#    order object (from `Exchange.orders`) and read its `open` / `remaining`, never writing it,
#    instead of draining events: the server owns `take_events()`.
# 2. A quote set holds at most one order per YES-space level. Re-quoting is a diff: orders whose
#    level, size or fullness no longer match are cancelled in one call, THEN the missing levels
#    are placed, so a quote set never crosses itself (the wanted ladder is uncrossed and the
#    kept orders are part of it).
# 3. Bids are BUY YES at p and asks BUY NO at 1 - p: collateral is all an agent needs.
# 4. A noise taker draws every random number of a take before it looks at the book, so its
#    random stream (and with it the market history) does not depend on what clients did.
from __future__ import annotations

import random

from polyarb.sim.exchange import Exchange
from polyarb.sim.model import MICROS, Order, OrderRequest
from polyarb.sim.records import PlaceResult
from polyarb.sim.scenario.fair import uniform_int
from polyarb.sim.scenario.quotes import Quote

Key = tuple[bool, int]  # (is_bid, YES price)
_LOT = 10_000  # the venue's size grid: 0.01 share


class QuoteSet:
    """One owner's resting GTC quotes in one market (rule 2)."""

    __slots__ = ("condition_id", "no", "orders", "owner", "post_only", "rejects", "yes")

    def __init__(self, owner: str, condition_id: str, yes: str, no: str, *,
                 post_only: bool) -> None:
        self.owner = owner
        self.condition_id = condition_id
        self.yes, self.no = yes, no
        self.post_only = post_only
        self.orders: dict[Key, tuple[Order, int]] = {}  # level -> (resting order, size placed)
        self.rejects: dict[str, int] = {}  # refused placements by the exchange's error code

    def intact(self, levels: int) -> bool:
        """Whether `levels` orders rest, each still whole (nothing filled, nothing cancelled)."""
        if len(self.orders) != levels:
            return False
        for order, size in self.orders.values():
            if not order.open or order.remaining != size:
                return False
        return True

    def sync(self, ex: Exchange, quotes: list[Quote], now_ns: int,
             new_tick: int | None = None) -> None:
        """Make the resting orders equal `quotes` (rule 2), changing the tick in between.

        Args:
            ex: the exchange.
            quotes: the wanted (is_bid, YES price, size) levels, placed in this order.
            now_ns: the current time.
            new_tick: when set, the market's tick changes after the cancels, before the
                placements (so old-grid orders are gone first and new ones fit the new grid).
        """
        want = {(b, p): s for b, p, s in quotes}
        keep: dict[Key, tuple[Order, int]] = {}
        stale: list[str] = []
        for key, held in self.orders.items():
            order, size = held
            if not order.open:
                continue
            if order.remaining == size and want.get(key) == size:
                keep[key] = held
            else:
                stale.append(order.id)
        if stale:
            ex.cancel_many(self.owner, stale, now_ns)
        if new_tick is not None:
            ex.set_tick_size(self.condition_id, new_tick, now_ns)
        self.orders = keep
        for is_bid, price, size in quotes:
            if (is_bid, price) not in keep:
                self._place(ex, is_bid, price, size, now_ns)

    def set_level(self, ex: Exchange, is_bid: bool, price: int, size: int, now_ns: int) -> None:
        """Set one level to `size` (0 removes it), first cancelling own orders it would cross.
        A level already resting whole at that size is left alone (keeps its queue place)."""
        held = self.orders.get((is_bid, price))
        if held is not None and held[1] == size and held[0].open and held[0].remaining == size:
            return
        doomed = [key for key in self.orders if key == (is_bid, price) or (
            key[0] != is_bid and (key[1] <= price if is_bid else key[1] >= price))]
        if doomed:
            ex.cancel_many(self.owner, [self.orders.pop(key)[0].id for key in doomed], now_ns)
        if size > 0:
            self._place(ex, is_bid, price, size, now_ns)

    def clear(self, ex: Exchange, now_ns: int) -> None:
        """Cancel every resting order of this set."""
        self.sync(ex, [], now_ns)

    def _place(self, ex: Exchange, is_bid: bool, price: int, size: int, now_ns: int) -> None:
        req = OrderRequest(
            owner=self.owner, token_id=self.yes if is_bid else self.no, side="BUY",
            price_micros=price if is_bid else MICROS - price, size_micros=size,
            post_only=self.post_only)
        result = ex.place(req, now_ns)
        if result.success:
            order = ex.orders.get(result.order_id)
            if order is not None and order.open:  # it rests (possibly after a partial match)
                self.orders[(is_bid, price)] = (order, size)
        elif not result.success:
            self.rejects[result.code] = self.rejects.get(result.code, 0) + 1


class NoiseTaker:
    """Marketable FOK/FAK buys of YES or NO at random times (rule 4)."""

    __slots__ = ("fok_pct", "owner", "rng", "size_range")

    def __init__(self, owner: str, rng: random.Random, size_range: tuple[int, int],
                 fok_pct: int) -> None:
        self.owner = owner
        self.rng = rng
        self.size_range = size_range
        self.fok_pct = fok_pct

    def take(self, ex: Exchange, yes: str, no: str, tick: int,
             now_ns: int) -> PlaceResult | None:
        """Buy YES or NO at the best ask plus 0-2 ticks of slippage; None when that side is
        empty. Sizes are raised so the order meets the exchange's marketable minimum ($1)."""
        rng = self.rng
        buy_yes = rng.getrandbits(1) == 1
        size = uniform_int(rng, *self.size_range) // _LOT * _LOT
        fok = uniform_int(rng, 0, 99) < self.fok_pct
        slip = uniform_int(rng, 0, 2)
        token = yes if buy_yes else no
        ask = ex.best_prices(token)[1]
        if ask >= MICROS:
            return None
        limit = min(-(-ask // tick) * tick + slip * tick, MICROS - tick)
        least = -(-ex.config.min_marketable_notional_micros * MICROS // limit)
        size = max(size, -(-least // _LOT) * _LOT)
        req = OrderRequest(owner=self.owner, token_id=token, side="BUY", price_micros=limit,
                           size_micros=size, order_type="FOK" if fok else "FAK")
        return ex.place(req, now_ns)
