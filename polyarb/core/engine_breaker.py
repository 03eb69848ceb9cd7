# Breaker watch: what the engine tells the circuit breaker after each input. Part of
# polyarb.core.engine (see its rules); split out to keep the reducer short.
#
# Rules (polyarb/core/execution.py rule 5 lists the same forwarding from execution's side):
# 1. Execution results: a rejection -> observe_rejection only when its code (RejectCode, set by
#    the venue adapter; the core never reads the venue's words) says the venue judged the order:
#    invalid, absent, other. A FOK/FAK kill (`killed`) is the market moving and a refusal of the
#    whole request (`rate_limited`, `venue_unavailable`) is the venue's state, not a bad order
#    (UNCOUNTED_CODES): each already makes its opportunity one failed execution, which feeds the
#    consecutive-failures trip. An execution outcome -> observe_execution; a fill, void or
#    resolution -> realized P&L, open positions, the exposure of every market it touched (sorted
#    ids) and the feed health of its tokens; then, after any venue event, the unknown-outcome
#    and resting-order counts.
# 2. Feed health: a ContinuityBroken (crossed, mismatch, tick size change, lost update, stale)
#    of a token we could lose money on (positive exposure: a hedged set needs no book) is a
#    broken feed; any ContinuityRestored releases its token while the feed trip is armed. A token
#    whose exposure goes to zero stops counting, even while its book is still broken.
# 3. Only breaker calls that change the state return a BreakerTransitioned; the order of the
#    calls above is the order of the transitions in the decision stream.
from __future__ import annotations

from collections.abc import Iterable

from polyarb.core.breaker import Breaker
from polyarb.core.exec_common import ExecResult
from polyarb.core.execution import Execution
from polyarb.core.marketdata import MarketData
from polyarb.events.base import Decision
from polyarb.events.decisions import BreakerTransitioned, ContinuityBroken, ContinuityRestored
from polyarb.events.inputs import RejectCode

_POSITION_RESULTS = ("fill", "fill_voided", "resolved")
# Rejection codes that do NOT count toward the rejected-order rate (rule 1); every other code
# (invalid, absent, other) counts, so a code this table does not know errs on the safe side.
UNCOUNTED_CODES: tuple[RejectCode, ...] = ("killed", "rate_limited", "venue_unavailable")


def counts_as_rejection(code: str) -> bool:
    """Whether a rejection with this code counts toward the rejected-order-rate trip (rule 1).

    Args:
        code: the OrderRejected's code, as carried by the rejection result's detail.
    """
    return code not in UNCOUNTED_CODES


class BreakerWatch:
    """Feeds the breaker from execution results and feed decisions (rules 1-2)."""

    __slots__ = ("_breaker", "_ex", "_md")

    def __init__(self, breaker: Breaker, execution: Execution, md: MarketData) -> None:
        self._breaker, self._ex, self._md = breaker, execution, md

    def results(self, results: list[ExecResult], ts: int,
                seq: int) -> list[BreakerTransitioned]:
        """Observe what one input's execution established; returns the transitions."""
        b, orders = self._breaker, self._ex.orders
        out: list[BreakerTransitioned] = []
        for r in results:
            if r.kind == "rejection" and counts_as_rejection(r.detail):
                out.extend(b.observe_rejection(r.ts_ns, seq))
            elif r.kind in ("execution_ok", "execution_failed"):
                out.extend(b.observe_execution(r.kind == "execution_ok", r.ts_ns, seq))
        if any(r.kind in _POSITION_RESULTS for r in results):
            out.extend(self._positions(results, ts, seq))
        out.extend(b.observe_unknown_outcomes(orders.unknown_outstanding(), ts, seq))
        out.extend(b.observe_resting_orders(orders.resting_orders(), ts, seq))
        return out

    def _positions(self, results: list[ExecResult], ts: int,
                   seq: int) -> list[BreakerTransitioned]:
        b, pos = self._breaker, self._ex.positions
        out = list(b.observe_realized_pnl(pos.realized_micros(), ts, seq))
        out.extend(b.observe_open_positions(pos.open_positions(), ts, seq))
        tokens = sorted({r.token_id for r in results
                         if r.kind in _POSITION_RESULTS and r.token_id})
        for market_id in sorted({pos.market_of(t) for t in tokens}):
            group = pos.group_of(market_id)
            out.extend(b.observe_exposure(
                market_id, pos.market_exposure_micros(market_id), group,
                0 if group is None else pos.group_exposure_micros(group),
                pos.total_exposure_micros(), ts, seq))
        armed = "feed_broken" in b.armed_gates()
        for token in tokens:  # exposure won or lost changes what the feed rule sees
            book = self._md.book(token)
            broken = (book is not None and not book.usable
                      and pos.token_exposure_micros(token) > 0)
            if broken or armed:
                out.extend(b.observe_feed(token, broken, ts, seq))
                armed = "feed_broken" in b.armed_gates()
        return out

    def feed(self, feed: Iterable[Decision], ts: int, seq: int) -> list[BreakerTransitioned]:
        """Observe the continuity decisions of one input; returns the transitions."""
        pos = self._ex.positions
        armed = "feed_broken" in self._breaker.armed_gates()
        out: list[BreakerTransitioned] = []
        for d in feed:
            if type(d) is ContinuityBroken:
                # Only tokens we could lose money on: a hedged set needs no book.
                if pos.token_exposure_micros(d.token_id) > 0:
                    out.extend(self._breaker.observe_feed(d.token_id, True, ts, seq))
                    armed = "feed_broken" in self._breaker.armed_gates()
            elif type(d) is ContinuityRestored and armed:
                # Any restore may release the trip, whether or not we still hold the token.
                out.extend(self._breaker.observe_feed(d.token_id, False, ts, seq))
                armed = "feed_broken" in self._breaker.armed_gates()
        return out
