# Determinism of the engine, as properties over random but valid input streams:
#   - replaying the same inputs twice gives byte-identical decisions (encode_event) and state;
#   - a snapshot at k, restored, plus the rest equals the replay from the start;
#   - every PlaceOrders stays within the books' depth at its limit prices and every risk limit;
#   - the same journal reduced in two subprocesses with different PYTHONHASHSEED values gives
#     byte-identical decision streams and state hashes.
#
# Streams come from a Driver that interprets drawn integers as actions (books that sometimes
# open arbitrage windows, price changes, venue responses to the orders the engine placed, late
# fills, cancels, clock ticks, operator commands, tick-size changes, garbage frames), feeding
# one engine as it goes so the responses answer real decisions. The concrete input list is then
# replayed on fresh engines.
from __future__ import annotations

import os
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.breaker import BreakerConfig
from polyarb.core.config import EngineConfig
from polyarb.core.detection import DetectionConfig
from polyarb.core.engine import Engine
from polyarb.core.exec_common import ExecutionConfig, cost_up
from polyarb.events import decode_event
from polyarb.events.base import Decision
from polyarb.events.decisions import (
    BreakerTransitioned,
    CancelOrders,
    OpportunityDetected,
    OrderIntent,
    PlaceOrders,
    Unwind,
)
from polyarb.events.inputs import (
    FeeSchedule,
    HeartbeatResult,
    OrderCancelled,
    RejectCode,
    RunStarted,
)
from polyarb.journal import JournalWriter
from tests.core.engine_helpers import (
    SEC,
    TICK,
    USD,
    Run,
    encoded,
    group_markets,
    kinds,
    market,
    price_change_msg,
    replay,
    tick_change_msg,
    venue_id,
)

_FEES = FeeSchedule(rate=Decimal("0.02"))
REJECT_CODES: tuple[RejectCode, ...] = ("killed", "rate_limited", "venue_unavailable", "invalid",
                                        "absent", "other")
MARKETS = [market("0xb1", "A1", "B1"), market("0xb2", "A2", "B2"),
           market("0xb3", "A3", "B3", fees=_FEES), *group_markets("0xgrp", 3)]
SETS = [("A1", "B1"), ("A2", "B2"), ("A3", "B3"), ("gY1", "gY2", "gY3")]
TOKENS = sorted({t.token_id for m in MARKETS for t in m.tokens})
CONFIGS = [
    EngineConfig(),
    EngineConfig(execution=ExecutionConfig(order_type="FAK", client_id_prefix="fak")),
    EngineConfig(detect_only=True),
    EngineConfig(detection=DetectionConfig(crossed_book_trading_enabled=True)),
    EngineConfig(breaker=BreakerConfig(max_total_exposure_micros=60 * USD,
                                       max_open_positions=1), dedupe_opportunities=False),
]
OPS = ("arb", "arb", "book", "change", "change", "change", "respond", "respond", "respond",
       "late", "cancel_ack", "clock", "clock", "operator", "tick_size", "garbage", "heartbeat",
       "resolve")

Op = tuple[int, int, int]
ops_strategy = st.lists(st.tuples(st.integers(0, len(OPS) - 1), st.integers(0, 2**16),
                                  st.integers(0, 2**16)), min_size=40, max_size=150)


