# Equivalence tests for the reducer's hot path: every shortcut must agree with the reference.
#
# - MarketData.apply_raw == parse_frame + apply_frame (touched, decisions, messages, state).
# - apply_changes' inline path for one or two distinct tokens == its general path.
# - detection's best-price shortcut on Books == _scan_binary through a plain BookView.
# - the engine (fused path) == the engine folding frames through the reference parse path.
from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core import detection
from polyarb.core.book import Book, _apply_with_repeats, apply_changes
from polyarb.core.detection import DetectionConfig, detect
from polyarb.core.engine import Engine
from polyarb.core.marketdata import MarketData
from polyarb.core.markets import MarketRegistry
from polyarb.core.types import BookView
from polyarb.core.wire import parse_frame
from polyarb.core.wire_types import Change
from polyarb.events.base import Decision
from polyarb.events.decisions import FrameRejected
from polyarb.events.inputs import MarketsLoaded, RawFrame
from tests.core.golden_ws import golden_files
from tests.core.reference_detector import SimpleBook, binary_market
from tests.core.test_marketdata import A, B, C, _draw_frame
from tests.core.test_wire import _event, _json, _valid_event

SEC = 1_000_000_000


class _Pair:
    """The same frames through apply_raw and through parse_frame + apply_frame."""

    def __init__(self) -> None:
        self.fast, self.ref = MarketData(), MarketData()
        self.seq = 0

    def send(self, frame: Any, text: str | None = None) -> None:
        self.seq += 1
        ts = self.seq * SEC
        touched, decisions, messages = self.fast.apply_raw(frame, text, ts, self.seq)
        parsed = parse_frame(frame, text)
        expected = self.ref.apply_frame(parsed, ts, self.seq)

        assert (touched, decisions) == expected
        assert list(messages) in ([], parsed.messages)
        assert messages or not parsed.messages or _book_changes_only(parsed.messages)
        assert self.fast.snapshot() == self.ref.snapshot()
        assert self.fast.stats() == self.ref.stats()


def _book_changes_only(messages: list[Any]) -> bool:
    # Only frames of book changes may skip the messages (the registry needs the others).
    return all(type(m).__name__ in ("PriceChange", "BookSnapshot") for m in messages)


@pytest.mark.parametrize("path", golden_files(), ids=lambda p: Path(p).stem)
def test_apply_raw_golden_payloads_equal_parse_then_apply(path: Path) -> None:
    pair = _Pair()
    for step in json.loads(path.read_text())["steps"]:
        if "frame" in step:
            pair.send(msgspec.Raw(orjson.dumps(step["frame"])))
        elif "frame_text" in step:
            pair.send(step["frame_text"].encode("utf-8"))
        elif "frame_hex" in step:
            pair.send(memoryview(bytes.fromhex(step["frame_hex"])))
        else:
            pair.send(msgspec.Raw(), step["text"])


def test_apply_raw_nothing_at_all_equals_parse_then_apply() -> None:
    pair = _Pair()
    for frame, text in ((None, None), (b"", None), (msgspec.Raw(), "PONG"), (None, " x ")):
        pair.send(frame, text)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_apply_raw_random_feed_equals_parse_then_apply(data: st.DataObject) -> None:
    naive: dict[str, dict[bool, dict[int, int]]] = {}
    pair = _Pair()
    for _ in range(data.draw(st.integers(1, 25))):
        pair.send(msgspec.Raw(orjson.dumps(_draw_frame(data, naive))))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_valid_event, _event, _json, st.lists(_valid_event, max_size=3)),
                max_size=6))
def test_apply_raw_any_frames_equal_parse_then_apply(values: list[Any]) -> None:
    pair = _Pair()
    for value in values:
        pair.send(orjson.dumps(value))


# --- apply_changes: inline path vs general path ------------------------------------------

_TOKENS = ("a", "b", "c")
_price = st.integers(1, 9).map(lambda c: c * 100_000)
_levels = st.dictionaries(_price, st.integers(1, 3), max_size=4)
_change = st.tuples(
    st.sampled_from(_TOKENS), st.booleans(), _price, st.integers(0, 2),
    st.one_of(st.none(), st.sampled_from([0, 300_000, 400_000, 500_000])),
    st.one_of(st.none(), st.sampled_from([500_000, 600_000, 1_000_000])),
)  # fmt: skip


