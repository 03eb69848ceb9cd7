# The chaos run's invariant checks over a journal: each returns a named CheckResult with details.
#
# Rules:
# 1. Checks judge what polyarb journaled: inputs are folded through a fresh engine only to know
#    the state (positions, orders, legs) at each point (polyarb.chaos.fold); the decisions
#    judged are the journaled ones. Limits come from each run's journaled engine config.
# 2. Pure where possible: the record checks take an iterable of Records and do no I/O;
#    journal_verify, replay and pnl read the journal (they check the files and the SQL).
# 3. Time is event time (ts_recv_ns). A check never passes on missing data: an empty journal
#    fails journal_verify, and details name the seq (and ids) of every problem (first MAX_DETAILS).
# 4. The seven checks, by name:
#      journal_verify   verify_journal clean and seqs 1..N contiguous over the whole journal
#      replay           `polyarb replay ROOT` (and each day dir, when several) exits 0
#      risk_limits      every PlaceOrders order within the per-order limits (unwinds only reduce
#                       exposure: the gates let them through, so they are not judged here);
#                       after each placement the exposure (positions plus open buys) within
#                       every money limit and the open positions within max_open_positions
#      naked_legs       no opportunity with a naked leg (its net fill above the lowest leg's by
#                       more than dust) and no repair order that may still fill for it (an exit
#                       of that leg, or a retry), for the unwind timeout up to a clock tick,
#                       without an Unwind or CancelOrders of its orders since it was left so
#                       (by legging, or by its last repair order ending unfilled)
#      unknown_resolved every OrderOutcomeUnknown later answered (accepted, rejected, cancelled
#                       by client id) or its order in a known state at the end of the journal
#      breaker_halts    every breaker-gated OpportunityBlocked inside a journaled interval in the
#                       matching state; every transition starts from the state the last one left
#      pnl              realized P&L of `report pnl` (SQL) == the rebuilt engine's, to the micro,
#                       in total, per UTC day and per market
from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from polyarb.chaos.fold import Step, fold
from polyarb.core.engine_views import PendingExposure
from polyarb.core.exec_common import cost_up
from polyarb.events.base import Record
from polyarb.events.decisions import (
    BreakerTransitioned,
    CancelOrders,
    OpportunityBlocked,
    OrderIntent,
    PlaceOrders,
    Unwind,
)
from polyarb.events.inputs import (
    ClockTick,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
)

