# The state checkpoint's bytes never change when its code gets faster: replay compares journaled
# state hashes, so snapshot_bytes() must equal, byte for byte, what the original implementation
# (kept below as a reference: dicts of plain lists, built per level) encodes, for random books
# and for engines driven through random valid input streams; and snapshot -> restore -> snapshot
# stays exact, from snapshot() data (tuples) and from its decoded JSON (lists) alike.
from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyarb.core.book import Book
from polyarb.core.engine import Engine
from polyarb.core.marketdata_state import MarketDataState
from tests.core.test_determinism import CONFIGS, _stream, ops_strategy

TOKEN = "71321045679252212594626385532706912750332728571942532289631379312455583992563"

# --- the reference: the snapshot code as it was before the checkpoint was made cheaper ---------


def ref_book(book: Book) -> dict[str, Any]:
    """Book.snapshot() as originally written."""
    return {
        "token_id": book.token_id,
        "state": book.state,
        "epoch": book.epoch,
        "break_reason": book.break_reason,
        "tick_size_micros": book.tick_size_micros,
        "last_update_ns": book.last_update_ns,
        "ts_venue_ns": book.ts_venue_ns,
        "last_trade": None if book.last_trade is None else list(book.last_trade),
        "venue_quote": None if book.venue_quote is None else list(book.venue_quote),
        "bids": [[p, s] for p, s in book.bids_descending()],
        "asks": [[p, s] for p, s in book.asks_ascending()],
    }


def ref_book_restore(data: dict[str, Any]) -> Book:
    """Book.restore() as originally written (an int() per price and size)."""
    book = Book(data["token_id"])
    bids = book._bids = {int(p): int(s) for p, s in data["bids"]}
    asks = book._asks = {int(p): int(s) for p, s in data["asks"]}
    book.top_bid = max(bids) if bids else 0
    book.top_ask = min(asks) if asks else 1_000_000
    book._state = data["state"]
    book.live = book._state == "live"
    book._epoch = int(data["epoch"])
    book.break_reason = data["break_reason"]
    book.tick_size_micros = data["tick_size_micros"]
    book.last_update_ns = data["last_update_ns"]
    book.ts_venue_ns = data["ts_venue_ns"]
    trade = data["last_trade"]
    book.last_trade = None if trade is None else (trade[0], trade[1], trade[2], trade[3])
    quote = data["venue_quote"]
    book.venue_quote = None if quote is None else (quote[0], quote[1])
    return book


def ref_market_data(md: MarketDataState) -> dict[str, Any]:
    """MarketDataState.snapshot() as originally written."""
    books = md._books
    return {
        "books": [ref_book(books[token]) for token in sorted(books)],
        "counters": dict(sorted(md.counters.items())),
        "messages": dict(sorted((c.__name__, n) for c, n in md._messages().items())),
    }


def ref_engine_bytes(engine: Engine) -> bytes:
    """Engine.snapshot_bytes() as originally written."""
    snap = {
        "version": 1,
        "registry": engine.registry.snapshot(),
        "market_data": ref_market_data(engine.md),
        "breaker": engine.breaker.snapshot(),
        "execution": engine.execution.snapshot(),
        "counters": engine.counters.snapshot(),
        "opp_no": engine._opp_no,
        "last_sig": {m: {k: [v[0], list(v[1])] for k, v in sorted(sigs.items())}
                     for m, sigs in sorted(engine._last_sig.items())},
    }
    return msgspec.json.encode(snap, order="sorted")


def _encode(data: Any) -> bytes:
    return msgspec.json.encode(data, order="sorted")


# --- random books -------------------------------------------------------------------------------

_price = st.integers(1, 999_999)
_size = st.integers(0, 10**12)
_opt_int = st.none() | st.integers(0, 2**63)
_levels = st.lists(st.tuples(_price, _size), max_size=12)
_trade = st.none() | st.tuples(_price, st.none() | _size, st.none() | st.sampled_from(
    ["BUY", "SELL", "é\"\\"]), _opt_int)
_quote = st.none() | st.tuples(st.none() | _price, st.none() | _price)
_reason = st.none() | st.text(max_size=8)


