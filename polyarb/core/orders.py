# Orders: deterministic client ids, batches, and the per-order state machine driven by venue events.
#
# Rules:
# 1. Client ids come from state: f"{prefix}-o{n}" and batch ids f"{prefix}-b{n}", counters bumped
#    here, so a replay regenerates the same ids.
# 2. An order's state is DERIVED from sizes, not from the venue's status word:
#      filled            filled >= original - dust
#      rejected          the venue said no (or reconciliation found no such order)
#      cancelled         it can fill no further: a cancellation was seen and trades caught up
#                        with the venue's size_matched, or (FOK/FAK) trades reached the size the
#                        venue matched, the remainder being killed
#      partially_filled  filled > dust and still able to fill
#      sent / unknown / accepted  otherwise (no response yet / outcome unknown / live)
#    "filled" is the sum of non-voided trades (TradeUpdated) on the order's venue id.
# 3. Trades and their settlement (dedupe by (trade_id, status), FAILED voids) are kept by
#    polyarb/core/trades.py; here a trade is attached to its order. Duplicate, out-of-order and
#    contradictory events, and unknown client ids, are counted and ignored, never fatal.
# 4. A venue id we never mapped (the user channel can beat the REST response, and an unknown
#    outcome may have no venue id) is matched, first, to the unknown order whose
#    OrderOutcomeUnknown named that venue id (a "hint": the venue named the order but did not
#    say it exists, so the order stays unknown until an event with that id arrives); else to the
#    OLDEST open sent/unknown order without a hint with the same token and side and a compatible
#    price (trade price within the limit; an order update's price and size equal). A later
#    OrderAccepted with a different id wins and the guess is undone. Trades on ids that match
#    nothing still count for positions and wait here for a mapping.
# 5. The rejection result's detail is the event's RejectCode: the breaker reads only that.
# The read-only queries (filled, state_of, open_orders, counters...) are in orders_queries.py.
from __future__ import annotations

from typing import Any, Literal

import msgspec

from polyarb.core.exec_common import (
    ExecResult,
    ExecutionConfig,
    UnwindPolicy,
)
from polyarb.core.order_records import (
    OrderRecord,
    OrdersState,
    Role,
    VenueHints,
    expected_fill,
)
from polyarb.core.orders_queries import OrderQueries
from polyarb.core.trades import Trades, invalid_trade
from polyarb.events.decisions import OrderIntent
from polyarb.events.inputs import (
    CancelFailed,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderUpdated,
    Side,
    TradeUpdated,
)

__all__ = ["ExecutionConfig", "OrderRecord", "Orders", "UnwindPolicy"]

TradeEffect = Literal["fill", "void"]


