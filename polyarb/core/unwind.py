# Unwind: repairing an opportunity whose legs did not fill evenly (legging).
#
# Rules:
# 1. A leg's NET fill is what its entry orders (the leg and its retries) filled minus what its
#    exit orders filled. Legs are balanced when max(net) - min(net) <= dust. Nets come from
#    order fills (matched shares), so share fees withheld on buys never look like legging.
# 2. While an entry order of a legged opportunity may still fill, wait, unless the imbalance is
#    older than policy.timeout_ns (event time, `legged_since_ns`): then escalate: cancel every
#    pending entry order and exit. An escalated opportunity never retries again.
# 3. Policy once nothing is pending: first `retry_leg` (at most policy.max_retries rounds): buy
#    (or sell, for a SELL leg) each short leg's shortfall up to the highest net, with the
#    configured entry order type, if the book shows the whole shortfall at a price within
#    policy.retry_max_extra_micros of the leg's original limit; the limit is the level reached.
#    Otherwise `sell_legs`: exit each leg's excess over the lowest net, not already covered by
#    a pending exit order, against the book (sell into bids for BUY legs; buy back for SELL legs).
#    Exit rounds count per leg: a leg gets policy.max_exit_rounds exit orders at once; when the
#    only excess left is on legs that used theirs, the opportunity is `stuck` (reported once)
#    until policy.timeout_ns has passed since the leg's last exit, then the leg gets one more
#    exit (and so on, one per timeout). Per leg, because one batch's exits die one by one (a
#    batch lost before the venue, then reconciled after a restart, answers each order
#    separately): counted per opportunity, the first deaths used up the rounds of legs whose
#    exits had not died yet. Never abandoned, because exits die of venue faults that say
#    nothing about the market (429/425/503, a request lost before the venue, a dead-man
#    cancel, a FAILED settlement voiding the fill): a naked leg left alone stays naked. The
#    loss bound (rule 4) holds across all rounds; the timeout bounds the order rate.
# 4. Loss bound. An exit's loss per share is the leg's average entry price minus the exit price
#    (reversed for SELL legs). The budget is policy.max_loss_micros minus what earlier exits of
#    the opportunity lost; it is spread evenly per share over this round's exits, giving each
#    leg a bound price (rounded to its tick toward less loss). An exit's limit is the price its
#    walk of the book reaches, but never past the bound: if the book would lose more, the order
#    is placed anyway AT the bound (policy.exit_order_type, GTC by default) and rests there, so
#    the loss can never exceed the budget. A sell_legs Unwind's max_loss_micros is that budget;
#    a retry_leg's is the most the retry can pay over the original limits (extra * shares).
# 5. Sizes: retries round up and exits round down to the venue's 0.01-share grid. An exit of a
#    BUY leg never sells more than the shares actually held (fees withheld in shares make that
#    less than what the orders filled); an excess that is only such withheld shares counts as
#    balanced.
# 6. Pure: functions of the opportunity's record, its order fills and the books; the caller
#    (polyarb/core/execution.py) allocates client ids and registers the orders.
from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from polyarb.core.exec_common import MICROS, MarketContext, UnwindPolicy
from polyarb.events.decisions import Strategy
from polyarb.events.inputs import Side

__all__ = ["Action", "LegFill", "LegPlan", "OppRecord", "Plan", "PlannedOrder", "assess"]

SIZE_STEP = 10_000  # the venue's size grid: 0.01 share
Action = Literal["wait", "balanced", "retry_leg", "sell_legs", "stuck"]


class LegPlan(msgspec.Struct, frozen=True, kw_only=True):
    """One leg as planned: its token, side, target size and original limit price."""

    token_id: str
    side: Side
    size_micros: int
    limit_price_micros: int


class OppRecord(msgspec.Struct, kw_only=True):
    """An opportunity being executed: its legs, all its orders and its repair progress."""

    seq: int
    opp_id: str
    strategy: Strategy
    market_id: str
    created_ns: int
    legs: list[LegPlan]
    orders: list[str] = msgspec.field(default_factory=list)  # client ids, creation order
    outcome: Literal["", "filled", "partial", "failed"] = ""
    legged_since_ns: int | None = None
    retries: int = 0
    exit_rounds: int = 0
    escalated: bool = False
    stuck: bool = False
    cancel_sent: list[str] = msgspec.field(default_factory=list)  # asked once each