def _books(spec: list[tuple[str, str, dict[int, int], dict[int, int]]]) -> dict[str, Book]:
    books: dict[str, Book] = {}
    for token, state, bids, asks in spec:
        book = books[token] = Book(token)
        if state != "empty":
            book.replace(bids.items(), asks.items())
        if state == "broken":
            book.break_continuity("stale")
    return books


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(_TOKENS[:2]),
                          st.sampled_from(["empty", "live", "live", "broken"]), _levels, _levels),
                unique_by=lambda t: t[0]),
       st.lists(_change, min_size=1, max_size=2))  # fmt: skip
def test_apply_changes_inline_path_equals_general_path(
    spec: list[tuple[str, str, dict[int, int], dict[int, int]]], changes: list[Change]
) -> None:
    # Arrange: two identical sets of books ("c" never has one).
    fast, ref = _books(spec), _books(spec)

    # Act
    got = apply_changes(fast, changes, 7, 8)
    want = _apply_with_repeats(ref, changes, 7, 8)

    # Assert: same report (books compared by token) and the same books afterwards.
    def plain(result: Any) -> Any:
        touched, failed, missing, not_live = result
        return touched, [(b.token_id, why) for b, why in failed or ()], missing, not_live

    assert plain(got) == plain(want)
    for token in fast:
        assert fast[token].snapshot() == ref[token].snapshot()
        assert (fast[token].top_bid, fast[token].top_ask, fast[token].live) == (
            ref[token].top_bid, ref[token].top_ask, ref[token].live)


# --- detection: the Book shortcut vs _scan_binary ----------------------------------------


class _View:
    """A Book seen through the BookView protocol only (so detection takes its general path)."""

    def __init__(self, book: Book) -> None:
        self._book, self.token_id = book, book.token_id

    @property
    def usable(self) -> bool:
        return self._book.usable

    @property
    def epoch(self) -> int:
        return self._book.epoch

    def best_bid(self) -> int | None:
        return self._book.best_bid()

    def best_ask(self) -> int | None:
        return self._book.best_ask()

    def asks_ascending(self) -> list[tuple[int, int]]:
        return self._book.asks_ascending()

    def bids_descending(self) -> list[tuple[int, int]]:
        return self._book.bids_descending()


def _near(total: int) -> st.SearchStrategy[tuple[int, int]]:
    """Two prices in (0, 1e6) summing to `total` give or take a few micros."""
    return st.integers(-3, 3).flatmap(lambda d: st.integers(
        max(1, total + d - 999_999), min(999_999, total + d - 1)).map(lambda p: (p, total + d - p)))


