# Execution: the one object the engine drives for orders, fills, unwind, positions and P&L.
#
# Rules:
# 1. Every `on_*` call takes one input event (or, for on_tick, the event time) and the journal
#    seq of that input, and returns a Step: results for the engine to forward (breaker, stats)
#    and decisions to journal, in a deterministic order. Decisions carry the input's
#    ts_recv_ns and seq. Nothing here does I/O or reads a clock.
# 2. After any event touching an opportunity's orders, the opportunity is re-assessed
#    (polyarb/core/unwind.py). Its outcome is settled once, when first known:
#      filled   every leg filled its target (within dust)        -> execution_ok
#      partial  legs balanced at a nonzero size below the target -> execution_ok
#      failed   nothing filled, or legged (an unwind follows)    -> execution_failed
#    `consecutive_failures()` counts failed outcomes since the last ok one.
# 3. The venue's client-id-less events (OrderUpdated, TradeUpdated) reach opportunities through
#    the order state machine's venue-id mapping (polyarb/core/orders.py rule 4).
# 4. snapshot() covers everything (config excluded); restore(snapshot()) continues identically.
# 5. Forwarding (what the engine does with a Step's results, for polyarb/core/breaker.py):
#      rejection (detail: its code)    -> observe_rejection(ts) when the code counts (invalid,
#                                         absent, other; see engine_breaker.UNCOUNTED_CODES)
#      execution_ok / execution_failed -> observe_execution(ok)
#      fill / fill_voided / resolved   -> observe_realized_pnl(positions.realized_micros()),
#                                         observe_open_positions(positions.open_positions()),
#                                         observe_exposure(market of the token, ...)
#      any order event                 -> observe_unknown_outcomes(orders.unknown_outstanding()),
#                                         observe_resting_orders(orders.resting_orders())
#    "ignored" results carry a detail for logs; the anomaly counts are in orders.counters().
from __future__ import annotations

from typing import Any

import msgspec

from polyarb.core.exec_common import ExecResult, ExecutionConfig, MarketContext, Step
from polyarb.core.orders import Orders
from polyarb.core.placement import order_intent, place
from polyarb.core.positions import Positions
from polyarb.core.unwind import LegFill, LegPlan, OppRecord, Plan, assess
from polyarb.events.base import Input
from polyarb.events.decisions import CancelOrders, OpportunityDetected, PlaceOrders, Unwind
from polyarb.events.inputs import (
    CancelFailed,
    ClockTick,
    MarketsLoaded,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderUpdated,
    TradeUpdated,
)

__all__ = ["Execution"]


class _State(msgspec.Struct, kw_only=True):
    opps: dict[str, OppRecord] = msgspec.field(default_factory=dict)
    active: dict[str, int] = msgspec.field(default_factory=dict)  # opp id -> seq, not settled
    consecutive_failures: int = 0
    outcomes: dict[str, int] = msgspec.field(default_factory=dict)  # filled/partial/failed


