# Mutable exchange state objects: configuration, markets and orders.
#
# Rules:
# 1. Integers in micro-units everywhere (prices in micros per share, sizes in micro-shares,
#    collateral in micro-pUSD). Never float.
# 2. An order lives in "YES space" inside the book: BUY YES at p and SELL NO at 1-p are both
#    YES bids at p; SELL YES at p and BUY NO at 1-p are both YES asks at p. `yes_price` and
#    `is_bid` are that view; `price` and `side` stay in the order's own token, as submitted.
# 3. These objects are internal and mutable; anything handed out (events, query results) is an
#    immutable snapshot from polyarb/sim/records.py.
from __future__ import annotations

from typing import Literal

import msgspec

from polyarb.core.fees import FeeModel, compile_fee
from polyarb.events.inputs import FeeSchedule, MarketInfo, Side, TokenInfo
from polyarb.sim.matching import MarketBook

MICROS = 1_000_000
SECOND_NS = 1_000_000_000

OrderType = Literal["GTC", "GTD", "FOK", "FAK"]
OrderStatus = Literal["LIVE", "MATCHED", "CANCELED", "DELAYED", "UNMATCHED"]
ORDER_TYPES: tuple[str, ...] = ("GTC", "GTD", "FOK", "FAK")
VALID_TICKS_MICROS: tuple[int, ...] = (100_000, 10_000, 5_000, 2_500, 1_000, 100)
"""0.1, 0.01, 0.005, 0.0025, 0.001, 0.0001: every one divides 1, so 1 - p stays on the grid."""


class SimConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Exchange-wide knobs. Times are nanoseconds; money and sizes micro-units."""

    seed: str = "polyarb-sim"
    default_collateral_micros: int = 1_000_000 * MICROS
    allowance_micros: int = 10**18
    heartbeat_timeout_ns: int = 10 * SECOND_NS
    gtd_threshold_ns: int = 60 * SECOND_NS
    """A GTD expiration must be at least this far in the future (the venue's 1-minute rule)."""
    min_marketable_notional_micros: int = MICROS
    """FOK/FAK orders need size * price >= this ($1); GTC/GTD need the market's share minimum."""
    mine_after_ns: int = 2 * SECOND_NS
    confirm_after_ns: int = 10 * SECOND_NS
    """MINED -> CONFIRMED delay (counted from MINED)."""
    retry_after_ns: int = 4 * SECOND_NS
    """RETRYING -> MINED delay after an injected retry."""
    max_makers_per_trade: int = 20
    """A taker match with more maker orders is split into buckets (bucket_index 0, 1, ...)."""
    fee_account: str = "__fees__"
    order_retention: int = 100_000
    """Closed orders kept for lookups (open orders are always kept)."""
    trade_retention: int = 100_000
    """Settled (CONFIRMED/FAILED) trades kept for queries."""


class Market:
    """One binary market: two tokens sharing one YES-space book (see polyarb/sim/matching.py)."""

    __slots__ = (
        "accepting_orders", "book", "closed", "condition_id", "fee_model", "fee_rate_bps",
        "fees", "match_delay_ns", "min_size_micros", "neg_risk", "neg_risk_market_id",
        "no_outcome", "no_token", "question", "slug", "tick_micros", "yes_outcome", "yes_token",
    )

    def __init__(self, info: MarketInfo, match_delay_ns: int = 0) -> None:
        yes, no = info.tokens
        self.condition_id = info.condition_id
        self.question, self.slug = info.question, info.slug
        self.yes_token, self.yes_outcome = yes.token_id, yes.outcome
        self.no_token, self.no_outcome = no.token_id, no.outcome
        self.tick_micros = info.tick_size_micros
        self.min_size_micros = info.min_order_size_micros
        self.neg_risk = info.neg_risk
        self.neg_risk_market_id = info.neg_risk_market_id
        self.fees: FeeSchedule = info.fees
        self.fee_model: FeeModel = compile_fee(info.fees)
        # The venue reports the applied rate in basis points; rates are exact Decimals.
        self.fee_rate_bps = int(info.fees.rate * 10_000)
        self.accepting_orders = info.accepting_orders
        self.closed = info.closed
        self.match_delay_ns = match_delay_ns
        self.book = MarketBook()

    def outcome(self, token_id: str) -> str:
        """The outcome name of one of this market's tokens."""
        return self.yes_outcome if token_id == self.yes_token else self.no_outcome

    def other(self, token_id: str) -> str:
        """The complementary token id."""
        return self.no_token if token_id == self.yes_token else self.yes_token

    def info(self) -> MarketInfo:
        """This market as the events vocabulary's MarketInfo (current tick and status)."""
        return MarketInfo(
            condition_id=self.condition_id, question=self.question, slug=self.slug,
            tokens=(TokenInfo(token_id=self.yes_token, outcome=self.yes_outcome),
                    TokenInfo(token_id=self.no_token, outcome=self.no_outcome)),
            tick_size_micros=self.tick_micros, min_order_size_micros=self.min_size_micros,
            neg_risk=self.neg_risk, neg_risk_market_id=self.neg_risk_market_id, fees=self.fees,
            closed=self.closed, accepting_orders=self.accepting_orders,
        )


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One order as the server hands it over, already authenticated and decoded.

    `order_id` is the order hash the server computed for a signed order; None lets the
    exchange derive one from its seed and counter. `expiration_s` is unix seconds (GTD only).
    `maker_address` defaults to the account's address. `amount_micros` is the signed
    collateral amount (makerAmount of a BUY, takerAmount of a SELL) when the order came
    signed: FOK/FAK minimum-notional checks use it instead of size * price, which rounding
    the price onto the grid (polyarb/sim/amounts.py) can leave a hair below it.
    """

    owner: str
    token_id: str
    side: Side
    price_micros: int
    size_micros: int
    order_type: OrderType = "GTC"
    post_only: bool = False
    expiration_s: int = 0
    order_id: str | None = None
    maker_address: str | None = None
    amount_micros: int | None = None


class Order:
    """A live or finished order; the book holds the live ones (polyarb/sim/matching.py)."""

    __slots__ = (
        "address", "created_ns", "expiration_s", "id", "in_book", "is_bid", "is_buy", "is_yes",
        "market", "matched", "notional", "open", "order_type", "owner", "post_only", "price",
        "remaining", "reserved", "seq", "settled", "side", "size", "status", "token_id",
        "trades", "yes_price",
    )

    def __init__(
        self, req: OrderRequest, order_id: str, address: str, market: Market, seq: int,
        now_ns: int,
    ) -> None:
        self.id = order_id
        self.owner = req.owner
        self.address = address
        self.market = market
        self.token_id = req.token_id
        self.is_yes = req.token_id == market.yes_token
        self.side: Side = req.side
        self.is_buy = req.side == "BUY"
        self.price = req.price_micros
        self.yes_price = req.price_micros if self.is_yes else MICROS - req.price_micros
        self.is_bid = self.is_buy == self.is_yes
        self.size = req.size_micros
        self.remaining = req.size_micros
        self.matched = 0
        self.order_type: OrderType = req.order_type
        self.post_only = req.post_only
        self.expiration_s = req.expiration_s
        self.created_ns = now_ns
        self.seq = seq
        self.reserved = 0  # collateral (BUY) or tokens (SELL) still held for this order
        self.notional = 0  # exact sum of fill * price, in micro-shares * micros
        self.settled = 0  # collateral paid (BUY, rounded up) or received (SELL, rounded down)
        self.status: OrderStatus = "LIVE"
        self.open = False  # resting in the book or waiting out a match delay
        self.in_book = False  # maintained by MarketBook
        self.trades: list[str] = []
