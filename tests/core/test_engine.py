# Engine API: apply's contract, canonical snapshot / restore / state hash / checkpoint, config,
# dedupe, frames the parser refuses, pending exposure, feed health, and the incremental cost of a
# frame (counted structurally, never timed).
from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyarb.core import detection
from polyarb.core.breaker import BreakerConfig
from polyarb.core.config import EngineConfig
from polyarb.core.engine import Engine
from polyarb.events import decode_record, encode_record
from polyarb.events.decisions import (
    ContinuityBroken,
    DayOpened,
    FrameRejected,
    MarketRejected,
    OpportunityBlocked,
    OpportunityDetected,
    PlaceOrders,
    StateCheckpoint,
    Unwind,
)
from polyarb.events.inputs import (
    ClockTick,
    MarketsLoaded,
    RawFrame,
    RunStarted,
    TokenInfo,
)
from tests.core.engine_helpers import (
    SEC,
    T0,
    USD,
    Run,
    book_msg,
    kinds,
    market,
    of,
    raw_frame,
    replay,
    text_frame,
)

Y, N, CID = "Y1", "N1", "0xm1"


def _opened(config: EngineConfig | None = None) -> Run:
    """A run holding a filled complete set and a second market with live books."""
    run = Run(config)
    run.load(market(CID, Y, N), market("0xm2", "Y2", "N2"))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    out = run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)])
    run.fill_all(of(out, PlaceOrders))
    run.book("Y2", [(300_000, 50 * USD)], [(350_000, 50 * USD)])
    run.book("N2", [(500_000, 50 * USD)], [(700_000, 50 * USD)])
    return run


# ---- apply -------------------------------------------------------------------------------------


def test_engine_apply_records_that_are_not_inputs_cause_nothing() -> None:
    # Arrange
    run = _opened()
    before = run.engine.state_hash()
    notes = [DayOpened(ts_recv_ns=T0, day="2025-12-27"),
             StateCheckpoint(ts_recv_ns=T0, at_seq=3, state_hash="0" * 64),
             ContinuityBroken(ts_recv_ns=T0, cause_seq=2, token_id=Y, epoch=1, reason="stale")]

    # Act
    out = [run.engine.apply(100 + i, note) for i, note in enumerate(notes)]

    # Assert
    assert out == [[], [], []]
    assert run.engine.state_hash() == before


def test_engine_decisions_carry_the_inputs_seq_and_time() -> None:
    # Arrange
    run = _opened()

    # Act
    decisions = [(seq, ev.ts_recv_ns, run.engine.apply(seq, ev)) for seq, ev in
                 replay_inputs(run)]

    # Assert
    assert sum(len(d) for _, _, d in decisions) > 0
    for seq, ts, out in decisions:
        assert all(d.cause_seq == seq and d.ts_recv_ns == ts for d in out)


def replay_inputs(run: Run) -> list[tuple[int, Any]]:
    """A fresh run's inputs re-fed to a fresh engine (fills its state as it goes)."""
    run.engine = Engine(run.engine.config)
    return run.inputs


def test_engine_run_lifecycle_inputs_are_facts_only() -> None:
    # Arrange
    engine = Engine()
    started = RunStarted(ts_recv_ns=T0, run_id="r1", venue="sim", code_version="0",
                         config_hash=EngineConfig().config_hash())

    # Act / Assert
    assert engine.apply(1, started) == []
    assert engine.apply(2, RawFrame(ts_recv_ns=T0, conn="user-0", channel="user",
                                    frame=msgspec.Raw(b'{"event_type":"trade"}'))) == []