class Execution:
    """Orders, unwind and positions behind one event-driven API."""

    def __init__(self, config: ExecutionConfig | None = None) -> None:
        self.config = config or ExecutionConfig()
        cfg = self.config
        self.orders = Orders(cfg.client_id_prefix, cfg.dust_micros, cfg.rejection_history)
        self.positions = Positions(cfg.dust_micros)
        self._s = _State()

    # ---- decisions in -----------------------------------------------------------------

    def place(self, opp: OpportunityDetected, ctx: MarketContext) -> list[PlaceOrders]:
        """Turn an accepted opportunity into batches of orders (<= max_batch each).

        Args:
            opp: the opportunity the risk gates let through.
            ctx: tick size and neg-risk flag per token.

        Returns:
            PlaceOrders in leg order, with deterministic client and batch ids.

        Raises:
            ValueError: the opportunity has no legs or its id was placed before.
        """
        if not opp.legs or opp.opp_id in self._s.opps:
            raise ValueError(f"cannot place opportunity {opp.opp_id!r}: no legs or placed twice")
        seq = len(self._s.opps) + 1
        record = OppRecord(
            seq=seq, opp_id=opp.opp_id, strategy=opp.strategy, market_id=opp.market_id,
            created_ns=opp.ts_recv_ns, legs=[LegPlan(
                token_id=leg.token_id, side=leg.side, size_micros=leg.size_micros,
                limit_price_micros=leg.limit_price_micros) for leg in opp.legs])
        batches = place(opp, self.orders, self.config, ctx)
        record.orders = [o.client_order_id for b in batches for o in b.orders]
        self._s.opps[opp.opp_id] = record
        self._s.active[opp.opp_id] = seq
        return batches

    # ---- inputs -----------------------------------------------------------------------

    def handle(self, ev: Input, ctx: MarketContext, cause_seq: int) -> Step:
        """Dispatch any input execution cares about; other inputs give an empty Step."""
        match ev:
            case OrderAccepted():
                return self._after(self.orders.on_accepted(ev), ev.ts_recv_ns, ctx, cause_seq)
            case OrderRejected():
                return self._after(self.orders.on_rejected(ev), ev.ts_recv_ns, ctx, cause_seq)
            case OrderOutcomeUnknown():
                return self._after(self.orders.on_outcome_unknown(ev), ev.ts_recv_ns, ctx,
                                   cause_seq)
            case OrderCancelled():
                return self._after(self.orders.on_cancelled(ev), ev.ts_recv_ns, ctx, cause_seq)
            case CancelFailed():
                return Step(results=self.orders.on_cancel_failed(ev))
            case OrderUpdated():
                return self._after(self.orders.on_updated(ev), ev.ts_recv_ns, ctx, cause_seq)
            case TradeUpdated():
                return self.on_trade_updated(ev, ctx, cause_seq)
            case MarketsLoaded():
                return Step(results=self.positions.register(ev.markets, ev.ts_recv_ns))
            case ClockTick():
                return self.on_tick(ev.ts_recv_ns, ctx, cause_seq)
            case _:
                return Step()

    def on_trade_updated(self, ev: TradeUpdated, ctx: MarketContext, cause_seq: int) -> Step:
        """A trade event: book or void the fill in positions, then re-assess its opportunity."""
        results, effect = self.orders.on_trade(ev)
        if effect == "fill":
            self.positions.book_fill(ev.trade_id, ev.token_id, ev.side, ev.price_micros,
                                     ev.size_micros, ev.fee_micros, ev.ts_recv_ns)
        elif effect == "void":
            self.positions.void(ev.trade_id, ev.ts_recv_ns)
        return self._after(results, ev.ts_recv_ns, ctx, cause_seq)

    def on_order_absent(self, client_order_id: str, ts_ns: int, ctx: MarketContext,
                        cause_seq: int, reason: str = "absent after reconciliation") -> Step:
        """Reconciliation found no trace of a sent/unknown order: it never existed."""
        return self._after(self.orders.mark_absent(client_order_id, ts_ns, reason), ts_ns, ctx,
                           cause_seq)

    def on_tick(self, now_ns: int, ctx: MarketContext, cause_seq: int) -> Step:
        """Let event time pass: legged opportunities past the unwind timeout escalate."""
        step = Step()
        timeout = self.config.unwind.timeout_ns
        for opp_id, _ in sorted(self._s.active.items(), key=lambda kv: kv[1]):
            since = self._s.opps[opp_id].legged_since_ns
            if since is not None and now_ns - since >= timeout:
                step.extend(self._assess(self._s.opps[opp_id], now_ns, ctx, cause_seq))
        return step

    # ---- counters for the breaker and stats ---------------------------------------------

    def active_markets(self) -> frozenset[str]:
        """Market (or group) ids of opportunities still executing (not settled)."""
        return frozenset(self._s.opps[opp_id].market_id for opp_id in self._s.active)

    def consecutive_failures(self) -> int:
        """Failed opportunity outcomes since the last ok one."""
        return self._s.consecutive_failures

    def outcome_counts(self) -> dict[str, int]:
        """How many opportunities ended filled, partial and failed."""
        return {k: self._s.outcomes.get(k, 0) for k in ("failed", "filled", "partial")}

    def opportunity(self, opp_id: str) -> OppRecord | None:
        """The execution record of an opportunity, or None."""
        return self._s.opps.get(opp_id)

    def leg_fills(self, opp: OppRecord) -> list[LegFill]:
        """What each leg of an opportunity achieved so far (unwind.py rule 1)."""
        acc: list[dict[str, Any]] = [
            {"entry_micros": 0, "entry_cost_pico": 0, "exit_micros": 0, "exit_cost_pico": 0,
             "pending_entry": [], "pending_exit": [], "exit_cover_micros": 0, "exits": 0,
             "last_exit_ns": None} for _ in opp.legs]
        for cid in opp.orders:
            rec = self.orders.get(cid)
            assert rec is not None, cid  # registered together with the opportunity
            leg, filled = acc[rec.leg], self.orders.filled(rec)
            done = self.orders.is_done(rec)
            side = "entry" if rec.role in ("leg", "retry") else "exit"
            leg[f"{side}_micros"] += filled
            leg[f"{side}_cost_pico"] += self.orders.fill_cost_pico(rec)
            if not done:
                leg[f"pending_{side}"].append(cid)
            if not done and side == "exit":
                leg["exit_cover_micros"] += max(0, rec.size_micros - filled)
            if side == "exit":
                leg["exits"] += 1
                leg["last_exit_ns"] = max(leg["last_exit_ns"] or 0, rec.created_ns)
        return [LegFill(**{**a, "pending_entry": tuple(a["pending_entry"]),
                           "pending_exit": tuple(a["pending_exit"]),
                           "held_micros": self.positions.position(leg.token_id).qty_micros})
                for a, leg in zip(acc, opp.legs, strict=True)]

    # ---- snapshot -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The whole execution state as canonical JSON-able data (config excluded)."""
        return {
            "opportunities": msgspec.to_builtins(self._s, order="sorted"),
            "orders": self.orders.snapshot(),
            "positions": self.positions.snapshot(),
        }

    @classmethod
    def restore(cls, data: dict[str, Any], config: ExecutionConfig | None = None) -> Execution:
        """Rebuild from snapshot() output.

        Raises:
            msgspec.ValidationError: data is not an execution snapshot.
            KeyError: a part is missing.
        """
        ex = cls(config)
        ex._s = msgspec.convert(data["opportunities"], _State)
        ex.orders.restore(data["orders"])
        ex.positions.restore(data["positions"])
        return ex

    # ---- internals ----------------------------------------------------------------------

    def _after(self, results: list[ExecResult], ts_ns: int, ctx: MarketContext,
               cause_seq: int) -> Step:
        step = Step(results=list(results))
        touched = {r.opp_id for r in results if r.opp_id in self._s.opps}
        for opp_id in sorted(touched, key=lambda o: self._s.opps[o].seq):
            step.extend(self._assess(self._s.opps[opp_id], ts_ns, ctx, cause_seq))
        return step

    def _assess(self, opp: OppRecord, ts_ns: int, ctx: MarketContext, cause_seq: int) -> Step:
        fills = self.leg_fills(opp)
        plan = assess(opp, fills, self.config.unwind, self.config.dust_micros, ts_ns, ctx)
        step = Step()
        if plan.action == "balanced":
            opp.legged_since_ns = None
            if plan.cancel:
                self._cancel(opp, plan.cancel, "unwind timeout", ts_ns, cause_seq, step)
            exits = tuple(c for f in fills for c in f.pending_exit)
            if exits:  # balanced again (a late entry fill): open exits would unbalance it
                self._cancel(opp, exits, "legs balanced again", ts_ns, cause_seq, step)
            elif not any(f.pending_entry for f in fills):
                self._settle(opp, fills, ts_ns, step)
            return step
        if opp.legged_since_ns is None:
            opp.legged_since_ns = ts_ns
        if plan.action != "wait" or plan.cancel:
            self._fail_once(opp, ts_ns, step, "legged")
            self._s.active[opp.opp_id] = opp.seq
        self._act(opp, plan, ts_ns, cause_seq, ctx, step)
        return step

    def _act(self, opp: OppRecord, plan: Plan, ts_ns: int, cause_seq: int, ctx: MarketContext,
             step: Step) -> None:
        if plan.cancel:
            opp.escalated = True
            self._cancel(opp, plan.cancel, "unwind timeout", ts_ns, cause_seq, step)
        if plan.action == "stuck" and not opp.stuck:
            opp.stuck = True
            step.results.append(ExecResult(kind="unwind_stuck", ts_ns=ts_ns, opp_id=opp.opp_id,
                                           detail=plan.reason))
        if plan.action not in ("retry_leg", "sell_legs"):
            return
        intents = []
        for p in plan.orders:
            order_type = (self.config.order_type if p.role == "retry"
                          else self.config.unwind.exit_order_type)
            intent = order_intent(self.orders, p.token_id, p.side, p.price_micros,
                                  p.size_micros, order_type, ctx)
            self.orders.add(intent, opp.opp_id, p.role, p.leg, ts_ns)
            opp.orders.append(intent.client_order_id)
            intents.append(intent)
        if plan.action == "retry_leg":
            opp.retries += 1
        else:
            opp.exit_rounds += 1
        step.decisions.append(Unwind(
            ts_recv_ns=ts_ns, cause_seq=cause_seq, opp_id=opp.opp_id, action=plan.action,
            orders=tuple(intents), max_loss_micros=plan.max_loss_micros, reason=plan.reason))

    @staticmethod
    def _cancel(opp: OppRecord, ids: tuple[str, ...], reason: str, ts_ns: int, cause_seq: int,
                step: Step) -> None:
        fresh = tuple(c for c in ids if c not in opp.cancel_sent)
        if fresh:
            opp.cancel_sent.extend(fresh)
            step.decisions.append(CancelOrders(ts_recv_ns=ts_ns, cause_seq=cause_seq,
                                               client_order_ids=fresh, reason=reason))

    def _settle(self, opp: OppRecord, fills: list[LegFill], ts_ns: int, step: Step) -> None:
        if self._s.active.pop(opp.opp_id, None) is None:
            return  # settled before; a late duplicate changed nothing
        if opp.outcome:
            if opp.outcome == "failed" and (opp.retries or opp.exit_rounds):
                step.results.append(ExecResult(kind="unwind_done", ts_ns=ts_ns,
                                               opp_id=opp.opp_id))
            return
        low = min(f.net_micros for f in fills)
        dust = self.config.dust_micros
        if low <= dust:
            self._fail_once(opp, ts_ns, step, "nothing filled")
            return
        target_met = all(f.net_micros >= leg.size_micros - dust
                         for f, leg in zip(fills, opp.legs, strict=True))
        opp.outcome = "filled" if target_met else "partial"
        self._s.outcomes[opp.outcome] = self._s.outcomes.get(opp.outcome, 0) + 1
        self._s.consecutive_failures = 0
        step.results.append(ExecResult(kind="execution_ok", ts_ns=ts_ns, opp_id=opp.opp_id,
                                       size_micros=low, detail=opp.outcome))

    def _fail_once(self, opp: OppRecord, ts_ns: int, step: Step, why: str) -> None:
        if opp.outcome:
            return
        opp.outcome = "failed"
        self._s.outcomes["failed"] = self._s.outcomes.get("failed", 0) + 1
        self._s.consecutive_failures += 1
        step.results.append(ExecResult(kind="execution_failed", ts_ns=ts_ns, opp_id=opp.opp_id,
                                       detail=why))