def _tops(bps: int) -> st.SearchStrategy[tuple[int | None, ...]]:
    """(yes bid, yes ask, no bid, no ask) at random, or right at a strategy's threshold."""
    price = st.one_of(st.none(), st.integers(1, 999_999))
    buy_edge = -(-10_000 * 1_000_000 // (10_000 + bps))  # smallest ask sum that is quiet
    sell_edge = (10_000 + bps) * 1_000_000 // 10_000  # largest bid sum that is quiet
    return st.one_of(
        st.tuples(price, price, price, price),
        _near(buy_edge).flatmap(lambda a: st.tuples(price, st.just(a[0]), price, st.just(a[1]))),
        _near(sell_edge).flatmap(lambda d: st.tuples(st.just(d[0]), price, st.just(d[1]), price)),
        _crossed(bps).flatmap(lambda c: st.tuples(st.just(c[0]), st.just(c[1]), price, price)),
        _crossed(bps).flatmap(lambda c: st.tuples(price, price, st.just(c[0]), st.just(c[1]))),
    )


def _crossed(bps: int) -> st.SearchStrategy[tuple[int, int]]:
    """(bid, ask) of a book crossed (or touching) by about what crossed_book needs to pass."""
    def at(ask: int) -> st.SearchStrategy[tuple[int, int]]:
        edge = bps * ask // 10_000  # bid - ask must exceed this
        return st.sampled_from([0, 1, edge, edge + 1, edge + 2]).map(
            lambda d: (min(999_999, ask + d), ask))
    return st.integers(1, 999_990).flatmap(at)


def _one_level(token: str, bid: int | None, ask: int | None, live: bool) -> Book:
    book = Book(token)
    book.replace([] if bid is None else [(bid, 10**9)], [] if ask is None else [(ask, 10**9)])
    if not live:
        book.break_continuity("stale")
    return book


@settings(max_examples=800, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([0, 1, 200, 5_000]).flatmap(lambda bps: st.tuples(st.just(bps), _tops(bps))),
       st.booleans(), st.sampled_from(["one token", "pair", "two markets", "two markets"]),
       st.sampled_from([True, True, True, False]), st.sampled_from([True, True, True, False]))
def test_detect_book_shortcut_equals_general_scan(
    drawn: tuple[int, tuple[int | None, ...]], sells: bool, shape: str, yes_live: bool,
    no_live: bool,
) -> None:
    # Arrange: hits are compared before sizing (which would hide a shortcut that skipped a
    # strategy sizing then refuses anyway).
    bps, (d0, a0, d1, a1) = drawn
    registry = MarketRegistry()
    assert registry.load([binary_market("c"), binary_market("d")]) == []
    books = {f"{m}-{t}": _one_level(f"{m}-{t}", bid, ask, live) for m in "cd"
             for t, bid, ask, live in (("yes", d0, a0, yes_live), ("no", d1, a1, no_live))}
    views: dict[str, BookView] = {t: _View(b) for t, b in books.items()}
    config = DetectionConfig(min_margin_bps=bps, complete_set_sell_enabled=sells,
                             min_leg_notional_micros=0, max_spread_bps=None)
    touched = {"one token": ["c-no"], "pair": ["c-yes", "c-no"],
               "two markets": ["d-yes", "c-no"]}[shape]
    hits: list[list[tuple[str, tuple[str, ...]]]] = []

    def record(found: list[Any], *_: Any) -> list[Any]:
        hits.append([(h[0], tuple(b.token_id for b in h[2])) for h in found])
        return []

    # Act
    seen_fast: list[str] = []
    seen_ref: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(detection, "_size_hits", record)
        detect(registry, books, touched, config, on_evaluate=seen_fast.append)
        fast_hits = hits[:] or [[]]
        hits.clear()
        detect(registry, views, touched, config, on_evaluate=seen_ref.append)
        ref_hits = hits[:] or [[]]

    # Assert
    assert fast_hits == ref_hits
    assert seen_fast == seen_ref == (["c", "d"] if shape == "two markets" else ["c"])
    assert detect(registry, books, touched, config) == detect(registry, views, touched, config)


def test_detect_simple_books_take_the_general_scan() -> None:
    registry = MarketRegistry()
    assert registry.load([binary_market("c")]) == []
    books: dict[str, BookView] = {
        "c-yes": SimpleBook("c-yes", bids=[(440_000, 10**8)], asks=[(450_000, 10**8)]),
        "c-no": SimpleBook("c-no", bids=[(490_000, 10**8)], asks=[(500_000, 10**8)]),
    }

    [cand] = detect(registry, books, ["c-yes"], DetectionConfig())

    assert cand.strategy == "complete_set_buy"


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(1, 40), min_size=1, max_size=6), min_size=1, max_size=30))
def test_apply_raw_size_memo_bounded_and_never_changes_results(snapshots: list[list[int]]) -> None:
    # Arrange: one token's snapshots, sizes drawn from a small pool so texts repeat.
    pair = _Pair()
    token = "4270919463220185377013283616512880054612378540155226609853621906521187645120"
    for sizes in snapshots:
        bids = [{"price": f"0.{10 + i:02d}", "size": f"{s}.5"} for i, s in enumerate(sizes)]
        event = {"event_type": "book", "asset_id": token, "bids": bids, "asks": []}

        # Act (the pair asserts apply_raw equals parse_frame + apply_frame)
        pair.send(msgspec.Raw(orjson.dumps(event)))

        # Assert
        book = pair.fast.book(token)
        assert book is not None
        assert len(book.size_memo) <= 3 * len(sizes) + 16
        assert all(book.size_memo[f"{s}.5"] == s * 1_000_000 + 500_000 for s in sizes)


# --- the engine's fused path against the reference parse path --------------------------------