def test_engine_frame_decisions_come_in_documented_order() -> None:
    # Arrange: an array whose first element is bad, then a crossing YES book, then NO
    run = Run()
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Act
    out = run.send([{"event_type": "book"},
                    book_msg(Y, [(500_000, 40 * USD)], [(450_000, 40 * USD)]),
                    book_msg(N, [(400_000, 10 * USD)], [(500_000, 40 * USD)])])

    # Assert: rejects, continuity, then (normal detection, then crossed books)
    assert kinds(out) == ["frame_rejected", "continuity_broken", "opportunity_detected",
                          "opportunity_blocked"]
    assert of(out, FrameRejected)[0].element == 0
    assert of(out, OpportunityDetected)[0].strategy == "crossed_book"


# ---- malformed input ---------------------------------------------------------------------------


def test_engine_malformed_frames_become_frame_rejected() -> None:
    # Arrange
    run = Run()
    run.load(market(CID, Y, N))
    frames = [text_frame("not json at all", T0),
              RawFrame(ts_recv_ns=T0, conn="market-0", text="AAEC", binary=True),
              raw_frame({"event_type": "book", "asset_id": Y, "bids": "nope"}, T0),
              raw_frame([{"event_type": "price_change", "price_changes": [{"asset_id": Y}]},
                         book_msg(N, [(400_000, USD)], [(500_000, USD)])], T0),
              RawFrame(ts_recv_ns=T0, conn="market-0")]

    # Act
    out = [run.feed(f) for f in frames]

    # Assert: every bad frame or element is journaled with a reason; good elements still apply
    assert [kinds(o) for o in out] == [["frame_rejected"]] * 5
    assert [o[0].element for o in out] == [None, None, None, 0, None]  # type: ignore[attr-defined]
    assert out[1][0].reason == "binary frame"  # type: ignore[attr-defined]
    book = run.engine.md.book(N)
    assert book is not None and book.usable
    assert run.engine.stats().updates == 5


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300).map(lambda b: ("raw", b)),
                 st.text(max_size=200).map(lambda t: ("text", t))))
def test_engine_any_frame_bytes_never_raise(case: tuple[str, Any]) -> None:
    # Arrange
    engine = Engine()
    engine.apply(1, MarketsLoaded(ts_recv_ns=T0, source="t", markets=(market(CID, Y, N),)))
    how, data = case
    frame = (RawFrame(ts_recv_ns=T0, conn="m", frame=msgspec.Raw(data)) if how == "raw"
             else RawFrame(ts_recv_ns=T0, conn="m", text=data))

    # Act
    out = engine.apply(2, frame)

    # Assert: only feed decisions, all caused by this frame
    assert {type(d).__name__ for d in out} <= {"FrameRejected", "ContinuityBroken",
                                                "ContinuityRestored"}
    assert all(d.cause_seq == 2 for d in out)


def test_engine_refused_market_is_journaled_and_kept_out_of_positions() -> None:
    # Arrange: a second market claiming Y1, and one with three tokens
    run = Run()
    run.load(market(CID, Y, N))
    clash = market("0xm9", Y, "N9")
    three = msgspec.structs.replace(market("0xm8", "Y8", "N8"), tokens=(
        TokenInfo(token_id="a", outcome="A"), TokenInfo(token_id="b", outcome="B"),
        TokenInfo(token_id="c", outcome="C")))

    # Act
    out = run.load(clash, three, market("0xm2", "Y2", "N2"))

    # Assert
    assert [(d.condition_id, d.reason) for d in of(out, MarketRejected)] == [
        ("0xm9", "token Y1 already belongs to market 0xm1"),
        ("0xm8", "expected 2 tokens, got 3")]
    pos = run.engine.execution.positions
    assert (pos.market_of(Y), pos.market_of("N9"), pos.market_of("Y2")) == (CID, "N9", "0xm2")


# ---- snapshot, restore, hash, checkpoint ----------------------------------------------------


