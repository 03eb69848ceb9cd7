# Shared pieces of execution (orders, unwind, positions): config, results and exact helpers.
#
# Rules:
# 1. Pure: no I/O, clock, randomness or environment. Time arrives as event ns, ids from state.
# 2. Money, prices and sizes are int micro-units. A notional is price_micros * size_micros / 1e6;
#    when it is not a whole micro-dollar (sizes off the venue's grid), what we PAY rounds up and
#    what we RECEIVE rounds down, so P&L is never overstated.
# 3. Snapshots are canonical: dict keys and struct fields sorted (msgspec order="sorted"); lists
#    keep their meaningful order.
#    Code that turns state into output iterates sorted keys or explicit sequence numbers, never
#    dict insertion order, so a restored state behaves exactly like the live one.
from __future__ import annotations

import datetime as _dt
from typing import Literal, Protocol

import msgspec

from polyarb.core.types import BookView
from polyarb.events.base import Decision
from polyarb.events.decisions import OrderType

MICROS = 1_000_000
NS_PER_DAY = 86_400 * 1_000_000_000
MAX_BATCH = 15  # the venue's POST /orders limit (protocol §3.2)


class UnwindPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a legged opportunity is repaired (see polyarb/core/unwind.py).

    Attributes:
        retry_max_extra_micros: a retry may pay at most this much more per share than the
            leg's original limit (BUY legs; SELL legs accept this much less).
        max_retries: retry rounds per opportunity before falling back to selling.
        max_loss_micros: the most an opportunity's unwind may lose (collateral micros);
            exit limits never go past the price where this bound would be exceeded.
        timeout_ns: a naked leg older than this (event time) escalates from retry to sell.
        exit_order_type: order type of exit orders; GTC means the marketable part fills at
            once and any remainder rests at the (loss-bounded) limit.
        max_exit_rounds: exit orders per leg of an opportunity at once; then one more per
            timeout_ns since the leg's last exit (see polyarb/core/unwind.py rule 3).
    """

    retry_max_extra_micros: int = 20_000
    max_retries: int = 1
    max_loss_micros: int = 5_000_000
    timeout_ns: int = 10_000_000_000
    exit_order_type: OrderType = "GTC"
    max_exit_rounds: int = 3

    def __post_init__(self) -> None:
        if min(self.retry_max_extra_micros, self.max_retries, self.max_loss_micros,
               self.max_exit_rounds) < 0:
            raise ValueError("unwind policy amounts must be >= 0")
        if self.timeout_ns <= 0:
            raise ValueError("unwind timeout_ns must be > 0")


class ExecutionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Execution settings. Part of the run config, so part of its hash.

    Attributes:
        client_id_prefix: prefix of client order ids and batch ids (use the run id).
        order_type: order type of arbitrage legs and retries: FOK (all or nothing) or FAK.
        dust_micros: share quantities at or below this count as zero (0.01 share default).
        max_batch: orders per PlaceOrders (venue limit 15).
        unwind: the legging repair policy.
        rejection_history: how many rejection timestamps are kept for the breaker.
    """

    client_id_prefix: str = "run"
    order_type: Literal["FOK", "FAK"] = "FOK"
    dust_micros: int = 10_000
    max_batch: int = MAX_BATCH
    unwind: UnwindPolicy = UnwindPolicy()
    rejection_history: int = 1000

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be within 1..{MAX_BATCH}, got {self.max_batch}")
        if self.dust_micros < 0 or self.rejection_history < 1:
            raise ValueError("dust_micros must be >= 0 and rejection_history >= 1")
        if not self.client_id_prefix:
            raise ValueError("client_id_prefix must not be empty")


class MarketContext(Protocol):
    """What execution needs from the engine's market registry, at the time of a decision."""

    def book(self, token_id: str) -> BookView | None:
        """The token's book, or None when there is none."""
        ...

    def tick_size_micros(self, token_id: str) -> int:
        """The token's current tick size."""
        ...

    def neg_risk(self, token_id: str) -> bool:
        """Whether the token's market trades on the neg-risk exchange."""
        ...


ResultKind = Literal[
    "accepted",  # the venue took an order (or a late fill proved it exists)
    "rejection",  # the venue refused an order: the breaker counts these by event time
    "outcome_unknown",  # an order may or may not exist
    "fill",  # a new trade changed a position
    "fill_voided",  # settlement FAILED: the fill was reversed
    "settlement",  # a trade advanced MINED / CONFIRMED / RETRYING
    "order_done",  # an order can fill no further (filled, cancelled, killed, rejected)
    "cancel_failed",
    "execution_ok",  # every leg of an opportunity filled (fully or evenly partial)
    "execution_failed",  # legs did not all fill: nothing, or legged (unwind follows)
    "unwind_done",  # a legged opportunity is balanced again
    "unwind_stuck",  # exit rounds exhausted: the next exit waits for the unwind timeout
    "resolved",  # a market resolved and its positions were settled
    "ignored",  # duplicate, out-of-order, unknown id or invalid event: counted, no effect
]


class ExecResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One thing execution established, for the engine to forward (breaker, stats, logs)."""

    kind: ResultKind
    ts_ns: int
    client_order_id: str = ""
    opp_id: str = ""
    token_id: str = ""
    trade_id: str = ""
    size_micros: int = 0
    detail: str = ""


class Step(msgspec.Struct, kw_only=True):
    """What one call produced: results to forward and decisions to journal, in order."""

    results: list[ExecResult] = msgspec.field(default_factory=list)
    decisions: list[Decision] = msgspec.field(default_factory=list)

    def extend(self, other: Step) -> None:
        """Append another step's results and decisions after this one's."""
        self.results.extend(other.results)
        self.decisions.extend(other.decisions)


def cost_up(price_micros: int, size_micros: int) -> int:
    """Collateral paid for size at price, rounded up to a whole micro-dollar."""
    return -(-price_micros * size_micros // MICROS)


def proceeds_down(price_micros: int, size_micros: int) -> int:
    """Collateral received for size at price, rounded down to a whole micro-dollar."""
    return price_micros * size_micros // MICROS


def prorate(amount: int, part: int, whole: int) -> int:
    """amount * part / whole, rounded toward zero; the whole amount when part == whole."""
    if part == whole:
        return amount
    quotient = abs(amount) * part // whole
    return quotient if amount >= 0 else -quotient


def utc_day(ts_ns: int) -> str:
    """The UTC calendar day (YYYY-MM-DD) of an event timestamp in ns since the epoch."""
    return (_dt.date(1970, 1, 1) + _dt.timedelta(days=ts_ns // NS_PER_DAY)).isoformat()
