# Fuzzing the market-channel and user-channel frame parsers, alone and inside the engine and the
# runtime loop: any frame is folded without an exception, every reject becomes a FrameRejected
# decision journaled right after its frame, and the books stay consistent.
#
# Rules: frames are built the way the runtime builds them (polyarb.runtime.loop.frame_record
# with the engine's shared decode, MarketData.prime: embedded verbatim when they are storable
# JSON, else kept as text); the expected rejects come
# from the reference parser (polyarb.core.wire.parse_frame); settings from strategies.fuzz.
from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import example, given
from hypothesis import strategies as st

from polyarb.core.book import Book
from polyarb.core.engine import Engine
from polyarb.core.marketdata import MarketData
from polyarb.core.wire import parse_frame
from polyarb.events.base import Decision, Input
from polyarb.events.decisions import FrameRejected
from polyarb.events.inputs import RawFrame
from polyarb.journal import Durability, JournalWriter, iter_records
from polyarb.runtime.counters import Counters
from polyarb.runtime.loop import EngineLoop, Frame, frame_record
from polyarb.venues.polymarket.user_parse import UserIdentity, parse_user_frame
from tests.fuzz.strategies import (
    JSON,
    damaged_user_event,
    encodable,
    fuzz,
    markets_loaded,
    opening_frames,
    text_frame,
)

T0 = 1_766_793_600_000_000_000
MICROS = 1_000_000


def _expected_rejects(event: RawFrame) -> list[tuple[str, int | None]]:
    if event.binary:
        return [("binary frame", None)]
    frame = bytes(event.frame) if len(event.frame) else None
    return [(reason, at) for reason, at in parse_frame(frame, event.text).rejects]


def _rejects(decisions: list[Decision]) -> list[tuple[str, int | None]]:
    return [(d.reason, d.element) for d in decisions if type(d) is FrameRejected]


def assert_book_consistent(book: Book) -> None:
    """Prices inside (0, 1), sizes positive, cached tops equal to the levels, live never crossed."""
    bids, asks = book.bids_descending(), book.asks_ascending()
    for price, size in (*bids, *asks):
        assert 0 < price < MICROS and size > 0, (book.token_id, price, size)
    assert book.top_bid == (bids[0][0] if bids else 0)
    assert book.top_ask == (asks[0][0] if asks else MICROS)
    if book.usable:
        assert not book.is_crossed(), book.token_id
    assert book.state in ("empty", "live", "broken")


def _engine() -> Engine:
    engine = Engine()
    engine.apply(1, markets_loaded(T0))
    seq = 2
    for text in opening_frames():
        event, _ = frame_record(Frame(T0 + seq, "market-0", text), engine.md.prime)
        assert engine.apply(seq, event) is not None
        seq += 1
    return engine


_FRAME = st.integers(0, 9).flatmap(lambda k: st.binary(max_size=40) if k == 0 else text_frame())
_FRAMES = st.lists(_FRAME, min_size=1, max_size=8)


@fuzz(250)
@given(_FRAMES)
@example([b"\x00\xff"])
@example(['{"event_type":"book","asset_id":"11","bids":' + "[" * 5000 + "]" * 5000 + "}"])
@example(['[{"event_type":"price_change","price_changes":[{"asset_id":"11","price":"0.5",'
          '"size":"-1","side":"BUY"}]}, 5, {"event_type":"book"}]'])
def test_fuzz_engine_any_frames_rejects_are_decided_and_books_stay_consistent(
        frames: list[str | bytes]) -> None:
    engine = _engine()
    for seq, data in enumerate(frames, start=100):
        event, _ = frame_record(Frame(T0 + seq * 1000, "market-0", data), engine.md.prime)

        decisions = engine.apply(seq, event)

        assert _rejects(decisions) == _expected_rejects(event)
        assert all(d.cause_seq == seq and d.ts_recv_ns == event.ts_recv_ns for d in decisions)
        for book in engine.md.books.values():
            assert_book_consistent(book)
    assert len(engine.state_hash()) == 64  # the canonical state still serialises


@fuzz(150)
@given(st.binary(max_size=300))
def test_fuzz_apply_raw_any_bytes_never_raises_and_rejects_are_counted(data: bytes) -> None:
    md = MarketData()

    touched, decisions, _ = md.apply_raw(data, None, T0, 5)

    rejected = [d for d in decisions if type(d) is FrameRejected]
    assert len(rejected) == md.counters["rejects"] == len(parse_frame(data or None, None).rejects)
    assert md.counters["frames"] == 1 and all(t in md.books for t in touched)


