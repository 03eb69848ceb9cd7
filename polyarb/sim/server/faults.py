# Seeded fault injection: which fault fires when, plus the faults that act on the exchange
# (thinning liquidity under a FOK/FAK order, failing or retrying a trade's settlement, and
# tripping the dead-man switch as if heartbeats had lapsed).
#
# Rules:
# 1. Each fault class draws from its own RNG, seeded from (seed, class name), so turning one
#    fault on or changing its rate never changes when another fires. With the same seed and the
#    same sequence of opportunities the same faults fire.
# 2. A rate of 0 never draws (off costs nothing); a rate of 1 always fires.
# 3. Every fault that fires is counted in `counts` (for tests, logs and the bench).
# 4. Thinning cancels other owners' resting orders that the incoming order would match, worst
#    price first, until what is left cannot fill it: a FOK is then killed, a FAK fills partly
#    (or not at all when a single order held all the liquidity). The cancels are ordinary
#    exchange cancels: their owners get CANCELLATION events and the book moves on the feed.
# 5. A heartbeat lapse goes through the exchange's own dead-man path (a last heartbeat older
#    than the timeout, then expiry), so the cancellations read exactly like a real lapse.
from __future__ import annotations

import heapq
import random

from polyarb.sim import Exchange, OrderRequest, SimError
from polyarb.sim.model import MICROS, Order
from polyarb.sim.server.config import RATE_FIELDS, FaultConfig
from polyarb.sim.server.http import INTERNAL_ERROR, ApiError

_SECOND_NS = 1_000_000_000
TOO_EARLY = "Too Early"  # INVENTED body: the venue documents only the 425 status on restarts
TOO_MANY = "Too Many Requests"
TRADING_DISABLED = "Trading is currently disabled. Check polymarket.com for updates"


class Faults:
    """The fault schedule of one server."""

    def __init__(self, cfg: FaultConfig, seed: str) -> None:
        base = cfg.seed or seed
        self.cfg = cfg
        self._rates = {name: float(getattr(cfg, name)) for name in RATE_FIELDS}
        self._rngs = {name: random.Random(f"{base}:fault:{name}") for name in RATE_FIELDS}
        self.counts: dict[str, int] = dict.fromkeys(RATE_FIELDS, 0)
        self._settle: list[tuple[int, int, str, str]] = []  # (due_ns, seq, trade id, kind)
        self._seq = 0

    def hit(self, name: str) -> bool:
        """Roll the dice for one opportunity of fault `name` (rule 2)."""
        rate = self._rates[name]
        if rate <= 0.0 or (rate < 1.0 and self._rngs[name].random() >= rate):
            return False
        self.counts[name] += 1
        return True

    def http(self, *, trading: bool) -> ApiError | None:
        """The HTTP fault for a request, if one fires (425/503 only on trading routes)."""
        if self.hit("http500"):
            return ApiError(500, INTERNAL_ERROR, "fault_http500")
        if self.hit("http429"):
            return ApiError(429, TOO_MANY, "fault_http429")
        if trading and self.hit("http425"):
            return ApiError(425, TOO_EARLY, "fault_http425")
        if trading and self.hit("http503"):
            return ApiError(503, TRADING_DISABLED, "fault_http503")
        return None

    def lapse_heartbeat(self, exchange: Exchange, owner: str, now_ns: int) -> ApiError | None:
        """Maybe lose a heartbeat so the owner's dead-man switch trips now (rule 5).

        Returns:
            The error the client gets when the fault fires, else None (record it as usual).
        """
        if not self.hit("heartbeat_lapse"):
            return None
        # a heartbeat dated just past the timeout, then expiry: the exchange's own lapse path
        exchange.heartbeat(owner, now_ns - exchange.config.heartbeat_timeout_ns - 1)
        exchange.expire(now_ns)
        return ApiError(500, INTERNAL_ERROR, "fault_heartbeat_lapse")

    # --- settlement ------------------------------------------------------------------------

    def on_new_trade(self, trade_id: str, now_ns: int) -> None:
        """Maybe schedule a FAILED or RETRYING for a trade that just MATCHED."""
        kind = "fail" if self.hit("settle_fail") else "retry" if self.hit("settle_retry") else ""
        if kind:
            self._seq += 1
            due = now_ns + int(self.cfg.settle_after_s * _SECOND_NS)
            heapq.heappush(self._settle, (due, self._seq, trade_id, kind))

    def apply_settlement(self, exchange: Exchange, now_ns: int) -> None:
        """Inject the settlement faults that are due (skipping trades already terminal)."""
        while self._settle and self._settle[0][0] <= now_ns:
            _, _, trade_id, kind = heapq.heappop(self._settle)
            try:
                if kind == "fail":
                    exchange.fail_trade(trade_id, now_ns)
                else:
                    exchange.retry_trade(trade_id, now_ns)
            except SimError:
                pass  # confirmed, forgotten, or its balances were spent: nothing to inject

    # --- liquidity -------------------------------------------------------------------------

    def thin(self, exchange: Exchange, req: OrderRequest, now_ns: int) -> int:
        """Maybe thin the liquidity a crossing FOK/FAK order would take (rule 4).

        Returns:
            How many resting orders were cancelled.
        """
        if req.order_type not in ("FOK", "FAK"):
            return 0
        crossing = _crossing_orders(exchange, req)
        if not crossing or not self.hit("partial_fill"):
            return 0
        total = sum(o.remaining for o in crossing)
        cancelled = 0
        for order in crossing:  # worst price first
            if total < req.size_micros:
                break
            exchange.cancel(order.owner, order.id, now_ns)
            total -= order.remaining
            cancelled += 1
        return cancelled


def _crossing_orders(exchange: Exchange, req: OrderRequest) -> list[Order]:
    market = exchange.markets.by_token.get(req.token_id)
    if market is None:
        return []
    is_yes = req.token_id == market.yes_token
    is_bid = (req.side == "BUY") == is_yes
    price = req.price_micros if is_yes else MICROS - req.price_micros
    out = [
        o for owner, mine in exchange.open_by_owner.items() if owner != req.owner
        for o in mine.values()
        if o.market is market and o.in_book and o.is_bid != is_bid
        and (o.yes_price <= price if is_bid else o.yes_price >= price)
    ]
    # worst first: for a taker bid the highest asks, for a taker ask the lowest bids;
    # later arrivals first within a price (they would be matched last).
    if is_bid:
        out.sort(key=lambda o: (o.yes_price, o.seq), reverse=True)
    else:
        out.sort(key=lambda o: (o.yes_price, -o.seq))
    return out