def _reference_on_frame(self: Engine, seq: int, ev: RawFrame) -> list[Decision]:
    """Engine._on_frame through parse_frame + apply_frame (the careful path), as it was before
    MarketData.apply_raw: every frame's messages go to the registry."""
    ts = ev.ts_recv_ns
    if ev.channel != "market":
        return []
    self.counters.updates += 1
    if ev.binary:
        return [FrameRejected(ts_recv_ns=ts, cause_seq=seq, reason="binary frame")]
    result = parse_frame(ev.frame, ev.text)
    touched, feed = self.md.apply_frame(result, ts, seq)
    out: list[Decision] = list(feed)
    out.extend(self._market_facts(result.messages, ev, seq))
    if feed:
        out.extend(self._watch.feed(feed, ts, seq))
    if touched:
        out.extend(self._detect(touched, ts, seq))
    if feed:
        out.extend(self._crossed(feed, ts, seq))
    return out


_NO_C = "9" * 77


def _px(micros: int) -> str:
    whole, frac = divmod(micros, 1_000_000)
    return f"{whole}.{frac:06d}".rstrip("0").rstrip(".")


def _trading_frame(data: st.DataObject, model: dict[str, dict[bool, dict[int, int]]]) -> Any:
    """Books and honest price changes with real sizes (so sets can be bought), or noise."""
    token = data.draw(st.sampled_from([A, B, C, _NO_C]))
    price = st.integers(1, 19).map(lambda c: c * 50_000)
    size = st.integers(20, 400).map(lambda s: s * 1_000_000)
    kind = data.draw(st.sampled_from(["book", "change", "change", "noise"]))
    if kind == "book":
        mid = data.draw(st.integers(2, 18)) * 50_000
        bids = {p: data.draw(size) for p in range(50_000, mid, 50_000)}
        asks = {p: data.draw(size) for p in range(mid, 1_000_000, 50_000)}
        model[token] = {True: bids, False: asks}
        return {"event_type": "book", "asset_id": token, "timestamp": "1766790000000",
                "bids": [{"price": _px(p), "size": _px(q)} for p, q in bids.items()],
                "asks": [{"price": _px(p), "size": _px(q)} for p, q in asks.items()]}
    if kind == "noise":
        return data.draw(st.sampled_from([
            {"event_type": "tick_size_change", "asset_id": token, "new_tick_size": "0.01"},
            {"event_type": "last_trade_price", "asset_id": token, "price": "0.5"},
            "not json", [{"event_type": "book", "asset_id": token}],
        ]))  # fmt: skip
    book = model.setdefault(token, {True: {}, False: {}})
    is_bid, level = data.draw(st.booleans()), data.draw(price)
    book[is_bid][level] = data.draw(st.one_of(st.just(0), size))
    bid = max((p for p, q in book[True].items() if q), default=0)
    ask = min((p for p, q in book[False].items() if q), default=1_000_000)
    entry = {"asset_id": token, "price": _px(level), "size": _px(book[is_bid][level]),
             "side": "BUY" if is_bid else "SELL", "best_bid": _px(bid), "best_ask": _px(ask)}
    return {"event_type": "price_change", "market": "0xm", "price_changes": [entry]}


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_engine_fused_path_decides_as_the_reference_parse_path(data: st.DataObject) -> None:
    # Arrange: two markets over the fed tokens (so detection, gates and orders all run).
    stock, proposed = Engine(), Engine()
    proposed._on_frame = types.MethodType(  # type: ignore[method-assign]
        _reference_on_frame, proposed)
    loaded = MarketsLoaded(ts_recv_ns=1, source="test", markets=(
        binary_market("m1", A, B), binary_market("m2", C, _NO_C)))
    assert stock.apply(1, loaded) == proposed.apply(1, loaded)
    model: dict[str, dict[bool, dict[int, int]]] = {}

    for seq in range(2, data.draw(st.integers(3, 30))):
        value = _trading_frame(data, model)
        raw = value.encode() if type(value) is str else orjson.dumps(value)
        event = RawFrame(ts_recv_ns=seq * SEC, conn="market-0", frame=msgspec.Raw(raw))

        # Act / Assert: same decisions for every frame, same state at the end.
        assert proposed.apply(seq, event) == stock.apply(seq, event)
    assert proposed.snapshot_bytes() == stock.snapshot_bytes()