@st.composite
def books(draw: st.DrawFn) -> Book:
    """A book in any state: levels, later changes, break or drop, the optional fields."""
    book = Book(TOKEN)
    for _ in range(draw(st.integers(0, 2))):
        book.replace(draw(_levels), draw(_levels))
    for is_bid, price, size in draw(st.lists(st.tuples(st.booleans(), _price, _size),
                                             max_size=6)):
        book.set_level(is_bid, price, size)
    how = draw(st.sampled_from(["keep", "break", "drop"]))
    if how == "break":
        book.break_continuity(draw(st.text(max_size=8)))
    elif how == "drop":
        book.drop("tick_size_change")
    book.tick_size_micros, book.last_update_ns, book.ts_venue_ns = draw(
        st.tuples(st.none() | _price, _opt_int, _opt_int))
    book.last_trade, book.venue_quote = draw(_trade), draw(_quote)
    if how == "keep" and book.state == "broken":
        book.break_reason = draw(_reason)
    return book


@given(books())
def test_checkpoint_book_snapshot_bytes_equal_the_reference(book: Book) -> None:
    # Act
    got = _encode(book.snapshot())

    # Assert
    assert got == _encode(ref_book(book))


@given(books())
def test_checkpoint_book_restore_round_trip_is_exact_from_tuples_and_from_json(
        book: Book) -> None:
    # Arrange
    snap = book.snapshot()
    data = json.loads(json.dumps(snap))

    # Act
    from_tuples, from_json = Book.restore(snap), Book.restore(data)

    # Assert
    for again in (from_tuples, from_json):
        assert _encode(again.snapshot()) == _encode(snap)
        assert (again.live, again.top_bid, again.top_ask, again.epoch) == (
            book.live, book.top_bid, book.top_ask, book.epoch)


@given(books())
def test_checkpoint_book_restore_equals_the_reference_restore(book: Book) -> None:
    # Arrange
    data = json.loads(json.dumps(book.snapshot()))

    # Act
    got, want = Book.restore(data), ref_book_restore(data)

    # Assert
    assert _encode(got.snapshot()) == _encode(want.snapshot())
    assert (got.live, got.top_bid, got.top_ask) == (want.live, want.top_bid, want.top_ask)


def test_checkpoint_book_snapshot_levels_are_copies_of_the_depth_cache() -> None:
    # Arrange
    book = Book(TOKEN)
    book.replace([(400_000, 5), (300_000, 7)], [(600_000, 9)])

    # Act: a caller editing its snapshot must not edit the book's cached depth
    snap = book.snapshot()
    snap["bids"].clear()
    snap["asks"].append((700_000, 1))

    # Assert
    assert book.bids_descending() == [(400_000, 5), (300_000, 7)]
    assert book.asks_ascending() == [(600_000, 9)]


@pytest.mark.parametrize("level", [["0.4", 5], [400_000, 5.0], [400_000, True], [1, 2, 3],
                                   "ab", [None, 1]])
def test_checkpoint_restore_malformed_level_is_a_value_error(level: Any) -> None:
    # Arrange
    engine = Engine()
    snap = json.loads(engine.snapshot_bytes())
    book = ref_book(Book(TOKEN))
    book["bids"] = [level]
    snap["market_data"]["books"] = [book]

    # Act / Assert: from journaled bytes and from in-process data alike
    with pytest.raises(ValueError, match="malformed engine snapshot"):
        Engine.restore(msgspec.json.encode(snap))
    with pytest.raises(ValueError, match="malformed engine snapshot"):
        Engine.restore(snap)


@pytest.mark.parametrize("data", [b"{", b"[1, 2]", b'{"version": 2}', b'{"version": 1}'])
def test_checkpoint_restore_bad_bytes_is_a_value_error_naming_why(data: bytes) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match=r"malformed engine snapshot|unsupported engine "
                                         r"snapshot version (2|None)"):
        Engine.restore(data)


# --- engines driven by random valid streams -----------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(CONFIGS) - 1), ops_strategy)
def test_checkpoint_engine_snapshot_bytes_equal_the_reference_and_restore_exactly(
        config_index: int, ops: list[tuple[int, int, int]]) -> None:
    # Arrange
    engine = _stream(config_index, ops).engine

    # Act
    data = engine.snapshot_bytes()
    restored = Engine.restore(data, engine.config)
    via_dict = Engine.restore(engine.snapshot(), engine.config)

    # Assert
    assert data == ref_engine_bytes(engine)
    assert restored.snapshot_bytes() == data == via_dict.snapshot_bytes()
    assert engine.checkpoint(1, 0).state_hash == restored.state_hash()