def test_engine_restore_of_snapshot_bytes_is_identical_and_continues_identically() -> None:
    # Arrange
    run = _opened()
    data = run.engine.snapshot_bytes()
    tail = [(50, raw_frame(book_msg("N2", [(500_000, 50 * USD)], [(600_000, 50 * USD)]),
                           run.now + SEC)),
            (51, ClockTick(ts_recv_ns=run.now + 120 * SEC))]

    # Act
    restored = Engine.restore(data, run.engine.config)
    _, live_out = replay(tail, engine=run.engine)
    _, restored_out = replay(tail, engine=restored)

    # Assert
    assert kinds(live_out) == ["opportunity_detected", "place_orders", "continuity_broken",
                               "continuity_broken", "continuity_broken", "continuity_broken"]
    assert restored_out == live_out
    assert restored.state_hash() == run.engine.state_hash()


def test_engine_snapshot_is_canonical_json_with_sorted_keys() -> None:
    # Arrange
    engine = _opened().engine

    # Act
    data = engine.snapshot_bytes()

    # Assert
    assert data == msgspec.json.encode(msgspec.json.decode(data), order="sorted")
    assert engine.state_hash() == hashlib.sha256(data).hexdigest()
    assert set(engine.snapshot()) == {"version", "registry", "market_data", "breaker",
                                      "execution", "counters", "opp_no", "last_sig"}


def test_engine_state_hash_does_not_depend_on_market_load_order() -> None:
    # Arrange
    markets = [market(f"0xm{i}", f"Y{i}", f"N{i}", group="0xg" if i % 2 else None)
               for i in range(6)]

    # Act
    hashes = set()
    for order in (markets, markets[::-1], markets[3:] + markets[:3]):
        engine = Engine()
        engine.apply(1, MarketsLoaded(ts_recv_ns=T0, source="t", markets=tuple(order)))
        hashes.add(engine.state_hash())

    # Assert
    assert len(hashes) == 1


def test_engine_checkpoint_on_demand_holds_the_state_and_its_hash() -> None:
    # Arrange
    run = _opened()

    # Act
    checkpoint = run.engine.checkpoint(at_seq=run.seq, ts_recv_ns=run.now)
    line = encode_record(run.seq + 1, checkpoint)
    back = decode_record(line).event

    # Assert: it journals and reads back, and restores to the same hash
    assert isinstance(back, StateCheckpoint)
    assert (back.at_seq, back.state_hash) == (run.seq, run.engine.state_hash())
    assert hashlib.sha256(bytes(back.state)).hexdigest() == back.state_hash
    assert Engine.restore(bytes(back.state)).state_hash() == back.state_hash


def test_engine_restore_refuses_unknown_version_and_malformed_snapshot() -> None:
    # Arrange
    snap = Engine().snapshot()

    # Act / Assert
    with pytest.raises(ValueError, match="version 99"):
        Engine.restore({**snap, "version": 99})
    with pytest.raises(ValueError, match="malformed engine snapshot"):
        Engine.restore({k: v for k, v in snap.items() if k != "breaker"})


# ---- config ----------------------------------------------------------------------------------


def test_engine_config_hash_is_canonical_and_refuses_unknown_fields() -> None:
    # Arrange
    default = EngineConfig()

    # Act
    decoded = msgspec.json.decode(default.canonical_json(), type=EngineConfig)

    # Assert
    assert decoded == default and decoded.config_hash() == default.config_hash()
    assert EngineConfig(detect_only=True).config_hash() != default.config_hash()
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"detect_onyl": true}', type=EngineConfig)


def test_engine_config_defaults_are_the_seed_values() -> None:
    # Arrange / Act
    config = EngineConfig()

    # Assert: 2% margin, $10 minimum order, 50% max spread, $100 daily loss, 3 positions
    assert config.detection.min_margin_bps == 200
    assert config.detection.min_leg_notional_micros == 10 * USD
    assert config.detection.max_spread_bps == 5_000
    assert config.breaker.max_daily_loss_micros == 100 * USD
    assert config.breaker.max_open_positions == 3
    assert config.risk_config().max_market_exposure_micros == 50 * USD


# ---- dedupe ----------------------------------------------------------------------------------


