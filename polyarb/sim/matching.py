# The order book of one binary market, kept in YES space, and the price-time matching walk.
#
# Rules:
# 1. One book per market, not per token. Every resting order is filed under its YES-space view
#    (polyarb/sim/model.py rule 2): a BUY NO at q is a YES ask at 1-q, a SELL NO at q a YES bid
#    at 1-q. So the venue's complementary matching falls out of ordinary matching: a BUY YES
#    taker meeting a BUY NO maker is a MINT, a SELL YES taker meeting a SELL NO maker a MERGE,
#    and same-token opposite sides trade directly. The NO token's book is the exact mirror
#    (NO bid q <-> YES ask 1-q, same size), so the two published books can never disagree and
#    bid(YES) + bid(NO) < 1 < ask(YES) + ask(NO) holds whenever the YES-space book is uncrossed.
# 2. Priority: best effective price first (the YES-space price, i.e. the price the taker pays
#    or receives in its own token), then time, whichever token the maker order was submitted
#    on: a direct and a complementary order at the same effective price share one FIFO queue.
#    Time is when the order entered the book (its arrival, except that an order held by a
#    market's match delay enters when the delay ends).
# 3. The maker sets the price: a taker fills at each maker's YES-space price (price
#    improvement goes to the taker).
# 4. Cancels are lazy: a cancelled order leaves its level's totals at once but stays in the
#    queue until the walk pops it (queues are compacted when mostly dead), so a cancel is O(1)
#    plus the level's sorted-price upkeep.
# 5. Every level whose aggregate size changed is remembered (by signed price: + bid, - ask) in
#    touch order until `take_changes`, which feeds the exchange's price_change events.
# 6. Only sizes and queues live here; balances, fees and trades are the exchange's business.
from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyarb.sim.model import Order

MICROS = 1_000_000
_COMPACT_SLACK = 32  # tolerate this many dead entries per level before compacting


class Level:
    """All resting orders at one YES-space price, in arrival order."""

    __slots__ = ("live", "queue", "total")

    def __init__(self) -> None:
        self.total = 0  # sum of live orders' remaining sizes
        self.live = 0  # live orders in the queue
        self.queue: deque[Order] = deque()


class MarketBook:
    """The YES-space book of one market. Prices in micros, sizes in micro-shares."""

    __slots__ = ("ask_prices", "asks", "bid_prices", "bids", "touched")

    def __init__(self) -> None:
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_prices: list[int] = []  # ascending; best bid last
        self.ask_prices: list[int] = []  # ascending; best ask first
        self.touched: dict[int, None] = {}

    # --- queries --------------------------------------------------------------------------

    def best_bid(self) -> int:
        """Best YES bid in micros, 0 when there is none."""
        return self.bid_prices[-1] if self.bid_prices else 0

    def best_ask(self) -> int:
        """Best YES ask in micros, 1_000_000 when there is none."""
        return self.ask_prices[0] if self.ask_prices else MICROS

    def size_at(self, is_bid: bool, yes_price: int) -> int:
        """Aggregate live size at one YES-space level (0 when empty)."""
        level = (self.bids if is_bid else self.asks).get(yes_price)
        return 0 if level is None else level.total

    def depth(self, is_bid: bool) -> list[tuple[int, int]]:
        """(YES price, size) for every level of one side, ascending by price."""
        levels = self.bids if is_bid else self.asks
        prices = self.bid_prices if is_bid else self.ask_prices
        return [(p, levels[p].total) for p in prices]

    def crosses(self, order: Order) -> bool:
        """Would this order (not in the book) take liquidity right now?"""
        if order.is_bid:
            return bool(self.ask_prices) and self.ask_prices[0] <= order.yes_price
        return bool(self.bid_prices) and self.bid_prices[-1] >= order.yes_price

    def available(self, order: Order, needed: int) -> int:
        """Liquidity this order could take at acceptable prices, counted up to `needed`."""
        total = 0
        if order.is_bid:
            for price in self.ask_prices:
                if price > order.yes_price or total >= needed:
                    break
                total += self.asks[price].total
        else:
            for price in reversed(self.bid_prices):
                if price < order.yes_price or total >= needed:
                    break
                total += self.bids[price].total
        return total

    # --- changes --------------------------------------------------------------------------

    def add(self, order: Order) -> None:
        """Rest an order (its `remaining` must be positive) at the back of its level."""
        price = order.yes_price
        levels = self.bids if order.is_bid else self.asks
        level = levels.get(price)
        if level is None:
            level = levels[price] = Level()
            insort(self.bid_prices if order.is_bid else self.ask_prices, price)
        level.queue.append(order)
        level.total += order.remaining
        level.live += 1
        order.in_book = True
        self.touched[price if order.is_bid else -price] = None

    def remove(self, order: Order) -> None:
        """Take a resting order out (cancel/expiry). Lazy: see rule 4."""
        price = order.yes_price
        levels = self.bids if order.is_bid else self.asks
        level = levels[price]
        order.in_book = False
        level.total -= order.remaining
        level.live -= 1
        self.touched[price if order.is_bid else -price] = None
        if level.live == 0:
            del levels[price]
            prices = self.bid_prices if order.is_bid else self.ask_prices
            del prices[bisect_left(prices, price)]
        elif len(level.queue) > 2 * level.live + _COMPACT_SLACK:
            level.queue = deque(o for o in level.queue if o.in_book)

    def match(self, taker: Order, limit: int) -> list[tuple[Order, int]]:
        """Consume up to `limit` micro-shares of crossing makers, best price then time first.

        Makers' `remaining`/`matched` are updated and filled makers leave the book; the taker
        is not touched. Returns (maker, size) per fill in execution order; each fill's
        YES-space price is the maker's `yes_price`.
        """
        fills: list[tuple[Order, int]] = []
        bid_side = not taker.is_bid  # the makers' side
        levels = self.bids if bid_side else self.asks
        prices = self.bid_prices if bid_side else self.ask_prices
        while limit and prices:
            price = prices[-1] if bid_side else prices[0]
            if (price < taker.yes_price) if bid_side else (price > taker.yes_price):
                break
            level = levels[price]
            limit = _take(level, limit, fills)
            self.touched[price if bid_side else -price] = None
            if level.live == 0:
                del levels[price]
                prices.pop(-1 if bid_side else 0)
        return fills

    def take_changes(self) -> list[tuple[bool, int, int]]:
        """(is_bid, YES price, new aggregate size) per touched level since the last call."""
        out = [
            (key > 0, abs(key), self.size_at(key > 0, abs(key))) for key in self.touched
        ]
        self.touched.clear()
        return out


def _take(level: Level, limit: int, fills: list[tuple[Order, int]]) -> int:
    queue = level.queue
    while limit and queue:
        maker = queue[0]
        if not maker.in_book:
            queue.popleft()  # a lazily cancelled order
            continue
        size = min(limit, maker.remaining)
        fills.append((maker, size))
        limit -= size
        maker.remaining -= size
        maker.matched += size
        level.total -= size
        if maker.remaining == 0:
            queue.popleft()
            maker.in_book = False
            level.live -= 1
    return limit