class Orders(OrderQueries):
    """Every order and trade of the run. Mutable; `snapshot()`/`restore()` for the state hash."""

    def __init__(self, prefix: str, dust_micros: int, rejection_history: int = 1000) -> None:
        self.prefix = prefix
        self.trades = Trades()
        self.dust = dust_micros
        self.rejection_history = rejection_history
        self._s = OrdersState()
        self._hints = VenueHints()

    # ---- ids and registration ------------------------------------------------------------

    def new_client_id(self) -> str:
        """Allocate the next deterministic client order id."""
        n = self._s.next_order_no
        self._s.next_order_no = n + 1
        return f"{self.prefix}-o{n}"

    def new_batch_id(self) -> str:
        """Allocate the next deterministic batch id."""
        n = self._s.next_batch_no
        self._s.next_batch_no = n + 1
        return f"{self.prefix}-b{n}"

    def add(self, intent: OrderIntent, opp_id: str, role: Role, leg: int, ts_ns: int) -> None:
        """Register an order we are about to send (state: sent)."""
        cid = intent.client_order_id
        if cid in self._s.orders:
            raise ValueError(f"client order id {cid} registered twice")
        seq = len(self._s.orders) + 1
        self._s.orders[cid] = OrderRecord(
            seq=seq, client_order_id=cid, opp_id=opp_id, role=role, leg=leg,
            token_id=intent.token_id, side=intent.side, price_micros=intent.price_micros,
            size_micros=intent.size_micros, order_type=intent.order_type, created_ns=ts_ns)
        self._s.open[cid] = seq

    # ---- order events -----------------------------------------------------------------

    def on_accepted(self, ev: OrderAccepted) -> list[ExecResult]:
        """The venue accepted an order: map its venue id, note the FOK/FAK matched size."""
        rec = self._by_client(ev.client_order_id, "accepted_unknown_client")
        if rec is None:
            return self._ignored(ev.ts_recv_ns, "unknown client order id", ev.client_order_id)
        if not ev.venue_order_id:
            return self._ignored(ev.ts_recv_ns, "accepted without venue order id", rec,
                                 "invalid_accepted")
        if rec.status == "rejected":
            return self._ignored(ev.ts_recv_ns, "accepted after rejected", rec, "contradictory")
        duplicate = rec.acked and rec.venue_order_id == ev.venue_order_id
        rec.acked = True
        if rec.venue_order_id and rec.venue_order_id != ev.venue_order_id:
            self._unmap(rec)
        other = self._by_venue(ev.venue_order_id)
        out = []
        if other is not None and other is not rec:  # an earlier guess was wrong
            self._unmap(other)
            other.status = "accepted" if other.acked else "unknown"
            out.append(self._result("outcome_unknown", ev.ts_recv_ns, other,
                                    detail=f"venue id {ev.venue_order_id} belongs to "
                                    f"{rec.client_order_id}"))
        out += self._map(rec, ev.venue_order_id, ev.ts_recv_ns, "accepted")
        rec.expected_fill_micros = expected_fill(rec, ev)
        if duplicate:
            self._count("duplicate_accepted")
        return out + self._refresh(rec, ev.ts_recv_ns)

    def on_rejected(self, ev: OrderRejected) -> list[ExecResult]:
        """The venue refused an order. Counted for the breaker by event time."""
        rec = self._by_client(ev.client_order_id, "rejected_unknown_client")
        if rec is None:
            return self._ignored(ev.ts_recv_ns, "unknown client order id", ev.client_order_id)
        if rec.status not in ("sent", "unknown"):
            return self._ignored(ev.ts_recv_ns, f"rejected after {rec.status}", rec,
                                 "duplicate_rejected" if rec.status == "rejected" else "late")
        rec.status, rec.reason = "rejected", ev.reason
        self._hints.drop(rec.client_order_id)
        history = [*self._s.rejections_ns, ev.ts_recv_ns]
        self._s.rejections_ns = history[-self.rejection_history:]
        out = [self._result("rejection", ev.ts_recv_ns, rec, detail=ev.reason_code)]
        return out + self._refresh(rec, ev.ts_recv_ns)

    def on_outcome_unknown(self, ev: OrderOutcomeUnknown) -> list[ExecResult]:
        """The order may or may not exist; it stays open until something resolves it."""
        rec = self._by_client(ev.client_order_id, "unknown_unknown_client")
        if rec is None:
            return self._ignored(ev.ts_recv_ns, "unknown client order id", ev.client_order_id)
        if rec.status != "sent":
            return self._ignored(ev.ts_recv_ns, f"outcome unknown after {rec.status}", rec)
        rec.status, rec.reason = "unknown", ev.reason
        out = [self._result("outcome_unknown", ev.ts_recv_ns, rec, detail=ev.reason)]
        vid = ev.venue_order_id
        if not vid:
            return out
        if vid in self._s.venue_ids or self._hints.owner(vid) is not None:
            self._count("venue_id_conflict")
            return out
        self._hints.add(vid, rec.client_order_id)
        if vid in self._s.orphan_updates or self.trades.filled(vid).size_micros:
            # The venue already told us about this id: the order exists.
            out += self._map(rec, vid, ev.ts_recv_ns, "accepted from earlier venue events")
            out += self._refresh(rec, ev.ts_recv_ns)
        return out

    def mark_absent(self, client_order_id: str, ts_ns: int, reason: str) -> list[ExecResult]:
        """Reconciliation found no trace of a sent/unknown order: it never existed.

        Not counted as a venue rejection.
        """
        rec = self._s.orders.get(client_order_id)
        if rec is None or rec.status not in ("sent", "unknown") or rec.venue_order_id:
            return self._ignored(ts_ns, "absent: not a sent/unknown order", client_order_id)
        rec.status, rec.reason = "rejected", reason
        self._hints.drop(rec.client_order_id)
        return self._refresh(rec, ts_ns)

    def on_cancelled(self, ev: OrderCancelled) -> list[ExecResult]:
        """The venue cancelled an order (ours or its own doing)."""
        rec = (self._s.orders.get(ev.client_order_id or "") or self._by_venue(ev.venue_order_id)
               or self._hinted(ev.venue_order_id))
        if rec is None:
            return self._ignored(ev.ts_recv_ns, "cancel for unknown order", ev.venue_order_id)
        out = []
        if (not rec.venue_order_id and ev.venue_order_id
                and ev.venue_order_id not in self._s.venue_ids):
            out = self._map(rec, ev.venue_order_id, ev.ts_recv_ns, "accepted from cancel")
        elif rec.status in ("sent", "unknown"):
            rec.status = "accepted"  # a cancellation proves the order existed
        if rec.cancel_seen:
            self._count("duplicate_cancelled")
        rec.cancel_seen = True
        return out + self._refresh(rec, ev.ts_recv_ns)

    def on_cancel_failed(self, ev: CancelFailed) -> list[ExecResult]:
        """A cancel we asked for failed (often: already filled or gone). Nothing changes."""
        rec = self._by_venue(ev.venue_order_id)
        if rec is None:
            return self._ignored(ev.ts_recv_ns, "cancel failed for unknown order",
                                 ev.venue_order_id)
        return [self._result("cancel_failed", ev.ts_recv_ns, rec, detail=ev.reason)]

    def on_updated(self, ev: OrderUpdated) -> list[ExecResult]:
        """A venue order update (user channel or REST sweep row)."""
        rec = self._by_venue(ev.venue_order_id)
        out: list[ExecResult] = []
        if rec is None:
            rec = self._hinted(ev.venue_order_id) or self._guess(ev.token_id, ev.side, lambda r: (
                r.price_micros == ev.price_micros and r.size_micros == ev.original_size_micros))
            if rec is None:
                return self._park_update(ev)
            out = self._map(rec, ev.venue_order_id, ev.ts_recv_ns, "accepted from order update")
        return out + self._apply_update(rec, ev)

    def _apply_update(self, rec: OrderRecord, ev: OrderUpdated) -> list[ExecResult]:
        if rec.status == "rejected" or (rec.done_reported and rec.cancel_seen):
            self._count("update_after_terminal")
        rec.venue_matched_micros = max(rec.venue_matched_micros, ev.size_matched_micros)
        if rec.order_type in ("FOK", "FAK") and ev.size_matched_micros > 0:
            rec.expected_fill_micros = max(rec.expected_fill_micros or 0, ev.size_matched_micros)
        if ev.update_type == "CANCELLATION":
            rec.cancel_seen = True
        return self._refresh(rec, ev.ts_recv_ns)

    def _park_update(self, ev: OrderUpdated) -> list[ExecResult]:
        held = self._s.orphan_updates.get(ev.venue_order_id)
        if held is None or ev.size_matched_micros >= held.size_matched_micros:
            self._s.orphan_updates[ev.venue_order_id] = ev
        return self._ignored(ev.ts_recv_ns, "update for unknown venue order id",
                             ev.venue_order_id, "unmatched_update")

    # ---- trades -----------------------------------------------------------------------

    def on_trade(self, ev: TradeUpdated) -> tuple[list[ExecResult], TradeEffect | None]:
        """Record a trade event (polyarb/core/trades.py) and attach it to its order.

        Returns:
            Results, and "fill" (positions must book it), "void" (reverse it) or None.
        """
        problem = invalid_trade(ev)
        if problem:
            return self._ignored(ev.ts_recv_ns, problem, ev.trade_id, "invalid_trade"), None
        verdict = self.trades.record(ev)
        if verdict.kind == "ignored":
            return self._ignored(ev.ts_recv_ns, verdict.detail, ev.trade_id, verdict.counter), None
        out = self._attach(ev) if verdict.kind == "fill" else []
        kind = {"fill": "fill", "void": "fill_voided"}.get(verdict.kind, "settlement")
        out.append(self._trade_result(kind, ev, verdict.detail))
        order = self._by_venue(ev.venue_order_id)
        if verdict.kind == "fill" and order is not None:
            out += self._refresh(order, ev.ts_recv_ns)
        # A done order stays done after a void: a failed settlement does not revive it.
        effect: TradeEffect | None = "fill" if verdict.kind == "fill" else (
            "void" if verdict.kind == "void" else None)
        return out, effect

    def _attach(self, ev: TradeUpdated) -> list[ExecResult]:
        if ev.venue_order_id in self._s.venue_ids:
            return []
        rec = None if not ev.venue_order_id else self._hinted(ev.venue_order_id) or self._guess(
            ev.token_id, ev.side, lambda r: (
                ev.size_micros <= r.size_micros + self.dust
                and (ev.price_micros <= r.price_micros if r.side == "BUY"
                     else ev.price_micros >= r.price_micros)))
        if rec is None:
            self._count("unmatched_trade")
            return []
        return self._map(rec, ev.venue_order_id, ev.ts_recv_ns, "accepted from trade")

    # ---- snapshot -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Orders and trades as canonical JSON-able data (sorted keys)."""
        out = {"orders": msgspec.to_builtins(self._s, order="sorted"),
               "trades": self.trades.snapshot()}
        if self._hints:  # only when there are some: a state without hints hashes as before
            out["venue_hints"] = self._hints.snapshot()
        return out

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the state with snapshot() output.

        Raises:
            msgspec.ValidationError: data is not an orders snapshot.
            KeyError: a part is missing.
        """
        self._s = msgspec.convert(data["orders"], OrdersState)
        self.trades.restore(data["trades"])
        self._hints = VenueHints(msgspec.convert(data.get("venue_hints", {}), dict[str, str]))

    # ---- internals ----------------------------------------------------------------------

    def _by_client(self, cid: str, counter: str) -> OrderRecord | None:
        rec = self._s.orders.get(cid)
        if rec is None:
            self._count(counter)
        return rec

    def _by_venue(self, venue_order_id: str) -> OrderRecord | None:
        cid = self._s.venue_ids.get(venue_order_id)
        return None if cid is None else self._s.orders[cid]

    def _hinted(self, venue_order_id: str) -> OrderRecord | None:
        cid = self._hints.owner(venue_order_id)
        rec = None if cid is None else self._s.orders.get(cid)
        if rec is None or rec.status not in ("sent", "unknown") or rec.venue_order_id:
            return None
        return rec

    def _guess(self, token_id: str, side: Side, fits: Any) -> OrderRecord | None:
        hinted = self._hints.holders()  # their venue id is known: another id is not theirs
        for rec in self.open_orders():
            if (rec.status in ("sent", "unknown") and not rec.venue_order_id
                    and rec.client_order_id not in hinted
                    and rec.token_id == token_id and rec.side == side and fits(rec)):
                self._count("venue_id_guessed")
                return rec
        return None

    def _map(self, rec: OrderRecord, venue_id: str, ts_ns: int, detail: str) -> list[ExecResult]:
        owner = self._s.venue_ids.get(venue_id)
        if owner is not None and owner != rec.client_order_id:
            self._count("venue_id_conflict")
            return []
        was = rec.status
        self._hints.drop(rec.client_order_id, venue_id)
        rec.venue_order_id = venue_id
        self._s.venue_ids[venue_id] = rec.client_order_id
        rec.status = "accepted"
        out = [] if was == "accepted" else [self._result("accepted", ts_ns, rec, detail=detail)]
        parked = self._s.orphan_updates.pop(venue_id, None)
        return out + ([] if parked is None else self._apply_update(rec, parked))

    def _unmap(self, rec: OrderRecord) -> None:
        self._count("venue_id_remapped")
        self._s.venue_ids.pop(rec.venue_order_id, None)
        rec.venue_order_id = ""
        if rec.done_reported:  # it was done through fills that were not its own
            rec.done_reported = False
            self._s.open[rec.client_order_id] = rec.seq

    def _refresh(self, rec: OrderRecord, ts_ns: int) -> list[ExecResult]:
        if rec.done_reported or not self.is_done(rec):
            return []
        rec.done_reported = True
        self._s.open.pop(rec.client_order_id, None)
        return [self._result("order_done", ts_ns, rec, detail=self.state_of(rec),
                             size=self.filled(rec))]

    def _count(self, name: str) -> None:
        self._s.counters[name] = self._s.counters.get(name, 0) + 1

    def _ignored(self, ts_ns: int, detail: str, subject: OrderRecord | str,
                 counter: str = "ignored") -> list[ExecResult]:
        self._count(counter)
        if isinstance(subject, OrderRecord):
            return [self._result("ignored", ts_ns, subject, detail=detail)]
        return [ExecResult(kind="ignored", ts_ns=ts_ns, detail=f"{detail}: {subject}")]

    @staticmethod
    def _result(kind: Any, ts_ns: int, rec: OrderRecord, detail: str = "", size: int = 0
                ) -> ExecResult:
        return ExecResult(kind=kind, ts_ns=ts_ns, client_order_id=rec.client_order_id,
                          opp_id=rec.opp_id, token_id=rec.token_id, size_micros=size,
                          detail=detail)

    def _trade_result(self, kind: Any, ev: TradeUpdated, detail: str) -> ExecResult:
        order = self._by_venue(ev.venue_order_id)
        return ExecResult(
            kind=kind, ts_ns=ev.ts_recv_ns, trade_id=ev.trade_id, token_id=ev.token_id,
            size_micros=ev.size_micros, detail=detail,
            client_order_id="" if order is None else order.client_order_id,
            opp_id="" if order is None else order.opp_id)
