# The chaos checks over orders and legs (risk_limits, naked_legs, unknown_resolved): see
# polyarb/chaos/checks.py for the rules every check follows and what each one means. They fold
# the journal (polyarb.chaos.fold) to know positions, orders and legs at each input, and judge
# the journaled decisions.
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from polyarb.chaos.fold import Step, fold
from polyarb.chaos.result import CheckResult, result
from polyarb.core.engine_views import PendingExposure
from polyarb.core.exec_common import cost_up
from polyarb.core.unwind import SIZE_STEP, LegFill, LegPlan
from polyarb.events.base import Record
from polyarb.events.decisions import CancelOrders, OrderIntent, PlaceOrders, Unwind
from polyarb.events.inputs import (
    ClockTick,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
)

_MICROS = 1_000_000
_RESOLVED_STATES = ("accepted", "partially_filled", "filled", "cancelled", "rejected")


# --- 3. risk limits ----------------------------------------------------------------------------


def _intent_problems(seq: int, kind: str, intent: OrderIntent, step: Step) -> list[str]:
    risk = step.config.risk
    out = []
    where = f"seq {seq} {kind} {intent.client_order_id}"
    notional = intent.price_micros * intent.size_micros // _MICROS
    if intent.size_micros > risk.max_order_size_micros:
        out.append(f"{where}: size {intent.size_micros} > max {risk.max_order_size_micros}")
    if intent.size_micros < risk.min_order_size_micros:
        out.append(f"{where}: size {intent.size_micros} < min {risk.min_order_size_micros}")
    if notional < risk.min_order_notional_micros:
        out.append(f"{where}: notional {notional} < min {risk.min_order_notional_micros}")
    return out


def _unfolded_buys(step: Step, placed: list[tuple[int, PlaceOrders]]) -> dict[str, int]:
    """Cost by market of journaled BUY orders the folded engine does not hold (a journal that
    diverges from its engine must not hide its orders from the exposure check)."""
    ex = step.engine.execution
    out: dict[str, int] = defaultdict(int)
    for _, batch in placed:
        for o in batch.orders:
            if o.side == "BUY" and ex.orders.get(o.client_order_id) is None:
                out[ex.positions.market_of(o.token_id)] += cost_up(o.price_micros, o.size_micros)
    return out


def _exposure_problems(step: Step, placed: list[tuple[int, PlaceOrders]]) -> list[str]:
    rc = step.config.risk_config()
    ex = step.engine.execution
    view = PendingExposure(ex.positions, ex.orders)
    extra = _unfolded_buys(step, placed)
    out = []
    seq = placed[0][0]
    total = view.total_exposure_micros() + sum(extra.values())
    if total > rc.max_total_exposure_micros:
        out.append(f"seq {seq}: total exposure {total} > {rc.max_total_exposure_micros}")
    markets = sorted({ex.positions.market_of(o.token_id) for _, p in placed for o in p.orders
                      if o.side == "BUY"})
    for market in markets:
        value = view.market_exposure_micros(market) + extra.get(market, 0)
        if value > rc.max_market_exposure_micros:
            out.append(f"seq {seq}: market {market} exposure {value} > "
                       f"{rc.max_market_exposure_micros}")
    groups = sorted({g for m in markets if (g := ex.positions.group_of(m)) is not None})
    for group in groups:
        value = view.group_exposure_micros(group) + sum(
            v for m, v in extra.items() if ex.positions.group_of(m) == group)
        if value > rc.max_group_exposure_micros:
            out.append(f"seq {seq}: group {group} exposure {value} > "
                       f"{rc.max_group_exposure_micros}")
    return out + _positions_problems(step, placed)


def _positions_problems(step: Step, placed: list[tuple[int, PlaceOrders]]) -> list[str]:
    # open positions as the gate counts them, from filled positions only (a lower bound of the
    # gate's view, which adds open buys): each placed opportunity buying into a market without
    # exposure opens one more
    pos = step.engine.execution.positions
    limit = step.config.risk_config().max_open_positions
    opens = sum(1 for _, p in placed if any(
        o.side == "BUY" and pos.market_exposure_micros(pos.market_of(o.token_id)) == 0
        for o in p.orders))
    held = pos.open_positions()
    if opens and held + opens > limit:
        return [f"seq {placed[0][0]}: {held} open positions + {opens} opened > {limit}"]
    return []