@fuzz(150)
@given(JSON)
def test_fuzz_apply_raw_any_json_value_agrees_with_the_reference_parse(value: Any) -> None:
    data = encodable(value)
    if data is None:
        return
    md = MarketData()

    _, decisions, _ = md.apply_raw(data, None, T0, 5)

    assert _rejects(list(decisions)) == [(r, at) for r, at in parse_frame(data, None).rejects]


def _open_loop(root: Path) -> EngineLoop:
    writer = JournalWriter.open(root, durability=Durability(policy="none"))
    return EngineLoop(writer, Engine(), lambda decision: None, Counters())


def _journaled(frame: Frame, event: Input) -> bool:
    """The journaled RawFrame holds exactly what the feed delivered."""
    assert type(event) is RawFrame and event.conn == frame.conn
    if isinstance(frame.data, bytes):
        return event.binary and base64.b64decode(event.text or "") == frame.data
    if event.text is not None:
        return event.text == frame.data
    return bytes(event.frame) == frame.data.encode()


@fuzz(40)
@given(st.lists(_FRAME, min_size=1, max_size=6))
def test_fuzz_runtime_loop_journals_every_frame_and_its_rejections(
        frames: list[str | bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "journal"
        loop = _open_loop(root)
        loop.handle(markets_loaded(T0))
        fed = [Frame(T0 + i + 1, "market-0", text) for i, text in enumerate(opening_frames())]
        fed += [Frame(T0 + 1000 + i, "market-0", data) for i, data in enumerate(frames)]
        for frame in fed:
            loop.handle(frame)
        loop.writer.close()

        records = list(iter_records(root))
    raw = [r.event for r in records if type(r.event) is RawFrame]
    assert len(raw) == len(fed) and all(_journaled(f, e) for f, e in zip(fed, raw, strict=True))
    replayed = Engine()  # replay of the journal decides exactly what was journaled
    journaled: dict[int, list[Any]] = {}
    for r in records:
        if isinstance(r.event, Decision):
            journaled.setdefault(r.event.cause_seq, []).append(r.event)
    for r in records:
        if isinstance(r.event, Input):
            decided = replayed.apply(r.seq, r.event)
            assert decided == journaled.get(r.seq, []), r.event
            if type(r.event) is RawFrame:
                assert _rejects(decided) == _expected_rejects(r.event)


# --- the user channel -------------------------------------------------------------------------

_ME = UserIdentity("key-1", ["0xabc"])
_USER_FRAME = st.one_of(
    damaged_user_event(),
    st.lists(st.one_of(damaged_user_event(), JSON), max_size=4),
    JSON,
)


@fuzz(300)
@given(_USER_FRAME, st.booleans())
@example({"event_type": "trade", "id": "t", "status": "MATCHED", "asset_id": "11", "side": "BUY",
          "maker_orders": 5}, False)  # bug: a non-list maker_orders raised TypeError
@example({"event_type": "order", "id": "o", "asset_id": "11", "side": "BUY", "price": "0.5",
          "original_size": "1", "timestamp": "0001-01-01T00:00:00+01:00"}, False)
def test_fuzz_user_frame_any_json_never_raises_and_every_element_is_accounted(
        value: Any, as_bytes: bool) -> None:
    data = encodable(value)
    if data is None:
        return

    parsed = parse_user_frame(data if as_bytes else data.decode(), T0, _ME)

    elements = value if isinstance(value, list) else [value]
    assert len(parsed.issues) <= len(elements)
    assert all(isinstance(issue, str) and issue for issue in parsed.issues)
    for event in parsed.events:
        msgspec.json.encode(event)  # journalable
        ts_venue = getattr(event, "ts_venue_ns", None)
        assert ts_venue is None or 0 < ts_venue < 2**63  # fits the journal's BIGINT column


@fuzz(150)
@given(st.one_of(st.binary(max_size=80), st.text(max_size=80)))
def test_fuzz_user_frame_any_bytes_or_text_never_raises(data: bytes | str) -> None:
    parsed = parse_user_frame(data, T0, _ME)

    assert all(isinstance(issue, str) for issue in parsed.issues)
