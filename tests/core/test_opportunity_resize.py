# The cheap re-size of an opportunity frame must decide exactly what the slow path decided:
# a SizeWalk replayed under a smaller cap equals a fresh walk, a detection Sizer equals a fresh
# detect (detection.resize), MemoExposure answers what it wraps, and an engine re-sizing through
# Sizers journals byte-identical decisions to one re-running detection on a generated feed.
from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.bench.feedgen import FeedGenerator
from polyarb.core.config import EngineConfig
from polyarb.core.detection import DetectionConfig, Sizer, detect, resize
from polyarb.core.engine import Engine
from polyarb.core.fees import compile_fee
from polyarb.core.markets import MarketRegistry
from polyarb.core.risk import MemoExposure
from polyarb.core.sizing import LegSpec, Limits, SizeWalk, size_opportunity
from polyarb.core.types import BookView, Candidate
from polyarb.events.codec import encode_event
from polyarb.events.decisions import OpportunityDetected
from polyarb.events.inputs import FeeSchedule, MarketInfo, MarketsLoaded, RawFrame, Side
from tests.core import engine_helpers as eh
from tests.core.engine_helpers import encoded
from tests.core.reference_detector import SimpleBook, binary_market, group_markets

SH = 1_000_000
_fees = st.sampled_from([FeeSchedule(), FeeSchedule(rate=Decimal("0.07")),
                         FeeSchedule(rate=Decimal("0.25"), exponent=2)])
_raw_levels = st.lists(st.tuples(st.integers(1, 99), st.integers(1, 900)), min_size=1,
                       max_size=5)


def _side(raw: list[tuple[int, int]], descending: bool) -> list[tuple[int, int]]:
    # distinct cent prices, sizes off the 0.01 grid now and then
    levels = {cents * 10_000: size * 10_000 + (size % 7) * 1_111 for cents, size in raw}
    return sorted(levels.items(), reverse=descending)


@settings(max_examples=150, deadline=None)
@given(raws=st.lists(_raw_levels, min_size=2, max_size=3), fee=_fees,
       settle=st.sampled_from([1, -1, 0]), margin=st.integers(0, 400),
       min_notional=st.integers(0, 2 * SH), first=st.one_of(st.none(), st.integers(0, 9 * SH)),
       cap=st.integers(-SH, 9 * SH), cap_capital=st.one_of(st.none(), st.integers(0, 6 * SH)))
def test_sizewalk_smaller_cap_matches_a_fresh_walk(
    raws: list[list[tuple[int, int]]], fee: FeeSchedule, settle: int, margin: int,
    min_notional: int, first: int | None, cap: int, cap_capital: int | None,
) -> None:
    # Arrange: settle 0 mixes sides like a crossed book; others are all-buy or all-sell sets
    sides: list[Side] = ["BUY" if (settle == 1 or (settle == 0 and k == 0)) else "SELL"
                         for k in range(len(raws))]
    legs = [LegSpec(f"t{k}", s, _side(raw, s == "SELL"), compile_fee(fee), 1)
            for k, (raw, s) in enumerate(zip(raws, sides, strict=True))]
    limits = Limits(margin_bps=margin, min_size_micros=50_000, max_size_micros=first,
                    min_leg_notional_micros=min_notional, max_capital_micros=cap_capital)
    lowered = cap if first is None else min(cap, first)
    # Act
    walk = SizeWalk(legs, settle, limits)
    replayed = walk.sized(lowered)
    # Assert: the same answer as walking again with the lower cap, and the first one kept
    fresh = size_opportunity(legs, settle, msgspec.structs.replace(limits,
                                                                    max_size_micros=lowered))
    assert replayed == fresh
    assert walk.sized() == size_opportunity(legs, settle, limits)


def _book(token: str, data: st.DataObject, mid: int) -> SimpleBook:
    bid0 = mid - data.draw(st.integers(-2, 3))  # now and then crossed
    bids = [(c, s) for c, s in data.draw(_raw_levels) if c <= bid0] or [(max(1, bid0), 50)]
    asks = [(c, s) for c, s in data.draw(_raw_levels) if c >= mid] or [(min(99, mid), 50)]
    return SimpleBook(token, bids=_side(bids, True), asks=_side(asks, False))


_configs = st.builds(
    DetectionConfig, min_margin_bps=st.integers(0, 300),
    min_leg_notional_micros=st.integers(0, SH // 2),
    max_spread_bps=st.sampled_from([None, 5_000]),
    max_size_micros=st.one_of(st.none(), st.integers(0, 6 * SH)),
    complete_set_sell_enabled=st.booleans(),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), mids=st.lists(st.integers(10, 45), min_size=3, max_size=3),
       config=_configs, caps=st.lists(st.integers(0, 7 * SH), min_size=1, max_size=3))
