# Immutable records the exchange hands out: order and trade snapshots, call results, and the
# events the server publishes (market channel, user channel).
#
# Rules:
# 1. Plain frozen msgspec Structs with integer micro-units and nanosecond timestamps. Wire
#    rendering (strings, ms/seconds, field names) is the server's job, except the book
#    (polyarb/sim/render.py), which both /book and the `book` message need.
# 2. A snapshot never changes after it is made: a later fill or status change makes a new one.
# 3. Side and status words are the venue's: BUY/SELL, LIVE/MATCHED/CANCELED/DELAYED/UNMATCHED,
#    MATCHED/MINED/CONFIRMED/RETRYING/FAILED, PLACEMENT/UPDATE/CANCELLATION.
from __future__ import annotations

from typing import Literal

import msgspec

from polyarb.events.inputs import OrderUpdateType, SettlementStatus, Side
from polyarb.sim.model import OrderStatus, OrderType

PlaceStatus = Literal["live", "matched", "delayed", ""]


class OrderView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An order as /data/orders and the user channel's `order` event describe it."""

    id: str
    status: OrderStatus
    owner: str
    maker_address: str
    market: str
    asset_id: str
    side: Side
    original_size_micros: int
    size_matched_micros: int
    price_micros: int
    outcome: str
    order_type: OrderType
    created_at_ns: int
    expiration_s: int
    associate_trades: tuple[str, ...]
    post_only: bool = False


class MakerFill(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One maker order's part of a trade (`maker_orders[]`), in the MAKER's token and side.

    A maker on the other token of the market means a MINT (both BUY) or MERGE (both SELL).
    """

    order_id: str
    owner: str
    maker_address: str
    matched_amount_micros: int
    price_micros: int
    asset_id: str
    outcome: str
    side: Side
    fee_rate_bps: int = 0
    fee_micros: int = 0  # collateral on SELL, shares on BUY; 0 on taker-only schedules


class Trade(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One trade record (`/data/trades`, user-channel `trade`), from the taker's side.

    size/price/side/asset_id are the taker's (price = the taker's execution price, one price
    per trade: a taker sweeping several price levels gets one trade per level, sharing
    `taker_order_id` and `match_time_ns` with increasing `bucket_index`). The taker fee is in
    shares on BUY (`fee_shares_micros`, withheld from the shares received) and in collateral on
    SELL (`fee_collateral_micros`). `transaction_hash` is empty until MINED.
    """

    id: str
    taker_order_id: str
    market: str
    asset_id: str
    side: Side
    size_micros: int
    price_micros: int
    fee_rate_bps: int
    fee_collateral_micros: int
    fee_shares_micros: int
    status: SettlementStatus
    match_time_ns: int
    last_update_ns: int
    outcome: str
    bucket_index: int
    owner: str
    maker_address: str
    transaction_hash: str
    maker_orders: tuple[MakerFill, ...]

    def trader_side(self, owner: str) -> Literal["TAKER", "MAKER"]:
        """TAKER when `owner` placed the taker order, else MAKER (the user channel's view)."""
        return "TAKER" if owner == self.owner else "MAKER"

    def owners(self) -> tuple[str, ...]:
        """Everyone the trade concerns, taker first, without repeats."""
        return tuple(dict.fromkeys((self.owner, *(m.owner for m in self.maker_orders))))


class PlaceResult(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The answer to POST /order. On failure `code`/`error_msg` say why (see errors.py).

    making/taking are what actually moved for the taker during this call: BUY pays
    collateral (making) for shares net of the fee (taking); SELL gives shares for collateral
    net of the fee.
    """

    success: bool
    order_id: str
    status: PlaceStatus = ""
    error_msg: str = ""
    code: str = ""
    making_amount_micros: int = 0
    taking_amount_micros: int = 0
    trade_ids: tuple[str, ...] = ()


class CancelResult(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The answer to the cancel endpoints: `{"canceled": [...], "not_canceled": {id: why}}`."""

    canceled: tuple[str, ...] = ()
    not_canceled: dict[str, str] = msgspec.field(default_factory=dict)


class BalanceView(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """GET /balance-allowance: `balance` is the total, `available` excludes open orders."""

    balance_micros: int
    available_micros: int
    allowance_micros: int


# --- events -----------------------------------------------------------------------------------


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="kind",
                  tag=True):
    """User channel `order`: PLACEMENT (rests), UPDATE (matched), CANCELLATION."""

    type: OrderUpdateType
    order: OrderView
    ts_ns: int
    reason: str = ""  # why a cancellation happened (FOK killed, heartbeat, expiry, ...)


class TradeEvent(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="kind",
                  tag=True):
    """User channel `trade`: a new trade (MATCHED) or a settlement status change."""

    trade: Trade
    ts_ns: int


class LevelChange(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One `price_changes[]` entry: new aggregate size at a level, and the top of book after."""

    asset_id: str
    price_micros: int
    size_micros: int
    side: Side
    best_bid_micros: int  # 0 when the side is empty (rendered "0")
    best_ask_micros: int  # 1_000_000 when the side is empty (rendered "1")
    order_id: str  # the order whose placement/cancel/match caused the change


class PriceChange(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="kind",
                  tag=True):
    """Market channel `price_change` for one market (both tokens' entries, YES then NO).

    `trade` is true when a match caused it: the real venue also sends `book` snapshots then.
    """

    market: str
    changes: tuple[LevelChange, ...]
    ts_ns: int
    trade: bool = False


class LastTradePrice(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="kind",
                  tag=True):
    """Market channel `last_trade_price`: one per token and trade bucket."""

    market: str
    asset_id: str
    price_micros: int
    size_micros: int
    side: Side
    fee_rate_bps: int
    ts_ns: int


class TickSizeChange(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="kind",
                  tag=True):
    """Market channel `tick_size_change` (one per token)."""

    market: str
    asset_id: str
    old_tick_micros: int
    new_tick_micros: int
    ts_ns: int


class MarketStatusChange(msgspec.Struct, frozen=True, kw_only=True, gc=False, tag_field="kind",
                  tag=True):
    """A market stopped/started accepting orders or closed (for /markets and the server)."""

    market: str
    accepting_orders: bool
    closed: bool
    ts_ns: int


SimEvent = OrderEvent | TradeEvent | PriceChange | LastTradePrice | TickSizeChange | \
    MarketStatusChange
