# The read side of Orders, as its base class: lookups and derived order states.
#
# Rules:
# 1. Nothing here changes state: every method reads the attributes Orders owns (declared below)
#    and returns a value or a fresh list/dict. orders.py's header states the order rules (rule 2
#    there: an order's state is derived from sizes, by order_records.order_state).
# 2. Lists come in a deterministic order (open orders oldest first, counters sorted by name),
#    never in set or hash order.
from __future__ import annotations

from polyarb.core.order_records import (
    OrderRecord,
    OrdersState,
    OrderState,
    VenueHints,
    order_done,
    order_state,
)
from polyarb.core.trades import Trades


class OrderQueries:
    """Lookups over the orders state (mixed into Orders, which owns the attributes)."""

    trades: Trades
    dust: int
    _s: OrdersState
    _hints: VenueHints

    def get(self, client_order_id: str) -> OrderRecord | None:
        """The order with this client id, or None."""
        return self._s.orders.get(client_order_id)

    def filled(self, rec: OrderRecord) -> int:
        """Shares filled on an order (non-voided trades)."""
        return self.trades.filled(rec.venue_order_id).size_micros if rec.venue_order_id else 0

    def fill_cost_pico(self, rec: OrderRecord) -> int:
        """Exact cost of an order's non-voided fills: sum of price_micros * size_micros."""
        return self.trades.filled(rec.venue_order_id).cost_pico if rec.venue_order_id else 0

    def is_done(self, rec: OrderRecord) -> bool:
        """True when the order can fill no further (rule 2). Once done, always done."""
        return order_done(rec, self.filled(rec), self.dust)

    def state_of(self, rec: OrderRecord) -> OrderState:
        """The order's derived state (rule 2)."""
        return order_state(rec, self.filled(rec), self.dust)

    def open_orders(self) -> list[OrderRecord]:
        """Orders that can still fill, oldest first."""
        return [self._s.orders[c] for c, _ in sorted(self._s.open.items(), key=lambda kv: kv[1])]

    def unknown_outstanding(self) -> int:
        """Orders whose outcome is unknown (awaiting a late event or reconciliation)."""
        return sum(1 for c in self._s.open if self._s.orders[c].status == "unknown")

    def resting_orders(self) -> int:
        """Accepted orders that can still fill (the venue holds them)."""
        return sum(1 for c in self._s.open if self._s.orders[c].status == "accepted")

    def rejection_times(self) -> list[int]:
        """Event times (ns) of the most recent rejections, oldest first."""
        return list(self._s.rejections_ns)

    def rejections_since(self, ts_ns: int) -> int:
        """Number of rejections at or after ts_ns (event time)."""
        return sum(1 for t in self._s.rejections_ns if t >= ts_ns)

    def venue_hint(self, client_order_id: str) -> str:
        """The venue id an unknown outcome named for this order, not yet seen mapped, or ""."""
        return self._hints.of(client_order_id)

    def counters(self) -> dict[str, int]:
        """Anomaly counters (duplicates, unknown ids, out-of-order events...), sorted."""
        return dict(sorted(self._s.counters.items()))
