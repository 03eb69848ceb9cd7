# The engine: the deterministic reducer that folds journaled inputs into state and decisions.
#
# Rules:
# 1. `apply(seq, event)` takes one journaled record and returns the decisions it causes, in a
#    deterministic order; each carries the input's ts_recv_ns and seq (cause_seq). Nothing here
#    does I/O or reads a clock, randomness or the environment: time is the events' ts_recv_ns,
#    ids come from counters in state.
# 2. Records that are not inputs (decisions, journal notes) are ignored: replay feeds the whole
#    journal and compares what apply returns with the decisions that were journaled.
# 3. For a market frame: parse -> books -> registry updates -> detection on the touched tokens
#    only -> for each candidate: OpportunityDetected, then either OpportunityBlocked (a gate, the
#    breaker, detect-only, crossed book, an opportunity already in flight on that market) or
#    PlaceOrders. Venue responses go to execution; its results feed the breaker.
# 4. Unwinds and cancels always pass: they reduce exposure, and a halt must not leave a naked leg.
# 5. snapshot() is canonical (sorted keys); restore(snapshot()) continues identically; state_hash
#    is the SHA-256 of the snapshot bytes.
from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from polyarb.core import detection, risk
from polyarb.core.book import Book
from polyarb.core.breaker import Breaker
from polyarb.core.config import EngineConfig
from polyarb.core.exec_common import ExecResult, Step
from polyarb.core.execution import Execution
from polyarb.core.marketdata import MarketData
from polyarb.core.markets import MarketRegistry
from polyarb.core.stats import RunCounters, RunStats
from polyarb.core.types import Block, Candidate
from polyarb.core.wire import parse_frame
from polyarb.core.wire_types import MarketResolved, TickSizeChange
from polyarb.events.base import Decision, Event, Input
from polyarb.events.decisions import (
    BreakerTransitioned,
    ContinuityBroken,
    ContinuityRestored,
    FrameRejected,
    MarketRejected,
    OpportunityBlocked,
    OpportunityDetected,
    StateCheckpoint,
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

SNAPSHOT_VERSION = 1
_VENUE_EVENTS = (OrderAccepted, OrderRejected, OrderOutcomeUnknown, OrderCancelled,
                 CancelFailed, OrderUpdated, TradeUpdated)
_FEED_DECISIONS = (ContinuityBroken, ContinuityRestored)


class _Context:
    """MarketContext for execution: books, tick sizes and neg-risk flags by token."""

    __slots__ = ("_md", "_reg")

    def __init__(self, md: MarketData, registry: MarketRegistry) -> None:
        self._md, self._reg = md, registry

    def book(self, token_id: str) -> Book | None:
        return self._md.book(token_id)

    def tick_size_micros(self, token_id: str) -> int:
        cid = self._reg.market_of(token_id)
        info = None if cid is None else self._reg.market(cid)
        return 10_000 if info is None else info.tick_size_micros

    def neg_risk(self, token_id: str) -> bool:
        cid = self._reg.market_of(token_id)
        info = None if cid is None else self._reg.market(cid)
        return False if info is None else info.neg_risk


class Engine:
    """The reducer. Mutable, like h11's Connection; deterministic, like a pure function."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = EngineConfig() if config is None else config
        self._risk = self.config.risk_config()
        self.registry = MarketRegistry()
        self.md = MarketData()
        self.breaker = Breaker(self.config.breaker)
        self.execution = Execution(self.config.execution)
        self.counters = RunCounters()
        self._opp_no = 0
        self._last_sig: dict[str, tuple[Any, ...]] = {}
        self._ctx = _Context(self.md, self.registry)

    # ---- the reducer ---------------------------------------------------------------------

    def apply(self, seq: int, event: Event) -> list[Decision]:
        """Fold one journaled record; return the decisions it causes (empty for non-inputs)."""
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
        result = parse_frame(ev.frame, ev.text)
        touched, feed = self.md.apply_frame(result, ts, seq)
        out: list[Decision] = list(feed)
        for msg in result.messages:
            if type(msg) is TickSizeChange:
                self.registry.set_tick_size(msg.token_id, msg.new_tick_micros)
            elif type(msg) is MarketResolved:
                self.registry.resolve(msg.market, msg.winning_asset_id)
        if feed:
            out.extend(self._observe_feed(feed, ts, seq))
        if touched:
            out.extend(self._detect(touched, ts, seq))
        return out

    def _on_tick(self, seq: int, ev: ClockTick) -> list[Decision]:
        ts = ev.ts_recv_ns
        out: list[Decision] = list(self.md.check_stale(ts, self.config.max_feed_silence_ns, seq))
        out.extend(self._observe_feed(out, ts, seq))
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
        out.extend(self._forward(self.execution.handle(ev, self._ctx, seq), ev, seq))
        return out

    # ---- detection -> gates -> orders ------------------------------------------------------

    def _detect(self, touched: tuple[str, ...], ts: int, seq: int) -> list[Decision]:
        found = detection.detect(self.registry, self.md.books, touched, self.config.detection)
        out: list[Decision] = []
        for cand in found:
            if self._is_repeat(cand):
                continue
            cand = self._fit(cand)
            self._opp_no += 1
            self.counters.opportunities += 1
            opp = OpportunityDetected(
                ts_recv_ns=ts, cause_seq=seq, opp_id=f"{self.config.execution.client_id_prefix}"
                f"-x{self._opp_no}", strategy=cand.strategy, market_id=cand.market_id,
                legs=cand.legs, size_micros=cand.size_micros, cost_micros=cand.cost_micros,
                fees_micros=cand.fees_micros, edge_micros=cand.edge_micros)
            out.append(opp)
            out.extend(self._take(opp, cand, ts, seq))
        return out

    def _fit(self, cand: Candidate) -> Candidate:
        """Shrink a candidate to the risk limits' capacity when a smaller size still pays."""
        cap = risk.capacity_micros(cand, self.execution.positions, self.breaker.state,
                                   self._risk, self._group(cand),
                                   token_market=_LegMarkets(self.registry))
        if cap >= cand.size_micros or cap <= 0:
            return cand  # fits, or refused outright: the gates will say why
        resized = detection.resize(cand, self.registry, self.md.books, self.config.detection,
                                   cap_size_micros=cap)
        return cand if resized is None else resized

    def _group(self, cand: Candidate) -> str | None:
        groups = self.registry.groups_of(cand.legs[0].token_id)
        return groups[0] if groups else None

    def _is_repeat(self, cand: Candidate) -> bool:
        if not self.config.dedupe_opportunities:
            return False
        key = f"{cand.strategy}:{cand.market_id}"
        sig = (cand.size_micros, tuple((g.limit_price_micros, g.epoch) for g in cand.legs))
        if self._last_sig.get(key) == sig:
            return True
        self._last_sig[key] = sig
        return False

    def _take(self, opp: OpportunityDetected, cand: Candidate, ts: int,
              seq: int) -> list[Decision]:
        block = self._gate(cand)
        if block is not None:
            self.counters.blocked += 1
            return [OpportunityBlocked(
                ts_recv_ns=ts, cause_seq=seq, opp_id=opp.opp_id, gate=block.gate,
                limit=risk.gate_value(block.gate, block.limit),
                observed=risk.gate_value(block.gate, block.observed), reason=block.reason)]
        return list(self.execution.place(opp, self._ctx))

    def _gate(self, cand: Candidate) -> Block | None:
        if not detection.tradable(cand, self.config.detection):
            return Block(gate="crossed_book_disabled", limit=0, observed=1,
                         reason="crossed-book trading is disabled")
        if self.config.detect_only:
            return Block(gate="detect_only", limit=0, observed=1, reason="detect-only mode")
        if cand.market_id in self.execution.active_markets():
            return Block(gate="in_flight", limit=0, observed=1,
                         reason="an opportunity on this market is still executing")
        return risk.check(
            cand, self.execution.positions, self.breaker.state, self._risk,
            self._group(cand), token_market=_LegMarkets(self.registry),
            venue_min_size_micros=self._min_size(cand))

    def _min_size(self, cand: Candidate) -> int:
        sizes = [info.min_order_size_micros for leg in cand.legs
                 if (cid := self.registry.market_of(leg.token_id)) is not None
                 and (info := self.registry.market(cid)) is not None]
        return max(sizes, default=0)

    # ---- execution results -> breaker ------------------------------------------------------

    def _forward(self, step: Step, ev: Input, seq: int) -> list[Decision]:
        out: list[Decision] = list(step.decisions)
        if step.results:
            out.extend(self._observe_results(step.results, ev.ts_recv_ns, seq))
        return out

    def _observe_results(self, results: list[ExecResult], ts: int,
                         seq: int) -> list[BreakerTransitioned]:
        b, pos, orders = self.breaker, self.execution.positions, self.execution.orders
        out: list[BreakerTransitioned] = []
        for r in results:
            if r.kind == "rejection":
                out.extend(b.observe_rejection(r.ts_ns, seq))
            elif r.kind in ("execution_ok", "execution_failed"):
                out.extend(b.observe_execution(r.kind == "execution_ok", r.ts_ns, seq))
        if any(r.kind in ("fill", "fill_voided", "resolved") for r in results):
            out.extend(b.observe_realized_pnl(pos.realized_micros(), ts, seq))
            out.extend(b.observe_open_positions(pos.open_positions(), ts, seq))
            for market_id in sorted({pos.market_of(r.token_id) for r in results if r.token_id}):
                group = pos.group_of(market_id)
                out.extend(b.observe_exposure(
                    market_id, pos.market_exposure_micros(market_id), group,
                    0 if group is None else pos.group_exposure_micros(group),
                    pos.total_exposure_micros(), ts, seq))
        out.extend(b.observe_unknown_outcomes(orders.unknown_outstanding(), ts, seq))
        out.extend(b.observe_resting_orders(orders.resting_orders(), ts, seq))
        return out

    def _observe_feed(self, feed: Any, ts: int, seq: int) -> list[BreakerTransitioned]:
        held = set(self.execution.positions.held_tokens())
        out: list[BreakerTransitioned] = []
        for d in feed:
            if isinstance(d, _FEED_DECISIONS) and d.token_id in held:
                broken = type(d) is ContinuityBroken
                out.extend(self.breaker.observe_feed(d.token_id, broken, ts, seq))
        return out

    # ---- state -----------------------------------------------------------------------------

    def stats(self) -> RunStats:
        """The seed's statistics line, from state only."""
        pos = self.execution.positions
        total = pos.realized_micros() + pos.unrealized_micros(self.md.book)
        cfg = self.config.breaker
        loss = self.breaker.day_loss_micros()
        return self.counters.stats(
            self.execution.outcome_counts(), total, loss, cfg.max_daily_loss_micros,
            pos.open_positions(), cfg.max_open_positions)

    def snapshot(self) -> dict[str, Any]:
        """The whole state as canonical JSON-able data."""
        return {
            "version": SNAPSHOT_VERSION,
            "registry": self.registry.snapshot(),
            "market_data": self.md.snapshot(),
            "breaker": self.breaker.snapshot(),
            "execution": self.execution.snapshot(),
            "counters": self.counters.snapshot(),
            "opp_no": self._opp_no,
            "last_sig": {k: [v[0], [list(x) for x in v[1]]]
                         for k, v in sorted(self._last_sig.items())},
        }

    def snapshot_bytes(self) -> bytes:
        """snapshot() encoded canonically (sorted keys)."""
        return msgspec.json.encode(self.snapshot(), order="sorted")

    def state_hash(self) -> str:
        """SHA-256 (hex) of snapshot_bytes()."""
        return hashlib.sha256(self.snapshot_bytes()).hexdigest()

    def checkpoint(self, at_seq: int, ts_recv_ns: int) -> StateCheckpoint:
        """A StateCheckpoint record of the current state (after folding `at_seq`)."""
        data = self.snapshot_bytes()
        return StateCheckpoint(ts_recv_ns=ts_recv_ns, at_seq=at_seq,
                               state_hash=hashlib.sha256(data).hexdigest(),
                               state=msgspec.Raw(data))

    @classmethod
    def restore(cls, data: dict[str, Any] | bytes, config: EngineConfig | None = None) -> Engine:
        """Rebuild an engine from snapshot() (or its bytes); it continues identically.

        Raises:
            ValueError: the snapshot's version is not one this polyarb reads.
        """
        snap: dict[str, Any] = msgspec.json.decode(data) if isinstance(data, bytes) else data
        if snap.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported engine snapshot version {snap.get('version')!r}")
        eng = cls(config)
        eng.registry = MarketRegistry.restore(snap["registry"])
        eng.md = MarketData.restore(snap["market_data"])
        eng.breaker = Breaker.restore(snap["breaker"], eng.config.breaker)
        eng.execution = Execution.restore(snap["execution"], eng.config.execution)
        eng.counters = RunCounters.restore(snap["counters"])
        eng._opp_no = int(snap["opp_no"])
        eng._last_sig = {k: (v[0], tuple(tuple(x) for x in v[1]))
                         for k, v in snap["last_sig"].items()}
        eng._ctx = _Context(eng.md, eng.registry)
        return eng


class _LegMarkets:
    """token id -> condition id, as the Mapping risk.check reads (only .get and [])."""

    __slots__ = ("_reg",)

    def __init__(self, registry: MarketRegistry) -> None:
        self._reg = registry

    def get(self, token_id: str, default: str | None = None) -> str | None:
        cid = self._reg.market_of(token_id)
        return default if cid is None else cid

    def __getitem__(self, token_id: str) -> str:
        cid = self._reg.market_of(token_id)
        if cid is None:
            raise KeyError(token_id)
        return cid