class Driver:
    """Turns drawn integers into a valid input stream answering the engine's own decisions."""

    def __init__(self, config: EngineConfig) -> None:
        self.run = Run(config)
        self.new: list[OrderIntent] = []  # placed, no response yet
        self.open: list[OrderIntent] = []  # unknown outcome or resting: a late event may come
        self.cancels: list[str] = []
        self.fills = 0
        self.run.load(*MARKETS)

    def play(self, ops: list[Op]) -> Run:
        for op, a, b in ops:
            out = getattr(self, "_" + OPS[op])(a, random.Random(b))
            for d in out or ():
                self._note(d)
        return self.run

    def _note(self, d: Decision) -> None:
        if isinstance(d, (PlaceOrders, Unwind)):
            self.new.extend(d.orders)
        elif isinstance(d, CancelOrders):
            self.cancels.extend(d.client_order_ids)

    def _book_for(self, token: str, ask: int, rng: random.Random) -> list[Decision]:
        asks = [(ask + i * TICK, rng.randint(5, 80) * USD) for i in range(rng.randint(1, 3))]
        bid = max(TICK, ask - rng.randint(1, 6) * TICK)
        bids = [(bid - i * TICK, rng.randint(5, 80) * USD) for i in range(rng.randint(0, 3))
                if bid - i * TICK > 0]
        return self.run.book(token, bids, [(p, s) for p, s in asks if p < USD])

    def _arb(self, a: int, rng: random.Random) -> list[Decision]:
        tokens = SETS[a % len(SETS)]
        total = 100 - rng.randint(1, 12)  # cents the set's asks add up to
        cuts = sorted(rng.sample(range(1, total), len(tokens) - 1))
        asks = [(hi - lo) * TICK for lo, hi in zip([0, *cuts], [*cuts, total], strict=True)]
        out: list[Decision] = []
        for token, ask in zip(tokens, asks, strict=True):
            out += self._book_for(token, ask, rng)
        return out

    def _book(self, a: int, rng: random.Random) -> list[Decision]:
        return self._book_for(TOKENS[a % len(TOKENS)], rng.randint(5, 95) * TICK, rng)

    def _change(self, a: int, rng: random.Random) -> list[Decision]:
        token = TOKENS[a % len(TOKENS)]
        bids, asks = self.run.venue.bids.get(token, {}), self.run.venue.asks.get(token, {})
        bid, ask = max(bids, default=0), min(asks, default=USD)
        side = rng.choice(("BUY", "SELL"))
        crossing = rng.random() < 0.05
        if side == "BUY":
            hi = ask if crossing else ask - TICK
            price = rng.randint(max(1, bid // TICK - 2), max(1, hi // TICK)) * TICK
        else:
            lo = bid if crossing else bid + TICK
            price = rng.randint(min(99, lo // TICK), min(99, ask // TICK + 2)) * TICK
        size = 0 if rng.random() < 0.3 else rng.randint(1, 8000) * TICK
        return self.run.change((token, side, price, size))

    def _respond(self, a: int, rng: random.Random) -> list[Decision]:
        if not self.new:
            return []
        intent = self.new.pop(a % len(self.new))
        how = rng.randrange(8)
        if how <= 2:  # filled in full
            return self.run.accept(intent) + self._fill(intent)
        if how == 3:  # any reason code (from the drawn int: the rng's sequence is unchanged)
            return self.run.reject(intent, code=REJECT_CODES[a // 7 % len(REJECT_CODES)])
        if how == 4:  # half of them name the venue id the late events will carry
            self.open.append(intent)
            vid = venue_id(intent.client_order_id) if a // 7 % 2 else None
            return self.run.unknown(intent, vid=vid)
        if how == 5:  # part of it matched, the rest killed
            part = max(TICK, intent.size_micros // 2 // TICK * TICK)
            return (self.run.accept(intent, taking=part, making=part // 2)
                    + self._fill(intent, part))
        if how == 6:  # resting
            self.open.append(intent)
            return self.run.accept(intent, status="live")
        return self._fill(intent) + self.run.accept(intent)  # the trade beat the response

    def _fill(self, intent: OrderIntent, size: int | None = None) -> list[Decision]:
        self.fills += 1
        return self.run.fill(intent, tid=f"t{self.fills}", size=size)

    def _late(self, a: int, rng: random.Random) -> list[Decision]:
        if not self.open:
            return []
        intent = self.open.pop(a % len(self.open))
        if rng.random() < 0.7:
            return self._fill(intent)
        return self.run.feed(OrderCancelled(ts_recv_ns=self.run.next_ts(),
                                            venue_order_id=f"0xv-{intent.client_order_id}"))

    def _cancel_ack(self, a: int, rng: random.Random) -> list[Decision]:
        if not self.cancels:
            return []
        cid = self.cancels.pop(a % len(self.cancels))
        return self.run.feed(OrderCancelled(ts_recv_ns=self.run.next_ts(), client_order_id=cid,
                                            venue_order_id=f"0xv-{cid}"))

    def _clock(self, a: int, rng: random.Random) -> list[Decision]:
        return self.run.clock((1, 5, 11, 30, 61, 301)[a % 6] * SEC)

    def _operator(self, a: int, rng: random.Random) -> list[Decision]:
        return self.run.operator("halt" if a % 2 else "resume", f"op {a}")

    def _tick_size(self, a: int, rng: random.Random) -> list[Decision]:
        token = TOKENS[a % len(TOKENS)]
        return self.run.send(tick_change_msg(token, TICK, TICK // 10))

    def _garbage(self, a: int, rng: random.Random) -> list[Decision]:
        junk: list[Any] = ["PONG", {"event_type": "book"}, [1, 2, 3],
                          price_change_msg([{"asset_id": "A1", "price": "2", "size": "1",
                                             "side": "BUY"}])]
        return self.run.send(junk[a % len(junk)])

    def _heartbeat(self, a: int, rng: random.Random) -> list[Decision]:
        return self.run.feed(HeartbeatResult(ts_recv_ns=self.run.next_ts(), ok=a % 4 != 0))

    def _resolve(self, a: int, rng: random.Random) -> list[Decision]:
        if a % 4:
            return []  # rare: a resolved market trades no more
        info = MARKETS[a // 4 % len(MARKETS)]
        return self.run.send({"event_type": "market_resolved", "market": info.condition_id,
                              "winning_asset_id": info.tokens[a % 2].token_id})


def _stream(config_index: int, ops: list[Op]) -> Run:
    return Driver(CONFIGS[config_index % len(CONFIGS)]).play(ops)


# ---- replay twice, snapshot + tail ---------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(CONFIGS) - 1), ops_strategy)
def test_engine_replaying_the_same_inputs_twice_gives_identical_decisions(
        config_index: int, ops: list[Op]) -> None:
    # Arrange
    run = _stream(config_index, ops)

    # Act
    first, out1 = replay(run.inputs, run.engine.config)
    second, out2 = replay(run.inputs, run.engine.config)

    # Assert
    assert encoded(out1) == encoded(out2) == encoded(run.decisions)
    assert first.state_hash() == second.state_hash() == run.engine.state_hash()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(CONFIGS) - 1), ops_strategy, st.floats(0, 1))
def test_engine_snapshot_at_k_then_the_rest_equals_replay_from_start(
        config_index: int, ops: list[Op], where: float) -> None:
    # Arrange
    run = _stream(config_index, ops)
    config = run.engine.config
    k = int(where * len(run.inputs))
    head, tail = run.inputs[:k], run.inputs[k:]
    cut, _ = replay(head, config)
    _, expected = replay(tail, engine=cut)

    # Act: restore through the bytes a StateCheckpoint journals
    checkpoint = Engine(config) if k == 0 else replay(head, config)[0]
    data = bytes(checkpoint.checkpoint(at_seq=k, ts_recv_ns=0).state)
    restored = Engine.restore(data, config)
    _, after = replay(tail, engine=restored)

    # Assert
    assert Engine.restore(data, config).snapshot_bytes() == data
    assert encoded(after) == encoded(expected)
    assert restored.state_hash() == run.engine.state_hash()


# ---- sizing within depth and limits -------------------------------------------------------


def _depth(engine: Engine, token: str, side: str, limit: int) -> int:
    book = engine.md.book(token)
    assert book is not None
    if side == "BUY":
        return sum(s for p, s in book.asks_ascending() if p <= limit)
    return sum(s for p, s in book.bids_descending() if p >= limit)


def _pending(engine: Engine) -> dict[str, int]:
    """Worst-case cost of the unfilled part of every open BUY order, by market."""
    orders, pos = engine.execution.orders, engine.execution.positions
    out: dict[str, int] = {}
    for rec in orders.open_orders():
        rest = rec.size_micros - orders.filled(rec)
        if rec.side == "BUY" and rest > 0:
            market_id = pos.market_of(rec.token_id)
            out[market_id] = out.get(market_id, 0) + cost_up(rec.price_micros, rest)
    return out


def _check_placement(engine: Engine, opp: OpportunityDetected, batch: PlaceOrders,
                     pending: dict[str, int]) -> None:
    cfg, pos = engine.config, engine.execution.positions
    limits = engine.config.risk_config()
    assert [(o.token_id, o.side, o.price_micros, o.size_micros) for o in batch.orders] == [
        (g.token_id, g.side, g.limit_price_micros, g.size_micros) for g in opp.legs]
    for leg in opp.legs:
        info = engine.registry.market(engine.registry.market_of(leg.token_id) or "")
        assert info is not None
        assert leg.size_micros <= _depth(engine, leg.token_id, leg.side, leg.limit_price_micros)
        assert leg.size_micros <= min(cfg.risk.max_order_size_micros,
                                      cfg.detection.max_size_micros or leg.size_micros)
        assert leg.size_micros >= max(cfg.risk.min_order_size_micros, info.min_order_size_micros)
        assert leg.notional_micros >= max(cfg.detection.min_leg_notional_micros,
                                          cfg.risk.min_order_notional_micros)
    assert opp.edge_micros * 10_000 >= cfg.detection.min_margin_bps * opp.cost_micros
    added: dict[str, int] = {}
    for leg in opp.legs:
        if leg.side == "BUY":
            m = pos.market_of(leg.token_id)
            added[m] = added.get(m, 0) + leg.notional_micros + leg.fee_micros
    held = pos.open_positions() + sum(1 for m in pending if pos.market_exposure_micros(m) == 0)
    opens = bool(added) and pos.market_exposure_micros(opp.market_id) + pending.get(
        opp.market_id, 0) == 0
    assert held + opens <= limits.max_open_positions
    for m, amount in added.items():
        assert pos.market_exposure_micros(m) + pending.get(m, 0) + amount <= (
            limits.max_market_exposure_micros)
    assert pos.total_exposure_micros() + sum(pending.values()) + sum(added.values()) <= (
        limits.max_total_exposure_micros)
    group = opp.market_id if opp.strategy.startswith("neg_risk") else pos.group_of(
        opp.market_id)
    if group is not None:
        in_group = [m for m in sorted({*pending, *added}) if pos.group_of(m) == group]
        assert pos.group_exposure_micros(group) + sum(
            pending.get(m, 0) + added.get(m, 0) for m in in_group) <= (
            limits.max_group_exposure_micros)
    for m, amount in added.items():  # the next placement of this input sees these orders
        pending[m] = pending.get(m, 0) + amount


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(CONFIGS) - 1), ops_strategy)
def test_engine_orders_never_exceed_depth_or_risk_limits(config_index: int,
                                                         ops: list[Op]) -> None:
    # Arrange
    run = _stream(config_index, ops)
    engine = Engine(run.engine.config)

    # Act / Assert: check every placement against the state it was decided in
    for seq, event in run.inputs:
        state, pending = engine.breaker.state, _pending(engine)
        out = engine.apply(seq, event)
        opps = {d.opp_id: d for d in out if isinstance(d, OpportunityDetected)}
        for d in out:
            if isinstance(d, BreakerTransitioned):
                state = d.to_state
            elif isinstance(d, PlaceOrders):
                assert state == "ACTIVE" and not engine.config.detect_only
                _check_placement(engine, opps[d.opp_id], d, pending)


def test_stream_driver_reaches_every_decision_kind() -> None:
    # Arrange / Act: a few long deterministic streams
    seen: set[str] = set()
    for seed in range(12):
        rng = random.Random(seed)
        ops = [(rng.randrange(len(OPS)), rng.randrange(2**16), rng.randrange(2**16))
               for _ in range(150)]
        seen.update(kinds(_stream(seed, ops).decisions))

    # Assert: the properties above run over streams that exercise the whole engine
    assert seen >= {"opportunity_detected", "opportunity_blocked", "place_orders", "unwind",
                    "cancel_orders", "breaker_transitioned", "continuity_broken",
                    "continuity_restored", "frame_rejected"}


# ---- across processes -------------------------------------------------------------------------


def _write_journal(root: Path, run: Run) -> None:
    config = run.engine.config
    first_ts = run.inputs[0][1].ts_recv_ns
    with JournalWriter.open(root) as writer:
        writer.append(RunStarted(ts_recv_ns=first_ts, run_id="det", venue="sim",
                                 code_version="test", config_hash=config.config_hash(),
                                 config=msgspec.Raw(config.canonical_json())))
        for _, event in run.inputs:
            writer.append(event)


def _child(root: Path, hash_seed: str) -> bytes:
    script = Path(__file__).with_name("replay_child.py")
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, str(script), str(root)], env=env,
                          capture_output=True, check=True, timeout=120)
    return done.stdout


def test_engine_same_journal_in_two_processes_gives_identical_bytes(tmp_path: Path) -> None:
    # Arrange: a long stream (all kinds of inputs) journaled with the real writer
    rng = random.Random(7)
    ops = [(rng.randrange(len(OPS)), rng.randrange(2**16), rng.randrange(2**16))
           for _ in range(400)]
    run = _stream(0, ops)
    root = tmp_path / "journal"
    _write_journal(root, run)

    # Act
    first = _child(root, "0")
    second = _child(root, "4242")

    # Assert: identical, and the same as this process's own replay of the inputs
    assert first == second
    lines = first.splitlines()
    assert lines[-1] == b"state_hash " + run.engine.state_hash().encode()
    assert len(lines) - 1 == len(run.decisions) > 50
    assert {"place_orders", "unwind", "breaker_transitioned"} <= set(
        kinds(decode_event(line) for line in lines[:-1]))