def test_engine_dedupe_same_opportunity_on_consecutive_frames_reported_once() -> None:
    # Arrange
    run = Run(EngineConfig(detect_only=True))
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    first = run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)])

    # Act
    same = [run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)]),  # a re-snapshot
            run.change((Y, "BUY", 410_000, 5 * USD)),  # a bid: sizes and limits unchanged
            run.change((N, "SELL", 500_000, 40 * USD))]  # the same size again
    bigger = run.change((N, "SELL", 500_000, 45 * USD), (Y, "SELL", 450_000, 45 * USD))

    # Assert
    assert kinds(first) == ["opportunity_detected", "opportunity_blocked"]
    assert same == [[], [], []]
    assert kinds(bigger) == ["opportunity_detected", "opportunity_blocked"]


def test_engine_dedupe_opportunity_that_vanished_and_returned_is_reported_again() -> None:
    # Arrange
    run = Run(EngineConfig(detect_only=True))
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)])

    # Act
    gone = run.change((N, "SELL", 500_000, 0), (N, "SELL", 600_000, 40 * USD))
    back = run.change((N, "SELL", 500_000, 40 * USD))

    # Assert
    assert gone == []
    assert kinds(back) == ["opportunity_detected", "opportunity_blocked"]


def test_engine_dedupe_disabled_reports_every_frame() -> None:
    # Arrange
    run = Run(EngineConfig(detect_only=True, dedupe_opportunities=False))
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Act
    out = [run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)]) for _ in range(3)]

    # Assert
    assert [len(o) for o in out] == [2, 2, 2]


# ---- risk with orders in flight, groups, feed health ---------------------------------------


def test_engine_orders_in_flight_count_against_the_exposure_limits() -> None:
    # Arrange: $60 total; the first set commits $38 and has no response yet
    config = EngineConfig(breaker=BreakerConfig(max_total_exposure_micros=60 * USD))
    run = Run(config)
    run.load(market(CID, Y, N), market("0xm2", "Y2", "N2"))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    first = run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)])
    run.book("Y2", [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Act
    second = run.book("N2", [(400_000, 100 * USD)], [(500_000, 40 * USD)])

    # Assert: the second set is cut to the $22 left (23.15 sets at $0.95)
    assert kinds(first) == kinds(second) == ["opportunity_detected", "place_orders"]
    opp = of(second, OpportunityDetected)[0]
    assert opp.size_micros == 23_000_000  # 23.15 sets fit; 0.2-share cent lot at 0.45/0.50
    assert opp.cost_micros <= 22 * USD


def test_engine_group_limit_applies_to_a_group_member_whatever_its_token_order() -> None:
    # Arrange: a group member listed NO first; the group may hold $25
    member = market(CID, Y, N, group="0xg")
    member = msgspec.structs.replace(member, tokens=member.tokens[::-1])
    config = EngineConfig(breaker=BreakerConfig(max_group_exposure_micros=25 * USD))
    run = Run(config)
    run.load(member, market("0xm2", "Y2", "N2", group="0xg"))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Act
    out = run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)])

    # Assert: sized down to the group's $25 (26.31 sets at $0.95), then onto the 0.2-share
    # lot that keeps both legs' collateral on whole cents (0.45 and 0.50)
    assert kinds(out) == ["opportunity_detected", "place_orders"]
    opp = of(out, OpportunityDetected)[0]
    assert opp.strategy == "complete_set_buy" and opp.cost_micros <= 25 * USD
    assert opp.size_micros == 26_200_000