MAX_DETAILS = 20
_MICROS = 1_000_000
_RESOLVED_STATES = ("accepted", "partially_filled", "filled", "cancelled", "rejected")


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: its name, pass/fail, a one-line summary and the problems found."""

    name: str
    ok: bool
    summary: str
    details: tuple[str, ...] = ()


def _result(name: str, problems: list[str], summary: str) -> CheckResult:
    return CheckResult(name=name, ok=not problems, summary=summary,
                       details=tuple(problems[:MAX_DETAILS]))


# --- 1. journal verify and seqs ----------------------------------------------------------------


def check_seqs(seqs: Sequence[int]) -> CheckResult:
    """Seqs are exactly 1..N in order (no gap, no repeat)."""
    problems = [f"seq {seq} at position {i + 1}" for i, seq in enumerate(seqs) if seq != i + 1]
    if not seqs:
        problems.append("the journal holds no record")
    return _result("journal_verify", problems, f"seqs 1..{len(seqs)}")


def check_journal(root: Path, seqs: Sequence[int]) -> CheckResult:
    """verify_journal is clean and `seqs` (all records, read in order) are contiguous."""
    from polyarb.journal import verify_journal

    report = verify_journal(root)
    problems = [str(p) for p in report.problems]
    contiguous = check_seqs(seqs)
    return _result("journal_verify", problems + list(contiguous.details),
                   f"verify {'clean' if report.ok else 'NOT clean'}, {contiguous.summary}")


# --- 2. replay ---------------------------------------------------------------------------------


def check_replay(root: Path, timeout_s: float = 900.0) -> CheckResult:
    """`polyarb replay` of the root and of each day directory (when several) exits 0."""
    from polyarb.journal import layout

    days = layout.list_days(root)
    targets = [root, *(root / day for day in days)] if len(days) > 1 else [root]
    problems = []
    for target in targets:
        done = subprocess.run([sys.executable, "-m", "polyarb", "replay", str(target)],
                              capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            problems.append(f"replay {target.name}: exit {done.returncode}: {' | '.join(tail)}")
    return _result("replay", problems, f"{len(targets)} replay(s) of root and days")


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
    return _result("risk_limits", problems, f"{orders} orders checked")


# --- 4. naked legs -----------------------------------------------------------------------------


class _Naked:
    """Legged opportunities left without a repair order: since when (event time), and whether
    polyarb decided something (Unwind, CancelOrders) for them since."""

    def __init__(self) -> None:
        self.since: dict[str, int] = {}
        self.decided: set[str] = set()
        self.reported: set[str] = set()
        self.journaled: set[str] = set()  # client ids of journaled orders: only they can cover

    def update(self, step: Step, opp_ids: Sequence[str]) -> int:
        """Track which opportunities are naked and uncovered now; returns new episodes."""
        ex, dust = step.engine.execution, step.config.execution.dust_micros
        episodes = 0
        for opp_id in opp_ids:
            opp = ex.opportunity(opp_id)
            if opp is None:
                continue
            fills = ex.leg_fills(opp)
            low = min(f.net_micros for f in fills)
            retrying = any(getattr(ex.orders.get(c), "role", "") == "retry"
                           for f in fills for c in f.pending_entry if c in self.journaled)
            # naked: a leg above the lowest by more than dust; covered: that leg has an exit
            # pending, or a retry of a short leg is pending
            bare = [f for f in fills if f.net_micros - low > dust
                    and not self.journaled.intersection(f.pending_exit)]
            if not bare or retrying:
                self.since.pop(opp_id, None)
            elif opp_id not in self.since:  # a new episode: it needs a decision again
                self.since[opp_id] = step.event.ts_recv_ns
                self.decided.discard(opp_id)
                self.reported.discard(opp_id)
                episodes += 1
        return episodes

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
    return _result("naked_legs", problems, f"{episodes} legging episode(s)")


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
    return _result("unknown_resolved", problems, f"{len(unknown)} unknown outcome(s)")


# --- 6. breaker ----------------------------------------------------------------------------------

_GATE_STATE = {"breaker_halted": "HALTED", "breaker_reducing": "REDUCING"}


def check_breaker_halts(records: Iterable[Record]) -> CheckResult:
    """Breaker-gated blocks lie inside journaled breaker intervals (rule 4, breaker_halts)."""
    state, problems = "ACTIVE", []
    blocked = transitions = 0
    for rec in records:
        ev = rec.event
        if isinstance(ev, BreakerTransitioned):
            transitions += 1
            if ev.from_state != state:
                problems.append(f"seq {rec.seq}: transition from {ev.from_state} but the "
                                f"breaker was {state}")
            state = ev.to_state
        elif isinstance(ev, OpportunityBlocked) and ev.gate in _GATE_STATE:
            blocked += 1
            if _GATE_STATE[ev.gate] != state:
                problems.append(f"seq {rec.seq}: {ev.opp_id} blocked by {ev.gate} while the "
                                f"journaled breaker was {state}")
    return _result("breaker_halts", problems,
                   f"{blocked} breaker block(s), {transitions} transition(s)")


# --- 7. P&L ------------------------------------------------------------------------------------


def pnl_by_report(root: Path) -> tuple[int, dict[str, int], dict[str, int]]:
    """Realized P&L of `report pnl` (SQL): total, per UTC day, per market (nonzero only)."""
    from polyarb.reports.run_report import Window, run_report

    total = 0
    by_day: dict[str, int] = defaultdict(int)
    by_market: dict[str, int] = defaultdict(int)
    for row in run_report("pnl", [root], Window()).rows:
        realized = int(row[4])
        total += realized
        by_day[row[0].isoformat()] += realized
        by_market[str(row[1])] += realized
    return total, _nonzero(by_day), _nonzero(by_market)


def pnl_by_engine(root: Path) -> tuple[int, dict[str, int], dict[str, int], int]:
    """The rebuilt engine's realized P&L (total, per day, per market) and its mismatches."""
    from polyarb.runtime.rebuild import rebuild

    rebuilt = rebuild(root)
    if rebuilt.engine is None:
        return 0, {}, {}, rebuilt.mismatches
    pos = rebuilt.engine.execution.positions
    by_market: dict[str, int] = defaultdict(int)
    for token in sorted(pos.snapshot().get("tokens", {})):
        by_market[pos.market_of(token)] += pos.position(token).realized_micros
    return (pos.realized_micros(), _nonzero(pos.daily_realized()), _nonzero(by_market),
            rebuilt.mismatches)


def _nonzero(values: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in sorted(values.items()) if v}


PnlFigures = tuple[int, dict[str, int], dict[str, int]]


def compare_pnl(sql: PnlFigures, engine: PnlFigures) -> list[str]:
    """Every difference between two (total, per day, per market) realized P&L figures."""
    problems = []
    if sql[0] != engine[0]:
        problems.append(f"total: SQL {sql[0]} != engine {engine[0]}")
    for label, by_sql, by_engine in (("day", sql[1], engine[1]), ("market", sql[2], engine[2])):
        for key in sorted(set(by_sql) | set(by_engine)):
            if by_sql.get(key, 0) != by_engine.get(key, 0):
                problems.append(f"{label} {key}: SQL {by_sql.get(key, 0)} != engine "
                                f"{by_engine.get(key, 0)}")
    return problems


def check_pnl(root: Path) -> CheckResult:
    """Realized P&L from SQL equals the rebuilt engine's to the micro (rule 4, pnl)."""
    sql = pnl_by_report(root)
    total, by_day, by_market, _ = pnl_by_engine(root)
    problems = compare_pnl(sql, (total, by_day, by_market))
    return _result("pnl", problems, f"realized {total} micros (engine), {sql[0]} (SQL)")


# --- all ---------------------------------------------------------------------------------------


def run_checks(root: Path, *, replay: bool = True) -> list[CheckResult]:
    """All seven checks over the journal at `root`, in rule 4's order."""
    from polyarb.journal import iter_records

    records = list(iter_records(root))
    out = [check_journal(root, [r.seq for r in records])]
    if replay:
        out.append(check_replay(root))
    out += [check_risk_limits(records), check_naked_legs(records),
            check_unknown_resolved(records), check_breaker_halts(records), check_pnl(root)]
    return out
