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
#                       more than dust; for a BUY leg at most the shares held, as fee shares
#                       withheld cannot be sold) and no repair order that may still fill for it
#                       (an exit of that leg, or a retry), for the unwind timeout to a tick,
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
from pathlib import Path

from polyarb.chaos.checks_exec import (
    check_naked_legs,
    check_risk_limits,
    check_unknown_resolved,
)
from polyarb.chaos.result import CheckResult, result
from polyarb.events.base import Record
from polyarb.events.decisions import BreakerTransitioned, OpportunityBlocked

__all__ = [
    "CheckResult",
    "check_breaker_halts",
    "check_journal",
    "check_naked_legs",
    "check_pnl",
    "check_replay",
    "check_risk_limits",
    "check_seqs",
    "check_unknown_resolved",
    "compare_pnl",
    "run_checks",
]


# --- 1. journal verify and seqs ----------------------------------------------------------------


def check_seqs(seqs: Sequence[int]) -> CheckResult:
    """Seqs are exactly 1..N in order (no gap, no repeat)."""
    problems = [f"seq {seq} at position {i + 1}" for i, seq in enumerate(seqs) if seq != i + 1]
    if not seqs:
        problems.append("the journal holds no record")
    return result("journal_verify", problems, f"seqs 1..{len(seqs)}")


def check_journal(root: Path, seqs: Sequence[int]) -> CheckResult:
    """verify_journal is clean and `seqs` (all records, read in order) are contiguous."""
    from polyarb.journal import verify_journal

    report = verify_journal(root)
    problems = [str(p) for p in report.problems]
    contiguous = check_seqs(seqs)
    return result("journal_verify", problems + list(contiguous.details),
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
    return result("replay", problems, f"{len(targets)} replay(s) of root and days")


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
    return result("breaker_halts", problems,
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
    return result("pnl", problems, f"realized {total} micros (engine), {sql[0]} (SQL)")


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