def test_engine_feed_trip_released_once_the_broken_token_is_no_longer_held() -> None:
    # Arrange: a naked YES whose book went stale (REDUCING), an exit order resting
    run = Run()
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])
    y, n = of(run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)]), PlaceOrders)[0].orders
    run.accept(y)
    run.fill(y)
    run.change((N, "SELL", 500_000, 0), (N, "SELL", 600_000, 50 * USD))
    [unwind] = run.reject(n)
    assert isinstance(unwind, Unwind)
    stale = run.clock(61 * SEC)
    assert [(t.to_state, t.gate) for t in stale[2:]] == [  # type: ignore[attr-defined]
        ("REDUCING", "feed_broken")]

    # Act: the exit fills; YES is flat while its book is still stale
    exit_order = unwind.orders[0]
    run.accept(exit_order)
    out = run.fill(exit_order)

    # Assert
    assert [(t.to_state, t.gate) for t in out] == [("ACTIVE", "feed_broken")]  # type: ignore[attr-defined]


# ---- incremental cost ------------------------------------------------------------------------


def _evaluations(monkeypatch: pytest.MonkeyPatch, n_markets: int) -> list[list[str]]:
    """Markets/groups detection evaluates per frame, with n_markets binary markets loaded."""
    calls: list[list[str]] = []
    real = detection.detect

    def counting(*args: Any, **kwargs: Any) -> Any:
        seen: list[str] = []
        inner = kwargs.get("on_evaluate")

        def hook(market_id: str) -> None:
            seen.append(market_id)
            if inner is not None:
                inner(market_id)

        kwargs["on_evaluate"] = hook
        calls.append(seen)
        return real(*args, **kwargs)

    run = Run()
    run.load(*[market(f"0xm{i:05d}", f"Y{i}", f"N{i}") for i in range(n_markets)])
    for i in range(n_markets):
        run.book(f"Y{i}", [(400_000, 10 * USD)], [(600_000, 10 * USD)])
        run.book(f"N{i}", [(400_000, 10 * USD)], [(600_000, 10 * USD)])
    monkeypatch.setattr(detection, "detect", counting)
    for size in range(1, 21):
        run.change(("Y7", "BUY", 400_000, size * USD), ("N7", "SELL", 600_000, size * USD))
        run.book("N3", [(400_000, size * USD)], [(600_000, 10 * USD)])
    monkeypatch.undo()
    return calls


def test_engine_detection_per_frame_does_not_grow_with_the_market_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange / Act: the same 40 frames with 10 and with 2,000 markets registered
    small = _evaluations(monkeypatch, 10)
    large = _evaluations(monkeypatch, 2_000)

    # Assert: one detection call per frame, evaluating only the market the frame touched
    assert small == large
    assert small == [["0xm00007"], ["0xm00003"]] * 20


def test_engine_price_change_touches_only_its_tokens_books(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    # Arrange
    run = Run()
    run.load(*[market(f"0xm{i}", f"Y{i}", f"N{i}") for i in range(50)])
    for i in range(50):
        run.book(f"Y{i}", [(400_000, 10 * USD)], [(600_000, 10 * USD)])
    before = {t: run.engine.md.book(t).snapshot() for t in run.engine.md.token_ids()}  # type: ignore[union-attr]

    # Act
    run.change(("Y7", "BUY", 410_000, 3 * USD))

    # Assert
    after = {t: run.engine.md.book(t).snapshot() for t in run.engine.md.token_ids()}  # type: ignore[union-attr]
    assert [t for t in after if after[t] != before[t]] == ["Y7"]


def test_engine_blocked_opportunity_reports_gate_limit_and_observed_exactly() -> None:
    # Arrange: a $30 market limit with $10 minimum legs: capacity 31.57 sets, min 5 shares ok
    config = EngineConfig(breaker=BreakerConfig(max_open_positions=0))
    run = Run(config)
    run.load(market(CID, Y, N))
    run.book(Y, [(400_000, 100 * USD)], [(450_000, 40 * USD)])

    # Act
    out = run.book(N, [(400_000, 100 * USD)], [(500_000, 40 * USD)])

    # Assert
    block = of(out, OpportunityBlocked)[0]
    assert (block.gate, block.limit, block.observed) == ("max_open_positions", Decimal(0),
                                                         Decimal(1))