def test_sizer_size_under_caps_matches_detection_resize(
    data: st.DataObject, mids: list[int], config: DetectionConfig, caps: list[int],
) -> None:
    # Arrange: one binary market and a three-outcome basket, random books
    reg = MarketRegistry()
    assert reg.load([binary_market("c", rate="0.07", min_size=0),
                     *group_markets("g", 3, min_size=0)]) == []
    books: dict[str, BookView] = {"c-yes": _book("c-yes", data, mids[0]),
                                  "c-no": _book("c-no", data, 100 - mids[0] - mids[1] // 10)}
    books.update({f"g-{i}-yes": _book(f"g-{i}-yes", data, m) for i, m in enumerate(mids)})
    sizers: list[tuple[Candidate, Sizer]] = []
    # Act
    found = detect(reg, books, list(books), config,
                   on_sized=lambda c, s: sizers.append((c, s)))
    # Assert: one Sizer per candidate; re-sized in a chain like the engine's, it agrees
    assert sorted(id(c) for c, _ in sizers) == sorted(id(c) for c in found)
    for cand, sizer in sizers:
        current = cand
        for cap in caps:
            got = sizer.size(cap)
            assert got == resize(current, reg, books, config, cap_size_micros=cap)
            current = got or current


class _CountingView:
    """An ExposureView with fixed answers that counts the questions it is asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def market_exposure_micros(self, market_id: str) -> int:
        self.asked.append(f"market:{market_id}")
        return len(market_id)

    def group_exposure_micros(self, group_id: str) -> int:
        self.asked.append(f"group:{group_id}")
        return 10 * len(group_id)

    def total_exposure_micros(self) -> int:
        self.asked.append("total")
        return 7

    def open_positions(self) -> int:
        self.asked.append("open")
        return 0  # a falsy answer must be remembered too


def test_memoexposure_repeated_questions_asks_the_view_once() -> None:
    # Arrange
    view = _CountingView()
    memo = MemoExposure(view)
    # Act
    answers = [(memo.market_exposure_micros("ab"), memo.group_exposure_micros("g"),
                memo.total_exposure_micros(), memo.open_positions()) for _ in range(3)]
    # Assert
    assert answers == [(2, 10, 7, 0)] * 3
    assert view.asked == ["market:ab", "group:g", "total", "open"]


def _run(gen_args: dict[str, int], frames: int) -> tuple[list[bytes], int]:
    gen = FeedGenerator(seed=3, window_rate=0.05, **gen_args)
    eng = Engine()
    out = [encode_event(d) for d in eng.apply(
        0, MarketsLoaded(ts_recv_ns=1, source="test", markets=tuple(gen.market_infos())))]
    opps = 0
    for i, line in enumerate(gen.frames(frames), start=1):
        ev = RawFrame(ts_recv_ns=1 + i * 100_000, conn="market-0",
                      frame=msgspec.Raw(line.encode()))
        decisions = eng.apply(i, ev)
        opps += sum(type(d) is OpportunityDetected for d in decisions)
        out.extend(encode_event(d) for d in decisions)
    return out, opps


@pytest.mark.parametrize("gen_args", [{"markets": 20}, {"markets": 5, "neg_risk_events": 4}])
def test_engine_sizer_resize_feed_decisions_identical_to_redetection(
    gen_args: dict[str, int],
) -> None:
    # Arrange: the slow path is the engine with no Sizers kept: it re-sizes through
    # detection.resize, a fresh detect and walk of the books
    fast, opps = _run(gen_args, 6_000)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Engine, "_keep_sizer", lambda self, cand, sizer: None)
        slow, slow_opps = _run(gen_args, 6_000)
    # Assert: opportunities happened, and every decision is byte-identical
    assert opps > 20 and opps == slow_opps
    assert fast == slow



_LOOSE = EngineConfig(detection=DetectionConfig(
    min_margin_bps=0, min_leg_notional_micros=0, max_spread_bps=None,
    complete_set_sell_enabled=True, crossed_book_trading_enabled=True))
_TOKENS = ["bY", "bN", "gY1", "gY2", "gY3"]
_Snapshot = tuple[str, list[tuple[int, int]], list[tuple[int, int]]]


@st.composite
def _snapshot(draw: st.DrawFn, token: str | None = None) -> _Snapshot:
    # Cheap or dear tops so sets open both ways; now and then a crossed book
    mid = draw(st.one_of(st.integers(5, 35), st.integers(40, 95)))
    ask0 = mid + draw(st.integers(-1, 2))
    sizes = st.lists(st.integers(1, 3_000), min_size=1, max_size=4)
    bids = [(mid - k, s) for k, s in enumerate(draw(sizes)) if mid - k >= 1]
    asks = [(ask0 + k, s) for k, s in enumerate(draw(sizes)) if 1 <= ask0 + k <= 99]
    return token or draw(st.sampled_from(_TOKENS)), bids, asks


# every book once (so baskets can open), then random updates
_snapshots = st.tuples(*[_snapshot(tok) for tok in _TOKENS]).flatmap(
    lambda first: st.lists(_snapshot(), max_size=8).map(lambda rest: [*first, *rest]))


def _engine_run(markets: list[MarketInfo], frames: list[RawFrame]) -> bytes:
    eng = Engine(_LOOSE)
    out = eng.apply(0, MarketsLoaded(ts_recv_ns=1, source="test", markets=tuple(markets)))
    for i, ev in enumerate(frames, start=1):
        out.extend(eng.apply(i, ev))
    return encoded(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots=_snapshots)
def test_engine_sizer_resize_random_books_identical_to_redetection(
    snapshots: list[_Snapshot],
) -> None:
    # Arrange: a binary market with fees and a three-outcome basket; every strategy enabled,
    # crossed books traded; books from random snapshots (crossed ones included)
    fees = FeeSchedule(rate=Decimal("0.02"))
    markets = [eh.market("0xb", "bY", "bN", fees=fees, min_size=0),
               *eh.group_markets("G", 3)]
    frames = [eh.raw_frame(eh.book_msg(tok, [(c * 10_000, s * 10_000) for c, s in bids],
                                       [(c * 10_000, s * 10_000) for c, s in asks]),
                           ts=1 + i * 1_000_000)
              for i, (tok, bids, asks) in enumerate(snapshots)]
    # Act
    fast = _engine_run(markets, frames)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Engine, "_keep_sizer", lambda self, cand, sizer: None)
        slow = _engine_run(markets, frames)
    # Assert
    assert fast == slow
