# The engine: the deterministic reducer that folds journaled inputs into state and decisions.
# docs/core.md describes the state, the inputs, the decisions and their order in full.
#
# Rules:
# 1. `apply(seq, event)` takes one journaled record and returns the decisions it causes, in a
#    deterministic order; each carries the input's ts_recv_ns and seq (cause_seq). Nothing here
#    does I/O or reads a clock, randomness or the environment: time is the events' ts_recv_ns,
#    ids come from counters in state. apply never raises on bad input: a bad frame is a
#    FrameRejected, a refused market a MarketRejected, a bad venue event is counted and ignored.
# 2. Records that are not inputs (decisions, journal notes) are ignored: replay feeds the whole
#    journal and compares what apply returns with the decisions that were journaled.
# 3. For a market frame: parse -> books -> registry facts (tick size, resolution) -> breaker
#    (feed health) -> detection on the touched tokens only -> for each candidate:
#    OpportunityDetected, then either OpportunityBlocked or PlaceOrders. Gates in order:
#    detect_only, crossed_book_disabled, in_flight (an opportunity of that market still
#    executing), then polyarb.core.risk's gates, which see open orders as if filled.
# 4. A book that crosses is a data anomaly: MarketData breaks it (ContinuityBroken) and the
#    engine sizes the crossing through a read-only view and reports it as a crossed_book
#    opportunity, traded only when detection.crossed_book_trading_enabled.
# 5. Dedupe: an opportunity (strategy, market, first leg) with the same size and limit prices
#    as its last report is not reported again while it stays on the book; once a frame shows
#    the market without it, it is forgotten.
# 6. Unwinds and cancels always pass, even while HALTED: they reduce exposure, and a halt must
#    not leave a naked leg. Venue responses go to execution; its results feed the breaker
#    (polyarb/core/engine_breaker.py).
# 7. snapshot() is canonical (sorted keys); restore(snapshot()) continues identically; state_hash
#    is the SHA-256 of the snapshot bytes. Config is not state: restore takes it as an argument.
#    The state side (stats, snapshot, checkpoint, loading a snapshot) is engine_state.py's
#    EngineState, a base class: cold code, kept off the per-frame path.
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from polyarb.core import detection, risk
from polyarb.core.breaker import Breaker
from polyarb.core.config import EngineConfig
from polyarb.core.engine_breaker import BreakerWatch
from polyarb.core.engine_state import EngineState, Sig, checked_snapshot
from polyarb.core.engine_views import CrossedView, MarketContext, PendingExposure
from polyarb.core.exec_common import Step
from polyarb.core.execution import Execution
from polyarb.core.lots import fit_to_cents
from polyarb.core.marketdata import CROSSED, CROSSED_SNAPSHOT, MarketData
from polyarb.core.markets import MarketRegistry
from polyarb.core.stats import RunCounters
from polyarb.core.types import Block, BookView, Candidate
from polyarb.core.wire_types import (
    MarketResolved,
    TickSizeChange,
    WireMessage,
)
from polyarb.events.base import Decision, Event, Input
from polyarb.events.decisions import (
    ContinuityBroken,
    FrameRejected,
    MarketRejected,
    OpportunityBlocked,
    OpportunityDetected,
)
from polyarb.events.inputs import (
    CancelFailed,
    ClockTick,
    HeartbeatResult,
    MarketsLoaded,
    OperatorCommand,
    OrderAccepted,
    OrderCancelled,
    OrderOutcomeUnknown,
    OrderRejected,
    OrderUpdated,
    RawFrame,
    TradeUpdated,
)

_VENUE_EVENTS = (OrderAccepted, OrderRejected, OrderOutcomeUnknown, OrderCancelled,
                 CancelFailed, OrderUpdated, TradeUpdated)
_CROSSED = (CROSSED, CROSSED_SNAPSHOT)
_POSITION_RESULTS = ("fill", "fill_voided", "resolved")