class LegFill(msgspec.Struct, frozen=True, kw_only=True):
    """What one leg's orders achieved so far (shares; costs exact in price*size units)."""

    entry_micros: int = 0
    entry_cost_pico: int = 0
    exit_micros: int = 0
    exit_cost_pico: int = 0
    pending_entry: tuple[str, ...] = ()  # entry orders that may still fill
    pending_exit: tuple[str, ...] = ()  # exit orders that may still fill
    exit_cover_micros: int = 0  # shares still open on pending exit orders
    held_micros: int | None = None  # shares of the token held (caps exits of BUY legs)
    exits: int = 0  # exit orders placed on this leg so far (its exit rounds, rule 3)
    last_exit_ns: int | None = None  # when the last of them was placed (event time)

    @property
    def net_micros(self) -> int:
        """Entry fills minus exit fills."""
        return self.entry_micros - self.exit_micros


class PlannedOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An order the unwind wants: for leg `leg`, entry (retry) or exit."""

    leg: int
    role: Literal["retry", "exit"]
    token_id: str
    side: Side
    price_micros: int
    size_micros: int


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """The verdict of one assessment."""

    action: Action
    reason: str = ""
    orders: tuple[PlannedOrder, ...] = ()
    cancel: tuple[str, ...] = ()  # pending entry orders to cancel (escalation)
    max_loss_micros: int = 0


def assess(opp: OppRecord, fills: Sequence[LegFill], policy: UnwindPolicy, dust: int,
           now_ns: int, ctx: MarketContext) -> Plan:
    """Decide what a (possibly legged) opportunity needs now (rules 2-3).

    Args:
        opp: the opportunity; read only (the caller applies the plan's bookkeeping).
        fills: per leg, in leg order.
        policy: the unwind policy.
        dust: share quantities at or below this are zero.
        now_ns: event time of the call.
        ctx: books and tick sizes.
    """
    nets = [f.net_micros for f in fills]
    if max(nets) - min(nets) <= dust:
        return Plan(action="balanced")
    since = now_ns if opp.legged_since_ns is None else opp.legged_since_ns
    timed_out = now_ns - since >= policy.timeout_ns
    pending = tuple(c for f in fills for c in f.pending_entry)
    if pending and not (timed_out or opp.escalated):
        return Plan(action="wait", reason="entry orders pending")
    can_retry = not (timed_out or opp.escalated or any(f.exit_cover_micros for f in fills))
    if can_retry and opp.retries < policy.max_retries:
        retry = _retry(opp, nets, policy, dust, ctx)
        if retry:
            extra = sum(o.size_micros * policy.retry_max_extra_micros // MICROS for o in retry)
            return Plan(action="retry_leg", reason="complete the short legs within the retry "
                        "price limit", orders=retry, max_loss_micros=extra)
    return _exit(opp, fills, policy, dust, ctx, pending if timed_out else (), now_ns)


def _retry(opp: OppRecord, nets: list[int], policy: UnwindPolicy, dust: int,
           ctx: MarketContext) -> tuple[PlannedOrder, ...]:
    """Retry orders for every short leg, or () when one of them cannot be completed."""
    top = max(nets)
    out: list[PlannedOrder] = []
    for i, (leg, net) in enumerate(zip(opp.legs, nets, strict=True)):
        short = _round_up(top - net)
        if top - net <= dust:
            continue
        cap = (leg.limit_price_micros + policy.retry_max_extra_micros if leg.side == "BUY"
               else leg.limit_price_micros - policy.retry_max_extra_micros)
        price = _walk(ctx, leg.token_id, leg.side, short, cap)
        if price is None:
            return ()  # one short leg cannot be completed: sell instead
        out.append(PlannedOrder(leg=i, role="retry", token_id=leg.token_id, side=leg.side,
                                price_micros=price, size_micros=short))
    return tuple(out)


def _exit(opp: OppRecord, fills: Sequence[LegFill], policy: UnwindPolicy, dust: int,
          ctx: MarketContext, cancel: tuple[str, ...], now_ns: int) -> Plan:
    low = min(f.net_micros for f in fills)
    sizes = [_round_down(min(f.net_micros - low, _sellable(leg, f)) - f.exit_cover_micros)
             for leg, f in zip(opp.legs, fills, strict=True)]
    sizes = [s if s > dust else 0 for s in sizes]
    spent = [i for i, (s, f) in enumerate(zip(sizes, fills, strict=True))
             if s and _rounds_spent(f, policy, now_ns)]
    sizes = [0 if i in spent else s for i, s in enumerate(sizes)]
    total = sum(sizes)
    if total == 0 and any(f.exit_cover_micros for f in fills):
        return Plan(action="wait", reason="excess covered by pending exit orders",
                    cancel=cancel)
    if total == 0 and spent:
        return Plan(action="stuck", reason=f"exit rounds used on leg(s) {spent}", cancel=cancel)
    if total == 0:  # what is left over is shares the venue withheld as fees
        return Plan(action="balanced", reason="no sellable excess left", cancel=cancel)
    budget = max(0, policy.max_loss_micros - sum(
        _exit_loss(leg, f) for leg, f in zip(opp.legs, fills, strict=True)))
    allowance = budget * MICROS // total  # price micros per share
    orders, bounded = [], []
    for i, (leg, fill, size) in enumerate(zip(opp.legs, fills, sizes, strict=True)):
        if size == 0:
            continue
        price, at_bound = _exit_price(leg, fill, size, allowance, ctx)
        if at_bound:
            bounded.append(leg.token_id)
        orders.append(PlannedOrder(leg=i, role="exit", token_id=leg.token_id,
                                   side=_opposite(leg.side), price_micros=price, size_micros=size))
    reason = "exit filled legs at the book" + (
        f"; resting at the max-loss bound for {', '.join(bounded)}" if bounded else "")
    return Plan(action="sell_legs", reason=reason, orders=tuple(orders), cancel=cancel,
                max_loss_micros=budget)


def _rounds_spent(fill: LegFill, policy: UnwindPolicy, now_ns: int) -> bool:
    """A leg used its exit rounds and its last exit is younger than the timeout (rule 3)."""
    if fill.exits < policy.max_exit_rounds:
        return False
    return fill.last_exit_ns is None or now_ns - fill.last_exit_ns < policy.timeout_ns


def _sellable(leg: LegPlan, fill: LegFill) -> int:
    if leg.side == "SELL" or fill.held_micros is None:
        return fill.net_micros
    return fill.held_micros


def _exit_price(leg: LegPlan, fill: LegFill, size: int, allowance: int, ctx: MarketContext
                ) -> tuple[int, bool]:
    tick = max(1, ctx.tick_size_micros(leg.token_id))
    entry = _avg_entry(leg, fill)
    if leg.side == "BUY":  # we sell: never below entry - allowance
        bound = min(MICROS - tick, max(tick, -(-(entry - allowance) // tick) * tick))
        walked = _walk(ctx, leg.token_id, "SELL", size, None)
        return (bound, True) if walked is None or walked < bound else (walked, False)
    bound = max(tick, min(MICROS - tick, (entry + allowance) // tick * tick))
    walked = _walk(ctx, leg.token_id, "BUY", size, None)
    return (bound, True) if walked is None or walked > bound else (walked, False)


def _exit_loss(leg: LegPlan, fill: LegFill) -> int:
    """What finished exits of a leg lost so far (collateral micros; negative = gained)."""
    if fill.exit_micros == 0:
        return 0
    entry_pico = _avg_entry(leg, fill) * fill.exit_micros
    loss = entry_pico - fill.exit_cost_pico if leg.side == "BUY" else (
        fill.exit_cost_pico - entry_pico)
    return loss // MICROS


def _avg_entry(leg: LegPlan, fill: LegFill) -> int:
    if fill.entry_micros <= 0:
        return leg.limit_price_micros
    return fill.entry_cost_pico // fill.entry_micros


def _walk(ctx: MarketContext, token_id: str, side: Side, size: int, cap: int | None
          ) -> int | None:
    """The price level at which `side` gets `size` shares, within cap; None if it cannot.

    With no cap (exits), an order larger than the book's depth takes the last level.
    """
    book = ctx.book(token_id)
    if book is None or not book.usable:
        return None
    levels = book.asks_ascending() if side == "BUY" else book.bids_descending()
    got, last = 0, None
    for price, level_size in levels:
        if cap is not None and (price > cap if side == "BUY" else price < cap):
            return None
        got, last = got + level_size, price
        if got >= size:
            return price
    return last if cap is None else None


def _opposite(side: Side) -> Side:
    return "SELL" if side == "BUY" else "BUY"


def _round_up(size: int) -> int:
    return -(-size // SIZE_STEP) * SIZE_STEP


def _round_down(size: int) -> int:
    return max(0, size) // SIZE_STEP * SIZE_STEP
