# Snapshots of internal exchange state as immutable records: order views and price_change
# events built from a market book's touched levels.
#
# Rules:
# 1. Pure functions of the state passed in; no side effect except draining the book's
#    touched-level list in `price_change`.
# 2. A YES-space level change yields two entries: the YES token's level as is and the NO
#    token's mirrored level (price 1 - p, opposite side, same size). All YES entries come
#    first, then the NO entries, each list in touch order. The best bid/ask of each token
#    after the change ride along (NO best bid = 1 - YES best ask, and vice versa; an empty
#    side is 0 for bids and 1 for asks, which the mirror maps onto each other exactly).
from __future__ import annotations

from polyarb.sim.model import MICROS, Market, Order
from polyarb.sim.records import LevelChange, OrderView, PriceChange


def order_view(order: Order) -> OrderView:
    """An immutable snapshot of an order for events and queries."""
    market = order.market
    return OrderView(
        id=order.id, status=order.status, owner=order.owner, maker_address=order.address,
        market=market.condition_id, asset_id=order.token_id, side=order.side,
        original_size_micros=order.size, size_matched_micros=order.matched,
        price_micros=order.price, outcome=market.outcome(order.token_id),
        order_type=order.order_type, created_at_ns=order.created_ns,
        expiration_s=order.expiration_s, associate_trades=tuple(order.trades),
        post_only=order.post_only,
    )


def price_change(market: Market, order_id: str, traded: bool, now_ns: int) -> PriceChange | None:
    """Drain the book's touched levels into one price_change event (None if none changed)."""
    book = market.book
    changes = book.take_changes()
    if not changes:
        return None
    bid, ask = book.best_bid(), book.best_ask()
    yes = [
        LevelChange(asset_id=market.yes_token, price_micros=p, size_micros=size,
                    side="BUY" if is_bid else "SELL", best_bid_micros=bid,
                    best_ask_micros=ask, order_id=order_id)
        for is_bid, p, size in changes
    ]
    no = [
        LevelChange(asset_id=market.no_token, price_micros=MICROS - p, size_micros=size,
                    side="SELL" if is_bid else "BUY", best_bid_micros=MICROS - ask,
                    best_ask_micros=MICROS - bid, order_id=order_id)
        for is_bid, p, size in changes
    ]
    return PriceChange(market=market.condition_id, changes=(*yes, *no), ts_ns=now_ns,
                       trade=traded)
