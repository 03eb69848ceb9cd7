# Placement: turning an accepted opportunity (or an unwind plan) into orders with deterministic ids.
#
# Rules:
# 1. One order per leg, in leg order, all in batches of at most config.max_batch (the venue's
#    POST /orders limit is 15): a 20-leg basket becomes a batch of 15 and one of 5.
# 2. Client ids and batch ids come from the Orders counters (f"{prefix}-o{n}", f"{prefix}-b{n}"),
#    so a replay regenerates them. Tick size and neg-risk flag are looked up per token at the
#    time of the decision (MarketContext), since ticks change while a market trades.
# 3. Every order placed is registered with Orders (state: sent) before the decision leaves.
from __future__ import annotations

from polyarb.core.exec_common import ExecutionConfig, MarketContext
from polyarb.core.orders import Orders
from polyarb.events.decisions import OpportunityDetected, OrderIntent, OrderType, PlaceOrders
from polyarb.events.inputs import Side

__all__ = ["order_intent", "place"]


def place(opp: OpportunityDetected, orders: Orders, config: ExecutionConfig,
          ctx: MarketContext) -> list[PlaceOrders]:
    """Register one order per leg and batch them (rule 1).

    Args:
        opp: the opportunity the risk gates let through.
        orders: the run's orders (ids are allocated and orders registered here).
        config: order type (FOK/FAK) and batch size.
        ctx: tick size and neg-risk flag per token.

    Returns:
        PlaceOrders carrying the opportunity's ts_recv_ns and cause_seq, in leg order.
    """
    intents = []
    for i, leg in enumerate(opp.legs):
        intent = order_intent(orders, leg.token_id, leg.side, leg.limit_price_micros,
                              leg.size_micros, config.order_type, ctx)
        orders.add(intent, opp.opp_id, "leg", i, opp.ts_recv_ns)
        intents.append(intent)
    step = config.max_batch
    return [
        PlaceOrders(ts_recv_ns=opp.ts_recv_ns, cause_seq=opp.cause_seq,
                    batch_id=orders.new_batch_id(), opp_id=opp.opp_id,
                    orders=tuple(intents[i:i + step]))
        for i in range(0, len(intents), step)
    ]


def order_intent(orders: Orders, token_id: str, side: Side, price_micros: int,
                 size_micros: int, order_type: OrderType, ctx: MarketContext) -> OrderIntent:
    """Build an OrderIntent with a fresh client id (the caller registers it)."""
    return OrderIntent(
        client_order_id=orders.new_client_id(), token_id=token_id, side=side,
        price_micros=price_micros, size_micros=size_micros, order_type=order_type,
        tick_size_micros=ctx.tick_size_micros(token_id), neg_risk=ctx.neg_risk(token_id))