class Engine(EngineState):
    """The reducer. Mutable, like h11's Connection; deterministic, like a pure function.

    Args:
        config: every knob of the core; EngineConfig() defaults when omitted.
    """

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = EngineConfig() if config is None else config
        self._risk = self.config.risk_config()
        self.registry = MarketRegistry()
        self.md = MarketData()
        self.breaker = Breaker(self.config.breaker)
        self.execution = Execution(self.config.execution)
        self.counters = RunCounters()
        self._opp_no = 0
        # Dedupe memory: market or group id -> "strategy:first token" -> signature.
        self._last_sig: dict[str, dict[str, Sig]] = {}
        self._ctx = MarketContext(self.md, self.registry)
        # Sizers detection hands out with its candidates (detection rule 9); per input only.
        self._sized: list[tuple[Candidate, detection.Sizer]] = []
        self._watch = BreakerWatch(self.breaker, self.execution, self.md)

    # ---- the reducer ---------------------------------------------------------------------

    def apply(self, seq: int, event: Event) -> list[Decision]:
        """Fold one journaled record and return the decisions it causes.

        Args:
            seq: the record's journal seq (decisions carry it as cause_seq).
            event: any journaled record; records that are not inputs cause nothing.

        Returns:
            The decisions, in the order docs/core.md ("Order of decisions") describes.
        """
        if type(event) is RawFrame:
            return self._on_frame(seq, event)
        if not isinstance(event, Input):
            return []
        if isinstance(event, _VENUE_EVENTS):
            return self._forward(self.execution.handle(event, self._ctx, seq), event, seq)
        if type(event) is ClockTick:
            return self._on_tick(seq, event)
        if type(event) is MarketsLoaded:
            return self._on_markets(seq, event)
        if type(event) is OperatorCommand:
            return list(self.breaker.observe_operator(event.command, event.reason,
                                                      event.ts_recv_ns, seq))
        if type(event) is HeartbeatResult:
            return list(self.breaker.observe_heartbeat(event.ok, event.ts_recv_ns, seq))
        return []  # run lifecycle, connections, subscriptions, REST snapshots: facts only

    def _on_frame(self, seq: int, ev: RawFrame) -> list[Decision]:
        ts = ev.ts_recv_ns
        if ev.channel != "market":
            return []  # the user channel is folded from its parsed events (OrderUpdated, ...)
        self.counters.updates += 1
        if ev.binary:
            return [FrameRejected(ts_recv_ns=ts, cause_seq=seq, reason="binary frame")]
        touched, feed, messages = self.md.apply_raw(ev.frame, ev.text, ts, seq)
        if not feed and not messages:  # book changes only, nothing broke: the hot path
            return self._detect(touched, ts, seq) if touched else []
        out: list[Decision] = list(feed)
        if messages:
            out.extend(self._market_facts(messages, ev, seq))
        if feed:
            out.extend(self._watch.feed(feed, ts, seq))
        if touched:
            out.extend(self._detect(touched, ts, seq))
        if feed:
            out.extend(self._crossed(feed, ts, seq))
        return out

    def _market_facts(self, messages: Iterable[WireMessage], ev: RawFrame,
                      seq: int) -> list[Decision]:
        """Registry updates from the feed; a resolution also settles our positions."""
        out: list[Decision] = []
        for msg in messages:
            if type(msg) is TickSizeChange:
                self.registry.set_tick_size(msg.token_id, msg.new_tick_micros)
            elif type(msg) is MarketResolved and self.registry.resolve(
                    msg.market, msg.winning_asset_id):
                info = self.registry.market(msg.market)
                assert info is not None  # resolve() returned True: the market is known
                results = self.execution.positions.register((info,), ev.ts_recv_ns)
                out.extend(self._forward(Step(results=results), ev, seq))
        return out

    def _on_tick(self, seq: int, ev: ClockTick) -> list[Decision]:
        ts = ev.ts_recv_ns
        out: list[Decision] = list(self.md.check_stale(ts, self.config.max_feed_silence_ns, seq))
        out.extend(self._watch.feed(out, ts, seq))
        out.extend(self.breaker.tick(ts, seq))
        out.extend(self._forward(self.execution.on_tick(ts, self._ctx, seq), ev, seq))
        return out

    def _on_markets(self, seq: int, ev: MarketsLoaded) -> list[Decision]:
        ts = ev.ts_recv_ns
        out: list[Decision] = [
            MarketRejected(ts_recv_ns=ts, cause_seq=seq, condition_id=r.condition_id,
                           reason=r.reason)
            for r in self.registry.apply_markets_loaded(ev)
        ]
        # Positions learn only the markets the registry took: a refused market (clashing
        # tokens, bad metadata) must not remap tokens behind the registry's back.
        kept = tuple(m for m in ev.markets if self.registry.market(m.condition_id) == m)
        if len(kept) != len(ev.markets):
            ev = msgspec.structs.replace(ev, markets=kept)
        out.extend(self._forward(self.execution.handle(ev, self._ctx, seq), ev, seq))
        return out

    # ---- detection -> gates -> orders ------------------------------------------------------

    def _detect(self, touched: tuple[str, ...], ts: int, seq: int) -> list[Decision]:
        books, keep = self.md.books, self._keep_sizer
        if not self._last_sig:  # nothing to forget: the hot path skips the evaluation hook
            found = detection.detect(self.registry, books, touched, self.config.detection,
                                     on_sized=keep)
        else:
            evaluated: list[str] = []
            found = detection.detect(self.registry, books, touched, self.config.detection,
                                     on_evaluate=evaluated.append, on_sized=keep)
            self._forget_gone(evaluated, found)
        if not found:
            return []
        return self._report(found, books, ts, seq, self.config.dedupe_opportunities)

    def _keep_sizer(self, cand: Candidate, sizer: detection.Sizer) -> None:
        self._sized.append((cand, sizer))

    def _crossed(self, feed: tuple[Decision, ...], ts: int, seq: int) -> list[Decision]:
        """Report books that just broke by crossing as crossed_book opportunities."""
        views: dict[str, BookView] = {}
        for d in feed:
            if type(d) is ContinuityBroken and d.reason in _CROSSED:
                book = self.md.book(d.token_id)
                if book is not None:
                    views[d.token_id] = CrossedView(book)
        if not views:
            return []
        found = [c for c in detection.detect(self.registry, views, tuple(views),
                                             self.config.detection, on_sized=self._keep_sizer)
                 if c.strategy == "crossed_book"]
        # Never deduped: a book breaks once per epoch, so each report is a new crossing.
        return self._report(found, views, ts, seq, dedupe=False)

    def _report(self, found: list[Candidate], books: Mapping[str, BookView], ts: int, seq: int,
                dedupe: bool) -> list[Decision]:
        out: list[Decision] = []
        sized = self._sized[:]  # (candidate, its Sizer), matched by identity below
        self._sized.clear()
        exposure: risk.MemoExposure | None = None  # one per state: new after orders are placed
        for cand in found:
            if dedupe and self._is_repeat(cand):
                continue
            if exposure is None:
                exposure = risk.MemoExposure(
                    PendingExposure(self.execution.positions, self.execution.orders))
            scope = risk.scope_of(cand, self.registry)  # re-sizing keeps the tokens
            if detection.tradable(cand, self.config.detection):
                sizer = next((s for c, s in sized if c is cand), None)
                cand = self._fit(cand, books, exposure, scope, sizer)
            self._opp_no += 1
            self.counters.opportunities += 1
            opp = OpportunityDetected(
                ts_recv_ns=ts, cause_seq=seq, opp_id=f"{self.config.execution.client_id_prefix}"
                f"-x{self._opp_no}", strategy=cand.strategy, market_id=cand.market_id,
                legs=cand.legs, size_micros=cand.size_micros, cost_micros=cand.cost_micros,
                fees_micros=cand.fees_micros, edge_micros=cand.edge_micros)
            out.append(opp)
            taken = self._take(opp, cand, exposure, scope, ts, seq)
            if taken and type(taken[0]) is not OpportunityBlocked:
                exposure = None  # orders were placed: pending buys changed
            out.extend(taken)
        return out

    def _fit(self, cand: Candidate, books: Mapping[str, BookView], exposure: risk.MemoExposure,
             scope: risk.Scope, sizer: detection.Sizer | None) -> Candidate:
        """Shrink a candidate to the risk limits' capacity when a smaller size still pays."""
        def resize(c: Candidate, cap: int) -> Candidate | None:
            if sizer is not None:  # the same legs, books unchanged: what resize would return
                return sizer.size(cap)
            return detection.resize(c, self.registry, books, self.config.detection,
                                    cap_size_micros=cap)

        cap = risk.capacity_micros(cand, exposure, self.breaker.state, self._risk,
                                   scope.group_id, token_market=scope.token_market)
        if 0 < cap < cand.size_micros:
            cand = resize(cand, cap) or cand  # None: refused outright, the gates will say why
        if cand.strategy == "crossed_book":
            return cand
        # Whole-cent collateral per BUY leg, or the venue rounds a leg short (core/lots.py)
        return fit_to_cents(cand, resize) or cand

    def _is_repeat(self, cand: Candidate) -> bool:
        key = f"{cand.strategy}:{cand.legs[0].token_id}"
        sig = (cand.size_micros, tuple(g.limit_price_micros for g in cand.legs))
        sigs = self._last_sig.setdefault(cand.market_id, {})
        if sigs.get(key) == sig:
            return True
        sigs[key] = sig
        return False

    def _forget_gone(self, evaluated: list[str], found: list[Candidate]) -> None:
        """Drop the dedupe memory of opportunities that the evaluated markets no longer show.

        "Reported once" holds across consecutive frames only: an opportunity that vanished and
        came back, even identical, is reported (and may be traded) again.
        """
        live = {(c.market_id, f"{c.strategy}:{c.legs[0].token_id}") for c in found}
        for market_id in evaluated:
            sigs = self._last_sig.get(market_id)
            if sigs is None:
                continue
            kept = {k: v for k, v in sigs.items() if (market_id, k) in live}
            if kept:
                self._last_sig[market_id] = kept
            else:
                del self._last_sig[market_id]

    def _take(self, opp: OpportunityDetected, cand: Candidate, exposure: risk.MemoExposure,
              scope: risk.Scope, ts: int, seq: int) -> list[Decision]:
        block = self._gate(cand, exposure, scope)
        if block is not None:
            self.counters.blocked += 1
            return [OpportunityBlocked(
                ts_recv_ns=ts, cause_seq=seq, opp_id=opp.opp_id, gate=block.gate,
                limit=risk.gate_value(block.gate, block.limit),
                observed=risk.gate_value(block.gate, block.observed), reason=block.reason)]
        return list(self.execution.place(opp, self._ctx))

    def _gate(self, cand: Candidate, exposure: risk.MemoExposure,
              scope: risk.Scope) -> Block | None:
        if self.config.detect_only:
            return Block(gate="detect_only", limit=0, observed=1, reason="detect-only mode")
        if not detection.tradable(cand, self.config.detection):
            return Block(gate="crossed_book_disabled", limit=0, observed=1,
                         reason="crossed book: a data anomaly; trading it is disabled")
        if cand.market_id in self.execution.active_markets():
            return Block(gate="in_flight", limit=0, observed=1,
                         reason="an opportunity on this market is still executing")
        return risk.check(cand, exposure, self.breaker.state, self._risk, scope.group_id,
                          token_market=scope.token_market,
                          venue_min_size_micros=scope.venue_min_size_micros)

    # ---- execution results -> breaker ------------------------------------------------------

    def _forward(self, step: Step, ev: Input, seq: int) -> list[Decision]:
        out: list[Decision] = list(step.decisions)
        if step.results:
            out.extend(self._watch.results(step.results, ev.ts_recv_ns, seq))
        return out

    @classmethod
    def restore(cls, data: dict[str, Any] | bytes, config: EngineConfig | None = None) -> Engine:
        """Rebuild an engine from snapshot() (or its bytes); it continues identically.

        Args:
            data: snapshot() output, snapshot_bytes() or a StateCheckpoint's state bytes.
            config: the run's config (a snapshot holds state only).

        Raises:
            ValueError: the snapshot's version is not one this polyarb reads, or a part is
                malformed.
        """
        snap = checked_snapshot(data)
        eng = cls(config)
        eng._load(snap)
        return eng