def check_risk_limits(records: Iterable[Record]) -> CheckResult:
    """No order outside the journaled risk limits (rule 4, risk_limits)."""
    problems: list[str] = []
    orders = 0
    for step in fold(records):
        placed = [(s, d) for s, d in step.decisions if isinstance(d, PlaceOrders)]
        for seq, dec in placed:
            orders += len(dec.orders)
            for intent in dec.orders:
                problems += _intent_problems(seq, "place_orders", intent, step)
        if placed:
            problems += _exposure_problems(step, placed)
    return result("risk_limits", problems, f"{orders} orders checked")


# --- 4. naked legs -----------------------------------------------------------------------------


class _Naked:
    """Legged opportunities left without a repair order: since when (event time), and whether
    polyarb decided something (Unwind, CancelOrders) for them since."""

    def __init__(self) -> None:
        self.since: dict[str, int] = {}
        self.decided: set[str] = set()
        self.reported: set[str] = set()
        self.journaled: set[str] = set()  # client ids of journaled orders: only they can cover
        # information, not judged: legs covered only by repair orders of unknown outcome
        self.on_unknown: dict[str, int] = {}
        self.longest_on_unknown_ns = 0

    def update(self, step: Step, opp_ids: Sequence[str]) -> int:
        """Track which opportunities are naked and uncovered now; returns new episodes."""
        ex, dust = step.engine.execution, step.config.execution.dust_micros
        episodes = 0
        for opp_id in opp_ids:
            opp = ex.opportunity(opp_id)
            if opp is None:
                continue
            fills = ex.leg_fills(opp)
            naked = [f for leg, f in zip(opp.legs, fills, strict=True)
                     if _excess(leg, f, fills) > dust]
            retrying = any(getattr(ex.orders.get(c), "role", "") == "retry"
                           for f in fills for c in f.pending_entry if c in self.journaled)
            # covered: a naked leg's exit is pending, or a retry of a short leg is pending
            bare = [f for f in naked if not self.journaled.intersection(f.pending_exit)]
            self._track_unknown(step, opp_id, fills, bool(naked), bool(bare) and not retrying)
            if not bare or retrying:
                self.since.pop(opp_id, None)
            elif opp_id not in self.since:  # a new episode: it needs a decision again
                self.since[opp_id] = step.event.ts_recv_ns
                self.decided.discard(opp_id)
                self.reported.discard(opp_id)
                episodes += 1
        return episodes

    def _track_unknown(self, step: Step, opp_id: str, fills: Sequence[LegFill], naked: bool,
                       uncovered: bool) -> None:
        orders = step.engine.execution.orders
        known = [c for f in fills for c in (*f.pending_entry, *f.pending_exit)
                 if c in self.journaled and (rec := orders.get(c)) is not None
                 and rec.role != "leg" and orders.state_of(rec) != "unknown"]
        now = step.event.ts_recv_ns
        if naked and not uncovered and not known:
            start = self.on_unknown.setdefault(opp_id, now)
            self.longest_on_unknown_ns = max(self.longest_on_unknown_ns, now - start)
        else:
            self.on_unknown.pop(opp_id, None)

    def journal(self, step: Step) -> None:
        """Note the step's journaled orders (before update: they cover from this step on)."""
        for _, dec in step.decisions:
            if isinstance(dec, (PlaceOrders, Unwind)):
                self.journaled.update(o.client_order_id for o in dec.orders)

    def decide(self, step: Step) -> None:
        """Note the step's repair decisions (after update: they answer its new episodes)."""
        ex = step.engine.execution
        for _, dec in step.decisions:
            if isinstance(dec, Unwind):
                self.decided.add(dec.opp_id)
            elif isinstance(dec, CancelOrders):
                for cid in dec.client_order_ids:
                    rec = ex.orders.get(cid)
                    if rec is not None:
                        self.decided.add(rec.opp_id)

    def tick(self, step: Step) -> None:
        """Let the unknown-covered durations grow with event time."""
        now = step.event.ts_recv_ns
        for start in self.on_unknown.values():
            self.longest_on_unknown_ns = max(self.longest_on_unknown_ns, now - start)

    def overdue(self, step: Step) -> list[str]:
        timeout = step.config.execution.unwind.timeout_ns
        now, out = step.event.ts_recv_ns, []
        for opp_id, since in sorted(self.since.items()):
            late = now - since >= timeout
            if late and opp_id not in self.decided and opp_id not in self.reported:
                self.reported.add(opp_id)
                out.append(f"seq {step.seq}: {opp_id} legged without a repair order since "
                           f"{since} for {(now - since) / 1e9:.1f} s (timeout "
                           f"{timeout / 1e9:.1f} s) and no unwind or cancel decided")
        return out


