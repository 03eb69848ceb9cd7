# Input events: facts from outside the core. Names are nouns for market facts and past tense
# for lifecycle facts. See polyarb/events/base.py for the rules every event follows.
#
# Raw websocket frames are journaled verbatim and parsed inside the core, so replay covers
# parsing too. A frame that is valid JSON (and has no raw newline) is embedded as a JSON value
# in `frame`; anything else (PONG, INVALID OPERATION, garbage) is kept as a string in `text`.
from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

import msgspec

from polyarb.events.base import Input

Side = Literal["BUY", "SELL"]
SettlementStatus = Literal["MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"]
OrderUpdateType = Literal["PLACEMENT", "UPDATE", "CANCELLATION"]
RejectCode = Literal["killed", "rate_limited", "venue_unavailable", "invalid", "absent", "other"]
"""Why an order was refused, as the venue adapter that built the OrderRejected reads the venue.

killed            a FOK/FAK order found no (or not enough) liquidity and was killed
rate_limited      the venue throttled the whole request (HTTP 429)
venue_unavailable the venue refused the whole request, not the order: matching engine
                  restarting (HTTP 425), trading disabled or cancel-only (HTTP 503)
invalid           the venue (or our own signer, before sending) judged this order bad: price,
                  size, balance, allowance, signature, payload, credentials
absent            reconciliation found no trace of the order at the venue
other             anything else: no readable reason, a venue-side failure of this one order, an
                  order refused unsent by the shell (shutdown), or a v1 record (see codec.py)
"""


class RawFrame(Input, frozen=True, kw_only=True):
    """One websocket text frame exactly as received.

    Exactly one of `frame` (the verbatim JSON bytes, embedded) and `text` (any other text) is
    set. A binary frame is kept in `text` as base64 with `binary` true. `conn` names the
    connection (`market-0`, `user-0`, ...); `channel` is `market` or `user`.
    """

    conn: str
    channel: Literal["market", "user"] = "market"
    frame: msgspec.Raw = msgspec.Raw()
    text: str | None = None
    binary: bool = False  # a binary frame: `text` holds its bytes in base64


class FeeSchedule(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Taker fee per share = rate * (p * (1 - p)) ** exponent; makers pay none when taker_only."""

    rate: Decimal = Decimal(0)
    exponent: int = 1
    taker_only: bool = True
    rebate_rate: Decimal = Decimal(0)


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    token_id: str
    outcome: str


class MarketInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Metadata of one market (one condition) as loaded from Gamma/CLOB or the simulator."""

    condition_id: str
    question: str = ""
    slug: str = ""
    tokens: tuple[TokenInfo, ...]
    tick_size_micros: int
    min_order_size_micros: int
    neg_risk: bool = False
    neg_risk_market_id: str | None = None
    neg_risk_augmented: bool = False
    fees: FeeSchedule = FeeSchedule()
    active: bool = True
    closed: bool = False
    accepting_orders: bool = True
    winning_token_id: str | None = None


class MarketsLoaded(Input, frozen=True, kw_only=True):
    """A metadata snapshot of the markets the run trades. `source` is gamma, clob, sim, ..."""

    source: str
    markets: tuple[MarketInfo, ...]


class ClockTick(Input, frozen=True, kw_only=True):
    """The shell's timer: the only way time passes in the core when no data arrives."""


class RunStarted(Input, frozen=True, kw_only=True):
    """A run began. `config` is the effective config (secrets redacted) as JSON."""

    run_id: str
    venue: str
    code_version: str
    config_hash: str
    config: msgspec.Raw = msgspec.Raw()
    detect_only: bool = False


class RunStopped(Input, frozen=True, kw_only=True):
    run_id: str
    reason: str


class OperatorCommand(Input, frozen=True, kw_only=True):
    command: Literal["halt", "resume"]
    reason: str = ""


class ConnectionOpened(Input, frozen=True, kw_only=True):
    conn: str
    url: str


class ConnectionClosed(Input, frozen=True, kw_only=True):
    conn: str
    reason: str
    code: int | None = None


class ReconnectScheduled(Input, frozen=True, kw_only=True):
    conn: str
    attempt: int
    delay_ms: int


class SubscriptionSent(Input, frozen=True, kw_only=True):
    conn: str
    operation: Literal["initial", "subscribe", "unsubscribe"]
    asset_ids: tuple[str, ...]


class OrderAccepted(Input, frozen=True, kw_only=True):
    """The venue accepted an order we sent. `status` is the venue's word (live, matched, ...)."""

    client_order_id: str
    venue_order_id: str
    status: str
    making_amount_micros: int | None = None
    taking_amount_micros: int | None = None
    ts_venue_ns: int | None = None


class OrderRejected(Input, frozen=True, kw_only=True):
    """The venue said no, in words: `success` false, an errorMsg, or a documented 4xx.

    `reason` keeps the venue's words for people; `reason_code` is what the core reads
    (RejectCode), set by the adapter that built the event, the only place that interprets venue
    words. v2 added it; a v1 record is upcast with the code the core derived then (codec.py).
    """

    SCHEMA_VERSION: ClassVar[int] = 2

    client_order_id: str
    reason: str
    http_status: int | None = None
    reason_code: RejectCode = "other"


class OrderOutcomeUnknown(Input, frozen=True, kw_only=True):
    """A timeout, transport error or 5xx: the order may or may not exist. Never assumed failed.

    `venue_order_id` is set only when the venue itself named the order (e.g. a batch entry with
    an orderID but no readable status); late venue events with that id then resolve exactly
    this order. v2 added it (v1 records have none).
    """

    SCHEMA_VERSION: ClassVar[int] = 2

    client_order_id: str
    reason: str
    venue_order_id: str | None = None


class OrderCancelled(Input, frozen=True, kw_only=True):
    venue_order_id: str
    client_order_id: str | None = None
    reason: str = ""


class CancelFailed(Input, frozen=True, kw_only=True):
    venue_order_id: str
    reason: str


class OrderUpdated(Input, frozen=True, kw_only=True):
    """A user-channel `order` event (or a REST sweep row) for one of our orders."""

    venue_order_id: str
    update_type: OrderUpdateType
    token_id: str
    side: Side
    price_micros: int
    original_size_micros: int
    size_matched_micros: int
    status: str
    ts_venue_ns: int | None = None


class TradeUpdated(Input, frozen=True, kw_only=True):
    """A user-channel `trade` event: our fill and its settlement status."""

    trade_id: str
    venue_order_id: str
    token_id: str
    side: Side
    price_micros: int
    size_micros: int
    status: SettlementStatus
    trader_side: Literal["TAKER", "MAKER"] = "TAKER"
    fee_micros: int = 0
    transaction_hash: str = ""
    ts_venue_ns: int | None = None


class RestSnapshot(Input, frozen=True, kw_only=True):
    """A REST response used for resync (book, open orders, trades), body kept verbatim."""

    endpoint: str
    params: str = ""
    status_code: int
    body: msgspec.Raw = msgspec.Raw()


class HeartbeatResult(Input, frozen=True, kw_only=True):
    """Outcome of one venue dead-man heartbeat call."""

    ok: bool
    heartbeat_id: str = ""
    error: str = ""