def _excess(leg: LegPlan, fill: LegFill, fills: Sequence[LegFill]) -> int:
    """A leg's naked shares: its net fill above the lowest leg's, for a BUY leg at most the
    shares held (shares withheld as fees cannot be sold), on the venue's 0.01 grid."""
    excess = fill.net_micros - min(f.net_micros for f in fills)
    if leg.side == "BUY" and fill.held_micros is not None:
        excess = min(excess, fill.held_micros)
    return max(0, excess) // SIZE_STEP * SIZE_STEP


_ORDER_INPUTS = ("order_accepted", "order_rejected", "order_outcome_unknown", "order_cancelled",
                 "order_updated", "trade_updated", "markets_loaded", "cancel_failed")


def check_naked_legs(records: Iterable[Record]) -> CheckResult:
    """No naked leg older than the unwind timeout without a repair (rule 4, naked_legs)."""
    naked, problems = _Naked(), []
    opps: dict[str, None] = {}  # every placed opportunity, in order (a void can re-leg one)
    episodes = 0
    for step in fold(records):
        opps.update((d.opp_id, None) for _, d in step.decisions if isinstance(d, PlaceOrders))
        naked.journal(step)
        if _tag(step.event) in _ORDER_INPUTS or step.decisions:
            episodes += naked.update(step, list(opps))
        naked.decide(step)
        if isinstance(step.event, ClockTick):
            problems += naked.overdue(step)
            naked.tick(step)
    return result("naked_legs", problems,
                  f"{episodes} legging episode(s); longest covered only by orders of unknown "
                  f"outcome {naked.longest_on_unknown_ns / 1e9:.1f} s")


def _tag(ev: object) -> str:
    return str(type(ev).__struct_config__.tag)  # type: ignore[attr-defined]


# --- 5. unknown outcomes -----------------------------------------------------------------------


def check_unknown_resolved(records: Iterable[Record]) -> CheckResult:
    """Every OrderOutcomeUnknown resolved later (rule 4, unknown_resolved)."""
    unknown: dict[str, int] = {}  # client id -> seq of its (first open) unknown
    answered: set[str] = set()
    last: Step | None = None
    for step in fold(records):
        ev = step.event
        if isinstance(ev, OrderOutcomeUnknown):
            unknown.setdefault(ev.client_order_id, step.seq)
            answered.discard(ev.client_order_id)
        elif (isinstance(ev, (OrderAccepted, OrderRejected, OrderCancelled))
              and ev.client_order_id in unknown):
            answered.add(ev.client_order_id)
        last = step
    problems = []
    for cid, seq in sorted(unknown.items(), key=lambda kv: kv[1]):
        if cid in answered:
            continue
        orders = last.engine.execution.orders if last is not None else None
        rec = orders.get(cid) if orders is not None else None
        state = orders.state_of(rec) if orders is not None and rec is not None else "missing"
        if state not in _RESOLVED_STATES:
            problems.append(f"seq {seq}: {cid} unknown, still {state} at the end")
    return result("unknown_resolved", problems, f"{len(unknown)} unknown outcome(s)")
